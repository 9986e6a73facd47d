package db_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/db/dbtest"
	"github.com/loggraph/loggraph/model"
)

// histCacheEnv is a database with workspace acme seeded over the last 10 days, read with
// the analytics cache (cached) and without it, from the rows only (rows).
type histCacheEnv struct {
	url     string
	d       *db.DB
	capture *statementCapture
	ws      uuid.UUID
	parts   *db.Partitions
	cache   *db.AnalyticsCache
	cached  *db.LogStore
	rows    *db.LogStore
}

func newHistCacheEnv(t *testing.T, opts db.AnalyticsCacheOptions) *histCacheEnv {
	t.Helper()
	ctx := context.Background()
	e := &histCacheEnv{url: dbtest.NewURL(t), capture: new(statementCapture), cache: db.NewAnalyticsCache(opts)}
	e.d = dbtest.Open(t, e.url, db.Options{OnStatement: e.capture.add})
	w, err := db.NewWorkspaceStore(e.d.Bun).Create(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	e.ws = w.ID
	e.parts = db.NewPartitionsWith(e.d, db.PartitionOptions{DailyDays: 14})
	if _, err := db.Seed(ctx, e.d, e.parts, e.ws, db.SeedOptions{Rows: 6000, Days: 10, Now: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	e.cached = db.NewLogStore(e.d.Bun).WithAnalyticsCache(e.cache)
	e.rows = db.NewLogStore(e.d.Bun).WithoutRollups()
	return e
}

// cacheSpecs are the histograms of the cache tests: a dashboard's "last 10 days" by
// Berlin day, its last 24 hours by hour, and a filter only the rows can answer.
func cacheSpecs() []struct {
	name  string
	f     *model.LogFilter
	last  time.Duration
	every time.Duration
	tz    string
} {
	search := "a"
	return []struct {
		name  string
		f     *model.LogFilter
		last  time.Duration
		every time.Duration
		tz    string
	}{
		{"10 days by Berlin day", nil, 10 * 24 * time.Hour, 24 * time.Hour, "Europe/Berlin"},
		{"24 hours by hour, app and requests from WARN", &model.LogFilter{Kinds: []model.LogKind{model.KindApp, model.KindAPIRequest},
			MinSeverity: ptr(model.SeverityWarn)}, 24 * time.Hour, time.Hour, ""},
		{"7 days by 6 hours, search (rows only)", &model.LogFilter{Search: &search}, 7 * 24 * time.Hour, 6 * time.Hour, ""},
	}
}

// histogram answers spec over the window ending now from s, with its plan.
func histogram(t *testing.T, s *db.LogStore, ws uuid.UUID, f *model.LogFilter, last, every time.Duration, tz string) ([]model.HistogramBucket, db.AnalyticsPlan) {
	t.Helper()
	to := time.Now().UTC()
	h := db.HistogramSpec{From: to.Add(-last), To: to, Interval: every}
	if tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			t.Fatal(err)
		}
		h.Location = loc
	}
	ctx, plans := db.WithAnalyticsPlans(context.Background())
	out, err := s.Histogram(ctx, ws, f, h)
	if err != nil {
		t.Fatal(err)
	}
	p := plans()
	if len(p) != 1 {
		t.Fatalf("plans: %+v", p)
	}
	return out, p[0]
}

// exact fails unless the cached store's histogram equals the rows' (read right
// after it: no batch commits in between), and returns the cache's part of the plan.
func (e *histCacheEnv) exact(t *testing.T, f *model.LogFilter, last, every time.Duration, tz string) db.AnalyticsCacheUse {
	t.Helper()
	got, plan := histogram(t, e.cached, e.ws, f, last, every, tz)
	want, _ := histogram(t, e.rows, e.ws, f, last, every, tz)
	// The windows end at two instants a moment apart: compare the buckets whose
	// counts cannot differ (the first, partial one can lose a row to the later start).
	g, w := got[1:], want[1:]
	if len(got) != len(want) {
		g, w = got, want
	}
	gj, _ := json.Marshal(g)
	wj, _ := json.Marshal(w)
	if string(gj) != string(wj) {
		t.Fatalf("cached histogram differs from the rows':\n got %s\nwant %s", gj, wj)
	}
	if plan.Cache == nil {
		t.Fatalf("plan without the cache's part: %+v", plan)
	}
	return *plan.Cache
}

// rowsRead runs each statement again under EXPLAIN ANALYZE and sums the rows its
// table and index scans returned.
func rowsRead(t testing.TB, d *db.DB, stmts []statement) int {
	t.Helper()
	ctx := context.Background()
	total := 0
	for _, s := range stmts {
		var plan []map[string]any
		err := pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+s.sql, s.args...).Scan(&plan)
		})
		if err != nil {
			t.Fatalf("explain %s: %v", s.sql, err)
		}
		var walk func(n map[string]any)
		walk = func(n map[string]any) {
			if _, ok := n["Relation Name"]; ok {
				rows, _ := n["Actual Rows"].(float64)
				loops, _ := n["Actual Loops"].(float64)
				total += int(rows * loops)
			}
			children, _ := n["Plans"].([]any)
			for _, c := range children {
				walk(c.(map[string]any))
			}
		}
		walk(plan[0]["Plan"].(map[string]any))
	}
	return total
}

// TestHistogramCacheRefresh: a refresh with no change in between answers the same
// buckets as the rows, from the cache for every closed bucket, in one statement that
// reads fewer rows than the first answer's.
func TestHistogramCacheRefresh(t *testing.T) {
	t.Parallel()
	e := newHistCacheEnv(t, db.AnalyticsCacheOptions{})
	for _, c := range cacheSpecs() {
		t.Run(c.name, func(t *testing.T) {
			var first db.AnalyticsCacheUse
			firstStmts := e.capture.run(t, func(context.Context) error {
				first = e.exact(t, c.f, c.last, c.every, c.tz)
				return nil
			})
			if first.Cached != 0 || first.Bypass != "" {
				t.Fatalf("first answer: %+v", first)
			}
			var again db.AnalyticsCacheUse
			againStmts := e.capture.run(t, func(context.Context) error {
				again = e.exact(t, c.f, c.last, c.every, c.tz)
				return nil
			})
			// Every bucket but the partial first and the open last came from the cache.
			if again.Cached != first.Computed-2 || again.Changed != 0 || again.Computed != 2 {
				t.Fatalf("refresh: %+v after %+v", again, first)
			}
			// The statements are the cached store's and the rows store's: one each.
			if len(firstStmts) != 2 || len(againStmts) != 2 {
				t.Fatalf("statements: %d then %d, want 2 and 2", len(firstStmts), len(againStmts))
			}
			before, after := rowsRead(t, e.d, firstStmts[:1]), rowsRead(t, e.d, againStmts[:1])
			t.Logf("rows read: %d, then %d on the refresh", before, after)
			if after >= before {
				t.Fatalf("the refresh read %d rows, the first answer %d", after, before)
			}
		})
	}
	if s := e.cache.Stats(); s.Hits == 0 || s.Misses == 0 || s.Entries != len(cacheSpecs()) {
		t.Fatalf("stats: %+v", s)
	}
}

// TestHistogramCacheNeverStale: after each change to logs of closed buckets (a late
// log, a second server's ingest, deleteLogs, a retention run, a pruned change log)
// the next cached answer equals the rows', and says which buckets it recomputed.
func TestHistogramCacheNeverStale(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newHistCacheEnv(t, db.AnalyticsCacheOptions{})
	ingest := db.NewIngestStore(e.d, e.parts)
	// A second server: its own pools on the same database, and no cache.
	other := dbtest.Open(t, e.url, db.Options{})
	otherIngest := db.NewIngestStore(other, db.NewPartitionsWith(other, db.PartitionOptions{DailyDays: 14}))
	life := db.NewLifecycle(e.d)
	pruned := false
	late := func(s *db.IngestStore, ago time.Duration, service string) func(t *testing.T) {
		return func(t *testing.T) {
			line := fmt.Sprintf(`{"timestamp":%q,"level":"ERROR","service":%q,"message":"late"}`,
				time.Now().Add(-ago).UTC().Format(time.RFC3339Nano), service)
			if _, err := s.Ingest(ctx, e.ws, decode(t, model.KindApp, line)); err != nil {
				t.Fatal(err)
			}
		}
	}
	changes := []struct {
		name   string
		change func(t *testing.T)
		// age is how far back the change reaches: histograms of a shorter window
		// recompute nothing.
		age time.Duration
	}{
		{"a late log in a bucket of 5 days ago", late(ingest, 5*24*time.Hour, "late-svc"), 5 * 24 * time.Hour},
		{"a second server's ingest of a log 3 days old", late(otherIngest, 3*24*time.Hour, "other-svc"), 3 * 24 * time.Hour},
		{"deleteLogs of a service", func(t *testing.T) {
			from, to := time.Now().Add(-6*24*time.Hour), time.Now().Add(-2*24*time.Hour)
			kd, err := life.DeleteLogs(ctx, e.ws, model.KindApp, &model.AppLogFilter{Services: []string{"late-svc", "other-svc", "checkout"},
				Time: &model.TimeRange{From: &from, To: &to}}, db.DeleteOptions{})
			if err != nil || kd.Rows == 0 {
				t.Fatalf("deleted %+v, %v", kd, err)
			}
		}, 2 * 24 * time.Hour},
		{"a retention run of 7 days", func(t *testing.T) {
			for _, k := range model.AllKinds {
				if err := life.SetDefaultRetention(ctx, k, ptr(7)); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := life.ApplyRetention(ctx, db.RetentionOptions{})
			if rows, _, _ := rep.Totals(); err != nil || rows == 0 {
				t.Fatalf("retention deleted %d rows: %v", rows, err)
			}
		}, 7 * 24 * time.Hour},
		// 36 hours back: in a closed bucket of every spec whose window reaches it at any
		// time of day (Berlin's current day began at most 25 hours ago), so a refresh
		// that skipped the change would answer from a stale cached bucket.
		{"a late log, then the change log pruned", func(t *testing.T) {
			late(ingest, 36*time.Hour, "pruned-svc")(t)
			if _, err := db.PruneAnalyticsChanges(ctx, e.d, 0); err != nil {
				t.Fatal(err)
			}
			// A transaction still open elsewhere in the cluster since before the late
			// log keeps its change row (then it is listed); else the horizon passed it.
			var left bool
			if err := e.d.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM analytics_changes WHERE workspace_id = $1)`,
				e.ws).Scan(&left); err != nil {
				t.Fatal(err)
			}
			pruned = !left
		}, 36 * time.Hour},
	}
	specs := cacheSpecs()
	for _, c := range specs { // fill the cache
		e.exact(t, c.f, c.last, c.every, c.tz)
	}
	for _, ch := range changes {
		t.Run(ch.name, func(t *testing.T) {
			ch.change(t)
			for _, c := range specs {
				use := e.exact(t, c.f, c.last, c.every, c.tz)
				switch {
				case pruned: // an entry older than the newest pruned change is recomputed whole, whatever its window
					if use.Cached != 0 || use.Changed == 0 {
						t.Fatalf("%s: %+v, want every cached bucket recomputed", c.name, use)
					}
				case c.last > ch.age && use.Changed == 0:
					t.Fatalf("%s: %+v, want the changed buckets recomputed", c.name, use)
				case c.last <= ch.age && use.Changed != 0:
					t.Fatalf("%s: %+v, want nothing recomputed (the change is older than the window)", c.name, use)
				}
				// The next refresh trusts the cache again.
				if again := e.exact(t, c.f, c.last, c.every, c.tz); again.Changed != 0 || again.Cached == 0 {
					t.Fatalf("%s, refresh after the change: %+v", c.name, again)
				}
			}
		})
	}
}

// TestHistogramCacheEviction: the cache keeps at most MaxBuckets buckets, evicting
// the least recently used histograms, and answers stay exact.
func TestHistogramCacheEviction(t *testing.T) {
	t.Parallel()
	e := newHistCacheEnv(t, db.AnalyticsCacheOptions{MaxBuckets: 30})
	for _, sev := range model.AllSeverities {
		f := &model.LogFilter{Severities: []model.Severity{sev}}
		e.exact(t, f, 24*time.Hour, 2*time.Hour, "") // 11 closed buckets
		if s := e.cache.Stats(); s.Buckets > 30 {
			t.Fatalf("after %s: %+v", sev, s)
		}
	}
	s := e.cache.Stats()
	if s.Evicted == 0 || s.Entries != 2 || s.Buckets != 22 {
		t.Fatalf("stats: %+v", s)
	}
	// The newest filter is still cached, the oldest was evicted.
	newest := &model.LogFilter{Severities: []model.Severity{model.SeverityFatal}}
	if use := e.exact(t, newest, 24*time.Hour, 2*time.Hour, ""); use.Cached == 0 {
		t.Fatalf("newest: %+v", use)
	}
	oldest := &model.LogFilter{Severities: []model.Severity{model.SeverityDebug}}
	if use := e.exact(t, oldest, 24*time.Hour, 2*time.Hour, ""); use.Cached != 0 {
		t.Fatalf("oldest: %+v", use)
	}
	// A histogram bigger than the whole cache is answered, and not kept.
	e.exact(t, nil, 7*24*time.Hour, 15*time.Minute, "")
	if s := e.cache.Stats(); s.Buckets > 30 {
		t.Fatalf("after a histogram of 671 buckets: %+v", s)
	}
}

// BenchmarkHistogramCache times a dashboard's refresh of the 30-day histogram by
// Berlin day (every kind, rollups on) of an existing seeded workspace whose newest
// logs are recent: without the cache, with it (every closed bucket cached), and
// with it after a late log landed in a closed bucket before each refresh (the late
// ingest is not timed). rows/op are the rows one more refresh's statements read
// (EXPLAIN ANALYZE, table and index scans); backend-cpu-ms/op is the CPU time of the
// PostgreSQL backend serving the refreshes (read from /proc: the database must run
// on this machine; else 0). Set LOGGRAPH_BENCH_URL and
// LOGGRAPH_BENCH_WORKSPACE (default bench-cache), and LOGGRAPH_BENCH_ROUNDS to run
// the three interleaved that many times (-count would run each that many times in a
// row).
func BenchmarkHistogramCache(b *testing.B) {
	url := os.Getenv("LOGGRAPH_BENCH_URL")
	if url == "" {
		b.Skip("LOGGRAPH_BENCH_URL is not set")
	}
	slug := os.Getenv("LOGGRAPH_BENCH_WORKSPACE")
	if slug == "" {
		slug = "bench-cache"
	}
	ctx := context.Background()
	capture := new(statementCapture)
	// One connection, so that its backend's CPU time is the requests' (with
	// max_parallel_workers_per_gather=0 in the URL, all of it).
	d, err := db.Open(ctx, url, db.Options{OnStatement: capture.add, MaxConns: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	ws, err := db.NewWorkspaceStore(d.Bun).BySlug(ctx, slug)
	if err != nil {
		b.Fatal(err)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		b.Fatal(err)
	}
	spec := func() db.HistogramSpec {
		to := time.Now()
		return db.HistogramSpec{From: to.Add(-30 * 24 * time.Hour), To: to, Interval: 24 * time.Hour, Location: berlin}
	}
	rounds := 1
	if r, err := strconv.Atoi(os.Getenv("LOGGRAPH_BENCH_ROUNDS")); err == nil && r > 0 {
		rounds = r // interleaved: round 1 of each, then round 2 of each...
	}
	for round := range rounds {
		benchHistogramCacheRound(b, ctx, d, capture, ws.ID, spec, round)
	}
}

func benchHistogramCacheRound(b *testing.B, ctx context.Context, d *db.DB, capture *statementCapture, ws uuid.UUID,
	spec func() db.HistogramSpec, round int) {
	ingest := db.NewIngestStore(d, db.NewPartitions(d))
	for _, bc := range []struct {
		name  string
		cache bool
		late  bool
	}{{"no cache", false, false}, {"cache", true, false}, {"cache, a late log each time", true, true}} {
		b.Run(fmt.Sprintf("%s/round %d", bc.name, round+1), func(b *testing.B) {
			logs := db.NewLogStore(d.Bun)
			if bc.cache {
				logs = logs.WithAnalyticsCache(db.NewAnalyticsCache(db.AnalyticsCacheOptions{}))
				if _, err := logs.Histogram(ctx, ws, nil, spec()); err != nil { // fills the cache
					b.Fatal(err)
				}
			}
			late := func(i int) {
				line := fmt.Sprintf(`{"timestamp":%q,"level":"WARN","service":"late","message":"late %d"}`,
					time.Now().Add(-10*24*time.Hour).UTC().Format(time.RFC3339Nano), i)
				batch, err := model.DecodeBatch(model.KindApp, strings.NewReader(line), time.Now(), model.IngestLimits{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := ingest.Ingest(ctx, ws, batch); err != nil {
					b.Fatal(err)
				}
			}
			var pid int
			if err := d.Pool.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
				b.Fatal(err)
			}
			var cpu time.Duration
			n := 0
			for i := 0; b.Loop(); i++ {
				if bc.late {
					b.StopTimer()
					late(i)
					b.StartTimer()
				}
				before := backendCPU(pid)
				if _, err := logs.Histogram(ctx, ws, nil, spec()); err != nil {
					b.Fatal(err)
				}
				cpu += backendCPU(pid) - before
				n++
			}
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(n), "backend-cpu-ms/op")
			if bc.late {
				late(-1)
			}
			capture.mu.Lock()
			capture.stmts, capture.on = nil, true
			capture.mu.Unlock()
			if _, err := logs.Histogram(ctx, ws, nil, spec()); err != nil {
				b.Fatal(err)
			}
			capture.mu.Lock()
			stmts := capture.stmts
			capture.on = false
			capture.mu.Unlock()
			b.ReportMetric(float64(rowsRead(b, d, stmts)), "rows/op")
			b.ReportMetric(float64(len(stmts)), "statements/op")
		})
	}
}

// backendCPU is the user and system CPU time process pid has used (0 if /proc does
// not have it), at the kernel's clock-tick resolution (10 ms).
func backendCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command (which may hold spaces), from field 3 (state) on.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
