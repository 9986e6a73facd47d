package rest_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/db/dbtest"
	"github.com/loggraph/loggraph/graph"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

// testEnv is a real server over a fresh database with one workspace and a token of
// each role.
type testEnv struct {
	t      *testing.T
	srv    *httptest.Server
	db     *db.DB
	ws     uuid.UUID
	tokens map[model.Role]string
	store  *db.TokenStore
}

func newTestEnv(t *testing.T, limits rest.Limits) *testEnv {
	t.Helper()
	ctx := context.Background()
	d := dbtest.New(t)
	ws, err := db.NewWorkspaceStore(d.Bun).Create(ctx, "acme", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tokens := db.NewTokenStore(d.Bun)
	parts := db.NewPartitions(d)
	ingest := db.NewIngestStore(d, parts)
	metrics := rest.NewMetrics(d.Pool)
	resolver := &graph.Resolver{Ingest: ingest, Tokens: tokens, Log: log, IngestLimits: limits.Ingest, OnIngest: metrics.Ingested}
	h := rest.NewRouter(rest.Deps{DB: d, Tokens: tokens, Ingest: ingest, Metrics: metrics, Log: log, Limits: limits,
		GraphQL: graph.NewHandler(graph.Config{Resolver: resolver, Log: log}), Playground: graph.PlaygroundHandler()})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &testEnv{t: t, srv: srv, db: d, ws: ws.ID, tokens: map[model.Role]string{}, store: tokens}
	for _, r := range []model.Role{model.RoleRead, model.RoleIngest, model.RoleAdmin} {
		_, text, err := tokens.Create(ctx, ws.ID, string(r), r)
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[r] = text
	}
	return e
}

// do sends a request; headers are name, value pairs.
func (e *testEnv) do(method, path string, body io.Reader, headers ...string) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, string(b)
}

func (e *testEnv) ingest(kind, token, body string, headers ...string) (*http.Response, string) {
	e.t.Helper()
	if token != "" {
		headers = append(headers, "Authorization", "Bearer "+token)
	}
	return e.do(http.MethodPost, "/v1/ingest/"+kind, strings.NewReader(body), headers...)
}

// count returns the rows of a table in the test's workspace.
func (e *testEnv) count(table string) int {
	e.t.Helper()
	var n int
	if err := e.db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table+" WHERE workspace_id = $1", e.ws).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *testEnv) countAll() int {
	n := 0
	for _, k := range model.AllKinds {
		n += e.count(k.Table())
	}
	return n
}
