package db_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// TestRequestStatsCache: apiRequestStats through the analytics cache equals the
// same rollup store's answer without the cache on the first answer, on a refresh
// (whose compacted days, hours and slots come from the cache), after a late request
// in a closed hour, after the compaction that folds it into the compacted rows (it
// moves rows between the cached cells and the pending ones) and after deleteLogs.
func TestRequestStatsCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newHistCacheEnv(t, db.AnalyticsCacheOptions{})
	uncached := db.NewLogStore(e.d.Bun)
	ingest := db.NewIngestStore(e.d, e.parts)
	life := db.NewLifecycle(e.d)
	hour := time.Hour
	cases := []struct {
		name string
		q    db.APIRequestStatsQuery
		last time.Duration
	}{
		{"7 days by endpoint, by p95", db.APIRequestStatsQuery{GroupBy: []model.APIRequestDimension{model.APIRequestDimensionEndpoint},
			OrderBy: model.APIRequestStatsFieldTimingP95, Desc: true, First: 5}, 7 * 24 * time.Hour},
		{"24 h by client per hour", db.APIRequestStatsQuery{GroupBy: []model.APIRequestDimension{model.APIRequestDimensionClient},
			Interval: &hour, OrderBy: model.APIRequestStatsFieldCount, Desc: true, First: 3}, 24 * time.Hour},
		{"9 days in total", db.APIRequestStatsQuery{OrderBy: model.APIRequestStatsFieldCount, First: 1}, 9 * 24 * time.Hour},
	}
	ask := func(t *testing.T, q db.APIRequestStatsQuery, last time.Duration) db.AnalyticsCacheUse {
		t.Helper()
		to := time.Now().UTC()
		from := to.Add(-last)
		q.Filter = &model.APIRequestLogFilter{Time: &model.TimeRange{From: &from, To: &to}}
		pctx, plans := db.WithAnalyticsPlans(ctx)
		got, err := e.cached.APIRequestStats(pctx, e.ws, q)
		if err != nil {
			t.Fatal(err)
		}
		want, err := uncached.APIRequestStats(ctx, e.ws, q)
		if err != nil {
			t.Fatal(err)
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if string(gj) != string(wj) {
			t.Fatalf("cached stats differ from the uncached rollup's:\n got %s\nwant %s", gj, wj)
		}
		p := plans()
		if len(p) != 1 || !p[0].Rollup || p[0].Cache == nil {
			t.Fatalf("plans: %+v", p)
		}
		return *p[0].Cache
	}
	for _, c := range cases {
		first := ask(t, c.q, c.last)
		if first.Cached != 0 || first.Computed == 0 {
			t.Fatalf("%s: first answer %+v", c.name, first)
		}
		// A slot may end between the two answers: the cells it completes are read.
		if again := ask(t, c.q, c.last); again.Cached == 0 || again.Changed != 0 {
			t.Fatalf("%s: refresh %+v after %+v", c.name, again, first)
		}
	}
	// A late request 2 days back: a pending row, and a change over a cached hour.
	line := fmt.Sprintf(`{"received_at":%q,"code":503,"ip":"10.0.0.1","timing_ms":9000,"delay_ms":3,"collection":"Late API","collection_type":"recipe","endpoint":"GET /late","client":"Late Client"}`,
		time.Now().Add(-48*time.Hour).UTC().Format(time.RFC3339Nano))
	if _, err := ingest.Ingest(ctx, e.ws, decode(t, model.KindAPIRequest, line)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []int{0, 2} {
		if use := ask(t, cases[c].q, cases[c].last); use.Changed == 0 {
			t.Fatalf("%s after a late request: %+v", cases[c].name, use)
		}
	}
	// The compaction moves the late request's pending row into its slot, hour and
	// day rows, which the cache holds: it records the change.
	if n, err := db.CompactRequestRollups(ctx, e.d, time.Now()); err != nil || n == 0 {
		t.Fatalf("compacted %d, %v", n, err)
	}
	for _, c := range []int{0, 2} {
		if use := ask(t, cases[c].q, cases[c].last); use.Changed == 0 {
			t.Fatalf("%s after the compaction: %+v", cases[c].name, use)
		}
	}
	from, to := time.Now().Add(-6*24*time.Hour), time.Now().Add(-24*time.Hour)
	if kd, err := life.DeleteLogs(ctx, e.ws, model.KindAPIRequest, &model.APIRequestLogFilter{Codes: []int{500, 503},
		Time: &model.TimeRange{From: &from, To: &to}}, db.DeleteOptions{}); err != nil || kd.Rows == 0 {
		t.Fatalf("deleted %+v, %v", kd, err)
	}
	for _, c := range cases {
		ask(t, c.q, c.last)
	}
	if n, err := db.RollupMismatches(ctx, e.d, e.ws); err != nil || n != 0 {
		t.Fatalf("rollup mismatches: %d, %v", n, err)
	}
}
