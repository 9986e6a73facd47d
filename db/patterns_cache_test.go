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

// TestPatternsCache: logPatterns through the analytics cache equals the rows' on the
// first answer, on a refresh (which takes its closed whole hours from the cache) and
// after a late log in a cached hour (which is read again); a filter the rollups
// cannot answer does not use the cache.
func TestPatternsCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newHistCacheEnv(t, db.AnalyticsCacheOptions{})
	ingest := db.NewIngestStore(e.d, e.parts)
	cases := []struct {
		name  string
		f     model.LogFilter
		last  time.Duration
		first int
	}{
		{"24 h, every kind", model.LogFilter{}, 24 * time.Hour, 20},
		{"3 days of app and action logs from WARN", model.LogFilter{Kinds: []model.LogKind{model.KindApp, model.KindAction},
			MinSeverity: ptr(model.SeverityWarn)}, 72 * time.Hour, 5},
	}
	// ask answers over the window ending now from the cached store and the rows,
	// fails unless they are equal, and returns the cache's part of the plan (nil when
	// not used).
	ask := func(t *testing.T, f model.LogFilter, last time.Duration, first int) *db.AnalyticsCacheUse {
		t.Helper()
		to := time.Now().UTC()
		from := to.Add(-last)
		f.Time = &model.TimeRange{From: &from, To: &to}
		pctx, plans := db.WithAnalyticsPlans(ctx)
		got, err := e.cached.Patterns(pctx, e.ws, &f, first)
		if err != nil {
			t.Fatal(err)
		}
		want, err := e.rows.Patterns(ctx, e.ws, &f, first)
		if err != nil {
			t.Fatal(err)
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if string(gj) != string(wj) || len(got) == 0 {
			for i := range min(len(got), len(want)) {
				if g, w := fmt.Sprint(got[i].Sample), fmt.Sprint(want[i].Sample); got[i].Pattern != want[i].Pattern ||
					got[i].Count != want[i].Count || g != w {
					t.Fatalf("cached patterns differ from the rows' at %d: %q %d, want %q %d", i, got[i].Pattern, got[i].Count,
						want[i].Pattern, want[i].Count)
				}
			}
			t.Fatalf("cached patterns differ from the rows': %d patterns, want %d", len(got), len(want))
		}
		p := plans()
		if len(p) != 1 {
			t.Fatalf("plans: %+v", p)
		}
		return p[0].Cache
	}
	for _, c := range cases {
		first := ask(t, c.f, c.last, c.first)
		if first == nil || first.Cached != 0 || first.Computed == 0 {
			t.Fatalf("%s: first answer %+v", c.name, first)
		}
		again := ask(t, c.f, c.last, c.first)
		// Every whole hour comes from the cache but one that ended in between.
		if again == nil || again.Cached < first.Computed-1 || again.Changed != 0 || again.Computed > 1 {
			t.Fatalf("%s: refresh %+v after %+v", c.name, again, first)
		}
	}
	// A late log 2 days back, in a cached hour: the 3-day window reads that hour again.
	line := fmt.Sprintf(`{"timestamp":%q,"level":"ERROR","service":"late-svc","message":"late arrival 42"}`,
		time.Now().Add(-48*time.Hour).UTC().Format(time.RFC3339Nano))
	if _, err := ingest.Ingest(ctx, e.ws, decode(t, model.KindApp, line)); err != nil {
		t.Fatal(err)
	}
	c := cases[1]
	if use := ask(t, c.f, c.last, 50); use == nil || use.Changed == 0 {
		t.Fatalf("%s after a late log: %+v", c.name, use)
	}
	// Search: only the rows answer, so the cache is not used.
	search := "a"
	if use := ask(t, model.LogFilter{Search: &search}, 24*time.Hour, 5); use != nil {
		t.Fatalf("search: %+v", use)
	}
}
