package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

// Seed 002's error bodies, byte for byte.
const (
	glUnauthenticated = `{"status":"error","message":"Authentication required. Please provide a valid API key or token."}`
	glForbidden       = `{"status":"error","message":"You do not have permission to access API logs."}`
)

// glFixture is seed 002's two example entries plus rows each filter of the seed's
// example request must keep out (or, for the details-less one, in).
const glFixture = `{"timestamp":"2023-10-27T10:35:15Z","level":"ERROR","service":"user-service","message":"Failed to authenticate user: invalid credentials for user_id 12345","details":{"user_id":12345,"ip_address":"192.168.1.100"}}
{"timestamp":"2023-10-27T10:30:01Z","level":"INFO","service":"product-service","message":"Product with ID 9876 retrieved successfully.","details":{"product_id":9876,"user_agent":"PostmanRuntime/7.28.0"}}
{"timestamp":"2023-10-27T09:15:00.250Z","level":"ERROR","service":"user-service","message":"Token <expired> & refresh failed"}
{"timestamp":"2023-10-27T09:00:00Z","level":"ERROR","service":"user-service","message":"Session store unreachable","details":{"retry":true}}
{"timestamp":"2023-10-27T08:59:59.999999Z","level":"ERROR","service":"user-service","message":"Before the window"}
{"timestamp":"2023-10-27T10:00:00Z","level":"WARN","service":"user-service","message":"Slow login"}
{"timestamp":"2023-10-27T10:01:00Z","level":"ERROR","service":"user-service-v2","message":"Other service"}
`

// glShape describes a JSON document's structure from its tokens, in document order:
// objects as their keys in order with their values' shapes, arrays by their first
// element. Two bodies with equal shapes have the same keys in the same order and the
// same value kinds.
func glShape(t *testing.T, doc string) string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var b strings.Builder
	var value func() error
	value = func() error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				b.WriteByte('{')
				for i := 0; dec.More(); i++ {
					k, err := dec.Token()
					if err != nil {
						return err
					}
					if i > 0 {
						b.WriteByte(',')
					}
					b.WriteString(k.(string) + ":")
					if err := value(); err != nil {
						return err
					}
				}
				b.WriteByte('}')
			case '[':
				b.WriteByte('[')
				for i := 0; dec.More(); i++ {
					if i == 0 {
						if err := value(); err != nil {
							return err
						}
						continue
					}
					var skip json.RawMessage // later elements: only the first one's shape counts
					if err := dec.Decode(&skip); err != nil {
						return err
					}
				}
				b.WriteByte(']')
			}
			_, err := dec.Token() // the closing delimiter
			return err
		case string:
			b.WriteString("string")
		case json.Number:
			b.WriteString("number")
		case bool:
			b.WriteString("bool")
		case nil:
			b.WriteString("null")
		}
		return nil
	}
	if err := value(); err != nil {
		t.Fatalf("not JSON: %v: %s", err, doc)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Fatalf("trailing data after the JSON value: %s", doc)
	}
	return b.String()
}

// glTestdata returns the compact form of a JSON file in testdata (a seed's example is
// read this way and never rewritten).
func glTestdata(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join("testdata", name)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return buf.String()
}

func glIngest(t *testing.T, e *testserver.Env, token, ndjson string) {
	t.Helper()
	if resp, body := e.Ingest("app", token, ndjson); resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest: %d %s", resp.StatusCode, body)
	}
}

func glGet(e *testserver.Env, query, token string) (*http.Response, string) {
	var h []string
	if token != "" {
		h = []string{"Authorization", "Bearer " + token}
	}
	return e.Do(http.MethodGet, "/logs"+query, nil, h...)
}

type glReply struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	Data    struct {
		Logs []struct {
			Timestamp string          `json:"timestamp"`
			Level     string          `json:"level"`
			Service   string          `json:"service"`
			Message   string          `json:"message"`
			Details   json.RawMessage `json:"details"`
		} `json:"logs"`
		Pagination struct {
			Total      int  `json:"total"`
			Limit      int  `json:"limit"`
			Offset     int  `json:"offset"`
			NextOffset *int `json:"nextOffset"`
		} `json:"pagination"`
	} `json:"data"`
}

// glDecode returns a decoder of a 200 reply (a function, so that it can take
// glGet's two results directly).
func glDecode(t *testing.T) func(*http.Response, string) glReply {
	return func(resp *http.Response, body string) glReply {
		t.Helper()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var r glReply
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		return r
	}
}

// TestGenericLogsSeedExample drives the shim with seed 002's example request: the
// filters are really applied (unlike the seed's sample body), startDate is inclusive,
// details is null when absent, and the body is the golden one byte for byte.
func TestGenericLogsSeedExample(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	glIngest(t, e, e.Tokens[model.RoleIngest], glFixture)
	resp, body := glGet(e, "?limit=10&level=ERROR&service=user-service&startDate=2023-10-27T09:00:00Z", e.Tokens[model.RoleRead])
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	goldenJSON(t, "genericlogs/seed_example_request.json", body)
	r := glDecode(t)(resp, body)
	if got := len(r.Data.Logs); got != 3 || r.Data.Pagination.Total != 3 || r.Data.Pagination.NextOffset != nil {
		t.Fatalf("want the 3 ERROR user-service logs from 09:00 on, one page: %s", body)
	}
}

// TestGenericLogsShapeMatchesSeed compares our body's structure with seed 002's
// example (its "// ... more log entries" comment removed): same keys in the same
// order, same value kinds, nested objects included.
func TestGenericLogsShapeMatchesSeed(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	glIngest(t, e, e.Tokens[model.RoleIngest], glFixture)
	resp, body := glGet(e, "?limit=1", e.Tokens[model.RoleRead])
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	seed := glTestdata(t, "genericlogs/seed_response.json")
	if got, want := glShape(t, body), glShape(t, seed); got != want {
		t.Fatalf("shape\n got %s\nwant %s", got, want)
	}
	goldenJSON(t, "genericlogs/limit1.json", body)
}

// TestGenericLogsAuth checks each way in and each refusal with the seed's exact
// bodies; auth is checked before the parameters.
func TestGenericLogsAuth(t *testing.T) {
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
		name    string
		query   string
		headers []string
		status  int
		body    string
	}{
		{"no header", "", nil, 401, glUnauthenticated},
		{"no header, bad limit", "?limit=0", nil, 401, glUnauthenticated},
		{"wrong scheme", "", []string{"Authorization", "Token " + read}, 401, glUnauthenticated},
		{"basic scheme", "", []string{"Authorization", "Basic " + read}, 401, glUnauthenticated},
		{"bearer without token", "", []string{"Authorization", "Bearer "}, 401, glUnauthenticated},
		{"unknown bearer", "", []string{"Authorization", "Bearer lg_nope"}, 401, glUnauthenticated},
		{"unknown api key", "", []string{"X-API-Key", "lg_nope"}, 401, glUnauthenticated},
		{"revoked bearer", "", []string{"Authorization", "Bearer " + revoked}, 401, glUnauthenticated},
		{"revoked api key", "", []string{"X-API-Key", revoked}, 401, glUnauthenticated},
		{"ingest-only bearer", "", []string{"Authorization", "Bearer " + e.Tokens[model.RoleIngest]}, 403, glForbidden},
		{"ingest-only api key, bad limit", "?limit=0", []string{"X-API-Key", e.Tokens[model.RoleIngest]}, 403, glForbidden},
		{"bearer", "", []string{"Authorization", "Bearer " + read}, 200, ""},
		{"bearer keyword any case", "", []string{"Authorization", "bEARER " + read}, 200, ""},
		{"api key", "", []string{"X-API-Key", read}, 200, ""},
		{"admin api key", "", []string{"X-API-Key", e.Tokens[model.RoleAdmin]}, 200, ""},
		{"api key beside another scheme", "", []string{"Authorization", "Basic xyz", "X-API-Key", read}, 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := e.Do(http.MethodGet, "/logs"+c.query, nil, c.headers...)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, body)
			}
			if c.body != "" && body != c.body {
				t.Fatalf("body\n got %s\nwant %s", body, c.body)
			}
			if c.status == 200 && body != `{"status":"success","data":{"logs":[],"pagination":{"total":0,"limit":50,"offset":0,"nextOffset":null}}}` {
				t.Fatalf("empty workspace: %s", body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
		})
	}
}

// TestGenericLogsBadParameters checks every malformed or out-of-range parameter's 400
// and exact message (the date ones are the seed's).
func TestGenericLogsBadParameters(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	const (
		badLimit  = `{"status":"error","message":"Invalid value for 'limit'. Please use an integer between 1 and 1000."}`
		badOffset = `{"status":"error","message":"Invalid value for 'offset'. Please use an integer of 0 or more."}`
		badLevel  = `{"status":"error","message":"Invalid value for 'level'. Please use one of DEBUG, INFO, WARN, ERROR, FATAL."}`
		badStart  = `{"status":"error","message":"Invalid date format for 'startDate'. Please use ISO 8601 format (YYYY-MM-DDTHH:MM:SSZ)."}`
		badEnd    = `{"status":"error","message":"Invalid date format for 'endDate'. Please use ISO 8601 format (YYYY-MM-DDTHH:MM:SSZ)."}`
		reversed  = `{"status":"error","message":"Invalid date range: 'startDate' must not be after 'endDate'."}`
	)
	for _, c := range []struct{ query, body string }{
		{"limit=0", badLimit},
		{"limit=1001", badLimit},
		{"limit=-5", badLimit},
		{"limit=ten", badLimit},
		{"limit=1.5", badLimit},
		{"limit=99999999999999999999", badLimit},
		{"offset=-1", badOffset},
		{"offset=x", badOffset},
		{"offset=99999999999999999999", badOffset},
		{"level=error", badLevel},
		{"level=TRACE", badLevel},
		{"level=WARNING", badLevel},
		{"startDate=yesterday", badStart},
		{"startDate=2023-10-27", badStart},
		{"startDate=2023-10-27T09:00:00", badStart},
		{"startDate=2023-10-27+09:00:00Z", badStart},
		{"endDate=2023-13-01T00:00:00Z", badEnd},
		{"endDate=1698397200", badEnd},
		{"startDate=2023-10-27T10:00:00Z&endDate=2023-10-27T09:59:59Z", reversed},
		{"startDate=2023-10-27T10:00:00Z&endDate=2023-10-27T11:00:00%2B02:00", reversed},
	} {
		t.Run(c.query, func(t *testing.T) {
			resp, body := glGet(e, "?"+c.query, e.Tokens[model.RoleRead])
			if resp.StatusCode != http.StatusBadRequest || body != c.body {
				t.Fatalf("got %d %s\nwant 400 %s", resp.StatusCode, body, c.body)
			}
		})
	}
	// The edges of the ranges are accepted.
	for _, q := range []string{"limit=1", "limit=1000", "offset=0", "level=FATAL", "level=", "startDate=2023-10-27T10:00:00Z&endDate=2023-10-27T10:00:00Z",
		"startDate=2023-10-27T10:00:00.5%2B01:00"} {
		if resp, body := glGet(e, "?"+q, e.Tokens[model.RoleRead]); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", q, resp.StatusCode, body)
		}
	}
	// Other methods answer in the seed's envelope.
	resp, body := e.Do(http.MethodPost, "/logs", nil, "Authorization", "Bearer "+e.Tokens[model.RoleRead])
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" ||
		body != `{"status":"error","message":"Method not allowed. Use GET."}` {
		t.Fatalf("POST: %d %q %s", resp.StatusCode, resp.Header.Get("Allow"), body)
	}
}

// TestGenericLogsPaging walks every page of 7 logs: newest first, no row twice or
// missed, nextOffset while offset+limit < total and null at and past the end.
func TestGenericLogsPaging(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	var b strings.Builder
	for i := 0; i < 7; i++ {
		fmt.Fprintf(&b, `{"timestamp":"2024-01-01T00:00:0%dZ","level":"INFO","service":"s","message":"m%d"}`+"\n", i, i)
	}
	// Two logs at the same time: order within them is stable (id descending).
	b.WriteString(`{"timestamp":"2024-01-01T00:00:03Z","level":"INFO","service":"s","message":"m3b"}` + "\n")
	glIngest(t, e, e.Tokens[model.RoleIngest], b.String())
	read := e.Tokens[model.RoleRead]

	var seen []string
	offset := 0
	for page := 0; ; page++ {
		r := glDecode(t)(e.Do(http.MethodGet, fmt.Sprintf("/logs?limit=3&offset=%d", offset), nil, "X-API-Key", read))
		p := r.Data.Pagination
		if p.Total != 8 || p.Limit != 3 || p.Offset != offset {
			t.Fatalf("page %d: pagination %+v", page, p)
		}
		for _, l := range r.Data.Logs {
			seen = append(seen, l.Message)
		}
		if offset+3 < 8 {
			if p.NextOffset == nil || *p.NextOffset != offset+3 || len(r.Data.Logs) != 3 {
				t.Fatalf("page %d: %d logs, nextOffset %v", page, len(r.Data.Logs), p.NextOffset)
			}
			offset = *p.NextOffset
			continue
		}
		if p.NextOffset != nil || len(r.Data.Logs) != 2 {
			t.Fatalf("last page: %d logs, nextOffset %v", len(r.Data.Logs), *p.NextOffset)
		}
		break
	}
	got := strings.Join(seen, " ")
	if !strings.HasPrefix(got, "m6 m5 m4 ") || !strings.HasSuffix(got, " m2 m1 m0") || len(seen) != 8 ||
		!(strings.Contains(got, "m3 m3b") || strings.Contains(got, "m3b m3")) {
		t.Fatalf("order: %s", got)
	}
	// Twice the same page: the tie order is stable.
	for i := 0; i < 2; i++ {
		r := glDecode(t)(glGet(e, "?limit=8", read))
		var all []string
		for _, l := range r.Data.Logs {
			all = append(all, l.Message)
		}
		if strings.Join(all, " ") != got {
			t.Fatalf("unstable order: %v vs %s", all, got)
		}
	}
	// Exactly at the end and past it: no rows, nextOffset null, total still counted.
	for _, q := range []string{"?limit=4&offset=4", "?offset=8", "?offset=1000000", "?limit=1000&offset=9223372036854775000"} {
		r := glDecode(t)(glGet(e, q, read))
		if r.Data.Pagination.NextOffset != nil || r.Data.Pagination.Total != 8 {
			t.Fatalf("%s: %+v", q, r.Data.Pagination)
		}
	}
	// The default page is 50.
	if r := glDecode(t)(glGet(e, "", read)); r.Data.Pagination.Limit != 50 || len(r.Data.Logs) != 8 {
		t.Fatalf("default: %+v", r.Data.Pagination)
	}
}

// TestGenericLogsFilters checks the bounds of each filter: both dates inclusive to
// the microsecond, level and service exact, search a case-insensitive substring in
// which % and _ are plain characters.
func TestGenericLogsFilters(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	glIngest(t, e, e.Tokens[model.RoleIngest], glFixture+
		`{"timestamp":"2023-10-27T11:00:00.000001Z","level":"DEBUG","service":"billing","message":"100% done_ok"}`+"\n"+
		`{"timestamp":"2023-10-27T11:00:00.000002Z","level":"DEBUG","service":"billing","message":"1000 done ok"}`+"\n")
	read := e.Tokens[model.RoleRead]
	for _, c := range []struct {
		query string
		want  []string // messages, newest first
	}{
		{"endDate=2023-10-27T09:00:00Z&level=ERROR", []string{"Session store unreachable", "Before the window"}},
		{"startDate=2023-10-27T08:59:59.999999Z&endDate=2023-10-27T08:59:59.999999Z", []string{"Before the window"}},
		{"startDate=2023-10-27T08:59:59.9999991Z&endDate=2023-10-27T09:00:00Z", []string{"Session store unreachable"}},
		{"startDate=2023-10-27T11:00:00.000001Z&endDate=2023-10-27T11:00:00.000001Z", []string{"100% done_ok"}},
		{"startDate=2023-10-27T11:00:00.0000011Z&endDate=2023-10-27T11:00:00.0000019Z", nil},
		{"startDate=2023-10-27T11:00:00%2B01:00&endDate=2023-10-27T10:30:01Z", []string{"Product with ID 9876 retrieved successfully.", "Other service", "Slow login"}},
		{"service=user-service&level=WARN", []string{"Slow login"}},
		{"service=user", nil},
		{"service=USER-SERVICE", nil},
		{"search=FAILED", []string{"Failed to authenticate user: invalid credentials for user_id 12345", "Token <expired> & refresh failed"}},
		{"search=" + url.QueryEscape("100%"), []string{"100% done_ok"}},
		{"search=done_", []string{"100% done_ok"}},
		{"search=" + url.QueryEscape("<expired> &"), []string{"Token <expired> & refresh failed"}},
	} {
		t.Run(c.query, func(t *testing.T) {
			r := glDecode(t)(glGet(e, "?"+c.query, read))
			var got []string
			for _, l := range r.Data.Logs {
				got = append(got, l.Message)
			}
			if strings.Join(got, "|") != strings.Join(c.want, "|") || r.Data.Pagination.Total != len(c.want) {
				t.Fatalf("got %q (total %d), want %q", got, r.Data.Pagination.Total, c.want)
			}
		})
	}
	// Text is written as is: no HTML escaping of < > &.
	_, body := glGet(e, "?search=expired", read)
	if !strings.Contains(body, `"message":"Token <expired> & refresh failed","details":null`) {
		t.Fatalf("escaping or details: %s", body)
	}
}

// TestGenericLogsWorkspaceIsolation checks that a token only ever sees its own
// workspace's logs.
func TestGenericLogsWorkspaceIsolation(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	ctx := context.Background()
	other, err := db.NewWorkspaceStore(e.DB.Bun).Create(ctx, "other", "Other")
	if err != nil {
		t.Fatal(err)
	}
	_, otherToken, err := db.NewTokenStore(e.DB.Bun).Create(ctx, other.ID, "b", model.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	glIngest(t, e, e.Tokens[model.RoleIngest], glFixture)
	glIngest(t, e, otherToken, `{"timestamp":"2023-10-27T10:40:00Z","level":"ERROR","service":"user-service","message":"B only"}`+"\n")
	a := glDecode(t)(glGet(e, "?service=user-service&level=ERROR", e.Tokens[model.RoleRead]))
	b := glDecode(t)(glGet(e, "?service=user-service&level=ERROR", otherToken))
	if a.Data.Pagination.Total != 4 || b.Data.Pagination.Total != 1 || b.Data.Logs[0].Message != "B only" {
		t.Fatalf("A total %d, B %+v", a.Data.Pagination.Total, b.Data)
	}
	for _, l := range a.Data.Logs {
		if l.Message == "B only" {
			t.Fatal("workspace A sees B's log")
		}
	}
}

// TestGenericLogsDetailsKeyOrder: details come back with the keys in the order the
// client sent them, nested objects included (compacted, as every body is), and the
// details filter still matches them by value whatever the order.
func TestGenericLogsDetailsKeyOrder(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	glIngest(t, e, e.Tokens[model.RoleIngest],
		`{"timestamp":"2023-10-27T10:35:15Z","level":"ERROR","service":"user-service","message":"m","details":{"zeta": 1, "user_id": 12345, "alpha": {"b": [2, {"y": 1, "x": 0}], "a": "é <&>"}, "ip_address": "192.168.1.100"}}`+"\n")
	r := glDecode(t)(glGet(e, "", e.Tokens[model.RoleRead]))
	if len(r.Data.Logs) != 1 {
		t.Fatalf("%d logs", len(r.Data.Logs))
	}
	if got, want := string(r.Data.Logs[0].Details), `{"zeta":1,"user_id":12345,"alpha":{"b":[2,{"y":1,"x":0}],"a":"é <&>"},"ip_address":"192.168.1.100"}`; got != want {
		t.Errorf("details %s, want %s", got, want)
	}
	var out struct {
		Data struct {
			AppLogs struct {
				Edges []struct {
					Node struct{ Message string } `json:"node"`
				} `json:"edges"`
			} `json:"appLogs"`
		} `json:"data"`
	}
	e.GraphQL(e.Tokens[model.RoleRead], `{ appLogs(filter: {details: {user_id: 12345, alpha: {a: "é <&>"}}}) { edges { node { message } } } }`, nil, &out)
	if n := len(out.Data.AppLogs.Edges); n != 1 {
		t.Errorf("details filter matched %d logs, want 1", n)
	}
}
