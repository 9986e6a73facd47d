package db

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/loggraph/loggraph/db/migrations"
	"github.com/loggraph/loggraph/model"
)

// TestLogFilterRollupFields: every field of model.LogFilter says whether log_rollups
// answers it, so a new field cannot be ignored by the rollup (and counted wrong).
func TestLogFilterRollupFields(t *testing.T) {
	typ := reflect.TypeFor[model.LogFilter]()
	for i := range typ.NumField() {
		if _, ok := logFilterRollup[typ.Field(i).Name]; !ok {
			t.Errorf("model.LogFilter.%s is not classified in logFilterRollup", typ.Field(i).Name)
		}
	}
	if len(logFilterRollup) != typ.NumField() {
		t.Errorf("logFilterRollup names %d fields, model.LogFilter has %d", len(logFilterRollup), typ.NumField())
	}
}

// rollupEnv is a database with two workspaces: seeded (rows written by Seed, rollups
// by RebuildCounts) and ingested (rows and rollups written by the ingest path, with a
// retried batch).
func rollupEnv(t *testing.T) (*DB, []uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	d := openInternal(t)
	wss := NewWorkspaceStore(d.Bun)
	seeded, err := wss.Create(ctx, "seeded", "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 20, 13, 37, 11, 123456000, time.UTC)
	if _, err := Seed(ctx, d, NewPartitions(d), seeded.ID, SeedOptions{Rows: 4000, Days: 3, Now: now}); err != nil {
		t.Fatal(err)
	}
	ingested, err := wss.Create(ctx, "ingested", "")
	if err != nil {
		t.Fatal(err)
	}
	store := NewIngestStore(d, NewPartitions(d))
	rng := rand.New(rand.NewPCG(7, 11))
	levels := []string{"DEBUG", "INFO", "WARN", "ERROR", "FATAL"}
	codes := []int{200, 201, 301, 404, 429, 500, 503}
	var app, req strings.Builder
	for i := 0; i < 1500; i++ {
		at := now.Add(-time.Duration(rng.Int64N(int64(72 * time.Hour))))
		fmt.Fprintf(&app, `{"id":"%s","timestamp":%q,"level":%q,"service":"s%d","message":%q}`+"\n",
			uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "app%d", i)), at.Format(time.RFC3339Nano), levels[rng.IntN(5)], rng.IntN(3),
			rollupMessage(rng))
		at = now.Add(-time.Duration(rng.Int64N(int64(72 * time.Hour))))
		// Timings over 5 decades (request_rollups' histograms), a few clients and endpoints.
		client := ""
		if c := rng.IntN(4); c > 0 {
			client = fmt.Sprintf(`"client":"cl%d",`, c)
		}
		fmt.Fprintf(&req, `{"id":"%s","received_at":%q,"code":%d,"ip":"10.0.0.1","timing_ms":%d,"delay_ms":%d,%s"collection":"c%d","collection_type":"proxy","endpoint":"GET /%d"}`+"\n",
			uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "req%d", i)), at.Format(time.RFC3339Nano), codes[rng.IntN(len(codes))], int(math.Exp(rng.Float64()*11)), rng.IntN(300), client, rng.IntN(2), rng.IntN(5))
	}
	ingest := func(kind model.LogKind, body string) {
		b, err := model.DecodeBatch(kind, strings.NewReader(body), now, model.IngestLimits{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Ingest(ctx, ingested.ID, b); err != nil {
			t.Fatal(err)
		}
	}
	ingest(model.KindApp, app.String())
	ingest(model.KindAPIRequest, req.String())
	ingest(model.KindApp, app.String()) // a retry: every record is a duplicate, nothing is counted twice
	ingest(model.KindAPIRequest, req.String())
	return d, []uuid.UUID{seeded.ID, ingested.ID}
}

// rollupMessage is an app message of rollupEnv: a few templates with variable parts
// (numbers, ids, addresses, quoted values), some repeated exactly.
func rollupMessage(rng *rand.Rand) string {
	switch rng.IntN(6) {
	case 0:
		return "m"
	case 1:
		return fmt.Sprintf("user %d logged in from 10.0.%d.%d", rng.IntN(50), rng.IntN(4), rng.IntN(255))
	case 2:
		return fmt.Sprintf("order %s paid in %dms", uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "o%d", rng.IntN(200))), rng.IntN(900))
	case 3:
		return fmt.Sprintf(`cache miss for key "k%d" (retry %d)`, rng.IntN(30), rng.IntN(3))
	case 4:
		return fmt.Sprintf("job 0x%x done at 2026-11-1%dT10:00:00Z", rng.IntN(1<<20), rng.IntN(9))
	default:
		return "shutting down"
	}
}

// TestRollupsEqualRows: log_rollups sums to each kind's rows per slot, severity and
// source, for rows seeded (RebuildCounts) and ingested (a retried batch included).
func TestRollupsEqualRows(t *testing.T) {
	d, wss := rollupEnv(t)
	for _, ws := range wss {
		if n, err := RollupMismatches(context.Background(), d, ws); err != nil || n != 0 {
			t.Errorf("workspace %s: %d groups differ between log_rollups and the rows (%v)", ws, n, err)
		}
	}
}

// rollupBase is the earliest start of the rollup tests' random windows (the data
// spans the 72 hours before 2026-11-20T13:37).
var rollupBase = time.Date(2026, 11, 17, 0, 0, 0, 0, time.UTC)

// rollupFilter is a filter of the rollup tests, and whether log_rollups can answer it.
type rollupFilter struct {
	name   string
	f      *model.LogFilter
	rollup bool
}

func rollupFilters() []rollupFilter {
	errSev, warn := model.SeverityError, model.SeverityWarn
	search := "m"
	return []rollupFilter{
		{"all kinds", &model.LogFilter{}, true},
		{"app and requests", &model.LogFilter{Kinds: []model.LogKind{model.KindApp, model.KindAPIRequest}}, true},
		{"severities", &model.LogFilter{Severities: []model.Severity{model.SeverityDebug, model.SeverityFatal}}, true},
		{"min severity", &model.LogFilter{MinSeverity: &errSev}, true},
		{"actions from warn", &model.LogFilter{Kinds: []model.LogKind{model.KindAction}, MinSeverity: &warn}, true},
		{"search", &model.LogFilter{Search: &search}, false},
		{"sources", &model.LogFilter{Sources: []string{"s1", "c", "Orders API", "order-service", "omnishop.stock"}}, true},
		{"trace", &model.LogFilter{TraceIDs: []string{"4bf92f3577b34da6a3ce929d0e0e4736"}}, false},
	}
}

// sameWithRollups runs an analytic with rollups off and on, fails the test unless the
// answers are equal, and returns the plans of the run with rollups on.
func sameWithRollups(t *testing.T, run func(ctx context.Context, rollups bool) (any, error)) []AnalyticsPlan {
	t.Helper()
	want, err := run(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, plans := WithAnalyticsPlans(context.Background())
	got, err := run(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("rollups on and off differ:\n got %s\nwant %s", g, w)
	}
	return plans()
}

// storeWith is s, or s reading rows only unless rollups.
func storeWith(s *LogStore, rollups bool) *LogStore {
	if rollups {
		return s
	}
	return s.WithoutRollups()
}

// TestHistogramFromRollups: on random windows, bucket widths, time zones and filters,
// the histogram answered from log_rollups (plus the edge slots' rows) equals the one
// counted from rows only, and the rollup is used whenever it can be.
func TestHistogramFromRollups(t *testing.T) {
	d, wss := rollupEnv(t)
	s := NewLogStore(d.Bun)
	rng := rand.New(rand.NewPCG(1, 2))
	intervals := []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour, 3 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 10 * time.Minute}
	zones := []string{"", "Europe/Berlin", "Asia/Kathmandu", "America/St_Johns", "Australia/Lord_Howe"}
	filters := rollupFilters()
	for i := 0; i < 60; i++ {
		iv := intervals[rng.IntN(len(intervals))]
		zone := zones[rng.IntN(len(zones))]
		fc := filters[rng.IntN(len(filters))]
		from := rollupBase.Add(time.Duration(rng.Int64N(int64(60*time.Hour))) / time.Microsecond * time.Microsecond)
		if rng.IntN(3) == 0 {
			from = from.Truncate(time.Hour) // aligned: no raw edge at the start
		}
		to := from.Add(time.Duration(rng.Int64N(int64(40*time.Hour))) + time.Minute)
		ws := wss[i%len(wss)]
		t.Run(fmt.Sprintf("%d %s %s %q", i, fc.name, iv, zone), func(t *testing.T) {
			h := HistogramSpec{From: from, To: to, Interval: iv}
			if zone != "" {
				loc, err := time.LoadLocation(zone)
				if err != nil {
					t.Fatal(err)
				}
				h.Location = loc
			}
			p := sameWithRollups(t, func(ctx context.Context, rollups bool) (any, error) {
				return storeWith(s, rollups).Histogram(ctx, ws, fc.f, h)
			})
			_, _, spanned := h.normalized().rollupSpan()
			if len(p) != 1 || p[0].Rollup != (fc.rollup && spanned) {
				t.Fatalf("from %s to %s: plans %+v, want rollup %v (filter %v, spanned %v)", from, to, p, fc.rollup && spanned, fc.rollup, spanned)
			}
		})
	}
}

// TestQuarterHourZones: zones whose offsets are quarter hours qualify, local mean
// time does not.
func TestQuarterHourZones(t *testing.T) {
	for _, c := range []struct {
		zone     string
		from, to string
		want     bool
	}{
		{"Europe/Berlin", "2026-03-28T00:00:00Z", "2026-04-02T00:00:00Z", true}, // across DST
		{"Asia/Kathmandu", "2026-01-01T00:00:00Z", "2026-12-31T00:00:00Z", true},
		{"Australia/Lord_Howe", "2026-03-30T00:00:00Z", "2026-04-10T00:00:00Z", true}, // a 30-minute DST shift
		{"Europe/Amsterdam", "1930-01-01T00:00:00Z", "1930-02-01T00:00:00Z", false},   // +00:19:32
		{"Africa/Monrovia", "1971-06-01T00:00:00Z", "1972-06-01T00:00:00Z", false},    // -00:44:30 until 1972
	} {
		t.Run(c.zone+" "+c.from, func(t *testing.T) {
			loc, err := time.LoadLocation(c.zone)
			if err != nil {
				t.Fatal(err)
			}
			from, _ := time.Parse(time.RFC3339, c.from)
			to, _ := time.Parse(time.RFC3339, c.to)
			if got := quarterHourZones(loc, from, to); got != c.want {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

// TestFacetsFromRollups: on random windows, filters and fields, facets answered from
// log_rollups (plus the edge slots' rows) equal facets counted from rows only, and
// the rollup is used whenever every asked field of every kind is kept in it.
func TestFacetsFromRollups(t *testing.T) {
	d, wss := rollupEnv(t)
	s := NewLogStore(d.Bun)
	rng := rand.New(rand.NewPCG(3, 4))
	filters := rollupFilters()
	fieldSets := [][]model.LogFacetField{
		{model.LogFacetFieldKind, model.LogFacetFieldSeverity, model.LogFacetFieldSource},
		{model.LogFacetFieldService, model.LogFacetFieldCollection, model.LogFacetFieldLoggerName, model.LogFacetFieldIntegration},
		{model.LogFacetFieldSource, model.LogFacetFieldEndpoint},
	}
	for i := 0; i < 40; i++ {
		fc := filters[rng.IntN(len(filters))]
		fields := fieldSets[rng.IntN(len(fieldSets))]
		from := rollupBase.Add(time.Duration(rng.Int64N(int64(60*time.Hour))) / time.Microsecond * time.Microsecond)
		to := from.Add(time.Duration(rng.Int64N(int64(40*time.Hour))) + time.Minute)
		first := 1 + rng.IntN(12)
		ws := wss[i%len(wss)]
		t.Run(fmt.Sprintf("%d %s %v", i, fc.name, fields), func(t *testing.T) {
			p := sameWithRollups(t, func(ctx context.Context, rollups bool) (any, error) {
				return storeWith(s, rollups).Facets(ctx, ws, fc.f, from, to, fields, first)
			})
			_, _, spanned := wholeSlots(from, to)
			requests := len(fc.f.Kinds) == 0 || slices.Contains(fc.f.Kinds, model.KindAPIRequest)
			expect := fc.rollup && spanned && !(requests && slices.Contains(fields, model.LogFacetFieldEndpoint))
			if len(p) != 1 || p[0].Rollup != expect {
				t.Fatalf("from %s to %s: plans %+v, want rollup %v", from, to, p, expect)
			}
		})
	}
}

// TestPatternsFromRollups: on random windows, filters and limits, logPatterns answered
// from log_pattern_rollups (plus the edge slots' rows) equals logPatterns over the
// rows only (templates masked at ingest in Go, at query time in SQL, and by
// RebuildCounts for the seeded workspace), and the rollup is used whenever it can be;
// both answers take two statements.
func TestPatternsFromRollups(t *testing.T) {
	d, wss := rollupEnv(t)
	s := NewLogStore(d.Bun)
	rng := rand.New(rand.NewPCG(5, 6))
	filters := rollupFilters()
	for i := 0; i < 60; i++ {
		fc := filters[rng.IntN(len(filters))]
		from := rollupBase.Add(time.Duration(rng.Int64N(int64(60*time.Hour))) / time.Microsecond * time.Microsecond)
		if rng.IntN(3) == 0 {
			from = from.Truncate(time.Hour) // aligned: no raw edge at the start
		}
		to := from.Add(time.Duration(rng.Int64N(int64(40*time.Hour))) + time.Minute)
		first := 1 + rng.IntN(40)
		ws := wss[i%len(wss)]
		t.Run(fmt.Sprintf("%d %s %d", i, fc.name, first), func(t *testing.T) {
			f := *fc.f
			f.Time = &model.TimeRange{From: &from, To: &to}
			p := sameWithRollups(t, func(ctx context.Context, rollups bool) (any, error) {
				ctx, counter := WithStatementCounter(ctx)
				got, err := storeWith(s, rollups).Patterns(ctx, ws, &f, first)
				if n := counter.Count(); n != 2 && len(got) > 0 {
					t.Errorf("rollups %v: %d statements, want 2", rollups, n)
				}
				return got, err
			})
			_, _, spanned := wholeSlots(from, to)
			if len(p) != 1 || p[0].Rollup != (fc.rollup && spanned) {
				t.Fatalf("from %s to %s: plans %+v, want rollup %v", from, to, p, fc.rollup && spanned)
			}
		})
	}
}

// TestPatternRollupMigration: the migration's backfill of log_pattern_rollups is the
// SQL RebuildCounts runs today, so templates stored before and after it are alike.
// (When the masking rules change, this fails: stored templates then need a new
// migration that recomputes them.)
func TestPatternRollupMigration(t *testing.T) {
	b, err := migrations.FS().ReadFile("20261204110000_log_pattern_rollups.tx.up.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range model.AllKinds {
		q, err := rawSQL(patternRollupsInsert(k, bun.SafeQuery("? AS t", bun.Ident(k.Table()))))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), q+";") {
			t.Errorf("the migration does not backfill %s as patternRollupsInsert does now", k.Table())
		}
	}
}
