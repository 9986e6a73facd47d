package db

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/loggraph/loggraph/model"
)

// TestRequestFilterRollupFields: every field of model.APIRequestLogFilter says which
// request_rollups column serves it (or that only the rows can).
func TestRequestFilterRollupFields(t *testing.T) {
	typ := reflect.TypeFor[model.APIRequestLogFilter]()
	for i := range typ.NumField() {
		if _, ok := requestFilterFamily[typ.Field(i).Name]; !ok {
			t.Errorf("model.APIRequestLogFilter.%s is not classified in requestFilterFamily", typ.Field(i).Name)
		}
	}
	if len(requestFilterFamily) != typ.NumField() {
		t.Errorf("requestFilterFamily names %d fields, model.APIRequestLogFilter has %d", len(requestFilterFamily), typ.NumField())
	}
}

// TestRequestBucket: the buckets tile the integers in order, each narrower than
// RequestPercentileError of its lower bound, and the SQL expression agrees with Go.
func TestRequestBucket(t *testing.T) {
	prev := -1
	for _, v := range []int{0, 1, 127, 255, 256, 257, 511, 512, 1000, 65535, 65536, 1 << 30, math.MaxInt32} {
		b := RequestBucket(v)
		lo, hi := requestBucketRange(b)
		if v < lo || v > hi || float64(hi-lo) > RequestPercentileError*float64(lo) || b < prev {
			t.Errorf("%d: bucket %d [%d, %d]", v, b, lo, hi)
		}
		if b > 0 {
			if _, phi := requestBucketRange(b - 1); phi != lo-1 {
				t.Errorf("bucket %d starts at %d, bucket %d ends at %d", b, lo, b-1, phi)
			}
		}
		prev = b
	}
	d := openInternal(t)
	var mismatches int
	err := d.Pool.QueryRow(context.Background(), `SELECT count(*) FROM generate_series(0, 70000) AS v
		WHERE `+requestBucketSQL("v")+` <> ($1::int2[])[v + 1]`, func() []int16 {
		out := make([]int16, 70001)
		for v := range out {
			out[v] = int16(RequestBucket(v))
		}
		return out
	}()).Scan(&mismatches)
	if err != nil || mismatches != 0 {
		t.Fatalf("%d values bucketed differently in SQL (%v)", mismatches, err)
	}
}

// TestRequestStatsFromRollups: on random windows, intervals, groupings, orders and
// filters, apiRequestStats answered from request_rollups (plus the edge slots' rows)
// gives the same groups, buckets, counts and error counts as the rows, percentiles,
// delay p95 and maximum within RequestPercentileError of percentile_cont's, averages
// equal; the rollup serves whatever it can, and says why not otherwise.
func TestRequestStatsFromRollups(t *testing.T) {
	d, wss := rollupEnv(t)
	s := NewLogStore(d.Bun)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	names := func(ws any, sql string) []string {
		var out []string
		if err := d.Bun.NewRaw(sql, ws).Scan(ctx, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	type filterCase struct {
		name   string
		f      func(ws int) model.APIRequestLogFilter
		rollup bool
		family string // the request_rollups column the filter needs
	}
	var clients, collections, endpoints [2][]string
	for i, ws := range wss {
		clients[i] = names(ws, "SELECT name FROM api_clients WHERE workspace_id = ? ORDER BY name LIMIT 2")
		collections[i] = names(ws, "SELECT name FROM api_collections WHERE workspace_id = ? ORDER BY name LIMIT 1")
		endpoints[i] = names(ws, "SELECT DISTINCT endpoint FROM api_request_logs WHERE workspace_id = ? ORDER BY 1 LIMIT 3")
	}
	errOutcome, proxy, search, minTiming := model.RequestOutcomeError, model.CollectionProxy, "GET", 100
	filters := []filterCase{
		{"none", func(int) model.APIRequestLogFilter { return model.APIRequestLogFilter{} }, true, ""},
		{"codes", func(int) model.APIRequestLogFilter { return model.APIRequestLogFilter{Codes: []int{200, 404, 500}} }, true, "code"},
		{"code classes", func(int) model.APIRequestLogFilter {
			return model.APIRequestLogFilter{CodeClasses: []string{"4xx", "5xx"}}
		}, true, "code"},
		{"outcome", func(int) model.APIRequestLogFilter { return model.APIRequestLogFilter{Outcome: &errOutcome} }, true, "code"},
		{"clients", func(w int) model.APIRequestLogFilter { return model.APIRequestLogFilter{Clients: clients[w]} }, true, "client"},
		{"collections", func(w int) model.APIRequestLogFilter { return model.APIRequestLogFilter{Collections: collections[w]} }, true, "collection"},
		{"collection type", func(int) model.APIRequestLogFilter { return model.APIRequestLogFilter{CollectionType: &proxy} }, true, "collection"},
		{"endpoints", func(w int) model.APIRequestLogFilter { return model.APIRequestLogFilter{Endpoints: endpoints[w]} }, true, "endpoint"},
		{"gateway codes", func(int) model.APIRequestLogFilter { return model.APIRequestLogFilter{GatewayCodes: []int{502, 504}} }, true, "gateway"},
		{"search", func(int) model.APIRequestLogFilter { return model.APIRequestLogFilter{Search: &search} }, false, ""},
		{"min timing", func(int) model.APIRequestLogFilter { return model.APIRequestLogFilter{MinTimingMs: &minTiming} }, false, ""},
	}
	D := func(ds ...model.APIRequestDimension) []model.APIRequestDimension { return ds }
	groupings := [][]model.APIRequestDimension{nil, D(model.APIRequestDimensionEndpoint), D(model.APIRequestDimensionClient),
		D(model.APIRequestDimensionCollection), D(model.APIRequestDimensionCollectionType), D(model.APIRequestDimensionCode),
		D(model.APIRequestDimensionCodeClass, model.APIRequestDimensionCode), D(model.APIRequestDimensionGatewayCode),
		D(model.APIRequestDimensionEndpoint, model.APIRequestDimensionClient)}
	orders := []model.APIRequestStatsField{model.APIRequestStatsFieldCount, model.APIRequestStatsFieldErrorCount,
		model.APIRequestStatsFieldErrorRate, model.APIRequestStatsFieldTimingP95, model.APIRequestStatsFieldTimingAvg}
	intervals := []time.Duration{0, 15 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour, 10 * time.Minute}
	rollups := 0
	for i := 0; i < 80; i++ {
		w := i % len(wss)
		fc := filters[rng.IntN(len(filters))]
		dims := groupings[rng.IntN(len(groupings))]
		from := rollupBase.Add(time.Duration(rng.Int64N(int64(60*time.Hour))) / time.Microsecond * time.Microsecond)
		if rng.IntN(3) == 0 {
			from = from.Truncate(time.Hour)
		}
		to := from.Add(time.Duration(rng.Int64N(int64(40*time.Hour))) + time.Minute)
		f := fc.f(w)
		f.Time = &model.TimeRange{From: &from, To: &to}
		q := APIRequestStatsQuery{Filter: &f, GroupBy: dims, OrderBy: orders[rng.IntN(len(orders))], Desc: rng.IntN(2) == 0, First: 1 + rng.IntN(6)}
		if iv := intervals[rng.IntN(len(intervals))]; iv > 0 {
			q.Interval = &iv
		}
		exactOrder := q.OrderBy != model.APIRequestStatsFieldTimingP95 && q.OrderBy != model.APIRequestStatsFieldTimingAvg
		if !exactOrder {
			q.First = 60 // every group shown: compared by their labels
		}
		t.Run(fmt.Sprintf("%d %s %v %s", i, fc.name, dims, q.OrderBy), func(t *testing.T) {
			want, err := s.WithoutRollups().APIRequestStats(ctx, wss[w], q)
			if err != nil {
				t.Fatal(err)
			}
			pctx, plans := WithAnalyticsPlans(ctx)
			got, err := s.APIRequestStats(pctx, wss[w], q)
			if err != nil {
				t.Fatal(err)
			}
			_, _, spanned := wholeSlots(from, to)
			aligned := q.Interval == nil || *q.Interval%RollupSlot == 0
			families := map[string]bool{}
			if fc.family != "" {
				families[fc.family] = true
			}
			for _, d := range dims {
				families[map[model.APIRequestDimension]string{model.APIRequestDimensionEndpoint: "endpoint", model.APIRequestDimensionClient: "client",
					model.APIRequestDimensionCollection: "collection", model.APIRequestDimensionCollectionType: "collection",
					model.APIRequestDimensionCode: "code", model.APIRequestDimensionCodeClass: "code", model.APIRequestDimensionGatewayCode: "gateway"}[d]] = true
			}
			expect := fc.rollup && spanned && aligned && len(families) < 2
			p := plans()
			if len(p) != 1 || p[0].Rollup != expect || (!p[0].Rollup && p[0].Reason == "") {
				t.Fatalf("plans %+v, want rollup %v", p, expect)
			}
			if expect {
				rollups++
			}
			compareRequestStats(t, got, want, exactOrder)
		})
	}
	if rollups < 12 {
		t.Fatalf("only %d cases used the rollup", rollups)
	}
}

// compareRequestStats fails unless got matches want: the same rows (in the same order
// when exactOrder), counts exact, estimates within RequestPercentileError.
func compareRequestStats(t *testing.T, got, want []model.APIRequestStatsRow, exactOrder bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d rows, rows-only gives %d", len(got), len(want))
	}
	key := func(r model.APIRequestStatsRow) string {
		c := r
		c.Count, c.ErrorCount, c.ErrorRate, c.Timing, c.Delay = 0, 0, 0, nil, nil
		b, _ := json.Marshal(c)
		return string(b)
	}
	byKey := map[string]model.APIRequestStatsRow{}
	for _, r := range want {
		byKey[key(r)] = r
	}
	near := func(name string, g, w, rel float64) {
		if math.Abs(g-w) > rel*math.Abs(w)+1e-9 {
			t.Errorf("%s: %v, rows give %v (more than %.4f%% off)", name, g, w, rel*100)
		}
	}
	for i, g := range got {
		w, ok := byKey[key(g)]
		if exactOrder {
			w, ok = want[i], key(want[i]) == key(g)
		}
		if !ok {
			t.Fatalf("row %d: %s not among the rows-only answer's (%s)", i, key(g), key(want[min(i, len(want)-1)]))
		}
		if g.Count != w.Count || g.ErrorCount != w.ErrorCount || g.ErrorRate != w.ErrorRate {
			t.Errorf("%s: count %d/%d errors, rows give %d/%d", key(g), g.Count, g.ErrorCount, w.Count, w.ErrorCount)
		}
		e := RequestPercentileError
		near("p50", g.Timing.P50, w.Timing.P50, e)
		near("p90", g.Timing.P90, w.Timing.P90, e)
		near("p95", g.Timing.P95, w.Timing.P95, e)
		near("p99", g.Timing.P99, w.Timing.P99, e)
		near("max", g.Timing.Max, w.Timing.Max, e)
		near("avg", g.Timing.Avg, w.Timing.Avg, 1e-12)
		near("delay avg", g.Delay.Avg, w.Delay.Avg, 1e-12)
		near("delay p95", g.Delay.P95, w.Delay.P95, e)
	}
}
