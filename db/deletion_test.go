package db_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// rowsOfWorkspace counts, in every table of the schema that has a workspace_id column
// (and workspaces by id), the rows of ws (a partitioned table's count covers its
// partitions): read from information_schema, so that a
// table added later is checked too.
func rowsOfWorkspace(t *testing.T, d *db.DB, ws uuid.UUID) map[string]int {
	t.Helper()
	ctx := context.Background()
	rows, err := d.Pool.Query(ctx, `
		SELECT c.table_name, c.column_name FROM information_schema.columns c
		JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
		  AND (c.column_name = 'workspace_id' OR (c.table_name = 'workspaces' AND c.column_name = 'id'))
		  AND NOT (SELECT relispartition FROM pg_class WHERE oid = to_regclass(quote_ident(c.table_name)))`)
	if err != nil {
		t.Fatal(err)
	}
	type col struct{ table, column string }
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (col, error) {
		var c col
		return c, r.Scan(&c.table, &c.column)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) < 12 {
		t.Fatalf("only %d tables with a workspace: %v", len(cols), cols)
	}
	out := map[string]int{}
	for _, c := range cols {
		var n int
		q := fmt.Sprintf("SELECT count(*) FROM %s WHERE %s = $1", pgx.Identifier{c.table}.Sanitize(), pgx.Identifier{c.column}.Sanitize())
		if err := d.Pool.QueryRow(ctx, q, ws).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			out[c.table] = n
		}
	}
	return out
}

// TestDeleteWorkspace: a workspace delete interrupted after its first batch leaves
// the workspace marked and its tokens revoked; run again it finishes, and then no
// table holds a row of the workspace; the other workspace keeps all its rows and
// exact totals.
func TestDeleteWorkspace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newLifecycleEnv(t, 5, 3000, "doomed", "kept")
	doomed, kept := e.ws["doomed"], e.ws["kept"]
	tokens := db.NewTokenStore(e.d.Bun)
	if _, _, err := tokens.Create(ctx, doomed, "ci", model.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := e.life.SetWorkspaceRetention(ctx, doomed, model.KindApp, intp(30), false); err != nil {
		t.Fatal(err)
	}
	if _, err := db.NewWorkspaceLimitStore(e.d.Bun).Update(ctx, doomed, func(l *model.WorkspaceLimits) { l.RequestsPerSecond = ptr(int64(5)) }); err != nil {
		t.Fatal(err)
	}
	// Both kinds the server counts action ids for and the entity tables have rows.
	before := rowsOfWorkspace(t, e.d, doomed)
	for _, table := range []string{"workspaces", "api_tokens", "app_logs", "action_logs", "log_counts", "integrations", "workspace_retention", "workspace_limits"} {
		if before[table] == 0 {
			t.Fatalf("no %s row to delete: %v", table, before)
		}
	}
	keptRows := rowsOfWorkspace(t, e.d, kept)

	dry, err := e.life.DeleteWorkspace(ctx, doomed, db.DeleteOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if rows, _, _ := dry.Totals(); int(rows) != before["app_logs"]+before["api_request_logs"]+before["integration_logs"]+before["action_logs"]+before["api_reference_logs"] {
		t.Fatalf("dry run counts %d rows: %v", rows, before)
	}

	cctx, cancel := context.WithCancel(ctx)
	_, err = e.life.DeleteWorkspace(cctx, doomed, db.DeleteOptions{BatchSize: 50, AfterBatch: cancel})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted delete: %v", err)
	}
	list, err := e.life.Workspaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Slug != "doomed" || list[0].DeletingSince == nil || list[1].DeletingSince != nil {
		t.Fatalf("workspaces after the interruption: %+v", list)
	}
	// While it is being deleted it takes no new token (nothing new may arrive).
	if _, _, err := tokens.Create(ctx, doomed, "late", model.RoleIngest); !errors.Is(err, db.ErrWorkspaceDeleting) {
		t.Fatalf("a token for a workspace being deleted: %v", err)
	}
	mid := rowsOfWorkspace(t, e.d, doomed)
	if mid["app_logs"] != before["app_logs"]-50 {
		t.Fatalf("after one batch: %d app logs, want %d", mid["app_logs"], before["app_logs"]-50)
	}
	toks, err := tokens.List(ctx, doomed)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range toks {
		if tok.RevokedAt == nil {
			t.Fatalf("token %s not revoked", tok.Name)
		}
	}
	e.checkTotals(t, doomed) // the batch's counts went with it

	// A batch committed after the batched deletes (an ingest in flight when the tokens
	// were revoked) is swept by the final transaction; one arriving after it stores
	// nothing.
	ingest := db.NewIngestStore(e.d, db.NewPartitions(e.d))
	late := func() error {
		line := fmt.Sprintf(`{"timestamp":%q,"level":"INFO","service":"late","message":"in flight"}`, e.now.Add(-time.Hour).Format(time.RFC3339))
		_, err := ingest.Ingest(ctx, doomed, decode(t, model.KindApp, line))
		return err
	}
	rep, err := e.life.DeleteWorkspace(ctx, doomed, db.DeleteOptions{BatchSize: 400, BeforeFinal: func() {
		if err := late(); err != nil {
			t.Errorf("late batch before the final transaction: %v", err)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := late(); !errors.Is(err, db.ErrWorkspaceDeleted) {
		t.Fatalf("a batch for the deleted workspace: %v", err)
	}
	if rows, _, _ := rep.Totals(); int(rows) != before["app_logs"]+before["api_request_logs"]+before["integration_logs"]+before["action_logs"]+before["api_reference_logs"]-50 {
		t.Fatalf("resumed delete: %d rows", rows)
	}
	if left := rowsOfWorkspace(t, e.d, doomed); len(left) != 0 {
		t.Fatalf("rows of the deleted workspace remain: %v", left)
	}
	if after := rowsOfWorkspace(t, e.d, kept); fmt.Sprint(after) != fmt.Sprint(keptRows) {
		t.Fatalf("the other workspace changed: %v, was %v", after, keptRows)
	}
	e.checkTotals(t, kept)
}

// TestDeleteLogsByFilter: deleting by a kind's filter (the reads' filter struct)
// removes exactly the matching rows, as many as the dry run counted, of that
// workspace only, and totals stay exact.
func TestDeleteLogsByFilter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newLifecycleEnv(t, 5, 4000, "acme", "other")
	ws := e.ws["acme"]
	logs := db.NewLogStore(e.d.Bun)
	cases := []struct {
		name   string
		kind   model.LogKind
		filter any
	}{
		{"app by service", model.KindApp, &model.AppLogFilter{Services: []string{"auth"}}},
		{"app by search", model.KindApp, &model.AppLogFilter{Search: ptr("timed out")}},
		{"api requests by code in a window", model.KindAPIRequest, &model.APIRequestLogFilter{Codes: []int{500},
			Time: &model.TimeRange{From: ptr(e.now.Add(-72 * 3600e9)), To: ptr(e.now.Add(-24 * 3600e9))}}},
		{"action by logger", model.KindAction, &model.ActionLogFilter{LoggerNames: []string{"omnishop.payments"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, err := logs.Count(ctx, ws, c.kind, c.filter)
			if err != nil {
				t.Fatal(err)
			}
			if want == 0 {
				t.Fatal("nothing matches: pick a filter the seed fills")
			}
			otherBefore := e.rows(t, e.ws["other"], c.kind, nil)
			allBefore := e.rows(t, ws, c.kind, nil)
			dry, err := e.life.DeleteLogs(ctx, ws, c.kind, c.filter, db.DeleteOptions{DryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.life.DeleteLogs(ctx, ws, c.kind, c.filter, db.DeleteOptions{BatchSize: 33})
			if err != nil {
				t.Fatal(err)
			}
			if dry.Rows != int64(want) || got.Rows != int64(want) || got.Bytes <= 0 {
				t.Fatalf("deleted %d rows, %d bytes (dry run %d), want %d", got.Rows, got.Bytes, dry.Rows, want)
			}
			if n, err := logs.Count(ctx, ws, c.kind, c.filter); err != nil || n != 0 {
				t.Fatalf("%d still match (%v)", n, err)
			}
			if n := e.rows(t, ws, c.kind, nil); n != allBefore-want {
				t.Fatalf("%d rows left, want %d", n, allBefore-want)
			}
			if n := e.rows(t, e.ws["other"], c.kind, nil); n != otherBefore {
				t.Fatalf("other workspace: %d rows, had %d", n, otherBefore)
			}
			e.checkTotals(t, ws)
		})
	}
}

func ptr[T any](v T) *T { return &v }
