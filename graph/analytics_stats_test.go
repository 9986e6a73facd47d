package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

// stBase is the start of the hour every stats fixture lives in.
var stBase = time.Date(2024, 6, 13, 12, 0, 0, 0, time.UTC)

// stPcont is PostgreSQL's percentile_cont, computed independently: for the sorted
// values v[0..n-1], the value at position p*(n-1), interpolated linearly between
// the values at its floor and its ceiling.
func stPcont(vals []float64, p float64) float64 {
	v := append([]float64(nil), vals...)
	sort.Float64s(v)
	pos := p * float64(len(v)-1)
	lo, hi := math.Floor(pos), math.Ceil(pos)
	return v[int(lo)] + (v[int(hi)]-v[int(lo)])*(pos-lo)
}

func stMean(vals []float64) float64 {
	s := 0.0
	for _, v := range vals {
		s += v
	}
	return s / float64(len(vals))
}

func stMax(vals []float64) float64 {
	m := vals[0]
	for _, v := range vals {
		m = math.Max(m, v)
	}
	return m
}

// stReq is one ingested API request.
type stReq struct {
	at                         time.Time
	code                       int
	gateway                    *int
	timing, delay              int
	coll, collType, client, ep string
}

func (r stReq) ndjson(id string) string {
	gw, client := "", ""
	if r.gateway != nil {
		gw = fmt.Sprintf(`,"gateway_code":%d`, *r.gateway)
	}
	if r.client != "" {
		client = fmt.Sprintf(`,"client":%q`, r.client)
	}
	return fmt.Sprintf(`{"id":%q,"received_at":%q,"code":%d,"ip":"10.0.0.1","timing_ms":%d,"delay_ms":%d,"collection":%q,"collection_type":%q,"endpoint":%q%s%s}`+"\n",
		id, r.at.Format(time.RFC3339Nano), r.code, r.timing, r.delay, r.coll, r.collType, r.ep, client, gw)
}

// stRequestFixture is 61 requests inside [stBase, stBase+1h): groups of
// different sizes in every dimension, and one endpoint with a single request.
func stRequestFixture() []stReq {
	var out []stReq
	eps := []string{"GET /a", "GET /a", "GET /a", "GET /a", "GET /b", "GET /b", "GET /b", "POST /c", "POST /c", "GET /d"}
	codes := []int{200, 201, 204, 404, 500, 302, 200, 503, 200, 429, 200}
	for i := 0; i < 60; i++ {
		r := stReq{at: stBase.Add(time.Duration(i*59) * time.Second), code: codes[(i*7)%11], timing: (i*37)%101 + i%3,
			delay: (i * 13) % 17, coll: fmt.Sprintf("coll-%d", i%4), collType: []string{"recipe", "proxy"}[i%4%2], ep: eps[i%10]}
		switch i % 3 {
		case 1:
			r.client = "Team A"
		case 2:
			r.client = "Team B"
		}
		switch i % 5 {
		case 0:
			r.gateway = stPtr(4041)
		case 1:
			r.gateway = stPtr(5001)
		}
		out = append(out, r)
	}
	return append(out, stReq{at: stBase.Add(30*time.Minute + 500*time.Millisecond), code: 200, timing: 42, delay: 7,
		coll: "coll-0", collType: "recipe", client: "Team A", ep: "GET /solo"})
}

func stPtr[T any](v T) *T { return &v }

// stIngestRequests stores recs with ids made of prefix, through the ingest route.
func stIngestRequests(t *testing.T, e *testserver.Env, token, prefix string, recs []stReq) {
	t.Helper()
	var b strings.Builder
	for i, r := range recs {
		b.WriteString(r.ndjson(fmt.Sprintf("%s-0000-7000-8000-%012d", prefix, i)))
	}
	if resp, reply := e.Ingest("api-request", token, b.String()); resp.StatusCode != 200 {
		t.Fatalf("ingest: %d %s", resp.StatusCode, reply)
	}
}

// stRow is an ApiRequestStatsRow as the API answers it.
type stRow struct {
	Client         *string `json:"client"`
	Collection     *string `json:"collection"`
	CollectionType *string `json:"collectionType"`
	Endpoint       *string `json:"endpoint"`
	Code           *int    `json:"code"`
	CodeClass      *string `json:"codeClass"`
	GatewayCode    *int    `json:"gatewayCode"`
	Bucket         *string `json:"bucket"`
	Other          bool    `json:"other"`
	Count          int     `json:"count"`
	ErrorCount     int     `json:"errorCount"`
	ErrorRate      float64 `json:"errorRate"`
	Timing         struct {
		P50, P90, P95, P99, Avg, Max float64
	} `json:"timing"`
	Delay struct{ Avg, P95 float64 } `json:"delay"`
}

const stRowFields = `client collection collectionType endpoint code codeClass gatewayCode bucket other count errorCount errorRate
	timing { p50 p90 p95 p99 avg max } delay { avg p95 }`

// measures computes a row's statistics from its requests.
func stMeasures(row *stRow, recs []stReq) {
	var timing, delay []float64
	for _, r := range recs {
		row.Count++
		if r.code >= 400 {
			row.ErrorCount++
		}
		timing = append(timing, float64(r.timing))
		delay = append(delay, float64(r.delay))
	}
	row.ErrorRate = float64(row.ErrorCount) / float64(row.Count)
	row.Timing.P50, row.Timing.P90, row.Timing.P95, row.Timing.P99 = stPcont(timing, .5), stPcont(timing, .9), stPcont(timing, .95), stPcont(timing, .99)
	row.Timing.Avg, row.Timing.Max = stMean(timing), stMax(timing)
	row.Delay.Avg, row.Delay.P95 = stMean(delay), stPcont(delay, .95)
}

// field reads the ordering measure of a row.
func (r stRow) field(f string) float64 {
	return map[string]float64{"COUNT": float64(r.Count), "ERROR_COUNT": float64(r.ErrorCount), "ERROR_RATE": r.ErrorRate,
		"TIMING_P50": r.Timing.P50, "TIMING_P90": r.Timing.P90, "TIMING_P95": r.Timing.P95, "TIMING_P99": r.Timing.P99,
		"TIMING_AVG": r.Timing.Avg, "TIMING_MAX": r.Timing.Max, "DELAY_AVG": r.Delay.Avg, "DELAY_P95": r.Delay.P95}[f]
}

// label sets a row's value of one dimension from a request (the rule the API
// documents), and returns it as a sort key: nil (no value) sorts first.
func stLabel(row *stRow, dim string, r stReq) *string {
	switch dim {
	case "CLIENT":
		if r.client != "" {
			row.Client = stPtr(r.client)
		}
		return row.Client
	case "COLLECTION":
		row.Collection = stPtr(r.coll)
		return row.Collection
	case "COLLECTION_TYPE":
		row.CollectionType = stPtr(strings.ToUpper(r.collType))
		return stPtr(r.collType)
	case "ENDPOINT":
		row.Endpoint = stPtr(r.ep)
		return row.Endpoint
	case "CODE":
		row.Code = stPtr(r.code)
		return stPtr(fmt.Sprintf("%03d", r.code))
	case "CODE_CLASS":
		row.CodeClass = stPtr(fmt.Sprintf("%dxx", r.code/100))
		return row.CodeClass
	case "GATEWAY_CODE":
		row.GatewayCode = r.gateway
		if r.gateway == nil {
			return nil
		}
		return stPtr(fmt.Sprintf("%010d", *r.gateway))
	}
	panic(dim)
}

// stBucketOf is date_bin(interval, t, epoch), computed in microseconds.
func stBucketOf(t time.Time, iv time.Duration) string {
	us := iv.Microseconds()
	return time.UnixMicro(t.UnixMicro() / us * us).UTC().Format(time.RFC3339Nano)
}

// stExpectRequests computes apiRequestStats from the ingested requests: groups
// ranked over the window by the measure (ties by the group values, absent first),
// the first `first` shown per bucket, and one other row per bucket for the rest.
func stExpectRequests(recs []stReq, dims []string, iv time.Duration, field string, desc bool, first int) []stRow {
	type group struct {
		row  stRow
		sort []*string
		recs []stReq
	}
	groups := map[string]*group{}
	var order []*group
	for _, r := range recs {
		var g group
		var key []string
		for _, d := range dims {
			l := stLabel(&g.row, d, r)
			g.sort = append(g.sort, l)
			if l == nil {
				key = append(key, "\x00")
			} else {
				key = append(key, *l)
			}
		}
		k := strings.Join(key, "\x01")
		if groups[k] == nil {
			groups[k] = &g
			order = append(order, &g)
		}
		groups[k].recs = append(groups[k].recs, r)
	}
	for _, g := range order {
		stMeasures(&g.row, g.recs)
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := order[i].row.field(field), order[j].row.field(field)
		if a != b {
			return (a > b) == desc
		}
		for k := range order[i].sort {
			x, y := order[i].sort[k], order[j].sort[k]
			switch {
			case x == nil && y == nil:
				continue
			case x == nil || y == nil:
				return x == nil
			case *x != *y:
				return *x < *y
			}
		}
		return false
	})
	if len(dims) == 0 {
		first = 1
	}
	var rest []stReq
	for _, g := range order[min(first, len(order)):] {
		rest = append(rest, g.recs...)
	}
	var out []stRow
	perBucket := func(proto stRow, recs []stReq) {
		byBucket := map[string][]stReq{}
		var buckets []string
		for _, r := range recs {
			b := ""
			if iv > 0 {
				b = stBucketOf(r.at, iv)
			}
			if byBucket[b] == nil {
				buckets = append(buckets, b)
			}
			byBucket[b] = append(byBucket[b], r)
		}
		sort.Strings(buckets)
		for _, b := range buckets {
			row := proto
			row.Count, row.ErrorCount = 0, 0
			if iv > 0 {
				row.Bucket = stPtr(b)
			}
			stMeasures(&row, byBucket[b])
			out = append(out, row)
		}
	}
	for _, g := range order[:min(first, len(order))] {
		perBucket(g.row, g.recs)
	}
	if len(rest) > 0 {
		perBucket(stRow{Other: true}, rest)
	}
	return out
}

func stSameRows(t *testing.T, got, want []stRow) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d rows, want %d\ngot  %s\nwant %s", len(got), len(want), stJSON(got), stJSON(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Bucket != nil && w.Bucket != nil {
			tg, _ := time.Parse(time.RFC3339Nano, *g.Bucket)
			tw, _ := time.Parse(time.RFC3339Nano, *w.Bucket)
			if tg.Equal(tw) {
				g.Bucket = w.Bucket
			}
		}
		floats := func(r stRow) []float64 {
			return []float64{r.ErrorRate, r.Timing.P50, r.Timing.P90, r.Timing.P95, r.Timing.P99, r.Timing.Avg, r.Timing.Max, r.Delay.Avg, r.Delay.P95}
		}
		fg, fw := floats(g), floats(w)
		for k := range fg {
			if math.Abs(fg[k]-fw[k]) > 1e-9 {
				t.Fatalf("row %d: measure %d is %v, want %v\ngot  %s\nwant %s", i, k, fg[k], fw[k], stJSON(g), stJSON(w))
			}
		}
		g.ErrorRate, g.Timing, g.Delay = w.ErrorRate, w.Timing, w.Delay
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("row %d:\ngot  %s\nwant %s", i, stJSON(g), stJSON(w))
		}
	}
}

func stJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// requestStats runs apiRequestStats with the read token and decodes its rows.
func stRequestStats(t *testing.T, e *testserver.Env, token, args string) ([]stRow, []gqlError) {
	t.Helper()
	var r reply[struct {
		S *struct{ Rows []stRow } `json:"s"`
	}]
	e.GraphQL(token, `{ s: apiRequestStats(`+args+`) { rows { `+stRowFields+` } } }`, nil, &r)
	if r.Data.S == nil {
		return nil, r.Errors
	}
	return r.Data.S.Rows, r.Errors
}

const stHour = `time: {from: "2024-06-13T12:00:00Z", to: "2024-06-13T13:00:00Z"}`

func TestAPIRequestStats(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	recs := stRequestFixture()
	stIngestRequests(t, e, e.Tokens[model.RoleIngest], "30000000", recs)
	// Another workspace's requests in the same hour, same names, must not count.
	other := stOtherWorkspace(t, e, "globex")
	stIngestRequests(t, e, other.ingest, "40000000", stRequestFixture()[:20])
	read := e.Tokens[model.RoleRead]

	cases := []struct {
		name, args string
		dims       []string
		iv         time.Duration
		field      string
		desc       bool
		first      int
		filter     func(stReq) bool
	}{
		{name: "no groups: one row for everything", args: `filter: {` + stHour + `}`, field: "COUNT", desc: true, first: 50},
		{name: "endpoint by count, all groups", args: `filter: {` + stHour + `}, groupBy: [ENDPOINT]`, dims: []string{"ENDPOINT"}, field: "COUNT", desc: true, first: 50},
		{name: "endpoint top 2 and other", args: `filter: {` + stHour + `}, groupBy: [ENDPOINT], first: 2`, dims: []string{"ENDPOINT"}, field: "COUNT", desc: true, first: 2},
		{name: "client and code class by p95 ascending", args: `filter: {` + stHour + `}, groupBy: [CLIENT, CODE_CLASS], orderBy: {field: TIMING_P95, direction: ASC}, first: 3`,
			dims: []string{"CLIENT", "CODE_CLASS"}, field: "TIMING_P95", first: 3},
		{name: "collection, type and gateway code by error rate", args: `filter: {` + stHour + `}, groupBy: [COLLECTION, COLLECTION_TYPE, GATEWAY_CODE], orderBy: {field: ERROR_RATE}, first: 5`,
			dims: []string{"COLLECTION", "COLLECTION_TYPE", "GATEWAY_CODE"}, field: "ERROR_RATE", desc: true, first: 5},
		// 20 requests without a client and 20 of Team B tie: no client comes first.
		{name: "client by count, ties broken by the values, none first", args: `filter: {` + stHour + `}, groupBy: [CLIENT], first: 2`,
			dims: []string{"CLIENT"}, field: "COUNT", desc: true, first: 2},
		{name: "gateway code by count ascending, ties broken by the values", args: `filter: {` + stHour + `}, groupBy: [GATEWAY_CODE], orderBy: {field: COUNT, direction: ASC}, first: 1`,
			dims: []string{"GATEWAY_CODE"}, field: "COUNT", first: 1},
		{name: "a repeated dimension counts once", args: `filter: {` + stHour + `}, groupBy: [CODE_CLASS, CODE_CLASS]`, dims: []string{"CODE_CLASS"}, field: "COUNT", desc: true, first: 50},
		{name: "filtered: Team A's errors by endpoint", args: `filter: {` + stHour + `, clients: ["Team A"], outcome: ERROR}, groupBy: [ENDPOINT]`,
			dims: []string{"ENDPOINT"}, field: "COUNT", desc: true, first: 50, filter: func(r stReq) bool { return r.client == "Team A" && r.code >= 400 }},
		{name: "15m buckets, top 2 endpoints over the hour, other per bucket", args: `filter: {` + stHour + `}, groupBy: [ENDPOINT], interval: "15m", first: 2`,
			dims: []string{"ENDPOINT"}, iv: 15 * time.Minute, field: "COUNT", desc: true, first: 2},
		{name: "7m buckets not dividing the hour, no groups", args: `filter: {` + stHour + `}, interval: "7m"`, iv: 7 * time.Minute, field: "COUNT", desc: true, first: 50},
		{name: "1d bucket, code class", args: `filter: {` + stHour + `}, groupBy: [CODE_CLASS], interval: "1d"`, dims: []string{"CODE_CLASS"}, iv: 24 * time.Hour, field: "COUNT", desc: true, first: 50},
	}
	for _, f := range []string{"COUNT", "ERROR_COUNT", "ERROR_RATE", "TIMING_P50", "TIMING_P90", "TIMING_P95", "TIMING_P99", "TIMING_AVG", "TIMING_MAX", "DELAY_AVG", "DELAY_P95"} {
		for _, dir := range []string{"ASC", "DESC"} {
			cases = append(cases, struct {
				name, args string
				dims       []string
				iv         time.Duration
				field      string
				desc       bool
				first      int
				filter     func(stReq) bool
			}{name: "code by " + f + " " + dir, args: `filter: {` + stHour + `}, groupBy: [CODE], orderBy: {field: ` + f + `, direction: ` + dir + `}, first: 3`,
				dims: []string{"CODE"}, field: f, desc: dir == "DESC", first: 3})
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, errs := stRequestStats(t, e, read, c.args)
			if len(errs) > 0 {
				t.Fatalf("%+v", errs)
			}
			in := recs
			if c.filter != nil {
				in = nil
				for _, r := range recs {
					if c.filter(r) {
						in = append(in, r)
					}
				}
			}
			stSameRows(t, got, stExpectRequests(in, c.dims, c.iv, c.field, c.desc, c.first))
		})
	}

	t.Run("a group of one request: every percentile is its value", func(t *testing.T) {
		got, errs := stRequestStats(t, e, read, `filter: {`+stHour+`, endpoints: ["GET /solo"]}, groupBy: [ENDPOINT, CLIENT]`)
		if len(errs) > 0 {
			t.Fatalf("%+v", errs)
		}
		want := stRow{Endpoint: stPtr("GET /solo"), Client: stPtr("Team A"), Count: 1}
		want.Timing.P50, want.Timing.P90, want.Timing.P95, want.Timing.P99, want.Timing.Avg, want.Timing.Max = 42, 42, 42, 42, 42, 42
		want.Delay.Avg, want.Delay.P95 = 7, 7
		stSameRows(t, got, []stRow{want})
	})
	t.Run("percentiles interpolate (hand-computed)", func(t *testing.T) {
		// POST /c with code 200: timings computed by hand from the fixture formula.
		var timing []float64
		for i := 0; i < 60; i++ {
			if i%10 == 7 || i%10 == 8 {
				timing = append(timing, float64((i*37)%101+i%3))
			}
		}
		got, errs := stRequestStats(t, e, read, `filter: {`+stHour+`, endpoints: ["POST /c"]}`)
		if len(errs) > 0 || len(got) != 1 {
			t.Fatalf("%+v %+v", got, errs)
		}
		sort.Float64s(timing)
		// 12 values: p50 is at position 5.5, halfway between the 6th and 7th.
		if want := (timing[5] + timing[6]) / 2; got[0].Timing.P50 != want || got[0].Count != 12 {
			t.Fatalf("p50 %v count %d, want %v 12 (values %v)", got[0].Timing.P50, got[0].Count, want, timing)
		}
	})
	t.Run("empty window: no rows", func(t *testing.T) {
		for _, args := range []string{
			`filter: {time: {from: "2024-06-14T00:00:00Z", to: "2024-06-15T00:00:00Z"}}`,
			`filter: {time: {from: "2024-06-14T00:00:00Z", to: "2024-06-15T00:00:00Z"}}, groupBy: [ENDPOINT], interval: "1h"`,
			`filter: {time: {from: "2099-01-01T00:00:00Z"}}, interval: "1h"`,
		} {
			got, errs := stRequestStats(t, e, read, args)
			if len(errs) > 0 || got == nil || len(got) != 0 {
				t.Fatalf("%s: got %+v %+v, want rows: []", args, got, errs)
			}
		}
	})
	t.Run("the other workspace sees only its own requests", func(t *testing.T) {
		got, errs := stRequestStats(t, e, other.read, `filter: {`+stHour+`}`)
		if len(errs) > 0 {
			t.Fatalf("%+v", errs)
		}
		stSameRows(t, got, stExpectRequests(stRequestFixture()[:20], nil, 0, "COUNT", true, 50))
	})
	t.Run("needs a read token", func(t *testing.T) {
		_, errs := stRequestStats(t, e, "", `filter: {`+stHour+`}`)
		onlyError(t, errs, "UNAUTHENTICATED", "an API token is required: send `Authorization: Bearer <token>`")
	})
}

func TestAPIRequestStatsDefaultWindow(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	now := db.Clock().UTC()
	recs := []stReq{
		{at: now.Add(-time.Hour), code: 200, timing: 5, delay: 1, coll: "c", collType: "proxy", ep: "GET /in"},
		{at: now.Add(-25 * time.Hour), code: 500, timing: 9, delay: 1, coll: "c", collType: "proxy", ep: "GET /out"},
	}
	stIngestRequests(t, e, e.Tokens[model.RoleIngest], "50000000", recs)
	got, errs := stRequestStats(t, e, e.Tokens[model.RoleRead], `groupBy: [ENDPOINT]`)
	if len(errs) > 0 {
		t.Fatalf("%+v", errs)
	}
	stSameRows(t, got, stExpectRequests(recs[:1], []string{"ENDPOINT"}, 0, "COUNT", true, 50))
	// time: {to} alone also means the 24 hours before it.
	got, errs = stRequestStats(t, e, e.Tokens[model.RoleRead], fmt.Sprintf(`filter: {time: {to: %q}}, groupBy: [ENDPOINT]`, now.Add(-2*time.Hour).Format(time.RFC3339Nano)))
	if len(errs) > 0 {
		t.Fatalf("%+v", errs)
	}
	stSameRows(t, got, stExpectRequests(recs[1:], []string{"ENDPOINT"}, 0, "COUNT", true, 50))
}

func TestAPIRequestStatsGuardrails(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	week := `time: {from: "2024-06-01T00:00:00Z", to: "2024-06-08T00:00:00Z"}`
	cases := []struct{ name, args, msg string }{
		{"first above 1000", `groupBy: [ENDPOINT], first: 1001`,
			"first: 1001 is not between 1 and 1000; the groups past first are summed into the other row, and filters (clients, collections, endpoints, codes) narrow the groups"},
		{"first below 1", `groupBy: [ENDPOINT], first: 0`,
			"first: 0 is not between 1 and 1000; the groups past first are summed into the other row, and filters (clients, collections, endpoints, codes) narrow the groups"},
		{"interval below 1ms", `filter: {` + week + `}, interval: "500us"`, "interval: 500µs is below the narrowest bucket, 1ms"},
		{"more than 10000 buckets", `filter: {` + week + `}, interval: "1m"`,
			"interval: 1m over 2024-06-01T00:00:00Z..2024-06-08T00:00:00Z gives 10080 buckets, more than 10000; use a wider interval or a shorter time range"},
		{"groups x buckets above 100000", `filter: {` + week + `}, groupBy: [ENDPOINT], interval: "5m"`,
			"first: 50 groups x 2016 buckets could give 100800 rows, more than 100000; lower first, use a wider interval or a shorter time range"},
		{"bad time range", `filter: {time: {from: "2024-06-02T00:00:00Z", to: "2024-06-01T00:00:00Z"}}`,
			"time: from (2024-06-02T00:00:00Z) must be before to (2024-06-01T00:00:00Z)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errs := stRequestStats(t, e, e.Tokens[model.RoleRead], c.args)
			onlyError(t, errs, "BAD_USER_INPUT", c.msg)
		})
	}
	t.Run("the same buckets pass without groups", func(t *testing.T) {
		if _, errs := stRequestStats(t, e, e.Tokens[model.RoleRead], `filter: {`+week+`}, interval: "5m"`); len(errs) > 0 {
			t.Fatalf("%+v", errs)
		}
	})
}

// stTokens are a second workspace's tokens.
type stTokens struct{ read, ingest string }

func stOtherWorkspace(t *testing.T, e *testserver.Env, slug string) stTokens {
	t.Helper()
	ctx := context.Background()
	ws, err := db.NewWorkspaceStore(e.DB.Bun).Create(ctx, slug, slug)
	if err != nil {
		t.Fatal(err)
	}
	_, read, err := e.Store.Create(ctx, ws.ID, "read", model.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	_, ingest, err := e.Store.Create(ctx, ws.ID, "ingest", model.RoleIngest)
	if err != nil {
		t.Fatal(err)
	}
	return stTokens{read: read, ingest: ingest}
}

// stDelivery is one ingested integration delivery.
type stDelivery struct {
	at                  time.Time
	integration         int
	job                 int // -1: no job
	ok                  bool
	attempt, statusCode int
}

func stIntegrationID(i int) string { return fmt.Sprintf("aaaaaaaa-0000-4000-8000-%012d", i) }
func stJobID(j int) string         { return fmt.Sprintf("bbbbbbbb-0000-4000-8000-%012d", j) }

// stDeliveryFixture is 40 deliveries inside [stBase, stBase+1h) of 3 integrations
// and 6 jobs (jobs j and j+3 belong to integration j), some without a job.
func stDeliveryFixture() []stDelivery {
	var out []stDelivery
	for i := 0; i < 40; i++ {
		d := stDelivery{at: stBase.Add(time.Duration(i*89) * time.Second), integration: i % 3, job: i%3 + 3*(i%2),
			ok: i%4 != 0, attempt: (i/3)%3 + 1}
		if i%7 == 0 {
			d.job = -1
		}
		if d.ok {
			d.statusCode = []int{200, 201}[i%2]
		} else {
			d.statusCode = []int{500, 404}[i%2]
		}
		out = append(out, d)
	}
	return out
}

func stIngestDeliveries(t *testing.T, e *testserver.Env, token, prefix string, ds []stDelivery) {
	t.Helper()
	var b strings.Builder
	for i, d := range ds {
		job := ""
		if d.job >= 0 {
			job = fmt.Sprintf(`,"job_id":%q`, stJobID(d.job))
		}
		fmt.Fprintf(&b, `{"id":"%s-0000-7000-8000-%012d","integration_id":%q,"integration_name":"hook-%d"%s,"succeeded":%v,"attempt":%d,"status_code":%d,"created_at":%q}`+"\n",
			prefix, i, stIntegrationID(d.integration), d.integration, job, d.ok, d.attempt, d.statusCode, d.at.Format(time.RFC3339Nano))
	}
	if resp, reply := e.Ingest("integration", token, b.String()); resp.StatusCode != 200 {
		t.Fatalf("ingest: %d %s", resp.StatusCode, reply)
	}
}

// stIntegrationRow is an IntegrationStatsRow as the API answers it.
type stIntegrationRow struct {
	Integration *struct{ ID, Name string } `json:"integration"`
	Job         *struct {
		ID          string
		Integration struct{ ID string }
	} `json:"job"`
	StatusCode  *int    `json:"statusCode"`
	Bucket      *string `json:"bucket"`
	Deliveries  int     `json:"deliveries"`
	Successes   int     `json:"successes"`
	Failures    int     `json:"failures"`
	SuccessRate float64 `json:"successRate"`
	Attempts    struct {
		Avg float64
		Max int
	}
	RetriedDeliveries int `json:"retriedDeliveries"`
}

const stIntegrationFields = `integration { id name } job { id integration { id } } statusCode bucket deliveries successes failures successRate
	attempts { avg max } retriedDeliveries`

// stExpectIntegrations computes integrationStats from the ingested deliveries:
// groups by their deliveries over the window (most first), ties by the keys in
// groupBy order (no job last), then buckets in time order.
func stExpectIntegrations(ds []stDelivery, dims []string, iv time.Duration) []stIntegrationRow {
	type group struct {
		proto stIntegrationRow
		keys  []string
		ds    map[string][]stDelivery
		total int
	}
	groups := map[string]*group{}
	var order []*group
	for _, d := range ds {
		var g group
		for _, dim := range dims {
			switch dim {
			case "INTEGRATION":
				g.proto.Integration = &struct{ ID, Name string }{stIntegrationID(d.integration), fmt.Sprintf("hook-%d", d.integration)}
				g.keys = append(g.keys, stIntegrationID(d.integration))
			case "JOB":
				if d.job < 0 {
					g.keys = append(g.keys, "\xff") // NULL sorts last ascending
					continue
				}
				g.proto.Job = &struct {
					ID          string
					Integration struct{ ID string }
				}{ID: stJobID(d.job)}
				g.proto.Job.Integration.ID = stIntegrationID(d.job % 3)
				g.keys = append(g.keys, stJobID(d.job))
			case "STATUS_CODE":
				g.proto.StatusCode = stPtr(d.statusCode)
				g.keys = append(g.keys, fmt.Sprintf("%03d", d.statusCode))
			}
		}
		k := strings.Join(g.keys, "|")
		if groups[k] == nil {
			g.ds = map[string][]stDelivery{}
			groups[k] = &g
			order = append(order, &g)
		}
		b := ""
		if iv > 0 {
			b = stBucketOf(d.at, iv)
		}
		groups[k].ds[b] = append(groups[k].ds[b], d)
		groups[k].total++
	}
	sort.Slice(order, func(i, j int) bool {
		if order[i].total != order[j].total {
			return order[i].total > order[j].total
		}
		return strings.Join(order[i].keys, "|") < strings.Join(order[j].keys, "|")
	})
	var out []stIntegrationRow
	for _, g := range order {
		var buckets []string
		for b := range g.ds {
			buckets = append(buckets, b)
		}
		sort.Strings(buckets)
		for _, b := range buckets {
			row := g.proto
			if iv > 0 {
				row.Bucket = stPtr(b)
			}
			var attempts []float64
			for _, d := range g.ds[b] {
				row.Deliveries++
				if d.ok {
					row.Successes++
				} else {
					row.Failures++
				}
				if d.attempt >= 2 {
					row.RetriedDeliveries++
				}
				attempts = append(attempts, float64(d.attempt))
			}
			row.SuccessRate = float64(row.Successes) / float64(row.Deliveries)
			row.Attempts.Avg, row.Attempts.Max = stMean(attempts), int(stMax(attempts))
			out = append(out, row)
		}
	}
	return out
}

func stIntegrationStats(t *testing.T, e *testserver.Env, token, args string) ([]stIntegrationRow, []gqlError) {
	t.Helper()
	var r reply[struct {
		S *struct{ Rows []stIntegrationRow } `json:"s"`
	}]
	e.GraphQL(token, `{ s: integrationStats(`+args+`) { rows { `+stIntegrationFields+` } } }`, nil, &r)
	if r.Data.S == nil {
		return nil, r.Errors
	}
	return r.Data.S.Rows, r.Errors
}

func stSameIntegrationRows(t *testing.T, got, want []stIntegrationRow) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d rows, want %d\ngot  %s\nwant %s", len(got), len(want), stJSON(got), stJSON(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if math.Abs(g.SuccessRate-w.SuccessRate) > 1e-9 || math.Abs(g.Attempts.Avg-w.Attempts.Avg) > 1e-9 {
			t.Fatalf("row %d:\ngot  %s\nwant %s", i, stJSON(g), stJSON(w))
		}
		g.SuccessRate, g.Attempts.Avg = w.SuccessRate, w.Attempts.Avg
		if g.Bucket != nil && w.Bucket != nil {
			tg, _ := time.Parse(time.RFC3339Nano, *g.Bucket)
			tw, _ := time.Parse(time.RFC3339Nano, *w.Bucket)
			if tg.Equal(tw) {
				g.Bucket = w.Bucket
			}
		}
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("row %d:\ngot  %s\nwant %s", i, stJSON(g), stJSON(w))
		}
	}
}

func TestIntegrationStats(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	ds := stDeliveryFixture()
	stIngestDeliveries(t, e, e.Tokens[model.RoleIngest], "60000000", ds)
	// The same integrations and jobs, by id, in another workspace: never counted.
	other := stOtherWorkspace(t, e, "globex")
	stIngestDeliveries(t, e, other.ingest, "70000000", ds[:10])
	read := e.Tokens[model.RoleRead]

	cases := []struct {
		name, args string
		dims       []string
		iv         time.Duration
		filter     func(stDelivery) bool
	}{
		{name: "no groups: one row", args: `filter: {` + stHour + `}`},
		{name: "per integration", args: `filter: {` + stHour + `}, groupBy: [INTEGRATION]`, dims: []string{"INTEGRATION"}},
		{name: "per job, no job last", args: `filter: {` + stHour + `}, groupBy: [JOB]`, dims: []string{"JOB"}},
		{name: "per status code", args: `filter: {` + stHour + `}, groupBy: [STATUS_CODE]`, dims: []string{"STATUS_CODE"}},
		{name: "per integration, job and status code", args: `filter: {` + stHour + `}, groupBy: [INTEGRATION, JOB, STATUS_CODE]`,
			dims: []string{"INTEGRATION", "JOB", "STATUS_CODE"}},
		{name: "per status code and integration, 20m buckets", args: `filter: {` + stHour + `}, groupBy: [STATUS_CODE, INTEGRATION], interval: "20m"`,
			dims: []string{"STATUS_CODE", "INTEGRATION"}, iv: 20 * time.Minute},
		{name: "retries only, per job", args: `filter: {` + stHour + `, minAttempt: 2}, groupBy: [JOB]`, dims: []string{"JOB"},
			filter: func(d stDelivery) bool { return d.attempt >= 2 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, errs := stIntegrationStats(t, e, read, c.args)
			if len(errs) > 0 {
				t.Fatalf("%+v", errs)
			}
			in := ds
			if c.filter != nil {
				in = nil
				for _, d := range ds {
					if c.filter(d) {
						in = append(in, d)
					}
				}
			}
			stSameIntegrationRows(t, got, stExpectIntegrations(in, c.dims, c.iv))
		})
	}
	t.Run("integrations and jobs load in one statement each", func(t *testing.T) {
		n, _ := statements(t, e, `{ integrationStats(filter: {`+stHour+`}, groupBy: [INTEGRATION, JOB]) { rows { `+stIntegrationFields+` } } }`)
		if n != 3 {
			t.Fatalf("%d statements, want 3 (stats, integrations, jobs)", n)
		}
	})
	t.Run("empty window: no rows", func(t *testing.T) {
		got, errs := stIntegrationStats(t, e, read, `filter: {time: {from: "2024-06-14T00:00:00Z", to: "2024-06-15T00:00:00Z"}}, groupBy: [INTEGRATION], interval: "1h"`)
		if len(errs) > 0 || got == nil || len(got) != 0 {
			t.Fatalf("got %+v %+v, want rows: []", got, errs)
		}
	})
	t.Run("the other workspace sees only its own deliveries", func(t *testing.T) {
		got, errs := stIntegrationStats(t, e, other.read, `filter: {`+stHour+`}, groupBy: [INTEGRATION]`)
		if len(errs) > 0 {
			t.Fatalf("%+v", errs)
		}
		stSameIntegrationRows(t, got, stExpectIntegrations(ds[:10], []string{"INTEGRATION"}, 0))
	})
	t.Run("needs the read role", func(t *testing.T) {
		_, errs := stIntegrationStats(t, e, e.Tokens[model.RoleIngest], `filter: {`+stHour+`}`)
		onlyError(t, errs, "FORBIDDEN", "this token's role (ingest) may not read logs")
	})
}

func TestIntegrationStatsGuardrails(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	var ds []stDelivery
	for i := 0; i <= 1000; i++ {
		ds = append(ds, stDelivery{at: stBase.Add(time.Duration(i) * time.Second), integration: i, job: -1, ok: true, attempt: 1, statusCode: 200})
	}
	stIngestDeliveries(t, e, e.Tokens[model.RoleIngest], "80000000", ds)
	read := e.Tokens[model.RoleRead]
	cases := []struct{ name, args, msg string }{
		{"more than 1000 groups", `filter: {` + stHour + `}, groupBy: [INTEGRATION]`,
			"integrationStats: 1001 groups, more than 1000; narrow the filter (integrationIds, jobIds, statusCodes, time) or group by fewer dimensions"},
		{"more than 10000 buckets", `filter: {time: {from: "2024-06-01T00:00:00Z", to: "2024-06-08T00:00:00Z"}}, interval: "1m"`,
			"interval: 1m over 2024-06-01T00:00:00Z..2024-06-08T00:00:00Z gives 10080 buckets, more than 10000; use a wider interval or a shorter time range"},
		{"interval below 1ms", `interval: "999us"`, "interval: 999µs is below the narrowest bucket, 1ms"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errs := stIntegrationStats(t, e, read, c.args)
			onlyError(t, errs, "BAD_USER_INPUT", c.msg)
		})
	}
	t.Run("1000 groups pass", func(t *testing.T) {
		got, errs := stIntegrationStats(t, e, read, `filter: {`+stHour+`, statusCodes: [200], integrationIds: [`+
			func() string {
				var ids []string
				for i := 0; i < 1000; i++ {
					ids = append(ids, strconv.Quote(stIntegrationID(i)))
				}
				return strings.Join(ids, ",")
			}()+`]}, groupBy: [INTEGRATION]`)
		if len(errs) > 0 || len(got) != 1000 {
			t.Fatalf("%d rows, %+v", len(got), errs)
		}
	})
}
