package db_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/db/dbtest"
	"github.com/loggraph/loggraph/model"
)

// TestCountsMatchRows: totals read from log_counts (whole days plus partial edge
// days) equal counting the rows, for every filter shape the rollup serves, after
// seeding and after ingests with duplicates.
func TestCountsMatchRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	wss := db.NewWorkspaceStore(d.Bun)
	ws, err := wss.Create(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	other, err := wss.Create(ctx, "other", "")
	if err != nil {
		t.Fatal(err)
	}
	parts := db.NewPartitions(d)
	now := time.Date(2026, 11, 20, 15, 30, 0, 0, time.UTC)
	if _, err := db.Seed(ctx, d, parts, ws.ID, db.SeedOptions{Rows: 6000, Days: 5, Now: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Seed(ctx, d, parts, other.ID, db.SeedOptions{Rows: 2000, Days: 5, Now: now}); err != nil {
		t.Fatal(err)
	}
	// Ingests after the seed, one a retry: its duplicates must not be counted.
	store := db.NewIngestStore(d, parts)
	body := `{"id":"0190b4a0-0000-7000-8000-000000000001","timestamp":"2026-11-19T10:00:00Z","level":"ERROR","service":"auth","message":"x"}
{"id":"0190b4a0-0000-7000-8000-000000000002","timestamp":"2026-11-18T23:59:59.999999Z","level":"INFO","service":"auth","message":"y"}`
	for i := 0; i < 2; i++ {
		if _, err := store.Ingest(ctx, ws.ID, decode(t, model.KindApp, body)); err != nil {
			t.Fatal(err)
		}
	}
	logs := db.NewLogStore(d.Bun)
	tm := func(s string) *time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return &v }
	windows := []*model.TimeRange{
		nil,
		{From: tm("2026-11-17T00:00:00Z"), To: tm("2026-11-19T00:00:00Z")},
		{From: tm("2026-11-16T07:13:00Z"), To: tm("2026-11-19T13:01:02.5Z")},
		{From: tm("2026-11-18T12:00:00Z")},
		{To: tm("2026-11-19T00:00:00.000001Z")},
		{From: tm("2026-11-19T01:00:00Z"), To: tm("2026-11-19T02:00:00Z")},
	}
	auth, errLevel := "auth", model.SeverityError
	for i, w := range windows {
		cases := []struct {
			kind   model.LogKind
			rollup any
		}{
			{model.KindApp, &model.AppLogFilter{Time: w}},
			{model.KindApp, &model.AppLogFilter{Time: w, Services: []string{auth}, MinLevel: &errLevel}},
			{model.KindAPIRequest, &model.APIRequestLogFilter{Time: w}},
			{model.KindIntegration, &model.IntegrationLogFilter{Time: w}},
			{model.KindAction, &model.ActionLogFilter{Time: w}},
			{model.KindAPIReference, &model.APIReferenceLogFilter{Time: w}},
		}
		for j, c := range cases {
			t.Run(fmt.Sprint(j), func(t *testing.T) {
				got, err := logs.Count(ctx, ws.ID, c.kind, c.rollup)
				if err != nil {
					t.Fatal(err)
				}
				var want int
				from, to, _ := w.Bounds(time.Now())
				q := fmt.Sprintf(`SELECT count(*) FROM %s t WHERE workspace_id = $1 AND ($2::timestamptz IS NULL OR %q >= $2) AND ($3::timestamptz IS NULL OR %q < $3)`,
					c.kind.Table(), c.kind.TimeColumn(), c.kind.TimeColumn())
				if f, ok := c.rollup.(*model.AppLogFilter); ok && len(f.Services) > 0 {
					q += " AND service = 'auth' AND level >= 4"
				}
				if err := d.Pool.QueryRow(ctx, q, ws.ID, from, to).Scan(&want); err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("window %d case %d (%s): rollup count %d, rows %d", i, j, c.kind, got, want)
				}
				if i == 0 && j == 0 && got == 0 {
					t.Fatal("no rows counted at all")
				}
			})
		}
	}
}

// TestCompactCounts: merging the deltas of many batches keeps every total and leaves
// one row per key.
func TestCompactCounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, ws, store := newIngestEnv(t)
	for i := 0; i < 10; i++ {
		body := fmt.Sprintf(`{"timestamp":"2026-11-1%dT10:00:00Z","level":"INFO","service":"a","message":"m"}
{"timestamp":"2026-11-1%dT11:00:00Z","level":"ERROR","service":"b","message":"m"}`, i%3, i%3)
		if _, err := store.Ingest(ctx, ws.ID, decode(t, model.KindApp, body)); err != nil {
			t.Fatal(err)
		}
	}
	logs := db.NewLogStore(d.Bun)
	total := func() int {
		n, err := logs.Count(ctx, ws.ID, model.KindApp, &model.AppLogFilter{Services: []string{"b"}})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	rows := func() (n int) {
		if err := d.Pool.QueryRow(ctx, "SELECT count(*) FROM log_counts").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if total() != 10 || rows() != 20 {
		t.Fatalf("before: total %d, rows %d", total(), rows())
	}
	merged, err := db.CompactCounts(ctx, d, time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 12, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	// Days 10 and 11 (7 batches) merge into 2 keys each in log_counts, 4 in
	// log_rollups (10:00 INFO and 11:00 ERROR, per source and in total) and 2 in
	// log_pattern_rollups at each of its two levels (slot and hour); day 12's 3
	// batches stay.
	if merged != 4+8+2*4 || rows() != 4+6 || total() != 10 {
		t.Fatalf("after: merged %d, rows %d, total %d", merged, rows(), total())
	}
}

// TestIngestRollupsInOneStatement: a batch's counts and rollups (log_counts,
// log_rollups, log_pattern_rollups, packed) cost no statement of their own: they share one
// statement, and an app batch takes 12 statements as before log_pattern_rollups
// (the transaction, the entities' sync, the COPY, that statement, the NOTIFY).
func TestIngestRollupsInOneStatement(t *testing.T) {
	t.Parallel()
	d, ws, store := newIngestEnv(t)
	ctx, counter := db.WithStatementCounter(context.Background())
	body := `{"timestamp":"2026-11-10T10:00:00Z","level":"INFO","service":"a","message":"user 42 logged in"}
{"timestamp":"2026-11-10T10:20:00Z","level":"ERROR","service":"b","message":"user 43 logged in"}`
	if _, err := store.Ingest(ctx, ws.ID, decode(t, model.KindApp, body)); err != nil {
		t.Fatal(err)
	}
	if n := counter.Count(); n != 12 {
		t.Errorf("%d statements, want 12", n)
	}
	var n int
	if err := d.Pool.QueryRow(context.Background(), `SELECT count(*) FROM log_pattern_rollup_batches AS b, unnest(b.pattern) AS p
		WHERE p = 'user <num> logged in'`).Scan(&n); err != nil || n != 2 {
		t.Errorf("%d packed pattern rollup rows (%v), want 2", n, err)
	}
}
