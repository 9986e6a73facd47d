package rest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/loggraph/loggraph/internal/limits"
	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/model"
)

// testClock is a clock the test moves; the server reads it from its handlers.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// refusalReply is the /v1 envelope of a 429 or 503.
type refusalReply struct {
	Error      string `json:"error"`
	Code       string `json:"code"`
	Limit      string `json:"limit"`
	RetryAfter int    `json:"retry_after"`
	RequestID  string `json:"request_id"`
}

func decodeRefusal(t *testing.T, resp *http.Response, body string, status int) refusalReply {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	var r refusalReply
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("refusal is not JSON: %s", body)
	}
	if got := resp.Header.Get("Retry-After"); got != fmt.Sprint(r.RetryAfter) || r.RetryAfter < 1 {
		t.Fatalf("Retry-After %q, body retry_after %d", got, r.RetryAfter)
	}
	if r.RequestID == "" || r.RequestID != resp.Header.Get("X-Request-Id") {
		t.Fatalf("request id %q", r.RequestID)
	}
	return r
}

// countIn counts a workspace's rows of a table.
func countIn(t *testing.T, e *testserver.Env, table string, ws uuid.UUID) int {
	t.Helper()
	var n int
	if err := e.DB.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table+" WHERE workspace_id = $1", ws).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// metric returns the value of one series on /metrics ("" if absent).
func metric(t *testing.T, e *testserver.Env, series string) string {
	t.Helper()
	_, body := e.Do(http.MethodGet, "/metrics", nil)
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

func TestRequestsPerSecondRefusesOneWorkspaceAndServesAnother(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	e := testserver.NewEnv(t, testserver.Options{RateLimits: &limits.Config{
		Workspace: limits.Values{RequestsPerSecond: 2}, Burst: 2 * time.Second, Now: clock.Now, // bursts of 4
	}})
	other, otherTokens := e.AddWorkspace("other")
	tok := e.Tokens[model.RoleIngest]
	for i := 0; i < 4; i++ {
		if resp, body := e.Ingest("app", tok, goodApp); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
		}
	}
	resp, body := e.Ingest("app", tok, goodApp)
	r := decodeRefusal(t, resp, body, http.StatusTooManyRequests)
	want := refusalReply{Error: "workspace acme is over its limit of 2 requests per second (bursts up to 4); retry after 1 s",
		Code: "rate_limited", Limit: "requests_per_second", RetryAfter: 1, RequestID: r.RequestID}
	if r != want {
		t.Fatalf("refusal %+v, want %+v", r, want)
	}
	// The same limit covers every /v1 route: the export answers 429 too, before any query.
	resp, body = e.Do(http.MethodGet, "/v1/export/app.ndjson", nil, "Authorization", "Bearer "+e.Tokens[model.RoleRead])
	if r := decodeRefusal(t, resp, body, http.StatusTooManyRequests); r.Limit != "requests_per_second" {
		t.Fatalf("export refusal %+v", r)
	}
	// Another workspace is served meanwhile.
	if resp, body := e.Ingest("app", otherTokens[model.RoleIngest], goodApp); resp.StatusCode != http.StatusOK {
		t.Fatalf("other workspace: %d %s", resp.StatusCode, body)
	}
	if n := e.Count("app_logs"); n != 4 {
		t.Fatalf("%d rows stored in acme, want 4 (nothing from the refused request)", n)
	}
	if n := countIn(t, e, "app_logs", other); n != 1 {
		t.Fatalf("%d rows in the other workspace", n)
	}
	if got := metric(t, e, `loggraph_throttled_total{limit="requests_per_second",workspace="acme"}`); got != "2" {
		t.Fatalf("throttled metric %q, want 2", got)
	}
	// Half a second later one request has been earned back.
	clock.Add(500 * time.Millisecond)
	if resp, body := e.Ingest("app", tok, goodApp); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the refill: %d %s", resp.StatusCode, body)
	}
}

// appLines returns n app records of the same shape.
func appLines(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `{"timestamp":"2024-06-13T14:30:00Z","level":"INFO","service":"s","message":"line %d"}`+"\n", i)
	}
	return b.String()
}

func TestIngestRowsPerSecondRefusesAndStoresNothing(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	e := testserver.NewEnv(t, testserver.Options{RateLimits: &limits.Config{
		Workspace: limits.Values{IngestRowsPerSecond: 5}, Burst: 2 * time.Second, Now: clock.Now, // bursts of 10 rows
	}})
	tok := e.Tokens[model.RoleIngest]
	if resp, body := e.Ingest("app", tok, appLines(3)); resp.StatusCode != http.StatusOK {
		t.Fatalf("3 rows: %d %s", resp.StatusCode, body)
	}
	// 7 rows left: 8 are refused, whole.
	resp, body := e.Ingest("app", tok, appLines(8))
	r := decodeRefusal(t, resp, body, http.StatusTooManyRequests)
	if want := "workspace acme is over its limit of 5 ingest rows per second (bursts up to 10); this batch has 8 ingest rows: " +
		"retry after 1 s, or send fewer ingest rows per second"; r.Error != want || r.Limit != "ingest_rows_per_second" {
		t.Fatalf("refusal %+v", r)
	}
	// A batch over the burst is refused while the bucket is not full...
	resp, body = e.Ingest("app", tok, appLines(20))
	r = decodeRefusal(t, resp, body, http.StatusTooManyRequests)
	if want := "this batch of 20 ingest rows is larger than workspace acme's burst of 10 ingest rows (limit 5 ingest rows per second), " +
		"so it is accepted only when the workspace has sent none for a while; retry after 1 s, or split the batch"; r.Error != want {
		t.Fatalf("oversized batch: %q", r.Error)
	}
	if n := e.Count("app_logs"); n != 3 {
		t.Fatalf("%d rows stored, want the first batch's 3", n)
	}
	// ... and accepted once it is full; the workspace then owes 10 rows (2 s).
	clock.Add(time.Second)
	if resp, body := e.Ingest("app", tok, appLines(20)); resp.StatusCode != http.StatusOK {
		t.Fatalf("oversized batch on a full bucket: %d %s", resp.StatusCode, body)
	}
	resp, body = e.Ingest("app", tok, appLines(1))
	if r := decodeRefusal(t, resp, body, http.StatusTooManyRequests); r.RetryAfter != 3 || r.Limit != "ingest_rows_per_second" {
		t.Fatalf("in debt: %+v", r)
	}
	// The GraphQL mutations share the buckets: RATE_LIMITED, with the limit and the wait.
	var gql struct {
		Data   map[string]any `json:"data"`
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	e.GraphQL(tok, `mutation { ingestAppLogs(logs: [{level: INFO, service: "s", message: "m"}]) { accepted } }`, nil, &gql)
	if len(gql.Errors) != 1 || gql.Errors[0].Extensions["code"] != "RATE_LIMITED" ||
		gql.Errors[0].Extensions["limit"] != "ingest_rows_per_second" || gql.Errors[0].Extensions["retryAfter"] != float64(3) ||
		!strings.HasPrefix(gql.Errors[0].Message, "workspace acme is over its limit of 5 ingest rows per second") {
		t.Fatalf("GraphQL ingest: %+v", gql)
	}
	if n := e.Count("app_logs"); n != 23 {
		t.Fatalf("%d rows stored, want 23", n)
	}
	if got := metric(t, e, `loggraph_throttled_total{limit="ingest_rows_per_second",workspace="acme"}`); got != "4" {
		t.Fatalf("throttled metric %q, want 4", got)
	}
}

// paddedApp is an NDJSON body of exactly size bytes: one app record padded with spaces.
func paddedApp(size int) string {
	line := `{"timestamp":"2024-06-13T14:30:00Z","level":"INFO","service":"s","message":"held"}`
	return line + strings.Repeat(" ", size-len(line)-1) + "\n"
}

func TestConcurrentIngestMemoryPerWorkspaceAndServer(t *testing.T) {
	t.Parallel()
	type memEvent struct {
		slug    string
		ws, srv int64
	}
	events := make(chan memEvent, 100)
	e := testserver.NewEnv(t, testserver.Options{RateLimits: &limits.Config{
		Workspace:                   limits.Values{IngestConcurrentBytes: 28 << 10},
		ServerIngestConcurrentBytes: 28 << 10,
		IngestMemoryFactor:          3,
		IngestMemory: func(ws model.Workspace, w, s int64) {
			events <- memEvent{ws.Slug, w, s}
		},
	}})
	other, otherTokens := e.AddWorkspace("other")
	third, thirdTokens := e.AddWorkspace("third")
	tok := e.Tokens[model.RoleIngest]

	// Hold one 8 KiB batch open: its body comes through a pipe the test writes.
	held := paddedApp(8 << 10)
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPost, e.Srv.URL+"/v1/ingest/app", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(held))
	req.Header.Set("Authorization", "Bearer "+tok)
	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := e.Srv.Client().Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		done <- result{status: resp.StatusCode, body: string(b)}
	}()
	// The server reserves 3 x 8 KiB before it reads the body.
	if ev := <-events; ev != (memEvent{"acme", 24 << 10, 24 << 10}) {
		t.Fatalf("first reservation %+v", ev)
	}
	if _, err := pw.Write([]byte(held[:100])); err != nil {
		t.Fatal(err)
	}

	// The same workspace's next batch would need 6 KiB more than its 28 KiB allow.
	resp, body := e.Ingest("app", tok, paddedApp(2<<10))
	r := decodeRefusal(t, resp, body, http.StatusTooManyRequests)
	want := refusalReply{Error: "workspace acme already has 24 KiB of ingest batches in memory and this one needs 6 KiB more " +
		"(3 bytes of memory per body byte); its limit is 28 KiB: retry after 1 s, or send smaller batches",
		Code: "rate_limited", Limit: "ingest_concurrent_bytes", RetryAfter: 1, RequestID: r.RequestID}
	if r != want {
		t.Fatalf("refusal %+v, want %+v", r, want)
	}
	// Another workspace's small batch fits beside it (24 + 3 KiB of the server's 28).
	if resp, body := e.Ingest("app", otherTokens[model.RoleIngest], paddedApp(1<<10)); resp.StatusCode != http.StatusOK {
		t.Fatalf("other workspace: %d %s", resp.StatusCode, body)
	}
	// A third workspace's 2 KiB batch is within its own quota but not the server's: 503.
	resp, body = e.Ingest("app", thirdTokens[model.RoleIngest], paddedApp(2<<10))
	r = decodeRefusal(t, resp, body, http.StatusServiceUnavailable)
	if want := "the server's ingest memory (28 KiB for all workspaces) is taken by other batches; retry after 1 s"; r.Error != want ||
		r.Code != "unavailable" || r.Limit != "server_ingest_concurrent_bytes" {
		t.Fatalf("server cap: %+v", r)
	}
	if got := metric(t, e, "loggraph_ingest_memory_bytes"); got != fmt.Sprint(24<<10) {
		t.Fatalf("ingest memory gauge %q while one batch is held", got)
	}
	// A gzip body is admitted on its compressed length and accounted while it
	// inflates: 8 KiB of records would need 24 KiB more, so it fails while being read.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(paddedApp(8 << 10)))
	_ = zw.Close()
	resp, body = e.Do(http.MethodPost, "/v1/ingest/app", bytes.NewReader(gz.Bytes()),
		"Authorization", "Bearer "+tok, "Content-Encoding", "gzip")
	r = decodeRefusal(t, resp, body, http.StatusTooManyRequests)
	if r.Limit != "ingest_concurrent_bytes" || !strings.HasPrefix(r.Error, "workspace acme already has ") {
		t.Fatalf("gzip body: %+v", r)
	}

	// The held batch completes; its memory is given back and the refused batch passes.
	if _, err := pw.Write([]byte(held[100:])); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if res := <-done; res.err != nil || res.status != http.StatusOK || res.body != "{\"accepted\":1,\"duplicates\":0}\n" {
		t.Fatalf("held batch: %+v", res)
	}
	if resp, body := e.Ingest("app", tok, paddedApp(2<<10)); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the release: %d %s", resp.StatusCode, body)
	}
	if got := metric(t, e, "loggraph_ingest_memory_bytes"); got != "0" {
		t.Fatalf("ingest memory gauge %q after every batch", got)
	}
	if n, o, th := e.Count("app_logs"), countIn(t, e, "app_logs", other), countIn(t, e, "app_logs", third); n != 2 || o != 1 || th != 0 {
		t.Fatalf("rows: acme %d, other %d, third %d", n, o, th)
	}
	if got := metric(t, e, `loggraph_throttled_total{limit="ingest_concurrent_bytes",workspace="acme"}`); got != "2" {
		t.Fatalf("throttled metric %q", got)
	}
	if got := metric(t, e, `loggraph_throttled_total{limit="server_ingest_concurrent_bytes",workspace="third"}`); got != "1" {
		t.Fatalf("throttled metric %q", got)
	}
}

// TestRequestsPerSecondCoversGraphQLAndEveryShim: the workspace's request rate is
// checked right after authentication on every surface, and each answers the refusal
// in its own envelope with Retry-After.
func TestRequestsPerSecondCoversGraphQLAndEveryShim(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	e := testserver.NewEnv(t, testserver.Options{RateLimits: &limits.Config{
		Workspace: limits.Values{RequestsPerSecond: 1}, Burst: time.Second, Now: clock.Now, // bursts of 1
	}})
	for i, c := range []struct {
		name     string
		method   string
		path     string
		body     string
		auth     func(tok string) []string
		wantBody func(slug string) string
	}{
		{"graphql", http.MethodPost, "/graphql", `{"query":"{ viewer { role } }"}`,
			func(tok string) []string {
				return []string{"Authorization", "Bearer " + tok, "Content-Type", "application/json"}
			},
			func(slug string) string { return `"code":"RATE_LIMITED","limit":"requests_per_second"` }},
		{"document360", http.MethodGet, "/v2/APIReferences/petstore/Logs", "",
			func(tok string) []string { return []string{"api_token", tok} },
			func(slug string) string {
				return `"description":"workspace ` + slug + ` is over its limit of 1 requests per second (bursts up to 1); retry after 1 s"`
			}},
		{"elasticpath", http.MethodGet, "/v2/integrations/logs", "",
			func(tok string) []string { return []string{"Authorization", "Bearer " + tok} },
			func(slug string) string {
				return `{"errors":[{"status":429,"title":"Too Many Requests","detail":"workspace ` + slug + ` is over its limit of 1 requests per second (bursts up to 1); retry after 1 s"}]}`
			}},
		{"generic", http.MethodGet, "/logs", "",
			func(tok string) []string { return []string{"Authorization", "Bearer " + tok} },
			func(slug string) string {
				return `{"status":"error","message":"workspace ` + slug + ` is over its limit of 1 requests per second (bursts up to 1); retry after 1 s"}`
			}},
		{"akinon", http.MethodGet, "/api/v1/oms/logs/action_log/", "",
			func(tok string) []string { return []string{"Authorization", "Token " + tok} },
			func(string) string { return `{"detail":"Request was throttled. Expected available in 1 seconds."}` }},
	} {
		t.Run(c.name, func(t *testing.T) {
			slug := fmt.Sprintf("rate-%d", i)
			_, toks := e.AddWorkspace(slug)
			send := func() (*http.Response, string) {
				var body io.Reader
				if c.body != "" {
					body = strings.NewReader(c.body)
				}
				return e.Do(c.method, c.path, body, c.auth(toks[model.RoleRead])...)
			}
			if resp, body := send(); resp.StatusCode == http.StatusTooManyRequests {
				t.Fatalf("first request refused: %s", body)
			}
			resp, body := send()
			if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" {
				t.Fatalf("second request: %d Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
			}
			if want := c.wantBody(slug); !strings.Contains(body, want) {
				t.Fatalf("body %s\nwant it to contain %s", body, want)
			}
		})
	}
}
