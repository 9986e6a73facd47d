package rest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/loggraph/loggraph/internal/limits"
	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

// storedApp is an app log row as the OTLP and Loki tests compare it.
type storedApp struct {
	Service, Level, Message, Time string
	Details                       map[string]any
	TraceID, SpanID               string
}

// appRows reads the workspace's app logs, oldest first, then by message.
func appRows(t *testing.T, e *testserver.Env) []storedApp {
	t.Helper()
	rows, err := e.DB.Pool.Query(context.Background(), `
		SELECT service, level, message, to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
			coalesce(details::text, 'null'), coalesce(replace(trace_id::text, '-', ''), ''),
			coalesce(lpad(to_hex(span_id), 16, '0'), '')
		FROM app_logs WHERE workspace_id = $1 ORDER BY timestamp, message`, e.WS)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []storedApp
	for rows.Next() {
		var r storedApp
		var level model.Severity
		var details string
		if err := rows.Scan(&r.Service, &level, &r.Message, &r.Time, &details, &r.TraceID, &r.SpanID); err != nil {
			t.Fatal(err)
		}
		r.Level = level.String()
		if err := json.Unmarshal([]byte(details), &r.Details); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func sameRows(t *testing.T, got, want []storedApp) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("stored rows:\n%s\nwant:\n%s", g, w)
	}
}

// errorsProcessor is the SDK's simple processor (one export per record, at once)
// keeping each export's error, which the Logger API does not return.
type errorsProcessor struct {
	*sdklog.SimpleProcessor
	errs []error
}

func (p *errorsProcessor) OnEmit(ctx context.Context, r *sdklog.Record) error {
	err := p.SimpleProcessor.OnEmit(ctx, r)
	p.errs = append(p.errs, err)
	return err
}

// TestOTLPGoExporter ships logs with the OpenTelemetry Go SDK's OTLP/HTTP exporter
// (protobuf, plain and gzip) to the real router and reads what was stored.
func TestOTLPGoExporter(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name        string
		compression otlploghttp.Compression
	}{{"plain", otlploghttp.NoCompression}, {"gzip", otlploghttp.GzipCompression}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := testserver.New(t, rest.Limits{})
			ctx := context.Background()
			exp, err := otlploghttp.New(ctx, otlploghttp.WithEndpointURL(e.Srv.URL+"/v1/logs"),
				otlploghttp.WithHeaders(map[string]string{"Authorization": "Bearer " + e.Tokens[model.RoleIngest]}),
				otlploghttp.WithCompression(c.compression), otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}))
			if err != nil {
				t.Fatal(err)
			}
			proc := &errorsProcessor{SimpleProcessor: sdklog.NewSimpleProcessor(exp)}
			res := resource.NewSchemaless(attribute.String("service.name", "checkout"), attribute.String("host.name", "web-1"))
			lp := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(proc))
			defer func() { _ = lp.Shutdown(ctx) }()
			logger := lp.Logger("shop/cart", otellog.WithInstrumentationVersion("1.2.0"))

			traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
			spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
			spanCtx := trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled}))
			ts := time.Date(2026, 6, 13, 14, 30, 0, 123456789, time.UTC)

			var rec otellog.Record
			rec.SetTimestamp(ts)
			rec.SetSeverity(otellog.SeverityError2)
			rec.SetSeverityText("ERROR2")
			rec.SetBody(attribute.StringValue("payment declined"))
			rec.AddAttributes(attribute.Int("order_id", 42), attribute.String("host.name", "web-1b"),
				attribute.Map("card", attribute.String("brand", "visa"), attribute.Bool("3ds", true)),
				attribute.Slice("tags", attribute.StringValue("a"), attribute.Float64Value(1.5)))
			logger.Emit(spanCtx, rec)

			// No time (the observed time stands in), a map body, a severity only as text.
			var rec2 otellog.Record
			rec2.SetObservedTimestamp(ts.Add(time.Second))
			rec2.SetSeverityText("warning")
			rec2.SetBody(attribute.MapValue(attribute.String("event", "cart.updated"), attribute.Int64("items", 3)))
			logger.Emit(ctx, rec2)

			for i, err := range proc.errs {
				if err != nil {
					t.Fatalf("export %d: %v", i, err)
				}
			}
			scope := map[string]any{"otel.scope.name": "shop/cart", "otel.scope.version": "1.2.0"}
			with := func(m map[string]any) map[string]any {
				for k, v := range scope {
					m[k] = v
				}
				return m
			}
			sameRows(t, appRows(t, e), []storedApp{
				{Service: "checkout", Level: "ERROR", Message: "payment declined", Time: "2026-06-13T14:30:00.123457Z",
					Details: with(map[string]any{"host.name": "web-1b", "order_id": float64(42),
						"card": map[string]any{"brand": "visa", "3ds": true}, "tags": []any{"a", 1.5}}),
					TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7"},
				{Service: "checkout", Level: "WARN", Message: `{"event":"cart.updated","items":3}`,
					Time: "2026-06-13T14:30:01.123457Z", Details: with(map[string]any{"host.name": "web-1"})},
			})
			if got := metric(t, e, `loggraph_ingest_protocol_records_total{outcome="stored",protocol="otlp"}`); got != "2" {
				t.Fatalf("stored records metric %q", got)
			}
		})
	}
}

// otlpRequest is an export of records from one resource and scope.
func otlpRequest(service string, recs ...*logspb.LogRecord) *collogspb.ExportLogsServiceRequest {
	return &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name",
			Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: service}}}}},
		ScopeLogs: []*logspb.ScopeLogs{{LogRecords: recs}},
	}}}
}

func otlpRecord(ts time.Time, body string) *logspb.LogRecord {
	return &logspb.LogRecord{TimeUnixNano: uint64(ts.UnixNano()), SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_INFO,
		Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: body}}}
}

// postOTLP posts an export body to /v1/logs with a token (if not empty).
func postOTLP(e *testserver.Env, token, contentType string, body []byte, headers ...string) (*http.Response, string) {
	return postShipper(e, "/v1/logs", token, contentType, body, headers...)
}

// postShipper posts a body to path with a Content-Type and a token (each if not empty).
func postShipper(e *testserver.Env, path, token, contentType string, body []byte, headers ...string) (*http.Response, string) {
	if contentType != "" {
		headers = append(headers, "Content-Type", contentType)
	}
	if token != "" {
		headers = append(headers, "Authorization", "Bearer "+token)
	}
	return e.Do(http.MethodPost, path, bytes.NewReader(body), headers...)
}

// TestOTLPRetryIsIdempotent sends one export three times (protobuf twice, then the
// same records in OTLP/JSON): the records are stored once, by their content ids and
// by log.record.uid.
func TestOTLPRetryIsIdempotent(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	tok := e.Tokens[model.RoleIngest]
	ts := time.Date(2026, 6, 13, 14, 30, 0, 0, time.UTC)
	withUID := otlpRecord(ts, "with uid")
	withUID.Attributes = []*commonpb.KeyValue{{Key: "log.record.uid",
		Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "01JDQ5Y4N2B0J6K1T9Z3R8W7XE"}}}}
	req := otlpRequest("api", otlpRecord(ts, "one"), otlpRecord(ts, "two"), withUID)
	pb, _ := proto.Marshal(req)
	js, _ := protojson.Marshal(req)
	for i, send := range []struct {
		contentType string
		body        []byte
	}{{"application/x-protobuf", pb}, {"application/x-protobuf", pb}, {"application/json", js}} {
		resp, body := postOTLP(e, tok, send.contentType, send.body)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != send.contentType {
			t.Fatalf("send %d: %d %s: %q", i, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if n := e.Count("app_logs"); n != 3 {
			t.Fatalf("send %d: %d rows, want 3", i, n)
		}
	}
	if got := metric(t, e, `loggraph_ingest_protocol_records_total{outcome="duplicate",protocol="otlp"}`); got != "6" {
		t.Fatalf("duplicate records metric %q, want 6", got)
	}
}

// TestOTLPJSONPartialSuccess sends OTLP/JSON (hex ids, as the spec writes them) with
// valid and invalid records: the valid ones are stored, the others counted and
// described in partialSuccess.
func TestOTLPJSONPartialSuccess(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	body := `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"web"}}]},
	  "scopeLogs":[{"scope":{"name":"app"},"logRecords":[
	    {"timeUnixNano":"1781361000000000000","severityNumber":17,"body":{"stringValue":"ok"},
	     "traceId":"4BF92F3577B34DA6A3CE929D0E0E4736","spanId":"00f067aa0ba902b7","attributes":[{"key":"n","value":{"intValue":"7"}}],
	     "someFutureField":true},
	    {"timeUnixNano":"1000000000000000000","body":{"stringValue":"too old"}},
	    {"timeUnixNano":"1781361000000000000","body":{"stringValue":"bad ids"},"traceId":"xyz","spanId":"00f067aa0ba902b7"},
	    {"timeUnixNano":"1781361000000000000","severityNumber":30,"body":{"stringValue":"a\u0000b"}}]}]}]}`
	resp, reply := postOTLP(e, e.Tokens[model.RoleIngest], "application/json; charset=utf-8", []byte(body))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), reply)
	}
	want := `{"partialSuccess":{"rejectedLogRecords":"3","errorMessage":"3 of 4 log records rejected: ` +
		`resourceLogs[0].scopeLogs[0].logRecords[1]: field \"timeUnixNano\": 1000000000000000000 (2001-09-09T01:46:40Z) is more than 1826 days in the past; times from 1826 days ago to 2 days ahead are accepted; ` +
		`resourceLogs[0].scopeLogs[0].logRecords[2]: field \"traceId\": is not 32 hex digits; ` +
		`resourceLogs[0].scopeLogs[0].logRecords[3]: field \"severityNumber\": 30 is out of range 0..24; field \"body\": contains a NUL byte (\\u0000), which cannot be stored"}}`
	if compactJSON(t, reply) != compactJSON(t, want) {
		t.Fatalf("reply:\n got %s\nwant %s", reply, want)
	}
	sameRows(t, appRows(t, e), []storedApp{{Service: "web", Level: "ERROR", Message: "ok", Time: "2026-06-13T14:30:00.000000Z",
		Details: map[string]any{"otel.scope.name": "app", "n": float64(7)},
		TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7"}})
	if got := metric(t, e, `loggraph_ingest_protocol_records_total{outcome="rejected",protocol="otlp"}`); got != "3" {
		t.Fatalf("rejected records metric %q", got)
	}
}

func compactJSON(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("not JSON: %v: %s", err, s)
	}
	return b.String()
}

// otlpStatus decodes a google.rpc.Status reply in either encoding.
func otlpStatus(t *testing.T, resp *http.Response, body string) *statuspb.Status {
	t.Helper()
	st := &statuspb.Status{}
	var err error
	switch ct := resp.Header.Get("Content-Type"); ct {
	case "application/x-protobuf":
		err = proto.Unmarshal([]byte(body), st)
	case "application/json":
		err = protojson.Unmarshal([]byte(body), st)
	default:
		t.Fatalf("Content-Type %q: %q", ct, body)
	}
	if err != nil {
		t.Fatalf("not a Status: %v: %q", err, body)
	}
	return st
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// TestOTLPErrors checks every failure's status, google.rpc.Status (in the request's
// encoding) and that nothing was stored.
func TestOTLPErrors(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{MaxIngestBodyBytes: 4096})
	ingest, read := e.Tokens[model.RoleIngest], e.Tokens[model.RoleRead]
	good, _ := proto.Marshal(otlpRequest("api", otlpRecord(time.Date(2026, 6, 13, 0, 0, 0, 0, time.UTC), "m")))
	old, _ := proto.Marshal(otlpRequest("api", otlpRecord(time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC), "m"),
		otlpRecord(time.Date(2001, 1, 2, 0, 0, 0, 0, time.UTC), "m")))
	const pbType, jsonType = "application/x-protobuf", "application/json"
	for _, c := range []struct {
		name, method, token, contentType string
		body                             []byte
		headers                          []string
		status                           int
		code                             int32
		message                          string
	}{
		{"no token", http.MethodPost, "", pbType, good, nil, 401, 16,
			"an API token is required: send `Authorization: Bearer <token>`"},
		{"bad token, JSON", http.MethodPost, "lg_nope", jsonType, []byte(`{}`), nil, 401, 16, "invalid API token"},
		{"read token", http.MethodPost, read, pbType, good, nil, 403, 7, "this token's role (read) may not ingest logs"},
		{"other content type", http.MethodPost, ingest, "text/plain", good, nil, 415, 3,
			"send application/x-protobuf (an ExportLogsServiceRequest) or application/json (OTLP/JSON)"},
		{"other encoding", http.MethodPost, ingest, pbType, good, []string{"Content-Encoding", "br"}, 415, 3,
			`unsupported Content-Encoding "br"; send gzip or no encoding`},
		{"not protobuf", http.MethodPost, ingest, pbType, []byte("\xff\xff\xff"), nil, 400, 3,
			"not an OTLP ExportLogsServiceRequest in protobuf: proto: cannot parse invalid wire-format data"},
		{"not JSON", http.MethodPost, ingest, jsonType, []byte(`{"resourceLogs":[`), nil, 400, 3,
			"not an OTLP/JSON ExportLogsServiceRequest: proto: unexpected EOF"},
		{"bad gzip", http.MethodPost, ingest, pbType, []byte("this body is not gzip"), []string{"Content-Encoding", "gzip"}, 400, 3,
			"the body is not valid gzip: gzip: invalid header"},
		{"too large", http.MethodPost, ingest, pbType, make([]byte, 5000), nil, 413, 3,
			"request body exceeds the limit of 4096 bytes; split the batch"},
		{"too large once inflated", http.MethodPost, ingest, pbType, gzipped(make([]byte, 5000)), []string{"Content-Encoding", "gzip"}, 413, 3,
			"request body exceeds the limit of 4096 bytes; split the batch"},
		{"every record invalid", http.MethodPost, ingest, pbType, old, nil, 400, 3,
			"2 of 2 log records rejected: resourceLogs[0].scopeLogs[0].logRecords[0]: field \"timeUnixNano\": 978307200000000000 (2001-01-01T00:00:00Z) is more than 1826 days in the past; " +
				"times from 1826 days ago to 2 days ahead are accepted; resourceLogs[0].scopeLogs[0].logRecords[1]: field \"timeUnixNano\": 978393600000000000 (2001-01-02T00:00:00Z) is more than 1826 days in the past; " +
				"times from 1826 days ago to 2 days ahead are accepted"},
		{"GET", http.MethodGet, ingest, jsonType, nil, nil, 405, 12, "use POST"},
	} {
		t.Run(c.name, func(t *testing.T) {
			headers := append([]string{"Content-Type", c.contentType}, c.headers...)
			if c.token != "" {
				headers = append(headers, "Authorization", "Bearer "+c.token)
			}
			resp, body := e.Do(c.method, "/v1/logs", bytes.NewReader(c.body), headers...)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %q", resp.StatusCode, c.status, body)
			}
			wantType := pbType
			if c.contentType == jsonType {
				wantType = jsonType
			}
			if got := resp.Header.Get("Content-Type"); got != wantType {
				t.Fatalf("Content-Type %q, want %q", got, wantType)
			}
			st := otlpStatus(t, resp, body)
			if st.Code != c.code || st.Message != c.message {
				t.Fatalf("Status %d %q, want %d %q", st.Code, st.Message, c.code, c.message)
			}
			if c.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
			if n := e.Count("app_logs"); n != 0 {
				t.Fatalf("%d rows stored", n)
			}
		})
	}
}

// TestOTLPRetryableRefusals: over the workspace's ingest rate (429) and with the
// database gone (503), the answer has Retry-After and the exporter's retryable codes.
func TestOTLPRetryableRefusals(t *testing.T) {
	t.Parallel()
	body, _ := proto.Marshal(otlpRequest("api", otlpRecord(time.Date(2026, 6, 13, 0, 0, 0, 0, time.UTC), "m"),
		otlpRecord(time.Date(2026, 6, 13, 0, 0, 1, 0, time.UTC), "m")))
	t.Run("rate limited", func(t *testing.T) {
		t.Parallel()
		e := testserver.NewEnv(t, testserver.Options{RateLimits: &limits.Config{
			Workspace: limits.Values{IngestRowsPerSecond: 1}, Burst: time.Second, Now: newTestClock().Now,
		}})
		if resp, reply := postOTLP(e, e.Tokens[model.RoleIngest], "application/x-protobuf", body); resp.StatusCode != http.StatusOK {
			t.Fatalf("on a full bucket: %d %q", resp.StatusCode, reply)
		}
		resp, reply := postOTLP(e, e.Tokens[model.RoleIngest], "application/x-protobuf", body)
		st := otlpStatus(t, resp, reply)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" || st.Code != 8 ||
			st.Message != "workspace acme is over its limit of 1 ingest rows per second (bursts up to 1); retry after 2 s" {
			t.Fatalf("%d Retry-After %q: %d %q", resp.StatusCode, resp.Header.Get("Retry-After"), st.Code, st.Message)
		}
		if n := e.Count("app_logs"); n != 2 {
			t.Fatalf("%d rows stored, want the first export's 2", n)
		}
	})
	t.Run("database down", func(t *testing.T) {
		t.Parallel()
		var proxy *testserver.Proxy
		e := testserver.NewEnv(t, testserver.Options{DialURL: testserver.ProxyTo(t, &proxy)})
		proxy.Close()
		resp, reply := postOTLP(e, e.Tokens[model.RoleIngest], "application/json", []byte(`{}`))
		st := otlpStatus(t, resp, reply)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" || st.Code != 14 ||
			st.Message != "the database is unavailable; retry later" {
			t.Fatalf("%d Retry-After %q: %d %q", resp.StatusCode, resp.Header.Get("Retry-After"), st.Code, st.Message)
		}
	})
}

// TestOTLPGoExporterPartialSuccess: the Go exporter (batch processor: one export of
// both records) reports the partial success the server answered.
func TestOTLPGoExporterPartialSuccess(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	ctx := context.Background()
	exp, err := otlploghttp.New(ctx, otlploghttp.WithEndpointURL(e.Srv.URL+"/v1/logs"),
		otlploghttp.WithHeaders(map[string]string{"Authorization": "Bearer " + e.Tokens[model.RoleIngest]}),
		otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)),
		sdklog.WithResource(resource.NewSchemaless(attribute.String("service.name", "batch"))))
	defer func() { _ = lp.Shutdown(ctx) }()
	logger := lp.Logger("x")
	var good, old otellog.Record
	good.SetTimestamp(time.Date(2026, 6, 13, 0, 0, 0, 0, time.UTC))
	good.SetBody(attribute.StringValue("good"))
	old.SetTimestamp(time.Date(2016, 6, 13, 0, 0, 0, 0, time.UTC))
	old.SetBody(attribute.StringValue("old"))
	logger.Emit(ctx, good)
	logger.Emit(ctx, old)
	err = lp.ForceFlush(ctx)
	want := `OTLP partial success: 1 of 2 log records rejected: resourceLogs[0].scopeLogs[0].logRecords[1]: field "timeUnixNano": ` +
		`1465776000000000000 (2016-06-13T00:00:00Z) is more than 1826 days in the past; times from 1826 days ago to 2 days ahead are accepted (1 logs rejected)`
	if err == nil || err.Error() != want {
		t.Fatalf("flush: %v\nwant %s", err, want)
	}
	sameRows(t, appRows(t, e), []storedApp{{Service: "batch", Level: "INFO", Message: "good",
		Time: "2026-06-13T00:00:00.000000Z", Details: map[string]any{"otel.scope.name": "x"}}})
}
