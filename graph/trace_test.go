package graph_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

const (
	traceA = "4bf92f3577b34da6a3ce929d0e0e4736"
	traceB = "00f067aa0ba902b7a3ce929d0e0e4736"
)

// traceFixture ingests app and API request logs of two traces (and some of none).
func traceFixture(t *testing.T, e *testserver.Env) {
	t.Helper()
	base := time.Date(2024, 6, 13, 12, 0, 0, 0, time.UTC)
	at := func(m int) string { return base.Add(time.Duration(m) * time.Minute).Format(time.RFC3339) }
	app := fmt.Sprintf(`{"timestamp":%q,"level":"INFO","service":"checkout","message":"start","trace_id":%q,"span_id":"00f067aa0ba902b7"}
{"timestamp":%q,"level":"ERROR","service":"payments","message":"declined","trace_id":%q,"span_id":"b7ad6b7169203331"}
{"timestamp":%q,"level":"INFO","service":"checkout","message":"other trace","trace_id":%q}
{"timestamp":%q,"level":"INFO","service":"checkout","message":"no trace"}
`, at(1), traceA, at(4), traceA, at(2), traceB, at(3))
	// Upper-case hex is accepted and stored as the same id.
	req := fmt.Sprintf(`{"received_at":%q,"code":402,"ip":"10.0.0.1","timing_ms":12,"delay_ms":1,"collection":"shop","collection_type":"proxy","endpoint":"POST /pay","trace_id":%q,"span_id":"0102030405060708"}
{"received_at":%q,"code":200,"ip":"10.0.0.2","timing_ms":5,"delay_ms":1,"collection":"shop","collection_type":"proxy","endpoint":"GET /cart","trace_id":%q}
{"received_at":%q,"code":200,"ip":"10.0.0.3","timing_ms":5,"delay_ms":1,"collection":"shop","collection_type":"proxy","endpoint":"GET /cart"}
`, at(5), strings.ToUpper(traceA), at(0), traceB, at(6))
	for kind, body := range map[string]string{"app": app, "api-request": req} {
		if resp, reply := e.Ingest(kind, e.Tokens[model.RoleIngest], body); resp.StatusCode != http.StatusOK {
			t.Fatalf("ingest %s: %d %s", kind, resp.StatusCode, reply)
		}
	}
}

// TestTraceCorrelation: one query returns every log of a trace across kinds, newest
// first; the typed filters, the ids' fields and the export carry the same ids.
func TestTraceCorrelation(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	traceFixture(t, e)

	q := `query($f: LogFilter) { logs(filter: $f) { totalCount nodes { kind message
		... on AppLog { traceId spanId } ... on ApiRequestLog { traceId spanId } } } }`
	var r reply[struct {
		Logs struct {
			TotalCount int
			Nodes      []struct{ Kind, Message, TraceID, SpanID string }
		}
	}]
	e.GraphQL(e.Tokens[model.RoleRead], q, map[string]any{"f": map[string]any{"traceIds": []string{traceA}}}, &r)
	if len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	var got []string
	for _, n := range r.Data.Logs.Nodes {
		if n.TraceID != traceA {
			t.Errorf("%s %q: traceId %q", n.Kind, n.Message, n.TraceID)
		}
		got = append(got, n.Kind+":"+n.Message+":"+n.SpanID)
	}
	want := "API_REQUEST:402 Payment Required POST /pay:0102030405060708,APP:declined:b7ad6b7169203331,APP:start:00f067aa0ba902b7"
	if strings.Join(got, ",") != want || r.Data.Logs.TotalCount != 3 {
		t.Fatalf("trace A: %d %v\nwant %s", r.Data.Logs.TotalCount, got, want)
	}

	count := func(t *testing.T, field, filterType string, filter map[string]any) int {
		t.Helper()
		var c reply[map[string]struct{ TotalCount int }]
		e.GraphQL(e.Tokens[model.RoleRead], fmt.Sprintf(`query($f: %s) { x: %s(filter: $f) { totalCount } }`, filterType, field),
			map[string]any{"f": filter}, &c)
		if len(c.Errors) > 0 {
			t.Fatal(c.Errors)
		}
		return c.Data["x"].TotalCount
	}
	for _, c := range []struct {
		name, field, filterType string
		filter                  map[string]any
		want                    int
	}{
		{"app logs of both traces", "appLogs", "AppLogFilter", map[string]any{"traceIds": []string{traceA, traceB}}, 3},
		{"requests of trace B", "apiRequestLogs", "ApiRequestLogFilter", map[string]any{"traceIds": []string{traceB}}, 1},
		{"upper-case filter", "apiRequestLogs", "ApiRequestLogFilter", map[string]any{"traceIds": []string{strings.ToUpper(traceA)}}, 1},
		{"with other fields", "appLogs", "AppLogFilter", map[string]any{"traceIds": []string{traceA}, "minLevel": "ERROR"}, 1},
		{"kinds without trace ids", "logs", "LogFilter", map[string]any{"traceIds": []string{traceA}, "kinds": []string{"ACTION", "INTEGRATION"}}, 0},
		{"an unknown trace", "logs", "LogFilter", map[string]any{"traceIds": []string{"0af7651916cd43dd8448eb211c80319c"}}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if n := count(t, c.field, c.filterType, c.filter); n != c.want {
				t.Fatalf("%d, want %d", n, c.want)
			}
		})
	}

	t.Run("export", func(t *testing.T) {
		resp, body := e.Do("GET", "/v1/export/app.ndjson?traceIds="+traceA, nil, "Authorization", "Bearer "+e.Tokens[model.RoleRead])
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		lines := strings.Split(strings.TrimSpace(body), "\n")
		if len(lines) != 2 {
			t.Fatalf("%d lines: %s", len(lines), body)
		}
		var rec struct{ TraceID, SpanID string }
		if err := json.Unmarshal([]byte(lines[0]), &struct {
			TraceID *string `json:"trace_id"`
			SpanID  *string `json:"span_id"`
		}{&rec.TraceID, &rec.SpanID}); err != nil {
			t.Fatal(err)
		}
		if rec.TraceID != traceA || rec.SpanID != "b7ad6b7169203331" {
			t.Fatalf("export record %s", lines[0])
		}
	})
}

// TestTraceIDErrors: a malformed trace or span id is the caller's mistake, in the
// envelope of the surface it came through, and nothing of the batch is stored.
func TestTraceIDErrors(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	for _, c := range []struct{ name, line, msg string }{
		{"not hex", `"trace_id":"zz f92f3577b34da6a3ce929d0e0e4736"`, `field "trace_id": "zz f92f3577b34da6a3ce929d0e0e4736" is not a trace id: want 32 hex digits`},
		{"too short", `"trace_id":"4bf92f35"`, `field "trace_id": "4bf92f35" is not a trace id: want 32 hex digits`},
		{"all zeros", `"trace_id":"00000000000000000000000000000000"`, `field "trace_id": trace id "00000000000000000000000000000000" is all zeros, which W3C Trace Context defines as invalid`},
		{"span without trace", `"span_id":"00f067aa0ba902b7"`, `field "span_id": a span id needs a trace_id`},
		{"bad span", `"trace_id":"` + traceA + `","span_id":"00f0"`, `field "span_id": "00f0" is not a span id: want 16 hex digits`},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := `{"timestamp":"2024-06-13T12:00:00Z","level":"INFO","service":"s","message":"ok"}` + "\n" +
				`{"timestamp":"2024-06-13T12:00:00Z","level":"INFO","service":"s","message":"m",` + c.line + "}\n"
			resp, reply := e.Ingest("app", e.Tokens[model.RoleIngest], body)
			var got struct {
				Errors []struct {
					Line    int
					Message string
				}
			}
			_ = json.Unmarshal([]byte(reply), &got)
			if resp.StatusCode != http.StatusBadRequest || len(got.Errors) != 1 || got.Errors[0].Line != 2 || got.Errors[0].Message != c.msg {
				t.Fatalf("%d %s\nwant line 2: %s", resp.StatusCode, reply, c.msg)
			}
			if n := e.Count("app_logs"); n != 0 {
				t.Fatalf("%d rows stored", n)
			}
		})
	}
	t.Run("filter", func(t *testing.T) {
		var r reply[json.RawMessage]
		e.GraphQL(e.Tokens[model.RoleRead], `{ logs(filter: {traceIds: ["4bf92f35"]}) { totalCount } }`, nil, &r)
		onlyError(t, r.Errors, "BAD_USER_INPUT", `traceIds[0]: "4bf92f35" is not a trace id: want 32 hex digits`)
	})
	t.Run("too many", func(t *testing.T) {
		ids := make([]string, model.MaxTraceIDs+1)
		for i := range ids {
			ids[i] = traceA
		}
		var r reply[json.RawMessage]
		e.GraphQL(e.Tokens[model.RoleRead], `query($f: AppLogFilter) { appLogs(filter: $f) { totalCount } }`,
			map[string]any{"f": map[string]any{"traceIds": ids}}, &r)
		onlyError(t, r.Errors, "BAD_USER_INPUT", fmt.Sprintf("traceIds: at most %d trace ids, got %d", model.MaxTraceIDs, len(ids)))
	})
	t.Run("mutation", func(t *testing.T) {
		var r reply[struct{ IngestAppLogs struct{ Accepted int } }]
		e.GraphQL(e.Tokens[model.RoleIngest], `mutation { ingestAppLogs(logs: [{level: INFO, service: "s", message: "m", traceId: "`+traceA+`", spanId: "00f067aa0ba902b7"}]) { accepted } }`, nil, &r)
		if len(r.Errors) > 0 || r.Data.IngestAppLogs.Accepted != 1 {
			t.Fatalf("%+v", r)
		}
	})
}

// TestTraceContext: logContext(by: TRACE) gives the neighbours of a log in its trace
// across kinds, oldest first, in two statements; a log without a trace is refused.
func TestTraceContext(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	traceFixture(t, e)
	ids := map[string]string{} // message -> kind and id
	var list reply[struct {
		Logs struct {
			Nodes []struct{ ID, Kind, Message string }
		}
	}]
	e.GraphQL(e.Tokens[model.RoleRead], `{ logs(first: 100) { nodes { id kind message } } }`, nil, &list)
	if len(list.Errors) > 0 {
		t.Fatal(list.Errors)
	}
	for _, n := range list.Data.Logs.Nodes {
		ids[n.Message] = n.Kind + " " + n.ID
	}
	const q = `query($k: LogKind!, $id: ID!, $b: Int) { logContext(kind: $k, id: $id, before: $b, by: TRACE) {
		before { kind message } log { message } after { kind message } } }`
	for _, c := range []struct {
		anchor, before, after string
		n                     int
	}{
		{"declined", "APP:start", "API_REQUEST:402 Payment Required POST /pay", 10},
		{"402 Payment Required POST /pay", "APP:start,APP:declined", "", 10},
		{"start", "", "APP:declined,API_REQUEST:402 Payment Required POST /pay", 10},
		{"402 Payment Required POST /pay", "APP:declined", "", 1},
	} {
		t.Run(c.anchor+fmt.Sprint(c.n), func(t *testing.T) {
			kind, id, _ := strings.Cut(ids[c.anchor], " ")
			type side []struct{ Kind, Message string }
			var r struct {
				reply[struct {
					LogContext struct {
						Before, After side
						Log           struct{ Message string }
					}
				}]
				Extensions struct{ Stats struct{ SQLStatements int } }
			}
			e.GraphQL(e.Tokens[model.RoleRead], q, map[string]any{"k": kind, "id": id, "b": c.n}, &r)
			if len(r.Errors) > 0 {
				t.Fatal(r.Errors)
			}
			join := func(s side) string {
				var out []string
				for _, l := range s {
					out = append(out, l.Kind+":"+l.Message)
				}
				return strings.Join(out, ",")
			}
			got := r.Data.LogContext
			if got.Log.Message != c.anchor || join(got.Before) != c.before || join(got.After) != c.after {
				t.Fatalf("context of %q: before %q after %q", got.Log.Message, join(got.Before), join(got.After))
			}
			if n := r.Extensions.Stats.SQLStatements; n != 2 {
				t.Fatalf("%d statements, want 2 (the anchor, then both sides)", n)
			}
		})
	}
	t.Run("a log without a trace", func(t *testing.T) {
		kind, id, _ := strings.Cut(ids["no trace"], " ")
		var r reply[json.RawMessage]
		e.GraphQL(e.Tokens[model.RoleRead], q, map[string]any{"k": kind, "id": id}, &r)
		onlyError(t, r.Errors, "BAD_USER_INPUT", "by: TRACE: this APP log has no trace id")
	})
}
