package db_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/db/dbtest"
	"github.com/loggraph/loggraph/model"
)

// TestNestedPagesStayPrepared checks that the nested pages (jobs of integrations,
// logs of jobs) and the belongs-to loads are one prepared statement each, whatever
// the parents (their values are parameters), so that their plans can be reused;
// bun's own statements have their values in the text, so each list filter is a
// statement of its own. With one read connection, pg_prepared_statements shows that
// connection's statements.
func TestNestedPagesStayPrepared(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewURL(t)
	seeder := dbtest.Open(t, url, db.Options{})
	ws, err := db.NewWorkspaceStore(seeder.Bun).Create(ctx, "prepared", "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 15, 4, 5, 0, time.UTC)
	if _, err := db.Seed(ctx, seeder, db.NewPartitions(seeder.IngestDB()), ws.ID, db.SeedOptions{Rows: 2000, Days: 2, Now: now}); err != nil {
		t.Fatal(err)
	}
	d := dbtest.Open(t, url, db.Options{MaxConns: 1})
	logs, entities := db.NewLogStore(d.Bun), db.NewEntityStore(d.Bun)
	integrations, _, err := entities.ListIntegrations(ctx, ws.ID, model.Page{Limit: 20})
	if err != nil || len(integrations) < 4 {
		t.Fatalf("integrations: %d, %v", len(integrations), err)
	}
	ids := make([]uuid.UUID, len(integrations))
	for i, in := range integrations {
		ids[i] = in.ID
	}
	page := model.Page{Limit: 5}
	var jobIDs []uuid.UUID
	// Different parents each time: the same statements.
	for i := range 4 {
		parents := ids[i : i+len(ids)-3]
		jobs, err := entities.JobsOfIntegrations(ctx, ws.ID, parents, page)
		if err != nil {
			t.Fatal(err)
		}
		jobIDs = jobIDs[:0]
		for _, pg := range jobs {
			for _, j := range pg.Rows {
				jobIDs = append(jobIDs, j.ID)
			}
		}
		if len(jobIDs) == 0 {
			t.Fatal("no jobs")
		}
		if _, err := db.ChildPages(ctx, logs, ws.ID, "job_id", jobIDs, (*model.IntegrationLogFilter)(nil), page,
			func(l *model.IntegrationLog) uuid.UUID { return *l.JobID }); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ByID(ctx, entities, ws.ID, parents, func(in *model.Integration) uuid.UUID { return in.ID }); err != nil {
			t.Fatal(err)
		}
		var rows []*model.AppLog
		if _, err := logs.List(ctx, ws.ID, model.KindApp, &model.AppLogFilter{Services: []string{"svc-" + string(rune('a'+i))}}, page, &rows); err != nil {
			t.Fatal(err)
		}
	}
	// A filtered page writes the filter's values into its text: it is not prepared.
	if _, err := db.ChildPages(ctx, logs, ws.ID, "job_id", jobIDs, &model.IntegrationLogFilter{StatusCodes: []int{500}}, page,
		func(l *model.IntegrationLog) uuid.UUID { return *l.JobID }); err != nil {
		t.Fatal(err)
	}

	var got []struct {
		Statement string `bun:"statement"`
		Calls     int    `bun:"calls"`
	}
	// pg_prepared_statements has no call count; the statement's text tells which it is.
	if err := d.Bun.NewRaw(`SELECT statement, 0 AS calls FROM pg_prepared_statements ORDER BY prepare_time`).Scan(ctx, &got); err != nil {
		t.Fatal(err)
	}
	var jobs, childLogs, filtered, byID, lists int
	for _, g := range got {
		switch {
		case strings.Contains(g.Statement, "integration_jobs AS j") && !strings.Contains(g.Statement, `"integration_logs" AS t`):
			jobs++
		case strings.Contains(g.Statement, `"integration_logs" AS t`) && strings.Contains(g.Statement, "status_code"):
			filtered++
		case strings.Contains(g.Statement, `"integration_logs" AS t`) && strings.Contains(g.Statement, "LATERAL"):
			childLogs++
		case strings.Contains(g.Statement, "= ANY($2::uuid[])"):
			byID++
		case strings.Contains(g.Statement, `"app_logs" AS t`):
			lists++
		}
	}
	if jobs != 1 || childLogs != 1 || byID != 1 || filtered != 1 {
		t.Errorf("prepared statements: %d jobs, %d child logs, %d filtered child logs, %d by id; want one each (all: %+v)",
			jobs, childLogs, filtered, byID, got)
	}
	if lists != 4 {
		t.Errorf("%d list statements prepared, want one per filter (4)", lists)
	}
}
