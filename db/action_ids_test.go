package db_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/db/dbtest"
	"github.com/loggraph/loggraph/db/migrations"
	"github.com/loggraph/loggraph/model"
)

// runSQLFile runs one migration file's statements.
func runSQLFile(t *testing.T, d *db.DB, name string) {
	t.Helper()
	b, err := migrations.FS().ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range strings.Split(string(b), "--bun:split") {
		if _, err := d.Pool.Exec(context.Background(), stmt); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

// TestActionIDCountersMigration checks that the migration to per-workspace counters
// starts each workspace's counter past its stored ids, and that its down migration
// puts the global sequence back past every id.
func TestActionIDCountersMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	wss := db.NewWorkspaceStore(d.Bun)
	a, err := wss.Create(ctx, "a", "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := wss.Create(ctx, "b", "")
	if err != nil {
		t.Fatal(err)
	}
	parts := db.NewPartitions(d)
	if err := parts.EnsureAhead(ctx, time.Now(), 1, 1); err != nil {
		t.Fatal(err)
	}
	const down, up = "20261202000001_action_id_counters.tx.down.sql", "20261202000001_action_id_counters.tx.up.sql"
	runSQLFile(t, d, down)
	if _, err := d.Pool.Exec(ctx, `INSERT INTO action_logs (workspace_id, id, created_at, level, logger_name, message, app_name)
		VALUES ($1, 5, now(), 20, 'l', 'm', 'a'), ($1, 900, now(), 20, 'l', 'm', 'a')`, a.ID); err != nil {
		t.Fatal(err)
	}
	runSQLFile(t, d, up)
	var next int64
	if err := d.Pool.QueryRow(ctx, "SELECT next_id FROM action_id_counters WHERE workspace_id = $1", a.ID).Scan(&next); err != nil || next != 901 {
		t.Fatalf("workspace a's counter %d (%v), want 901", next, err)
	}
	store := db.NewIngestStore(d, parts)
	line := `{"level":20,"logger_name":"l","message":"new","app_name":"a"}`
	for _, ws := range []struct {
		name string
		id   [16]byte
		want int64
	}{{"a", a.ID, 901}, {"b", b.ID, 1}} {
		t.Run(ws.name, func(t *testing.T) {
			if _, err := store.Ingest(ctx, ws.id, decode(t, model.KindAction, line)); err != nil {
				t.Fatal(err)
			}
			var id int64
			if err := d.Pool.QueryRow(ctx, "SELECT id FROM action_logs WHERE workspace_id = $1 AND message = 'new'", ws.id).Scan(&id); err != nil || id != ws.want {
				t.Fatalf("workspace %s: server id %d (%v), want %d", ws.name, id, err, ws.want)
			}
		})
	}
	runSQLFile(t, d, down)
	if err := d.Pool.QueryRow(ctx, "SELECT nextval('action_logs_id_seq')").Scan(&next); err != nil || next != 902 {
		t.Fatalf("sequence after down: %d (%v), want 902", next, err)
	}
}
