package db_test

import (
	"context"
	"testing"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// TestReadStorage: rows per workspace and kind are the rows stored, each kind's
// bytes and partitions are its partitions' (heap, TOAST and indexes), and the
// workspaces' shares of a kind's bytes add up to it.
func TestReadStorage(t *testing.T) {
	t.Parallel()
	d, acme, store := newIngestEnv(t)
	ctx := context.Background()
	globex, err := db.NewWorkspaceStore(d.Bun).Create(ctx, "globex", "")
	if err != nil {
		t.Fatal(err)
	}
	appRows(t, store, acme, 300)
	appRows(t, store, globex, 100)
	if _, err := db.Seed(ctx, d, db.NewPartitions(d), globex.ID, db.SeedOptions{Rows: 500, Days: 2}); err != nil {
		t.Fatal(err)
	}
	snap, err := db.ReadStorage(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Kinds) != len(model.AllKinds) {
		t.Fatalf("kinds %v", snap.Kinds)
	}
	for _, ks := range snap.Kinds {
		t.Run(string(ks.Kind), func(t *testing.T) {
			var parts int
			var bytes, rows int64
			if err := d.Pool.QueryRow(ctx, `
				SELECT count(*), sum(pg_total_relation_size(inhrelid))::bigint, (SELECT count(*) FROM `+ks.Kind.Table()+`)
				FROM pg_inherits WHERE inhparent = $1::regclass`, ks.Kind.Table()).Scan(&parts, &bytes, &rows); err != nil {
				t.Fatal(err)
			}
			if ks.Partitions != parts || ks.Bytes != bytes || ks.Rows != rows || rows == 0 {
				t.Fatalf("got %d partitions, %d bytes, %d rows; the catalog says %d, %d, %d", ks.Partitions, ks.Bytes, ks.Rows, parts, bytes, rows)
			}
			var shares int64
			for _, ws := range snap.Workspaces {
				if ws.Kind != ks.Kind {
					continue
				}
				shares += ws.Bytes
				var n int64
				if err := d.Pool.QueryRow(ctx, "SELECT count(*) FROM "+ks.Kind.Table()+" l JOIN workspaces w ON w.id = l.workspace_id WHERE w.slug = $1", ws.Workspace).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if ws.Rows != n {
					t.Errorf("%s: %d rows, stored %d", ws.Workspace, ws.Rows, n)
				}
			}
			if shares > ks.Bytes || shares < ks.Bytes-int64(len(snap.Workspaces)) {
				t.Errorf("workspaces' bytes add up to %d, the kind has %d", shares, ks.Bytes)
			}
		})
	}
	var acmeApp int64
	for _, ws := range snap.Workspaces {
		if ws.Workspace == "acme" && ws.Kind == model.KindApp {
			acmeApp = ws.Rows
		}
		if ws.Workspace == "acme" && ws.Kind != model.KindApp {
			t.Errorf("acme has no %s logs, the snapshot says %d", ws.Kind, ws.Rows)
		}
	}
	if acmeApp != 300 {
		t.Errorf("acme app rows %d, want 300", acmeApp)
	}
}
