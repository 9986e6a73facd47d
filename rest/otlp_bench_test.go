package rest_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/proto"

	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

// benchRow is one app log of the OTLP benchmark, sent the same way by each contender.
type benchRow struct {
	ts        time.Time
	level     otellog.Severity
	levelName string
	message   string
	userID    int
	region    string
}

func benchRows(round, n int) []benchRow {
	base := time.Now().Add(-time.Hour).Truncate(time.Second).Add(time.Duration(round) * time.Minute)
	levels := []struct {
		sev  otellog.Severity
		name string
	}{{otellog.SeverityInfo, "INFO"}, {otellog.SeverityInfo, "INFO"}, {otellog.SeverityWarn, "WARN"}, {otellog.SeverityError, "ERROR"}}
	rows := make([]benchRow, n)
	for i := range rows {
		l := levels[i%len(levels)]
		rows[i] = benchRow{ts: base.Add(time.Duration(i) * time.Microsecond), level: l.sev, levelName: l.name,
			message: fmt.Sprintf("order %d placed by user %d in round %d", i, i%977, round), userID: i % 977,
			region: []string{"eu-1", "us-2", "ap-3"}[i%3]}
	}
	return rows
}

// BenchmarkOTLPIngest compares OTLP/HTTP ingest with NDJSON ingest (/v1/ingest/app)
// of the same app logs, in batches of 1,000 over one connection each: the Go SDK's
// exporter (batch processor, 1,000 records per export), pre-encoded protobuf
// exports, and pre-encoded NDJSON bodies without and with ids. Rounds interleave the contenders, in a
// rotating order. Run with
// go test ./rest/ -run '^$' -bench OTLPIngest -benchtime 1x
func BenchmarkOTLPIngest(b *testing.B) {
	const rows, batch, rounds = 20000, 1000, 7
	e := testserver.New(b, rest.Limits{})
	tok := e.Tokens[model.RoleIngest]
	ctx := context.Background()
	post := func(path, contentType string, body []byte) {
		resp, reply := postShipper(e, path, tok, contentType, body)
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("%s: %d %q", path, resp.StatusCode, reply)
		}
	}
	// NDJSON without ids (always stored) and with ids (checked against the stored
	// rows, as OTLP's content ids are: the idempotent path).
	ndjson := func(ids bool) func([]benchRow) func() {
		return func(rs []benchRow) func() {
			var bodies [][]byte
			for i := 0; i < len(rs); i += batch {
				var sb strings.Builder
				for _, r := range rs[i:min(i+batch, len(rs))] {
					id := ""
					if ids {
						id = fmt.Sprintf(`"id":%q,`, uuid.New())
					}
					fmt.Fprintf(&sb, `{%s"timestamp":%q,"level":%q,"service":"checkout","message":%q,"details":{"user_id":%d,"region":%q}}`+"\n",
						id, r.ts.Format(time.RFC3339Nano), r.levelName, r.message, r.userID, r.region)
				}
				bodies = append(bodies, []byte(sb.String()))
			}
			return func() {
				for _, body := range bodies {
					post("/v1/ingest/app", "application/x-ndjson", body)
				}
			}
		}
	}
	protobuf := func(rs []benchRow) func() {
		var bodies [][]byte
		for i := 0; i < len(rs); i += batch {
			var recs []*logspb.LogRecord
			for _, r := range rs[i:min(i+batch, len(rs))] {
				recs = append(recs, &logspb.LogRecord{TimeUnixNano: uint64(r.ts.UnixNano()), SeverityNumber: logspb.SeverityNumber(r.level),
					Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: r.message}},
					Attributes: []*commonpb.KeyValue{
						{Key: "user_id", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: int64(r.userID)}}},
						{Key: "region", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: r.region}}}}})
			}
			body, err := proto.Marshal(otlpRequest("checkout", recs...))
			if err != nil {
				b.Fatal(err)
			}
			bodies = append(bodies, body)
		}
		return func() {
			for _, body := range bodies {
				post("/v1/logs", "application/x-protobuf", body)
			}
		}
	}
	exporter := func(rs []benchRow) func() {
		exp, err := otlploghttp.New(ctx, otlploghttp.WithEndpointURL(e.Srv.URL+"/v1/logs"),
			otlploghttp.WithHeaders(map[string]string{"Authorization": "Bearer " + tok}),
			otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}))
		if err != nil {
			b.Fatal(err)
		}
		lp := sdklog.NewLoggerProvider(sdklog.WithResource(resource.NewSchemaless(attribute.String("service.name", "checkout"))),
			sdklog.WithProcessor(sdklog.NewBatchProcessor(exp, sdklog.WithExportMaxBatchSize(batch),
				sdklog.WithMaxQueueSize(len(rs)), sdklog.WithExportInterval(time.Hour))))
		logger := lp.Logger("bench")
		return func() {
			for _, r := range rs {
				var rec otellog.Record
				rec.SetTimestamp(r.ts)
				rec.SetSeverity(r.level)
				rec.SetBody(attribute.StringValue(r.message))
				rec.AddAttributes(attribute.Int("user_id", r.userID), attribute.String("region", r.region))
				logger.Emit(ctx, rec)
			}
			if err := lp.ForceFlush(ctx); err != nil {
				b.Fatal(err)
			}
			_ = lp.Shutdown(ctx)
		}
	}
	names := []string{"ndjson", "ndjson-ids", "otlp-protobuf", "otlp-exporter"}
	prepare := []func([]benchRow) func(){ndjson(false), ndjson(true), protobuf, exporter}
	rates := map[string][]float64{}
	ratios := map[string][]float64{}
	for round := range rounds * b.N {
		perRound := map[string]float64{}
		for k := range names {
			i := (k + round) % len(names)
			before := e.Count("app_logs")
			run := prepare[i](benchRows(round*len(names)+i, rows))
			start := time.Now()
			run()
			secs := time.Since(start).Seconds()
			if n := e.Count("app_logs") - before; n != rows {
				b.Fatalf("%s stored %d rows, want %d", names[i], n, rows)
			}
			perRound[names[i]] = rows / secs
			rates[names[i]] = append(rates[names[i]], rows/secs)
		}
		for _, n := range names {
			for _, base := range names[:2] {
				if n != base && strings.HasPrefix(n, "otlp") || n == "ndjson-ids" && base == "ndjson" {
					ratios[n+"/"+base] = append(ratios[n+"/"+base], perRound[n]/perRound[base])
				}
			}
		}
	}
	median := func(xs []float64) float64 {
		s := slices.Clone(xs)
		slices.Sort(s)
		return s[len(s)/2]
	}
	for _, n := range names {
		b.ReportMetric(median(rates[n]), n+"-rows/s")
		b.Logf("%s rows/s per round: %.0f", n, rates[n])
	}
	for k, r := range ratios {
		b.ReportMetric(median(r), k)
		b.Logf("%s per round: %.2f", k, r)
	}
}
