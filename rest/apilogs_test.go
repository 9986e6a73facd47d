package rest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

// window2024 pins the 003 tests' fixed rows inside from/to (the default period is
// relative to now and would exclude them).
const window2024 = "from=2024-01-01T00:00:00Z&to=2025-01-01T00:00:00Z"

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustIngest(t *testing.T, e *testserver.Env, kind, body string) {
	t.Helper()
	if resp, reply := e.Ingest(kind, e.Tokens[model.RoleIngest], body); resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest %s: %d %s", kind, resp.StatusCode, reply)
	}
}

// get sends a GET with a bearer token (none when token is empty).
func get(e *testserver.Env, token, path string) (*http.Response, string) {
	if token == "" {
		return e.Do(http.MethodGet, path, nil)
	}
	return e.Do(http.MethodGet, path, nil, "Authorization", "Bearer "+token)
}

// csvLines returns the data lines of a CSV whose fields hold no line breaks.
func csvLines(body string) []string {
	lines := strings.Split(strings.TrimSuffix(body, "\r\n"), "\r\n")
	return lines[1:]
}

// TestAPILogsExportCSVExact: header and rows byte for byte, newest first, with RFC
// 4180 quoting of commas, quotes and line breaks, empty cells for absent values, the
// reason phrase, Success/Error, and a row outside from/to left out; the file starts
// with a UTF-8 byte order mark (testdata/apilogs/export.csv holds it).
func TestAPILogsExportCSVExact(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	mustIngest(t, e, "api-request", readTestdata(t, "apilogs/rows.ndjson"))
	resp, body := get(e, e.Tokens[model.RoleRead], "/api-logs/export.csv?"+window2024)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if got, want := resp.Header.Get("Content-Type"), "text/csv; charset=utf-8"; got != want {
		t.Fatalf("Content-Type %q, want %q", got, want)
	}
	if got, want := resp.Header.Get("Content-Disposition"), `attachment; filename="api-logs.csv"`; got != want {
		t.Fatalf("Content-Disposition %q, want %q", got, want)
	}
	if want := readTestdata(t, "apilogs/export.csv"); body != want {
		t.Fatalf("CSV differs:\n got: %q\nwant: %q", body, want)
	}
	// An empty result is the header alone.
	_, body = get(e, e.Tokens[model.RoleAdmin], "/api-logs/export.csv?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z")
	if want := "\uFEFFDate,Type,Code,Status,Gateway code,Status details,IP,Timing,Delay,API collection,Endpoint,Client,Job details\r\n"; body != want {
		t.Fatalf("empty export: %q", body)
	}
}

type apiLogsReply struct {
	Data       []map[string]any `json:"data"`
	NextCursor *string          `json:"next_cursor"`
	Error      string           `json:"error"`
	Code       string           `json:"code"`
}

func getAPILogs(t *testing.T, e *testserver.Env, query string) apiLogsReply {
	t.Helper()
	resp, body := get(e, e.Tokens[model.RoleRead], "/api-logs?"+query)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %s", query, resp.StatusCode, body)
	}
	var r apiLogsReply
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestAPILogsJSONShape: the JSON list names the CSV columns in snake_case, in the
// CSV's order, with null for absent values.
func TestAPILogsJSONShape(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	mustIngest(t, e, "api-request", readTestdata(t, "apilogs/rows.ndjson"))
	resp, body := get(e, e.Tokens[model.RoleRead], "/api-logs?limit=2&"+window2024)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var raw struct {
		Data       []json.RawMessage `json:"data"`
		NextCursor *string           `json:"next_cursor"`
	}
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Data) != 2 || raw.NextCursor == nil {
		t.Fatalf("want 2 rows and a next cursor: %s", body)
	}
	want := `{"id":"11111111-1111-4111-8111-111111111111","date":"2024-06-13T14:30:00Z","type":"Error","code":404,"status":"Not Found",` +
		`"gateway_code":4041,"status_details":"Recipe is inactive","ip":"203.0.113.9","timing":35,"delay":2,"api_collection":"Orders API",` +
		`"endpoint":"GET /orders/{id}","client":"Customer Success Team","job_details":"https://example.com/jobs/1"}`
	if got := string(raw.Data[1]); got != want {
		t.Fatalf("row:\n got %s\nwant %s", got, want)
	}
	want = `{"id":"22222222-2222-4222-8222-222222222222","date":"2024-06-13T14:31:00.5Z","type":"Success","code":200,"status":"OK",` +
		`"gateway_code":null,"status_details":"line1\nline2","ip":"2001:db8::1","timing":120,"delay":0,"api_collection":"Proxy, \"Legacy\"",` +
		`"endpoint":"POST /items","client":null,"job_details":null}`
	if got := string(raw.Data[0]); got != want {
		t.Fatalf("row:\n got %s\nwant %s", got, want)
	}
	last := getAPILogs(t, e, "limit=2&"+window2024+"&cursor="+url.QueryEscape(*raw.NextCursor))
	if len(last.Data) != 1 || last.Data[0]["id"] != "33333333-3333-4333-8333-333333333333" || last.NextCursor != nil {
		t.Fatalf("last page: %+v", last)
	}
	// A GraphQL apiRequestLogs cursor and ours are the same keyset position.
	var gql struct {
		Data struct {
			APIRequestLogs struct {
				PageInfo struct{ EndCursor string } `json:"pageInfo"`
			} `json:"apiRequestLogs"`
		} `json:"data"`
	}
	e.GraphQL(e.Tokens[model.RoleRead], `{ apiRequestLogs(first: 2, filter: {time: {from: "2024-01-01T00:00:00Z"}}) { pageInfo { endCursor } } }`, nil, &gql)
	if c := gql.Data.APIRequestLogs.PageInfo.EndCursor; c != *raw.NextCursor {
		t.Fatalf("GraphQL endCursor %q, ours %q", c, *raw.NextCursor)
	}
	empty := getAPILogs(t, e, "from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z")
	if empty.Data == nil || len(empty.Data) != 0 || empty.NextCursor != nil {
		t.Fatalf("empty page: %+v", empty)
	}
}

// TestAPILogsFilters: status, client, collection_type and collection, alone and
// together, on the JSON list and the CSV export alike.
func TestAPILogsFilters(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	mustIngest(t, e, "api-request", readTestdata(t, "apilogs/rows.ndjson"))
	const a, b, c = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333"
	const d = "44444444-4444-4444-8444-444444444444"
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{b, a, c}},
		{"status=404&status=401", []string{a, c}},
		{"status=200", []string{b}},
		{"client=Mobile+app", []string{c}},
		{"client=Mobile+app&client=Customer+Success+Team", []string{a, c}},
		{"collection_type=proxy", []string{b}},
		{"collection_type=RECIPE", []string{a, c}},
		{"collection=" + url.QueryEscape(`Proxy, "Legacy"`), []string{b}},
		{"collection=Orders+API&status=401", []string{c}},
		{"collection=Nope", nil},
		{"from=2024-06-13T00:00:00Z", []string{b, a}},                                 // to open
		{"from=2024-06-13T00:00:00Z&to=2024-06-13T14:31:00Z", []string{a}},            // to exclusive
		{"from=2023-01-01T00:00:00Z&to=2024-01-01T00:00:00Z&period=24h", []string{d}}, // from/to win over period
	} {
		t.Run(tc.query, func(t *testing.T) {
			q := tc.query
			if !strings.Contains(q, "from=") {
				q += "&" + window2024
			}
			var got []string
			for _, row := range getAPILogs(t, e, q).Data {
				got = append(got, row["id"].(string))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("JSON %s: got %v, want %v", tc.query, got, tc.want)
			}
			resp, body := get(e, e.Tokens[model.RoleRead], "/api-logs/export.csv?"+q)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("CSV %s: %d %s", tc.query, resp.StatusCode, body)
			}
			if n := strings.Count(body, "\r\n2024-") + strings.Count(body, "\r\n2023-"); n != len(tc.want) {
				t.Errorf("CSV %s: %d rows, want %d:\n%s", tc.query, n, len(tc.want), body)
			}
		})
	}
}

// TestAPILogsPeriod: the default period is 30 days; each period and from/to
// override it.
func TestAPILogsPeriod(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	now := time.Now().UTC()
	var b strings.Builder
	for i, age := range []time.Duration{time.Hour, 3 * 24 * time.Hour, 20 * 24 * time.Hour, 60 * 24 * time.Hour, 120 * 24 * time.Hour} {
		fmt.Fprintf(&b, `{"id":"00000000-0000-4000-8000-00000000000%d","received_at":%q,"code":200,"ip":"10.0.0.1","timing_ms":1,"delay_ms":0,"collection":"C","collection_type":"recipe","endpoint":"GET /"}`+"\n",
			i, now.Add(-age).Format(time.RFC3339Nano))
	}
	mustIngest(t, e, "api-request", b.String())
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"", 3}, {"period=24h", 1}, {"period=7d", 2}, {"period=30d", 3}, {"period=90d", 4},
		{"period=24h&from=" + now.Add(-200*24*time.Hour).Format(time.RFC3339), 5},
		{"period=90d&to=" + now.Add(-100*24*time.Hour).Format(time.RFC3339), 1},
	} {
		t.Run(tc.query, func(t *testing.T) {
			if got := len(getAPILogs(t, e, tc.query).Data); got != tc.want {
				t.Errorf("JSON %q: %d rows, want %d", tc.query, got, tc.want)
			}
			resp, body := get(e, e.Tokens[model.RoleRead], "/api-logs/export.csv?"+tc.query)
			if got := len(csvLines(body)); resp.StatusCode != http.StatusOK || got != tc.want {
				t.Errorf("CSV %q: %d rows, want %d (%d)", tc.query, got, tc.want, resp.StatusCode)
			}
		})
	}
}

// TestAPILogsPagingWhileIngesting: pages of the JSON list neither repeat nor skip a
// row while newer rows arrive between pages.
func TestAPILogsPagingWhileIngesting(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	line := func(id string, at time.Time) string {
		return fmt.Sprintf(`{"id":%q,"received_at":%q,"code":200,"ip":"10.0.0.1","timing_ms":1,"delay_ms":0,"collection":"C","collection_type":"recipe","endpoint":"GET /"}`+"\n",
			id, at.Format(time.RFC3339Nano))
	}
	var b strings.Builder
	var want []string
	for i := range 25 {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		// Pairs share a time so that the id breaks ties across page boundaries.
		b.WriteString(line(id, base.Add(-time.Duration(i/2)*time.Minute)))
	}
	mustIngest(t, e, "api-request", b.String())
	for i := range 25 {
		// Newest first; within one time, id descending.
		j := i
		if i%2 == 0 && i+1 < 25 {
			j = i + 1
		} else if i%2 == 1 {
			j = i - 1
		}
		want = append(want, fmt.Sprintf("00000000-0000-4000-8000-%012d", j))
	}
	var got []string
	cursor := ""
	for page := 0; ; page++ {
		q := "limit=7"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		r := getAPILogs(t, e, q)
		for _, row := range r.Data {
			got = append(got, row["id"].(string))
		}
		// Newer rows arrive between pages.
		mustIngest(t, e, "api-request", line(fmt.Sprintf("10000000-0000-4000-8000-%012d", page), time.Now().UTC()))
		if r.NextCursor == nil {
			break
		}
		cursor = *r.NextCursor
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("paged ids:\n got %v\nwant %v", got, want)
	}
}

// TestAPILogsBadParameters: every bad parameter is a 400 in the /v1 envelope with an
// exact message, and the CSV route starts no CSV.
func TestAPILogsBadParameters(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	mustIngest(t, e, "api-request", readTestdata(t, "apilogs/rows.ndjson"))
	both := []struct{ query, msg string }{
		{"period=1y", `period: "1y" is not one of 24h, 7d, 30d, 90d`},
		{"period=7d&period=30d", `period: give one value, not 2`},
		{"from=yesterday", `from: "yesterday" is not an RFC 3339 time (e.g. 2024-06-13T14:30:00Z)`},
		{"to=2024-13-01T00:00:00Z", `to: "2024-13-01T00:00:00Z" is not an RFC 3339 time (e.g. 2024-06-13T14:30:00Z)`},
		{"from=2024-06-02T00:00:00Z&to=2024-06-01T00:00:00Z", `from (2024-06-02T00:00:00Z) must be before to (2024-06-01T00:00:00Z)`},
		{"status=abc", `status: "abc" is not an HTTP status code (100..599)`},
		{"status=200&status=700", `status: "700" is not an HTTP status code (100..599)`},
		{"collection_type=edge", `collection_type: "edge" is not one of recipe, proxy`},
	}
	for _, tc := range append(both,
		struct{ query, msg string }{"limit=0", `limit: 0 is out of range 1..1000`},
		struct{ query, msg string }{"limit=1001", `limit: 1001 is out of range 1..1000`},
		struct{ query, msg string }{"limit=ten", `limit: "ten" is not an integer`},
		struct{ query, msg string }{"cursor=bogus", `cursor: not a valid cursor`},
		struct{ query, msg string }{"cursor=" + model.Cursor{Scope: "APP", ID: "x"}.Encode(), `cursor: the cursor belongs to another list`},
		struct{ query, msg string }{"cursor=" + model.Cursor{Scope: "API_REQUEST", ID: "x"}.Encode(), `cursor: not a valid cursor`},
		struct{ query, msg string }{"statuses=200", `unknown parameter "statuses"; GET /api-logs accepts client, collection, collection_type, cursor, from, limit, period, status, to`},
	) {
		assertV1Error(t, e, "/api-logs?"+tc.query, http.StatusBadRequest, "invalid_parameter", tc.msg)
	}
	for _, tc := range append(both,
		struct{ query, msg string }{"limit=10", `unknown parameter "limit"; GET /api-logs/export.csv accepts client, collection, collection_type, from, period, status, to`},
	) {
		assertV1Error(t, e, "/api-logs/export.csv?"+tc.query, http.StatusBadRequest, "invalid_parameter", tc.msg)
	}
}

// assertV1Error checks a /v1-envelope error reply with a read token: status, code,
// exact message, JSON content type (so no CSV was started).
func assertV1Error(t *testing.T, e *testserver.Env, path string, status int, code, msg string) {
	t.Helper()
	resp, body := get(e, e.Tokens[model.RoleRead], path)
	var r apiLogsReply
	_ = json.Unmarshal([]byte(body), &r)
	if resp.StatusCode != status || r.Code != code || r.Error != msg || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("%s: %d %s %s\nwant %d %s %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), body, status, code, msg)
	}
}

// TestAPILogsAuth: no token and a bad token are 401, an ingest-only token 403, in
// the /v1 envelope, on both routes, before any parameter is looked at.
func TestAPILogsAuth(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	for _, path := range []string{"/api-logs?period=bad", "/api-logs/export.csv?period=bad"} {
		for ci, tc := range []struct {
			header      []string
			status      int
			code, error string
		}{
			{nil, 401, "unauthenticated", "an API token is required: send `Authorization: Bearer <token>`"},
			{[]string{"Authorization", "Token " + e.Tokens[model.RoleRead]}, 401, "unauthenticated", "the Authorization header must be `Bearer <token>`"},
			{[]string{"Authorization", "Bearer nope"}, 401, "unauthenticated", "invalid API token"},
			{[]string{"Authorization", "Bearer " + e.Tokens[model.RoleIngest]}, 403, "forbidden", "this token's role (ingest) may not read logs"},
		} {
			t.Run(fmt.Sprint(ci), func(t *testing.T) {
				resp, body := e.Do(http.MethodGet, path, nil, tc.header...)
				var r apiLogsReply
				_ = json.Unmarshal([]byte(body), &r)
				if resp.StatusCode != tc.status || r.Code != tc.code || r.Error != tc.error {
					t.Errorf("%s %v: %d %s", path, tc.header, resp.StatusCode, body)
				}
				if tc.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s: 401 without WWW-Authenticate", path)
				}
			})
		}
	}
	if resp, _ := e.Do(http.MethodPost, "/api-logs", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /api-logs: %d", resp.StatusCode)
	}
}

// TestAPILogsExportCSVSpreadsheetSafe checks what a spreadsheet sees of the download:
// the UTF-8 byte order mark before the header (so that LibreOffice's default import and
// Excel read non-ASCII names), and OWASP's CSV injection guard, a leading single quote
// on every text cell that starts with = + - @ tab or CR, and on no other cell.
func TestAPILogsExportCSVSpreadsheetSafe(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	cases := []struct{ name, details, want string }{
		{"formula", `=HYPERLINK("http://evil.example","click")`, `'=HYPERLINK("http://evil.example","click")`},
		{"plus", "+1+2", "'+1+2"},
		{"minus", "-2+3", "'-2+3"},
		{"at", "@SUM(A1:A2)", "'@SUM(A1:A2)"},
		{"tab", "\t=1", "'\t=1"},
		{"carriage return", "\r=1", "'=1"}, // guarded, then encoding/csv drops the lone CR
		{"inner equals sign", "a=b", "a=b"},
		{"plain", "Missing token", "Missing token"},
	}
	var lines []string
	for i, c := range cases {
		details, _ := json.Marshal(c.details)
		lines = append(lines, fmt.Sprintf(`{"received_at":"2024-06-13T14:%02d:00Z","code":401,"status_details":%s,"ip":"203.0.113.9","timing_ms":%d,"delay_ms":0,"collection":"Équipe Müller – 東京","collection_type":"proxy","endpoint":"GET /x","client":"Équipe Müller – 東京"}`,
			i, details, i))
	}
	mustIngest(t, e, "api-request", strings.Join(lines, "\n")+"\n")
	resp, body := get(e, e.Tokens[model.RoleRead], "/api-logs/export.csv?"+window2024)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	after, ok := strings.CutPrefix(body, "\uFEFFDate,")
	if !ok {
		t.Fatalf("the file does not start with the BOM and the header: %q", body[:min(len(body), 20)])
	}
	recs, err := csvReader("Date," + after)
	if err != nil || len(recs) != len(cases)+1 {
		t.Fatalf("%v: %d records: %q", err, len(recs), body)
	}
	for _, rec := range recs[1:] {
		i, _ := strconv.Atoi(rec[7]) // Timing holds the case's index
		c := cases[i]
		t.Run(c.name, func(t *testing.T) {
			if rec[5] != c.want {
				t.Errorf("Status details %q, want %q", rec[5], c.want)
			}
			if rec[9] != "Équipe Müller – 東京" || rec[11] != "Équipe Müller – 東京" {
				t.Errorf("names %q, %q", rec[9], rec[11])
			}
		})
	}
}
