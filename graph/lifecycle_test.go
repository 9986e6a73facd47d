package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

// TestWorkspaceRetention: viewer.workspace.retention gives every kind's days and
// whether they are the server default or the workspace's override.
func TestWorkspaceRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := testserver.New(t, rest.Limits{})
	life := db.NewLifecycle(e.DB)
	if err := life.SetDefaultRetention(ctx, model.KindApp, ptr(30)); err != nil {
		t.Fatal(err)
	}
	if err := life.SetWorkspaceRetention(ctx, e.WS, model.KindAPIRequest, ptr(7), false); err != nil {
		t.Fatal(err)
	}
	if err := life.SetWorkspaceRetention(ctx, e.WS, model.KindAction, nil, false); err != nil {
		t.Fatal(err)
	}
	var r reply[json.RawMessage]
	e.GraphQL(e.Tokens[model.RoleRead], `{ viewer { workspace { retention { kind days source } } } }`, nil, &r)
	want := `{"viewer":{"workspace":{"retention":[{"kind":"APP","days":30,"source":"DEFAULT"},{"kind":"API_REQUEST","days":7,"source":"OVERRIDE"},{"kind":"INTEGRATION","days":null,"source":"DEFAULT"},{"kind":"ACTION","days":null,"source":"OVERRIDE"},{"kind":"API_REFERENCE","days":null,"source":"DEFAULT"}]}}}`
	if len(r.Errors) > 0 || string(r.Data) != want {
		t.Fatalf("got %s %+v\nwant %s", r.Data, r.Errors, want)
	}
}

func ptr[T any](v T) *T { return &v }

// TestDeleteLogs: deleteLogs is for admins; a dry run counts what a run then deletes;
// afterwards every kind's totalCount and the generic-logs shim's total equal a fresh
// count, and the metrics count the rows; bad input is BAD_USER_INPUT with its message
// and deletes nothing.
func TestDeleteLogs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := testserver.New(t, rest.Limits{})
	if _, err := db.Seed(ctx, e.DB, db.NewPartitions(e.DB), e.WS, db.SeedOptions{Rows: 3000, Days: 4}); err != nil {
		t.Fatal(err)
	}
	fresh := func(k model.LogKind) int {
		var n int
		if err := e.DB.Pool.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s WHERE workspace_id = $1", k.Table()), e.WS).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := fresh(model.KindApp)
	type result struct {
		DeleteLogs *struct {
			Kind   string
			DryRun bool
			Rows   int
			Bytes  float64
		}
	}
	const mutation = `mutation($in: DeleteLogsInput!) { deleteLogs(input: $in) { kind dryRun rows bytes } }`
	bad := []struct {
		name, token string
		in          map[string]any
		code, msg   string
	}{
		{"read token", e.Tokens[model.RoleRead], map[string]any{"kind": "APP", "app": map[string]any{}, "dryRun": true},
			"FORBIDDEN", "this token's role (read) may not delete logs"},
		{"ingest token", e.Tokens[model.RoleIngest], map[string]any{"kind": "APP", "app": map[string]any{}, "dryRun": false},
			"FORBIDDEN", "this token's role (ingest) may not delete logs"},
		{"no filter", e.Tokens[model.RoleAdmin], map[string]any{"kind": "APP", "dryRun": false},
			"BAD_USER_INPUT", "kind APP takes its filter in `app` ({} matches every APP log)"},
		{"another kind's filter", e.Tokens[model.RoleAdmin], map[string]any{"kind": "APP", "app": map[string]any{}, "action": map[string]any{}, "dryRun": false},
			"BAD_USER_INPUT", "`action` filters ACTION logs, but kind is APP: set only the filter of that kind"},
		{"bad window", e.Tokens[model.RoleAdmin], map[string]any{"kind": "APP", "app": map[string]any{"time": map[string]any{"last": "1h", "from": "2026-01-01T00:00:00Z"}}, "dryRun": false},
			"BAD_USER_INPUT", "time: give either last or from/to, not both"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			var r reply[result]
			e.GraphQL(c.token, mutation, map[string]any{"in": c.in}, &r)
			onlyError(t, r.Errors, c.code, c.msg)
			if r.Data.DeleteLogs != nil {
				t.Fatalf("data with an error: %+v", r.Data.DeleteLogs)
			}
			if n := fresh(model.KindApp); n != before {
				t.Fatalf("%d app logs left of %d", n, before)
			}
		})
	}

	in := map[string]any{"kind": "APP", "app": map[string]any{"services": []string{"auth"}, "minLevel": "WARN"}, "dryRun": true}
	var dry reply[result]
	e.GraphQL(e.Tokens[model.RoleAdmin], mutation, map[string]any{"in": in}, &dry)
	if len(dry.Errors) > 0 || dry.Data.DeleteLogs == nil || dry.Data.DeleteLogs.Rows == 0 || !dry.Data.DeleteLogs.DryRun {
		t.Fatalf("dry run: %+v", dry)
	}
	if n := fresh(model.KindApp); n != before {
		t.Fatalf("the dry run deleted: %d of %d", n, before)
	}
	in["dryRun"] = false
	var run reply[result]
	e.GraphQL(e.Tokens[model.RoleAdmin], mutation, map[string]any{"in": in}, &run)
	if len(run.Errors) > 0 || run.Data.DeleteLogs.Rows != dry.Data.DeleteLogs.Rows || run.Data.DeleteLogs.Bytes <= 0 {
		t.Fatalf("run: %+v, dry run %+v", run, dry)
	}
	if n := fresh(model.KindApp); n != before-run.Data.DeleteLogs.Rows {
		t.Fatalf("%d app logs left, want %d", n, before-run.Data.DeleteLogs.Rows)
	}
	// Totals, as the API counts them, against the rows.
	for _, q := range []struct {
		kind  model.LogKind
		field string
	}{{model.KindApp, "appLogs"}, {model.KindAPIRequest, "apiRequestLogs"}, {model.KindIntegration, "integrationLogs"},
		{model.KindAction, "actionLogs"}, {model.KindAPIReference, "apiReferenceLogs"}} {
		var r reply[map[string]struct{ TotalCount int }]
		e.GraphQL(e.Tokens[model.RoleRead], fmt.Sprintf(`{ %s(first: 1) { totalCount } }`, q.field), nil, &r)
		if len(r.Errors) > 0 || r.Data[q.field].TotalCount != fresh(q.kind) {
			t.Errorf("%s totalCount %d, rows %d (%+v)", q.field, r.Data[q.field].TotalCount, fresh(q.kind), r.Errors)
		}
	}
	resp, body := e.Do(http.MethodGet, "/logs?limit=1", nil, "Authorization", "Bearer "+e.Tokens[model.RoleRead])
	var gl struct {
		Data struct{ Pagination struct{ Total int } }
	}
	if err := json.Unmarshal([]byte(body), &gl); err != nil || resp.StatusCode != http.StatusOK || gl.Data.Pagination.Total != fresh(model.KindApp) {
		t.Fatalf("generic logs total %d, rows %d: %d %s", gl.Data.Pagination.Total, fresh(model.KindApp), resp.StatusCode, body)
	}
	// The server's metrics count what deleteLogs deleted.
	_, metrics := e.Do(http.MethodGet, "/metrics", nil)
	for _, want := range []string{
		fmt.Sprintf(`loggraph_deleted_rows_total{kind="app",reason="filter"} %d`, run.Data.DeleteLogs.Rows),
		fmt.Sprintf(`loggraph_deleted_bytes_total{kind="app",reason="filter"} %g`, run.Data.DeleteLogs.Bytes),
		`loggraph_deleted_rows_total{kind="action",reason="retention"} 0`,
		`loggraph_retention_partitions_dropped_total{kind="app"} 0`,
		"loggraph_retention_last_run_timestamp_seconds 0",
		"loggraph_retention_last_run_success 0",
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
}
