package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

// fixture ingests a small, fully known data set of every kind into the test
// workspace, through the public ingest route.
func fixture(t *testing.T, e *testserver.Env) {
	t.Helper()
	tok := e.Tokens[model.RoleIngest]
	var app, req, integ, action, ref strings.Builder
	base := time.Date(2024, 6, 13, 12, 0, 0, 0, time.UTC)
	levels := []string{"DEBUG", "INFO", "WARN", "ERROR", "FATAL"}
	for i := 0; i < 10; i++ {
		ts := base.Add(time.Duration(i) * time.Minute).Format(time.RFC3339)
		fmt.Fprintf(&app, `{"id":"00000000-0000-7000-8000-%012d","timestamp":%q,"level":%q,"service":"svc-%d","message":"User %d Logged In","details":{"user_id":%d,"n":{"deep":%d}}}`+"\n",
			i, ts, levels[i%5], i%2, i, i, i%3)
		code := []int{200, 201, 404, 500, 302}[i%5]
		client := ""
		if i%2 == 0 {
			client = `,"client":"Team A"`
		}
		fmt.Fprintf(&req, `{"id":"10000000-0000-7000-8000-%012d","received_at":%q,"code":%d,"ip":"10.0.0.%d","timing_ms":%d,"delay_ms":1,"collection":"coll-%d","collection_type":%q,"endpoint":"GET /items/%d"%s}`+"\n",
			i, ts, code, i, i*10, i%2, []string{"recipe", "proxy"}[i%2], i%3, client)
		fmt.Fprintf(&integ, `{"id":"20000000-0000-7000-8000-%012d","integration_id":"aaaaaaaa-0000-4000-8000-00000000000%d","integration_name":"hook-%d","job_id":"bbbbbbbb-0000-4000-8000-00000000000%d","succeeded":%v,"attempt":%d,"status_code":%d,"error_detail":%s,"created_at":%q}`+"\n",
			i, i%2, i%2, i%4, i%3 != 0, i%3+1, []int{500, 200, 200}[i%3], map[bool]string{true: `"boom"`, false: "null"}[i%3 == 0], ts)
		fmt.Fprintf(&action, `{"id":%d,"level":%d,"logger_name":"logger-%d","message":"Action %d","app_name":"oms","created_at":%q}`+"\n",
			100+i, (i%6)*10, i%2, i, ts)
		fmt.Fprintf(&ref, `{"logs_id":"log-%02d","api_reference_id":"ref-%d","api_reference_name":"Ref %d","user_id":"u%d","user_name":"User %d","title":"Import %d","modified_at":%q,"error_count":%d,"alerts_count":%d}`+"\n",
			i, i%2, i%2, i%3, i%3, i, ts, i%2, i%3)
	}
	for kind, body := range map[string]string{"app": app.String(), "api-request": req.String(), "integration": integ.String(),
		"action": action.String(), "api-reference": ref.String()} {
		if resp, reply := e.Ingest(kind, tok, body); resp.StatusCode != 200 {
			t.Fatalf("fixture %s: %d %s", kind, resp.StatusCode, reply)
		}
	}
}

type page struct {
	TotalCount int `json:"totalCount"`
	PageInfo   struct {
		HasNextPage, HasPreviousPage bool
		StartCursor, EndCursor       *string
	} `json:"pageInfo"`
	Edges []struct {
		Cursor string          `json:"cursor"`
		Node   json.RawMessage `json:"node"`
	} `json:"edges"`
	Nodes []map[string]any `json:"nodes"`
}

// query runs a read and fails on errors.
func query(t *testing.T, e *testserver.Env, q string, vars map[string]any) map[string]json.RawMessage {
	t.Helper()
	var r reply[map[string]json.RawMessage]
	e.GraphQL(e.Tokens[model.RoleRead], q, vars, &r)
	if len(r.Errors) > 0 {
		t.Fatalf("%s\nerrors: %+v", q, r.Errors)
	}
	return r.Data
}

func pageOf(t *testing.T, raw json.RawMessage) page {
	t.Helper()
	var p page
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return p
}

func ids(p page) []string {
	out := make([]string, len(p.Nodes))
	for i, n := range p.Nodes {
		out[i] = fmt.Sprint(n["id"])
	}
	return out
}

func TestListsFilterEveryKind(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	fixture(t, e)
	cases := []struct {
		name, query string
		want        []string
	}{
		{"app newest first", `{ x: appLogs(first: 3) { nodes { id } } }`,
			[]string{"00000000-0000-7000-8000-000000000009", "00000000-0000-7000-8000-000000000008", "00000000-0000-7000-8000-000000000007"}},
		{"app levels+services", `{ x: appLogs(filter: {levels: [ERROR, FATAL], services: ["svc-1"]}) { nodes { id } } }`,
			[]string{"00000000-0000-7000-8000-000000000009", "00000000-0000-7000-8000-000000000003"}},
		{"app search is case-insensitive", `{ x: appLogs(filter: {search: "user 7 logged"}) { nodes { id } } }`,
			[]string{"00000000-0000-7000-8000-000000000007"}},
		{"app details containment", `{ x: appLogs(filter: {details: {n: {deep: 2}}}) { nodes { id } } }`,
			[]string{"00000000-0000-7000-8000-000000000008", "00000000-0000-7000-8000-000000000005", "00000000-0000-7000-8000-000000000002"}},
		{"app time window", `{ x: appLogs(filter: {time: {from: "2024-06-13T12:02:00Z", to: "2024-06-13T12:04:00Z"}}) { nodes { id } } }`,
			[]string{"00000000-0000-7000-8000-000000000003", "00000000-0000-7000-8000-000000000002"}},
		{"requests code class + client", `{ x: apiRequestLogs(filter: {codeClasses: ["4xx", "5xx"], clients: ["Team A"]}) { nodes { id } } }`,
			[]string{"10000000-0000-7000-8000-000000000008", "10000000-0000-7000-8000-000000000002"}},
		{"requests outcome + collection type + timing", `{ x: apiRequestLogs(filter: {outcome: SUCCESS, collectionType: PROXY, minTimingMs: 10, maxTimingMs: 50}) { nodes { id } } }`,
			[]string{"10000000-0000-7000-8000-000000000005", "10000000-0000-7000-8000-000000000001"}},
		{"requests ip range + endpoint", `{ x: apiRequestLogs(filter: {ips: ["10.0.0.0/29"], endpoints: ["GET /items/0"]}) { nodes { id } } }`,
			[]string{"10000000-0000-7000-8000-000000000006", "10000000-0000-7000-8000-000000000003", "10000000-0000-7000-8000-000000000000"}},
		{"integration failures of one integration", `{ x: integrationLogs(filter: {integrationIds: ["aaaaaaaa-0000-4000-8000-000000000000"], succeeded: false}) { nodes { id } } }`,
			[]string{"20000000-0000-7000-8000-000000000006", "20000000-0000-7000-8000-000000000000"}},
		{"integration retries and codes", `{ x: integrationLogs(filter: {minAttempt: 3, statusCodes: [200]}) { nodes { id } } }`,
			[]string{"20000000-0000-7000-8000-000000000008", "20000000-0000-7000-8000-000000000005", "20000000-0000-7000-8000-000000000002"}},
		{"action level range", `{ x: actionLogs(filter: {minLevel: 30, maxLevel: 40, loggerNames: ["logger-1"]}) { nodes { id } } }`,
			[]string{"109", "103"}},
		{"api reference errors", `{ x: apiReferenceLogs(filter: {hasErrors: true, hasAlerts: false, apiReferenceIds: ["ref-1"]}) { nodes { id } } }`,
			[]string{"log-09", "log-03"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ids(pageOf(t, query(t, e, c.query, nil)["x"]))
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Fatalf("got  %v\nwant %v", got, c.want)
			}
		})
	}
}

func TestRelayPaging(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	fixture(t, e)
	q := `query($first: Int, $after: String, $last: Int, $before: String) {
		x: actionLogs(first: $first, after: $after, last: $last, before: $before) {
			totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor } nodes { id } } }`
	var forward []string
	var after any
	for i := 0; ; i++ {
		p := pageOf(t, query(t, e, q, map[string]any{"first": 4, "after": after})["x"])
		forward = append(forward, ids(p)...)
		if p.TotalCount != 10 {
			t.Fatalf("totalCount %d", p.TotalCount)
		}
		if want := i < 2; p.PageInfo.HasNextPage != want {
			t.Fatalf("page %d: hasNextPage %v", i, p.PageInfo.HasNextPage)
		}
		if !p.PageInfo.HasNextPage {
			break
		}
		after = *p.PageInfo.EndCursor
	}
	if strings.Join(forward, ",") != "109,108,107,106,105,104,103,102,101,100" {
		t.Fatalf("forward %v", forward)
	}
	var backward []string
	var before any
	for i := 0; ; i++ {
		p := pageOf(t, query(t, e, q, map[string]any{"last": 4, "before": before})["x"])
		backward = append(ids(p), backward...)
		if want := i < 2; p.PageInfo.HasPreviousPage != want {
			t.Fatalf("page %d: hasPreviousPage %v", i, p.PageInfo.HasPreviousPage)
		}
		if len(p.Edges) > 0 && p.Edges[0].Cursor != *p.PageInfo.StartCursor {
			t.Fatal("startCursor is not the first edge's")
		}
		if !p.PageInfo.HasPreviousPage {
			break
		}
		before = *p.PageInfo.StartCursor
	}
	if strings.Join(backward, ",") != strings.Join(forward, ",") {
		t.Fatalf("backward pages %v differ from forward %v (edge order must be the same)", backward, forward)
	}
	// A page between two cursors.
	p1 := pageOf(t, query(t, e, q, map[string]any{"first": 10})["x"])
	mid := pageOf(t, query(t, e, q, map[string]any{"first": 10, "after": p1.Edges[1].Cursor, "before": p1.Edges[5].Cursor})["x"])
	if strings.Join(ids(mid), ",") != "107,106,105" {
		t.Fatalf("between cursors: %v", ids(mid))
	}
	// Stable while rows arrive: a newer row does not shift the next page.
	second := pageOf(t, query(t, e, q, map[string]any{"first": 3, "after": p1.Edges[2].Cursor})["x"])
	e.Ingest("action", e.Tokens[model.RoleIngest], `{"id":500,"level":1,"logger_name":"l","message":"m","app_name":"a"}`)
	again := pageOf(t, query(t, e, q, map[string]any{"first": 3, "after": p1.Edges[2].Cursor})["x"])
	if strings.Join(ids(second), ",") != strings.Join(ids(again), ",") {
		t.Fatalf("page moved after an ingest: %v then %v", ids(second), ids(again))
	}
}

func TestPagingErrors(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	fixture(t, e)
	appCursor := pageOf(t, query(t, e, `{ x: appLogs(first: 1) { edges { cursor } nodes { id } } }`, nil)["x"]).Edges[0].Cursor
	cases := []struct{ name, query, msg string }{
		{"negative first", `{ appLogs(first: -1) { nodes { id } } }`, "first: -1 is negative"},
		{"page too big", `{ appLogs(first: 1001) { nodes { id } } }`, "first: 1001 is above the maximum page size 1000"},
		{"first and last", `{ appLogs(first: 1, last: 1) { nodes { id } } }`, "give first or last, not both"},
		{"tampered cursor", `{ appLogs(after: "bm90IGEgY3Vyc29y") { nodes { id } } }`, "after: not a valid cursor"},
		{"garbage cursor", `{ appLogs(before: "%%%") { nodes { id } } }`, "before: not a valid cursor"},
		{"foreign cursor", fmt.Sprintf(`{ actionLogs(after: %q) { nodes { id } } }`, appCursor), "after: the cursor belongs to another list"},
		{"cursor with a bad id", fmt.Sprintf(`{ appLogs(after: %q) { nodes { id } } }`, model.Cursor{Scope: "APP", Time: time.Now(), ID: "x'; DROP TABLE app_logs"}.Encode()), "after/before: not a valid cursor"},
		{"from after to", `{ appLogs(filter: {time: {from: "2024-01-02T00:00:00Z", to: "2024-01-01T00:00:00Z"}}) { nodes { id } } }`, "time: from (2024-01-02T00:00:00Z) must be before to (2024-01-01T00:00:00Z)"},
		{"last with from", `{ appLogs(filter: {time: {from: "2024-01-02T00:00:00Z", last: "1h"}}) { nodes { id } } }`, "time: give either last or from/to, not both"},
		{"bad code class", `{ apiRequestLogs(filter: {codeClasses: ["6xx"]}) { nodes { id } } }`, `codeClasses: "6xx" is not one of 1xx, 2xx, 3xx, 4xx, 5xx`},
		{"bad ip", `{ apiRequestLogs(filter: {ips: ["nope"]}) { nodes { id } } }`, `ips[0]: "nope" is not an IP address or CIDR range`},
		{"min above max", `{ actionLogs(filter: {minLevel: 40, maxLevel: 10}) { nodes { id } } }`, "minLevel (40) is greater than maxLevel (10)"},
		{"bad integration id", `{ integrationLogs(filter: {integrationIds: ["x"]}) { nodes { id } } }`, `integrationIds[0]: "x" is not a valid id`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r reply[json.RawMessage]
			e.GraphQL(e.Tokens[model.RoleRead], c.query, nil, &r)
			onlyError(t, r.Errors, "BAD_USER_INPUT", c.msg)
		})
	}
	scalarCases := []struct {
		query string
		vars  map[string]any
		msg   string
	}{
		{`{ appLogs(filter: {levels: [LOUD]}) { nodes { id } } }`, nil, `Value "LOUD" does not exist in "Severity!" enum.`},
		{`query($l: [Severity!]) { appLogs(filter: {levels: $l}) { nodes { id } } }`, map[string]any{"l": []string{"LOUD"}}, "LOUD is not a valid Severity"},
		{`{ appLogs(filter: {time: {last: "forever"}}) { nodes { id } } }`, nil, `"forever" is not a duration (e.g. 500ms, 15m, 1h, 7d)`},
		{`query($f: AppLogFilter) { appLogs(filter: $f) { nodes { id } } }`, map[string]any{"f": map[string]any{"time": map[string]any{"last": "-5m"}}}, `"-5m" is not a duration (e.g. 500ms, 15m, 1h, 7d)`},
		{`{ appLogs(filter: {time: {from: "nope"}}) { nodes { id } } }`, nil, `"nope" is not an RFC 3339 time (e.g. 2024-06-13T14:30:00Z)`},
		{`query($n: Int) { appLogs(first: $n) { nodes { id } } }`, map[string]any{"n": "x"}, "cannot use string as Int"},
		{`{ log(kind: BOGUS, id: "1") { id } }`, nil, `Value "BOGUS" does not exist in "LogKind!" enum.`},
	}
	for ci, c := range scalarCases {
		t.Run(fmt.Sprint(ci), func(t *testing.T) {
			var r reply[json.RawMessage]
			e.GraphQL(e.Tokens[model.RoleRead], c.query, c.vars, &r)
			onlyError(t, r.Errors, "BAD_USER_INPUT", c.msg)
		})
	}
	var unknownField reply[json.RawMessage]
	e.GraphQL(e.Tokens[model.RoleRead], `{ appLogs { nodes { nope } } }`, nil, &unknownField)
	if len(unknownField.Errors) != 1 || unknownField.Errors[0].Extensions["code"] != "GRAPHQL_VALIDATION_FAILED" {
		t.Fatalf("unknown field: %+v", unknownField.Errors)
	}
}

func TestLogsAcrossKinds(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	fixture(t, e)
	q := `query($after: String, $filter: LogFilter) { logs(first: 7, after: $after, filter: $filter) {
		totalCount pageInfo { hasNextPage endCursor } nodes { id kind timestamp severity message source } } }`
	var all []map[string]any
	var after any
	for {
		p := pageOf(t, query(t, e, q, map[string]any{"after": after})["logs"])
		if p.TotalCount != 50 {
			t.Fatalf("totalCount %d", p.TotalCount)
		}
		all = append(all, p.Nodes...)
		if !p.PageInfo.HasNextPage {
			break
		}
		after = *p.PageInfo.EndCursor
	}
	if len(all) != 50 {
		t.Fatalf("%d logs", len(all))
	}
	// Newest first; at equal times the kinds come in a fixed order, each once.
	for i := 1; i < len(all); i++ {
		if all[i]["timestamp"].(string) > all[i-1]["timestamp"].(string) {
			t.Fatalf("not newest first at %d", i)
		}
	}
	first5 := []string{}
	for _, n := range all[:5] {
		first5 = append(first5, n["kind"].(string))
	}
	if strings.Join(first5, ",") != "API_REFERENCE,ACTION,INTEGRATION,API_REQUEST,APP" {
		t.Fatalf("tie order %v", first5)
	}
	want := map[string]map[string]any{
		"APP":           {"severity": "FATAL", "message": "User 9 Logged In", "source": "svc-1"},
		"API_REQUEST":   {"severity": "INFO", "message": "302 Found GET /items/0", "source": "coll-1"},
		"INTEGRATION":   {"severity": "ERROR", "message": "boom", "source": "hook-1"},
		"ACTION":        {"severity": "WARN", "message": "Action 9", "source": "logger-1"},
		"API_REFERENCE": {"severity": "ERROR", "message": "Import 9", "source": "Ref 1"},
	}
	for _, n := range all[:5] {
		for k, v := range want[n["kind"].(string)] {
			if n[k] != v {
				t.Fatalf("%s %s = %v, want %v", n["kind"], k, n[k], v)
			}
		}
	}
	filtered := pageOf(t, query(t, e, q, map[string]any{"filter": map[string]any{"kinds": []string{"APP", "ACTION"}, "minSeverity": "ERROR"}})["logs"])
	if filtered.TotalCount != 4+2 {
		t.Fatalf("kinds+minSeverity: %d (%v)", filtered.TotalCount, filtered.Nodes)
	}
	sources := pageOf(t, query(t, e, q, map[string]any{"filter": map[string]any{"sources": []string{"hook-0", "svc-0"}, "search": "user"}})["logs"])
	if sources.TotalCount != 5 {
		t.Fatalf("sources+search: %d", sources.TotalCount)
	}
}

func TestRelationsAndLookups(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	fixture(t, e)
	d := query(t, e, `{
		integrationLogs(first: 1) { nodes { id job { id integration { name } } integration { name } } }
		apiRequestLogs(first: 2) { nodes { collection { name type } client { name } } }
		apiReferenceLogs(first: 1) { nodes { apiReference { id name } user { id name } } }
		integrations { totalCount nodes { name jobs(first: 1) { totalCount nodes { id } } logs(first: 2, filter: {succeeded: true}) { totalCount nodes { id } } } }
		apiCollections { nodes { name requestLogs(first: 1) { totalCount } } }
		apiClients { nodes { name requestLogs { totalCount } } }
		apiReferences { nodes { id logs(first: 1) { totalCount nodes { id } } } }
		integration(id: "aaaaaaaa-0000-4000-8000-000000000001") { name }
		missing: integration(id: "aaaaaaaa-0000-4000-8000-00000000000f") { name }
		apiReference(id: "ref-0") { name }
		action: log(kind: ACTION, id: "105") { id ... on ActionLog { level loggerName } }
		nolog: log(kind: APP, id: "not-an-id") { id }
	}`, nil)
	got, _ := json.Marshal(d)
	for _, want := range []string{
		`"integrationLogs":{"nodes":[{"id":"20000000-0000-7000-8000-000000000009","job":{"id":"bbbbbbbb-0000-4000-8000-000000000001","integration":{"name":"hook-1"}},"integration":{"name":"hook-1"}}]}`,
		`"apiRequestLogs":{"nodes":[{"collection":{"name":"coll-1","type":"PROXY"},"client":null},{"collection":{"name":"coll-0","type":"RECIPE"},"client":{"name":"Team A"}}]}`,
		`"apiReferenceLogs":{"nodes":[{"apiReference":{"id":"ref-1","name":"Ref 1"},"user":{"id":"u0","name":"User 0"}}]}`,
		`"integration":{"name":"hook-1"}`, `"missing":null`, `"apiReference":{"name":"Ref 0"}`,
		`"action":{"id":"105","level":50,"loggerName":"logger-1"}`, `"nolog":null`,
		`"apiClients":{"nodes":[{"name":"Team A","requestLogs":{"totalCount":5}}]}`,
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("missing %s\nin %s", want, got)
		}
	}
	var integrations struct {
		TotalCount int
		Nodes      []struct {
			Name string
			Jobs struct {
				TotalCount int
				Nodes      []struct{ ID string }
			}
			Logs struct {
				TotalCount int
				Nodes      []struct{ ID string }
			}
		}
	}
	if err := json.Unmarshal(d["integrations"], &integrations); err != nil {
		t.Fatal(err)
	}
	if integrations.TotalCount != 2 || len(integrations.Nodes) != 2 {
		t.Fatalf("integrations %+v", integrations)
	}
	for _, n := range integrations.Nodes {
		if n.Jobs.TotalCount != 2 || len(n.Jobs.Nodes) != 1 || len(n.Logs.Nodes) != 2 || n.Logs.TotalCount == 0 {
			t.Fatalf("integration %s: %+v", n.Name, n)
		}
	}
}

// TestWorkspaceIsolation: a token of workspace B sees none of workspace A's rows,
// through any root field, relation, lookup or cursor.
func TestWorkspaceIsolation(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	fixture(t, e)
	ctx := context.Background()
	wsB, err := db.NewWorkspaceStore(e.DB.Bun).Create(ctx, "other", "")
	if err != nil {
		t.Fatal(err)
	}
	_, tokB, err := db.NewTokenStore(e.DB.Bun).Create(ctx, wsB.ID, "b", model.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	aCursor := pageOf(t, query(t, e, `{ x: appLogs(first: 1) { edges { cursor } nodes { id } } }`, nil)["x"]).Edges[0].Cursor
	var r reply[map[string]json.RawMessage]
	e.GraphQL(tokB, fmt.Sprintf(`{
		logs { totalCount nodes { id } }
		appLogs(after: %q) { totalCount nodes { id } }
		apiRequestLogs { totalCount nodes { id } }
		integrationLogs(filter: {integrationIds: ["aaaaaaaa-0000-4000-8000-000000000001"]}) { totalCount nodes { id } }
		actionLogs { totalCount nodes { id } }
		apiReferenceLogs(filter: {apiReferenceIds: ["ref-0"]}) { totalCount nodes { id } }
		integrations { totalCount nodes { id } }
		apiReferences { totalCount nodes { id } }
		apiCollections { totalCount nodes { id } }
		apiClients { totalCount nodes { id } }
		integration(id: "aaaaaaaa-0000-4000-8000-000000000001") { id }
		apiReference(id: "ref-0") { id }
		app: log(kind: APP, id: "00000000-0000-7000-8000-000000000001") { id }
		action: log(kind: ACTION, id: "101") { id }
		ref: log(kind: API_REFERENCE, id: "log-01") { id }
	}`, aCursor), nil, &r)
	if len(r.Errors) > 0 {
		t.Fatalf("%+v", r.Errors)
	}
	for field, raw := range r.Data {
		s := string(raw)
		if s != "null" && s != `{"totalCount":0,"nodes":[]}` {
			t.Errorf("workspace B sees %s: %s", field, s)
		}
	}
}

// TestDatabaseFailureIsInternal: a failing statement answers INTERNAL_SERVER_ERROR
// with "internal error" and the request id, never the SQL error.
func TestDatabaseFailureIsInternal(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	if _, err := e.DB.Pool.Exec(context.Background(), "DROP TABLE api_clients"); err != nil {
		t.Fatal(err)
	}
	var r reply[json.RawMessage]
	e.GraphQL(e.Tokens[model.RoleRead], `{ apiClients { nodes { name } } }`, nil, &r)
	got := onlyError(t, r.Errors, "INTERNAL_SERVER_ERROR", "internal error")
	if fmt.Sprint(got.Path) != "[apiClients]" {
		t.Fatalf("path %v", got.Path)
	}
}

// TestStatementTimeoutIsQueryTimeout: a read cancelled by statement_timeout answers
// QUERY_TIMEOUT with advice, not an internal error.
func TestStatementTimeoutIsQueryTimeout(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	ctx := context.Background()
	name := e.DB.Pool.Config().ConnConfig.Database
	if _, err := e.DB.Pool.Exec(ctx, "ALTER DATABASE "+name+" SET statement_timeout = '200ms'"); err != nil {
		t.Fatal(err)
	}
	e.DB.Pool.Reset() // new connections take the database's setting
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
}
