package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

const d360Dir = "testdata/document360"

// d360SeedLogs are the seed's two sample logs (same time: the id breaks the tie), with
// issues for the detail route.
var d360SeedLogs = []string{
	`{"logs_id":"33b5c7e-fcbe-4797-b144-1a7ca2508f44","api_reference_id":"petstore","api_reference_name":"Petstore","user_id":"f11efc6f-e968-4e95-82eb-85ad61559de8","user_name":"Peter Jone","title":"Import successful","modified_at":"2024-06-13T14:30:00Z","error_count":12,"alerts_count":34,"errors":[{"message":"Missing description","pointer":"/paths/~1pets/get"},{"message":"Schema <Pet> & friends"}],"alerts":[{"message":"Deprecated operation","pointer":"/paths/~1pets/post"}]}`,
	`{"logs_id":"5g25c7e-fcbe-4797-b144-1a7ca2843tv4","api_reference_id":"petstore","user_id":"d71efc6f-e968-4e95-82eb-85ad6155984rf","user_name":"Theresa May","title":"Import successful","modified_at":"2024-06-13T14:30:00Z","error_count":12,"alerts_count":34}`,
}

// d360Ingest loads api-reference records into the test workspace.
func d360Ingest(t *testing.T, e *testserver.Env, token string, lines ...string) {
	t.Helper()
	resp, body := e.Ingest("api-reference", token, strings.Join(lines, "\n")+"\n", "Content-Type", "application/x-ndjson")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest: %d %s", resp.StatusCode, body)
	}
}

// d360Log is one api-reference record of reference ref at minute m past 2024-06-13 12:00.
func d360Log(id, ref string, m int) string {
	at := time.Date(2024, 6, 13, 12, 0, 0, 0, time.UTC).Add(time.Duration(m) * time.Minute).Format(time.RFC3339)
	return fmt.Sprintf(`{"logs_id":%q,"api_reference_id":%q,"user_id":"u-%d","user_name":"User %d","title":"Import %d","modified_at":%q,"error_count":%d,"alerts_count":%d}`,
		id, ref, m%3, m%3, m, at, m%4, m%5)
}

// d360Get sends a GET with the raw lowercase `api_token` header on the wire (as the
// vendor's clients send it), or no header when token is empty.
func d360Get(t *testing.T, e *testserver.Env, path, token string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.Srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header["api_token"] = []string{token}
	}
	resp, err := e.Srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// d360File reads a testdata file.
func d360File(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d360Dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jsonShape describes a JSON document by reading its tokens in order: every object
// as its path and its keys in the order they appear, every leaf as its path and JSON
// kind; array elements share the path "[]". Two documents with the same shape have the
// same keys in the same order and the same kinds (values may differ). Element objects
// whose keys come in different orders give two lines, so a mismatch cannot hide.
func jsonShape(t *testing.T, doc []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var lines []string
	add := func(s string) {
		if !slices.Contains(lines, s) {
			lines = append(lines, s)
		}
	}
	next := func() json.Token {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("not JSON: %v: %s", err, doc)
		}
		return tok
	}
	var walk func(path string)
	walk = func(path string) {
		switch v := next().(type) {
		case json.Delim:
			if v == '{' {
				var keys []string
				for dec.More() {
					k := next().(string)
					keys = append(keys, k)
					walk(path + "." + k)
				}
				next() // }
				add(path + " {" + strings.Join(keys, ",") + "}")
				return
			}
			for dec.More() {
				walk(path + "[]")
			}
			next() // ]
			add(path + " array")
		case string:
			add(path + " string")
		case json.Number:
			add(path + " number")
		case bool:
			add(path + " bool")
		case nil:
			add(path + " null")
		}
	}
	walk("$")
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("trailing data after the JSON value: %s", doc)
	}
	slices.Sort(lines)
	return lines
}

// keyOrders keeps the object lines of a shape (keys in order), dropping leaf kinds.
func keyOrders(shape []string) []string {
	return slices.DeleteFunc(slices.Clone(shape), func(s string) bool { return !strings.HasSuffix(s, "}") })
}

func sameLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\ngot:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestDocument360ShapeHelper proves that jsonShape sees key order, also inside the
// second element of an array, and value kinds, so the shape checks above can fail.
func TestDocument360ShapeHelper(t *testing.T) {
	t.Parallel()
	base := jsonShape(t, []byte(`{"a":[{"x":1,"y":"s"},{"x":2,"y":"t"}],"b":null}`))
	for _, doc := range []string{
		`{"b":null,"a":[{"x":1,"y":"s"},{"x":2,"y":"t"}]}`,
		`{"a":[{"x":1,"y":"s"},{"y":"t","x":2}],"b":null}`,
		`{"a":[{"x":1,"y":"s"},{"x":"2","y":"t"}],"b":null}`,
		`{"a":[{"x":1,"y":"s"}],"b":{}}`,
	} {
		if slices.Equal(jsonShape(t, []byte(doc)), base) {
			t.Errorf("same shape reported for %s", doc)
		}
	}
	if !slices.Equal(jsonShape(t, []byte(`{"a":[{"x":7,"y":""}],"b":null}`)), base) {
		t.Error("different values of the same shape were told apart")
	}
}

// d360Compact compacts a pretty-printed example (such as the seed's).
func d360Compact(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// d360Status checks a response's status and the ASP.NET JSON content type.
func d360Status(t *testing.T, resp *http.Response, body string, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, want, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
}

// d360IDs decodes a list reply's logs_id values, in order.
func d360IDs(t *testing.T, body string) []string {
	t.Helper()
	var r struct {
		Data []struct {
			LogsID string `json:"logs_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if r.Data == nil {
		t.Fatalf("data is null or missing, want an array: %s", body)
	}
	ids := make([]string, len(r.Data))
	for i, d := range r.Data {
		ids[i] = d.LogsID
	}
	return ids
}

// TestDocument360SeedRequest sends the request the seed shows (GET
// /v2/APIReferences/{apiReferenceId}/Logs, api_token header, default paging) over the
// seed's two sample logs: the reply is the golden file, has exactly the seed example's
// shape and key order, and differs from the example only where the contract says so
// (success is true).
func TestDocument360SeedRequest(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	d360Ingest(t, e, e.Tokens[model.RoleIngest], d360SeedLogs...)
	resp, body := d360Get(t, e, "/v2/APIReferences/petstore/Logs", e.Tokens[model.RoleRead])
	d360Status(t, resp, body, http.StatusOK)
	golden(t, "document360/"+"list.json", body)
	seed := d360File(t, "seed_200.json")
	sameLines(t, "shape against the seed's 200 example", jsonShape(t, []byte(body)), jsonShape(t, seed))
	// Same times, so the id breaks the tie, descending; every other value as ingested.
	want := strings.Replace(d360Compact(t, seed), `"success":false`, `"success":true`, 1)
	first, second, _ := strings.Cut(strings.TrimPrefix(want, `{"data":[`), `},{`)
	second, tail, _ := strings.Cut(second, `}],`)
	want = `{"data":[{` + second + `},` + first + `}],` + tail
	if body != want {
		t.Fatalf("reply differs from the seed example (rows swapped, success true):\ngot:  %s\nwant: %s", body, want)
	}
}

// TestDocument360Detail checks the sibling detail route: errors and alerts in the
// swagger's key order ({message, pointer}, pointer null when none was ingested),
// empty arrays for a log without issues, and the envelope's key order.
func TestDocument360Detail(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	d360Ingest(t, e, e.Tokens[model.RoleIngest], d360SeedLogs...)
	tok := e.Tokens[model.RoleRead]
	wantKeys := []string{
		"$ {api_reference_errors,api_reference_alerts,extension_data,success,errors,warnings,information}",
		"$.api_reference_alerts[] {message,pointer}",
		"$.api_reference_errors[] {message,pointer}",
	}
	resp, body := d360Get(t, e, "/v2/APIReferences/petstore/Logs/33b5c7e-fcbe-4797-b144-1a7ca2508f44", tok)
	d360Status(t, resp, body, http.StatusOK)
	golden(t, "document360/"+"detail.json", body)
	sameLines(t, "detail key order", keyOrders(jsonShape(t, []byte(body))), wantKeys)

	resp, body = d360Get(t, e, "/v2/APIReferences/petstore/Logs/5g25c7e-fcbe-4797-b144-1a7ca2843tv4", tok)
	d360Status(t, resp, body, http.StatusOK)
	golden(t, "document360/"+"detail_empty.json", body)
	sameLines(t, "empty detail key order", keyOrders(jsonShape(t, []byte(body))), wantKeys[:1])
}

// TestDocument360Errors pins every error body byte for byte, its status, and the
// order of the checks: auth before validation, validation before lookup, the
// reference before the log. Each failure has the seed 400 example's shape; the
// unknown reference is the seed's 400 example itself.
func TestDocument360Errors(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	ctx := context.Background()
	d360Ingest(t, e, e.Tokens[model.RoleIngest], d360SeedLogs...)
	d360Ingest(t, e, e.Tokens[model.RoleIngest], d360Log("billing-1", "billing", 1))
	revoked, revokedText, err := e.Store.Create(ctx, e.WS, "revoked", model.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Store.Revoke(ctx, e.WS, revoked.ID); err != nil {
		t.Fatal(err)
	}
	read, ingest, admin := e.Tokens[model.RoleRead], e.Tokens[model.RoleIngest], e.Tokens[model.RoleAdmin]
	list := "/v2/APIReferences/petstore/Logs"
	detail := list + "/33b5c7e-fcbe-4797-b144-1a7ca2508f44"
	cases := []struct {
		name, path, token string
		status            int
		golden            string
	}{
		{"missing token", list, "", 401, "error_invalid_token.json"},
		{"invalid token", list, "lg_not-a-real-token", 401, "error_invalid_token.json"},
		{"bearer prefix is not the raw token", list, "Bearer " + read, 401, "error_invalid_token.json"},
		{"revoked token", list, revokedText, 401, "error_invalid_token.json"},
		{"ingest-only token", list, ingest, 403, "error_forbidden.json"},
		{"ingest-only token on the detail", detail, ingest, 403, "error_forbidden.json"},
		{"missing token on the detail", detail, "", 401, "error_invalid_token.json"},
		{"auth before validation", list + "?page=x", "", 401, "error_invalid_token.json"},
		{"role before validation", list + "?page=x", ingest, 403, "error_forbidden.json"},
		{"page not an integer", list + "?page=x", read, 400, "error_invalid_page.json"},
		{"page a decimal", list + "?page=1.5", read, 400, "error_invalid_page.json"},
		{"page empty", list + "?page=", read, 400, "error_invalid_page.json"},
		{"page beyond int32", list + "?page=2147483648", read, 400, "error_invalid_page.json"},
		{"resultsPerPage not an integer", list + "?resultsPerPage=ten", read, 400, "error_invalid_results_per_page.json"},
		{"resultsPerPage beyond int32", list + "?resultsPerPage=99999999999", read, 400, "error_invalid_results_per_page.json"},
		{"both invalid, in documented order", list + "?resultsPerPage=ten&page=x", read, 400, "error_invalid_both.json"},
		{"resultsPerPage above the maximum", list + "?resultsPerPage=1001", read, 400, "error_too_many_per_page.json"},
		{"resultsPerPage above the maximum, page invalid too", list + "?resultsPerPage=5000&page=x", read, 400, "error_invalid_page_too_many.json"},
		{"validation before lookup", "/v2/APIReferences/nope/Logs?page=x", read, 400, "error_invalid_page.json"},
		{"unknown reference", "/v2/APIReferences/nope/Logs", read, 400, "error_reference_not_found.json"},
		{"reference ids are exact", "/v2/APIReferences/PETSTORE/Logs", read, 400, "error_reference_not_found.json"},
		{"unknown reference on the detail", "/v2/APIReferences/nope/Logs/33b5c7e-fcbe-4797-b144-1a7ca2508f44", read, 400, "error_reference_not_found.json"},
		{"unknown log", list + "/nope", read, 400, "error_logs_not_found.json"},
		{"log of another reference", list + "/billing-1", read, 400, "error_logs_not_found.json"},
		{"admin reads", list, admin, 200, "list.json"},
	}
	seed400 := d360File(t, "seed_400.json")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := d360Get(t, e, c.path, c.token)
			d360Status(t, resp, body, c.status)
			golden(t, "document360/"+c.golden, body)
			if c.status != 200 {
				sameLines(t, "shape against the seed's 400 example", jsonShape(t, []byte(body)), jsonShape(t, seed400))
			}
		})
	}
	if got, want := string(d360File(t, "error_reference_not_found.json")), d360Compact(t, seed400); got != want {
		t.Fatalf("the unknown-reference body is not the seed's 400 example:\ngot:  %s\nwant: %s", got, want)
	}
}

// TestDocument360Paging checks page-number paging newest first (modified_at, then id
// descending): defaults, the pages concatenating to the whole list without gaps or
// repeats, pages past the end and empty references answering data [], values below
// 1 falling back to the defaults, up to 1000 rows per page (never a silent cap), and
// query keys bound in any case.
func TestDocument360Paging(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	ing, read := e.Tokens[model.RoleIngest], e.Tokens[model.RoleRead]
	// 12 logs of "docs": minutes 0..10, and two at minute 5 so that the id breaks a tie.
	var lines, want []string
	for m := 0; m <= 10; m++ {
		lines = append(lines, d360Log(fmt.Sprintf("docs-%02d", m), "docs", m))
	}
	lines = append(lines, d360Log("docs-05b", "docs", 5))
	for m := 10; m >= 0; m-- {
		want = append(want, fmt.Sprintf("docs-%02d", m))
		if m == 5 {
			want[len(want)-1] = "docs-05b"
			want = append(want, "docs-05")
		}
	}
	var bulk []string
	for i := range 105 {
		bulk = append(bulk, d360Log(fmt.Sprintf("bulk-%03d", i), "bulk", i))
	}
	d360Ingest(t, e, ing, append(lines, bulk...)...)
	if _, err := e.DB.Bun.NewInsert().Model(&model.APIReference{WorkspaceID: e.WS, ID: "empty"}).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	ids := func(query string) []string {
		t.Helper()
		resp, body := d360Get(t, e, "/v2/APIReferences/docs/Logs"+query, read)
		d360Status(t, resp, body, http.StatusOK)
		return d360IDs(t, body)
	}
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"", want[:5]},
		{"?page=1&resultsPerPage=5", want[:5]},
		{"?page=2", want[5:10]},
		{"?page=3", want[10:]},
		{"?page=4", []string{}},
		{"?page=2147483647&resultsPerPage=100", []string{}},
		{"?page=0", want[:5]},
		{"?page=-3", want[:5]},
		{"?resultsPerPage=0", want[:5]},
		{"?resultsPerPage=-1&page=2", want[5:10]},
		{"?resultsPerPage=1000", want},
		{"?resultsPerPage=12", want},
		{"?resultsPerPage=3&page=4", want[9:]},
		{"?RESULTSPERPAGE=2&Page=2", want[2:4]},
		{"?page=3&page=1", want[10:]}, // the first value binds, as in ASP.NET
		{"?page=%202%20", want[5:10]}, // white space around an int32 binds
		{"?page=%2B2", want[5:10]},    // and so does a sign
		{"?other=x", want[:5]},
	} {
		t.Run(c.query, func(t *testing.T) {
			if got := ids(c.query); !slices.Equal(got, c.want) {
				t.Errorf("%q: got %v, want %v", c.query, got, c.want)
			}
		})
	}
	var all []string
	for p := 1; ; p++ {
		got := ids(fmt.Sprintf("?page=%d&resultsPerPage=7", p))
		if len(got) == 0 {
			break
		}
		all = append(all, got...)
	}
	if !slices.Equal(all, want) {
		t.Errorf("pages of 7 concatenated: %v, want %v", all, want)
	}

	resp, body := d360Get(t, e, "/v2/APIReferences/bulk/Logs?resultsPerPage=1000", read)
	d360Status(t, resp, body, http.StatusOK)
	if got := d360IDs(t, body); len(got) != 105 || got[0] != "bulk-104" || got[104] != "bulk-000" {
		t.Errorf("resultsPerPage=1000 gave %d rows (%v...), want all 105", len(got), got[:min(len(got), 3)])
	}
	resp, body = d360Get(t, e, "/v2/APIReferences/bulk/Logs?resultsPerPage=200", read)
	d360Status(t, resp, body, http.StatusOK)
	if got := d360IDs(t, body); len(got) != 105 {
		t.Errorf("resultsPerPage=200 gave %d rows, want all 105 (never a silent cap)", len(got))
	}
	resp, body = d360Get(t, e, "/v2/APIReferences/bulk/Logs?resultsPerPage=100&page=2", read)
	d360Status(t, resp, body, http.StatusOK)
	if got := d360IDs(t, body); !slices.Equal(got, []string{"bulk-004", "bulk-003", "bulk-002", "bulk-001", "bulk-000"}) {
		t.Errorf("page 2 of 100: %v", got)
	}

	resp, body = d360Get(t, e, "/v2/APIReferences/empty/Logs", read)
	d360Status(t, resp, body, http.StatusOK)
	if body != `{"data":[],"extension_data":null,"success":true,"errors":[],"warnings":[],"information":[]}` {
		t.Errorf("empty reference: %s", body)
	}
}

// TestDocument360PathVariants checks that the path matches in any case, with or
// without one trailing slash, on both routes; that other /v2 paths get the plain 404
// and other methods 405; and that an escaped id is one opaque segment.
func TestDocument360PathVariants(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	d360Ingest(t, e, e.Tokens[model.RoleIngest], d360SeedLogs...)
	d360Ingest(t, e, e.Tokens[model.RoleIngest], d360Log("spaced-1", "pet store/v2", 1))
	read := e.Tokens[model.RoleRead]
	listBody, err := os.ReadFile(filepath.Join(d360Dir, "list.json"))
	if err != nil {
		t.Fatal(err)
	}
	detailBody, err := os.ReadFile(filepath.Join(d360Dir, "detail.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		"/v2/APIReferences/petstore/Logs",
		"/v2/APIReferences/petstore/Logs/",
		"/v2/apireferences/petstore/logs",
		"/V2/APIREFERENCES/petstore/LOGS/",
		"/v2/ApiReferences/petstore/Logs",
		"/V2/aPiReFeReNcEs/petstore/lOgS?page=1",
	} {
		resp, body := d360Get(t, e, p, read)
		d360Status(t, resp, body, http.StatusOK)
		if body != string(listBody) {
			t.Errorf("%s: %s", p, body)
		}
	}
	for _, p := range []string{
		"/v2/APIReferences/petstore/Logs/33b5c7e-fcbe-4797-b144-1a7ca2508f44",
		"/v2/apireferences/petstore/logs/33b5c7e-fcbe-4797-b144-1a7ca2508f44/",
		"/V2/APIREFERENCES/petstore/LOGS/33b5c7e-fcbe-4797-b144-1a7ca2508f44",
	} {
		resp, body := d360Get(t, e, p, read)
		d360Status(t, resp, body, http.StatusOK)
		if body != string(detailBody) {
			t.Errorf("%s: %s", p, body)
		}
	}
	resp, body := d360Get(t, e, "/v2/APIReferences/pet%20store%2Fv2/Logs", read)
	d360Status(t, resp, body, http.StatusOK)
	if got := d360IDs(t, body); !slices.Equal(got, []string{"spaced-1"}) {
		t.Errorf("escaped reference id: %s", body)
	}
	for _, p := range []string{
		"/v2/APIReferences/petstore",
		"/v2/APIReferences/petstore/Logs/33b5c7e-fcbe-4797-b144-1a7ca2508f44/extra",
		"/v2/APIReferences/petstore/Log",
		"/v2/Articles/petstore/Logs",
		"/v2/foo",
		"/v2/",
		"/v3/APIReferences/petstore/Logs",
	} {
		resp, body := d360Get(t, e, p, read)
		if resp.StatusCode != http.StatusNotFound || body != "404 page not found\n" {
			t.Errorf("%s: %d %q, want the plain 404", p, resp.StatusCode, body)
		}
	}
	resp, body = e.Do(http.MethodPost, "/v2/APIReferences/petstore/Logs", nil, "api_token", read)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d %s", resp.StatusCode, body)
	}
}

// TestDocument360WorkspaceIsolation checks that a token of another workspace sees
// workspace A's reference as unknown (the same 400 as a missing one), A's log as
// unknown under its own reference of the same id, and only its own rows.
func TestDocument360WorkspaceIsolation(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	ctx := context.Background()
	d360Ingest(t, e, e.Tokens[model.RoleIngest], d360SeedLogs...)
	wsB, err := db.NewWorkspaceStore(e.DB.Bun).Create(ctx, "globex", "Globex")
	if err != nil {
		t.Fatal(err)
	}
	tokens := db.NewTokenStore(e.DB.Bun)
	_, readB, err := tokens.Create(ctx, wsB.ID, "b-read", model.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	_, ingestB, err := tokens.Create(ctx, wsB.ID, "b-ingest", model.RoleIngest)
	if err != nil {
		t.Fatal(err)
	}
	refNotFound := string(d360File(t, "error_reference_not_found.json"))
	logNotFound := string(d360File(t, "error_logs_not_found.json"))
	aLog := "/v2/APIReferences/petstore/Logs/33b5c7e-fcbe-4797-b144-1a7ca2508f44"

	resp, body := d360Get(t, e, "/v2/APIReferences/petstore/Logs", readB)
	d360Status(t, resp, body, http.StatusBadRequest)
	if body != refNotFound {
		t.Errorf("B lists A's reference: %s", body)
	}
	resp, body = d360Get(t, e, aLog, readB)
	d360Status(t, resp, body, http.StatusBadRequest)
	if body != refNotFound {
		t.Errorf("B reads A's log under A's reference: %s", body)
	}

	// B imports its own "petstore": it sees its own row and never A's.
	d360Ingest(t, e, ingestB, d360Log("b-only", "petstore", 1))
	resp, body = d360Get(t, e, "/v2/APIReferences/petstore/Logs", readB)
	d360Status(t, resp, body, http.StatusOK)
	if got := d360IDs(t, body); !slices.Equal(got, []string{"b-only"}) {
		t.Errorf("B's petstore: %v", got)
	}
	resp, body = d360Get(t, e, aLog, readB)
	d360Status(t, resp, body, http.StatusBadRequest)
	if body != logNotFound {
		t.Errorf("B reads A's log id under its own reference: %s", body)
	}
	// A is unaffected by B's rows.
	resp, body = d360Get(t, e, "/v2/APIReferences/petstore/Logs", e.Tokens[model.RoleRead])
	d360Status(t, resp, body, http.StatusOK)
	if body != string(d360File(t, "list.json")) {
		t.Errorf("A's list changed: %s", body)
	}
}

// TestDocument360WholeSeconds checks that modified_at is sent as the seed documents
// it, YYYY-MM-DDTHH:MM:SSZ, whatever fraction of a second was stored: the fraction is
// cut off, never rounded into the next second.
func TestDocument360WholeSeconds(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	stored := map[string]string{
		"half":   "2024-06-13T14:30:00.5Z",
		"micros": "2024-06-13T14:30:01.123456Z",
		"almost": "2024-06-13T14:30:02.999999+02:00",
		"whole":  "2024-06-13T14:30:03Z",
	}
	want := map[string]string{
		"half": "2024-06-13T14:30:00Z", "micros": "2024-06-13T14:30:01Z",
		"almost": "2024-06-13T12:30:02Z", "whole": "2024-06-13T14:30:03Z",
	}
	var lines []string
	for id, at := range stored {
		lines = append(lines, fmt.Sprintf(`{"logs_id":%q,"api_reference_id":"secs","user_id":"u","user_name":"U","title":"t","modified_at":%q,"error_count":0,"alerts_count":0}`, id, at))
	}
	d360Ingest(t, e, e.Tokens[model.RoleIngest], lines...)
	resp, body := d360Get(t, e, "/v2/APIReferences/secs/Logs?resultsPerPage=10", e.Tokens[model.RoleRead])
	d360Status(t, resp, body, http.StatusOK)
	var got struct {
		Data []struct {
			ID         string `json:"logs_id"`
			ModifiedAt string `json:"modified_at"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil || len(got.Data) != len(want) {
		t.Fatalf("%v: %s", err, body)
	}
	for _, d := range got.Data {
		t.Run(d.ID, func(t *testing.T) {
			if d.ModifiedAt != want[d.ID] {
				t.Errorf("modified_at %q, want %q", d.ModifiedAt, want[d.ID])
			}
		})
	}
}
