package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

// The documented error bodies, byte for byte.
const (
	ep401 = `{"errors":[{"status":401,"title":"Unable to validate access token"}]}`
	ep403 = `{"errors":[{"status":403,"title":"Forbidden"}]}`
	ep404 = `{"errors":[{"title":"Not Found","status":404,"detail":"The resource could not be found"}]}`
	ep500 = `{"errors":[{"status":500,"title":"Internal server error","detail":"An internal error has occurred."}]}`
)

var (
	ep400Limit  = `{"errors":[{"title":"Validation Error","status":400,"detail":"` + rest.EPDetailLimit + `"}]}`
	ep400Offset = `{"errors":[{"title":"Validation Error","status":400,"detail":"` + rest.EPDetailOffset + `"}]}`
)

// The fixture: integration A has job 1 (two logs), job 2 (one log) and one log with
// no job, null body and null error_detail, sharing job 2's log's timestamp (so id
// breaks the tie); integration B has one log whose body needs no HTML escaping.
const (
	epIntA = "11111111-1111-4111-8111-111111111111"
	epIntB = "22222222-2222-4222-8222-222222222222"
	epJob1 = "aaaaaaaa-0000-4000-8000-000000000001"
	epJob2 = "aaaaaaaa-0000-4000-8000-000000000002"
	epJob3 = "aaaaaaaa-0000-4000-8000-000000000003"
	// Not in any workspace.
	epUnknown = "99999999-9999-4999-8999-999999999999"

	epFixture = `{"id":"00000000-0000-4000-8000-000000000001","integration_id":"` + epIntA + `","integration_name":"Orders","job_id":"` + epJob1 + `","succeeded":false,"attempt":1,"body":"Not Found","status_code":404,"error_detail":"Received a status code outside of 2xx range - treating webhook as a fail","created_at":"2024-06-13T14:00:00Z"}
{"id":"00000000-0000-4000-8000-000000000002","integration_id":"` + epIntA + `","job_id":"` + epJob1 + `","succeeded":true,"attempt":2,"body":"OK","status_code":200,"created_at":"2024-06-13T14:01:00Z"}
{"id":"00000000-0000-4000-8000-000000000003","integration_id":"` + epIntA + `","job_id":"` + epJob2 + `","succeeded":true,"attempt":1,"body":"{\"ok\":true}","status_code":200,"created_at":"2024-06-13T14:02:00Z"}
{"id":"00000000-0000-4000-8000-000000000004","integration_id":"` + epIntA + `","succeeded":false,"attempt":3,"status_code":0,"created_at":"2024-06-13T14:02:00Z"}
{"id":"00000000-0000-4000-8000-000000000005","integration_id":"` + epIntB + `","integration_name":"Refunds","job_id":"` + epJob3 + `","succeeded":false,"attempt":1,"body":"<html>&</html>","status_code":503,"error_detail":"Service Unavailable","created_at":"2024-06-13T14:03:00Z"}
`
)

// epIngest loads NDJSON integration records with the ingest token and checks that all
// of them were stored.
func epIngest(t *testing.T, e *testserver.Env, ndjson string) {
	t.Helper()
	resp, body := e.Ingest("integration", e.Tokens[model.RoleIngest], ndjson, "Content-Type", "application/x-ndjson")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest: %d %s", resp.StatusCode, body)
	}
	if r := decodeReply(t, body); r.Accepted != strings.Count(strings.TrimSpace(ndjson), "\n")+1 {
		t.Fatalf("ingest: %s", body)
	}
}

// epGet sends a GET with `Authorization: Bearer <token>` (none when token is empty).
func epGet(e *testserver.Env, token, path string) (*http.Response, string) {
	if token == "" {
		return e.Do(http.MethodGet, path, nil)
	}
	return e.Do(http.MethodGet, path, nil, "Authorization", "Bearer "+token)
}

// epWant asserts the status and the exact body.
func epWant(t *testing.T, what string, resp *http.Response, body string, status int, want string) {
	t.Helper()
	if resp.StatusCode != status || body != want {
		t.Errorf("%s: got %d %s\nwant %d %s", what, resp.StatusCode, body, status, want)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
}

// jsonNode is a JSON value with its object keys in document order, read from
// json.Decoder tokens (a map would lose the order the contract fixes).
type jsonNode struct {
	kind   string // object, array, string, number, bool, null
	keys   []string
	fields []*jsonNode
	elems  []*jsonNode
	scalar any
}

func parseOrdered(t *testing.T, doc string) *jsonNode {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	n, err := readNode(dec)
	if err != nil {
		t.Fatalf("not JSON: %v: %s", err, doc)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Fatalf("trailing data after the JSON value: %s", doc)
	}
	return n
}

func readNode(dec *json.Decoder) (*jsonNode, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		n := &jsonNode{kind: "object"}
		if v == '[' {
			n.kind = "array"
		}
		for dec.More() {
			if n.kind == "object" {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k.(string))
			}
			child, err := readNode(dec)
			if err != nil {
				return nil, err
			}
			if n.kind == "object" {
				n.fields = append(n.fields, child)
			} else {
				n.elems = append(n.elems, child)
			}
		}
		_, err := dec.Token() // the closing delimiter
		return n, err
	case string:
		return &jsonNode{kind: "string", scalar: v}, nil
	case json.Number:
		return &jsonNode{kind: "number", scalar: v}, nil
	case bool:
		return &jsonNode{kind: "bool", scalar: v}, nil
	}
	return &jsonNode{kind: "null"}, nil
}

// sameShape reports where got differs from the seed example's shape: the same keys
// in the same order at every level, the same value kinds, every array element
// shaped like the seed's first element. No null is allowed where the seed shows a
// value: absent body and error_detail are "" and a log without a job has its own.
func sameShape(seed, got *jsonNode, path string) error {
	if seed.kind != got.kind {
		return fmt.Errorf("%s: %s, seed has %s", path, got.kind, seed.kind)
	}
	switch seed.kind {
	case "object":
		if !slices.Equal(seed.keys, got.keys) {
			return fmt.Errorf("%s: keys %v, seed has %v", path, got.keys, seed.keys)
		}
		for i, k := range seed.keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if err := sameShape(seed.fields[i], got.fields[i], p); err != nil {
				return err
			}
		}
	case "array":
		for _, el := range got.elems {
			if len(seed.elems) == 0 {
				return fmt.Errorf("%s: the seed's array is empty", path)
			}
			if err := sameShape(seed.elems[0], el, path+"[]"); err != nil {
				return err
			}
		}
	}
	return nil
}

func epSeedExample(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "elasticpath", "seed_example.json"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestElasticPathSeedRequest drives the shim with the seed's request and the seed's
// example log: the reply is the seed's example body, key for key and value for
// value, except relationships.job.data.type, which the contract sets to
// "integration-job" where the seed example says "job".
func TestElasticPathSeedRequest(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	epIngest(t, e, `{"id":"ac8bb58e-2b9b-4ccf-9dd2-ecdf50417849","integration_id":"ff8634a8-a89e-4eac-baab-9b7b8c4f8720","job_id":"ff8634a8-a89e-4eac-baab-9b7b8c4f8720","succeeded":true,"attempt":1,"body":"Not Found","status_code":404,"error_detail":"Received a status code outside of 2xx range - treating webhook as a fail","created_at":"2024-06-13T14:30:00Z"}`+"\n")
	resp, body := epGet(e, e.Tokens[model.RoleRead], "/integrations/ff8634a8-a89e-4eac-baab-9b7b8c4f8720/logs")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	seed := epSeedExample(t)
	if err := sameShape(parseOrdered(t, seed), parseOrdered(t, body), ""); err != nil {
		t.Fatalf("shape differs from the seed example: %v\n%s", err, body)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(seed)); err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(compact.String(), `"type":"job"`, `"type":"`+rest.EPJobType+`"`, 1)
	if body != want {
		t.Fatalf("got  %s\nwant %s", body, want)
	}
}

// TestElasticPathGolden pins each endpoint's success body (both path forms answer the
// same bytes) and checks the log lists against the seed example's shape and key
// order: newest first with id descending on a tie, null body/error_detail kept as
// keys, "job": {"data": null} for a log with no job, jobs newest first.
func TestElasticPathGolden(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	epIngest(t, e, epFixture)
	seed := parseOrdered(t, epSeedExample(t))
	for _, c := range []struct{ golden, path string }{
		{"store_logs.json", "/integrations/logs"},
		{"integration_logs.json", "/integrations/" + epIntA + "/logs"},
		{"job_logs.json", "/integrations/" + epIntA + "/jobs/" + epJob1 + "/logs"},
		{"jobs.json", "/integrations/" + epIntA + "/jobs"},
	} {
		t.Run(c.golden, func(t *testing.T) {
			for _, prefix := range []string{"", "/v2"} {
				resp, body := epGet(e, e.Tokens[model.RoleRead], prefix+c.path)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%s: %d %s", prefix+c.path, resp.StatusCode, body)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("%s: Content-Type %q", prefix+c.path, ct)
				}
				goldenJSON(t, "elasticpath/"+c.golden, body)
				got := parseOrdered(t, body)
				if c.golden == "jobs.json" {
					// No seed example: the documented shape is {"data":[{"id","type"}]}.
					if !slices.Equal(got.keys, []string{"data"}) || got.fields[0].kind != "array" || len(got.fields[0].elems) == 0 {
						t.Fatalf("%s: not the documented /jobs shape: %s", c.path, body)
					}
					for _, el := range got.fields[0].elems {
						if !slices.Equal(el.keys, []string{"id", "type"}) {
							t.Errorf("%s: job keys %v, want [id type]", c.path, el.keys)
						}
					}
					continue
				}
				if err := sameShape(seed, got, ""); err != nil {
					t.Errorf("%s: shape differs from the seed example: %v", prefix+c.path, err)
				}
			}
		})
	}
}

// TestElasticPathAuth: every route (with and without /v2) answers the documented 401
// for a missing header, another scheme, an empty, unknown or revoked token, and 403
// for an ingest-only token; a read or admin token passes.
func TestElasticPathAuth(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	epIngest(t, e, epFixture)
	ctx := context.Background()
	revoked, revokedText, err := e.Store.Create(ctx, e.WS, "revoked", model.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Store.Revoke(ctx, e.WS, revoked.ID); err != nil {
		t.Fatal(err)
	}
	read := e.Tokens[model.RoleRead]
	for _, path := range epRoutes() {
		for _, c := range []struct {
			name    string
			headers []string
			status  int
			body    string
		}{
			{"no header", nil, http.StatusUnauthorized, ep401},
			{"Token scheme", []string{"Authorization", "Token " + read}, http.StatusUnauthorized, ep401},
			{"Basic scheme", []string{"Authorization", "Basic " + read}, http.StatusUnauthorized, ep401},
			{"raw token", []string{"Authorization", read}, http.StatusUnauthorized, ep401},
			{"empty bearer", []string{"Authorization", "Bearer "}, http.StatusUnauthorized, ep401},
			{"unknown token", []string{"Authorization", "Bearer lg_not_a_token"}, http.StatusUnauthorized, ep401},
			{"revoked token", []string{"Authorization", "Bearer " + revokedText}, http.StatusUnauthorized, ep401},
			{"ingest-only token", []string{"Authorization", "Bearer " + e.Tokens[model.RoleIngest]}, http.StatusForbidden, ep403},
		} {
			t.Run(c.name, func(t *testing.T) {
				resp, body := e.Do(http.MethodGet, path, nil, c.headers...)
				epWant(t, c.name+" "+path, resp, body, c.status, c.body)
			})
		}
		for _, h := range []string{"Bearer " + read, "bearer " + read, "Bearer " + e.Tokens[model.RoleAdmin]} {
			if resp, body := e.Do(http.MethodGet, path, nil, "Authorization", h); resp.StatusCode != http.StatusOK {
				t.Errorf("%s with %q: %d %s", path, strings.Fields(h)[0], resp.StatusCode, body)
			}
		}
	}
}

// epRoutes are the fixture's existing resources on every route.
func epRoutes() []string {
	var out []string
	for _, prefix := range []string{"", "/v2"} {
		out = append(out, prefix+"/integrations/logs", prefix+"/integrations/"+epIntA+"/logs",
			prefix+"/integrations/"+epIntA+"/jobs", prefix+"/integrations/"+epIntA+"/jobs/"+epJob1+"/logs")
	}
	return out
}

// TestElasticPathOrderOfChecks: auth fails before validation, validation before
// lookup (a bad page of an unknown integration is a 400, not a 404).
func TestElasticPathOrderOfChecks(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	unknown := "/integrations/" + epUnknown + "/logs?page[limit]=-1"
	resp, body := epGet(e, "", unknown)
	epWant(t, "no token, bad page, unknown integration", resp, body, http.StatusUnauthorized, ep401)
	resp, body = epGet(e, e.Tokens[model.RoleIngest], unknown)
	epWant(t, "ingest token, bad page, unknown integration", resp, body, http.StatusForbidden, ep403)
	resp, body = epGet(e, e.Tokens[model.RoleRead], unknown)
	epWant(t, "read token, bad page, unknown integration", resp, body, http.StatusBadRequest, ep400Limit)
	resp, body = epGet(e, e.Tokens[model.RoleRead], "/integrations/not-a-uuid/jobs/"+epUnknown+"/logs?page[offset]=x")
	epWant(t, "read token, bad offset, malformed integration", resp, body, http.StatusBadRequest, ep400Offset)
}

// TestElasticPathValidation: every bad page value answers the 400 body exactly, on
// every paged route; the /jobs route takes no page parameters and ignores them.
func TestElasticPathValidation(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	epIngest(t, e, epFixture)
	for _, path := range epRoutes() {
		if strings.HasSuffix(path, "/jobs") {
			resp, body := epGet(e, e.Tokens[model.RoleRead], path+"?page[limit]=-1&page[offset]=x")
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s ignores paging: %d %s", path, resp.StatusCode, body)
			}
			continue
		}
		for _, c := range []struct{ query, want string }{
			{"page[limit]=-1", ep400Limit},
			{"page[limit]=0", ep400Limit},
			{"page[limit]=abc", ep400Limit},
			{"page[limit]=1.5", ep400Limit},
			{"page[limit]=", ep400Limit},
			{"page[limit]=-99999999999999999999", ep400Limit},
			{"page[offset]=99999999999999999999", ep400Offset},
			{"page[offset]=-1", ep400Offset},
			{"page[offset]=abc", ep400Offset},
			{"page[offset]=2.0", ep400Offset},
			{"page[offset]=", ep400Offset},
			{"page[limit]=5&page[offset]=-3", ep400Offset},
		} {
			t.Run(c.query, func(t *testing.T) {
				resp, body := epGet(e, e.Tokens[model.RoleRead], path+"?"+c.query)
				epWant(t, path+"?"+c.query, resp, body, http.StatusBadRequest, c.want)
			})
		}
	}
}

type epListReply struct {
	Data []struct {
		ID            string `json:"id"`
		Relationships struct {
			Job struct {
				Data *struct{ ID string } `json:"data"`
			} `json:"job"`
		} `json:"relationships"`
	} `json:"data"`
	Meta struct {
		Limit, Offset, Current, Total int
	} `json:"meta"`
	Results struct{ Total int } `json:"results"`
}

func epList(t *testing.T, e *testserver.Env, token, path string) (epListReply, string) {
	t.Helper()
	resp, body := epGet(e, token, path)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
	}
	var r epListReply
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r, body
}

// TestElasticPathPaging: with 7 logs and page[limit]=3 the pages hold 3, 3 and 1 logs
// with current 1, 2, 3 and total ceil(7/3) = 3, and together list all 7 newest first
// once each; an offset inside a page rounds current down; an offset past the end is an
// empty page with the counts intact; 500 is clamped to 100; the default is 100/0;
// an empty set is total 0, current 1, "data":[].
func TestElasticPathPaging(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	var lines strings.Builder
	var want []string
	for i := 1; i <= 7; i++ {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		want = append([]string{id}, want...) // newest first
		fmt.Fprintf(&lines, `{"id":%q,"integration_id":%q,"job_id":%q,"succeeded":true,"attempt":1,"body":"OK","status_code":200,"created_at":"2024-06-13T14:%02d:00Z"}`+"\n",
			id, epIntA, epJob1, i)
	}
	epIngest(t, e, lines.String())
	read := e.Tokens[model.RoleRead]

	for _, base := range []string{"/integrations/logs", "/integrations/" + epIntA + "/logs", "/v2/integrations/" + epIntA + "/jobs/" + epJob1 + "/logs"} {
		var got []string
		for i, c := range []struct{ offset, n, current int }{{0, 3, 1}, {3, 3, 2}, {6, 1, 3}} {
			t.Run("offset="+fmt.Sprint(c.offset), func(t *testing.T) {
				r, _ := epList(t, e, read, fmt.Sprintf("%s?page[limit]=3&page[offset]=%d", base, c.offset))
				if len(r.Data) != c.n || r.Meta.Limit != 3 || r.Meta.Offset != c.offset || r.Meta.Current != c.current ||
					r.Meta.Total != 3 || r.Results.Total != 7 {
					t.Errorf("%s page %d: %+v, %d rows", base, i+1, r.Meta, len(r.Data))
				}
				for _, d := range r.Data {
					got = append(got, d.ID)
				}
			})
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: pages list %v, want %v", base, got, want)
		}

		r, _ := epList(t, e, read, base+"?page[limit]=3&page[offset]=4")
		if r.Meta.Current != 2 || len(r.Data) != 3 || r.Data[0].ID != want[4] {
			t.Errorf("%s offset 4: %+v", base, r.Meta)
		}
		r, body := epList(t, e, read, base+"?page[limit]=3&page[offset]=10")
		if r.Meta != (struct{ Limit, Offset, Current, Total int }{3, 10, 4, 3}) || r.Results.Total != 7 || !strings.HasPrefix(body, `{"data":[],`) {
			t.Errorf("%s past the end: %s", base, body)
		}
		for _, limit := range []string{"500", "101", "99999999999999999999"} {
			r, _ = epList(t, e, read, base+"?page[limit]="+limit)
			if r.Meta.Limit != rest.EPMaxPageLimit || r.Meta.Total != 1 || len(r.Data) != 7 {
				t.Errorf("%s limit %s: %+v", base, limit, r.Meta)
			}
		}
		r, _ = epList(t, e, read, base+"?page[limit]=1&page[offset]=4611686018427387903")
		if r.Meta.Current != 4611686018427387904 || r.Meta.Total != 7 || len(r.Data) != 0 {
			t.Errorf("%s largest offset: %+v", base, r.Meta)
		}
		r, _ = epList(t, e, read, base)
		if r.Meta.Limit != rest.EPDefaultPageLimit || r.Meta.Offset != 0 || r.Meta.Current != 1 || r.Meta.Total != 1 {
			t.Errorf("%s defaults: %+v", base, r.Meta)
		}
		r, _ = epList(t, e, read, base+"?page[limit]=7")
		if r.Meta.Total != 1 || len(r.Data) != 7 {
			t.Errorf("%s exact page: %+v", base, r.Meta)
		}
	}

	// An empty set: a fresh workspace's store logs.
	_, other := epWorkspace(t, e, "empty")
	_, body := epList(t, e, other, "/integrations/logs")
	if want := `{"data":[],"meta":{"limit":100,"offset":0,"current":1,"total":0},"results":{"total":0}}`; body != want {
		t.Errorf("empty set: %s\nwant %s", body, want)
	}
	_, body = epList(t, e, other, "/v2/integrations/logs?page[limit]=3&page[offset]=7")
	if want := `{"data":[],"meta":{"limit":3,"offset":7,"current":3,"total":0},"results":{"total":0}}`; body != want {
		t.Errorf("empty set, offset 7: %s\nwant %s", body, want)
	}
}

// epWorkspace creates another workspace and returns its id and a read token of it.
func epWorkspace(t *testing.T, e *testserver.Env, slug string) (uuid.UUID, string) {
	t.Helper()
	ctx := context.Background()
	ws, err := db.NewWorkspaceStore(e.DB.Bun).Create(ctx, slug, slug)
	if err != nil {
		t.Fatal(err)
	}
	_, text, err := db.NewTokenStore(e.DB.Bun).Create(ctx, ws.ID, "read", model.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	return ws.ID, text
}

// TestElasticPathNotFound: unknown, malformed and other-integration ids all answer
// the documented 404 on both path forms.
func TestElasticPathNotFound(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	epIngest(t, e, epFixture)
	for _, prefix := range []string{"", "/v2"} {
		for _, path := range []string{
			"/integrations/" + epUnknown + "/logs",
			"/integrations/" + epUnknown + "/jobs",
			"/integrations/" + epUnknown + "/jobs/" + epJob1 + "/logs",
			"/integrations/" + epIntA + "/jobs/" + epUnknown + "/logs",
			"/integrations/" + epIntA + "/jobs/" + epJob3 + "/logs", // job 3 is integration B's
			"/integrations/" + epIntA + "/jobs/" + epIntA + "/logs", // an integration id is no job id
			"/integrations/not-a-uuid/logs",
			"/integrations/not-a-uuid/jobs",
			"/integrations/" + epIntA + "/jobs/not-a-uuid/logs",
			"/integrations/" + strings.ReplaceAll(epIntA, "-", "") + "/logs", // not the canonical form
			"/integrations/{" + epIntA + "}/logs",
		} {
			resp, body := epGet(e, e.Tokens[model.RoleRead], prefix+path+"?page[limit]=5")
			epWant(t, prefix+path, resp, body, http.StatusNotFound, ep404)
		}
	}
}

// TestElasticPathWorkspaceIsolation: workspace B sees none of workspace A's rows: A's
// integration and job ids answer B exactly as unknown ids do, B's store logs list
// only B's own, and A still sees its own.
func TestElasticPathWorkspaceIsolation(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	epIngest(t, e, epFixture)
	bWS, b := epWorkspace(t, e, "other")
	for _, prefix := range []string{"", "/v2"} {
		for _, path := range []string{
			"/integrations/" + epIntA + "/logs",
			"/integrations/" + epIntA + "/jobs",
			"/integrations/" + epIntA + "/jobs/" + epJob1 + "/logs",
		} {
			resp, body := epGet(e, b, prefix+path)
			epWant(t, "B reads A's "+prefix+path, resp, body, http.StatusNotFound, ep404)
		}
		r, _ := epList(t, e, b, prefix+"/integrations/logs")
		if len(r.Data) != 0 || r.Results.Total != 0 {
			t.Errorf("B lists A's logs: %+v", r)
		}
	}
	// B ingests its own log under A's integration id: each workspace sees only its own.
	_, ingestText, err := db.NewTokenStore(e.DB.Bun).Create(context.Background(), bWS, "ingest", model.RoleIngest)
	if err != nil {
		t.Fatal(err)
	}
	bLog := `{"id":"bbbbbbbb-0000-4000-8000-000000000001","integration_id":"` + epIntA + `","succeeded":true,"attempt":1,"status_code":200,"created_at":"2024-06-13T15:00:00Z"}` + "\n"
	if resp, body := e.Ingest("integration", ingestText, bLog, "Content-Type", "application/x-ndjson"); resp.StatusCode != http.StatusOK {
		t.Fatalf("B ingest: %d %s", resp.StatusCode, body)
	}
	for ci, c := range []struct {
		token string
		path  string
		ids   int
	}{
		{b, "/integrations/logs", 1},
		{b, "/integrations/" + epIntA + "/logs", 1},
		{e.Tokens[model.RoleRead], "/integrations/logs", 5},
		{e.Tokens[model.RoleRead], "/integrations/" + epIntA + "/logs", 4},
	} {
		t.Run(fmt.Sprint(ci), func(t *testing.T) {
			r, _ := epList(t, e, c.token, c.path)
			if len(r.Data) != c.ids || r.Results.Total != c.ids {
				t.Errorf("%s: %d rows, total %d, want %d", c.path, len(r.Data), r.Results.Total, c.ids)
			}
			for _, d := range r.Data {
				if isB := d.ID == "bbbbbbbb-0000-4000-8000-000000000001"; isB != (c.token == b) {
					t.Errorf("%s: log %s crossed workspaces", c.path, d.ID)
				}
			}
		})
	}
	resp, body := epGet(e, b, "/integrations/"+epIntA+"/jobs")
	epWant(t, "B's integration: its own one-delivery job only", resp, body, http.StatusOK,
		`{"data":[{"id":"bbbbbbbb-0000-4000-8000-000000000001","type":"integration-job"}]}`)
	resp, body = epGet(e, b, "/integrations/"+epIntA+"/jobs/00000000-0000-4000-8000-000000000004/logs")
	epWant(t, "B reads A's one-delivery job", resp, body, http.StatusNotFound, ep404)
}

// TestElasticPathOneDeliveryJobs: a delivery stored without a job is answered as its
// own one-delivery job (the id of the delivery): relationships.job.data is never null,
// /jobs lists it among the stored jobs by time, and /jobs/{id}/logs answers it with
// the seed's meta; an id that is a delivery of another integration, or a delivery that
// has a job, is not a job.
func TestElasticPathOneDeliveryJobs(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	epIngest(t, e, epFixture)
	read := e.Tokens[model.RoleRead]
	const lone = "00000000-0000-4000-8000-000000000004" // integration A's delivery without a job
	r, _ := epList(t, e, read, "/integrations/logs")
	for _, d := range r.Data {
		if d.Relationships.Job.Data == nil {
			t.Errorf("log %s: job data null", d.ID)
		} else if d.ID == lone && d.Relationships.Job.Data.ID != lone {
			t.Errorf("jobless log %s: job %s, want its own id", d.ID, d.Relationships.Job.Data.ID)
		}
	}
	for _, c := range []struct {
		name, path string
		status     int
		want       string
	}{
		{"listed among the jobs", "/integrations/" + epIntA + "/jobs", 200,
			`{"data":[{"id":"aaaaaaaa-0000-4000-8000-000000000002","type":"integration-job"},{"id":"` + lone + `","type":"integration-job"},{"id":"aaaaaaaa-0000-4000-8000-000000000001","type":"integration-job"}]}`},
		{"its logs", "/v2/integrations/" + epIntA + "/jobs/" + lone + "/logs", 200,
			`{"data":[{"id":"` + lone + `","type":"integration","succeeded":false,"attempt":3,"body":"","status_code":0,"error_detail":"",` +
				`"relationships":{"integration":{"data":{"id":"` + epIntA + `","type":"integration"}},"job":{"data":{"id":"` + lone + `","type":"integration-job"}}}}],` +
				`"meta":{"limit":100,"offset":0,"current":1,"total":1},"results":{"total":1}}`},
		{"past its one log", "/integrations/" + epIntA + "/jobs/" + lone + "/logs?page[limit]=1&page[offset]=1", 200,
			`{"data":[],"meta":{"limit":1,"offset":1,"current":2,"total":1},"results":{"total":1}}`},
		{"through another integration", "/integrations/" + epIntB + "/jobs/" + lone + "/logs", 404, ep404},
		{"a delivery that has a job", "/integrations/" + epIntA + "/jobs/00000000-0000-4000-8000-000000000001/logs", 404, ep404},
		{"validation first", "/integrations/" + epIntA + "/jobs/" + lone + "/logs?page[limit]=x", 400,
			`{"errors":[{"title":"Validation Error","status":400,"detail":"page[limit] must be a positive integer"}]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := epGet(e, read, c.path)
			epWant(t, c.name, resp, body, c.status, c.want)
		})
	}
}

// TestElasticPathStoreFailure: when the store fails after auth, the shim answers the
// documented 500 body and logs the error with the request id.
func TestElasticPathStoreFailure(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	epIngest(t, e, epFixture)
	var logs bytes.Buffer
	parts := db.NewPartitions(e.DB)
	h := rest.NewRouter(rest.Deps{DB: e.DB, Tokens: e.Store, Ingest: db.NewIngestStore(e.DB, parts),
		Metrics: rest.NewMetrics(e.DB.Pool), Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	// Tokens and integrations stay readable; the log table is gone.
	if _, err := e.DB.Pool.Exec(context.Background(), "ALTER TABLE integration_logs RENAME TO integration_logs_gone"); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/integrations/logs", "/v2/integrations/" + epIntA + "/jobs/" + epJob1 + "/logs"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+e.Tokens[model.RoleRead])
		req.Header.Set("X-Request-Id", "ep-failure-1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusInternalServerError || rec.Body.String() != ep500 {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Body.String())
		}
	}
	var found bool
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) && strings.Contains(line, `"request_id":"ep-failure-1"`) && strings.Contains(line, "integration_logs") {
			found = true
		}
	}
	if !found {
		t.Errorf("no error logged with the request id:\n%s", logs.String())
	}
}
