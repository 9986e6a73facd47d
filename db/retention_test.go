package db_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/db/dbtest"
	"github.com/loggraph/loggraph/model"
)

// lifecycleEnv is a database with workspaces seeded over the last `days` days, every
// partition daily.
type lifecycleEnv struct {
	d     *db.DB
	parts *db.Partitions
	life  *db.Lifecycle
	now   time.Time
	ws    map[string]uuid.UUID
}

func newLifecycleEnv(t *testing.T, days, rows int, slugs ...string) *lifecycleEnv {
	t.Helper()
	ctx := context.Background()
	e := &lifecycleEnv{d: dbtest.New(t), now: time.Now().UTC(), ws: map[string]uuid.UUID{}}
	e.parts = db.NewPartitionsWith(e.d, db.PartitionOptions{DailyDays: days + 2})
	e.life = db.NewLifecycle(e.d)
	for i, slug := range slugs {
		w, err := db.NewWorkspaceStore(e.d.Bun).Create(ctx, slug, "")
		if err != nil {
			t.Fatal(err)
		}
		e.ws[slug] = w.ID
		if _, err := db.Seed(ctx, e.d, e.parts, w.ID, db.SeedOptions{Rows: rows, Days: days, Now: e.now, Seed: int64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// rows counts kind k's rows of ws before `before` (nil: all), from the table.
func (e *lifecycleEnv) rows(t *testing.T, ws uuid.UUID, k model.LogKind, before *time.Time) int {
	t.Helper()
	var n int
	err := e.d.Pool.QueryRow(context.Background(), fmt.Sprintf(`SELECT count(*) FROM %s WHERE workspace_id = $1 AND ($2::timestamptz IS NULL OR %q < $2)`,
		k.Table(), k.TimeColumn()), ws, before).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// checkTotals: every kind's total over several windows, read as the API reads it
// (log_counts plus partial days), equals a fresh count of the rows.
func (e *lifecycleEnv) checkTotals(t *testing.T, ws uuid.UUID) {
	t.Helper()
	logs := db.NewLogStore(e.d.Bun)
	ago := func(d int) *time.Time { v := e.now.Add(-time.Duration(d) * 24 * time.Hour); return &v }
	for _, k := range model.AllKinds {
		for _, w := range []*model.TimeRange{nil, {From: ago(30)}, {From: ago(9), To: ago(2)}, {To: ago(4)}} {
			f, _ := db.NewFilter(k)
			f = withWindow(f, w)
			got, err := logs.Count(context.Background(), ws, k, f)
			if err != nil {
				t.Fatal(err)
			}
			var want int
			from, to, _ := w.Bounds(e.now)
			err = e.d.Pool.QueryRow(context.Background(), fmt.Sprintf(`SELECT count(*) FROM %s WHERE workspace_id = $1
				AND ($2::timestamptz IS NULL OR %[2]q >= $2) AND ($3::timestamptz IS NULL OR %[2]q < $3)`, k.Table(), k.TimeColumn()),
				ws, from, to).Scan(&want)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%s total over %+v: %d, rows: %d", k, w, got, want)
			}
		}
	}
	if n, err := db.RollupMismatches(context.Background(), e.d, ws); err != nil || n != 0 {
		t.Errorf("%d groups differ between log_rollups and the rows (%v)", n, err)
	}
}

func withWindow(f any, w *model.TimeRange) any {
	switch f := f.(type) {
	case *model.AppLogFilter:
		f.Time = w
	case *model.APIRequestLogFilter:
		f.Time = w
	case *model.IntegrationLogFilter:
		f.Time = w
	case *model.ActionLogFilter:
		f.Time = w
	case *model.APIReferenceLogFilter:
		f.Time = w
	}
	return f
}

// partitionDays lists the days of table's daily partitions.
func (e *lifecycleEnv) partitionDays(t *testing.T, table string) []string {
	t.Helper()
	rows, err := e.d.Pool.Query(context.Background(), `SELECT c.relname FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY 1`, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		out = append(out, name[len(table)+2:])
	}
	return out
}

func intp(n int) *int { return &n }

// TestRetentionMixedWorkspaces: with a default of 6 days, one workspace at 3 and one
// at 9 days, exactly the partitions before the 9-day cutoff go, each workspace loses
// exactly its rows before its own cutoff, a kind kept forever (the default, and a
// kind whose only override is forever) loses nothing, a dry run predicts the run and
// deletes nothing, and totals match fresh counts afterwards.
func TestRetentionMixedWorkspaces(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newLifecycleEnv(t, 14, 4000, "dflt", "short", "long")
	for _, k := range []model.LogKind{model.KindApp, model.KindAPIRequest, model.KindIntegration} {
		if err := e.life.SetDefaultRetention(ctx, k, intp(6)); err != nil {
			t.Fatal(err)
		}
		if err := e.life.SetWorkspaceRetention(ctx, e.ws["short"], k, intp(3), false); err != nil {
			t.Fatal(err)
		}
		if err := e.life.SetWorkspaceRetention(ctx, e.ws["long"], k, intp(9), false); err != nil {
			t.Fatal(err)
		}
	}
	// API_REFERENCE: a default, but one workspace keeps it forever: no partition goes.
	if err := e.life.SetDefaultRetention(ctx, model.KindAPIReference, intp(2)); err != nil {
		t.Fatal(err)
	}
	if err := e.life.SetWorkspaceRetention(ctx, e.ws["long"], model.KindAPIReference, nil, false); err != nil {
		t.Fatal(err)
	}
	got, err := e.life.Retention(ctx, e.ws["long"])
	if err != nil {
		t.Fatal(err)
	}
	want := []db.KindRetention{
		{Kind: model.KindApp, Days: intp(9), Source: db.RetentionFromOverride},
		{Kind: model.KindAPIRequest, Days: intp(9), Source: db.RetentionFromOverride},
		{Kind: model.KindIntegration, Days: intp(9), Source: db.RetentionFromOverride},
		{Kind: model.KindAction, Source: db.RetentionFromDefault},
		{Kind: model.KindAPIReference, Source: db.RetentionFromOverride},
	}
	if fmt.Sprint(deref(got)) != fmt.Sprint(deref(want)) {
		t.Fatalf("retention of long: %v, want %v", deref(got), deref(want))
	}

	today := e.now.Truncate(24 * time.Hour)
	cut := func(days int) *time.Time { v := today.AddDate(0, 0, -days); return &v }
	cutoffs := map[string]map[model.LogKind]*time.Time{
		"dflt":  {model.KindApp: cut(6), model.KindAPIRequest: cut(6), model.KindIntegration: cut(6), model.KindAPIReference: cut(2)},
		"short": {model.KindApp: cut(3), model.KindAPIRequest: cut(3), model.KindIntegration: cut(3), model.KindAPIReference: cut(2)},
		"long":  {model.KindApp: cut(9), model.KindAPIRequest: cut(9), model.KindIntegration: cut(9)},
	}
	before := map[string]map[model.LogKind][2]int{} // rows before and from the cutoff
	wantRows := map[model.LogKind]int64{}
	for slug, ws := range e.ws {
		before[slug] = map[model.LogKind][2]int{}
		for _, k := range model.AllKinds {
			all, old := e.rows(t, ws, k, nil), 0
			if c := cutoffs[slug][k]; c != nil {
				old = e.rows(t, ws, k, c)
			}
			if old == 0 && cutoffs[slug][k] != nil {
				t.Fatalf("%s %s: no rows before the cutoff to delete", slug, k)
			}
			before[slug][k] = [2]int{old, all - old}
			wantRows[k] += int64(old)
		}
	}
	partsBefore := map[model.LogKind][]string{}
	for _, k := range model.AllKinds {
		partsBefore[k] = e.partitionDays(t, k.Table())
	}

	dry, err := e.life.ApplyRetention(ctx, db.RetentionOptions{DryRun: true, Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	for slug, ws := range e.ws {
		for _, k := range model.AllKinds {
			if n := e.rows(t, ws, k, nil); n != before[slug][k][0]+before[slug][k][1] {
				t.Fatalf("dry run deleted %s rows of %s", k, slug)
			}
		}
	}
	rep, err := e.life.ApplyRetention(ctx, db.RetentionOptions{Now: func() time.Time { return e.now }, BatchSize: 97})
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range model.AllKinds {
		t.Run(string(k), func(t *testing.T) {
			kd := rep.Kinds[i]
			if kd.Kind != k || kd.Rows != wantRows[k] || dry.Kinds[i].Rows != wantRows[k] {
				t.Errorf("deleted %d rows (dry run: %d), want %d", kd.Rows, dry.Kinds[i].Rows, wantRows[k])
			}
			// Partitions: those ending by the 9-day cutoff go for the three kinds every
			// workspace limits; none of the others.
			var wantDropped []string
			if k == model.KindApp || k == model.KindAPIRequest || k == model.KindIntegration {
				for _, p := range partsBefore[k] {
					day, err := time.Parse("20060102", p)
					if err == nil && !day.Add(24*time.Hour).After(*cut(9)) {
						wantDropped = append(wantDropped, k.Table()+"_p"+p)
					}
				}
				if len(wantDropped) < 4 {
					t.Fatalf("only %d partitions to drop: %v", len(wantDropped), partsBefore[k])
				}
			}
			if !slices.Equal(kd.Partitions, wantDropped) || !slices.Equal(dry.Kinds[i].Partitions, wantDropped) {
				t.Errorf("dropped %v (dry run %v), want %v", kd.Partitions, dry.Kinds[i].Partitions, wantDropped)
			}
			if len(wantDropped) > 0 && kd.Bytes <= 0 {
				t.Errorf("bytes freed: %d", kd.Bytes)
			}
			left := e.partitionDays(t, k.Table())
			if len(left) != len(partsBefore[k])-len(wantDropped) {
				t.Errorf("partitions left %v, before %v", left, partsBefore[k])
			}
			for slug, ws := range e.ws {
				if c := cutoffs[slug][k]; c != nil {
					if n := e.rows(t, ws, k, c); n != 0 {
						t.Errorf("%s: %d rows before its cutoff remain", slug, n)
					}
				}
				if n := e.rows(t, ws, k, nil); n != before[slug][k][1] {
					t.Errorf("%s: %d rows left, want %d", slug, n, before[slug][k][1])
				}
			}
		})
	}
	for _, ws := range e.ws {
		e.checkTotals(t, ws)
	}
	last, err := e.life.LastRetentionRun(ctx)
	if err != nil || last == nil || !last.OK || last.Rows != sumRows(rep) {
		t.Fatalf("last run: %+v, %v", last, err)
	}
	// A second run finds nothing more to do.
	again, err := e.life.ApplyRetention(ctx, db.RetentionOptions{Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	if rows, _, parts := again.Totals(); rows != 0 || parts != 0 {
		t.Fatalf("second run deleted %d rows, %d partitions", rows, parts)
	}
}

func sumRows(r *db.DeletionReport) int64 { rows, _, _ := r.Totals(); return rows }

// deref makes KindRetention printable by value.
func deref(rs []db.KindRetention) []string {
	var out []string
	for _, r := range rs {
		d := "forever"
		if r.Days != nil {
			d = fmt.Sprint(*r.Days)
		}
		out = append(out, fmt.Sprintf("%s:%s:%s", r.Kind, d, r.Source))
	}
	return out
}

// TestRetentionBusy: a second run while one holds the lock is refused, not run; the
// run made after it shows in the metrics.
func TestRetentionBusy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	conn, err := d.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtext($1))`, db.RetentionLockKey); err != nil {
		t.Fatal(err)
	}
	if _, err := db.NewLifecycle(d).ApplyRetention(ctx, db.RetentionOptions{}); !errors.Is(err, db.ErrRetentionBusy) {
		t.Fatalf("got %v, want ErrRetentionBusy", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock(hashtext($1))`, db.RetentionLockKey); err != nil {
		t.Fatal(err)
	}
	life := db.NewLifecycle(d)
	if _, err := life.ApplyRetention(ctx, db.RetentionOptions{}); err != nil {
		t.Fatal(err)
	}
	// The metrics report the run, read from retention_runs (any server's).
	reg := prometheus.NewRegistry()
	reg.MustRegister(db.NewLifecycle(d).Collector())
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		if m := f.GetMetric(); len(m) == 1 && m[0].GetGauge() != nil {
			got[f.GetName()] = m[0].GetGauge().GetValue()
		}
	}
	if got["loggraph_retention_last_run_success"] != 1 || got["loggraph_retention_last_run_timestamp_seconds"] < float64(time.Now().Add(-time.Hour).Unix()) {
		t.Fatalf("metrics: %v", got)
	}
}

// TestRetentionDuringIngestAndReads: partitions dropped while clients ingest
// (today's rows) and read (lists and totals over every day) cause no error.
func TestRetentionDuringIngestAndReads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newLifecycleEnv(t, 12, 3000, "acme")
	ws := e.ws["acme"]
	for _, k := range model.AllKinds {
		if err := e.life.SetDefaultRetention(ctx, k, intp(4)); err != nil {
			t.Fatal(err)
		}
	}
	ingest := db.NewIngestStore(e.d, e.parts)
	logs := db.NewLogStore(e.d.Bun)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	started := make(chan struct{}, 4)
	client := func(op func(i int) error) {
		defer wg.Done()
		for i := 0; ; i++ {
			if err := op(i); err != nil {
				errs <- err
				return
			}
			if i == 0 {
				started <- struct{}{}
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	}
	wg.Add(4)
	for c := range 2 {
		go client(func(i int) error {
			body := fmt.Sprintf(`{"timestamp":%q,"level":"INFO","service":"svc","message":"during retention %d/%d"}`,
				time.Now().UTC().Format(time.RFC3339Nano), c, i)
			_, err := ingest.Ingest(ctx, ws, decode(t, model.KindApp, body))
			return err
		})
	}
	for range 2 {
		go client(func(i int) error {
			k := model.AllKinds[i%len(model.AllKinds)]
			f, _ := db.NewFilter(k)
			if _, err := logs.Count(ctx, ws, k, f); err != nil {
				return err
			}
			_, _, err := logs.Logs(ctx, ws, &model.LogFilter{}, model.Page{Limit: 20})
			return err
		})
	}
	for range 4 {
		select {
		case <-started:
		case err := <-errs:
			t.Fatal(err)
		}
	}
	rep, err := e.life.ApplyRetention(ctx, db.RetentionOptions{Now: func() time.Time { return e.now }})
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error("client:", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, _, parts := rep.Totals(); parts < 5*6 {
		t.Fatalf("dropped %d partitions", parts)
	}
	e.checkTotals(t, ws)
}

// TestRetentionCoarsePartitions: rows older than the daily range share monthly
// partitions that end after the cutoff: none is dropped, and the rows before the
// cutoff in them are deleted all the same, with their counts.
func TestRetentionCoarsePartitions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	now := time.Now().UTC()
	parts := db.NewPartitionsWith(d, db.PartitionOptions{DailyDays: 2})
	ws, err := db.NewWorkspaceStore(d.Bun).Create(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Seed(ctx, d, parts, ws.ID, db.SeedOptions{Rows: 3000, Days: 40, Now: now}); err != nil {
		t.Fatal(err)
	}
	e := &lifecycleEnv{d: d, parts: parts, life: db.NewLifecycle(d), now: now, ws: map[string]uuid.UUID{"acme": ws.ID}}
	// The cutoff falls inside the monthly partition before the daily range (which
	// starts two days ago): from the 3rd of the month on, 3 days back is in it.
	const keep = 3
	cutoff := now.Truncate(24*time.Hour).AddDate(0, 0, -keep)
	for _, k := range model.AllKinds {
		if err := e.life.SetDefaultRetention(ctx, k, intp(keep)); err != nil {
			t.Fatal(err)
		}
	}
	var kept, old int
	for _, k := range model.AllKinds {
		kept += e.rows(t, ws.ID, k, nil) - e.rows(t, ws.ID, k, &cutoff)
		old += e.rows(t, ws.ID, k, &cutoff)
	}
	rep, err := e.life.ApplyRetention(ctx, db.RetentionOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if rows, _, _ := rep.Totals(); int(rows) != old {
		t.Fatalf("deleted %d rows, want %d", rows, old)
	}
	left := 0
	for _, k := range model.AllKinds {
		if n := e.rows(t, ws.ID, k, &cutoff); n != 0 {
			t.Errorf("%s: %d rows before the cutoff remain", k, n)
		}
		left += e.rows(t, ws.ID, k, nil)
	}
	if left != kept {
		t.Fatalf("%d rows left, want %d", left, kept)
	}
	e.checkTotals(t, ws.ID)
}
