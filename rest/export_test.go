package rest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/internal/testwait"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

var exportKinds = []string{"app", "api-request", "integration", "action", "api-reference"}

func ingestFixtures(t *testing.T, e *testserver.Env) {
	t.Helper()
	for _, k := range exportKinds {
		mustIngest(t, e, k, readTestdata(t, "export/"+k+".ndjson"))
	}
}

func exportBody(t *testing.T, e *testserver.Env, token, path string) string {
	t.Helper()
	resp, body := get(e, token, path)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
	}
	return body
}

// TestExportGolden: for each kind, the NDJSON and CSV exports match the reviewed
// golden files byte for byte: ingest field names in ingest order, ids and entity
// names included, newest first, absent values null (NDJSON) or empty (CSV), nested
// values as JSON text in one RFC 4180 cell, headers on the response.
func TestExportGolden(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	ingestFixtures(t, e)
	for _, k := range exportKinds {
		for _, tc := range []struct{ ext, ctype string }{
			{"ndjson", "application/x-ndjson; charset=utf-8"},
			{"csv", "text/csv; charset=utf-8"},
		} {
			t.Run(k+"."+tc.ext, func(t *testing.T) {
				resp, body := get(e, e.Tokens[model.RoleRead], "/v1/export/"+k+"."+tc.ext)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%s.%s: %d %s", k, tc.ext, resp.StatusCode, body)
				}
				if got := resp.Header.Get("Content-Type"); got != tc.ctype {
					t.Errorf("%s.%s: Content-Type %q", k, tc.ext, got)
				}
				if got, want := resp.Header.Get("Content-Disposition"), `attachment; filename="`+k+"."+tc.ext+`"`; got != want {
					t.Errorf("%s.%s: Content-Disposition %q", k, tc.ext, got)
				}
				golden(t, "export/"+k+".golden."+tc.ext, body)
			})
		}
	}
}

// TestExportHead: HEAD validates like GET and answers the headers without reading
// the rows.
func TestExportHead(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	ingestFixtures(t, e)
	auth := []string{"Authorization", "Bearer " + e.Tokens[model.RoleRead]}
	resp, body := e.Do(http.MethodHead, "/v1/export/app.csv", nil, auth...)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" || body != "" {
		t.Fatalf("HEAD: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if resp, _ := e.Do(http.MethodHead, "/v1/export/app.csv?levels=NOPE", nil, auth...); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("HEAD with a bad filter: %d", resp.StatusCode)
	}
}

// TestExportCSVMatchesNDJSON: a CSV export's header is the NDJSON keys in order and
// every cell is the NDJSON value (text as is, null empty, nested values as JSON).
func TestExportCSVMatchesNDJSON(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	ingestFixtures(t, e)
	for _, k := range exportKinds {
		nd := exportBody(t, e, e.Tokens[model.RoleRead], "/v1/export/"+k+".ndjson")
		cs := exportBody(t, e, e.Tokens[model.RoleRead], "/v1/export/"+k+".csv")
		recs, err := csvReader(cs)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(nd, "\n"), "\n")
		if len(recs) != len(lines)+1 {
			t.Fatalf("%s: %d CSV records for %d NDJSON lines", k, len(recs), len(lines))
		}
		for i, line := range lines {
			dec := json.NewDecoder(strings.NewReader(line))
			dec.UseNumber()
			if _, err := dec.Token(); err != nil {
				t.Fatal(err)
			}
			for j := 0; dec.More(); j++ {
				key, _ := dec.Token()
				var val json.RawMessage
				if err := dec.Decode(&val); err != nil {
					t.Fatal(err)
				}
				if recs[0][j] != key {
					t.Fatalf("%s: column %d is %q, NDJSON key %q", k, j, recs[0][j], key)
				}
				want := string(val)
				switch {
				case want == "null":
					want = ""
				case strings.HasPrefix(want, `"`):
					_ = json.Unmarshal(val, &want)
					// RFC 4180 line breaks are CRLF, also inside quoted cells.
					want = strings.ReplaceAll(want, "\n", "\r\n")
				}
				if got := recs[i+1][j]; got != want && !jsonEqual(got, want) {
					t.Errorf("%s row %d %s: CSV %q, NDJSON %q", k, i, key, got, want)
				}
			}
		}
	}
}

// csvReader reads CSV keeping CRLF inside quoted cells (encoding/csv would turn
// them into LF).
func csvReader(s string) ([][]string, error) {
	var out [][]string
	var rec []string
	var cell strings.Builder
	inQuotes := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuotes && c == '"' && i+1 < len(s) && s[i+1] == '"':
			cell.WriteByte('"')
			i++
		case c == '"':
			inQuotes = !inQuotes
		case !inQuotes && c == ',':
			rec = append(rec, cell.String())
			cell.Reset()
		case !inQuotes && c == '\r' && i+1 < len(s) && s[i+1] == '\n':
			out = append(out, append(rec, cell.String()))
			rec, i = nil, i+1
			cell.Reset()
		default:
			cell.WriteByte(c)
		}
	}
	if inQuotes || rec != nil || cell.Len() > 0 {
		return nil, fmt.Errorf("CSV does not end with a complete CRLF-terminated record")
	}
	return out, nil
}

func jsonEqual(a, b string) bool {
	var x, y any
	return json.Unmarshal([]byte(a), &x) == nil && json.Unmarshal([]byte(b), &y) == nil && fmt.Sprint(x) == fmt.Sprint(y)
}

// TestExportFilters: each kind's filter parameters select what the same GraphQL
// filter selects, in both formats.
func TestExportFilters(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	ingestFixtures(t, e)
	for _, tc := range []struct {
		kind, query string
		want        []string // ids, newest first
	}{
		{"app", "", []string{"a0000000-0000-4000-8000-000000000002", "a0000000-0000-4000-8000-000000000001", "a0000000-0000-4000-8000-000000000003"}},
		{"app", "levels=ERROR", []string{"a0000000-0000-4000-8000-000000000001"}},
		{"app", "levels=ERROR&levels=warn", []string{"a0000000-0000-4000-8000-000000000001", "a0000000-0000-4000-8000-000000000003"}},
		{"app", "minLevel=WARN", []string{"a0000000-0000-4000-8000-000000000001", "a0000000-0000-4000-8000-000000000003"}},
		{"app", "services=payment-gateway", []string{"a0000000-0000-4000-8000-000000000002"}},
		{"app", "search=CHARGED", []string{"a0000000-0000-4000-8000-000000000002"}},
		{"app", "details=" + url.QueryEscape(`{"user_id":12345}`), []string{"a0000000-0000-4000-8000-000000000001"}},
		{"app", "details=" + url.QueryEscape(`{"big":12345678901234567890}`), []string{"a0000000-0000-4000-8000-000000000003"}},
		{"app", "time.from=2024-06-13T00:00:00Z", []string{"a0000000-0000-4000-8000-000000000002", "a0000000-0000-4000-8000-000000000001"}},
		{"app", "time.from=2024-06-12T00:00:00Z&time.to=2024-06-13T14:30:00Z", []string{"a0000000-0000-4000-8000-000000000003"}},
		{"app", "time.last=1h", nil},
		{"app", "time.last=36500d", []string{"a0000000-0000-4000-8000-000000000002", "a0000000-0000-4000-8000-000000000001", "a0000000-0000-4000-8000-000000000003"}},
		{"api-request", "codeClasses=4xx", []string{"11111111-1111-4111-8111-111111111111", "33333333-3333-4333-8333-333333333333"}},
		{"api-request", "outcome=SUCCESS", []string{"22222222-2222-4222-8222-222222222222"}},
		{"api-request", "gatewayCodes=4011", []string{"33333333-3333-4333-8333-333333333333"}},
		{"api-request", "clients=Mobile+app", []string{"33333333-3333-4333-8333-333333333333", "44444444-4444-4444-8444-444444444444"}},
		{"api-request", "collections=Orders+API&codes=500", []string{"44444444-4444-4444-8444-444444444444"}},
		{"api-request", "collectionType=PROXY", []string{"22222222-2222-4222-8222-222222222222"}},
		{"api-request", "endpoints=" + url.QueryEscape("GET /orders/{id}"), []string{"11111111-1111-4111-8111-111111111111"}},
		{"api-request", "ips=198.51.100.0/24", []string{"33333333-3333-4333-8333-333333333333", "44444444-4444-4444-8444-444444444444"}},
		{"api-request", "minTimingMs=100&maxTimingMs=500", []string{"22222222-2222-4222-8222-222222222222"}},
		{"api-request", "search=token", []string{"33333333-3333-4333-8333-333333333333"}},
		{"integration", "succeeded=false", []string{"b0000000-0000-4000-8000-000000000001", "b0000000-0000-4000-8000-000000000003"}},
		{"integration", "statusCodes=200&statusCodes=0", []string{"b0000000-0000-4000-8000-000000000002", "b0000000-0000-4000-8000-000000000003"}},
		{"integration", "integrationIds=ee8634a8-a89e-4eac-baab-9b7b8c4f8720", []string{"b0000000-0000-4000-8000-000000000003"}},
		{"integration", "jobIds=0a8634a8-a89e-4eac-baab-9b7b8c4f8720&minAttempt=2", []string{"b0000000-0000-4000-8000-000000000002"}},
		{"integration", "search=refused", []string{"b0000000-0000-4000-8000-000000000003"}},
		{"action", "minLevel=40", []string{"105", "107"}},
		{"action", "maxLevel=20", []string{"106"}},
		{"action", "appNames=billing", []string{"107"}},
		{"action", "loggerNames=orders&search=shipped", []string{"106"}},
		{"action", "time.to=2023-12-01T09:00:00Z", []string{"105", "107"}},
		{"api-reference", "hasErrors=true", []string{"33b5c7e-fcbe-4797-b144-1a7ca2508f44"}},
		{"api-reference", "hasAlerts=false", []string{"log-2"}},
		{"api-reference", "apiReferenceIds=billing&apiReferenceIds=petstore", []string{"log-2", "33b5c7e-fcbe-4797-b144-1a7ca2508f44"}},
		{"api-reference", "userIds=u-2", []string{"log-2"}},
		{"api-reference", "search=failed", []string{"33b5c7e-fcbe-4797-b144-1a7ca2508f44"}},
	} {
		t.Run(tc.kind+"?"+tc.query, func(t *testing.T) {
			body := exportBody(t, e, e.Tokens[model.RoleRead], "/v1/export/"+tc.kind+".ndjson?"+tc.query)
			var got []string
			sc := bufio.NewScanner(strings.NewReader(body))
			for sc.Scan() {
				var rec map[string]any
				if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
					t.Fatal(err)
				}
				id := rec["id"]
				if tc.kind == "api-reference" {
					id = rec["logs_id"]
				}
				got = append(got, fmt.Sprint(id))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("%s?%s: got %v, want %v", tc.kind, tc.query, got, tc.want)
			}
			csvBody := exportBody(t, e, e.Tokens[model.RoleRead], "/v1/export/"+tc.kind+".csv?"+tc.query)
			recs, err := csvReader(csvBody)
			if err != nil || len(recs) != len(tc.want)+1 {
				t.Errorf("%s.csv?%s: %d records (%v), want %d", tc.kind, tc.query, len(recs)-1, err, len(tc.want))
			}
		})
	}
}

// TestExportBadParameters: an unknown parameter, a bad value or a filter that fails
// validation (in the handler or in the data layer, before the first row) is a 400 in
// the /v1 envelope and no export is started; an unknown kind or format is a 404.
func TestExportBadParameters(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	ingestFixtures(t, e)
	for _, tc := range []struct{ kind, query, msg string }{
		{"app", "level=ERROR", `unknown parameter "level"; the app export accepts details, levels, minLevel, search, services, time.from, time.last, time.to, traceIds`},
		{"action", "levels=ERROR", `unknown parameter "levels"; the action export accepts appNames, loggerNames, maxLevel, minLevel, search, time.from, time.last, time.to`},
		{"app", "levels=NOPE", `levels: "NOPE" is not one of DEBUG, INFO, WARN, ERROR, FATAL`},
		{"app", "minLevel=INFO&minLevel=WARN", `minLevel: give one value, not 2`},
		{"app", "details=%5B1%5D", `details: not a JSON object (e.g. {"user_id":12345})`},
		{"app", "time.from=2024-06-02T00:00:00Z&time.to=2024-06-01T00:00:00Z", `time: from (2024-06-02T00:00:00Z) must be before to (2024-06-01T00:00:00Z)`},
		{"app", "time.last=soon", `time.last: "soon" is not a duration (e.g. 500ms, 15m, 1h, 7d)`},
		{"app", "time.last=1h&time.from=2024-06-01T00:00:00Z", `time: give either last or from/to, not both`},
		{"app", "time.last=0s", `time.last: must be a positive duration`},
		{"app", "time.from=June", `time.from: "June" is not an RFC 3339 time (e.g. 2024-06-13T14:30:00Z)`},
		{"api-request", "codeClasses=6xx", `codeClasses: "6xx" is not one of 1xx, 2xx, 3xx, 4xx, 5xx`},
		{"api-request", "codes=OK", `codes: "OK" is not an integer`},
		{"api-request", "ips=nope", `ips[0]: "nope" is not an IP address or CIDR range`},
		{"api-request", "minTimingMs=10&maxTimingMs=5", `minTimingMs (10) is greater than maxTimingMs (5)`},
		{"api-request", "outcome=maybe", `outcome: "maybe" is not one of SUCCESS, ERROR`},
		{"api-request", "collectionType=edge", `collectionType: "edge" is not one of RECIPE, PROXY`},
		{"integration", "integrationIds=x", `integrationIds[0]: "x" is not a valid id`},
		{"integration", "minAttempt=0", `minAttempt: 0 is below 1`},
		{"integration", "succeeded=yes", `succeeded: "yes" is not true or false`},
		{"action", "minLevel=30&maxLevel=20", `minLevel (30) is greater than maxLevel (20)`},
		{"api-reference", "hasErrors=1", `hasErrors: "1" is not true or false`},
	} {
		t.Run(tc.kind+"?"+tc.query, func(t *testing.T) {
			for _, ext := range []string{"csv", "ndjson"} {
				assertV1Error(t, e, "/v1/export/"+tc.kind+"."+ext+"?"+tc.query, http.StatusBadRequest, "invalid_parameter", tc.msg)
			}
		})
	}
	for _, file := range []string{"logs.csv", "app.json", "app", "app.csv.gz"} {
		assertV1Error(t, e, "/v1/export/"+file, http.StatusNotFound, "unknown_export",
			fmt.Sprintf("unknown export %q; want /v1/export/{kind}.csv or .ndjson with kind one of app, api-request, integration, action, api-reference", file))
	}
}

// TestExportAuth: no token, a bad token and an ingest-only token are refused as /v1
// refuses them, before the kind or the parameters are looked at.
func TestExportAuth(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	for ci, tc := range []struct {
		header      []string
		status      int
		code, error string
	}{
		{nil, 401, "unauthenticated", "an API token is required: send `Authorization: Bearer <token>`"},
		{[]string{"Authorization", "Bearer nope"}, 401, "unauthenticated", "invalid API token"},
		{[]string{"Authorization", "Bearer " + e.Tokens[model.RoleIngest]}, 403, "forbidden", "this token's role (ingest) may not read logs"},
	} {
		t.Run(fmt.Sprint(ci), func(t *testing.T) {
			for _, path := range []string{"/v1/export/app.csv", "/v1/export/action.ndjson?bogus=1", "/v1/export/nope.csv"} {
				resp, body := e.Do(http.MethodGet, path, nil, tc.header...)
				var r apiLogsReply
				_ = json.Unmarshal([]byte(body), &r)
				if resp.StatusCode != tc.status || r.Code != tc.code || r.Error != tc.error {
					t.Errorf("%s %v: %d %s", path, tc.header, resp.StatusCode, body)
				}
			}
		})
	}
	if resp, _ := e.Do(http.MethodPost, "/v1/export/app.csv", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST export: %d", resp.StatusCode)
	}
}

// TestExportRoundTrip: every kind's NDJSON export, ingested into a second workspace
// and exported from there, is the same file: the export carries everything the
// ingest needs (ids, times to the microsecond, entity names).
func TestExportRoundTrip(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	ingestFixtures(t, e)
	ctx := context.Background()
	ws2, err := db.NewWorkspaceStore(e.DB.Bun).Create(ctx, "globex", "Globex")
	if err != nil {
		t.Fatal(err)
	}
	_, ingest2, err := e.Store.Create(ctx, ws2.ID, "ingest", model.RoleIngest)
	if err != nil {
		t.Fatal(err)
	}
	_, read2, err := e.Store.Create(ctx, ws2.ID, "read", model.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range exportKinds {
		first := exportBody(t, e, e.Tokens[model.RoleRead], "/v1/export/"+k+".ndjson")
		if resp, reply := e.Ingest(k, ingest2, first); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: re-ingest: %d %s", k, resp.StatusCode, reply)
		}
		if again := exportBody(t, e, read2, "/v1/export/"+k+".ndjson"); again != first {
			t.Errorf("%s: round trip differs:\n first %q\n again %q", k, first, again)
		}
		if strings.Count(first, "\n") != strings.Count(readTestdata(t, "export/"+k+".ndjson"), "\n") {
			t.Errorf("%s: export has %d lines", k, strings.Count(first, "\n"))
		}
	}
	// Workspaces stay apart: the first one's export is unchanged.
	if n := strings.Count(exportBody(t, e, e.Tokens[model.RoleRead], "/v1/export/app.ndjson"), "\n"); n != 3 {
		t.Errorf("workspace acme has %d app rows", n)
	}
}

// bigExportRows is the size of the constant-memory test: far more rows than one
// batch (db.ExportBatchSize), and, with bigExportPad, more bytes than the allowed
// heap growth. Few wide rows rather than many narrow ones: ingesting costs per row,
// and one batch must still be small next to the bound.
const (
	bigExportRows = 60_000
	bigExportPad  = 800
)

// TestExportStreamLarge exports 60k app rows (about 55 MB of CSV) while sampling the
// process heap: growth stays far below the export's size, so rows are streamed, not
// collected. Then a client that reads a little and hangs up makes the handler stop
// (it logs how few rows it wrote) and its query end. It does not run in parallel:
// the heap is the process's.
func TestExportStreamLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests 60k rows (55 MB)")
	}
	var logs testserver.LogBuffer
	e := testserver.NewEnv(t, testserver.Options{Log: slog.New(slog.NewTextHandler(&logs, nil))})
	// The rows are written in one statement, not ingested over HTTP: what is measured
	// is the export, and parsing 55 MB of NDJSON under the race detector took two
	// thirds of the test's time.
	began := time.Now()
	ctx := context.Background()
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	oldest := base.Add(-time.Duration(bigExportRows-1) * time.Millisecond)
	if err := db.NewPartitions(e.DB.IngestDB()).Ensure(ctx, model.KindApp, []time.Time{oldest, base}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.DB.Pool.Exec(ctx, `
		INSERT INTO app_logs (workspace_id, id, timestamp, level, service, message, details)
		SELECT $1, gen_random_uuid(), $2::timestamptz - i * interval '1 millisecond', $3, 'svc-' || i % 7,
		       'request ' || i || ' ' || $4, jsonb_build_object('n', i)
		FROM generate_series(0, $5::int - 1) AS i`,
		e.WS, base, int(model.SeverityInfo), strings.Repeat("x", bigExportPad), bigExportRows); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d app rows in %s", bigExportRows, time.Since(began).Round(time.Millisecond))

	for _, ext := range []string{"csv", "ndjson"} {
		peak, n, size, took := exportWithHeapSampling(t, e, "/v1/export/app."+ext)
		wantLines := int64(bigExportRows)
		if ext == "csv" {
			wantLines++ // the header
		}
		if n != wantLines {
			t.Fatalf("%s: %d lines, want %d", ext, n, wantLines)
		}
		t.Logf("%s: %d rows, %.1f MB in %s (%.0f rows/s); heap growth peak %.1f MB",
			ext, bigExportRows, float64(size)/1e6, took.Round(time.Millisecond), float64(bigExportRows)/took.Seconds(), float64(peak)/1e6)
		if peak > 30<<20 {
			t.Errorf("%s: heap grew by %.1f MB during the export; want < 30 MB", ext, float64(peak)/1e6)
		}
	}

	t.Run("client hangs up", func(t *testing.T) {
		done := exportRequests(t, e)
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.Srv.URL+"/v1/export/app.csv", nil)
		req.Header.Set("Authorization", "Bearer "+e.Tokens[model.RoleRead])
		resp, err := e.Srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 64<<10)); err != nil {
			t.Fatal(err)
		}
		cancel()
		resp.Body.Close()
		// The handler returns (the route's request counter moves when it does), and
		// it stopped because the client went, long before the whole export.
		testwait.Until(t, "the export handler to return after the client hung up", func() bool { return exportRequests(t, e) != done })
		stopped := ""
		for line := range strings.SplitSeq(logs.String(), "\n") {
			if strings.Contains(line, `msg="export stopped: client gone"`) {
				stopped = line
			}
		}
		var rows int
		if _, err := fmt.Sscanf(stopped[strings.Index(stopped, " rows=")+1:], "rows=%d", &rows); stopped == "" || err != nil || rows >= bigExportRows {
			t.Fatalf("the export was not stopped early by the hang-up: %q (%v)", stopped, err)
		}
		t.Logf("the handler stopped after %d of %d rows", rows, bigExportRows)
		// And no statement of the export is left running.
		var active int
		err = e.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active' AND query ILIKE '%app_logs%'`).Scan(&active)
		if err != nil {
			t.Fatal(err)
		}
		if active != 0 {
			t.Fatalf("%d export statements still active after the handler returned", active)
		}
	})
}

// exportWithHeapSampling downloads path while a goroutine samples HeapInuse; it
// returns the peak growth over the pre-request baseline, the lines and bytes read
// and the duration.
func exportWithHeapSampling(t *testing.T, e *testserver.Env, path string) (peak uint64, lines, n int64, took time.Duration) {
	t.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseline := ms.HeapInuse
	var maxSeen atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapInuse > maxSeen.Load() {
					maxSeen.Store(m.HeapInuse)
				}
			}
		}
	})
	start := time.Now()
	req, _ := http.NewRequest(http.MethodGet, e.Srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+e.Tokens[model.RoleRead])
	resp, err := e.Srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d", path, resp.StatusCode)
	}
	buf := make([]byte, 64<<10)
	for {
		k, err := resp.Body.Read(buf)
		n += int64(k)
		lines += int64(bytes.Count(buf[:k], []byte("\n")))
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	took = time.Since(start)
	close(stop)
	wg.Wait()
	if m := maxSeen.Load(); m > baseline {
		peak = m - baseline
	}
	return peak, lines, n, took
}

// exportRequests reads how many export requests have finished from /metrics.
func exportRequests(t *testing.T, e *testserver.Env) int {
	t.Helper()
	_, body := e.Do(http.MethodGet, "/metrics", nil)
	total := 0
	for line := range strings.SplitSeq(body, "\n") {
		if strings.HasPrefix(line, "loggraph_http_requests_total{") && strings.Contains(line, `route="GET /v1/export/{file}"`) {
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
				total += int(v)
			}
		}
	}
	return total
}

// TestStreamBatchesAndStatements drives db.LogStore.Stream directly: batches come
// newest first without repeats, each costs a fixed number of statements (the page
// plus one per entity table, never one per row), the first batch is delivered even
// when empty, and a cancelled context stops the walk.
func TestStreamBatchesAndStatements(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	base := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	var b strings.Builder
	for i := range 23 {
		client := ""
		if i%3 != 0 {
			client = fmt.Sprintf(`,"client":"client-%d"`, i%4)
		}
		fmt.Fprintf(&b, `{"id":"00000000-0000-4000-8000-%012d","received_at":%q,"code":200,"ip":"10.0.0.1","timing_ms":1,"delay_ms":0,"collection":"coll-%d","collection_type":"proxy","endpoint":"GET /"%s}`+"\n",
			i, base.Add(-time.Duration(i)*time.Minute).Format(time.RFC3339), i%5, client)
	}
	mustIngest(t, e, "api-request", b.String())
	store := db.NewLogStore(e.DB.Bun)
	ctx, counter := db.WithStatementCounter(context.Background())
	var sizes []int
	var ids []string
	err := store.Stream(ctx, e.WS, model.KindAPIRequest, &model.APIRequestLogFilter{}, 5, func(rows []db.ExportRow) error {
		sizes = append(sizes, len(rows))
		for _, r := range rows {
			l := r.Log.(*model.APIRequestLog)
			ids = append(ids, l.ID.String())
			n, _ := strconv.Atoi(l.ID.String()[24:]) // the fixture's index
			if r.Collection == nil || r.Collection.Name != fmt.Sprintf("coll-%d", n%5) {
				t.Errorf("row %d: collection %+v", n, r.Collection)
			}
			if (n%3 == 0) != (r.Client == nil) || (r.Client != nil && r.Client.Name != fmt.Sprintf("client-%d", n%4)) {
				t.Errorf("row %d: client %+v", n, r.Client)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sizes) != "[5 5 5 5 3]" {
		t.Fatalf("batch sizes %v", sizes)
	}
	for i, id := range ids {
		if want := fmt.Sprintf("00000000-0000-4000-8000-%012d", i); id != want {
			t.Fatalf("row %d is %s, want %s", i, id, want)
		}
	}
	// Per batch: the page, the collections, the clients.
	if got := counter.Count(); got != 5*3 {
		t.Errorf("%d statements for 5 batches, want 15", got)
	}

	ctx, counter = db.WithStatementCounter(context.Background())
	calls := 0
	err = store.Stream(ctx, e.WS, model.KindAPIRequest, &model.APIRequestLogFilter{Codes: []int{599}}, 5, func(rows []db.ExportRow) error {
		calls++
		if len(rows) != 0 {
			t.Errorf("%d rows", len(rows))
		}
		return nil
	})
	if err != nil || calls != 1 || counter.Count() != 1 {
		t.Fatalf("empty stream: err %v, %d calls, %d statements", err, calls, counter.Count())
	}

	ctx, cancel := context.WithCancel(context.Background())
	calls = 0
	err = store.Stream(ctx, e.WS, model.KindAPIRequest, &model.APIRequestLogFilter{}, 5, func([]db.ExportRow) error {
		calls++
		cancel() // the client went away while the first batch was being written
		return nil
	})
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("cancelled stream: err %v after %d batches", err, calls)
	}

	// A filter mistake is an InputError before fn runs.
	err = store.Stream(context.Background(), e.WS, model.KindAPIRequest, &model.APIRequestLogFilter{CodeClasses: []string{"9xx"}}, 5,
		func([]db.ExportRow) error { t.Fatal("fn called"); return nil })
	var ie *model.InputError
	if !errors.As(err, &ie) {
		t.Fatalf("bad filter: %v", err)
	}
}

// TestExportCSVFormulaGuard checks that /v1/export's CSV shares the 003 download's
// CSV injection guard (a text cell starting with = + - @ tab or CR gets a leading
// single quote) and has no byte order mark, while the NDJSON export keeps the text
// exactly as ingested.
func TestExportCSVFormulaGuard(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	mustIngest(t, e, "app", `{"timestamp":"2024-06-13T14:30:00Z","level":"ERROR","service":"@svc","message":"=HYPERLINK(\"http://evil.example\")"}`+"\n")
	const path = "/v1/export/app.%s?time.from=2024-01-01T00:00:00Z&time.to=2025-01-01T00:00:00Z"
	body := exportBody(t, e, e.Tokens[model.RoleRead], fmt.Sprintf(path, "csv"))
	recs, err := csvReader(body)
	if err != nil || len(recs) != 2 || !strings.HasPrefix(body, "id,") {
		t.Fatalf("%v: %q", err, body)
	}
	cells := map[string]string{}
	for i, name := range recs[0] {
		cells[name] = recs[1][i]
	}
	if cells["service"] != "'@svc" || cells["message"] != `'=HYPERLINK("http://evil.example")` || cells["level"] != "ERROR" {
		t.Errorf("CSV cells: service %q, message %q, level %q", cells["service"], cells["message"], cells["level"])
	}
	var rec struct{ Service, Message string }
	if err := json.Unmarshal([]byte(exportBody(t, e, e.Tokens[model.RoleRead], fmt.Sprintf(path, "ndjson"))), &rec); err != nil ||
		rec.Service != "@svc" || rec.Message != `=HYPERLINK("http://evil.example")` {
		t.Errorf("NDJSON: %+v (%v)", rec, err)
	}
}
