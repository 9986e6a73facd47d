package graph_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/jackc/pgx/v5"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/db/dbtest"
	"github.com/loggraph/loggraph/graph"
	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/internal/testwait"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

const (
	ctJSON = "application/json; charset=utf-8"
	ctGQL  = "application/graphql-response+json; charset=utf-8"
)

// wire is a GraphQL response as it travels: data is raw so that "no data entry" and
// `"data": null` can be told apart.
type wire struct {
	Data       json.RawMessage `json:"data"`
	Errors     []gqlError      `json:"errors"`
	Extensions struct {
		Stats *struct {
			DurationMs    *float64 `json:"durationMs"`
			SQLStatements *int64   `json:"sqlStatements"`
		} `json:"stats"`
	} `json:"extensions"`
}

func decodeWire(t *testing.T, body string) wire {
	t.Helper()
	var w wire
	if err := json.Unmarshal([]byte(body), &w); err != nil {
		t.Fatalf("not a GraphQL response: %v: %s", err, body)
	}
	return w
}

// stats asserts that the response carries extensions.stats and returns its statement count.
func (w wire) stats(t *testing.T) int64 {
	t.Helper()
	s := w.Extensions.Stats
	if s == nil || s.DurationMs == nil || s.SQLStatements == nil || *s.DurationMs < 0 {
		t.Fatalf("no extensions.stats {durationMs, sqlStatements} in %+v", w)
	}
	return *s.SQLStatements
}

func post(e *testserver.Env, body string, headers ...string) (*http.Response, string) {
	return e.Do(http.MethodPost, "/graphql", strings.NewReader(body), append([]string{"Content-Type", "application/json"}, headers...)...)
}

func get(e *testserver.Env, params url.Values, headers ...string) (*http.Response, string) {
	return e.Do(http.MethodGet, "/graphql?"+params.Encode(), nil, headers...)
}

// expect asserts status and Content-Type, and returns the decoded body.
func expect(t *testing.T, resp *http.Response, body string, status int, contentType string) wire {
	t.Helper()
	if resp.StatusCode != status || resp.Header.Get("Content-Type") != contentType {
		t.Fatalf("got %d %q, want %d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), status, contentType, body)
	}
	w := decodeWire(t, body)
	w.stats(t)
	return w
}

// refusal asserts a response with no data entry and exactly one error.
func refusal(t *testing.T, resp *http.Response, body string, status int, contentType, code, msg string) {
	t.Helper()
	w := expect(t, resp, body, status, contentType)
	if w.Data != nil {
		t.Fatalf("a refused request has a data entry: %s", body)
	}
	e := onlyError(t, w.Errors, code, msg)
	if e.Extensions["requestId"] != resp.Header.Get("X-Request-Id") {
		t.Fatalf("requestId %v, X-Request-Id %q", e.Extensions["requestId"], resp.Header.Get("X-Request-Id"))
	}
}

func TestHTTPMediaTypes(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	const typename = `{"query":"{ __typename }"}`
	for _, c := range []struct{ accept, want string }{
		{"", ctJSON}, // the spec: no Accept means application/json
		{"application/json", ctJSON},
		{"application/graphql-response+json", ctGQL},
		{"*/*", ctJSON},
		{"application/*", ctJSON},
		{"application/graphql-response+json, application/json;q=0.9", ctGQL}, // what Apollo Client sends
		{"application/json, application/graphql-response+json", ctGQL},       // equal q: the GraphQL type wins
		{"application/graphql-response+json;q=0.5, application/json", ctJSON},
		{"text/html, */*;q=0.1", ctJSON},
	} {
		t.Run("accept="+c.accept, func(t *testing.T) {
			var headers []string
			if c.accept != "" {
				headers = []string{"Accept", c.accept}
			}
			resp, body := post(e, typename, headers...)
			w := expect(t, resp, body, http.StatusOK, c.want)
			if string(w.Data) != `{"__typename":"Query"}` || w.Errors != nil {
				t.Fatalf("Accept %q: %s", c.accept, body)
			}
		})
	}
	resp, body := post(e, typename, "Accept", "text/html")
	refusal(t, resp, body, http.StatusNotAcceptable, ctJSON, "BAD_USER_INPUT",
		"the Accept header allows neither application/graphql-response+json nor application/json")
}

func TestHTTPGetAndMethods(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	read := e.Tokens[model.RoleRead]

	resp, body := get(e, url.Values{"query": {`query Q($n: String!) { __type(name: $n) { name } }`},
		"variables": {`{"n": "Viewer"}`}, "operationName": {"Q"}})
	if w := expect(t, resp, body, http.StatusOK, ctJSON); string(w.Data) != `{"__type":{"name":"Viewer"}}` {
		t.Fatalf("GET query: %s", body)
	}
	resp, body = get(e, url.Values{"query": {`{ viewer { role } }`}}, "Authorization", "Bearer "+read, "Accept", "application/graphql-response+json")
	if w := expect(t, resp, body, http.StatusOK, ctGQL); string(w.Data) != `{"viewer":{"role":"READ"}}` {
		t.Fatalf("GET with a token: %s", body)
	}

	// GET is for queries: a mutation is 405 with Allow: POST, whatever the media type.
	for _, accept := range []string{"application/json", "application/graphql-response+json"} {
		resp, body = get(e, url.Values{"query": {`mutation { revokeApiToken(id: "x") { id } }`}}, "Authorization", "Bearer "+read, "Accept", accept)
		ct := ctJSON
		if accept != "application/json" {
			ct = ctGQL
		}
		refusal(t, resp, body, http.StatusMethodNotAllowed, ct, "BAD_USER_INPUT", "a mutation cannot be sent with GET: use POST")
		if resp.Header.Get("Allow") != "POST" {
			t.Fatalf("Allow %q", resp.Header.Get("Allow"))
		}
	}

	resp, body = get(e, url.Values{"variables": {`{}`}})
	refusal(t, resp, body, http.StatusBadRequest, ctJSON, "BAD_USER_INPUT", "the request has no query parameter")
	resp, body = get(e, url.Values{"query": {`{ __typename }`}, "variables": {`[1]`}})
	refusal(t, resp, body, http.StatusBadRequest, ctJSON, "BAD_USER_INPUT",
		"the variables parameter is not a JSON object: json: cannot unmarshal array into Go value of type map[string]interface {}")

	resp, body = e.Do(http.MethodOptions, "/graphql", nil)
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Allow") != "GET, POST, OPTIONS" || body != "" {
		t.Fatalf("OPTIONS: %d %q %q", resp.StatusCode, resp.Header.Get("Allow"), body)
	}
	for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
		resp, body = e.Do(m, "/graphql", strings.NewReader(`{"query":"{ __typename }"}`), "Content-Type", "application/json")
		refusal(t, resp, body, http.StatusMethodNotAllowed, ctJSON, "BAD_USER_INPUT",
			m+" is not supported: send GraphQL requests with GET (queries) or POST")
		if resp.Header.Get("Allow") != "GET, POST, OPTIONS" {
			t.Fatalf("%s: Allow %q", m, resp.Header.Get("Allow"))
		}
	}
}

func TestHTTPPostRequests(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})

	resp, body := e.Do(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
	refusal(t, resp, body, http.StatusUnsupportedMediaType, ctJSON, "BAD_USER_INPUT", "a POST needs `Content-Type: application/json`")
	resp, body = e.Do(http.MethodPost, "/graphql", strings.NewReader(`query=x`), "Content-Type", "application/x-www-form-urlencoded")
	refusal(t, resp, body, http.StatusUnsupportedMediaType, ctJSON, "BAD_USER_INPUT",
		`unsupported Content-Type "application/x-www-form-urlencoded": send application/json`)
	resp, body = e.Do(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ __typename }"}`), "Content-Type", "application/json; charset=latin1")
	refusal(t, resp, body, http.StatusUnsupportedMediaType, ctJSON, "BAD_USER_INPUT", `unsupported charset "latin1": send UTF-8`)
	resp, body = post(e, `{"query":"{ __typename }"}`, "Content-Type", "application/json; charset=UTF-8")
	expect(t, resp, body, http.StatusOK, ctJSON)

	// Not a well-formed GraphQL-over-HTTP request: 400 with either media type.
	for _, accept := range []string{"application/json", "application/graphql-response+json"} {
		ct := map[string]string{"application/json": ctJSON, "application/graphql-response+json": ctGQL}[accept]
		for ci, c := range []struct{ body, msg string }{
			{``, `the request body is empty: send {"query": "..."}`},
			{`{ "not a JSON`, "the request body is not a GraphQL request: unexpected EOF"},
			{`{"query": {"obj": 1}}`, `the request body is not a GraphQL request: "query" must be a string, not object`},
			{`{"query": "{ __typename }", "variables": "x"}`, `the request body is not a GraphQL request: "variables" must be an object, not string`},
			{`{"query": "{ __typename }"} {}`, "the request body is not a GraphQL request: unexpected data after the JSON value"},
			{`{"qeury": "{ __typename }"}`, "the request has no query"},
		} {
			t.Run(fmt.Sprint(ci), func(t *testing.T) {
				resp, body = post(e, c.body, "Accept", accept)
				refusal(t, resp, body, http.StatusBadRequest, ct, "BAD_USER_INPUT", c.msg)
			})
		}
	}

	// Request errors: 200 with application/json (the spec: the response is well-formed
	// GraphQL), 400 and no data entry with application/graphql-response+json.
	for _, c := range []struct{ body, code, msg string }{
		{`{"query": "{"}`, "GRAPHQL_PARSE_FAILED", "Expected Name, found <EOF>"},
		{`{"query": "{ nope }"}`, "GRAPHQL_VALIDATION_FAILED", `Cannot query field "nope" on type "Query".`},
		{`{"query": "query($n: String!) { __type(name: $n) { name } }", "variables": {"n": null}}`, "BAD_USER_INPUT", "cannot be null"},
	} {
		t.Run(c.code, func(t *testing.T) {
			resp, body = post(e, c.body, "Accept", "application/json")
			refusal(t, resp, body, http.StatusOK, ctJSON, c.code, c.msg)
			resp, body = post(e, c.body, "Accept", "application/graphql-response+json")
			refusal(t, resp, body, http.StatusBadRequest, ctGQL, c.code, c.msg)
		})
	}

	// A field error with `"data": null` is a response, not a request error: 200.
	resp, body = post(e, `{"query": "{ viewer { role } }"}`, "Accept", "application/graphql-response+json")
	w := expect(t, resp, body, http.StatusOK, ctGQL)
	if string(w.Data) != "null" {
		t.Fatalf("anonymous viewer: %s", body)
	}
	onlyError(t, w.Errors, "UNAUTHENTICATED", "an API token is required: send `Authorization: Bearer <token>`")
}

func TestHTTPBodyLimit(t *testing.T) {
	t.Parallel()
	e := testserver.NewWith(t, rest.Limits{}, func(c *graph.Config) { c.MaxBodyBytes = 1024 })
	query := `{"query":"{ __typename }","variables":{"pad":"` + strings.Repeat("x", 2000) + `"}}`
	resp, body := post(e, query)
	refusal(t, resp, body, http.StatusRequestEntityTooLarge, ctJSON, "BAD_USER_INPUT", "the request body is larger than 1024 bytes")
	// A reader of unknown length is sent chunked, without a Content-Length: the
	// server's read stops at the limit.
	resp, body = e.Do(http.MethodPost, "/graphql", io.MultiReader(strings.NewReader(query)),
		"Content-Type", "application/json", "Accept", "application/graphql-response+json")
	refusal(t, resp, body, http.StatusRequestEntityTooLarge, ctGQL, "BAD_USER_INPUT", "the request body is larger than 1024 bytes")
	resp, body = post(e, `{"query":"{ __typename }"}`)
	expect(t, resp, body, http.StatusOK, ctJSON)
}

func TestAutomaticPersistedQueries(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	const q = `{ viewer { role } }`
	sum := sha256.Sum256([]byte(q))
	ext := fmt.Sprintf(`{"persistedQuery":{"version":1,"sha256Hash":"%s"}}`, hex.EncodeToString(sum[:]))
	auth := []string{"Authorization", "Bearer " + e.Tokens[model.RoleRead]}

	// Unknown hash: PERSISTED_QUERY_NOT_FOUND with 200 (Apollo's protocol), so the
	// client sends the query with its hash.
	for _, accept := range []string{"application/json", "application/graphql-response+json"} {
		resp, body := post(e, `{"extensions":`+ext+`}`, append(auth, "Accept", accept)...)
		ct := map[string]string{"application/json": ctJSON, "application/graphql-response+json": ctGQL}[accept]
		refusal(t, resp, body, http.StatusOK, ct, "PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
	}
	resp, body := post(e, `{"query":"`+q+`","extensions":`+ext+`}`, auth...)
	if w := expect(t, resp, body, http.StatusOK, ctJSON); string(w.Data) != `{"viewer":{"role":"READ"}}` {
		t.Fatalf("query with its hash: %s", body)
	}
	resp, body = post(e, `{"extensions":`+ext+`}`, auth...)
	if w := expect(t, resp, body, http.StatusOK, ctJSON); string(w.Data) != `{"viewer":{"role":"READ"}}` {
		t.Fatalf("hash alone: %s", body)
	}
	// The hash alone over GET: what makes persisted queries cacheable.
	resp, body = get(e, url.Values{"extensions": {ext}}, auth...)
	if w := expect(t, resp, body, http.StatusOK, ctJSON); string(w.Data) != `{"viewer":{"role":"READ"}}` {
		t.Fatalf("hash alone over GET: %s", body)
	}
	resp, body = post(e, `{"query":"{ __typename }","extensions":`+ext+`}`, auth...)
	refusal(t, resp, body, http.StatusOK, ctJSON, "BAD_USER_INPUT", "provided APQ hash does not match query")
}

// introspectionQuery is graphql-js's getIntrospectionQuery(), which GraphiQL sends:
// with its TypeRef fragment's `ofType`s, it nests 14 deep.
const introspectionQuery = `query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType {
  kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }
}`

func gqlBody(query string) string {
	b, _ := json.Marshal(map[string]string{"query": query})
	return string(b)
}

func TestDepthAndComplexityLimits(t *testing.T) {
	t.Parallel()
	if graph.DefaultMaxDepth != 12 || graph.DefaultComplexityLimit != 25000 {
		t.Fatalf("defaults changed: depth %d, complexity %d", graph.DefaultMaxDepth, graph.DefaultComplexityLimit)
	}
	def := testserver.New(t, rest.Limits{})
	// The full introspection query passes the default depth limit (it nests 14 deep).
	resp, body := post(def, gqlBody(introspectionQuery))
	w := expect(t, resp, body, http.StatusOK, ctJSON)
	if w.Errors != nil || !strings.Contains(string(w.Data), `"queryType":{"name":"Query"}`) {
		t.Fatalf("introspection: %.300s", body)
	}
	// 30 fragments each spreading the next twice: 2^30 fields once expanded. gqlgen's
	// complexity walker alone would spin for minutes; the limit answers at once.
	var bomb strings.Builder
	bomb.WriteString("{ ...F0 }")
	for i := range 30 {
		fmt.Fprintf(&bomb, " fragment F%d on Query { ...F%d ...F%d }", i, i+1, i+1)
	}
	bomb.WriteString(" fragment F30 on Query { __typename }")
	// The document limits refuse it before parsing is over; without them the
	// complexity limit does, before the walker runs.
	resp, body = post(def, gqlBody(bomb.String()))
	refusal(t, resp, body, http.StatusOK, ctJSON, "TOO_MANY_FIELDS",
		"the query document selects 1073741824 fields (fragments expanded), more than the limit of 1000: select fewer fields or split the operation")
	noDocLimits := testserver.NewWith(t, rest.Limits{}, func(c *graph.Config) { c.MaxQueryFields = -1 })
	// (No timing assertion: a walker over 2^30 fields would run for minutes, which
	// the test binary's timeout reports; the count in the message is computed.)
	resp, body = post(noDocLimits, gqlBody(bomb.String()))
	refusal(t, resp, body, http.StatusOK, ctJSON, "COMPLEXITY_LIMIT_EXCEEDED",
		"operation has complexity 1073741824, which exceeds the limit of 25000: select fewer fields, use fewer aliases or split the operation")

	e := testserver.NewWith(t, rest.Limits{}, func(c *graph.Config) { c.MaxDepth = 2; c.ComplexityLimit = 10 })
	auth := []string{"Authorization", "Bearer " + e.Tokens[model.RoleRead]}
	const depthMsg = "operation has depth 3, which exceeds the limit of 2: nest fewer selections or split the operation"
	for _, q := range []string{
		`{ viewer { workspace { slug } } }`,
		`{ ...V } fragment V on Query { viewer { ...W } } fragment W on Viewer { workspace { slug } }`,
		`{ ... on Query { viewer { ... on Viewer { workspace { slug } } } } }`,
	} {
		resp, body = post(e, gqlBody(q), auth...)
		refusal(t, resp, body, http.StatusOK, ctJSON, "BAD_USER_INPUT", depthMsg)
		resp, body = post(e, gqlBody(q), append(auth, "Accept", "application/graphql-response+json")...)
		refusal(t, resp, body, http.StatusBadRequest, ctGQL, "BAD_USER_INPUT", depthMsg)
		if w := decodeWire(t, body); w.Errors[0].Extensions["depth"] != 3.0 || w.Errors[0].Extensions["limit"] != 2.0 {
			t.Fatalf("depth extensions: %+v", w.Errors[0].Extensions)
		}
	}
	resp, body = post(e, gqlBody(`{ viewer { role } }`), auth...)
	if w := expect(t, resp, body, http.StatusOK, ctJSON); string(w.Data) != `{"viewer":{"role":"READ"}}` {
		t.Fatalf("depth 2: %s", body)
	}
	// Introspection is not counted, however deep.
	resp, body = post(e, gqlBody(`{ __type(name: "Query") { fields { type { ofType { ofType { name } } } } } }`), auth...)
	if w := expect(t, resp, body, http.StatusOK, ctJSON); w.Errors != nil {
		t.Fatalf("deep __type: %s", body)
	}

	aliases := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, " a%d: __typename", i)
		}
		return "{" + b.String() + " }"
	}
	resp, body = post(e, gqlBody(aliases(11)), auth...)
	refusal(t, resp, body, http.StatusOK, ctJSON, "COMPLEXITY_LIMIT_EXCEEDED",
		"operation has complexity 11, which exceeds the limit of 10: select fewer fields, use fewer aliases or split the operation")
	resp, body = post(e, gqlBody(aliases(10)), auth...)
	expect(t, resp, body, http.StatusOK, ctJSON)

	off := testserver.NewWith(t, rest.Limits{}, func(c *graph.Config) { c.MaxDepth = -1; c.ComplexityLimit = -1 })
	resp, body = post(off, gqlBody(aliases(6000)))
	expect(t, resp, body, http.StatusOK, ctJSON)
	resp, body = post(off, gqlBody(`{ viewer { workspace { slug } } }`), "Authorization", "Bearer "+off.Tokens[model.RoleRead])
	if w := expect(t, resp, body, http.StatusOK, ctJSON); w.Errors != nil {
		t.Fatalf("no depth limit: %s", body)
	}
}

func TestResponseStatsOverHTTP(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	// The token lookup runs in the HTTP middleware, before the operation: not counted.
	resp, body := post(e, gqlBody(`{ viewer { role } }`), "Authorization", "Bearer "+e.Tokens[model.RoleRead])
	if n := expect(t, resp, body, http.StatusOK, ctJSON).stats(t); n != 0 {
		t.Fatalf("viewer ran %d statements: %s", n, body)
	}
	resp, body = post(e, gqlBody(`mutation { ingestAppLogs(logs: [{level: INFO, service: "s", message: "m"}]) { accepted } }`),
		"Authorization", "Bearer "+e.Tokens[model.RoleIngest])
	w := expect(t, resp, body, http.StatusOK, ctJSON)
	if n := w.stats(t); n < 1 || string(w.Data) != `{"ingestAppLogs":{"accepted":1}}` {
		t.Fatalf("ingest ran %d statements: %s", n, body)
	}
	// A refusal carries stats too; a refused token counts its lookup, the only work done.
	id, tok, err := e.Store.Create(context.Background(), e.WS, "gone", model.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Store.Revoke(context.Background(), e.WS, id.ID); err != nil {
		t.Fatal(err)
	}
	resp, body = post(e, gqlBody(`{ viewer { role } }`), "Authorization", "Bearer "+tok)
	refusal(t, resp, body, http.StatusUnauthorized, ctJSON, "UNAUTHENTICATED", "API token has been revoked")
	if n := decodeWire(t, body).stats(t); n != 1 {
		t.Fatalf("revoked token lookup: %d statements", n)
	}
}

func TestResolverPanicIsInternalError(t *testing.T) {
	t.Parallel()
	var logs testserver.LogBuffer
	// OnIngest is resolver code the test can make panic without a schema change.
	e := testserver.NewWith(t, rest.Limits{}, func(c *graph.Config) {
		c.Log = slog.New(slog.NewJSONHandler(&logs, nil))
		c.Resolver.OnIngest = func(model.LogKind, db.IngestResult) { panic("boom: SELECT secret FROM somewhere") }
	})
	resp, body := post(e, gqlBody(`mutation { ingestAppLogs(logs: [{level: INFO, service: "s", message: "m"}]) { accepted } }`),
		"Authorization", "Bearer "+e.Tokens[model.RoleIngest], "Accept", "application/graphql-response+json")
	w := expect(t, resp, body, http.StatusOK, ctGQL) // `"data": null` is a response, not a request error
	if string(w.Data) != "null" || strings.Contains(body, "boom") || strings.Contains(body, "SELECT") {
		t.Fatalf("panic leaked or data missing: %s", body)
	}
	got := onlyError(t, w.Errors, "INTERNAL_SERVER_ERROR", "internal error")
	if fmt.Sprint(got.Path) != "[ingestAppLogs]" || got.Extensions["requestId"] != resp.Header.Get("X-Request-Id") {
		t.Fatalf("error %+v, X-Request-Id %q", got, resp.Header.Get("X-Request-Id"))
	}
	line := logs.String()
	if !strings.Contains(line, `"msg":"graphql panic"`) || !strings.Contains(line, `"panic":"boom: SELECT secret FROM somewhere"`) ||
		!strings.Contains(line, `"request_id":"`+resp.Header.Get("X-Request-Id")+`"`) {
		t.Fatalf("panic not logged with the request id: %s", line)
	}
}

// wsMsg is a message of either websocket subprotocol.
type wsMsg struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func dialWS(t *testing.T, base, subprotocol string, header http.Header) *websocket.Conn {
	t.Helper()
	return dialWSWith(t, base, subprotocol, &websocket.DialOptions{HTTPHeader: header})
}

// dialWSWith dials like dialWS with opts (their Subprotocols are set to subprotocol).
func dialWSWith(t *testing.T, base, subprotocol string, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	ctx, cancel := testwait.Context(t)
	defer cancel()
	opts.Subprotocols = []string{subprotocol}
	c, resp, err := websocket.Dial(ctx, strings.Replace(base, "http", "ws", 1)+"/graphql", opts)
	if err != nil {
		t.Fatalf("dial %s: %v", subprotocol, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || c.Subprotocol() != subprotocol {
		t.Fatalf("upgrade: %d, subprotocol %q", resp.StatusCode, c.Subprotocol())
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

func send(t *testing.T, c *websocket.Conn, m wsMsg) {
	t.Helper()
	if err := wsjson.Write(context.Background(), c, m); err != nil {
		t.Fatal(err)
	}
}

// next reads the next message, skipping graphql-ws keep-alives unless wanted.
func next(t *testing.T, c *websocket.Conn, wantKA bool) wsMsg {
	t.Helper()
	ctx, cancel := testwait.Context(t)
	defer cancel()
	for {
		var m wsMsg
		if err := wsjson.Read(ctx, c, &m); err != nil {
			t.Fatalf("read: %v", err)
		}
		if m.Type != "ka" || wantKA {
			return m
		}
	}
}

func expectClose(t *testing.T, c *websocket.Conn, code websocket.StatusCode, reason string) {
	t.Helper()
	ctx, cancel := testwait.Context(t)
	defer cancel()
	_, b, err := c.Read(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != code || ce.Reason != reason {
		t.Fatalf("got %v (message %s), want close %d %q", err, b, code, reason)
	}
}

func json2(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func TestWebsocketTransports(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	read := e.Tokens[model.RoleRead]

	// graphql-transport-ws: init with Authorization, a query through subscribe.
	c := dialWS(t, e.Srv.URL, "graphql-transport-ws", nil)
	send(t, c, wsMsg{Type: "connection_init", Payload: json2(map[string]string{"Authorization": "Bearer " + read})})
	if m := next(t, c, false); m.Type != "connection_ack" {
		t.Fatalf("init: %+v", m)
	}
	send(t, c, wsMsg{ID: "1", Type: "subscribe", Payload: json2(map[string]string{"query": "{ viewer { role } }"})})
	m := next(t, c, false)
	if m.Type != "next" || m.ID != "1" {
		t.Fatalf("next: %+v", m)
	}
	w := decodeWire(t, string(m.Payload))
	if string(w.Data) != `{"viewer":{"role":"READ"}}` || w.stats(t) != 0 {
		t.Fatalf("payload %s", m.Payload)
	}
	if m = next(t, c, false); m.Type != "complete" || m.ID != "1" {
		t.Fatalf("complete: %+v", m)
	}
	// graphql-transport-ws answers a client's ping.
	send(t, c, wsMsg{Type: "ping"})
	if m = next(t, c, false); m.Type != "pong" {
		t.Fatalf("pong: %+v", m)
	}
	// A field error travels in the next payload, with its code.
	send(t, c, wsMsg{ID: "2", Type: "subscribe", Payload: json2(map[string]string{"query": "{ apiTokens { name } }"})})
	m = next(t, c, false)
	onlyError(t, decodeWire(t, string(m.Payload)).Errors, "FORBIDDEN", "this token's role (read) may not manage tokens")
	_ = c.Close(websocket.StatusNormalClosure, "")

	// Legacy graphql-ws: init with authToken, start, data, complete.
	c = dialWS(t, e.Srv.URL, "graphql-ws", nil)
	send(t, c, wsMsg{Type: "connection_init", Payload: json2(map[string]string{"authToken": e.Tokens[model.RoleAdmin]})})
	if m = next(t, c, true); m.Type != "connection_ack" {
		t.Fatalf("init: %+v", m)
	}
	if m = next(t, c, true); m.Type != "ka" {
		t.Fatalf("first keep-alive: %+v", m)
	}
	send(t, c, wsMsg{ID: "7", Type: "start", Payload: json2(map[string]string{"query": "{ viewer { role } }"})})
	m = next(t, c, false)
	if w := decodeWire(t, string(m.Payload)); m.Type != "data" || m.ID != "7" || string(w.Data) != `{"viewer":{"role":"ADMIN"}}` {
		t.Fatalf("data: %+v", m)
	}
	if m = next(t, c, false); m.Type != "complete" || m.ID != "7" {
		t.Fatalf("complete: %+v", m)
	}
	_ = c.Close(websocket.StatusNormalClosure, "")

	// A client that cannot set connection_init sends the header on the upgrade.
	c = dialWS(t, e.Srv.URL, "graphql-transport-ws", http.Header{"Authorization": {"Bearer " + read}})
	send(t, c, wsMsg{Type: "connection_init"})
	if m = next(t, c, false); m.Type != "connection_ack" {
		t.Fatalf("init with the upgrade's header: %+v", m)
	}
}

func TestWebsocketRefusals(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	ctx := context.Background()
	tok, text, err := e.Store.Create(ctx, e.WS, "gone", model.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Store.Revoke(ctx, e.WS, tok.ID); err != nil {
		t.Fatal(err)
	}
	const required = `an API token is required in connection_init: {"Authorization": "Bearer <token>"} or {"authToken": "<token>"}`
	cases := []struct {
		payload any
		msg     string
	}{
		{nil, required},
		{map[string]string{}, required},
		{map[string]string{"authToken": ""}, required},
		{map[string]string{"Authorization": "Basic abc"}, "the Authorization value must be `Bearer <token>`"},
		{map[string]string{"Authorization": "Bearer lg_garbage"}, "invalid API token"},
		{map[string]string{"authToken": text}, "API token has been revoked"},
	}
	for ci, c := range cases {
		t.Run(fmt.Sprint(ci), func(t *testing.T) {
			// graphql-transport-ws has no connection_error: the close says it all.
			conn := dialWS(t, e.Srv.URL, "graphql-transport-ws", nil)
			send(t, conn, wsMsg{Type: "connection_init", Payload: json2(c.payload)})
			expectClose(t, conn, graph.WebsocketCloseUnauthorized, "Unauthorized: "+c.msg)

			// graphql-ws: connection_error with the message, then the same close.
			conn = dialWS(t, e.Srv.URL, "graphql-ws", nil)
			send(t, conn, wsMsg{Type: "connection_init", Payload: json2(c.payload)})
			m := next(t, conn, true)
			if m.Type != "connection_error" || string(m.Payload) != string(json2(map[string]string{"message": c.msg})) {
				t.Fatalf("graphql-ws %v: %+v", c.payload, m)
			}
			expectClose(t, conn, graph.WebsocketCloseUnauthorized, "Unauthorized: "+c.msg)
		})
	}
	// A bad header on the upgrade is refused before the upgrade, like any request.
	ctx, cancel := context.WithTimeout(ctx, testwait.Safety)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, strings.Replace(e.Srv.URL, "http", "ws", 1)+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: http.Header{"Authorization": {"Bearer lg_garbage"}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad upgrade header: %v %+v", err, resp)
	}
}

func TestWebsocketKeepAliveAndInitTimeout(t *testing.T) {
	t.Parallel()
	// An interval short enough for a quick test, long enough that a client on a
	// loaded machine answers a ping within the server's 2x-interval pong deadline;
	// the clients that send connection_init have all the time they may need.
	e := testserver.NewWith(t, rest.Limits{}, func(c *graph.Config) {
		c.WebsocketKeepAlive = time.Second
		c.WebsocketInitTimeout = testwait.Safety
	})
	init := wsMsg{Type: "connection_init", Payload: json2(map[string]string{"authToken": e.Tokens[model.RoleRead]})}

	c := dialWS(t, e.Srv.URL, "graphql-ws", nil)
	send(t, c, init)
	if m := next(t, c, true); m.Type != "connection_ack" {
		t.Fatalf("init: %+v", m)
	}
	for i := range 3 { // one right after the ack, then one per interval
		if m := next(t, c, true); m.Type != "ka" {
			t.Fatalf("keep-alive %d: %+v", i, m)
		}
	}

	c = dialWS(t, e.Srv.URL, "graphql-transport-ws", nil)
	send(t, c, init)
	if m := next(t, c, false); m.Type != "connection_ack" {
		t.Fatalf("init: %+v", m)
	}
	for i := range 2 {
		if m := next(t, c, false); m.Type != "ping" {
			t.Fatalf("ping %d: %+v", i, m)
		}
		send(t, c, wsMsg{Type: "pong"})
	}

	// No connection_init in time: gqlgen closes with 1002 (graphql-transport-ws would
	// have 4408; see README "GraphQL over HTTP").
	// (A second server over the same database, whose init timeout is short.)
	quick := e.Peer(t, testserver.Options{Configure: func(c *graph.Config) { c.WebsocketInitTimeout = 100 * time.Millisecond }})
	c = dialWS(t, quick.Srv.URL, "graphql-transport-ws", nil)
	expectClose(t, c, websocket.StatusProtocolError, "connection initialisation timeout")
}

// TestResponseStatsPerSubscriptionEvent checks, without a subscription in the schema
// yet, that each event of a subscription gets its own statement counter and a
// duration that leaves out the wait for the event: an executable schema stand-in
// whose event "resolver" runs statements through a real pool (pgx directly, a batch,
// bun over database/sql, COPY).
func TestResponseStatsPerSubscriptionEvent(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: `type Query { x: Int } type Subscription { tick: Int! }`})
	events := make(chan func(context.Context) error)
	es := &graphql.ExecutableSchemaMock{
		SchemaFunc:     func() *ast.Schema { return schema },
		ComplexityFunc: func(context.Context, string, string, int, map[string]any) (int, bool) { return 0, false },
		ExecFunc: func(ctx context.Context) graphql.ResponseHandler {
			n := 0
			return func(ctx context.Context) *graphql.Response {
				var run func(context.Context) error
				select {
				case run = <-events:
				case <-ctx.Done():
					return nil
				}
				n++
				// Field resolution as generated code does it: through the field middleware.
				_, err := graphql.GetOperationContext(ctx).ResolverMiddleware(ctx, func(ctx context.Context) (any, error) {
					return nil, run(ctx)
				})
				if err != nil {
					return graphql.ErrorResponse(ctx, "%v", err)
				}
				return &graphql.Response{Data: json2(map[string]int{"tick": n})}
			}
		},
	}
	srv := handler.New(es)
	srv.AddTransport(transport.Websocket{})
	srv.Use(graph.ResponseStats{})
	srv.Use(graph.EventClock{})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)

	c := dialWS(t, hs.URL, "graphql-transport-ws", nil)
	send(t, c, wsMsg{Type: "connection_init"})
	if m := next(t, c, false); m.Type != "connection_ack" {
		t.Fatalf("init: %+v", m)
	}
	send(t, c, wsMsg{ID: "s", Type: "subscribe", Payload: json2(map[string]string{"query": "subscription { tick }"})})
	for i, ev := range []struct {
		statements int64
		run        func(ctx context.Context) error
	}{
		{1, func(ctx context.Context) error { _, err := d.Pool.Exec(ctx, "SELECT 1"); return err }},
		{3, func(ctx context.Context) error {
			b := &pgx.Batch{}
			b.Queue("SELECT 1")
			b.Queue("SELECT 2")
			if err := d.Pool.SendBatch(ctx, b).Close(); err != nil {
				return err
			}
			var n int
			return d.Bun.NewRaw("SELECT 3").Scan(ctx, &n)
		}},
		{3, func(ctx context.Context) error {
			conn, err := d.Pool.Acquire(ctx)
			if err != nil {
				return err
			}
			defer conn.Release()
			if _, err := conn.Exec(ctx, "CREATE TEMP TABLE IF NOT EXISTS copied (x int)"); err != nil {
				return err
			}
			if _, err := conn.CopyFrom(ctx, pgx.Identifier{"copied"}, []string{"x"}, pgx.CopyFromRows([][]any{{1}, {2}})); err != nil {
				return err
			}
			_, err = conn.Exec(ctx, "DROP TABLE copied")
			return err
		}},
	} {
		time.Sleep(300 * time.Millisecond) // the wait for the event, not in its duration
		pushed := time.Now()
		events <- ev.run
		m := next(t, c, false)
		sincePush := time.Since(pushed)
		w := decodeWire(t, string(m.Payload))
		if m.Type != "next" || w.Errors != nil || string(w.Data) != fmt.Sprintf(`{"tick":%d}`, i+1) {
			t.Fatalf("event %d: %+v", i+1, m)
		}
		if n := w.stats(t); n != ev.statements {
			t.Fatalf("event %d counted %d statements, want %d", i+1, n, ev.statements)
		}
		// The event's clock starts after it was pushed, so its duration is within the
		// time from the push to the reply, however slow the machine; counted from the
		// subscription's start it would also hold the 300 ms wait before the push.
		if ms := *w.Extensions.Stats.DurationMs; ms > float64(sincePush.Microseconds())/1000 {
			t.Fatalf("event %d: durationMs %v is more than the %v from the push to the reply: it includes the wait", i+1, ms, sincePush)
		}
	}
	if db.StatementCount(context.Background()) != 0 {
		t.Fatal("a context without a counter counts")
	}
}

// TestWebsocketFragmentBomb: the fragment bomb is refused over websockets as it is
// over HTTP (the guard is an executor extension, so every transport has it).
func TestWebsocketFragmentBomb(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	var bomb strings.Builder
	bomb.WriteString("{ ...F0 }")
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&bomb, " fragment F%d on Query { ...F%d ...F%d }", i, i+1, i+1)
	}
	bomb.WriteString(" fragment F30 on Query { __typename }")
	c := dialWS(t, e.Srv.URL, "graphql-transport-ws", nil)
	send(t, c, wsMsg{Type: "connection_init", Payload: json2(map[string]string{"Authorization": "Bearer " + e.Tokens[model.RoleRead]})})
	if m := next(t, c, false); m.Type != "connection_ack" {
		t.Fatalf("init: %+v", m)
	}
	send(t, c, wsMsg{ID: "1", Type: "subscribe", Payload: json2(map[string]string{"query": bomb.String()})})
	m := next(t, c, false)
	// gqlgen reports a refused operation as a next message carrying the error.
	// The document limits refuse it before validation: 2^30 fields, fragments expanded.
	if (m.Type != "error" && m.Type != "next") || !strings.Contains(string(m.Payload), "TOO_MANY_FIELDS") {
		t.Fatalf("got %s %s", m.Type, m.Payload)
	}
}

// TestComplexityWeighsPageSize: a connection costs its page size times its
// selection, so a nested page of pages is refused while a big flat page passes.
func TestComplexityWeighsPageSize(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	var flat reply[json.RawMessage]
	e.GraphQL(e.Tokens[model.RoleRead], `{ appLogs(first: 1000) { pageInfo { hasNextPage } nodes { id kind timestamp severity message source level service details } } }`, nil, &flat)
	if len(flat.Errors) > 0 {
		t.Fatalf("a flat page of 1000 was refused: %+v", flat.Errors)
	}
	var nested reply[json.RawMessage]
	e.GraphQL(e.Tokens[model.RoleRead], `{ integrations(first: 1000) { nodes { logs(first: 1000) { nodes { id } } } } }`, nil, &nested)
	got := onlyError(t, nested.Errors, "COMPLEXITY_LIMIT_EXCEEDED",
		"operation has complexity 2002001, which exceeds the limit of 25000: select fewer fields, use fewer aliases or split the operation")
	if got.Extensions["complexity"] != float64(2002001) {
		t.Fatalf("extensions %+v", got.Extensions)
	}
}

// TestDeferAnswersInline: a fragment under @defer is answered in the one response,
// exactly as without the directive (the HTTP transports do not stream incremental
// payloads), on the paths where objects' deferred groups are built lazily
// (serial.NewDeferredGroup).
func TestDeferAnswersInline(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	auth := []string{"Authorization", "Bearer " + e.Tokens[model.RoleRead]}
	_, plain := post(e, gqlBody(`{ viewer { workspace { slug name } } }`), auth...)
	resp, deferred := post(e, gqlBody(`{ viewer { workspace { slug ... @defer(label: "x") { name } } } }`), auth...)
	w, want := expect(t, resp, deferred, http.StatusOK, "application/json; charset=utf-8"), decodeWire(t, plain)
	if string(w.Data) != string(want.Data) || len(w.Errors) != 0 {
		t.Fatalf("with @defer: %s, want %s", deferred, plain)
	}
}
