package rest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

const (
	goodApp         = `{"timestamp":"2023-10-27T10:35:15Z","level":"ERROR","service":"user-service","message":"Failed to authenticate user","details":{"user_id":12345,"ip_address":"192.168.1.100"}}`
	goodAPIRequest  = `{"received_at":"2024-06-13T14:30:00Z","code":404,"gateway_code":4041,"status_details":"Recipe is inactive","ip":"203.0.113.9","timing_ms":35,"delay_ms":2,"collection":"Orders API","collection_type":"recipe","endpoint":"GET /orders/{id}","client":"Customer Success Team","job_url":"https://example.com/jobs/1"}`
	goodIntegration = `{"id":"ac8bb58e-2b9b-4ccf-9dd2-ecdf50417849","integration_id":"ff8634a8-a89e-4eac-baab-9b7b8c4f8720","integration_name":"Order webhook","job_id":"0a8634a8-a89e-4eac-baab-9b7b8c4f8720","succeeded":false,"attempt":1,"body":"Not Found","status_code":404,"error_detail":"Received a status code outside of 2xx range - treating webhook as a fail","created_at":"2024-06-13T14:30:00Z"}`
	goodAction      = `{"id":105,"level":40,"logger_name":"logger_name_14","message":"Test Log Message 14","app_name":"oms","trace":"Test Log Trace 14","created_at":"2023-12-01T08:25:56.088353Z"}`
	goodAPIRef      = `{"logs_id":"33b5c7e-fcbe-4797-b144-1a7ca2508f44","api_reference_id":"petstore","api_reference_name":"Petstore","user_id":"f11efc6f-e968-4e95-82eb-85ad61559de8","user_name":"Peter Jone","title":"Import successful","modified_at":"2024-06-13T14:30:00Z","error_count":1,"alerts_count":0,"errors":[{"message":"Missing description","pointer":"/paths/~1pets/get"}]}`
)

// appOfLen is an app record of exactly n bytes (n >= 60).
func appOfLen(n int) string {
	head, tail := `{"level":"INFO","service":"s","message":"`, `"}`
	return head + strings.Repeat("x", n-len(head)-len(tail)) + tail
}

type ingestReply struct {
	Accepted   int               `json:"accepted"`
	Duplicates int               `json:"duplicates"`
	Error      string            `json:"error"`
	Code       string            `json:"code"`
	Errors     []model.LineError `json:"errors"`
	BadLines   int               `json:"bad_lines"`
}

func decodeReply(t *testing.T, body string) ingestReply {
	t.Helper()
	var r ingestReply
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("reply is not JSON: %v: %s", err, body)
	}
	return r
}

func TestIngestEachKindAndRetry(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	for _, c := range []struct{ kind, line string }{
		{"app", goodApp}, {"api-request", goodAPIRequest}, {"integration", goodIntegration},
		{"action", goodAction}, {"api-reference", goodAPIRef},
	} {
		t.Run(c.kind, func(t *testing.T) {
			kind, _ := model.KindFromRoute(c.kind)
			resp, body := e.Ingest(c.kind, e.Tokens[model.RoleIngest], c.line+"\n", "Content-Type", "application/x-ndjson")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: status %d: %s", c.kind, resp.StatusCode, body)
			}
			if r := decodeReply(t, body); r.Accepted != 1 || r.Duplicates != 0 {
				t.Fatalf("%s: %s", c.kind, body)
			}
			// The retry of a record without an id stores a second row (no identity to
			// recognise); a record with an id is a duplicate.
			_, body = e.Ingest(c.kind, e.Tokens[model.RoleAdmin], "["+c.line+"]", "Content-Type", "application/json")
			r := decodeReply(t, body)
			hasID := strings.Contains(c.line, `"id"`) || strings.Contains(c.line, `"logs_id"`)
			if hasID && (r.Accepted != 0 || r.Duplicates != 1) {
				t.Fatalf("%s retry: %s", c.kind, body)
			}
			if want := map[bool]int{true: 1, false: 2}[hasID]; e.Count(kind.Table()) != want {
				t.Fatalf("%s: %d rows, want %d", c.kind, e.Count(kind.Table()), want)
			}
		})
	}
	if e.Count("api_collections") != 1 || e.Count("api_clients") != 1 || e.Count("integrations") != 1 ||
		e.Count("integration_jobs") != 1 || e.Count("api_references") != 1 || e.Count("team_accounts") != 1 {
		t.Fatal("entities were not created on first sight exactly once")
	}
}

func TestIngestGzipAndArray(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for i := 0; i < 500; i++ {
		fmt.Fprintf(zw, `{"level":"INFO","service":"svc-%d","message":"hello %d"}`+"\n", i%7, i)
	}
	zw.Close()
	resp, body := e.Do(http.MethodPost, "/v1/ingest/app", &buf, "Authorization", "Bearer "+e.Tokens[model.RoleIngest],
		"Content-Encoding", "gzip", "Content-Type", "application/x-ndjson")
	if resp.StatusCode != 200 || decodeReply(t, body).Accepted != 500 {
		t.Fatalf("gzip: %d %s", resp.StatusCode, body)
	}
	if n := e.Count("app_logs"); n != 500 {
		t.Fatalf("%d rows", n)
	}
}

// TestIngestRejectsBadInput checks each bad input's exact status and message and that
// nothing at all was stored (the good lines of a bad batch included).
func TestIngestRejectsBadInput(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	long := `{"level":"INFO","service":"s","message":"` + strings.Repeat("x", 1<<20) + `"}`
	cases := []struct {
		name, kind, body string
		line             int
		msg              string
	}{
		{"malformed JSON", "app", `{"level": INFO}`, 1, "malformed JSON at byte 11: invalid character 'I' looking for beginning of value"},
		{"truncated JSON", "app", `{"level":"INFO",`, 1, "malformed JSON: unexpected end of input"},
		{"not an object", "app", `"x"`, 1, `record must be a JSON object, got string`},
		{"two values on a line", "app", `{"level":"INFO","service":"s","message":"m"} {}`, 1, "malformed JSON: unexpected data after the record"},
		{"wrong type", "api-request", strings.Replace(goodAPIRequest, `"code":404`, `"code":"404"`, 1), 1, `field "code": expected integer, got string`},
		{"float for integer", "api-request", strings.Replace(goodAPIRequest, `"timing_ms":35`, `"timing_ms":35.5`, 1), 1, `field "timing_ms": expected an integer, got 35.5`},
		{"huge integer", "action", strings.Replace(goodAction, `"level":40`, `"level":99999999999999999999`, 1), 1, `field "level": 99999999999999999999 is out of range`},
		{"missing field", "app", `{"level":"INFO","message":"m"}`, 1, `missing required field "service"`},
		{"missing several", "integration", `{"integration_id":"ff8634a8-a89e-4eac-baab-9b7b8c4f8720"}`, 1, `missing required field "succeeded"; missing required field "attempt"; missing required field "status_code"`},
		{"unknown level", "app", `{"level":"TRACE","service":"s","message":"m"}`, 1, `field "level": unknown level "TRACE"; want one of DEBUG, INFO, WARN, ERROR, FATAL`},
		{"unknown field", "app", `{"level":"INFO","service":"s","message":"m","sevrity":1}`, 1, `unknown field "sevrity"`},
		{"code out of range", "api-request", strings.Replace(goodAPIRequest, `"code":404`, `"code":700`, 1), 1, `field "code": 700 is out of range 100..599`},
		{"action level out of range", "action", strings.Replace(goodAction, `"level":40`, `"level":51`, 1), 1, `field "level": 51 is out of range 0..50`},
		{"attempt zero", "integration", strings.Replace(goodIntegration, `"attempt":1`, `"attempt":0`, 1), 1, `field "attempt": 0 is out of range 1..2147483647`},
		{"negative count", "api-reference", strings.Replace(goodAPIRef, `"error_count":1`, `"error_count":-1`, 1), 1, `field "error_count": -1 is out of range 0..2147483647`},
		{"bad uuid", "integration", strings.Replace(goodIntegration, `"integration_id":"ff8634a8`, `"integration_id":"zz8634a8`, 1), 1, `field "integration_id": "zz8634a8-a89e-4eac-baab-9b7b8c4f8720" is not a UUID`},
		{"bad time", "app", `{"timestamp":"yesterday","level":"INFO","service":"s","message":"m"}`, 1, `field "timestamp": "yesterday" is not an RFC 3339 time (e.g. 2024-06-13T14:30:00Z)`},
		{"bad ip", "api-request", strings.Replace(goodAPIRequest, `"ip":"203.0.113.9"`, `"ip":"999.1.1.1"`, 1), 1, `field "ip": "999.1.1.1" is not an IPv4 or IPv6 address`},
		{"bad collection type", "api-request", strings.Replace(goodAPIRequest, `"collection_type":"recipe"`, `"collection_type":"RPC"`, 1), 1, `field "collection_type": unknown collection type "RPC"; want recipe or proxy`},
		{"details not object", "app", `{"level":"INFO","service":"s","message":"m","details":[1]}`, 1, `field "details": must be a JSON object`},
		{"details too deep", "app", `{"level":"INFO","service":"s","message":"m","details":` + strings.Repeat(`{"a":`, 33) + `1` + strings.Repeat(`}`, 33) + `}`, 1, `field "details": nesting depth 33 exceeds the limit of 32`},
		{"NUL in text", "app", `{"level":"INFO","service":"s","message":"a\u0000b"}`, 1, `field "message": contains a NUL byte (\u0000), which cannot be stored`},
		{"NUL in details", "app", `{"level":"INFO","service":"s","message":"m","details":{"k":"a\u0000"}}`, 1, `field "details": contains a NUL character (\u0000), which cannot be stored`},
		{"invalid UTF-8", "app", "{\"level\":\"INFO\",\"service\":\"s\",\"message\":\"caf\xe9\"}", 1, "invalid UTF-8 at byte 44"},
		{"line over 1 MiB", "app", long, 1, "line is longer than the limit of 1048576 bytes"},
		{"line of 1 MiB + 1 byte", "app", appOfLen(1<<20 + 1), 1, "line is longer than the limit of 1048576 bytes"},
		{"line of 1 MiB + 1 byte, CRLF", "app", appOfLen(1<<20+1) + "\r\n", 1, "line is longer than the limit of 1048576 bytes"},
		{"stray brace after the record", "app", `{"level":"INFO","service":"s","message":"m"} }`, 1, "malformed JSON: unexpected data after the record"},
		{"stray bracket after the record", "app", `{"level":"INFO","service":"s","message":"m"}]`, 1, "malformed JSON: unexpected data after the record"},
		{"number beyond numeric in details", "app", `{"level":"INFO","service":"s","message":"m","details":{"n":1e999999}}`, 1,
			`field "details": number 1e999999 is beyond the range PostgreSQL can store (at most 131072 digits before the decimal point and 16383 after)`},
		{"negative number beyond numeric in details", "app", `{"level":"INFO","service":"s","message":"m","details":{"a":[1,-1e131072]}}`, 1,
			`field "details": number -1e131072 is beyond the range PostgreSQL can store (at most 131072 digits before the decimal point and 16383 after)`},
		{"tiny exponent in details", "app", `{"level":"INFO","service":"s","message":"m","details":{"n":1e-999999}}`, 1,
			`field "details": number 1e-999999 is beyond the range PostgreSQL can store (at most 131072 digits before the decimal point and 16383 after)`},
		{"zero with a huge scale in details", "app", `{"level":"INFO","service":"s","message":"m","details":{"n":0.0e-16383}}`, 1,
			`field "details": number 0.0e-16383 is beyond the range PostgreSQL can store (at most 131072 digits before the decimal point and 16383 after)`},
		{"too many digits in details", "app", `{"level":"INFO","service":"s","message":"m","details":{"n":1` + strings.Repeat("0", 131072) + `}}`, 1,
			`field "details": number 1` + strings.Repeat("0", 63) + `… is beyond the range PostgreSQL can store (at most 131072 digits before the decimal point and 16383 after)`},
		{"lone high surrogate in details", "app", `{"level":"INFO","service":"s","message":"m","details":{"k":"\ud800"}}`, 1,
			`lone UTF-16 surrogate escape \ud800 at byte 60 is not valid Unicode`},
		{"lone low surrogate in details", "app", `{"level":"INFO","service":"s","message":"m","details":{"k":"a\udc00"}}`, 1,
			`lone UTF-16 surrogate escape \udc00 at byte 61 is not valid Unicode`},
		{"high surrogate before a non-surrogate", "app", `{"level":"INFO","service":"s","message":"\uD800\u0041"}`, 1,
			`lone UTF-16 surrogate escape \uD800 at byte 41 is not valid Unicode`},
		{"lone surrogate in import errors", "api-reference", strings.Replace(goodAPIRef, `"Missing description"`, `"\ud800"`, 1), 1,
			`lone UTF-16 surrogate escape \ud800 at byte 305 is not valid Unicode`},
		{"time rounding to year 10000", "app", `{"timestamp":"9999-12-31T23:59:59.9999999Z","level":"INFO","service":"s","message":"m"}`, 1,
			`field "timestamp": 9999-12-31T23:59:59.9999999Z is outside the supported range 1900-01-01..9999-12-31`},
		{"time older than the window", "action", strings.Replace(goodAction, `"created_at":"2023-12-01T08:25:56.088353Z"`, `"created_at":"1914-07-28T00:00:00Z"`, 1), 1,
			`field "created_at": 1914-07-28T00:00:00Z is more than 1826 days in the past; times from 1826 days ago to 2 days ahead are accepted`},
		{"time beyond the window", "api-request", strings.Replace(goodAPIRequest, `"received_at":"2024-06-13T14:30:00Z"`, `"received_at":"2099-01-01T00:00:00Z"`, 1), 1,
			`field "received_at": 2099-01-01T00:00:00Z is more than 2 days in the future; times from 1826 days ago to 2 days ahead are accepted`},
		{"action id 2^53", "action", strings.Replace(goodAction, `"id":105`, `"id":9007199254740992`, 1), 1,
			`field "id": 9007199254740992 is out of range 1..9007199254740991`},
		{"empty service", "app", `{"level":"INFO","service":"  ","message":"m"}`, 1, `field "service": must not be empty`},
		{"job of another integration", "integration", goodIntegration + "\n" + strings.Replace(strings.Replace(goodIntegration, `"integration_id":"ff8634a8`, `"integration_id":"ee8634a8`, 1), `"id":"ac8bb58e`, `"id":"bc8bb58e`, 1), 2,
			`field "job_id": job 0a8634a8-a89e-4eac-baab-9b7b8c4f8720 belongs to integration ff8634a8-a89e-4eac-baab-9b7b8c4f8720 (line 1), not ee8634a8-a89e-4eac-baab-9b7b8c4f8720`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kind, _ := model.KindFromRoute(c.kind)
			// A good line first: it must not be stored either.
			good := map[string]string{"app": goodApp, "api-request": goodAPIRequest, "integration": goodIntegration,
				"action": goodAction, "api-reference": goodAPIRef}[c.kind]
			body, line := c.body, c.line
			if c.name != "job of another integration" {
				body, line = good+"\n"+c.body, c.line+1
			}
			resp, reply := e.Ingest(c.kind, e.Tokens[model.RoleIngest], body)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", resp.StatusCode, reply)
			}
			r := decodeReply(t, reply)
			if r.Code != "invalid_batch" || r.BadLines != 1 || len(r.Errors) != 1 {
				t.Fatalf("reply %s", reply)
			}
			if r.Errors[0].Line != line || r.Errors[0].Message != c.msg {
				t.Fatalf("got line %d %q\nwant line %d %q", r.Errors[0].Line, r.Errors[0].Message, line, c.msg)
			}
			if n := e.Count(kind.Table()); n != 0 {
				t.Fatalf("%d rows stored after a rejected batch", n)
			}
		})
	}
}

func TestIngestListsEveryBadLineUpTo100(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	var b strings.Builder
	for i := 0; i < 150; i++ {
		b.WriteString(goodApp + "\n")
		b.WriteString(`{"level":"NOPE","service":"s","message":"m"}` + "\n")
	}
	resp, body := e.Ingest("app", e.Tokens[model.RoleIngest], b.String())
	r := decodeReply(t, body)
	if resp.StatusCode != 400 || r.BadLines != 150 || len(r.Errors) != 100 || r.Errors[0].Line != 2 || r.Errors[99].Line != 200 {
		t.Fatalf("status %d, bad %d, listed %d", resp.StatusCode, r.BadLines, len(r.Errors))
	}
	if r.Error != "150 bad line(s); nothing was stored" {
		t.Fatalf("error %q", r.Error)
	}
	if e.CountAll() != 0 {
		t.Fatal("rows stored")
	}
}

func TestIngestRefusals(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{MaxIngestBodyBytes: 4096})
	revoked, text, err := e.Store.Create(context.Background(), e.WS, "old", model.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Store.Revoke(context.Background(), e.WS, revoked.ID); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat(goodApp+"\n", 40)
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write([]byte(big)) // compresses far below the limit, inflates above it
	zw.Close()
	cases := []struct {
		name   string
		status int
		code   string
		msg    string
		send   func() (*http.Response, string)
	}{
		{"no token", 401, "unauthenticated", "an API token is required: send `Authorization: Bearer <token>`",
			func() (*http.Response, string) { return e.Ingest("app", "", goodApp) }},
		{"wrong scheme", 401, "unauthenticated", "the Authorization header must be `Bearer <token>`",
			func() (*http.Response, string) {
				return e.Ingest("app", "", goodApp, "Authorization", "Token "+e.Tokens[model.RoleIngest])
			}},
		{"unknown token", 401, "unauthenticated", "invalid API token",
			func() (*http.Response, string) { return e.Ingest("app", "lg_nope", goodApp) }},
		{"revoked token", 401, "unauthenticated", "API token has been revoked",
			func() (*http.Response, string) { return e.Ingest("app", text, goodApp) }},
		{"read token", 403, "forbidden", "this token's role (read) may not ingest logs",
			func() (*http.Response, string) { return e.Ingest("app", e.Tokens[model.RoleRead], goodApp) }},
		{"unknown kind", 404, "unknown_kind", `unknown log kind "metrics"; want one of app, api-request, integration, action, api-reference`,
			func() (*http.Response, string) { return e.Ingest("metrics", e.Tokens[model.RoleIngest], goodApp) }},
		{"body over limit", 413, "body_too_large", "request body exceeds the limit of 4096 bytes; split the batch",
			func() (*http.Response, string) { return e.Ingest("app", e.Tokens[model.RoleIngest], big) }},
		{"gzip inflating over limit", 413, "body_too_large", "request body exceeds the limit of 4096 bytes; split the batch",
			func() (*http.Response, string) {
				return e.Do(http.MethodPost, "/v1/ingest/app", bytes.NewReader(zipped.Bytes()),
					"Authorization", "Bearer "+e.Tokens[model.RoleIngest], "Content-Encoding", "gzip")
			}},
		{"broken gzip", 400, "invalid_gzip", "the body is not valid gzip: gzip: invalid header",
			func() (*http.Response, string) {
				return e.Ingest("app", e.Tokens[model.RoleIngest], goodApp, "Content-Encoding", "gzip")
			}},
		{"unsupported encoding", 415, "unsupported_encoding", `unsupported Content-Encoding "br"; send gzip or no encoding`,
			func() (*http.Response, string) {
				return e.Ingest("app", e.Tokens[model.RoleIngest], goodApp, "Content-Encoding", "br")
			}},
		{"unsupported type", 415, "unsupported_media_type", "send application/x-ndjson (one JSON object per line) or application/json (an array of objects)",
			func() (*http.Response, string) {
				return e.Ingest("app", e.Tokens[model.RoleIngest], goodApp, "Content-Type", "application/xml")
			}},
		{"GET", 405, "method_not_allowed", "use POST",
			func() (*http.Response, string) { return e.Do(http.MethodGet, "/v1/ingest/app", nil) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := c.send()
			r := decodeReply(t, body)
			if resp.StatusCode != c.status || r.Code != c.code || r.Error != c.msg {
				t.Fatalf("got %d %s %q, want %d %s %q", resp.StatusCode, r.Code, r.Error, c.status, c.code, c.msg)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Fatal("no request id")
			}
		})
	}
	if e.CountAll() != 0 {
		t.Fatal("a refused request stored rows")
	}
}
