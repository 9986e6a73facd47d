package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

// hfRec is one ingested log and what the analytics must see of it: its kind, time,
// common severity and the value of every facet field it has (absent: no value).
type hfRec struct {
	route string // ingest route segment
	kind  string // GraphQL LogKind
	at    time.Time
	sev   string
	facet map[string]string
	line  string
}

var hfSeverities = []string{"DEBUG", "INFO", "WARN", "ERROR", "FATAL"}

// The builders write one NDJSON line and record, from the same inputs, the severity
// mapping and facet values documented for the kind (not derived from any code
// under test).
func hfApp(at time.Time, level, service string) hfRec {
	return hfRec{route: "app", kind: "APP", at: at, sev: level,
		facet: map[string]string{"SOURCE": service, "SERVICE": service},
		line:  fmt.Sprintf(`{"timestamp":%q,"level":%q,"service":%q,"message":"m"}`, at.Format(time.RFC3339Nano), level, service)}
}

func hfRequest(at time.Time, code int, collection, client, endpoint string) hfRec {
	sev := "INFO"
	switch {
	case code >= 500:
		sev = "ERROR"
	case code >= 400:
		sev = "WARN"
	}
	f := map[string]string{"SOURCE": collection, "COLLECTION": collection, "CODE": fmt.Sprint(code), "ENDPOINT": endpoint}
	cl := ""
	if client != "" {
		f["CLIENT"] = client
		cl = fmt.Sprintf(`,"client":%q`, client)
	}
	return hfRec{route: "api-request", kind: "API_REQUEST", at: at, sev: sev, facet: f,
		line: fmt.Sprintf(`{"received_at":%q,"code":%d,"ip":"10.0.0.1","timing_ms":5,"delay_ms":0,"collection":%q,"collection_type":"proxy","endpoint":%q%s}`,
			at.Format(time.RFC3339Nano), code, collection, endpoint, cl)}
}

func hfIntegration(at time.Time, ok bool, integration int, name string) hfRec {
	sev := map[bool]string{true: "INFO", false: "ERROR"}[ok]
	f := map[string]string{}
	nm := ""
	if name != "" {
		f["SOURCE"], f["INTEGRATION"] = name, name
		nm = fmt.Sprintf(`,"integration_name":%q`, name)
	}
	return hfRec{route: "integration", kind: "INTEGRATION", at: at, sev: sev, facet: f,
		line: fmt.Sprintf(`{"integration_id":"aaaaaaaa-0000-4000-8000-%012d"%s,"succeeded":%v,"attempt":1,"status_code":200,"created_at":%q}`,
			integration, nm, ok, at.Format(time.RFC3339Nano))}
}

func hfAction(at time.Time, level int, logger, app string) hfRec {
	// Python logging levels: below 20 DEBUG, then INFO, WARN, ERROR, and 50+ FATAL.
	sev := hfSeverities[min(max(level/10, 1), 5)-1]
	return hfRec{route: "action", kind: "ACTION", at: at, sev: sev,
		facet: map[string]string{"SOURCE": logger, "LOGGER_NAME": logger, "APP_NAME": app},
		line:  fmt.Sprintf(`{"level":%d,"logger_name":%q,"message":"m","app_name":%q,"created_at":%q}`, level, logger, app, at.Format(time.RFC3339Nano))}
}

var hfRefSeq int

func hfReference(at time.Time, errs, alerts int, refID, refName, userID, userName string) hfRec {
	sev := "INFO"
	switch {
	case errs > 0:
		sev = "ERROR"
	case alerts > 0:
		sev = "WARN"
	}
	hfRefSeq++
	return hfRec{route: "api-reference", kind: "API_REFERENCE", at: at, sev: sev,
		facet: map[string]string{"SOURCE": refName, "USER": userName},
		line: fmt.Sprintf(`{"logs_id":"an-%d","api_reference_id":%q,"api_reference_name":%q,"user_id":%q,"user_name":%q,"title":"t","modified_at":%q,"error_count":%d,"alerts_count":%d}`,
			hfRefSeq, refID, refName, userID, userName, at.Format(time.RFC3339Nano), errs, alerts)}
}

// hfIngest posts the records through the ingest route, one batch per kind.
func hfIngest(t *testing.T, e *testserver.Env, token string, recs []hfRec) {
	t.Helper()
	bodies := map[string]*strings.Builder{}
	for _, r := range recs {
		if bodies[r.route] == nil {
			bodies[r.route] = &strings.Builder{}
		}
		bodies[r.route].WriteString(r.line + "\n")
	}
	for route, b := range bodies {
		if resp, reply := e.Ingest(route, token, b.String()); resp.StatusCode != 200 {
			t.Fatalf("ingest %s: %d %s", route, resp.StatusCode, reply)
		}
	}
}

func hfTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// hfData is the data set of the histogram and facet tests: every kind, every
// severity, between 12:00 and 13:00 on 2024-06-13 with nothing from 12:30 to 12:40
// (a gap), plus rows just outside the window (11:59:59.999 and 13:00:00 exactly).
func hfData() []hfRec {
	at := func(hm string) time.Time { return hfTime("2024-06-13T" + hm + "Z") }
	return []hfRec{
		hfApp(at("11:59:59.999"), "ERROR", "auth"),
		hfApp(at("12:00:00"), "DEBUG", "auth"),
		hfApp(at("12:01:00"), "INFO", "auth"),
		hfApp(at("12:05:00"), "INFO", "billing"),
		hfApp(at("12:09:59.999"), "FATAL", "auth"),
		hfApp(at("12:10:00"), "WARN", "billing"),
		hfApp(at("12:44:00"), "ERROR", "search"),
		hfApp(at("12:59:00"), "INFO", "auth"),
		hfApp(at("13:00:00"), "FATAL", "auth"),
		hfRequest(at("12:02:00"), 200, "orders", "Team A", "GET /orders"),
		hfRequest(at("12:03:00"), 404, "orders", "Team B", "GET /orders/1"),
		hfRequest(at("12:12:00"), 500, "users", "Team A", "GET /users"),
		hfRequest(at("12:15:00"), 200, "orders", "", "GET /orders"),
		hfRequest(at("12:29:59"), 201, "users", "Team A", "POST /users"),
		hfRequest(at("12:50:00"), 503, "orders", "Team B", "GET /orders"),
		hfIntegration(at("12:04:00"), true, 1, "hook"),
		hfIntegration(at("12:20:00"), false, 1, "hook"),
		hfIntegration(at("12:21:00"), false, 2, ""),
		hfIntegration(at("12:55:00"), true, 3, "mailer"),
		hfAction(at("12:06:00"), 5, "orders.sync", "oms"),
		hfAction(at("12:16:00"), 30, "orders.sync", "oms"),
		hfAction(at("12:26:00"), 50, "stock", "oms"),
		hfAction(at("12:46:00"), 40, "stock", "oms"),
		hfReference(at("12:07:00"), 1, 0, "petstore", "Pet Store", "u1", "Peter"),
		hfReference(at("12:18:00"), 0, 2, "petstore", "Pet Store", "u2", "Paula"),
		hfReference(at("12:58:00"), 0, 0, "billing-api", "Billing API", "u1", "Peter"),
	}
}

// hfOtherData is what a second workspace ingests at the same times: if any of
// it were counted, every expectation below would be off.
func hfOtherData() []hfRec {
	at := func(hm string) time.Time { return hfTime("2024-06-13T" + hm + "Z") }
	return []hfRec{
		hfApp(at("12:00:30"), "ERROR", "auth"),
		hfApp(at("12:35:00"), "ERROR", "intruder"),
		hfRequest(at("12:02:00"), 500, "orders", "Team A", "GET /orders"),
		hfIntegration(at("12:04:00"), false, 1, "hook"),
		hfAction(at("12:06:00"), 50, "stock", "oms"),
		hfReference(at("12:07:00"), 1, 0, "petstore", "Pet Store", "u1", "Peter"),
	}
}

type hfBucket struct {
	Start      time.Time `json:"start"`
	Count      int       `json:"count"`
	BySeverity []struct {
		Severity string `json:"severity"`
		Count    int    `json:"count"`
	} `json:"bySeverity"`
}

type hfHistogram struct {
	Interval string     `json:"interval"`
	Buckets  []hfBucket `json:"buckets"`
}

const hfHistogramQuery = `query($filter: LogFilter, $interval: Duration, $tz: String) {
	h: logHistogram(filter: $filter, interval: $interval, timeZone: $tz) {
		interval buckets { start count bySeverity { severity count } } } }`

func hfHistogramOf(t *testing.T, e *testserver.Env, vars map[string]any) hfHistogram {
	t.Helper()
	var h hfHistogram
	if err := json.Unmarshal(query(t, e, hfHistogramQuery, vars)["h"], &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// hfWantBuckets counts recs per bucket and severity: bucket i is [starts[i],
// ends[i]) clipped to [from, to); kinds (if any) restrict the records.
func hfWantBuckets(recs []hfRec, starts, ends []time.Time, from, to time.Time, kinds ...string) []hfBucket {
	out := make([]hfBucket, len(starts))
	for i := range starts {
		out[i].Start = starts[i]
		per := map[string]int{}
		for _, r := range recs {
			if len(kinds) > 0 && !slices.Contains(kinds, r.kind) {
				continue
			}
			if r.at.Before(from) || !r.at.Before(to) || r.at.Before(starts[i]) || !r.at.Before(ends[i]) {
				continue
			}
			per[r.sev]++
			out[i].Count++
		}
		for _, s := range hfSeverities {
			out[i].BySeverity = append(out[i].BySeverity, struct {
				Severity string `json:"severity"`
				Count    int    `json:"count"`
			}{s, per[s]})
		}
	}
	return out
}

// hfEvenly lists n bucket starts and ends of width iv from start.
func hfEvenly(start time.Time, iv time.Duration, n int) (starts, ends []time.Time) {
	for i := 0; i < n; i++ {
		starts = append(starts, start.Add(time.Duration(i)*iv))
		ends = append(ends, start.Add(time.Duration(i+1)*iv))
	}
	return starts, ends
}

func hfSameBuckets(t *testing.T, name string, got, want []hfBucket) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("%s\n got %s\nwant %s", name, g, w)
	}
}

func hfTwoWorkspaces(t *testing.T) (*testserver.Env, []hfRec) {
	t.Helper()
	e := testserver.New(t, rest.Limits{})
	recs := hfData()
	hfIngest(t, e, e.Tokens[model.RoleIngest], recs)
	ctx := context.Background()
	wsB, err := db.NewWorkspaceStore(e.DB.Bun).Create(ctx, "other", "")
	if err != nil {
		t.Fatal(err)
	}
	_, tokB, err := db.NewTokenStore(e.DB.Bun).Create(ctx, wsB.ID, "b", model.RoleIngest)
	if err != nil {
		t.Fatal(err)
	}
	hfIngest(t, e, tokB, hfOtherData())
	return e, recs
}

// TestHistogram checks bucket counts, per severity, against counts made here from
// the ingested rows, with a second workspace's rows at the same times never counted.
func TestHistogram(t *testing.T) {
	t.Parallel()
	e, recs := hfTwoWorkspaces(t)
	from, to := hfTime("2024-06-13T12:00:00Z"), hfTime("2024-06-13T13:00:00Z")
	window := map[string]any{"from": from, "to": to}

	t.Run("across kinds, gap filled", func(t *testing.T) {
		h := hfHistogramOf(t, e, map[string]any{"filter": map[string]any{"time": window}, "interval": "10m"})
		if d, err := model.ParseDuration(h.Interval); err != nil || time.Duration(d) != 10*time.Minute {
			t.Fatalf("interval %q", h.Interval)
		}
		starts, ends := hfEvenly(from, 10*time.Minute, 6)
		want := hfWantBuckets(recs, starts, ends, from, to)
		hfSameBuckets(t, "buckets", h.Buckets, want)
		// The data leaves 12:30-12:40 empty: the bucket is there, with zeros.
		if h.Buckets[3].Count != 0 || !h.Buckets[3].Start.Equal(hfTime("2024-06-13T12:30:00Z")) {
			t.Fatalf("gap bucket %+v", h.Buckets[3])
		}
		total := 0
		for _, b := range h.Buckets {
			total += b.Count
		}
		if total != 24 { // by hand: 7 app, 6 requests, 4 integration, 4 action, 3 API reference
			t.Fatalf("total %d, want 24", total)
		}
	})

	t.Run("one kind", func(t *testing.T) {
		h := hfHistogramOf(t, e, map[string]any{"filter": map[string]any{"time": window, "kinds": []string{"API_REQUEST"}}, "interval": "15m"})
		starts, ends := hfEvenly(from, 15*time.Minute, 4)
		hfSameBuckets(t, "requests", h.Buckets, hfWantBuckets(recs, starts, ends, from, to, "API_REQUEST"))
		if h.Buckets[0].Count != 3 || h.Buckets[3].Count != 1 { // 12:02, 12:03, 12:12 | 12:50
			t.Fatalf("hand count: %+v", h.Buckets)
		}
	})

	t.Run("severity filter keeps every severity listed", func(t *testing.T) {
		h := hfHistogramOf(t, e, map[string]any{"filter": map[string]any{"time": window, "minSeverity": "ERROR"}, "interval": "1h"})
		var errorsOnly []hfRec
		for _, r := range recs {
			if r.sev == "ERROR" || r.sev == "FATAL" {
				errorsOnly = append(errorsOnly, r)
			}
		}
		starts, ends := hfEvenly(from, time.Hour, 1)
		hfSameBuckets(t, "minSeverity", h.Buckets, hfWantBuckets(errorsOnly, starts, ends, from, to))
	})

	t.Run("aligned to the interval, first bucket clipped to the window", func(t *testing.T) {
		f, tt := hfTime("2024-06-13T12:07:00Z"), hfTime("2024-06-13T12:53:00Z")
		h := hfHistogramOf(t, e, map[string]any{"filter": map[string]any{"time": map[string]any{"from": f, "to": tt}}, "interval": "15m"})
		starts, ends := hfEvenly(hfTime("2024-06-13T12:00:00Z"), 15*time.Minute, 4)
		hfSameBuckets(t, "aligned", h.Buckets, hfWantBuckets(recs, starts, ends, f, tt))
		for _, b := range h.Buckets {
			if b.Start.Unix()%(15*60) != 0 {
				t.Fatalf("bucket %s is not a multiple of 15m", b.Start)
			}
		}
		// 12:00-12:15 holds 11 rows, 4 of them from 12:07 on (12:07, 12:09:59.999, 12:10, 12:12).
		if h.Buckets[0].Count != 4 {
			t.Fatalf("clipped first bucket: %+v", h.Buckets[0])
		}
	})

	t.Run("empty range", func(t *testing.T) {
		f := hfTime("2024-01-01T00:00:00Z")
		h := hfHistogramOf(t, e, map[string]any{"filter": map[string]any{"time": map[string]any{"from": f, "to": f.Add(6 * time.Hour)}}, "interval": "1h"})
		starts, ends := hfEvenly(f, time.Hour, 6)
		hfSameBuckets(t, "empty", h.Buckets, hfWantBuckets(nil, starts, ends, f, f.Add(6*time.Hour)))
	})

	t.Run("single bucket", func(t *testing.T) {
		h := hfHistogramOf(t, e, map[string]any{"filter": map[string]any{"time": window}, "interval": "2h"})
		starts, ends := hfEvenly(hfTime("2024-06-13T12:00:00Z"), 2*time.Hour, 1)
		hfSameBuckets(t, "single", h.Buckets, hfWantBuckets(recs, starts, ends, from, to))
		if h.Buckets[0].Count != 24 {
			t.Fatalf("single bucket count %d", h.Buckets[0].Count)
		}
	})

	t.Run("a start in the future is an empty window", func(t *testing.T) {
		future := time.Now().Add(time.Hour).UTC()
		h := hfHistogramOf(t, e, map[string]any{"filter": map[string]any{"time": map[string]any{"from": future}}})
		if len(h.Buckets) != 0 {
			t.Fatalf("%d buckets", len(h.Buckets))
		}
		f := hfFacetsOf(t, e, map[string]any{"filter": map[string]any{"time": map[string]any{"from": future}}, "fields": []string{"KIND"}})
		if len(f) != 1 || len(f[0].Values) != 0 || f[0].OtherCount != 0 {
			t.Fatalf("%+v", f)
		}
	})

	t.Run("workspace B sees only its rows", func(t *testing.T) {
		ctx := context.Background()
		var wsB model.Workspace
		if err := e.DB.Bun.NewSelect().Model(&wsB).Where("slug = 'other'").Scan(ctx); err != nil {
			t.Fatal(err)
		}
		_, tokB, err := db.NewTokenStore(e.DB.Bun).Create(ctx, wsB.ID, "b-read", model.RoleRead)
		if err != nil {
			t.Fatal(err)
		}
		var r reply[map[string]hfHistogram]
		e.GraphQL(tokB, hfHistogramQuery, map[string]any{"filter": map[string]any{"time": window}, "interval": "1h"}, &r)
		if len(r.Errors) > 0 {
			t.Fatal(r.Errors)
		}
		starts, ends := hfEvenly(from, time.Hour, 1)
		hfSameBuckets(t, "workspace B", r.Data["h"].Buckets, hfWantBuckets(hfOtherData(), starts, ends, from, to))
	})
}

// TestHistogramDefaults: with no time and no interval the window is the last 24
// hours and the interval 30m (24h / 60 = 24m, rounded up to a nice width).
func TestHistogramDefaults(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	now := time.Now().UTC()
	recs := []hfRec{
		hfApp(now.Add(-time.Hour), "INFO", "a"),
		hfApp(now.Add(-2*time.Hour), "WARN", "a"),
		hfAction(now.Add(-23*time.Hour), 40, "l", "x"),
		hfApp(now.Add(-25*time.Hour), "ERROR", "a"), // outside the default window
	}
	hfIngest(t, e, e.Tokens[model.RoleIngest], recs)
	h := hfHistogramOf(t, e, map[string]any{})
	if d, err := model.ParseDuration(h.Interval); err != nil || time.Duration(d) != 30*time.Minute {
		t.Fatalf("interval %q", h.Interval)
	}
	// 24 hours from an unaligned now touch 49 half hours (48 when now is aligned).
	if n := len(h.Buckets); n != 49 && n != 48 {
		t.Fatalf("%d buckets", n)
	}
	total, sev := 0, map[string]int{}
	for i, b := range h.Buckets {
		total += b.Count
		for _, s := range b.BySeverity {
			sev[s.Severity] += s.Count
		}
		if b.Start.Unix()%1800 != 0 || (i > 0 && b.Start.Sub(h.Buckets[i-1].Start) != 30*time.Minute) {
			t.Fatalf("bucket %d starts %s", i, b.Start)
		}
	}
	if total != 3 || sev["INFO"] != 1 || sev["WARN"] != 1 || sev["ERROR"] != 1 {
		t.Fatalf("total %d by severity %v", total, sev)
	}
	// A week gets 3h buckets (7d / 60 = 2.8h).
	w := hfHistogramOf(t, e, map[string]any{"filter": map[string]any{"time": map[string]any{"last": "7d"}}})
	if d, _ := model.ParseDuration(w.Interval); time.Duration(d) != 3*time.Hour {
		t.Fatalf("7d interval %q", w.Interval)
	}
}

// TestHistogramTimeZoneDST: Europe/Berlin leaves summer time on 2024-10-27 (03:00
// CEST becomes 02:00 CET): day buckets start at local midnight, the 27th is 25 hours
// long, and rows either side of local midnight land in different days.
func TestHistogramTimeZoneDST(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	recs := []hfRec{
		hfApp(hfTime("2024-10-26T21:30:00Z"), "INFO", "a"),  // 23:30 CEST on the 26th
		hfApp(hfTime("2024-10-26T22:30:00Z"), "WARN", "a"),  // 00:30 CEST on the 27th
		hfApp(hfTime("2024-10-27T22:30:00Z"), "ERROR", "a"), // 23:30 CET on the 27th (its 25th hour)
		hfApp(hfTime("2024-10-27T23:30:00Z"), "INFO", "a"),  // 00:30 CET on the 28th
	}
	hfIngest(t, e, e.Tokens[model.RoleIngest], recs)
	from, to := hfTime("2024-10-25T22:00:00Z"), hfTime("2024-10-28T23:00:00Z")
	window := map[string]any{"time": map[string]any{"from": from, "to": to}}

	h := hfHistogramOf(t, e, map[string]any{"filter": window, "interval": "1d", "tz": "Europe/Berlin"})
	starts := []time.Time{hfTime("2024-10-25T22:00:00Z"), hfTime("2024-10-26T22:00:00Z"), hfTime("2024-10-27T23:00:00Z")}
	ends := []time.Time{starts[1], starts[2], hfTime("2024-10-28T23:00:00Z")}
	hfSameBuckets(t, "Berlin days", h.Buckets, hfWantBuckets(recs, starts, ends, from, to))
	if h.Buckets[0].Count != 1 || h.Buckets[1].Count != 2 || h.Buckets[2].Count != 1 {
		t.Fatalf("hand count: %+v", h.Buckets)
	}

	// The same rows in UTC days: midnight UTC, and a different split.
	u := hfHistogramOf(t, e, map[string]any{"filter": window, "interval": "1d"})
	starts, ends = hfEvenly(hfTime("2024-10-25T00:00:00Z"), 24*time.Hour, 4)
	hfSameBuckets(t, "UTC days", u.Buckets, hfWantBuckets(recs, starts, ends, from, to))
	if u.Buckets[1].Count != 2 || u.Buckets[2].Count != 2 {
		t.Fatalf("hand count: %+v", u.Buckets)
	}

	// Sub-day buckets ignore the zone's midnight: they stay on the UTC epoch grid, so
	// the night of the change has 25 hourly buckets between local midnights.
	hr := hfHistogramOf(t, e, map[string]any{"filter": map[string]any{"time": map[string]any{"from": "2024-10-26T22:00:00Z", "to": "2024-10-27T23:00:00Z"}},
		"interval": "1h", "tz": "Europe/Berlin"})
	if len(hr.Buckets) != 25 || !hr.Buckets[0].Start.Equal(hfTime("2024-10-26T22:00:00Z")) {
		t.Fatalf("hourly: %d buckets from %v", len(hr.Buckets), hr.Buckets[0].Start)
	}
}

// hfCenturyDays is the number of days from 1800-01-01 to 2024-01-01: 224 years, 54 of
// them leap years (1800 and 1900 are not; 2000 is).
const hfCenturyDays = 224*365 + 54

// TestHistogramGuardrails: each refusal is BAD_USER_INPUT with a message saying
// what to change, and a token that may not read is refused.
func TestHistogramGuardrails(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	month := map[string]any{"time": map[string]any{"from": "2024-05-01T00:00:00Z", "to": "2024-05-31T00:00:00Z"}}
	cases := []struct {
		name string
		vars map[string]any
		msg  string
	}{
		{"too many buckets", map[string]any{"filter": month, "interval": "1m"},
			"interval 1m over 30d gives 43200 buckets; the limit is 10000: use an interval of at least 5m or a shorter time range"},
		{"too many buckets, unaligned", map[string]any{"filter": map[string]any{"time": map[string]any{"from": "2024-05-01T00:00:30Z", "to": "2024-05-08T00:00:30Z"}}, "interval": "1m"},
			"interval 1m over 7d gives 10081 buckets; the limit is 10000: use an interval of at least 5m or a shorter time range"},
		{"no nice interval fits", map[string]any{"filter": map[string]any{"time": map[string]any{"from": "1800-01-01T00:00:00Z", "to": "2024-01-01T00:00:00Z"}}, "interval": "1d"},
			fmt.Sprintf("interval 1d over %[1]dd gives %[1]d buckets; the limit is 10000: use a shorter time range", hfCenturyDays)},
		{"zero interval", map[string]any{"interval": "0s"}, "interval: must be a positive duration"},
		{"sub-millisecond interval", map[string]any{"interval": "10us"}, "interval: 10µs is below the smallest bucket of 1ms"},
		{"unknown time zone", map[string]any{"tz": "Mars/Olympus_Mons"},
			`timeZone: "Mars/Olympus_Mons" is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)`},
		{"server's local zone", map[string]any{"tz": "Local"},
			`timeZone: "Local" is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)`},
		{"reversed window", map[string]any{"filter": map[string]any{"time": map[string]any{"from": "2024-05-02T00:00:00Z", "to": "2024-05-01T00:00:00Z"}}},
			"time: from (2024-05-02T00:00:00Z) must be before to (2024-05-01T00:00:00Z)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r reply[json.RawMessage]
			e.GraphQL(e.Tokens[model.RoleRead], hfHistogramQuery, c.vars, &r)
			onlyError(t, r.Errors, "BAD_USER_INPUT", c.msg)
		})
	}
	// Exactly at the limit is allowed: 10,000 one-minute buckets.
	h := hfHistogramOf(t, e, map[string]any{"filter": map[string]any{"time": map[string]any{"from": "2024-05-01T00:00:00Z",
		"to": hfTime("2024-05-01T00:00:00Z").Add(10000 * time.Minute)}}, "interval": "1m"})
	if len(h.Buckets) != 10000 {
		t.Fatalf("%d buckets", len(h.Buckets))
	}
	var forbidden reply[json.RawMessage]
	e.GraphQL(e.Tokens[model.RoleIngest], hfHistogramQuery, nil, &forbidden)
	onlyError(t, forbidden.Errors, "FORBIDDEN", "this token's role (ingest) may not read logs")
}

const hfFacetsQuery = `query($filter: LogFilter, $fields: [LogFacetField!]!, $first: Int) {
	f: logFacets(filter: $filter, fields: $fields, first: $first) { field otherCount values { value count } } }`

type hfFacet struct {
	Field  string `json:"field"`
	Values []struct {
		Value string `json:"value"`
		Count int    `json:"count"`
	} `json:"values"`
	OtherCount int `json:"otherCount"`
}

func hfFacetsOf(t *testing.T, e *testserver.Env, vars map[string]any) []hfFacet {
	t.Helper()
	var out []hfFacet
	if err := json.Unmarshal(query(t, e, hfFacetsQuery, vars)["f"], &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// hfWantFacet counts field values among the records in [from, to) (of kinds, if
// given), orders them by count descending then value, keeps first and sums the
// rest. A record without the field counts nowhere.
func hfWantFacet(recs []hfRec, field string, first int, from, to time.Time, kinds ...string) hfFacet {
	counts := map[string]int{}
	for _, r := range recs {
		if r.at.Before(from) || !r.at.Before(to) || (len(kinds) > 0 && !slices.Contains(kinds, r.kind)) {
			continue
		}
		var v string
		switch field {
		case "KIND":
			v = r.kind
		case "SEVERITY":
			v = r.sev
		default:
			var ok bool
			if v, ok = r.facet[field]; !ok {
				continue
			}
		}
		counts[v]++
	}
	type vc struct {
		v string
		n int
	}
	var all []vc
	for v, n := range counts {
		all = append(all, vc{v, n})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].n != all[j].n {
			return all[i].n > all[j].n
		}
		return all[i].v < all[j].v
	})
	f := hfFacet{Field: field, Values: []struct {
		Value string `json:"value"`
		Count int    `json:"count"`
	}{}}
	for i, x := range all {
		if i < first {
			f.Values = append(f.Values, struct {
				Value string `json:"value"`
				Count int    `json:"count"`
			}{x.v, x.n})
		} else {
			f.OtherCount += x.n
		}
	}
	return f
}

func hfSameFacets(t *testing.T, name string, got, want []hfFacet) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("%s\n got %s\nwant %s", name, g, w)
	}
}

var hfAllFields = []string{"KIND", "SEVERITY", "SOURCE", "SERVICE", "CODE", "CLIENT", "COLLECTION", "ENDPOINT",
	"INTEGRATION", "APP_NAME", "LOGGER_NAME", "USER"}

// TestFacets checks every field's top values, order, otherCount and first, a kind
// filter, and that a second workspace's rows at the same times are never counted.
func TestFacets(t *testing.T) {
	t.Parallel()
	e, recs := hfTwoWorkspaces(t)
	from, to := hfTime("2024-06-13T12:00:00Z"), hfTime("2024-06-13T13:00:00Z")
	window := map[string]any{"from": from, "to": to}

	for _, first := range []int{10, 2, 1} {
		t.Run(fmt.Sprintf("every field, first %d", first), func(t *testing.T) {
			got := hfFacetsOf(t, e, map[string]any{"filter": map[string]any{"time": window}, "fields": hfAllFields, "first": first})
			var want []hfFacet
			for _, f := range hfAllFields {
				want = append(want, hfWantFacet(recs, f, first, from, to))
			}
			hfSameFacets(t, "facets", got, want)
		})
	}

	t.Run("hand-checked values", func(t *testing.T) {
		got := hfFacetsOf(t, e, map[string]any{"filter": map[string]any{"time": window},
			"fields": []string{"SERVICE", "CLIENT", "APP_NAME", "SEVERITY"}, "first": 2})
		// SERVICE: auth 4 (12:00, 12:01, 12:09:59.999, 12:59), billing 2, search 1 (other).
		// CLIENT: Team A 3, Team B 2; the request without a client counts nowhere.
		// APP_NAME: one value, on every action log.
		// SEVERITY: INFO 9, ERROR 7; DEBUG 2, WARN 4, FATAL 2 are the other 8.
		want := `[{"field":"SERVICE","values":[{"value":"auth","count":4},{"value":"billing","count":2}],"otherCount":1},` +
			`{"field":"CLIENT","values":[{"value":"Team A","count":3},{"value":"Team B","count":2}],"otherCount":0},` +
			`{"field":"APP_NAME","values":[{"value":"oms","count":4}],"otherCount":0},` +
			`{"field":"SEVERITY","values":[{"value":"INFO","count":9},{"value":"ERROR","count":7}],"otherCount":8}]`
		if g, _ := json.Marshal(got); string(g) != want {
			t.Fatalf("\n got %s\nwant %s", g, want)
		}
	})

	t.Run("kind filter", func(t *testing.T) {
		fields := []string{"KIND", "SOURCE", "CODE", "SEVERITY"}
		got := hfFacetsOf(t, e, map[string]any{"filter": map[string]any{"time": window, "kinds": []string{"APP", "ACTION"}}, "fields": fields})
		var want []hfFacet
		for _, f := range fields {
			want = append(want, hfWantFacet(recs, f, 10, from, to, "APP", "ACTION"))
		}
		hfSameFacets(t, "kinds", got, want)
		if len(got[2].Values) != 0 || got[2].OtherCount != 0 || len(got[0].Values) != 2 {
			t.Fatalf("CODE must be empty, KIND two values: %+v", got)
		}
	})

	t.Run("source filter and a field asked twice", func(t *testing.T) {
		got := hfFacetsOf(t, e, map[string]any{"filter": map[string]any{"time": window, "sources": []string{"orders"}}, "fields": []string{"ENDPOINT", "KIND", "ENDPOINT"}})
		if len(got) != 2 || got[0].Field != "ENDPOINT" || got[1].Field != "KIND" {
			t.Fatalf("%+v", got)
		}
		var orders []hfRec
		for _, r := range recs {
			if r.facet["SOURCE"] == "orders" {
				orders = append(orders, r)
			}
		}
		hfSameFacets(t, "orders", got, []hfFacet{hfWantFacet(orders, "ENDPOINT", 10, from, to), hfWantFacet(orders, "KIND", 10, from, to)})
	})

	t.Run("default window excludes old rows", func(t *testing.T) {
		got := hfFacetsOf(t, e, map[string]any{"fields": []string{"KIND"}})
		if len(got) != 1 || len(got[0].Values) != 0 || got[0].OtherCount != 0 {
			t.Fatalf("%+v", got)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for first, msg := range map[int]string{0: "first: 0 is below 1", 1001: "first: 1001 is above the maximum 1000"} {
			var r reply[json.RawMessage]
			e.GraphQL(e.Tokens[model.RoleRead], hfFacetsQuery, map[string]any{"fields": []string{"KIND"}, "first": first}, &r)
			onlyError(t, r.Errors, "BAD_USER_INPUT", msg)
		}
		var forbidden reply[json.RawMessage]
		e.GraphQL(e.Tokens[model.RoleIngest], hfFacetsQuery, map[string]any{"fields": []string{"KIND"}}, &forbidden)
		onlyError(t, forbidden.Errors, "FORBIDDEN", "this token's role (ingest) may not read logs")
	})
}

// TestHistogramAndFacetsAreOneStatement: a histogram across every kind, and facets of
// every field, each take one SQL statement whatever the number of kinds and fields.
func TestHistogramAndFacetsAreOneStatement(t *testing.T) {
	t.Parallel()
	e, _ := hfTwoWorkspaces(t)
	window := `time: {from: "2024-06-13T12:00:00Z", to: "2024-06-13T13:00:00Z"}`
	for name, q := range map[string]string{
		"histogram": `{ logHistogram(filter: {` + window + `}, interval: "1m") { buckets { count } } }`,
		"facets":    `{ logFacets(filter: {` + window + `}, fields: [` + strings.Join(hfAllFields, ", ") + `]) { field } }`,
	} {
		if n, _ := statements(t, e, q); n != 1 {
			t.Fatalf("%s: %d statements, want 1", name, n)
		}
	}
}

// TestHistogramSaysWhetherRollupsAnswered: extensions.stats.analytics says the
// histogram came from log_rollups, or why it read the rows.
func TestHistogramSaysWhetherRollupsAnswered(t *testing.T) {
	t.Parallel()
	e, _ := hfTwoWorkspaces(t)
	window := `time: {from: "2024-06-13T12:00:00Z", to: "2024-06-13T13:00:00Z"}`
	for _, c := range []struct {
		name, args, want string
	}{
		{"rollup", `filter: {` + window + `}, interval: "15m"`, `[{"query":"histogram","rollup":true}]`},
		{"search", `filter: {` + window + `, search: "m"}, interval: "15m"`,
			`[{"query":"histogram","rollup":false,"reason":"the filter sets search, which only the rows can answer"}]`},
		{"unaligned buckets", `filter: {` + window + `}, interval: "1m"`,
			`[{"query":"histogram","rollup":false,"reason":"the window holds no whole 15-minute slot, or its buckets do not align with them"}]`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var r struct {
				Errors     []any `json:"errors"`
				Extensions struct {
					Stats struct {
						Analytics json.RawMessage `json:"analytics"`
					} `json:"stats"`
				} `json:"extensions"`
			}
			e.GraphQL(e.Tokens[model.RoleRead], `{ logHistogram(`+c.args+`) { buckets { count } } }`, nil, &r)
			if len(r.Errors) > 0 {
				t.Fatal(r.Errors)
			}
			if string(r.Extensions.Stats.Analytics) != c.want {
				t.Fatalf("analytics %s, want %s", r.Extensions.Stats.Analytics, c.want)
			}
		})
	}
}
