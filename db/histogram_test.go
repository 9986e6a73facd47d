package db_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/db/dbtest"
	"github.com/loggraph/loggraph/model"
)

// TestHistogramBucketCount: the guardrail's count (made without the database)
// equals the buckets the statement returns, for aligned and unaligned windows, on
// UTC and on a wall clock across a DST change, and with sub-microsecond bounds.
func TestHistogramBucketCount(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		name string
		spec db.HistogramSpec
		want int64
	}{
		{"aligned hour of minutes", db.HistogramSpec{From: at("2024-06-13T12:00:00Z"), To: at("2024-06-13T13:00:00Z"), Interval: time.Minute}, 60},
		{"unaligned start and end", db.HistogramSpec{From: at("2024-06-13T12:00:30Z"), To: at("2024-06-13T13:00:30Z"), Interval: time.Minute}, 61},
		{"end is exclusive", db.HistogramSpec{From: at("2024-06-13T12:00:00Z"), To: at("2024-06-13T12:10:00.000001Z"), Interval: 10 * time.Minute}, 2},
		{"sub-microsecond end truncated as PostgreSQL sees it", db.HistogramSpec{From: at("2024-06-13T12:00:00Z"),
			To: at("2024-06-13T12:10:00.0000009Z"), Interval: 10 * time.Minute}, 1},
		{"one bucket wider than the window", db.HistogramSpec{From: at("2024-06-13T12:05:00Z"), To: at("2024-06-13T12:06:00Z"), Interval: time.Hour}, 1},
		{"before the epoch", db.HistogramSpec{From: at("1969-12-31T23:30:00Z"), To: at("1970-01-01T00:30:00Z"), Interval: time.Hour}, 2},
		{"Berlin days across the DST change", db.HistogramSpec{From: at("2024-10-25T22:00:00Z"), To: at("2024-10-28T23:00:00Z"),
			Interval: 24 * time.Hour, Location: berlin}, 3},
		{"Berlin weeks start on Monday", db.HistogramSpec{From: at("2024-10-20T22:00:00Z"), To: at("2024-10-27T23:00:00Z"), // Mon 21 to Mon 28
			Interval: 7 * 24 * time.Hour, Location: berlin}, 1},
		{"empty window", db.HistogramSpec{From: at("2024-06-13T12:00:00Z"), To: at("2024-06-13T12:00:00Z"), Interval: time.Minute}, 0},
	}
	d := dbtest.New(t)
	ws, err := db.NewWorkspaceStore(d.Bun).Create(context.Background(), "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	logs := db.NewLogStore(d.Bun)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.spec.BucketCount(); got != c.want {
				t.Fatalf("BucketCount %d, want %d", got, c.want)
			}
			buckets, err := logs.Histogram(context.Background(), ws.ID, nil, c.spec)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(buckets)) != c.want {
				t.Fatalf("statement returned %d buckets, want %d", len(buckets), c.want)
			}
			for _, b := range buckets {
				if b.Count != 0 || len(b.BySeverity) != len(model.AllSeverities) {
					t.Fatalf("empty workspace: %+v", b)
				}
			}
		})
	}
}

// BenchmarkHistogram times histograms and facets of 24 hours, 7 and 30 days (with
// the default interval of each, every kind) of an existing seeded workspace. It reads only. Set LOGGRAPH_BENCH_URL (e.g.
// postgres://postgres@localhost:5432/loggraph_bench) and LOGGRAPH_BENCH_WORKSPACE
// (a slug, default bench-read); the window ends at the workspace's newest app log.
func BenchmarkHistogram(b *testing.B) {
	url := os.Getenv("LOGGRAPH_BENCH_URL")
	if url == "" {
		b.Skip("LOGGRAPH_BENCH_URL is not set")
	}
	slug := os.Getenv("LOGGRAPH_BENCH_WORKSPACE")
	if slug == "" {
		slug = "bench-read"
	}
	ctx := context.Background()
	d, err := db.Open(ctx, url, db.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	ws, err := db.NewWorkspaceStore(d.Bun).BySlug(ctx, slug)
	if err != nil {
		b.Fatal(err)
	}
	var newest time.Time
	if err := d.Pool.QueryRow(ctx, `SELECT max("timestamp") FROM app_logs WHERE workspace_id = $1`, ws.ID).Scan(&newest); err != nil {
		b.Fatal(err)
	}
	logs := db.NewLogStore(d.Bun)
	for _, bc := range []struct {
		name   string
		window time.Duration
		iv     time.Duration
	}{{"24h/30m", 24 * time.Hour, 30 * time.Minute}, {"7d/3h", 7 * 24 * time.Hour, 3 * time.Hour}, {"30d/12h", 30 * 24 * time.Hour, 12 * time.Hour}} {
		spec := db.HistogramSpec{From: newest.Add(-bc.window), To: newest, Interval: bc.iv}
		b.Run("histogram "+bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := logs.Histogram(ctx, ws.ID, nil, spec); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("facets "+bc.name, func(b *testing.B) {
			fields := []model.LogFacetField{model.LogFacetFieldKind, model.LogFacetFieldSeverity, model.LogFacetFieldSource,
				model.LogFacetFieldCode, model.LogFacetFieldEndpoint, model.LogFacetFieldUser}
			for b.Loop() {
				if _, err := logs.Facets(ctx, ws.ID, nil, spec.From, spec.To, fields, 10); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
