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
