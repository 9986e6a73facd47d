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

func decode(t *testing.T, kind model.LogKind, body string) *model.Batch {
	t.Helper()
	b, err := model.DecodeBatch(kind, strings.NewReader(body), time.Now(), model.IngestLimits{})
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return b
}

// newIngestEnv gives a test a fresh database with workspace acme and an ingest store.
func newIngestEnv(t *testing.T) (*db.DB, *model.Workspace, *db.IngestStore) {
	t.Helper()
	d := dbtest.New(t)
	ws, err := db.NewWorkspaceStore(d.Bun).Create(context.Background(), "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	return d, ws, db.NewIngestStore(d, db.NewPartitions(d))
}

func TestIngestEveryKindIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, ws, store := newIngestEnv(t)
	cases := []struct {
		kind  model.LogKind
		body  string
		count string
	}{
		{model.KindApp, `{"id":"0190b4a0-0000-7000-8000-000000000001","timestamp":"2024-03-01T10:00:00Z","level":"ERROR","service":"user-service","message":"boom","details":{"user_id":1}}
{"timestamp":"2025-01-01T00:00:00.123456Z","level":"INFO","service":"s","message":"m"}`, "SELECT count(*) FROM app_logs"},
		{model.KindAPIRequest, `{"id":"0190b4a0-0000-7000-8000-000000000002","received_at":"2024-06-13T14:30:00Z","code":404,"gateway_code":4041,"ip":"10.0.0.1","timing_ms":12,"delay_ms":1,"collection":"orders","collection_type":"proxy","endpoint":"GET /orders","client":"CS team"}`, "SELECT count(*) FROM api_request_logs"},
		{model.KindIntegration, `{"id":"ac8bb58e-2b9b-4ccf-9dd2-ecdf50417849","integration_id":"ff8634a8-a89e-4eac-baab-9b7b8c4f8720","integration_name":"orders hook","job_id":"aa8634a8-a89e-4eac-baab-9b7b8c4f8720","succeeded":true,"attempt":1,"body":"Not Found","status_code":404,"created_at":"2024-06-13T14:30:00Z"}`, "SELECT count(*) FROM integration_logs"},
		{model.KindAction, `{"id":105,"level":40,"logger_name":"l","message":"m","app_name":"oms","trace":"t","created_at":"2023-12-01T08:25:56.088353Z"}
{"level":20,"logger_name":"l","message":"m2","app_name":"oms","created_at":"2023-12-01T08:25:57Z"}`, "SELECT count(*) FROM action_logs"},
		{model.KindAPIReference, `{"logs_id":"33b5c7e-fcbe","api_reference_id":"ref-1","user_id":"u1","user_name":"Peter","title":"Import successful","modified_at":"2024-06-13T14:30:00Z","error_count":1,"alerts_count":0,"errors":[{"message":"bad","pointer":"/paths"}]}`, "SELECT count(*) FROM api_reference_logs"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.kind), func(t *testing.T) {
			res, err := store.Ingest(ctx, ws.ID, decode(t, c.kind, c.body))
			if err != nil {
				t.Fatalf("%s: %v", c.kind, err)
			}
			n := strings.Count(c.body, "\n") + 1
			if res.Accepted != n || res.Duplicates != 0 {
				t.Fatalf("%s: got %+v, want %d accepted", c.kind, res, n)
			}
			// A retry of the same bytes stores nothing twice: records without an id get
			// new ones, so only the ones with ids are duplicates.
			res, err = store.Ingest(ctx, ws.ID, decode(t, c.kind, strings.Split(c.body, "\n")[0]))
			if err != nil {
				t.Fatalf("%s retry: %v", c.kind, err)
			}
			if res.Accepted != 0 || res.Duplicates != 1 {
				t.Fatalf("%s retry: got %+v, want 1 duplicate", c.kind, res)
			}
			var count int
			if err := d.Pool.QueryRow(ctx, c.count).Scan(&count); err != nil {
				t.Fatal(err)
			}
			if count != n {
				t.Fatalf("%s: %d rows stored, want %d", c.kind, count, n)
			}
		})
	}
	var seq int64
	if err := d.Pool.QueryRow(ctx, "SELECT id FROM action_logs WHERE message = 'm2'").Scan(&seq); err != nil {
		t.Fatal(err)
	}
	if seq != 106 {
		t.Fatalf("server action id %d, want 106: the workspace's counter moved past the client's 105", seq)
	}
}

// TestIngestActionIDRace: a batch that meets an action id held by a concurrent,
// uncommitted batch waits for it; when that batch committed the same record (same id
// and time), the waiting batch counts it as a duplicate, and when it committed the id
// with another time, the waiting batch is refused naming the line.
func TestIngestActionIDRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, ws, store := newIngestEnv(t)
	parts := db.NewPartitions(d)
	at := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	if err := parts.Ensure(ctx, model.KindAction, []time.Time{at}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		id      int64
		heldAt  time.Time
		wantErr string
	}{
		{"same record", 7, at, ""},
		{"another time", 8, at.Add(time.Second), `batch rejected: 1 bad record(s); first at line 1: field "id": id 8 is already stored with another created_at; an action log id names one log`},
	} {
		t.Run(c.name, func(t *testing.T) {
			tx, err := d.Pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx) //nolint:errcheck // committed below
			if _, err := tx.Exec(ctx, `INSERT INTO action_log_ids (workspace_id, id) VALUES ($1, $2)`, ws.ID, c.id); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO action_logs (workspace_id, id, created_at, level, logger_name, message, app_name)
				VALUES ($1, $2, $3, 20, 'l', 'm', 'oms')`, ws.ID, c.id, c.heldAt); err != nil {
				t.Fatal(err)
			}
			type result struct {
				res db.IngestResult
				err error
			}
			done := make(chan result, 1)
			line := fmt.Sprintf(`{"id":%d,"level":20,"logger_name":"l","message":"m","app_name":"oms","created_at":%q}`, c.id, at.Format(time.RFC3339Nano))
			batch := decode(t, model.KindAction, line)
			go func() {
				res, err := store.Ingest(ctx, ws.ID, batch)
				done <- result{res, err}
			}()
			// The batch waits on the held id's key: wait until PostgreSQL says so.
			for waiting := 0; waiting == 0; {
				if err := d.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
					WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			r := <-done
			switch {
			case c.wantErr == "" && (r.err != nil || r.res != db.IngestResult{Duplicates: 1}):
				t.Fatalf("got %+v, %v; want one duplicate", r.res, r.err)
			case c.wantErr != "" && (r.err == nil || r.err.Error() != c.wantErr):
				t.Fatalf("got %+v, %v; want %s", r.res, r.err, c.wantErr)
			}
			var n int
			if err := d.Pool.QueryRow(ctx, `SELECT count(*) FROM action_logs WHERE workspace_id = $1 AND id = $2`, ws.ID, c.id).Scan(&n); err != nil || n != 1 {
				t.Fatalf("%d rows of id %d (%v), want 1", n, c.id, err)
			}
		})
	}
}
