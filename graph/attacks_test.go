package graph_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/loggraph/loggraph/graph"
	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/internal/testwait"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

// cachedEnv is a test server whose query caches the test can read.
func cachedEnv(t *testing.T, configure func(*graph.Config)) (*testserver.Env, *graph.QueryCache, *graph.ByteCache[string]) {
	t.Helper()
	qc := graph.NewQueryCache(graph.DefaultQueryCacheBytes)
	apq := graph.NewAPQCache(graph.DefaultAPQCacheBytes)
	e := testserver.NewWith(t, rest.Limits{}, func(c *graph.Config) {
		c.QueryCache, c.APQCache = &qc, apq
		if configure != nil {
			configure(c)
		}
	})
	return e, &qc, apq
}

// TestQueryFloodsAreRefusedBeforeParsing: issue 8's anonymous and read-token
// floods, and one document over each document limit, are refused by DocumentLimits
// (the only source of these codes, and it runs before gqlgen parses or validates):
// with the limit and the measured value, no SQL, nothing cached. Status per the
// GraphQL-over-HTTP spec: 200 with application/json, 400 with
// application/graphql-response+json.
func TestQueryFloodsAreRefusedBeforeParsing(t *testing.T) {
	t.Parallel()
	e, qc, apq := cachedEnv(t, nil)
	read := e.Tokens[model.RoleRead]
	tooLarge := func(q string) string {
		return fmt.Sprintf("the query document has %d bytes, more than the limit of 65536: send a smaller document (large values go in variables)", len(q))
	}
	repeats := func(name string, n int) string {
		return fmt.Sprintf("the query document repeats response names so often (%q %d times in one selection set) that validating it would compare more than 200 pairs of fields: select each field once, or give each selection its own alias", name, n)
	}
	typename25k := repeat(25000, func(int) string { return "__typename" })
	alias8k := repeat(8000, func(int) string { return "a: __typename" })
	alias900 := repeat(900, func(int) string { return "a: __typename" })
	conflict2k := repeat(2000, func(i int) string { return fmt.Sprintf("a: logs(first: %d) { totalCount }", i+1) })
	conflict200 := repeat(200, func(i int) string { return fmt.Sprintf("logs(first: %d) { totalCount }", i+1) })
	typeName7MB := `{ __type(name: "T` + strings.Repeat("x", 7<<20) + `") { name } }`
	tokens := "query ($x: [Int] = [" + strings.Repeat("1 ", 6000) + "]) { __typename }"
	fields := `{ __type(name: "Query") { ` + strings.Repeat("kind name description ofType { ", 300) + "kind" + strings.Repeat(" }", 300) + " } }"
	aliases := repeat(101, func(i int) string { return fmt.Sprintf("a%d: __typename", i) })
	directives := "{ __typename" + strings.Repeat(" @include(if: true)", 51) + " }"
	for _, c := range []struct {
		name, token, query, code, msg string
	}{
		{"25,000 __typename, anonymous", "", typename25k, graph.CodeDocumentTooLarge, tooLarge(typename25k)},
		{"8,000 a: __typename, anonymous", "", alias8k, graph.CodeDocumentTooLarge, tooLarge(alias8k)},
		{"900 a: __typename, anonymous", "", alias900, graph.CodeTooManyFields, repeats("a", 900)},
		{"2,000 aliases with conflicting arguments", read, conflict2k, graph.CodeDocumentTooLarge, tooLarge(conflict2k)},
		{"200 fields with conflicting arguments", read, conflict200, graph.CodeTooManyFields, repeats("logs", 200)},
		{"7 MB __type name, anonymous", "", typeName7MB, graph.CodeDocumentTooLarge, tooLarge(typeName7MB)},
		{"6,000 list items", "", tokens, graph.CodeTooManyTokens,
			"the query document has 6015 tokens, more than the limit of 3000: select fewer fields (large values go in variables)"},
		{"1,202 fields nested", read, fields, graph.CodeTooManyFields,
			"the query document selects 1202 fields (fragments expanded), more than the limit of 1000: select fewer fields or split the operation"},
		{"101 aliases", read, aliases, graph.CodeTooManyFields, "the query document has 101 aliases, more than the limit of 100: split the operation"},
		{"51 directives", read, directives, graph.CodeTooManyFields, "the query document has 51 directives, more than the limit of 50"},
	} {
		t.Run(c.name, func(t *testing.T) {
			headers := []string{}
			if c.token != "" {
				headers = append(headers, "Authorization", "Bearer "+c.token)
			}
			body := gqlBody(c.query)
			resp, got := post(e, body, headers...)
			refusal(t, resp, got, http.StatusOK, ctJSON, c.code, c.msg)
			if n := decodeWire(t, got).stats(t); n != 0 {
				t.Fatalf("%d SQL statements for a refused document", n)
			}
			resp, got = post(e, body, append(headers, "Accept", "application/graphql-response+json")...)
			refusal(t, resp, got, http.StatusBadRequest, ctGQL, c.code, c.msg)
			if qc.Len() != 0 || qc.Bytes() != 0 || apq.Len() != 0 {
				t.Fatalf("a refused document was cached: %d entries, %d bytes", qc.Len(), qc.Bytes())
			}
		})
	}
	t.Run("over a websocket", func(t *testing.T) {
		c := dialWS(t, e.Srv.URL, "graphql-transport-ws", nil)
		send(t, c, wsMsg{Type: "connection_init", Payload: json2(map[string]string{"Authorization": "Bearer " + read})})
		if m := next(t, c, false); m.Type != "connection_ack" {
			t.Fatalf("init: %+v", m)
		}
		send(t, c, wsMsg{ID: "1", Type: "subscribe", Payload: json2(map[string]string{"query": alias900})})
		m := next(t, c, false)
		if (m.Type != "error" && m.Type != "next") || !strings.Contains(string(m.Payload), graph.CodeTooManyFields) {
			t.Fatalf("got %s %s", m.Type, m.Payload)
		}
	})
}

// TestLegitimateDocumentsPass: GraphiQL's introspection query and an ingest
// mutation with variables pass the document limits.
func TestLegitimateDocumentsPass(t *testing.T) {
	t.Parallel()
	e, qc, _ := cachedEnv(t, nil)
	var intro reply[json.RawMessage]
	e.GraphQL("", introspectionQuery, nil, &intro)
	if len(intro.Errors) > 0 {
		t.Fatalf("introspection: %+v", intro.Errors)
	}
	logs := make([]map[string]any, 1000)
	for i := range logs {
		logs[i] = map[string]any{"level": "INFO", "service": "svc", "message": fmt.Sprintf("message %d", i), "details": map[string]any{"i": i}}
	}
	var ingest reply[struct{ IngestAppLogs struct{ Accepted int } }]
	e.GraphQL(e.Tokens[model.RoleIngest], `mutation ($logs: [AppLogInput!]!) { ingestAppLogs(logs: $logs) { accepted } }`,
		map[string]any{"logs": logs}, &ingest)
	if len(ingest.Errors) > 0 || ingest.Data.IngestAppLogs.Accepted != 1000 {
		t.Fatalf("ingest: %+v", ingest)
	}
	if qc.Len() != 1 {
		t.Fatalf("the authenticated mutation is not cached (and the anonymous introspection must not be): %d entries", qc.Len())
	}
}

// TestQueryCacheRetainsNothingAnonymous: distinct large anonymous queries (each
// valid, so gqlgen would have cached it) leave the parsed-query cache empty; as many
// authenticated ones stay within its byte budget.
func TestQueryCacheRetainsNothingAnonymous(t *testing.T) {
	t.Parallel()
	const budget = 1 << 20
	qc := graph.NewQueryCache(budget)
	apq := graph.NewAPQCache(budget)
	e := testserver.NewWith(t, rest.Limits{}, func(c *graph.Config) { c.QueryCache, c.APQCache = &qc, apq })
	query := func(i int) string {
		return fmt.Sprintf(`{ __type(name: "T%d%s") { name } }`, i, strings.Repeat("x", 60<<10))
	}
	for i := range 40 {
		var r reply[json.RawMessage]
		e.GraphQL("", query(i), nil, &r)
		if len(r.Errors) > 0 || string(r.Data) != `{"__type":null}` {
			t.Fatalf("anonymous query %d: %s %+v", i, r.Data, r.Errors)
		}
	}
	if qc.Len() != 0 || qc.Bytes() != 0 {
		t.Fatalf("anonymous queries were cached: %d entries, %d bytes", qc.Len(), qc.Bytes())
	}
	// Nor is an anonymous persisted query: its hash alone is not found afterwards.
	for i := range 10 {
		q := query(i)
		sum := sha256.Sum256([]byte(q))
		ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
		body, _ := json.Marshal(map[string]any{"query": q, "extensions": ext})
		if resp, got := post(e, string(body)); resp.StatusCode != http.StatusOK || len(decodeWire(t, got).Errors) > 0 {
			t.Fatalf("anonymous persisted query: %d %.300s", resp.StatusCode, got)
		}
		body, _ = json.Marshal(map[string]any{"extensions": ext})
		resp, got := post(e, string(body))
		refusal(t, resp, got, http.StatusOK, ctJSON, "PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
	}
	if apq.Len() != 0 || apq.Bytes() != 0 || qc.Len() != 0 {
		t.Fatalf("anonymous persisted queries were cached: %d entries, %d bytes", apq.Len(), apq.Bytes())
	}
	for i := range 40 {
		var r reply[json.RawMessage]
		e.GraphQL(e.Tokens[model.RoleRead], query(100+i), nil, &r)
		if len(r.Errors) > 0 {
			t.Fatalf("query %d: %+v", i, r.Errors)
		}
		if qc.Bytes() > budget {
			t.Fatalf("the cache holds %d bytes, over its budget of %d", qc.Bytes(), budget)
		}
	}
	// A 60 KB document costs 41 bytes per byte: 2.5 MB, over the 1 MB budget, so it
	// is not retained at all; smaller documents are.
	if qc.Len() != 0 {
		t.Fatalf("a document costing more than the budget was cached: %d entries", qc.Len())
	}
	small := func(i int) string {
		return fmt.Sprintf(`{ __type(name: "T%d%s") { name } }`, i, strings.Repeat("x", 4<<10))
	}
	for i := range 40 {
		var r reply[json.RawMessage]
		e.GraphQL(e.Tokens[model.RoleRead], small(i), nil, &r)
		if len(r.Errors) > 0 {
			t.Fatalf("query %d: %+v", i, r.Errors)
		}
	}
	if qc.Bytes() > budget || qc.Len() == 0 || qc.Len() >= 40 {
		t.Fatalf("40 documents of 4 KB (170 KB each in the cache's accounting): %d entries, %d bytes, budget %d", qc.Len(), qc.Bytes(), budget)
	}
}

// TestStatementLimit: many aliases of data root fields are refused before any SQL
// runs (issue 8: 300 aliases of logPatterns, 5,000 of appLogs(first: 1)); an
// operation that reaches the limit at run time is stopped there, with a precise
// error and its statements counted.
func TestStatementLimit(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	read := e.Tokens[model.RoleRead]
	appLogs5k := repeat(5000, func(i int) string { return fmt.Sprintf("a%d: appLogs(first: 1) { nodes { id } }", i) })
	for _, c := range []struct {
		name, query, code, msg string
	}{
		{"5,000 aliases of appLogs(first: 1)", appLogs5k,
			graph.CodeDocumentTooLarge, fmt.Sprintf("the query document has %d bytes, more than the limit of 65536: send a smaller document (large values go in variables)", len(appLogs5k))},
		{"300 aliases of logPatterns", repeat(300, func(i int) string { return fmt.Sprintf("a%d: logPatterns { pattern }", i) }),
			graph.CodeTooManyFields, "the query document has 300 aliases, more than the limit of 100: split the operation"},
		{"60 aliases of logPatterns", repeat(60, func(i int) string { return fmt.Sprintf("a%d: logPatterns { pattern }", i) }),
			graph.CodeStatementLimit, "the query needs at least 120 SQL statements, more than the limit of 100: request fewer root fields or aliases, or split it"},
		{"100 aliases of appLogs and one of logs", repeat(100, func(i int) string { return fmt.Sprintf("a%d: appLogs(first: 1) { nodes { id } }", i) })[:len("{ ")] +
			"b: logs(first: 1) { nodes { id } } " + repeat(100, func(i int) string { return fmt.Sprintf("a%d: appLogs(first: 1) { nodes { id } }", i) })[len("{ "):],
			graph.CodeTooManyFields, "the query document has 101 aliases, more than the limit of 100: split the operation"},
		{"99 aliases of appLogs and two logs", "{ logs(first: 1) { nodes { id } } x: logs(first: 2) { nodes { id } } " +
			repeat(99, func(i int) string { return fmt.Sprintf("a%d: appLogs(first: 1) { nodes { id } }", i) })[len("{ "):],
			graph.CodeStatementLimit, "the query needs at least 101 SQL statements, more than the limit of 100: request fewer root fields or aliases, or split it"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := post(e, gqlBody(c.query), "Authorization", "Bearer "+read)
			refusal(t, resp, body, http.StatusOK, ctJSON, c.code, c.msg)
			if n := decodeWire(t, body).stats(t); n != 0 {
				t.Fatalf("%d SQL statements ran", n)
			}
		})
	}
	t.Run("100 aliases of appLogs pass", func(t *testing.T) {
		resp, body := post(e, gqlBody(repeat(100, func(i int) string { return fmt.Sprintf("a%d: appLogs(first: 1) { nodes { id } }", i) })),
			"Authorization", "Bearer "+read)
		w := expect(t, resp, body, http.StatusOK, ctJSON)
		if len(w.Errors) > 0 {
			t.Fatalf("errors: %+v", w.Errors)
		}
		if n := w.stats(t); n < 100 || n > 100 {
			t.Fatalf("%d statements, want 100", n)
		}
	})
}

// TestStatementLimitAtRunTime: a query whose nested connections need more
// statements than the limit (its root fields alone need fewer) is stopped when
// it gets there: the statement past the limit is not sent.
func TestStatementLimitAtRunTime(t *testing.T) {
	t.Parallel()
	e := testserver.NewWith(t, rest.Limits{}, func(c *graph.Config) { c.MaxStatements = 2 })
	rec := `{"integration_id":"aaaaaaaa-0000-4000-8000-000000000001","integration_name":"hook","job_id":"bbbbbbbb-0000-4000-8000-000000000001","succeeded":true,"attempt":1,"status_code":200,"created_at":"2024-06-13T00:00:00Z"}`
	if resp, body := e.Ingest("integration", e.Tokens[model.RoleIngest], rec+"\n"); resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	resp, body := post(e, gqlBody(`{ integrations(first: 5) { nodes { name jobs(first: 5) { nodes { id logs(first: 5) { nodes { id } } } } } } }`),
		"Authorization", "Bearer "+e.Tokens[model.RoleRead])
	w := expect(t, resp, body, http.StatusOK, ctJSON)
	if n := w.stats(t); n != 2 {
		t.Fatalf("%d statements ran, want the limit (2): %s", n, body)
	}
	if len(w.Errors) == 0 {
		t.Fatalf("no error: %s", body)
	}
	for _, er := range w.Errors {
		if er.Extensions["code"] != graph.CodeStatementLimit ||
			er.Message != "the query needed more than 2 SQL statements and was stopped: request fewer fields or aliases, or split it" {
			t.Fatalf("got %+v", er)
		}
	}
}

// TestOperationDeadline: a query waiting on a lock the test holds is cancelled at
// the operation deadline (QUERY_TIMEOUT), and its statement leaves PostgreSQL.
func TestOperationDeadline(t *testing.T) {
	t.Parallel()
	e := testserver.NewWith(t, rest.Limits{}, func(c *graph.Config) { c.OperationTimeout = 300 * time.Millisecond })
	ctx := context.Background()
	lock, err := e.DB.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(ctx) //nolint:errcheck
	if _, err := lock.Exec(ctx, "LOCK TABLE app_logs IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	var r reply[json.RawMessage]
	e.GraphQL(e.Tokens[model.RoleRead], `{ appLogs { nodes { id } } }`, nil, &r)
	onlyError(t, r.Errors, "QUERY_TIMEOUT", "the query took too long and was cancelled; narrow the time range or the filters")
	waitNoWaitingStatement(t, e)
}

// TestClientDisconnectStopsTheQuery: a query waiting on a lock the test holds is
// cancelled in PostgreSQL once its client goes away.
func TestClientDisconnectStopsTheQuery(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	ctx := context.Background()
	lock, err := e.DB.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(ctx) //nolint:errcheck
	if _, err := lock.Exec(ctx, "LOCK TABLE app_logs IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	reqCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(reqCtx, http.MethodPost, e.Srv.URL+"/graphql",
			strings.NewReader(gqlBody(`{ appLogs { nodes { id } } }`)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.Tokens[model.RoleRead])
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	// Wait for the query to wait on the lock, then go away.
	pollUntil(t, "the query to wait on the lock", func() bool { return waitingStatements(t, e) == 1 })
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the request finished although the table is locked")
	}
	waitNoWaitingStatement(t, e)
}

func waitingStatements(t *testing.T, e *testserver.Env) int {
	t.Helper()
	var n int
	err := e.DB.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%app_log%'`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func waitNoWaitingStatement(t *testing.T, e *testserver.Env) {
	t.Helper()
	pollUntil(t, "the statement to leave PostgreSQL", func() bool { return waitingStatements(t, e) == 0 })
}

// pollUntil polls cond until it holds (testwait's safety deadline fails a hung test).
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, what, cond)
}
