package rest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

const akPath = "/api/v1/oms/logs/action_log/"

// DRF's bodies, byte for byte.
const (
	akNotProvided   = `{"detail":"Authentication credentials were not provided."}`
	akNoCredentials = `{"detail":"Invalid token header. No credentials provided."}`
	akSpaces        = `{"detail":"Invalid token header. Token string should not contain spaces."}`
	akInvalidChars  = `{"detail":"Invalid token header. Token string should not contain invalid characters."}`
	akInvalidToken  = `{"detail":"Invalid token."}`
	akForbidden     = `{"detail":"You do not have permission to perform this action."}`
	akNotFound      = `{"detail":"Not found."}`
	akInvalidPage   = `{"detail":"Invalid page."}`
	akEmptyPage     = `{"count":0,"next":null,"previous":null,"results":[]}`
)

// akSeedRecords are seed 004's 15 action logs: ids 96..105 exactly as the seed prints
// them; 91..95 (not printed) follow its pattern, one with zero microseconds (printed
// without a fraction, as Python's isoformat does) and one without a trace.
func akSeedRecords() string {
	levels := map[int]int{91: 20, 92: 30, 93: 0, 94: 40, 95: 10, 96: 20, 97: 30, 98: 0, 99: 40, 100: 30, 101: 20, 102: 0, 103: 30, 104: 0, 105: 40}
	created := map[int]string{91: "2023-12-01T08:25:56Z", 92: "2023-12-01T08:25:56.071Z", 93: "2023-12-01T08:25:56.072419Z",
		94: "2023-12-01T08:25:56.073998Z", 95: "2023-12-01T08:25:56.075321Z",
		96: "2023-12-01T08:25:56.076723Z", 97: "2023-12-01T08:25:56.077952Z", 98: "2023-12-01T08:25:56.079269Z",
		99: "2023-12-01T08:25:56.080747Z", 100: "2023-12-01T08:25:56.081900Z", 101: "2023-12-01T08:25:56.083049Z",
		102: "2023-12-01T08:25:56.084256Z", 103: "2023-12-01T08:25:56.085617Z", 104: "2023-12-01T08:25:56.087033Z",
		105: "2023-12-01T08:25:56.088353Z"}
	var b strings.Builder
	for id := 91; id <= 105; id++ {
		n := id - 91
		trace := fmt.Sprintf(`,"trace":"Test Log Trace %d"`, n)
		if id == 93 {
			trace = ""
		}
		fmt.Fprintf(&b, `{"id":%d,"level":%d,"logger_name":"logger_name_%d","message":"Test Log Message %d","app_name":"oms"%s,"created_at":%q}`+"\n",
			id, levels[id], n, n, trace, created[id])
	}
	return b.String()
}

func akIngest(t *testing.T, e *testserver.Env, token, ndjson string) {
	t.Helper()
	if resp, body := e.Ingest("action", token, ndjson); resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest: %d %s", resp.StatusCode, body)
	}
}

// akManyRecords makes n action logs one second apart, ids 1..n (newest = n).
func akManyRecords(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `{"id":%d,"level":20,"logger_name":"l","message":"m%d","app_name":"oms","created_at":"2024-01-01T00:%02d:%02dZ"}`+"\n",
			i, i, i/60, i%60)
	}
	return b.String()
}

func akGet(e *testserver.Env, path, token string) (*http.Response, string) {
	return e.Do(http.MethodGet, path, nil, "Authorization", "Token "+token)
}

type akPage struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  []struct {
		ID int64 `json:"id"`
	} `json:"results"`
}

func akDecode(t *testing.T) func(*http.Response, string) akPage {
	return func(resp *http.Response, body string) akPage {
		t.Helper()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var p akPage
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		return p
	}
}

func akIDs(p akPage) string {
	var s []string
	for _, r := range p.Results {
		s = append(s, fmt.Sprint(r.ID))
	}
	return strings.Join(s, ",")
}

func akStr(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

// TestAkinonSeedListExample sends seed 004's python requests example (Content-Type
// and `Authorization: Token <token>`) over its 15 logs: the reply is the seed's
// example body byte for byte, with {domain_url} being our host (and http: no TLS).
func TestAkinonSeedListExample(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	akIngest(t, e, e.Tokens[model.RoleIngest], akSeedRecords())
	resp, body := e.Do(http.MethodGet, akPath, nil, "Content-Type", "application/json", "Authorization", "Token "+e.Tokens[model.RoleRead])
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	seed := glTestdata(t, "akinon/seed_list.json")
	want := strings.Replace(seed, "https://{domain_url}", e.Srv.URL, 1)
	if body != want {
		t.Fatalf("body\n got %s\nwant %s", body, want)
	}
	if glShape(t, body) != glShape(t, seed) {
		t.Fatalf("shape differs from the seed's")
	}
	p := akDecode(t)(resp, body)
	if p.Count != 15 || akIDs(p) != "105,104,103,102,101,100,99,98,97,96" || akStr(p.Next) != e.Srv.URL+akPath+"?page=2" {
		t.Fatalf("%+v", p)
	}
	// Page 2: the rest, the link back to page 1 without `page`, microseconds only
	// when non-zero, null trace.
	resp, body = akGet(e, akPath+"?page=2", e.Tokens[model.RoleRead])
	got := strings.ReplaceAll(body, e.Srv.URL, "http://{host}")
	goldenJSON(t, "akinon/seed_list_page2.json", got)
	if p := akDecode(t)(resp, body); p.Next != nil || akStr(p.Previous) != e.Srv.URL+akPath || akIDs(p) != "95,94,93,92,91" {
		t.Fatalf("page 2: %s", body)
	}
}

// TestAkinonSeedDetail fetches the seed's detail example, with and without the
// trailing slash: the bare object byte for byte.
func TestAkinonSeedDetail(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	akIngest(t, e, e.Tokens[model.RoleIngest], akSeedRecords())
	want := glTestdata(t, "akinon/seed_detail.json")
	for _, path := range []string{akPath + "100/", akPath + "100", "/api/v1/oms/logs/action_log/%2B100/"} {
		resp, body := akGet(e, path, e.Tokens[model.RoleRead])
		if resp.StatusCode != http.StatusOK || body != want || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %s\nwant %s", path, resp.StatusCode, body, want)
		}
	}
	// The list is served without the trailing slash too; its links keep the path asked.
	p := akDecode(t)(akGet(e, strings.TrimSuffix(akPath, "/"), e.Tokens[model.RoleRead]))
	if p.Count != 15 || akStr(p.Next) != e.Srv.URL+strings.TrimSuffix(akPath, "/")+"?page=2" {
		t.Fatalf("%+v", p)
	}
}

// TestAkinonAuth checks each DRF TokenAuthentication refusal: exact body, 401 with
// `WWW-Authenticate: Token`, on both routes, before the id or page is looked at.
func TestAkinonAuth(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	ctx := context.Background()
	tok, revoked, err := e.Store.Create(ctx, e.WS, "gone", model.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Store.Revoke(ctx, e.WS, tok.ID); err != nil {
		t.Fatal(err)
	}
	read := e.Tokens[model.RoleRead]
	cases := []struct {
		name   string
		header []string
		status int
		body   string
	}{
		{"no header", nil, 401, akNotProvided},
		{"bearer scheme", []string{"Authorization", "Bearer " + read}, 401, akNotProvided},
		{"basic scheme", []string{"Authorization", "Basic " + read}, 401, akNotProvided},
		{"keyword glued to key", []string{"Authorization", "Token" + read}, 401, akNotProvided},
		{"kelvin sign is not k", []string{"Authorization", "To\u212Aen " + read}, 401, akNotProvided},
		{"keyword alone", []string{"Authorization", "Token"}, 401, akNoCredentials},
		{"keyword and spaces", []string{"Authorization", "Token   "}, 401, akNoCredentials},
		{"two parts", []string{"Authorization", "Token a b"}, 401, akSpaces},
		{"tab separated", []string{"Authorization", "Token\t" + read + "\tx"}, 401, akSpaces},
		{"invalid UTF-8", []string{"Authorization", "Token abc\xff"}, 401, akInvalidChars},
		{"unknown key", []string{"Authorization", "Token f532eXXXXXXXXXXXXXXXXX201XXXXX9332d"}, 401, akInvalidToken},
		{"revoked key", []string{"Authorization", "Token " + revoked}, 401, akInvalidToken},
		{"NBSP is part of the key", []string{"Authorization", "Token\u00a0" + read}, 401, akNotProvided},
		{"ingest-only", []string{"Authorization", "Token " + e.Tokens[model.RoleIngest]}, 403, akForbidden},
		{"keyword lower case", []string{"Authorization", "token " + read}, 200, ""},
		{"keyword upper case", []string{"Authorization", "TOKEN " + read}, 200, ""},
		{"tab after keyword", []string{"Authorization", "Token\t" + read}, 200, ""},
		{"admin", []string{"Authorization", "Token " + e.Tokens[model.RoleAdmin]}, 200, ""},
	}
	for _, c := range cases {
		for _, path := range []string{akPath + "?page=0", akPath + "abc/"} {
			t.Run(c.name+" "+path, func(t *testing.T) {
				resp, body := e.Do(http.MethodGet, path, nil, c.header...)
				if c.status == 200 {
					// Authenticated: the bad page or id is what answers.
					want := map[string]string{akPath + "?page=0": akInvalidPage, akPath + "abc/": akNotFound}[path]
					if resp.StatusCode != http.StatusNotFound || body != want {
						t.Fatalf("%d %s, want 404 %s", resp.StatusCode, body, want)
					}
					return
				}
				if resp.StatusCode != c.status || body != c.body {
					t.Fatalf("got %d %s\nwant %d %s", resp.StatusCode, body, c.status, c.body)
				}
				wantAuth := ""
				if c.status == 401 {
					wantAuth = "Token"
				}
				if got := resp.Header.Get("WWW-Authenticate"); got != wantAuth {
					t.Fatalf("WWW-Authenticate %q, want %q", got, wantAuth)
				}
				if resp.Header.Get("Content-Type") != "application/json" {
					t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
				}
			})
		}
	}
}

// TestAkinonPaging walks 25 logs with DRF's links (absolute, query keys sorted, page 1
// without `page`), page=last, empty page=, and every invalid page.
func TestAkinonPaging(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	read := e.Tokens[model.RoleRead]
	// Empty set: page 1 (and last, and empty page=) is 200; page 2 is invalid.
	for _, q := range []string{"", "?page=1", "?page=last", "?page="} {
		if resp, body := akGet(e, akPath+q, read); resp.StatusCode != http.StatusOK || body != akEmptyPage {
			t.Fatalf("empty %q: %d %s", q, resp.StatusCode, body)
		}
	}
	if resp, body := akGet(e, akPath+"?page=2", read); resp.StatusCode != http.StatusNotFound || body != akInvalidPage {
		t.Fatalf("empty page 2: %d %s", resp.StatusCode, body)
	}
	akIngest(t, e, e.Tokens[model.RoleIngest], akManyRecords(25))
	base := e.Srv.URL + akPath
	for _, c := range []struct {
		query, ids, next, previous string
	}{
		{"", "25,24,23,22,21,20,19,18,17,16", base + "?page=2", "null"},
		{"?page=", "25,24,23,22,21,20,19,18,17,16", base + "?page=2", "null"},
		{"?page=1", "25,24,23,22,21,20,19,18,17,16", base + "?page=2", "null"},
		{"?page=2", "15,14,13,12,11,10,9,8,7,6", base + "?page=3", base},
		{"?page=3", "5,4,3,2,1", "null", base + "?page=2"},
		{"?page=last", "5,4,3,2,1", "null", base + "?page=2"},
		// Django's QueryDict.get takes the last of repeated values; Python's int() allows a sign.
		{"?page=1&page=3", "5,4,3,2,1", "null", base + "?page=2"},
		{"?page=%2B2", "15,14,13,12,11,10,9,8,7,6", base + "?page=3", base},
		// Every other key is kept, all re-encoded in sorted order.
		{"?zeta=z&page=2&alpha=a+b&alpha=%26", "15,14,13,12,11,10,9,8,7,6", base + "?alpha=a+b&alpha=%26&page=3&zeta=z", base + "?alpha=a+b&alpha=%26&zeta=z"},
		{"?page_size=7&page=2", "18,17,16,15,14,13,12", base + "?page=3&page_size=7", base + "?page_size=7"},
		{"?page_size=7&page=last", "4,3,2,1", "null", base + "?page=3&page_size=7"},
		// An invalid page size falls back to 10; it stays in the links as sent.
		{"?page_size=0", "25,24,23,22,21,20,19,18,17,16", base + "?page=2&page_size=0", "null"},
		{"?page_size=-3", "25,24,23,22,21,20,19,18,17,16", base + "?page=2&page_size=-3", "null"},
		{"?page_size=abc", "25,24,23,22,21,20,19,18,17,16", base + "?page=2&page_size=abc", "null"},
		{"?page_size=", "25,24,23,22,21,20,19,18,17,16", base + "?page=2&page_size=", "null"},
		{"?page_size=25", "25,24,23,22,21,20,19,18,17,16,15,14,13,12,11,10,9,8,7,6,5,4,3,2,1", "null", "null"},
	} {
		t.Run(c.query, func(t *testing.T) {
			p := akDecode(t)(akGet(e, akPath+c.query, read))
			if p.Count != 25 || akIDs(p) != c.ids || akStr(p.Next) != c.next || akStr(p.Previous) != c.previous {
				t.Fatalf("count %d ids %s\nnext %s\nprev %s\nwant ids %s\nnext %s\nprev %s", p.Count, akIDs(p), akStr(p.Next), akStr(p.Previous), c.ids, c.next, c.previous)
			}
		})
	}
	for _, q := range []string{"?page=0", "?page=-1", "?page=4", "?page=abc", "?page=2.0", "?page=LAST", "?page=1e1", "?page=99999999999999999999", "?page=3&page_size=5&page=6"} {
		if resp, body := akGet(e, akPath+q, read); resp.StatusCode != http.StatusNotFound || body != akInvalidPage {
			t.Fatalf("%s: %d %s", q, resp.StatusCode, body)
		}
	}
	// Forwarded headers are not trusted: the links keep the connection's scheme and host.
	resp, body := e.Do(http.MethodGet, akPath, nil, "Authorization", "Token "+read,
		"X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example")
	if p := akDecode(t)(resp, body); akStr(p.Next) != base+"?page=2" {
		t.Fatalf("forwarded headers changed the link: %s", akStr(p.Next))
	}
}

// TestAkinonPageSizeClamp checks that a page size above 100 is cut to 100 (also one
// too large for any integer type), as DRF's cutoff does.
func TestAkinonPageSizeClamp(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	akIngest(t, e, e.Tokens[model.RoleIngest], akManyRecords(105))
	for _, size := range []string{"101", "1000", "99999999999999999999"} {
		p := akDecode(t)(akGet(e, akPath+"?page_size="+size, e.Tokens[model.RoleRead]))
		if len(p.Results) != 100 || p.Results[0].ID != 105 || akStr(p.Next) != e.Srv.URL+akPath+"?page=2&page_size="+size {
			t.Fatalf("page_size=%s: %d results, next %s", size, len(p.Results), akStr(p.Next))
		}
	}
	p := akDecode(t)(akGet(e, akPath+"?page_size=1000&page=2", e.Tokens[model.RoleRead]))
	if akIDs(p) != "5,4,3,2,1" || p.Next != nil {
		t.Fatalf("page 2: %s next %s", akIDs(p), akStr(p.Next))
	}
}

// TestAkinonDetailNotFound checks every id that finds nothing: unknown, negative, not
// an integer, beyond 64 bits: DRF's bare 404.
func TestAkinonDetailNotFound(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	akIngest(t, e, e.Tokens[model.RoleIngest], akSeedRecords())
	for _, id := range []string{"999", "0", "-100", "abc", "1.0", "1e2", "99999999999999999999", "%20", "10_0x"} {
		for _, path := range []string{akPath + id + "/", akPath + id} {
			if resp, body := akGet(e, path, e.Tokens[model.RoleRead]); resp.StatusCode != http.StatusNotFound || body != akNotFound {
				t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
			}
		}
	}
	// Python's int() reads these as 100.
	for _, id := range []string{"0100", "1_00", "%20100"} {
		if resp, body := akGet(e, akPath+id+"/", e.Tokens[model.RoleRead]); resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, `{"id":100,`) {
			t.Fatalf("%s: %d %s", id, resp.StatusCode, body)
		}
	}
}

// TestAkinonMethodNotAllowed checks DRF's 405 body and Allow header on both routes,
// after authentication (DRF authenticates before dispatching on the method).
func TestAkinonMethodNotAllowed(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	for _, c := range []struct{ method, path string }{
		{http.MethodPost, akPath}, {http.MethodPut, akPath + "100/"}, {http.MethodDelete, akPath + "100"},
		{http.MethodPatch, strings.TrimSuffix(akPath, "/")}, {http.MethodOptions, akPath},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			resp, body := e.Do(c.method, c.path, strings.NewReader("{}"), "Authorization", "Token "+e.Tokens[model.RoleRead])
			want := fmt.Sprintf(`{"detail":"Method \"%s\" not allowed."}`, c.method)
			if resp.StatusCode != http.StatusMethodNotAllowed || body != want || resp.Header.Get("Allow") != "GET, HEAD" {
				t.Fatalf("%s %s: %d %q %s", c.method, c.path, resp.StatusCode, resp.Header.Get("Allow"), body)
			}
		})
	}
	if resp, body := e.Do(http.MethodPost, akPath, nil); resp.StatusCode != http.StatusUnauthorized || body != akNotProvided {
		t.Fatalf("POST without a token: %d %s", resp.StatusCode, body)
	}
	if resp, body := e.Do(http.MethodPost, akPath, nil, "Authorization", "Token "+e.Tokens[model.RoleIngest]); resp.StatusCode != http.StatusForbidden || body != akForbidden {
		t.Fatalf("POST with an ingest token: %d %s", resp.StatusCode, body)
	}
	if resp, body := e.Do(http.MethodHead, akPath, nil, "Authorization", "Token "+e.Tokens[model.RoleRead]); resp.StatusCode != http.StatusOK || body != "" {
		t.Fatalf("HEAD: %d %q", resp.StatusCode, body)
	}
}

// TestAkinonWorkspaceIsolation checks that another workspace's action log answers
// exactly like one that does not exist, and that lists only count their own rows.
func TestAkinonWorkspaceIsolation(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	ctx := context.Background()
	other, err := db.NewWorkspaceStore(e.DB.Bun).Create(ctx, "other", "Other")
	if err != nil {
		t.Fatal(err)
	}
	tokens := db.NewTokenStore(e.DB.Bun)
	_, otherRead, err := tokens.Create(ctx, other.ID, "b-read", model.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	_, otherIngest, err := tokens.Create(ctx, other.ID, "b-ingest", model.RoleIngest)
	if err != nil {
		t.Fatal(err)
	}
	akIngest(t, e, e.Tokens[model.RoleIngest], akSeedRecords())
	akIngest(t, e, otherIngest, `{"id":7,"level":50,"logger_name":"b","message":"B only","app_name":"oms","created_at":"2023-12-02T00:00:00Z"}`+"\n")

	if resp, body := akGet(e, akPath+"100/", otherRead); resp.StatusCode != http.StatusNotFound || body != akNotFound {
		t.Fatalf("B reads A's id: %d %s", resp.StatusCode, body)
	}
	if resp, body := akGet(e, akPath+"7/", e.Tokens[model.RoleRead]); resp.StatusCode != http.StatusNotFound || body != akNotFound {
		t.Fatalf("A reads B's id: %d %s", resp.StatusCode, body)
	}
	if p := akDecode(t)(akGet(e, akPath, otherRead)); p.Count != 1 || akIDs(p) != "7" {
		t.Fatalf("B's list: %+v", p)
	}
	if p := akDecode(t)(akGet(e, akPath, e.Tokens[model.RoleRead])); p.Count != 15 {
		t.Fatalf("A's list: %+v", p)
	}
	if resp, body := akGet(e, akPath+"7/", otherRead); resp.StatusCode != http.StatusOK ||
		body != `{"id":7,"level":50,"logger_name":"b","message":"B only","app_name":"oms","trace":null,"created_at":"2023-12-02T00:00:00Z"}` {
		t.Fatalf("B reads its own id: %d %s", resp.StatusCode, body)
	}
}

// TestAkinonIDNamesOneLog: an action log id names one log of the workspace (the seed's
// "primary key"). The same record again is an idempotent duplicate; the same id with
// another created_at is refused with a 400 naming the line, stored or earlier in the
// batch, and nothing of the batch is stored; the list shows the id once and the detail
// the first log. Another workspace may use the same id.
func TestAkinonIDNamesOneLog(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	ing, read := e.Tokens[model.RoleIngest], e.Tokens[model.RoleRead]
	rec := func(id int, at string) string {
		return fmt.Sprintf(`{"id":%d,"level":40,"logger_name":"l","message":"m %s","app_name":"oms","created_at":%q}`, id, at, at)
	}
	const t1, t2 = "2023-12-01T08:25:56.088353Z", "2023-12-01T09:00:00Z"
	akIngest(t, e, ing, rec(105, t1)+"\n")
	if resp, body := e.Ingest("action", ing, rec(105, t1)+"\n"); resp.StatusCode != http.StatusOK || body != `{"accepted":0,"duplicates":1}`+"\n" {
		t.Fatalf("the same record again: %d %s", resp.StatusCode, body)
	}
	for _, c := range []struct {
		name, body string
		line       int
		msg        string
	}{
		{"stored id, another created_at", rec(200, t1) + "\n" + rec(105, t2) + "\n", 2,
			`field "id": id 105 is already stored with another created_at; an action log id names one log`},
		{"one id twice in the batch", rec(300, t1) + "\n" + rec(301, t1) + "\n" + rec(300, t2) + "\n", 3,
			`field "id": id 300 is also on line 1 with another created_at; an action log id names one log`},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := e.Ingest("action", ing, c.body)
			var r struct {
				Code     string `json:"code"`
				BadLines int    `json:"bad_lines"`
				Errors   []struct {
					Line    int    `json:"line"`
					Message string `json:"message"`
				} `json:"errors"`
			}
			if err := json.Unmarshal([]byte(body), &r); err != nil || resp.StatusCode != http.StatusBadRequest ||
				r.Code != "invalid_batch" || r.BadLines != 1 || len(r.Errors) != 1 || r.Errors[0].Line != c.line || r.Errors[0].Message != c.msg {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			if n := e.Count("action_logs"); n != 1 {
				t.Fatalf("%d action logs stored, want the first one only", n)
			}
		})
	}
	p := akDecode(t)(akGet(e, "/api/v1/oms/logs/action_log/", read))
	if p.Count != 1 || akIDs(p) != "105" {
		t.Errorf("list: count %d, ids %s", p.Count, akIDs(p))
	}
	resp, body := akGet(e, "/api/v1/oms/logs/action_log/105/", read)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"created_at":"`+t1+`"`) {
		t.Errorf("detail: %d %s", resp.StatusCode, body)
	}
	// Ids are keys per workspace.
	_, otherIngest := addWorkspace(t, e, "akinon-other")
	akIngest(t, e, otherIngest, rec(105, t2)+"\n")
	if n := e.Count("action_log_ids"); n != 1 {
		t.Errorf("%d ids claimed in the test workspace, want 1", n)
	}
}

// TestAkinonTrustedProxies: with --trusted-proxies naming the peer, next/previous use
// the proxy's X-Forwarded-Proto and X-Forwarded-Host (the last value of a list: the one
// the trusted peer added), and ignore values that are not a scheme or a plain host;
// from a peer outside the list the headers are ignored.
func TestAkinonTrustedProxies(t *testing.T) {
	t.Parallel()
	loopback, err := rest.ParseTrustedProxies(" 127.0.0.0/8, ::1 ")
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, err := rest.ParseTrustedProxies("10.0.0.0/8,192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	trusting := testserver.New(t, rest.Limits{TrustedProxies: loopback})
	distrusting := testserver.New(t, rest.Limits{TrustedProxies: elsewhere})
	for _, e := range []*testserver.Env{trusting, distrusting} {
		akIngest(t, e, e.Tokens[model.RoleIngest], akManyRecords(25))
	}
	direct := func(e *testserver.Env) string { return "http://" + strings.TrimPrefix(e.Srv.URL, "http://") }
	for _, c := range []struct {
		name    string
		e       *testserver.Env
		headers []string
		next    string
	}{
		{"trusted proxy", trusting, []string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "logs.example.com"},
			"https://logs.example.com/api/v1/oms/logs/action_log/?page=3"},
		{"upper-case scheme", trusting, []string{"X-Forwarded-Proto", "HTTPS"}, "https://HOST/api/v1/oms/logs/action_log/?page=3"},
		{"the last of a list", trusting, []string{"X-Forwarded-Proto", "http, https", "X-Forwarded-Host", "client-sent.example, logs.example.com:8443"},
			"https://logs.example.com:8443/api/v1/oms/logs/action_log/?page=3"},
		{"not a scheme, not a host", trusting, []string{"X-Forwarded-Proto", "javascript", "X-Forwarded-Host", "evil.example/x"},
			"http://HOST/api/v1/oms/logs/action_log/?page=3"},
		{"untrusted peer", distrusting, []string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example"},
			"http://HOST/api/v1/oms/logs/action_log/?page=3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := append([]string{"Authorization", "Token " + c.e.Tokens[model.RoleRead]}, c.headers...)
			p := akDecode(t)(c.e.Do(http.MethodGet, "/api/v1/oms/logs/action_log/?page=2", nil, h...))
			next := strings.ReplaceAll(c.next, "http://HOST", direct(c.e))
			next = strings.ReplaceAll(next, "https://HOST", "https://"+strings.TrimPrefix(c.e.Srv.URL, "http://"))
			prev := strings.TrimSuffix(next, "?page=3")
			if akStr(p.Next) != next || akStr(p.Previous) != prev {
				t.Errorf("next %s, previous %s; want %s, %s", akStr(p.Next), akStr(p.Previous), next, prev)
			}
		})
	}
}

// TestAkinonListByID: the list is ordered by descending id, as the seed shows it
// (105 first): a log sent late with a higher id but an older created_at comes first.
func TestAkinonListByID(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	akIngest(t, e, e.Tokens[model.RoleIngest], akManyRecords(12)+
		`{"id":50,"level":20,"logger_name":"l","message":"late","app_name":"oms","created_at":"2023-06-01T00:00:00Z"}`+"\n")
	p := akDecode(t)(akGet(e, "/api/v1/oms/logs/action_log/?page_size=5", e.Tokens[model.RoleRead]))
	if got := akIDs(p); got != "50,12,11,10,9" {
		t.Errorf("ids %s, want 50,12,11,10,9", got)
	}
	p = akDecode(t)(akGet(e, "/api/v1/oms/logs/action_log/?page=last&page_size=5", e.Tokens[model.RoleRead]))
	if got := akIDs(p); got != "3,2,1" {
		t.Errorf("last page ids %s, want 3,2,1", got)
	}
}
