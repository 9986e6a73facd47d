package db

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loggraph/loggraph/model"
)

// TestRollupIsUsed: filters on kept dimensions are counted from log_counts (ok), the
// others and same-day windows fall back to counting rows.
func TestRollupIsUsed(t *testing.T) {
	ctx := context.Background()
	d := openInternal(t)
	ws, err := NewWorkspaceStore(d.Bun).Create(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Seed(ctx, d, NewPartitions(d), ws.ID, SeedOptions{Rows: 3000, Days: 3}); err != nil {
		t.Fatal(err)
	}
	s := NewLogStore(d.Bun)
	day := model.Duration(48 * time.Hour)
	search := "timeout"
	ok := func(kind model.LogKind, f any) bool {
		t.Helper()
		n, used, err := s.countFromRollup(ctx, ws.ID, kind, f)
		if err != nil {
			t.Fatal(err)
		}
		if used {
			rows, err := s.kindQuery(ws.ID, kind, f, nil)
			if err != nil {
				t.Fatal(err)
			}
			var want int
			if err := rows.ColumnExpr("count(*)").Scan(ctx, &want); err != nil {
				t.Fatal(err)
			}
			if n != want || n == 0 {
				t.Fatalf("%s %+v: rollup %d, rows %d", kind, f, n, want)
			}
		}
		return used
	}
	for _, c := range []struct {
		kind model.LogKind
		f    any
		want bool
	}{
		{model.KindApp, (*model.AppLogFilter)(nil), true},
		{model.KindApp, &model.AppLogFilter{Time: &model.TimeRange{Last: &day}, Services: []string{"auth", "search"}}, true},
		{model.KindApp, &model.AppLogFilter{Search: &search}, false},
		{model.KindAction, &model.ActionLogFilter{Time: &model.TimeRange{Last: &day}}, true},
		{model.KindAPIRequest, &model.APIRequestLogFilter{Codes: []int{200}}, false},
		{model.KindAPIRequest, &model.APIRequestLogFilter{Time: &model.TimeRange{Last: &day}}, true},
		{model.KindIntegration, &model.IntegrationLogFilter{}, true},
		{model.KindAPIReference, &model.APIReferenceLogFilter{}, true},
	} {
		t.Run(fmt.Sprint(c.kind), func(t *testing.T) {
			if got := ok(c.kind, c.f); got != c.want {
				t.Errorf("%s %+v: rollup used %v, want %v", c.kind, c.f, got, c.want)
			}
		})
	}
}

// openInternal opens a fresh test database for in-package tests (dbtest imports db,
// so it cannot be used here): a clone of the migrated template through its URL.
func openInternal(t *testing.T) *DB {
	t.Helper()
	u := internalURL(t)
	d, err := Open(context.Background(), u, Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	if _, err := d.MigrateUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d
}

// internalURL creates an empty database for the test and drops it afterwards.
func internalURL(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	admin := os.Getenv("LOGGRAPH_TEST_DATABASE_URL")
	if admin == "" {
		admin = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("tests need PostgreSQL at %s: %v", Redact(admin), err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("lgtest_internal_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, _ := url.Parse(admin)
	u.Path = "/" + name
	return u.String()
}
