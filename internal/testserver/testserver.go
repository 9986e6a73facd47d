// Package testserver runs the whole HTTP surface over a fresh test database, with one
// workspace and a token of each role, for tests of every package.
package testserver

import (
	"bytes"
	"context"
	"encoding/json"
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

// Env is a real server over a fresh database with one workspace and a token of
// each role.
type Env struct {
	t      testing.TB
	Srv    *httptest.Server
	DB     *db.DB
	WS     uuid.UUID
	Tokens map[model.Role]string
	Store  *db.TokenStore
	// Tail is the server's live tail hub.
	Tail *db.TailHub
	// Revocations is the server's registry of websockets by token.
	Revocations *graph.Revocations
}

// New starts a server with the given limits.
func New(t testing.TB, limits rest.Limits) *Env {
	t.Helper()
	return NewWith(t, limits, nil)
}

// NewWith starts a server like New; configure (if not nil) may first change the
// GraphQL endpoint's configuration: its limits, its logger, the resolver's hooks.
func NewWith(t testing.TB, limits rest.Limits, configure func(*graph.Config)) *Env {
	t.Helper()
	ctx := context.Background()
	d := dbtest.New(t)
	ws, err := db.NewWorkspaceStore(d.Bun).Create(ctx, "acme", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, d, ws.ID, limits, configure)
	for _, r := range []model.Role{model.RoleRead, model.RoleIngest, model.RoleAdmin} {
		_, text, err := e.Store.Create(ctx, ws.ID, string(r), r)
		if err != nil {
			t.Fatal(err)
		}
		e.Tokens[r] = text
	}
	return e
}

// Peer starts a second server over e's database (as two servers behind one load
// balancer): same workspace and tokens, its own tail hub and revocation listener.
func (e *Env) Peer(t testing.TB, limits rest.Limits, configure func(*graph.Config)) *Env {
	t.Helper()
	p := start(t, e.DB, e.WS, limits, configure)
	p.Tokens = e.Tokens
	return p
}

// start wires a server over d as serve does.
func start(t testing.TB, d *db.DB, ws uuid.UUID, limits rest.Limits, configure func(*graph.Config)) *Env {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tokens := db.NewTokenStore(d.Bun)
	parts := db.NewPartitions(d)
	ingest := db.NewIngestStore(d, parts)
	metrics := rest.NewMetrics(d.Pool)
	// The live tail hub, as serve starts one per server; stopped before the database closes.
	tail := db.NewTailHub(d, log, db.TailOptions{})
	t.Cleanup(tail.Start(context.Background()))
	resolver := &graph.Resolver{Ingest: ingest, Tokens: tokens, Log: log, IngestLimits: limits.Ingest, OnIngest: metrics.Ingested,
		LogStore: db.NewLogStore(d.Bun), EntityStore: db.NewEntityStore(d.Bun), Tail: tail}
	gcfg := graph.Config{Resolver: resolver, Log: log, Revocations: graph.NewRevocations(tokens, log, graph.RevocationOptions{})}
	if configure != nil {
		configure(&gcfg)
	}
	if gcfg.Revocations != nil {
		t.Cleanup(gcfg.Revocations.Start(context.Background(), d))
	}
	h := rest.NewRouter(rest.Deps{DB: d, Tokens: tokens, Ingest: ingest, Metrics: metrics, Log: log, Limits: limits,
		GraphQL: graph.NewHandler(gcfg), Playground: graph.PlaygroundHandler()})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &Env{t: t, Srv: srv, DB: d, WS: ws, Tokens: map[model.Role]string{}, Store: tokens, Tail: tail, Revocations: gcfg.Revocations}
}

// Do sends a request and reads the reply; headers are name, value pairs.
func (e *Env) Do(method, path string, body io.Reader, headers ...string) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.Srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.Srv.Client().Do(req)
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

// Ingest posts a body to /v1/ingest/{kind} with a bearer token (if not empty).
func (e *Env) Ingest(kind, token, body string, headers ...string) (*http.Response, string) {
	e.t.Helper()
	if token != "" {
		headers = append(headers, "Authorization", "Bearer "+token)
	}
	return e.Do(http.MethodPost, "/v1/ingest/"+kind, strings.NewReader(body), headers...)
}

// Count returns the rows of a table in the test's workspace.
func (e *Env) Count(table string) int {
	e.t.Helper()
	var n int
	if err := e.DB.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table+" WHERE workspace_id = $1", e.WS).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// CountAll returns the log rows of every kind in the test's workspace.
func (e *Env) CountAll() int {
	n := 0
	for _, k := range model.AllKinds {
		n += e.Count(k.Table())
	}
	return n
}

// GraphQL posts a GraphQL request with a bearer token (if not empty) and decodes the
// reply into out.
func (e *Env) GraphQL(token, query string, vars map[string]any, out any) *http.Response {
	e.t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		e.t.Fatal(err)
	}
	headers := []string{"Content-Type", "application/json"}
	if token != "" {
		headers = append(headers, "Authorization", "Bearer "+token)
	}
	resp, reply := e.Do(http.MethodPost, "/graphql", bytes.NewReader(body), headers...)
	if err := json.Unmarshal([]byte(reply), out); err != nil {
		e.t.Fatalf("GraphQL reply is not JSON (%d): %s", resp.StatusCode, reply)
	}
	return resp
}
