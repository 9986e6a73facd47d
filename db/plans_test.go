package db_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/db/dbtest"
	"github.com/loggraph/loggraph/model"
)

// statement is one statement a store sent: its text and pgx's arguments (options
// first), which pgx takes again for the EXPLAIN.
type statement struct {
	sql  string
	args []any
}

// statementCapture keeps the statements the stores send while run runs
// (db.Options.OnStatement).
type statementCapture struct {
	mu    sync.Mutex
	on    bool
	stmts []statement
}

func (c *statementCapture) add(sql string, args []any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.on {
		c.stmts = append(c.stmts, statement{sql: sql, args: args})
	}
}

// run returns the statements f sent.
func (c *statementCapture) run(t *testing.T, f func(context.Context) error) []statement {
	t.Helper()
	c.mu.Lock()
	c.stmts, c.on = nil, true
	c.mu.Unlock()
	err := f(context.Background())
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = false
	if err != nil {
		t.Fatal(err)
	}
	if len(c.stmts) == 0 {
		t.Fatal("no statement sent")
	}
	return slices.Clone(c.stmts)
}

// planScan is a node of a plan that reads a table or an index. Partitions and
// their indexes are named by their partitioned parents; table is the index's
// table for a Bitmap Index Scan.
type planScan struct {
	node, table, index string
}

func (s planScan) String() string { return fmt.Sprintf("%s on %s using %q", s.node, s.table, s.index) }

var errRollback = errors.New("rolled back")

// inRolledBack runs setup, then f, in a transaction that is rolled back.
func inRolledBack(t *testing.T, d *db.DB, setup []string, f func(ctx context.Context, tx pgx.Tx) error) {
	t.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
		for _, q := range setup {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		if err := f(ctx, tx); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
}

// explainScans returns the scans of stmt's plan (EXPLAIN, the statement is not
// run). setup runs first in the same transaction, which is rolled back.
func explainScans(t *testing.T, d *db.DB, stmt statement, setup ...string) []planScan {
	t.Helper()
	var scans []planScan
	inRolledBack(t, d, setup, func(ctx context.Context, tx pgx.Tx) error {
		var plan []map[string]any
		if err := tx.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+stmt.sql, stmt.args...).Scan(&plan); err != nil {
			return fmt.Errorf("explain %s: %w", stmt.sql, err)
		}
		var walk func(n map[string]any)
		walk = func(n map[string]any) {
			rel, _ := n["Relation Name"].(string)
			idx, _ := n["Index Name"].(string)
			if rel != "" || idx != "" {
				scans = append(scans, planScan{node: n["Node Type"].(string), table: rel, index: idx})
			}
			children, _ := n["Plans"].([]any)
			for _, c := range children {
				walk(c.(map[string]any))
			}
		}
		walk(plan[0]["Plan"].(map[string]any))
		for i := range scans {
			s := &scans[i]
			if s.index != "" {
				if err := tx.QueryRow(ctx, `SELECT coalesce(pg_partition_root($1::regclass), $1::regclass)::text,
					(SELECT coalesce(pg_partition_root(indrelid), indrelid)::text FROM pg_index WHERE indexrelid = $1::regclass)`,
					s.index).Scan(&s.index, &s.table); err != nil {
					return fmt.Errorf("index %s: %w", s.index, err)
				}
				continue
			}
			if err := tx.QueryRow(ctx, "SELECT coalesce(pg_partition_root($1::regclass), $1::regclass)::text", s.table).Scan(&s.table); err != nil {
				return fmt.Errorf("table %s: %w", s.table, err)
			}
		}
		return nil
	})
	return scans
}

// explainText is stmt's plan as EXPLAIN prints it, with the statement. setup runs
// first in the same transaction, which is rolled back.
func explainText(t *testing.T, d *db.DB, stmt statement, setup ...string) string {
	t.Helper()
	var lines []string
	inRolledBack(t, d, setup, func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "EXPLAIN "+stmt.sql, stmt.args...)
		if err != nil {
			return err
		}
		lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	return fmt.Sprintf("in the plan of %s (arguments %v, after %v)\n%s", stmt.sql, stmt.args, setup, strings.Join(lines, "\n"))
}

// indexedTables are the tables whose reads must go through an index: the log
// tables (a scan of a partition reads a whole day, or month) and integration_jobs.
var indexedTables = append(kindTables(), "integration_jobs")

func kindTables() []string {
	var out []string
	for _, k := range model.AllKinds {
		out = append(out, k.Table())
	}
	return out
}

// planProblems checks scans against want (table: the indexes it may be read
// through; an empty list for a table outside indexedTables: any access): each
// table of want is read, every read of an indexedTables table is an index scan on
// one of its wanted indexes, and no other indexedTables table is read.
func planProblems(scans []planScan, want map[string][]string) []string {
	var out []string
	read := map[string]bool{}
	for _, s := range scans {
		read[s.table] = true
		if !slices.Contains(indexedTables, s.table) {
			continue
		}
		idx, ok := want[s.table]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%v: the statement should not read %s", s, s.table))
		case s.node == "Bitmap Heap Scan": // its Bitmap Index Scan names the index
		case !slices.Contains([]string{"Index Scan", "Index Only Scan", "Bitmap Index Scan"}, s.node):
			out = append(out, fmt.Sprintf("%v, want an index scan using %v", s, idx))
		case !slices.Contains(idx, s.index):
			out = append(out, fmt.Sprintf("%v, want one of %v", s, idx))
		}
	}
	for _, table := range slices.Sorted(maps.Keys(want)) {
		if !read[table] {
			out = append(out, fmt.Sprintf("%s is not read", table))
		}
	}
	return out
}

// TestPlansUseIndexes: on a freshly seeded and vacuumed database, the statements the
// stores send for the root lists, the nested child pages and counts (what
// graph/loader batches), the counts of a filter (from log_counts, and from the
// rows), searches and a log by id read the log tables and integration_jobs through the indexes
// meant for them. The statements are captured from the stores, so a change of their
// SQL that loses an index fails here. Each case also drops its indexes (in a
// rolled-back transaction) to show that the check then fails.
//
// The filters are selective, as the indexes are meant for: a count over a large
// share of a partition (every integration's logs, the rows of today for a column no
// index leads with) is rightly a sequential scan and is not checked here.
func TestPlansUseIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	capture := new(statementCapture)
	d := dbtest.Open(t, dbtest.NewURL(t), db.Options{OnStatement: capture.add})
	ws, err := db.NewWorkspaceStore(d.Bun).Create(ctx, "plans", "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 15, 4, 5, 0, time.UTC)
	// Daily partitions over the five days, with the partition policy's clock at now.
	parts := db.NewPartitionsWith(d, db.PartitionOptions{Now: func() time.Time { return now }})
	if _, err := db.Seed(ctx, d, parts, ws.ID, db.SeedOptions{Rows: 100_000, Days: 4, Now: now}); err != nil {
		t.Fatal(err)
	}
	// As autovacuum leaves them: the trigram indexes' pending lists merged.
	if err := db.VacuumLogTables(ctx, d); err != nil {
		t.Fatal(err)
	}
	logs, ents := db.NewLogStore(d.Bun), db.NewEntityStore(d.Bun)

	// Parents as a page of the loaders has them: the first 20 integrations (as q3 of
	// bench/compare asks for them), 100 jobs, 20 of the other parents.
	var integrations, jobs, byJobs []uuid.UUID
	var collections, clients []int64
	var refs []string
	var service, appName, endpoint string
	// Rare search terms: an order number of one app log and of one action log.
	var appOrder, actionOrder string
	// One log's id of each kind with a uuid id.
	var appID, requestID, integrationLogID string
	for _, q := range []struct {
		sql  string
		dest any
	}{
		{"SELECT array_agg(id) FROM (SELECT id FROM integrations WHERE workspace_id = $1 ORDER BY created_at DESC, id DESC LIMIT 20) x", &integrations},
		{"SELECT array_agg(id) FROM (SELECT id FROM integration_jobs WHERE workspace_id = $1 ORDER BY created_at DESC, id DESC LIMIT 100) x", &jobs},
		// The seed's integrations are skewed (the busiest has a fifth of the jobs,
		// whose count is rightly a sequential scan): fewest jobs first.
		{"SELECT array_agg(integration_id ORDER BY n, integration_id) FROM (SELECT integration_id, count(*) AS n FROM integration_jobs WHERE workspace_id = $1 GROUP BY 1) x", &byJobs},
		{"SELECT array_agg(id) FROM (SELECT id FROM api_collections WHERE workspace_id = $1 ORDER BY name LIMIT 20) x", &collections},
		{"SELECT array_agg(id) FROM (SELECT id FROM api_clients WHERE workspace_id = $1 ORDER BY name LIMIT 20) x", &clients},
		{"SELECT array_agg(id) FROM (SELECT id FROM api_references WHERE workspace_id = $1 ORDER BY id LIMIT 20) x", &refs},
		// Filters on the most frequent values: the list's index walk meets a page of
		// them soon (a rare one is found faster by reading the window's rows).
		{"SELECT mode() WITHIN GROUP (ORDER BY service) FROM app_logs WHERE workspace_id = $1", &service},
		{"SELECT mode() WITHIN GROUP (ORDER BY app_name) FROM action_logs WHERE workspace_id = $1", &appName},
		{"SELECT mode() WITHIN GROUP (ORDER BY endpoint) FROM api_request_logs WHERE workspace_id = $1", &endpoint},
		{"SELECT substring(message FROM 'order ([0-9]{7})') FROM app_logs WHERE workspace_id = $1 AND message ~ 'order [0-9]{7}' LIMIT 1", &appOrder},
		{"SELECT substring(message FROM '^Order ([0-9]{6}) ') FROM action_logs WHERE workspace_id = $1 AND message ~ '^Order [0-9]{6} ' LIMIT 1", &actionOrder},
		{"SELECT id::text FROM app_logs WHERE workspace_id = $1 LIMIT 1", &appID},
		{"SELECT id::text FROM api_request_logs WHERE workspace_id = $1 LIMIT 1", &requestID},
		{"SELECT id::text FROM integration_logs WHERE workspace_id = $1 LIMIT 1", &integrationLogID},
	} {
		if err := d.Pool.QueryRow(ctx, q.sql, ws.ID).Scan(q.dest); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	from, to := now.Add(-24*time.Hour), now
	day := &model.TimeRange{From: &from, To: &to}
	hourFrom, hourTo := now.Add(-2*time.Hour), now.Add(-time.Hour)
	hour := &model.TimeRange{From: &hourFrom, To: &hourTo}
	// Whole days from log_counts, the partial hour at each end from the rows.
	daysFrom, daysTo := time.Date(2026, 11, 20, 23, 0, 0, 0, time.UTC), time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)
	days := &model.TimeRange{From: &daysFrom, To: &daysTo}
	page, child := model.Page{Limit: 50}, model.Page{Limit: 5}

	list := func(kind model.LogKind, filter any) func(context.Context) error {
		return func(ctx context.Context) error {
			_, _, err := logs.ListLogs(ctx, ws.ID, kind, filter, page)
			return err
		}
	}
	count := func(kind model.LogKind, filter any) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := logs.Count(ctx, ws.ID, kind, filter)
			return err
		}
	}
	listIdx := func(k model.LogKind, more ...string) map[string][]string {
		return map[string][]string{k.Table(): append([]string{k.Table() + "_list_idx"}, more...)}
	}
	rollup := func(m map[string][]string) map[string][]string {
		m["log_counts"] = nil
		return m
	}
	type planCase struct {
		name string
		run  func(context.Context) error
		want map[string][]string
	}
	cases := []planCase{
		{"list app by service", list(model.KindApp, &model.AppLogFilter{Time: day, Services: []string{service}}), listIdx(model.KindApp)},
		{"list api requests by endpoint", list(model.KindAPIRequest, &model.APIRequestLogFilter{Time: day, Endpoints: []string{endpoint}}),
			listIdx(model.KindAPIRequest)},
		{"list integration logs by integration", list(model.KindIntegration,
			&model.IntegrationLogFilter{Time: day, IntegrationIDs: []string{integrations[0].String()}}),
			listIdx(model.KindIntegration, "integration_logs_integration_idx")},
		{"list action logs by app", list(model.KindAction, &model.ActionLogFilter{Time: day, AppNames: []string{appName}}), listIdx(model.KindAction)},
		{"list api reference logs by reference", list(model.KindAPIReference,
			&model.APIReferenceLogFilter{Time: day, APIReferenceIDs: []string{refs[0]}}),
			listIdx(model.KindAPIReference, "api_reference_logs_reference_idx")},
		{"jobs of integrations", func(ctx context.Context) error {
			_, err := ents.JobsOfIntegrations(ctx, ws.ID, integrations, child)
			return err
		}, map[string][]string{"integration_jobs": {"integration_jobs_integration_idx"}}},
		{"action logs by descending id, deep offset page (shim 004)", func(ctx context.Context) error {
			var rows []*model.ActionLog
			_, err := logs.List(ctx, ws.ID, model.KindAction, &model.ActionLogFilter{}, model.Page{Limit: 10, Offset: 200, ByID: true}, &rows)
			return err
		}, map[string][]string{"action_logs": {"action_logs_id_idx"}}},
		{"jobs of one integration, one-delivery jobs included (shim 001)", func(ctx context.Context) error {
			// The integration with the fewest jobs: the listing is unpaged, so for one
			// holding most of a small table's jobs a sequential scan is the right plan.
			_, err := ents.JobsOfIntegration(ctx, ws.ID, byJobs[0])
			return err
		}, map[string][]string{"integration_jobs": {"integration_jobs_integration_idx"},
			"integration_logs": {"integration_logs_no_job_idx"}}},
		{"job counts", func(ctx context.Context) error {
			_, err := ents.JobCounts(ctx, ws.ID, byJobs[:2])
			return err
		}, map[string][]string{"integration_jobs": {"integration_jobs_integration_idx"}}},
		{"logs of jobs", func(ctx context.Context) error {
			_, err := db.ChildPages(ctx, logs, ws.ID, "job_id", jobs, (*model.IntegrationLogFilter)(nil), child,
				func(l *model.IntegrationLog) uuid.UUID { return *l.JobID })
			return err
		}, map[string][]string{"integration_logs": {"integration_logs_job_idx"}, "integration_jobs": {"integration_jobs_pkey"}}},
		{"logs of integrations", func(ctx context.Context) error {
			_, err := db.ChildPages(ctx, logs, ws.ID, "integration_id", integrations, (*model.IntegrationLogFilter)(nil), child,
				func(l *model.IntegrationLog) uuid.UUID { return l.IntegrationID })
			return err
		}, map[string][]string{"integration_logs": {"integration_logs_integration_idx"}}},
		{"logs of collections", func(ctx context.Context) error {
			_, err := db.ChildPages(ctx, logs, ws.ID, "collection_id", collections, (*model.APIRequestLogFilter)(nil), child,
				func(l *model.APIRequestLog) int64 { return l.CollectionID })
			return err
		}, map[string][]string{"api_request_logs": {"api_request_logs_collection_idx"}}},
		{"logs of clients", func(ctx context.Context) error {
			_, err := db.ChildPages(ctx, logs, ws.ID, "client_id", clients, (*model.APIRequestLogFilter)(nil), child,
				func(l *model.APIRequestLog) int64 { return *l.ClientID })
			return err
		}, map[string][]string{"api_request_logs": {"api_request_logs_client_idx"}}},
		{"logs of api references", func(ctx context.Context) error {
			_, err := db.ChildPages(ctx, logs, ws.ID, "api_reference_id", refs, (*model.APIReferenceLogFilter)(nil), child,
				func(l *model.APIReferenceLog) string { return l.APIReferenceID })
			return err
		}, map[string][]string{"api_reference_logs": {"api_reference_logs_reference_idx"}}},
		{"log counts of jobs", func(ctx context.Context) error {
			_, err := logs.ChildCounts(ctx, ws.ID, model.KindIntegration, "job_id", jobs[:10], (*model.IntegrationLogFilter)(nil))
			return err
		}, map[string][]string{"integration_logs": {"integration_logs_job_idx"}}},
		{"count app logs by service from log_counts", count(model.KindApp, &model.AppLogFilter{Time: days, Services: []string{service}}),
			rollup(listIdx(model.KindApp))},
		{"count api requests by endpoint from the rows", count(model.KindAPIRequest, &model.APIRequestLogFilter{Time: hour, Endpoints: []string{endpoint}}),
			listIdx(model.KindAPIRequest)},
		{"count integration logs of a job from the rows", count(model.KindIntegration, &model.IntegrationLogFilter{JobIDs: []string{jobs[0].String()}}),
			map[string][]string{"integration_logs": {"integration_logs_job_idx"}}},
	}
	// search: a rare term (an order number) and an absent one are found through the
	// trigram index, for the first page and for its count, not by walking the list
	// index over the workspace's whole time range. The action logs' day partitions
	// are small here (at most 3,000 rows), so small that reading one whole (or all its
	// rows through any index) costs less than the trigram index's entry pages: for
	// them, sequential scans are off and the check is that the trigram index, not the
	// list or id index, serves the search (at bench storage's 15,000 action logs a
	// day the planner takes it by itself, BENCHMARKS.md, Storage).
	trgm := func(k model.LogKind) map[string][]string {
		return map[string][]string{k.Table(): {k.Table() + "_message_trgm_idx"}}
	}
	for _, term := range []string{appOrder, "no-such-text"} {
		f := &model.AppLogFilter{Search: &term}
		cases = append(cases,
			planCase{"search app logs for " + term, list(model.KindApp, f), trgm(model.KindApp)},
			planCase{"count app logs matching " + term, count(model.KindApp, f), trgm(model.KindApp)})
	}
	seqOff := map[string][]string{} // case name: what runs before its EXPLAIN
	action := &model.ActionLogFilter{Search: &actionOrder}
	for _, c := range []planCase{
		{"search action logs for " + actionOrder, list(model.KindAction, action), trgm(model.KindAction)},
		{"count action logs matching " + actionOrder, count(model.KindAction, action), trgm(model.KindAction)},
	} {
		seqOff[c.name] = []string{"SET LOCAL enable_seqscan = off"}
		cases = append(cases, c)
	}
	// A log by its id (log(kind, id), a log's context), through the id index.
	for k, id := range map[model.LogKind]string{model.KindApp: appID, model.KindAPIRequest: requestID, model.KindIntegration: integrationLogID} {
		cases = append(cases, planCase{"log by id, " + string(k), func(ctx context.Context) error {
			_, err := logs.LogByID(ctx, ws.ID, k, id)
			return err
		}, map[string][]string{k.Table(): {k.Table() + "_id_idx"}}})
	}
	noFilter := map[model.LogKind]any{
		model.KindApp: (*model.AppLogFilter)(nil), model.KindAPIRequest: (*model.APIRequestLogFilter)(nil),
		model.KindIntegration: (*model.IntegrationLogFilter)(nil), model.KindAction: (*model.ActionLogFilter)(nil),
		model.KindAPIReference: (*model.APIReferenceLogFilter)(nil),
	}
	for _, k := range model.AllKinds {
		none := noFilter[k]
		cases = append(cases,
			planCase{"list " + string(k), list(k, none), listIdx(k)},
			planCase{"count " + string(k) + " from log_counts", count(k, none), map[string][]string{"log_counts": nil}})
	}
	// The jobs' creation times bound their logs (partitions before a job are pruned at
	// run time): read by primary key, which a test's few hundred jobs would rather
	// scan.
	seqOff["logs of jobs"] = []string{"SET LOCAL enable_seqscan = off"}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			setup := seqOff[c.name]
			for _, stmt := range capture.run(t, c.run) {
				scans := explainScans(t, d, stmt, setup...)
				if problems := planProblems(scans, c.want); len(problems) > 0 {
					t.Errorf("%s\n%s", strings.Join(problems, "\n"), explainText(t, d, stmt, setup...))
				}
				// Without the indexes, the check fails.
				drop := slices.Clone(setup)
				for table, idx := range c.want {
					if slices.Contains(indexedTables, table) {
						for _, i := range idx {
							if strings.HasSuffix(i, "_pkey") {
								continue // a primary key's index cannot be dropped; the case's other index shows the check works
							}
							drop = append(drop, "DROP INDEX "+pgx.Identifier{i}.Sanitize())
						}
					}
				}
				if len(drop) > len(setup) && len(planProblems(explainScans(t, d, stmt, drop...), c.want)) == 0 {
					t.Errorf("without %v, the plan still passes the check: %v", drop, explainScans(t, d, stmt, drop...))
				}
			}
		})
	}
}
