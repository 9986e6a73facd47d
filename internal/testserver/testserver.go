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
	"time"

	"github.com/google/uuid"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/db/dbtest"
	"github.com/loggraph/loggraph/graph"
	"github.com/loggraph/loggraph/internal/app"
	"github.com/loggraph/loggraph/internal/limits"
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
	// Limiter enforces the rate limits and quotas (nil unless Options.RateLimits).
	Limiter *limits.Limiter
	// Slug is the workspace's slug ("acme").
	Slug string
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
	return NewEnv(t, Options{Limits: limits, Configure: configure})
}

// Options are what NewEnv may change from New's server.
type Options struct {
	// Limits are the REST limits.
	Limits rest.Limits
	// Configure (if not nil) may change the GraphQL endpoint's configuration.
	Configure func(*graph.Config)
	// DB tunes the server's pools (zero fields: dbtest's small test pools).
	DB db.Options
	// ConcurrentReads is each workspace's read allowance (0: guard's default, -1: none).
	ConcurrentReads int
	// ReadSlotWait is how long a read waits for its workspace's slot (default a minute).
	ReadSlotWait time.Duration
	// DialURL (if not nil) turns the test database's URL into the one the server
	// connects to, e.g. through a proxy the test can close.
	DialURL func(string) string
	// Log receives the server's log lines (default: discarded).
	Log *slog.Logger
	// RateLimits, if not nil, turns the per-workspace rate limits and quotas on, with
	// overrides read from the test database; its Refused hook is called besides the
	// server's metrics.
	RateLimits *limits.Config
	// TokenCache is the principal cache (a zero TTL: serve's default; negative: none).
	TokenCache db.TokenCacheOptions
	// StorageMetrics, if positive, exports the storage metrics, read this often.
	StorageMetrics time.Duration
	// AnalyticsCache, if not nil, keeps closed histogram buckets (serve's default).
	AnalyticsCache *db.AnalyticsCacheOptions
}

// NewEnv starts a server over a fresh database as configured.
func NewEnv(t testing.TB, o Options) *Env {
	t.Helper()
	ctx := context.Background()
	u := dbtest.NewURL(t)
	if o.DialURL != nil {
		u = o.DialURL(u)
	}
	d := dbtest.Open(t, u, o.DB)
	ws, err := db.NewWorkspaceStore(d.Bun).Create(ctx, "acme", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, d, *ws, o)
	e.Tokens = e.tokensFor(ws.ID)
	return e
}

// Peer starts a second server over e's database (as two servers behind one load
// balancer): same workspace and tokens, its own tail hub and revocation listener.
func (e *Env) Peer(t testing.TB, o Options) *Env {
	t.Helper()
	p := start(t, e.DB, model.Workspace{ID: e.WS, Slug: e.Slug}, o)
	p.Tokens = e.Tokens
	return p
}

// start wires a server over d as serve does (internal/app), without the limits
// reload loop: a test reloads when it needs to.
func start(t testing.TB, d *db.DB, ws model.Workspace, o Options) *Env {
	t.Helper()
	log := o.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	wait := o.ReadSlotWait
	if wait <= 0 {
		wait = time.Minute
	}
	if o.TokenCache.TTL == 0 {
		o.TokenCache.TTL = db.DefaultTokenCacheTTL
	}
	// Stopped (tail hub, revocation listener) before the database closes.
	a, err := app.New(context.Background(), d, log, app.Config{REST: o.Limits, ConcurrentReads: o.ConcurrentReads,
		ReadSlotWait: wait, RateLimits: o.RateLimits, Configure: o.Configure, TokenCache: o.TokenCache,
		StorageMetrics: o.StorageMetrics, AnalyticsCache: o.AnalyticsCache})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Stop)
	// Before the hub stops: let the subscriptions whose clients the test closed end
	// on their own (their sockets' contexts), so that no subscription ends from both
	// sides at once. gqlgen reads a subscription's errors when its context ends,
	// unsynchronised with a resolver adding one (graph/tail.go), which the race
	// detector reports. Best effort, bounded: a test may leave a client open.
	t.Cleanup(func() {
		for deadline := time.Now().Add(10 * time.Second); a.Tail.Subscribers() > 0 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond) // polling the hub's count
		}
	})
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(srv.Close)
	return &Env{t: t, Srv: srv, DB: d, WS: ws.ID, Tokens: map[model.Role]string{}, Store: a.Tokens, Tail: a.Tail,
		Limiter: a.Limiter, Slug: ws.Slug, Revocations: a.Revocations}
}

func (e *Env) tokensFor(ws uuid.UUID) map[model.Role]string {
	e.t.Helper()
	out := map[model.Role]string{}
	for _, r := range []model.Role{model.RoleRead, model.RoleIngest, model.RoleAdmin} {
		_, text, err := e.Store.Create(context.Background(), ws, string(r), r)
		if err != nil {
			e.t.Fatal(err)
		}
		out[r] = text
	}
	return out
}

// AddWorkspace creates another workspace with a token of each role.
func (e *Env) AddWorkspace(slug string) (uuid.UUID, map[model.Role]string) {
	e.t.Helper()
	ws, err := db.NewWorkspaceStore(e.DB.Bun).Create(context.Background(), slug, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return ws.ID, e.tokensFor(ws.ID)
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
