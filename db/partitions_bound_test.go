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

// partitionsOf lists a table's partitions as "name [from, to)" in start order.
func partitionsOf(t *testing.T, d *db.DB, table string) []string {
	t.Helper()
	ctx := context.Background()
	tx, err := d.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SET LOCAL TIME ZONE 'UTC'"); err != nil { // the bounds' text
		t.Fatal(err)
	}
	rows, err := tx.Query(ctx, `
		SELECT c.relname || ' ' || pg_get_expr(c.relpartbound, c.oid)
		FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = $1::regclass ORDER BY 1`, table)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPartitionGranularity checks the range each time gets: its day when recent, its
// month (cut at the daily range) when older, its year (cut at the monthly range) when
// older still, each cut to the free gap around existing partitions.
func TestPartitionGranularity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	// An operator's partition for one old day: coarse ranges are cut around it.
	if _, err := d.Pool.Exec(ctx, `CREATE TABLE app_logs_manual (LIKE app_logs INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED);
		ALTER TABLE app_logs ATTACH PARTITION app_logs_manual FOR VALUES FROM ('2024-07-04 00:00+00') TO ('2024-07-05 00:00+00')`); err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	times := []time.Time{
		at("2026-06-10T10:00:00Z"), at("2026-06-10T23:00:00Z"), // daily
		at("2026-06-08T00:00:00Z"),                             // first daily day
		at("2026-06-07T23:59:59Z"), at("2026-06-02T00:00:00Z"), // June, cut at the daily range
		at("2026-05-03T00:00:00Z"),                             // a whole month
		at("2025-06-01T00:00:00Z"),                             // first monthly month
		at("2025-03-01T00:00:00Z"),                             // 2025, cut at the monthly range
		at("2023-04-05T00:00:00Z"), at("2023-12-31T23:59:59Z"), // a whole year
		at("2024-02-01T00:00:00Z"), at("2024-09-01T00:00:00Z"), // 2024, cut around the manual day
	}
	p := db.NewPartitionsWith(d, db.PartitionOptions{Now: func() time.Time { return now }})
	if err := p.Ensure(ctx, model.KindApp, times); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"app_logs_manual FOR VALUES FROM ('2024-07-04 00:00:00+00') TO ('2024-07-05 00:00:00+00')",
		"app_logs_p20230101_20240101 FOR VALUES FROM ('2023-01-01 00:00:00+00') TO ('2024-01-01 00:00:00+00')",
		"app_logs_p20240101_20240704 FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2024-07-04 00:00:00+00')",
		"app_logs_p20240705_20250101 FOR VALUES FROM ('2024-07-05 00:00:00+00') TO ('2025-01-01 00:00:00+00')",
		"app_logs_p20250101_20250601 FOR VALUES FROM ('2025-01-01 00:00:00+00') TO ('2025-06-01 00:00:00+00')",
		"app_logs_p20250601_20250701 FOR VALUES FROM ('2025-06-01 00:00:00+00') TO ('2025-07-01 00:00:00+00')",
		"app_logs_p20260501_20260601 FOR VALUES FROM ('2026-05-01 00:00:00+00') TO ('2026-06-01 00:00:00+00')",
		"app_logs_p20260601_20260608 FOR VALUES FROM ('2026-06-01 00:00:00+00') TO ('2026-06-08 00:00:00+00')",
		"app_logs_p20260608 FOR VALUES FROM ('2026-06-08 00:00:00+00') TO ('2026-06-09 00:00:00+00')",
		"app_logs_p20260610 FOR VALUES FROM ('2026-06-10 00:00:00+00') TO ('2026-06-11 00:00:00+00')",
	}
	got := partitionsOf(t, d, "app_logs")
	if !slices.Equal(got, want) {
		t.Fatalf("partitions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Another server (its own cache) needs nothing new; a later day of an existing
	// month range is already covered.
	p2 := db.NewPartitionsWith(d, db.PartitionOptions{Now: func() time.Time { return now }})
	if err := p2.Ensure(ctx, model.KindApp, append(times, at("2026-05-30T00:00:00Z"))); err != nil {
		t.Fatal(err)
	}
	if got := partitionsOf(t, d, "app_logs"); len(got) != len(want) {
		t.Fatalf("%d partitions after a second Ensure, want %d", len(got), len(want))
	}
}

// TestPartitionBoundOverWindow ingests a batch spread over the whole accepted window
// (two rows a day) and checks that the table gets at most the documented number of
// partitions, and that the bound for the defaults is the README's figure; also with
// 90 daily partitions (--daily-partition-days 90, the data set of issue 10).
func TestPartitionBoundOverWindow(t *testing.T) {
	t.Parallel()
	const ahead = 7 // as serve pre-creates
	for _, c := range []struct {
		name      string
		dailyDays int // 0: the default
		bound     int
	}{
		{"default", 0, 33}, // the README's figure
		{"90 daily days", 90, 91 + ahead + 13 + 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			d := dbtest.New(t)
			ws, err := db.NewWorkspaceStore(d.Bun).Create(ctx, "acme", "")
			if err != nil {
				t.Fatal(err)
			}
			opts := db.PartitionOptions{DailyDays: c.dailyDays}
			bound := db.MaxPartitions(opts, model.DefaultMaxAge, model.DefaultMaxFuture, ahead)
			if bound != c.bound {
				t.Fatalf("bound %d, want %d", bound, c.bound)
			}
			parts := db.NewPartitionsWith(d, opts)
			now := time.Now()
			if err := parts.EnsureAhead(ctx, now, 1, ahead); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			n := 0
			for ts := now.Add(-model.DefaultMaxAge + time.Minute); ts.Before(now.Add(model.DefaultMaxFuture - time.Minute)); ts = ts.Add(12 * time.Hour) {
				fmt.Fprintf(&b, `{"timestamp":%q,"level":"INFO","service":"s","message":"m"}`+"\n", ts.UTC().Format(time.RFC3339Nano))
				n++
			}
			batch, err := model.DecodeBatch(model.KindApp, strings.NewReader(b.String()), now, model.IngestLimits{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := db.NewIngestStore(d, parts).Ingest(ctx, ws.ID, batch)
			if err != nil {
				t.Fatal(err)
			}
			if res.Accepted != n {
				t.Fatalf("accepted %d of %d", res.Accepted, n)
			}
			got := partitionsOf(t, d, "app_logs")
			if len(got) > bound {
				t.Fatalf("%d partitions, bound %d:\n%s", len(got), bound, strings.Join(got, "\n"))
			}
			// Planning a query no time range prunes locks each partition and its indexes.
			tx, err := d.Pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			if _, err := tx.Exec(ctx, "EXPLAIN SELECT * FROM app_logs WHERE workspace_id = $1 ORDER BY timestamp DESC LIMIT 10", ws.ID); err != nil {
				t.Fatal(err)
			}
			var locks int
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation'").Scan(&locks); err != nil {
				t.Fatal(err)
			}
			t.Logf("%d rows over the window: %d partitions (bound %d); an unbounded query plans with %d relation locks", n, len(got), bound, locks)
		})
	}
}

// TestIngestAfterDroppedPartition checks that a partition dropped behind the cache's
// back (by an operator, or retention) does not break a later ingest for its day.
func TestIngestAfterDroppedPartition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, ws, store := newIngestEnv(t)
	ts := time.Now().UTC().Add(-48 * time.Hour)
	line := fmt.Sprintf(`{"timestamp":%q,"level":"INFO","service":"s","message":"m"}`, ts.Format(time.RFC3339Nano))
	for i := 0; i < 2; i++ {
		if _, err := store.Ingest(ctx, ws.ID, decode(t, model.KindApp, line)); err != nil {
			t.Fatalf("ingest %d: %v", i, err)
		}
		if i == 0 {
			if _, err := d.Pool.Exec(ctx, "DROP TABLE app_logs_p"+ts.Format("20060102")); err != nil {
				t.Fatal(err)
			}
		}
	}
	var n int
	if err := d.Pool.QueryRow(ctx, "SELECT count(*) FROM app_logs").Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d rows (%v), want the second ingest's 1", n, err)
	}
}

// TestMaxPartitionsDailyRange: a daily range longer than the accepted window leaves
// no monthly or yearly partitions, only a daily one per day of the window.
func TestMaxPartitionsDailyRange(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		dailyDays, want int
	}{
		{7, 33},
		{90, 116},
		{1826, 1826 + 1 + 7}, // the default window's 43824h reach 1826 days back
		{db.MaxDailyPartitionDays, 1826 + 1 + 7},
	} {
		t.Run(fmt.Sprint(c.dailyDays), func(t *testing.T) {
			got := db.MaxPartitions(db.PartitionOptions{DailyDays: c.dailyDays}, model.DefaultMaxAge, model.DefaultMaxFuture, 7)
			if got != c.want {
				t.Errorf("MaxPartitions with %d daily days: %d, want %d", c.dailyDays, got, c.want)
			}
		})
	}
}
