package rest_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/golang/snappy"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/loggraph/loggraph/internal/limits"
	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

// lokiEntry is an entry of a hand-built logproto.PushRequest.
type lokiEntry struct {
	ts       time.Time
	line     string
	metadata [][2]string
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendMessage(b []byte, num protowire.Number, m []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

// lokiStream encodes a logproto.StreamAdapter as Promtail sends it.
func lokiStream(labels string, entries ...lokiEntry) []byte {
	s := appendString(nil, 1, labels)
	for _, e := range entries {
		var ts []byte
		ts = protowire.AppendTag(ts, 1, protowire.VarintType)
		ts = protowire.AppendVarint(ts, uint64(e.ts.Unix()))
		ts = protowire.AppendTag(ts, 2, protowire.VarintType)
		ts = protowire.AppendVarint(ts, uint64(e.ts.Nanosecond()))
		m := appendMessage(nil, 1, ts)
		m = appendString(m, 2, e.line)
		for _, kv := range e.metadata {
			m = appendMessage(m, 3, appendString(appendString(nil, 1, kv[0]), 2, kv[1]))
		}
		s = appendMessage(s, 2, m)
	}
	s = protowire.AppendTag(s, 3, protowire.VarintType) // the stream hash Promtail fills in
	return protowire.AppendVarint(s, 12345)
}

// lokiPush is a snappy-compressed PushRequest of the streams.
func lokiPush(streams ...[]byte) []byte {
	var req []byte
	for _, s := range streams {
		req = appendMessage(req, 1, s)
	}
	return snappy.Encode(nil, req)
}

func postLoki(e *testserver.Env, token, contentType string, body []byte, headers ...string) (*http.Response, string) {
	return postShipper(e, "/loki/api/v1/push", token, contentType, body, headers...)
}

// TestLokiPushProtobuf pushes snappy-compressed protobuf as Promtail and Alloy do
// (bearer and basic auth), then the same push again: stored once.
func TestLokiPushProtobuf(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	ts := time.Date(2026, 6, 13, 14, 30, 0, 123456789, time.UTC)
	body := lokiPush(
		lokiStream(`{service="api", level="error", env="prod"}`,
			lokiEntry{ts, "payment declined", [][2]string{{"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"}, {"span_id", "00f067aa0ba902b7"}, {"env", "canary"}}},
			lokiEntry{ts.Add(time.Second), "retrying", nil}),
		lokiStream(`{job="varlogs",filename="/var/log/syslog"}`,
			lokiEntry{ts, `level=warn msg="disk \"almost\" full"`, [][2]string{{"detected_level", "warn"}, {"traceID", "not-a-trace"}}}))
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("loggraph:"+e.Tokens[model.RoleIngest]))
	for i, headers := range [][]string{
		{"Content-Type", "application/x-protobuf", "Authorization", "Bearer " + e.Tokens[model.RoleIngest]},
		{"Authorization", basic}, // no Content-Type: protobuf, as Loki reads it
	} {
		resp, reply := e.Do(http.MethodPost, "/loki/api/v1/push", bytes.NewReader(body), headers...)
		if resp.StatusCode != http.StatusNoContent || reply != "" {
			t.Fatalf("push %d: %d %q", i, resp.StatusCode, reply)
		}
	}
	sameRows(t, appRows(t, e), []storedApp{
		{Service: "varlogs", Level: "WARN", Message: `level=warn msg="disk \"almost\" full"`, Time: "2026-06-13T14:30:00.123457Z",
			Details: map[string]any{"filename": "/var/log/syslog", "detected_level": "warn", "traceID": "not-a-trace"}},
		{Service: "api", Level: "ERROR", Message: "payment declined", Time: "2026-06-13T14:30:00.123457Z",
			Details: map[string]any{"env": "canary", "level": "error", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"},
			TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7"},
		{Service: "api", Level: "ERROR", Message: "retrying", Time: "2026-06-13T14:30:01.123457Z",
			Details: map[string]any{"env": "prod", "level": "error"}},
	})
	if got := metric(t, e, `loggraph_ingest_protocol_records_total{outcome="duplicate",protocol="loki"}`); got != "3" {
		t.Fatalf("duplicate entries metric %q, want 3", got)
	}
}

// TestLokiPushJSON pushes JSON as Fluent Bit and Vector do, plain and gzip.
func TestLokiPushJSON(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	body := []byte(`{"streams":[{"stream":{"service_name":"checkout","severity":"INFO"},"values":[
		["1781361000000000000","order placed"],
		["1781361001000000000","order paid",{"order_id":"42","traceId":"4BF92F3577B34DA6A3CE929D0E0E4736"}]]}]}`)
	for _, c := range []struct {
		name    string
		body    []byte
		headers []string
	}{{"plain", body, nil}, {"gzip", gzipped(body), []string{"Content-Encoding", "gzip"}}} {
		t.Run(c.name, func(t *testing.T) {
			resp, reply := postLoki(e, e.Tokens[model.RoleIngest], "application/json", c.body, c.headers...)
			if resp.StatusCode != http.StatusNoContent || reply != "" {
				t.Fatalf("%d %q", resp.StatusCode, reply)
			}
			sameRows(t, appRows(t, e), []storedApp{
				{Service: "checkout", Level: "INFO", Message: "order placed", Time: "2026-06-13T14:30:00.000000Z",
					Details: map[string]any{"severity": "INFO"}},
				{Service: "checkout", Level: "INFO", Message: "order paid", Time: "2026-06-13T14:30:01.000000Z",
					Details: map[string]any{"severity": "INFO", "order_id": "42", "traceId": "4BF92F3577B34DA6A3CE929D0E0E4736"},
					TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"},
			})
		})
	}
}

// TestLokiPartialPush: the valid entries are stored, the others listed in a 400 as
// Loki answers them.
func TestLokiPartialPush(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	body := []byte(`{"streams":[{"stream":{"app":"web"},"values":[
		["1781361000000000000","ok"],
		["1000000000000000000","too old"],
		["yesterday","bad time"],
		["1781361000000000000"]]}]}`)
	resp, reply := postLoki(e, e.Tokens[model.RoleIngest], "application/json", body)
	want := `3 of 4 entries rejected: streams[0].values[1] of stream {app="web"}: field "timestamp": 1000000000000000000 (2001-09-09T01:46:40Z) is more than 1826 days in the past; times from 1826 days ago to 2 days ahead are accepted; ` +
		`streams[0].values[2] of stream {app="web"}: field "timestamp": "yesterday" is not a Unix epoch in nanoseconds; ` +
		`streams[0].values[3] of stream {app="web"}: an entry must be ["<unix epoch in nanoseconds>", "<log line>"] or with a third element, an object of structured metadata` + "\n"
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || reply != want {
		t.Fatalf("%d %s:\n got %q\nwant %q", resp.StatusCode, resp.Header.Get("Content-Type"), reply, want)
	}
	sameRows(t, appRows(t, e), []storedApp{{Service: "web", Level: "INFO", Message: "ok", Time: "2026-06-13T14:30:00.000000Z"}})
	if got := metric(t, e, `loggraph_ingest_protocol_records_total{outcome="rejected",protocol="loki"}`); got != "3" {
		t.Fatalf("rejected entries metric %q", got)
	}
}

// TestLokiErrors checks every failure's status and text and that nothing was stored.
func TestLokiErrors(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{MaxIngestBodyBytes: 4096})
	ingest, read := e.Tokens[model.RoleIngest], e.Tokens[model.RoleRead]
	good := lokiPush(lokiStream(`{app="a"}`, lokiEntry{time.Date(2026, 6, 13, 0, 0, 0, 0, time.UTC), "m", nil}))
	const pbType, jsonType = "application/x-protobuf", "application/json"
	for _, c := range []struct {
		name, method, token, contentType string
		body                             []byte
		headers                          []string
		status                           int
		text                             string
	}{
		{"no token", http.MethodPost, "", pbType, good, nil, 401, "an API token is required: send `Authorization: Bearer <token>`"},
		{"bad token", http.MethodPost, "lg_nope", pbType, good, nil, 401, "invalid API token"},
		{"read token", http.MethodPost, read, pbType, good, nil, 403, "this token's role (read) may not ingest logs"},
		{"other content type", http.MethodPost, ingest, "text/plain", good, nil, 415,
			"send application/x-protobuf (a snappy-compressed PushRequest) or application/json"},
		{"other encoding", http.MethodPost, ingest, pbType, good, []string{"Content-Encoding", "br"}, 415,
			`unsupported Content-Encoding "br"; send gzip or no encoding`},
		{"not snappy", http.MethodPost, ingest, pbType, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, nil, 400,
			"the body is not snappy-compressed: snappy: corrupt input"},
		{"not protobuf", http.MethodPost, ingest, pbType, snappy.Encode(nil, []byte{0x0a, 0xff}), nil, 400,
			"not a Loki PushRequest in protobuf: unexpected EOF"},
		{"not JSON", http.MethodPost, ingest, jsonType, []byte(`{"streams":[`), nil, 400,
			"not a Loki push request in JSON: malformed JSON at byte 12: unexpected end of JSON input"},
		{"bad gzip", http.MethodPost, ingest, jsonType, []byte("this body is not gzip"), []string{"Content-Encoding", "gzip"}, 400,
			"the body is not valid gzip: gzip: invalid header"},
		{"too large", http.MethodPost, ingest, pbType, make([]byte, 5000), nil, 413,
			"request body exceeds the limit of 4096 bytes; split the batch"},
		{"too large once decompressed", http.MethodPost, ingest, pbType, snappy.Encode(nil, make([]byte, 5000)), nil, 413,
			"request body exceeds the limit of 4096 bytes; split the batch (once decompressed)"},
		{"bad labels", http.MethodPost, ingest, pbType, lokiPush(lokiStream(`{app=web}`, lokiEntry{time.Date(2026, 6, 13, 0, 0, 0, 0, time.UTC), "m", nil})), nil, 400,
			`1 of 1 entries rejected: streams[0].values[0] of stream {app=web}: labels: label app: the value must be a double-quoted string`},
		{"GET", http.MethodGet, ingest, "", nil, nil, 405, "use POST"},
	} {
		t.Run(c.name, func(t *testing.T) {
			headers := append([]string{"Content-Type", c.contentType}, c.headers...)
			if c.token != "" {
				headers = append(headers, "Authorization", "Bearer "+c.token)
			}
			resp, body := e.Do(c.method, "/loki/api/v1/push", bytes.NewReader(c.body), headers...)
			if resp.StatusCode != c.status || body != c.text+"\n" || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Fatalf("%d %q %q, want %d %q", resp.StatusCode, resp.Header.Get("Content-Type"), body, c.status, c.text)
			}
			if n := e.Count("app_logs"); n != 0 {
				t.Fatalf("%d rows stored", n)
			}
		})
	}
}

// TestLokiRateLimited: over the workspace's ingest rate, 429 with Retry-After (which
// Promtail and Alloy retry).
func TestLokiRateLimited(t *testing.T) {
	t.Parallel()
	e := testserver.NewEnv(t, testserver.Options{RateLimits: &limits.Config{
		Workspace: limits.Values{IngestRowsPerSecond: 1}, Burst: time.Second, Now: newTestClock().Now,
	}})
	ts := time.Date(2026, 6, 13, 0, 0, 0, 0, time.UTC)
	body := lokiPush(lokiStream(`{app="a"}`, lokiEntry{ts, "1", nil}, lokiEntry{ts, "2", nil}))
	if resp, reply := postLoki(e, e.Tokens[model.RoleIngest], "application/x-protobuf", body); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("on a full bucket: %d %q", resp.StatusCode, reply)
	}
	resp, reply := postLoki(e, e.Tokens[model.RoleIngest], "application/x-protobuf", body)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" ||
		reply != "workspace acme is over its limit of 1 ingest rows per second (bursts up to 1); retry after 2 s\n" {
		t.Fatalf("%d Retry-After %q: %q", resp.StatusCode, resp.Header.Get("Retry-After"), reply)
	}
	if n := e.Count("app_logs"); n != 2 {
		t.Fatalf("%d rows stored, want the first push's 2", n)
	}
}
