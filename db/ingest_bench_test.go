package db_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
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
	ctx := context.Background()
	d := dbtest.New(b)
	ws, err := db.NewWorkspaceStore(d.Bun).Create(ctx, "bench", "")
	if err != nil {
		b.Fatal(err)
	}
	store := db.NewIngestStore(d, db.NewPartitions(d))
	services := []string{"user-service", "payment-gateway", "order-service", "inventory", "notification", "auth", "search", "shipping"}
	levels := []string{"DEBUG", "INFO", "INFO", "INFO", "INFO", "WARN", "ERROR", "FATAL"}
	r := rand.New(rand.NewPCG(1, 42))
	now := time.Now().UTC()
	body := func() string {
		var sb strings.Builder
		for range 5000 {
			user := r.IntN(100000)
			fmt.Fprintf(&sb, `{"timestamp":%q,"level":%q,"service":%q,"message":"request %d for user %d finished in %d ms","details":{"user_id":%d,"ip_address":"10.%d.%d.%d"}}`+"\n",
				now.Add(-time.Duration(r.Int64N(int64(12*time.Hour)))).Format(time.RFC3339Nano), levels[r.IntN(len(levels))],
				services[r.IntN(len(services))], r.IntN(1_000_000), user, r.IntN(900), user, r.IntN(256), r.IntN(256), r.IntN(256))
		}
		return sb.String()
	}
	bodies := []string{body(), body(), body(), body()}
	i := 0
	for b.Loop() {
		batch, err := model.DecodeBatch(model.KindApp, strings.NewReader(bodies[i%len(bodies)]), time.Now(), model.IngestLimits{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := store.Ingest(ctx, ws.ID, batch); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(5000*b.N)/b.Elapsed().Seconds(), "rows/s")
}
