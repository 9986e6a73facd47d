package db_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// TestRebuildSearchIndexes: the trigram index of a closed day's partition is rebuilt
// once and marked, the open day's is not, another call finds nothing left, and the
// rebuilt index still finds what it found before.
func TestRebuildSearchIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, ws, store := newIngestEnv(t)
	now := time.Now().UTC()
	past := now.Add(-72 * time.Hour)
	var b strings.Builder
	for i := range 400 {
		at := past
		if i%2 == 1 {
			at = now.Add(-time.Duration(i) * time.Millisecond)
		}
		msg := fmt.Sprintf("order %d paid by customer-%x", i, i*7919)
		if i == 10 {
			msg = "a needle-in-the-haystack event"
		}
		fmt.Fprintf(&b, `{"timestamp":%q,"level":"INFO","service":"s","message":%q}`+"\n", at.Add(time.Duration(i)*time.Microsecond).Format(time.RFC3339Nano), msg)
	}
	if _, err := store.Ingest(ctx, ws.ID, decode(t, model.KindApp, b.String())); err != nil {
		t.Fatal(err)
	}
	// indexOf is the name of the app trigram index of the partition holding at.
	indexOf := func(at time.Time) string {
		var name string
		err := d.Pool.QueryRow(ctx, `
			SELECT ci.relname FROM pg_inherits ii
			JOIN pg_class ci ON ci.oid = ii.inhrelid
			JOIN pg_index x ON x.indexrelid = ci.oid
			WHERE ii.inhparent = 'app_logs_message_trgm_idx'::regclass
			  AND x.indrelid = (SELECT tableoid FROM app_logs WHERE timestamp BETWEEN $1::timestamptz - interval '1 second' AND $1 LIMIT 1)`, at).Scan(&name)
		if err != nil {
			t.Fatal(err)
		}
		return name
	}
	closed, open := indexOf(past.Add(time.Second)), indexOf(now)
	// needles counts the needle through the trigram index (sequential scans off).
	needles := func() int {
		var n int
		err := pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
				return err
			}
			return tx.QueryRow(ctx, "SELECT count(*) FROM app_logs WHERE workspace_id = $1 AND message ILIKE '%needle-in-the%'", ws.ID).Scan(&n)
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := needles(); n != 1 {
		t.Fatalf("before: %d needles", n)
	}
	// What an interrupted REINDEX CONCURRENTLY leaves: an invalid index named
	// <index>_ccnew (here a unique index that failed on duplicates), dropped first.
	var partition string
	if err := d.Pool.QueryRow(ctx, "SELECT indrelid::regclass::text FROM pg_index WHERE indexrelid = to_regclass($1)", closed).Scan(&partition); err != nil {
		t.Fatal(err)
	}
	leftover := closed + "_ccnew"
	if _, err := d.Pool.Exec(ctx, fmt.Sprintf("CREATE UNIQUE INDEX CONCURRENTLY %s ON %s (service)", leftover, partition)); err == nil {
		t.Fatal("the unique index on duplicates was built")
	}
	var invalid bool
	if err := d.Pool.QueryRow(ctx, "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)", leftover).Scan(&invalid); err != nil || !invalid {
		t.Fatalf("no invalid %s to clean up (%v)", leftover, err)
	}
	done, err := db.RebuildSearchIndexes(ctx, d, now, 100)
	if err != nil {
		t.Fatal(err)
	}
	rebuilt := map[string]bool{}
	for _, r := range done {
		rebuilt[r.Index] = true
		if r.After <= 0 {
			t.Errorf("%s: size after %d", r.Index, r.After)
		}
	}
	if !rebuilt[closed] || rebuilt[open] {
		t.Fatalf("rebuilt %v: want %s (closed 3 days ago) and not %s (today)", done, closed, open)
	}
	var gone bool
	if err := d.Pool.QueryRow(ctx, "SELECT to_regclass($1) IS NULL", leftover).Scan(&gone); err != nil || !gone {
		t.Fatalf("%s left behind (%v)", leftover, err)
	}
	var comment *string
	if err := d.Pool.QueryRow(ctx, "SELECT obj_description(to_regclass($1), 'pg_class')", closed).Scan(&comment); err != nil {
		t.Fatal(err)
	}
	if comment == nil || *comment != db.SearchRebuiltComment {
		t.Fatalf("%s not marked rebuilt: %v", closed, comment)
	}
	if again, err := db.RebuildSearchIndexes(ctx, d, now, 100); err != nil || len(again) != 0 {
		t.Fatalf("second run rebuilt %v (%v), want nothing", again, err)
	}
	if n := needles(); n != 1 {
		t.Fatalf("after: %d needles", n)
	}
	// A late log of the closed day goes into the rebuilt index.
	late := fmt.Sprintf(`{"timestamp":%q,"level":"INFO","service":"s","message":"late needle-in-the-haystack"}`, past.Add(time.Second).Format(time.RFC3339Nano))
	if _, err := store.Ingest(ctx, ws.ID, decode(t, model.KindApp, late)); err != nil {
		t.Fatal(err)
	}
	if n := needles(); n != 2 {
		t.Fatalf("after a late log: %d needles", n)
	}
}
