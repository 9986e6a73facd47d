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

// TestFacetsCache: facets through the analytics cache equal the rows' on the first
// answer, on a refresh (which takes its closed slots from the cache), after a late
// log in a closed slot and after an integration is renamed (its cached slots named
// it otherwise); a filter the rollups cannot answer bypasses the cache.
func TestFacetsCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newHistCacheEnv(t, db.AnalyticsCacheOptions{})
	ingest := db.NewIngestStore(e.d, e.parts)
	all := []model.LogFacetField{model.LogFacetFieldSource, model.LogFacetFieldSeverity, model.LogFacetFieldKind}
	search := "a"
	cases := []struct {
		name   string
		f      *model.LogFilter
		fields []model.LogFacetField
		last   time.Duration
		first  int
	}{
		{"24 h, source severity kind", nil, all, 24 * time.Hour, 10},
		{"7 days of integrations from WARN", &model.LogFilter{Kinds: []model.LogKind{model.KindIntegration, model.KindApp},
			MinSeverity: ptr(model.SeverityWarn)}, []model.LogFacetField{model.LogFacetFieldIntegration, model.LogFacetFieldService, model.LogFacetFieldSource}, 7 * 24 * time.Hour, 3},
		{"9 days, every kind by kind and severity, first 2", nil, []model.LogFacetField{model.LogFacetFieldKind, model.LogFacetFieldSeverity}, 9 * 24 * time.Hour, 2},
	}
	// ask answers c over the window ending now from the cached store and the rows,
	// fails unless they are equal, and returns the cache's part of the plan.
	ask := func(t *testing.T, f *model.LogFilter, fields []model.LogFacetField, last time.Duration, first int) db.AnalyticsCacheUse {
		t.Helper()
		to := time.Now().UTC()
		from := to.Add(-last)
		pctx, plans := db.WithAnalyticsPlans(ctx)
		got, err := e.cached.Facets(pctx, e.ws, f, from, to, fields, first)
		if err != nil {
			t.Fatal(err)
		}
		want, err := e.rows.Facets(ctx, e.ws, f, from, to, fields, first)
		if err != nil {
			t.Fatal(err)
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if string(gj) != string(wj) {
			t.Fatalf("cached facets differ from the rows':\n got %s\nwant %s", gj, wj)
		}
		p := plans()
		if len(p) != 1 || p[0].Cache == nil {
			t.Fatalf("plans: %+v", p)
		}
		return *p[0].Cache
	}
	for _, c := range cases {
		first := ask(t, c.f, c.fields, c.last, c.first)
		if first.Cached != 0 || first.Bypass != "" || first.Computed == 0 {
			t.Fatalf("%s: first answer %+v", c.name, first)
		}
		again := ask(t, c.f, c.fields, c.last, c.first)
		// The partial first slot and the open last one are read again (and a slot that
		// ended in between), every other slot comes from the cache.
		if again.Cached < first.Computed-3 || again.Changed != 0 || again.Computed > 3 {
			t.Fatalf("%s: refresh %+v after %+v", c.name, again, first)
		}
	}
	// A late log 2 days back: every window over it reads that slot again.
	line := fmt.Sprintf(`{"timestamp":%q,"level":"ERROR","service":"late-svc","message":"late"}`,
		time.Now().Add(-48*time.Hour).UTC().Format(time.RFC3339Nano))
	if _, err := ingest.Ingest(ctx, e.ws, decode(t, model.KindApp, line)); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases[1:] {
		if use := ask(t, c.f, c.fields, c.last, c.first); use.Changed == 0 {
			t.Fatalf("%s after a late log: %+v", c.name, use)
		}
	}
	// An integration delivered 3 days ago, then renamed by a delivery now: the
	// cached slot of 3 days ago named it otherwise.
	integration := func(at time.Time, name string) {
		line := fmt.Sprintf(`{"id":%q,"integration_id":"7a8634a8-a89e-4eac-baab-9b7b8c4f8720","integration_name":%q,"job_id":"7b8634a8-a89e-4eac-baab-9b7b8c4f8720","succeeded":false,"attempt":1,"body":"x","status_code":500,"created_at":%q}`,
			uuidAt(at), name, at.UTC().Format(time.RFC3339Nano))
		if _, err := ingest.Ingest(ctx, e.ws, decode(t, model.KindIntegration, line)); err != nil {
			t.Fatal(err)
		}
	}
	integration(time.Now().Add(-72*time.Hour), "Renamed later")
	c := cases[1]
	ask(t, c.f, c.fields, c.last, 50)
	ask(t, c.f, c.fields, c.last, 50)
	integration(time.Now(), "Renamed now")
	if use := ask(t, c.f, c.fields, c.last, 50); use.Changed == 0 {
		t.Fatalf("after a rename: %+v", use)
	}
	// Search: only the rows answer, so the cache is not used.
	if use := ask(t, &model.LogFilter{Search: &search}, all, 24*time.Hour, 5); use.Bypass == "" {
		t.Fatalf("search: %+v", use)
	}
}

// uuidAt is a UUID unique to the instant t.
func uuidAt(t time.Time) string {
	n := t.UnixNano()
	return fmt.Sprintf("%08x-%04x-4000-8000-%012x", uint32(n>>32), uint16(n>>16), uint64(n)&0xffffffffffff)
}
