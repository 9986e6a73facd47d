package db_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/db/dbtest"
	"github.com/loggraph/loggraph/model"
)

// BenchmarkIngestAppBatch is one 5,000-line batch of app logs through
// IngestStore.Ingest (decode included), shaped like bench ingest's: 8 services,
// skewed levels, distinct templated messages, 12 hours of timestamps. It uses only
// the public ingest API, so the same file runs on older commits for an A/B of the
// ingest cost (the rollups' share of it: go test -cpuprofile).
func BenchmarkIngestAppBatch(b *testing.B) {
	services := []string{"user-service", "payment-gateway", "order-service", "inventory", "notification", "auth", "search", "shipping"}
	levels := []string{"DEBUG", "INFO", "INFO", "INFO", "INFO", "WARN", "ERROR", "FATAL"}
	benchIngestBatches(b, model.KindApp, 1, rand.New(rand.NewPCG(1, 42)), func(r *rand.Rand, now time.Time) string {
		user := r.IntN(100000)
		return fmt.Sprintf(`{"timestamp":%q,"level":%q,"service":%q,"message":"request %d for user %d finished in %d ms","details":{"user_id":%d,"ip_address":"10.%d.%d.%d"}}`+"\n",
			now.Add(-time.Duration(r.Int64N(int64(12*time.Hour)))).Format(time.RFC3339Nano), levels[r.IntN(len(levels))],
			services[r.IntN(len(services))], r.IntN(1_000_000), user, r.IntN(900), user, r.IntN(256), r.IntN(256), r.IntN(256))
	})
}

// BenchmarkIngestAPIRequestBatch is one 5,000-line batch of API gateway request logs
// through IngestStore.Ingest (decode included), shaped like the seed's: 48 endpoints,
// 6 clients, 3 collections, skewed codes, log-normal timings. The batch's timestamps
// span 12 hours (as bench ingest's, a backfill: about 100 requests per 15-minute slot,
// so request_rollups gets about one row per two requests) or one minute (a shipper
// sending what just happened: one slot). Like BenchmarkIngestAppBatch it uses only
// the public ingest API, for an A/B of request_rollups' share of the ingest cost
// against older commits.
func BenchmarkIngestAPIRequestBatch(b *testing.B) {
	methods := []string{"GET", "GET", "GET", "POST", "PATCH", "DELETE"}
	paths := []string{"/orders", "/orders/{id}", "/customers", "/customers/{id}", "/invoices", "/invoices/{id}/pdf", "/products", "/stock"}
	clients := []string{"Web Storefront", "Mobile App", "Internal Admin Portal", "Customer Success Team", "Partner API", "Batch Jobs"}
	collections := []string{"Orders API", "Billing API", "Catalog API"}
	codes := []int{200, 200, 200, 200, 200, 200, 201, 204, 400, 401, 404, 429, 500, 502, 504}
	for _, c := range []struct {
		span    time.Duration
		clients int
	}{{12 * time.Hour, 1}, {time.Minute, 1}, {12 * time.Hour, 2}, {time.Minute, 2}} {
		name := "span=" + c.span.String()
		if c.clients > 1 {
			name += fmt.Sprintf("/clients=%d", c.clients)
		}
		span := c.span
		b.Run(name, func(b *testing.B) {
			benchIngestBatches(b, model.KindAPIRequest, c.clients, rand.New(rand.NewPCG(1, 43)), func(r *rand.Rand, now time.Time) string {
				timing := int(math.Exp(r.NormFloat64()*1.2 + 4.5))
				return fmt.Sprintf(`{"received_at":%q,"code":%d,"ip":"10.%d.%d.%d","timing_ms":%d,"delay_ms":%d,"collection":%q,"collection_type":"recipe","endpoint":"%s %s","client":%q}`+"\n",
					now.Add(-time.Duration(r.Int64N(int64(span)))).Format(time.RFC3339Nano), codes[r.IntN(len(codes))],
					r.IntN(256), r.IntN(256), r.IntN(256), timing, r.IntN(40), collections[r.IntN(len(collections))],
					methods[r.IntN(len(methods))], paths[r.IntN(len(paths))], clients[r.IntN(len(clients))])
			})
		})
	}
}

// benchIngestBatches ingests batches of 5,000 lines of kind (line makes each one
// from r; four distinct batches in turn) into a new workspace, reporting rows/s:
// from one client in turn, or from clients goroutines at once (as bench ingest's
// two HTTP clients: the CPU the batches share, not one batch's latency).
func benchIngestBatches(b *testing.B, kind model.LogKind, clients int, r *rand.Rand, line func(r *rand.Rand, now time.Time) string) {
	ctx := context.Background()
	d := dbtest.New(b)
	ws, err := db.NewWorkspaceStore(d.Bun).Create(ctx, "bench", "")
	if err != nil {
		b.Fatal(err)
	}
	store := db.NewIngestStore(d, db.NewPartitions(d))
	now := time.Now().UTC()
	bodies := make([]string, 4)
	for i := range bodies {
		var sb strings.Builder
		for range 5000 {
			sb.WriteString(line(r, now))
		}
		bodies[i] = sb.String()
	}
	ingest := func(i int) error {
		batch, err := model.DecodeBatch(kind, strings.NewReader(bodies[i%len(bodies)]), time.Now(), model.IngestLimits{})
		if err != nil {
			return err
		}
		_, err = store.Ingest(ctx, ws.ID, batch)
		return err
	}
	if clients > 1 {
		var next atomic.Int64
		b.SetParallelism((clients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := ingest(int(next.Add(1))); err != nil {
					b.Error(err)
					return
				}
			}
		})
	} else {
		for i := 0; b.Loop(); i++ {
			if err := ingest(i); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(5000*b.N)/b.Elapsed().Seconds(), "rows/s")
}
