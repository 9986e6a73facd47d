package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/db/dbtest"
	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/internal/testwait"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

// capSurface is one request of a surface and what its refusal must look like.
type capSurface struct {
	name   string
	method string
	path   string
	body   string
	header []string // name, value pairs
	// check asserts the envelope of a refusal with the given status, limit and message.
	check func(t *testing.T, status int, body, limit, msg string)
}

// capSurfaces are one request per surface: GraphQL, /v1 ingest, an export, /api-logs
// and the four shims, each authenticated with tok (an admin token: it may read and
// ingest).
func capSurfaces(tok string) []capSurface {
	jsonBody := func(t *testing.T, body string) map[string]any {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("body is not JSON: %s", body)
		}
		return m
	}
	v1 := func(t *testing.T, status int, body, limit, msg string) {
		m := jsonBody(t, body)
		if m["code"] != "unavailable" || m["limit"] != limit || m["error"] != msg || m["retry_after"] == nil {
			t.Errorf("v1 envelope: %s", body)
		}
	}
	q, _ := json.Marshal(map[string]any{"query": "{ apiRequestLogs(first: 1) { nodes { id } } }"})
	return []capSurface{
		{name: "graphql", method: http.MethodPost, path: "/graphql", body: string(q),
			header: []string{"Content-Type", "application/json", "Authorization", "Bearer " + tok},
			check: func(t *testing.T, status int, body, limit, msg string) {
				var r struct {
					Data   any `json:"data"`
					Errors []struct {
						Message    string         `json:"message"`
						Extensions map[string]any `json:"extensions"`
					} `json:"errors"`
				}
				if err := json.Unmarshal([]byte(body), &r); err != nil || len(r.Errors) != 1 || r.Data != nil {
					t.Fatalf("graphql body: %s", body)
				}
				ext := r.Errors[0].Extensions
				if ext["code"] != "SERVICE_UNAVAILABLE" || ext["limit"] != limit || ext["retryAfter"] == nil || r.Errors[0].Message != msg {
					t.Errorf("graphql error: %s", body)
				}
			}},
		{name: "ingest", method: http.MethodPost, path: "/v1/ingest/app",
			body:   `{"timestamp":"2024-06-13T14:30:00Z","level":"INFO","service":"s","message":"m"}` + "\n",
			header: []string{"Content-Type", "application/x-ndjson", "Authorization", "Bearer " + tok}, check: v1},
		{name: "export", method: http.MethodGet, path: "/v1/export/api-request.ndjson",
			header: []string{"Authorization", "Bearer " + tok}, check: v1},
		{name: "api-logs", method: http.MethodGet, path: "/api-logs",
			header: []string{"Authorization", "Bearer " + tok}, check: v1},
		{name: "document360", method: http.MethodGet, path: "/v2/APIReferences/petstore/Logs",
			header: []string{"api_token", tok},
			check: func(t *testing.T, status int, body, limit, msg string) {
				var r struct {
					Success bool `json:"success"`
					Errors  []struct {
						Description string `json:"description"`
					} `json:"errors"`
				}
				if err := json.Unmarshal([]byte(body), &r); err != nil || r.Success || len(r.Errors) != 1 || r.Errors[0].Description != msg {
					t.Errorf("document360 envelope: %s", body)
				}
			}},
		{name: "elasticpath", method: http.MethodGet, path: "/integrations/logs",
			header: []string{"Authorization", "Bearer " + tok},
			check: func(t *testing.T, status int, body, limit, msg string) {
				want := fmt.Sprintf(`{"errors":[{"status":%d,"title":%q,"detail":%q}]}`, status, http.StatusText(status), msg)
				if body != want {
					t.Errorf("elastic path body:\n got %s\nwant %s", body, want)
				}
			}},
		{name: "generic", method: http.MethodGet, path: "/logs",
			header: []string{"Authorization", "Bearer " + tok},
			check: func(t *testing.T, status int, body, limit, msg string) {
				want := fmt.Sprintf(`{"status":"error","message":%q}`, msg)
				if body != want {
					t.Errorf("generic body:\n got %s\nwant %s", body, want)
				}
			}},
		{name: "akinon", method: http.MethodGet, path: "/api/v1/oms/logs/action_log/",
			header: []string{"Authorization", "Token " + tok},
			check: func(t *testing.T, status int, body, limit, msg string) {
				want := fmt.Sprintf(`{"detail":%q}`, msg)
				if body != want {
					t.Errorf("akinon body:\n got %s\nwant %s", body, want)
				}
			}},
	}
}

// send sends a surface's request.
func (s capSurface) send(e *testserver.Env) (*http.Response, string) {
	var body io.Reader
	if s.body != "" {
		body = strings.NewReader(s.body)
	}
	return e.Do(s.method, s.path, body, s.header...)
}

// TestDatabaseDownIs503OnEverySurface cuts the server's database connections (a
// proxy it connects through is closed: connecting is then refused) and expects every
// surface to answer 503 with Retry-After in its own envelope, naming
// database_unavailable, with no SQL or connection detail.
func TestDatabaseDownIs503OnEverySurface(t *testing.T) {
	t.Parallel()
	var proxy *testserver.Proxy
	e := testserver.NewEnv(t, testserver.Options{DialURL: testserver.ProxyTo(t, &proxy)})
	tok := e.Tokens[model.RoleAdmin]
	// The server works through the proxy.
	if resp, body := e.Do(http.MethodGet, "/readyz", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz before the outage: %d %s", resp.StatusCode, body)
	}
	proxy.Close()
	const msg = "the database is unavailable; retry later"
	for _, s := range capSurfaces(tok) {
		t.Run(s.name, func(t *testing.T) {
			resp, body := s.send(e)
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" {
				t.Fatalf("%d Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
			}
			s.check(t, resp.StatusCode, body, "database_unavailable", msg)
			for _, leak := range []string{"dial", "127.0.0.1", "connect", "SQLSTATE", "SELECT"} {
				if strings.Contains(body, leak) {
					t.Errorf("body leaks %q: %s", leak, body)
				}
			}
		})
	}
	t.Run("readyz", func(t *testing.T) {
		resp, body := e.Do(http.MethodGet, "/readyz", nil)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "database unreachable") {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
}

// TestTerminatedBackendsAndClosedDatabaseAre503 terminates the server's database
// backends and closes its database to new connections (on the test's own database),
// then expects 503 database_unavailable from the surfaces.
func TestTerminatedBackendsAndClosedDatabaseAre503(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dbtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	name := e.DB.Pool.Config().ConnConfig.Database
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+ident+" ALLOW_CONNECTIONS false"); err != nil {
		t.Fatal(err)
	}
	// Allowed again before the test's cleanup drops the database.
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "ALTER DATABASE "+ident+" ALLOW_CONNECTIONS true") })
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name); err != nil {
		t.Fatal(err)
	}
	for _, s := range capSurfaces(e.Tokens[model.RoleAdmin]) {
		t.Run(s.name, func(t *testing.T) {
			resp, body := s.send(e)
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("%d Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
			}
			s.check(t, resp.StatusCode, body, "database_unavailable", "the database is unavailable; retry later")
		})
	}
}

// capLock holds ACCESS EXCLUSIVE locks on tables of e's database in a transaction
// of its own connection until release (or the test's end).
type capLock struct {
	conn *pgx.Conn
	tx   pgx.Tx
	once sync.Once
}

func lockTables(t *testing.T, e *testserver.Env, tables ...string) *capLock {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.DB.URL)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+strings.Join(tables, ", ")+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	l := &capLock{conn: conn, tx: tx}
	t.Cleanup(l.release)
	return l
}

func (l *capLock) release() {
	l.once.Do(func() {
		_ = l.tx.Rollback(context.Background())
		_ = l.conn.Close(context.Background())
	})
}

// waitForLockWaiters waits until n statements of the lock's database wait for a lock.
func (l *capLock) waitForLockWaiters(t *testing.T, n int) {
	t.Helper()
	ctx, cancel := testwait.Context(t)
	defer cancel()
	// A connection of its own: the lock's is busy holding the lock.
	conn, err := pgx.Connect(ctx, l.conn.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		var waiting int
		err := conn.QueryRow(ctx, `SELECT count(DISTINCT l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE NOT l.granted AND a.datname = current_database()`).Scan(&waiting)
		if err != nil {
			t.Fatalf("waiting for %d blocked statements: %v", n, err)
		}
		if waiting >= n {
			return
		}
		select {
		case <-ctx.Done():
			rows, _ := conn.Query(context.Background(), `SELECT coalesce(wait_event_type,'')||' '||coalesce(wait_event,'')||' '||state||' '||left(query,80) FROM pg_stat_activity WHERE datname = current_database()`)
			acts, _ := pgx.CollectRows(rows, pgx.RowTo[string])
			t.Fatalf("waiting for %d blocked statements: %d so far; activity:\n%s", n, waiting, strings.Join(acts, "\n"))
		case <-tick.C:
		}
	}
}

// capResult is a response read in a goroutine.
type capResult struct {
	status int
	body   string
}

// goGraphQL sends a GraphQL query in a goroutine; its result arrives on the channel.
func goGraphQL(e *testserver.Env, tok, query string) chan capResult {
	out := make(chan capResult, 1)
	body, _ := json.Marshal(map[string]any{"query": query})
	go func() {
		req, _ := http.NewRequest(http.MethodPost, e.Srv.URL+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := e.Srv.Client().Do(req)
		if err != nil {
			out <- capResult{body: err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		out <- capResult{status: resp.StatusCode, body: string(b)}
	}()
	return out
}

// TestLockedTableStarvesNothingElse holds app_logs locked while reads on it fill the
// read pool: the token lookup (viewer), another kind's ingest and /readyz still answer
// while the lock is held (they use the system and ingest pools), and a further read
// gets a 503 database_busy after the acquire timeout, in each surface's envelope.
func TestLockedTableStarvesNothingElse(t *testing.T) {
	t.Parallel()
	e := testserver.NewEnv(t, testserver.Options{
		// Two read connections, and an acquire timeout the refused reads wait out.
		DB:              db.Options{MaxConns: 2, AcquireTimeout: 2 * time.Second},
		ConcurrentReads: -1,
	})
	read := e.Tokens[model.RoleRead]
	lock := lockTables(t, e, "app_logs")
	blocked := []chan capResult{
		goGraphQL(e, read, "{ appLogs(first: 1) { nodes { id } } }"),
		goGraphQL(e, read, "{ appLogs(first: 2) { nodes { id } } }"),
	}
	lock.waitForLockWaiters(t, 2)

	t.Run("viewer", func(t *testing.T) {
		var r struct {
			Data struct {
				Viewer struct {
					Role string `json:"role"`
				} `json:"viewer"`
			} `json:"data"`
		}
		if resp := e.GraphQL(e.Tokens[model.RoleAdmin], "{ viewer { role } }", nil, &r); resp.StatusCode != http.StatusOK || r.Data.Viewer.Role != "ADMIN" {
			t.Fatalf("viewer: %d %+v", resp.StatusCode, r)
		}
	})
	t.Run("ingest of another kind", func(t *testing.T) {
		resp, body := e.Ingest("api-request", e.Tokens[model.RoleIngest],
			goodAPIRequest+"\n")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("ingest: %d %s", resp.StatusCode, body)
		}
	})
	t.Run("readyz", func(t *testing.T) {
		resp, body := e.Do(http.MethodGet, "/readyz", nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "ready") {
			t.Fatalf("readyz: %d %s", resp.StatusCode, body)
		}
	})
	const msg = "the database is busy: no connection was free in time; retry later"
	// The surfaces' requests wait out the acquire timeout together; then each is checked.
	busy := sendAll(e, capSurfaces(e.Tokens[model.RoleAdmin]), "ingest") // ingest has its own pool (answered above)
	for _, r := range busy {
		t.Run("busy "+r.s.name, func(t *testing.T) {
			if r.resp.StatusCode != http.StatusServiceUnavailable || r.resp.Header.Get("Retry-After") != "1" {
				t.Fatalf("%d Retry-After %q: %s", r.resp.StatusCode, r.resp.Header.Get("Retry-After"), r.body)
			}
			r.s.check(t, r.resp.StatusCode, r.body, "database_busy", msg)
		})
	}
	// Everything above answered while the lock was held: only now is it released.
	select {
	case r := <-blocked[0]:
		t.Fatalf("a blocked read answered before the lock was released: %d %s", r.status, r.body)
	default:
	}
	lock.release()
	for _, ch := range blocked {
		if r := <-ch; r.status != http.StatusOK || strings.Contains(r.body, "errors") {
			t.Errorf("blocked read after the lock: %d %s", r.status, r.body)
		}
	}
}

// TestStatementTimeoutIs503OnShimsAndExports lets statement_timeout cancel reads
// blocked on locked tables: the shims, /api-logs and the exports answer 503
// statement_timeout naming the timeout; GraphQL keeps QUERY_TIMEOUT.
func TestStatementTimeoutIs503OnShimsAndExports(t *testing.T) {
	t.Parallel()
	e := testserver.NewEnv(t, testserver.Options{DB: db.Options{StatementTimeout: time.Second}})
	// A row of each kind: the shims answer an empty workspace from the counts alone.
	d360Ingest(t, e, e.Tokens[model.RoleIngest], d360Log("l1", "petstore", 1))
	for kind, rec := range map[string]string{"app": goodApp, "action": goodAction, "integration": goodIntegration, "api-request": goodAPIRequest} {
		if resp, body := e.Ingest(kind, e.Tokens[model.RoleIngest], rec+"\n"); resp.StatusCode != http.StatusOK {
			t.Fatalf("ingest %s: %d %s", kind, resp.StatusCode, body)
		}
	}
	lockTables(t, e, "app_logs", "api_request_logs", "integration_logs", "action_logs", "api_reference_logs")
	const msg = "the query ran past the statement timeout (1s) and was cancelled; narrow the time range or the filters"
	// The surfaces' requests wait out the statement timeout together; then each is checked.
	for _, r := range sendAll(e, capSurfaces(e.Tokens[model.RoleAdmin]), "ingest") {
		if r.s.name == "graphql" {
			t.Run(r.s.name, func(t *testing.T) {
				if r.resp.StatusCode != http.StatusOK || !strings.Contains(r.body, `"code":"QUERY_TIMEOUT"`) {
					t.Fatalf("%d %s", r.resp.StatusCode, r.body)
				}
			})
			continue
		}
		t.Run(r.s.name, func(t *testing.T) {
			if r.resp.StatusCode != http.StatusServiceUnavailable || r.resp.Header.Get("Retry-After") != "10" {
				t.Fatalf("%d Retry-After %q: %s", r.resp.StatusCode, r.resp.Header.Get("Retry-After"), r.body)
			}
			r.s.check(t, r.resp.StatusCode, r.body, "statement_timeout", msg)
		})
	}
}

// surfaceReply is a surface's answer.
type surfaceReply struct {
	s    capSurface
	resp *http.Response
	body string
}

// sendAll sends each surface's request (but those named in skip) at once and
// returns their answers in the surfaces' order.
func sendAll(e *testserver.Env, surfaces []capSurface, skip ...string) []surfaceReply {
	var out []surfaceReply
	for _, s := range surfaces {
		if !slices.Contains(skip, s.name) {
			out = append(out, surfaceReply{s: s})
		}
	}
	var wg sync.WaitGroup
	for i := range out {
		wg.Go(func() { out[i].resp, out[i].body = out[i].s.send(e) })
	}
	wg.Wait()
	return out
}

// TestWorkspaceReadConcurrency fills workspace A's read allowance with reads blocked
// on a lock: workspace B's read still answers, and A's next read is refused 429
// concurrent_queries after the wait, on GraphQL and on a shim.
func TestWorkspaceReadConcurrency(t *testing.T) {
	t.Parallel()
	e := testserver.NewEnv(t, testserver.Options{ConcurrentReads: 2, ReadSlotWait: 200 * time.Millisecond})
	ctx := context.Background()
	wsB, err := db.NewWorkspaceStore(e.DB.Bun).Create(ctx, "bravo", "Bravo")
	if err != nil {
		t.Fatal(err)
	}
	_, tokB, err := e.Store.Create(ctx, wsB.ID, "b", model.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	readA := e.Tokens[model.RoleRead]
	lock := lockTables(t, e, "app_logs")
	blocked := []chan capResult{
		goGraphQL(e, readA, "{ appLogs(first: 1) { nodes { id } } }"),
		goGraphQL(e, readA, "{ appLogs(first: 2) { nodes { id } } }"),
	}
	lock.waitForLockWaiters(t, 2)

	t.Run("other workspace", func(t *testing.T) {
		var r struct {
			Data   json.RawMessage `json:"data"`
			Errors []any           `json:"errors"`
		}
		if resp := e.GraphQL(tokB, "{ apiRequestLogs(first: 1) { nodes { id } } }", nil, &r); resp.StatusCode != http.StatusOK || len(r.Errors) > 0 {
			t.Fatalf("workspace B: %d %s %v", resp.StatusCode, r.Data, r.Errors)
		}
	})
	t.Run("graphql refused", func(t *testing.T) {
		var r struct {
			Errors []struct {
				Message    string         `json:"message"`
				Extensions map[string]any `json:"extensions"`
			} `json:"errors"`
		}
		resp := e.GraphQL(readA, "{ apiRequestLogs(first: 1) { nodes { id } } }", nil, &r)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" || len(r.Errors) != 1 {
			t.Fatalf("%d Retry-After %q %+v", resp.StatusCode, resp.Header.Get("Retry-After"), r)
		}
		ext := r.Errors[0].Extensions
		if ext["code"] != "RATE_LIMITED" || ext["limit"] != "concurrent_queries" || ext["retryAfter"] != 1.0 ||
			r.Errors[0].Message != "this workspace already runs 2 read requests at once (the limit); retry when one has finished" {
			t.Errorf("error: %+v", r.Errors[0])
		}
	})
	t.Run("shim refused", func(t *testing.T) {
		resp, body := e.Do(http.MethodGet, "/api/v1/oms/logs/action_log/", nil, "Authorization", "Token "+readA)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" ||
			body != `{"detail":"Request was throttled. Expected available in 1 seconds."}` {
			t.Fatalf("%d Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	})
	t.Run("v1 refused", func(t *testing.T) {
		resp, body := e.Do(http.MethodGet, "/api-logs", nil, "Authorization", "Bearer "+readA)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" ||
			!strings.Contains(body, `"code":"rate_limited","limit":"concurrent_queries"`) {
			t.Fatalf("%d Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	})
	lock.release()
	for _, ch := range blocked {
		if r := <-ch; r.status != http.StatusOK || strings.Contains(r.body, "errors") {
			t.Errorf("blocked read after the lock: %d %s", r.status, r.body)
		}
	}
	// The slots came back: A reads again.
	var r struct {
		Errors []any `json:"errors"`
	}
	if resp := e.GraphQL(readA, "{ appLogs(first: 1) { nodes { id } } }", nil, &r); resp.StatusCode != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("A after the lock: %d %v", resp.StatusCode, r.Errors)
	}
}

// TestSlowBodyIsCutOff sends a request's headers and part of its body, then stalls:
// the server answers 408 (ingest) or closes the connection once the body read
// timeout has passed, rather than waiting for the rest.
func TestSlowBodyIsCutOff(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{BodyReadTimeout: time.Second})
	for _, c := range []struct{ name, path, token, ctype string }{
		{"ingest", "/v1/ingest/app", e.Tokens[model.RoleIngest], "application/x-ndjson"},
		{"graphql", "/graphql", e.Tokens[model.RoleRead], "application/json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(e.Srv.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// A generous bound on the whole exchange: the test fails rather than hangs.
			_ = conn.SetDeadline(time.Now().Add(2 * time.Minute))
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: 1000\r\n\r\n{", c.path, c.token, c.ctype)
			// Stall: read until the server answers and closes.
			reply, err := io.ReadAll(conn)
			if err != nil {
				t.Fatalf("the connection was not closed: %v (read %q)", err, reply)
			}
			if c.name == "ingest" && !bytes.HasPrefix(reply, []byte("HTTP/1.1 408 ")) {
				t.Errorf("ingest answered %q", reply)
			}
			if bytes.HasPrefix(reply, []byte("HTTP/1.1 2")) || bytes.HasPrefix(reply, []byte("HTTP/1.1 5")) {
				t.Errorf("answered %q", reply)
			}
		})
	}
	// Stored nothing.
	if n := e.CountAll(); n != 0 {
		t.Errorf("%d rows stored", n)
	}
}

// TestReadyzAnswersWithinItsBudget: a database that does not answer readiness's
// trivial query (its table locked) is reported 503 once the 1 s budget has passed,
// not waited for.
func TestReadyzAnswersWithinItsBudget(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	lock := lockTables(t, e, "bun_migrations")
	resp, body := e.Do(http.MethodGet, "/readyz", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "database did not answer within 1s") {
		t.Fatalf("readyz: %d %s", resp.StatusCode, body)
	}
	lock.release()
	if resp, body := e.Do(http.MethodGet, "/readyz", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz after the lock: %d %s", resp.StatusCode, body)
	}
}

// TestOneOperationCannotHoldTheReadPool: gqlgen resolves root fields concurrently, so
// read slots are taken per root field. Workspace A's one query of four aliased root
// fields, blocked on a lock, holds only its allowance of two read connections out of
// a pool of three: workspace B's read gets the third and answers while the lock is
// still held; A's other two fields run once the first two are done.
func TestOneOperationCannotHoldTheReadPool(t *testing.T) {
	t.Parallel()
	e := testserver.NewEnv(t, testserver.Options{ConcurrentReads: 2, ReadSlotWait: time.Minute,
		DB: db.Options{MaxConns: 3, AcquireTimeout: time.Minute}})
	_, tokB := e.AddWorkspace("bravo")
	lock := lockTables(t, e, "app_logs")
	blocked := goGraphQL(e, e.Tokens[model.RoleRead],
		"{ a: appLogs(first: 1) { nodes { id } } b: appLogs(first: 2) { nodes { id } } c: appLogs(first: 3) { nodes { id } } d: appLogs(first: 4) { nodes { id } } }")
	lock.waitForLockWaiters(t, 2)
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []any           `json:"errors"`
	}
	if resp := e.GraphQL(tokB[model.RoleRead], "{ apiRequestLogs(first: 1) { nodes { id } } }", nil, &r); resp.StatusCode != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("workspace B while A's query is blocked: %d %s %v", resp.StatusCode, r.Data, r.Errors)
	}
	lock.release()
	if res := <-blocked; res.status != http.StatusOK || strings.Contains(res.body, "errors") {
		t.Fatalf("A's query after the lock: %d %s", res.status, res.body)
	}
}
