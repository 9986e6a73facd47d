package db_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/db/dbtest"
	"github.com/loggraph/loggraph/model"
)

// TestRollupBatchesAcrossRecomputes: batches spanning several days leave their
// request and pattern rollups packed (request_rollup_batches,
// log_pattern_rollup_batches); retention dropping the oldest days and a filtered
// deletion in the middle recompute some of those slots from the rows, and every
// rollup still equals the rows (RollupMismatches), so the packed rows of the other
// slots were kept, not lost or counted twice; CompactPatternRollups merges packed
// and unpacked rows into one per key.
func TestRollupBatchesAcrossRecomputes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	now := time.Now().UTC()
	parts := db.NewPartitionsWith(d, db.PartitionOptions{DailyDays: 10})
	w, err := db.NewWorkspaceStore(d.Bun).Create(ctx, "packed", "")
	if err != nil {
		t.Fatal(err)
	}
	store := db.NewIngestStore(d, parts)
	seq := 0
	// ingest stores one app and one API-request batch, n lines each, spread over the
	// six days before now.
	ingest := func(n int) {
		t.Helper()
		var app, req strings.Builder
		for i := range n {
			seq++
			at := now.Add(-time.Duration(i) * 6 * 24 * time.Hour / time.Duration(n)).Format(time.RFC3339Nano)
			fmt.Fprintf(&app, `{"timestamp":%q,"level":%q,"service":"s%d","message":"user %d logged in from 10.0.0.%d"}`+"\n",
				at, []string{"INFO", "WARN", "ERROR"}[seq%3], seq%2, seq, seq%250)
			fmt.Fprintf(&req, `{"received_at":%q,"code":%d,"ip":"10.0.0.1","timing_ms":%d,"delay_ms":%d,"collection":"c%d","collection_type":"proxy","endpoint":"GET /%d","client":"k%d"}`+"\n",
				at, []int{200, 404, 500}[seq%3], seq*7%3000, seq%40, seq%2, seq%5, seq%3)
		}
		for kind, body := range map[model.LogKind]string{model.KindApp: app.String(), model.KindAPIRequest: req.String()} {
			if _, err := store.Ingest(ctx, w.ID, decode(t, kind, body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(stage string, wantPacked bool) {
		t.Helper()
		var packed int
		if err := d.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM request_rollup_batches WHERE workspace_id = $1)
			+ (SELECT count(*) FROM log_pattern_rollup_batches WHERE workspace_id = $1)`, w.ID).Scan(&packed); err != nil {
			t.Fatal(err)
		}
		if (packed > 0) != wantPacked {
			t.Fatalf("%s: %d packed rows", stage, packed)
		}
		if n, err := db.RollupMismatches(ctx, d, w.ID); err != nil || n != 0 {
			t.Fatalf("%s: %d rollup groups differ from the rows (%v)", stage, n, err)
		}
	}
	ingest(900)
	ingest(300)
	check("ingested", true)

	life := db.NewLifecycle(d)
	for _, k := range []model.LogKind{model.KindApp, model.KindAPIRequest} {
		if err := life.SetDefaultRetention(ctx, k, intp(3)); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := life.ApplyRetention(ctx, db.RetentionOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Kinds[0].Partitions) == 0 || len(rep.Kinds[1].Partitions) == 0 {
		t.Fatalf("retention dropped no partition: %+v", rep.Kinds)
	}
	check("after retention", false) // its batches were unpacked: their later slots kept as rows

	ingest(600)
	check("ingested again", true)
	// The pattern compaction merges the new batches with the rows retention kept (the
	// same keys): one row per key after it.
	if _, err := db.CompactPatternRollups(ctx, d, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var left, dups int
	if err := d.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM log_pattern_rollup_batches WHERE workspace_id = $1),
		(SELECT count(*) - count(DISTINCT (width, kind, slot, severity, source, pattern)) FROM log_pattern_rollups WHERE workspace_id = $1)`,
		w.ID).Scan(&left, &dups); err != nil || left != 0 || dups != 0 {
		t.Fatalf("after the pattern compaction: %d batch rows, %d duplicate keys (%v)", left, dups, err)
	}
	check("patterns compacted", true) // the request batches are still packed
	ingest(300)
	from, to := now.Add(-50*time.Hour), now.Add(-20*time.Hour)
	if kd, err := life.DeleteLogs(ctx, w.ID, model.KindApp, &model.AppLogFilter{Services: []string{"s1"},
		Time: &model.TimeRange{From: &from, To: &to}}, db.DeleteOptions{}); err != nil || kd.Rows == 0 {
		t.Fatalf("deleted %+v (%v)", kd, err)
	}
	if kd, err := life.DeleteLogs(ctx, w.ID, model.KindAPIRequest, &model.APIRequestLogFilter{Codes: []int{404},
		Time: &model.TimeRange{From: &from, To: &to}}, db.DeleteOptions{}); err != nil || kd.Rows == 0 {
		t.Fatalf("deleted %+v (%v)", kd, err)
	}
	check("after deletions", false) // compacted at the end of each
}
