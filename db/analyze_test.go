package db_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/db/dbtest"
	"github.com/loggraph/loggraph/model"
)

// appRows ingests n app logs stamped now.
func appRows(t *testing.T, store *db.IngestStore, ws *model.Workspace, n int) {
	t.Helper()
	var b strings.Builder
	now := time.Now().UTC()
	for i := range n {
		fmt.Fprintf(&b, `{"timestamp":%q,"level":"INFO","service":"s","message":"row %d"}`+"\n", now.Add(-time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano), i)
	}
	if _, err := store.Ingest(context.Background(), ws.ID, decode(t, model.KindApp, b.String())); err != nil {
		t.Fatal(err)
	}
}

// keepUntil calls KeepStatistics until it analyzes a table for which want is true
// (the counts it reads are published by the writing sessions within seconds) and
// returns every table it analyzed on the way.
func keepUntil(t *testing.T, d *db.DB, o db.StatsOptions, want func(string) bool) []string {
	t.Helper()
	var all []string
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
		done, err := db.KeepStatistics(context.Background(), d, o)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, done...)
		if slices.ContainsFunc(done, want) {
			return all
		}
		time.Sleep(50 * time.Millisecond) // polling the statistics views, not a synchronisation
	}
	t.Fatalf("KeepStatistics never analyzed the table; it analyzed %v", all)
	return nil
}

// TestSeedAnalyzes: a bulk load leaves statistics behind it, partitions included.
func TestSeedAnalyzes(t *testing.T) {
	t.Parallel()
	d, ws, _ := newIngestEnv(t)
	ctx := context.Background()
	if _, err := db.Seed(ctx, d, db.NewPartitions(d), ws.ID, db.SeedOptions{Rows: 2000, Days: 2}); err != nil {
		t.Fatal(err)
	}
	for _, k := range model.AllKinds {
		var analyzed bool
		var tuples float64
		if err := d.Pool.QueryRow(ctx, `
			SELECT s.last_analyze IS NOT NULL,
			       (SELECT sum(greatest(c.reltuples, 0)) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = s.relid)
			FROM pg_stat_user_tables s WHERE s.relname = $1`, k.Table()).Scan(&analyzed, &tuples); err != nil {
			t.Fatal(err)
		}
		if !analyzed || tuples == 0 {
			t.Errorf("%s after seed: analyzed %v, partitions' estimated rows %v", k.Table(), analyzed, tuples)
		}
	}
}

// TestKeepStatistics: partitions analyzed once enough of them changed, their parent
// when it is due (its ANALYZE covering them), nothing when nothing changed, and a
// locked table skipped rather than waited for.
func TestKeepStatistics(t *testing.T) {
	t.Parallel()
	d, ws, store := newIngestEnv(t)
	ctx := context.Background()
	partition := func(name string) bool { return strings.HasPrefix(name, "app_logs_p") }
	o := db.StatsOptions{MinRows: 500, Fraction: 0.01}

	// Never analyzed: the parent goes first, and covers its partitions.
	appRows(t, store, ws, 600)
	got := keepUntil(t, d, o, func(n string) bool { return n == "app_logs" })
	if slices.ContainsFunc(got, partition) {
		t.Errorf("analyzed partitions %v on their own although their parent was due", got)
	}

	// Parent analyzed just now (and its estimate allowed to drift, ParentDrift):
	// only the changed partition, once.
	o.ParentDrift = 100
	appRows(t, store, ws, 600)
	got = keepUntil(t, d, o, partition)
	if slices.Contains(got, "app_logs") {
		t.Errorf("analyzed the parent again within ParentEvery: %v", got)
	}
	again, err := db.KeepStatistics(ctx, d, o)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(again, partition) {
		t.Errorf("analyzed unchanged partitions again: %v", again)
	}

	// A locked partition is skipped without an error, and analyzed once free.
	appRows(t, store, ws, 600)
	var name string
	if err := d.Pool.QueryRow(ctx, `
		SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		JOIN pg_stat_user_tables s ON s.relid = c.oid
		WHERE i.inhparent = 'app_logs'::regclass ORDER BY s.n_live_tup DESC LIMIT 1`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	// Wait until the change counts are published (by the ingesting session, which
	// would not publish them from inside the locking transaction if the pool handed
	// it the same connection).
	var mods int64
	for deadline := time.Now().Add(2 * time.Minute); mods < 500 && time.Now().Before(deadline); {
		if err := d.Pool.QueryRow(ctx, "SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = $1", name).Scan(&mods); err != nil {
			t.Fatal(err)
		}
		if mods < 500 {
			time.Sleep(50 * time.Millisecond) // polling the statistics view
		}
	}
	if mods < 500 {
		t.Fatalf("%s: %d changes published, want 600", name, mods)
	}
	tx, err := d.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+name+" IN SHARE UPDATE EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	locked, err := db.KeepStatistics(ctx, d, db.StatsOptions{MinRows: 500, Fraction: 0.01, LockTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatalf("a locked table is an error: %v", err)
	}
	if slices.Contains(locked, name) {
		t.Errorf("analyzed %s while it was locked", name)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	keepUntil(t, d, o, func(n string) bool { return n == name })
}

// parentTuples reads a partitioned parent's row estimate (pg_class.reltuples, what
// the planner scales every estimate over the whole table by) and its real count.
func parentTuples(t *testing.T, d *db.DB, table string) (estimate float64, count int64) {
	t.Helper()
	if err := d.Pool.QueryRow(context.Background(),
		"SELECT reltuples::float8, (SELECT count(*) FROM "+table+") FROM pg_class WHERE relname = $1", table).Scan(&estimate, &count); err != nil {
		t.Fatal(err)
	}
	return estimate, count
}

// TestKeepStatisticsParentDrift: after a bulk ingest the parent is analyzed at once,
// within ParentEvery, because its estimate drifted from what its partitions hold;
// its reltuples is then the rows stored.
func TestKeepStatisticsParentDrift(t *testing.T) {
	t.Parallel()
	d, ws, store := newIngestEnv(t)
	o := db.StatsOptions{MinRows: 500, Fraction: 0.01}
	appRows(t, store, ws, 600)
	keepUntil(t, d, o, func(n string) bool { return n == "app_logs" })
	if est, n := parentTuples(t, d, "app_logs"); est != float64(n) {
		t.Fatalf("after the first analysis: app_logs reltuples %v, rows %d", est, n)
	}

	appRows(t, store, ws, 3000) // a bulk load: 6x what the parent's statistics saw
	keepUntil(t, d, o, func(n string) bool { return n == "app_logs" })
	if est, n := parentTuples(t, d, "app_logs"); est != float64(n) || n != 3600 {
		t.Fatalf("after a bulk ingest: app_logs reltuples %v, rows %d (want 3600 both)", est, n)
	}
}

// TestKeepStatisticsOneServerAtATime: while another server holds the statistics
// lock, KeepStatistics analyzes nothing and returns at once without an error.
func TestKeepStatisticsOneServerAtATime(t *testing.T) {
	t.Parallel()
	d, ws, store := newIngestEnv(t)
	ctx := context.Background()
	appRows(t, store, ws, 600)
	conn, err := d.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtext('loggraph:statistics'))"); err != nil {
		t.Fatal(err)
	}
	done, err := db.KeepStatistics(ctx, d, db.StatsOptions{MinRows: 500, Fraction: 0.01})
	if err != nil || len(done) != 0 {
		t.Fatalf("with the lock held elsewhere: analyzed %v, error %v", done, err)
	}
	var analyzed bool
	if err := d.Pool.QueryRow(ctx, "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'app_logs'").Scan(&analyzed); err != nil || analyzed {
		t.Fatalf("app_logs analyzed while the lock was held elsewhere (%v)", err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock(hashtext('loggraph:statistics'))"); err != nil {
		t.Fatal(err)
	}
	conn.Release()
	keepUntil(t, d, db.StatsOptions{MinRows: 500, Fraction: 0.01}, func(n string) bool { return n == "app_logs" })
}

// TestSessionSettings: every pooled connection, read, ingest and system, and bun's
// handle over them, plans with the settings Open gives (jit off, the parallel setup
// cost that keeps rollup statements serial).
func TestSessionSettings(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	for name, q := range map[string]func(sql string, dst *string) error{
		"read":   func(sql string, dst *string) error { return d.Pool.QueryRow(ctx, sql).Scan(dst) },
		"ingest": func(sql string, dst *string) error { return d.IngestDB().Pool.QueryRow(ctx, sql).Scan(dst) },
		"system": func(sql string, dst *string) error { return d.SystemDB().Pool.QueryRow(ctx, sql).Scan(dst) },
		"bun":    func(sql string, dst *string) error { return d.Bun.QueryRowContext(ctx, sql).Scan(dst) },
	} {
		for setting, want := range map[string]string{"parallel_setup_cost": db.ParallelSetupCost, "jit": "off"} {
			var got string
			if err := q("SHOW "+setting, &got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%s pool: %s = %s, want %s", name, setting, got, want)
			}
		}
	}
}
