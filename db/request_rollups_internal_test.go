package db

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

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

// TestRequestRanges: the ranges of requestRanges read every whole slot of [lo, hi)
// once among the pending rows and once among the compacted levels, each range
// aligned to its width, which divides the interval.
func TestRequestRanges(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	base := time.Date(2026, 11, 17, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 2000; i++ {
		lo := base.Add(time.Duration(rng.IntN(4*96)) * RollupSlot)
		hi := lo.Add(time.Duration(1+rng.IntN(5*96)) * RollupSlot)
		iv := []time.Duration{0, 15 * time.Minute, 30 * time.Minute, time.Hour, 3 * time.Hour, 24 * time.Hour, 48 * time.Hour}[rng.IntN(7)]
		seen := map[int16]map[time.Time]int{}
		for _, r := range requestRanges(lo, hi, iv.Microseconds()) {
			d := time.Duration(r.width) * time.Minute
			if r.width == requestPending {
				d = RollupSlot
			}
			if !r.from.Before(r.to) || r.from.Before(lo) || r.to.After(hi) || !r.from.Truncate(d).Equal(r.from) || !r.to.Truncate(d).Equal(r.to) ||
				(r.width != requestPending && iv > 0 && iv%d != 0) {
				t.Fatalf("[%s, %s) interval %s: range %+v", lo, hi, iv, r)
			}
			level := min(r.width, 1) // pending, or any compacted level
			if seen[level] == nil {
				seen[level] = map[time.Time]int{}
			}
			for s := r.from; s.Before(r.to); s = s.Add(RollupSlot) {
				seen[level][s]++
			}
		}
		for level, slots := range seen {
			for s := lo; s.Before(hi); s = s.Add(RollupSlot) {
				if slots[s] != 1 {
					t.Fatalf("[%s, %s) interval %s: slot %s read %d times at level %d", lo, hi, iv, s, slots[s], level)
				}
			}
			if len(slots) != int(hi.Sub(lo)/RollupSlot) {
				t.Fatalf("[%s, %s): %d slots read at level %d", lo, hi, len(slots), level)
			}
		}
	}
}

// TestRequestRollupLevels: through ingest, a compaction of part of the batches, late
// arrivals into compacted slots, a deletion's negative rows and a second compaction,
// request_rollups stays equal to the rows at every level (requestMismatches) and
// apiRequestStats from it to the rows-only answer; the check fails when a level is
// counted twice or lost.
func TestRequestRollupLevels(t *testing.T) {
	ctx := context.Background()
	d := openInternal(t)
	w, err := NewWorkspaceStore(d.Bun).Create(ctx, "levels", "")
	if err != nil {
		t.Fatal(err)
	}
	ws := w.ID
	store := NewIngestStore(d, NewPartitions(d))
	s := NewLogStore(d.Bun)
	now := time.Date(2026, 11, 20, 13, 37, 11, 0, time.UTC)
	rng := rand.New(rand.NewPCG(9, 10))
	codes := []int{200, 201, 404, 500, 503}
	seq := 0
	// ingest stores one batch of n requests received from ago to end before now.
	ingest := func(n int, ago, end time.Duration) {
		t.Helper()
		var b strings.Builder
		for range n {
			seq++
			at := now.Add(-end - time.Duration(rng.Int64N(int64(ago-end))))
			fmt.Fprintf(&b, `{"id":"%s","received_at":%q,"code":%d,"ip":"10.0.0.1","timing_ms":%d,"delay_ms":%d,"collection":"c%d","collection_type":"proxy","endpoint":"GET /%d"}`+"\n",
				uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "lv%d", seq)), at.Format(time.RFC3339Nano), codes[rng.IntN(len(codes))],
				int(math.Exp(rng.Float64()*10)), rng.IntN(300), rng.IntN(2), rng.IntN(4))
		}
		batch, err := model.DecodeBatch(model.KindAPIRequest, strings.NewReader(b.String()), now, model.IngestLimits{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Ingest(ctx, ws, batch); err != nil {
			t.Fatal(err)
		}
	}
	mismatches := func() int {
		t.Helper()
		n, err := requestMismatches(ctx, d, ws)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	widths := func() map[int16]int {
		t.Helper()
		var widths []int16
		var counts []int
		err := d.Pool.QueryRow(ctx, "SELECT array_agg(width), array_agg(n) FROM (SELECT width, count(*)::int AS n FROM request_rollups WHERE workspace_id = $1 GROUP BY 1) AS c",
			ws).Scan(&widths, &counts)
		if err != nil {
			t.Fatal(err)
		}
		out := map[int16]int{}
		for i, w := range widths {
			out[w] = counts[i]
		}
		return out
	}
	// check: no mismatch, and apiRequestStats from the rollup equals the rows' over
	// windows crossing days, hours and slots, with and without buckets.
	check := func(stage string) {
		t.Helper()
		if n := mismatches(); n != 0 {
			t.Fatalf("%s: %d request_rollups keys differ from the rows", stage, n)
		}
		for i, c := range []struct {
			from, to time.Time
			iv       time.Duration
			dims     []model.APIRequestDimension
		}{
			{now.Add(-71 * time.Hour), now, 0, []model.APIRequestDimension{model.APIRequestDimensionEndpoint}},
			{now.Add(-50 * time.Hour).Truncate(time.Hour), now.Add(-3 * time.Hour).Truncate(RollupSlot), 0, nil},
			{now.Add(-60 * time.Hour), now.Add(-10 * time.Hour), time.Hour, []model.APIRequestDimension{model.APIRequestDimensionCode}},
			{now.Add(-60 * time.Hour), now, 24 * time.Hour, []model.APIRequestDimension{model.APIRequestDimensionCollection}},
			{now.Add(-30 * time.Hour), now.Add(-20 * time.Hour), 45 * time.Minute, nil},
		} {
			f := model.APIRequestLogFilter{Time: &model.TimeRange{From: &c.from, To: &c.to}}
			q := APIRequestStatsQuery{Filter: &f, GroupBy: c.dims, OrderBy: model.APIRequestStatsFieldCount, Desc: true, First: 10}
			if c.iv > 0 {
				q.Interval = &c.iv
			}
			want, err := s.WithoutRollups().APIRequestStats(ctx, ws, q)
			if err != nil {
				t.Fatal(err)
			}
			pctx, plans := WithAnalyticsPlans(ctx)
			got, err := s.APIRequestStats(pctx, ws, q)
			if err != nil {
				t.Fatal(err)
			}
			if p := plans(); len(p) != 1 || !p[0].Rollup {
				t.Fatalf("%s, window %d: plans %+v", stage, i, p)
			}
			t.Run(fmt.Sprintf("%s %d", stage, i), func(t *testing.T) { compareRequestStats(t, got, want, true) })
		}
	}
	batches := func() (n int) {
		t.Helper()
		if err := d.Pool.QueryRow(ctx, "SELECT count(*) FROM request_rollup_batches WHERE workspace_id = $1", ws).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Three batches, the second across the cut below.
	cut := now.Add(-20 * time.Hour).Truncate(time.Hour).Add(30 * time.Minute)
	ingest(2000, 72*time.Hour, 25*time.Hour)
	ingest(500, 25*time.Hour, 15*time.Hour)
	ingest(500, 15*time.Hour, 0)
	check("ingested")
	// Compact up to a slot inside an hour: the batches wholly before it go into the
	// levels, the others stay packed (pending).
	if _, err := CompactRequestRollups(ctx, d, cut); err != nil {
		t.Fatal(err)
	}
	var pendingBefore int
	if err := d.Pool.QueryRow(ctx, "SELECT count(*) FROM request_rollup_batches WHERE workspace_id = $1 AND last_slot < $2", ws, cut).Scan(&pendingBefore); err != nil || pendingBefore != 0 {
		t.Fatalf("%d batch rows before the cut (%v)", pendingBefore, err)
	}
	if c := widths(); c[15] == 0 || c[60] == 0 || c[1440] == 0 || batches() != 2*6 {
		t.Fatalf("rows per width %v, %d batch rows: some level empty", c, batches())
	}
	check("compacted before the cut")
	ingest(500, 72*time.Hour, 0) // late arrivals into compacted slots
	check("late arrivals")
	kd := &KindDeletion{Kind: model.KindAPIRequest}
	from, to := now.Add(-40*time.Hour), now.Add(-5*time.Hour)
	del := &model.APIRequestLogFilter{Endpoints: []string{"GET /1"}, Time: &model.TimeRange{From: &from, To: &to}}
	if err := NewLifecycle(d).deleteWhere(ctx, ws, model.KindAPIRequest, del, reasonFilter, DeleteOptions{}, kd); err != nil || kd.Rows == 0 {
		t.Fatalf("deleted %d rows (%v)", kd.Rows, err)
	}
	check("negative rows pending") // the deletion's negative rows beside compacted ones
	if _, err := CompactRequestRollups(ctx, d, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if c := widths(); c[0] != 0 || batches() != 0 {
		t.Fatalf("rows per width %v, %d batch rows after compacting everything", c, batches())
	}
	check("all compacted")
	// Each corruption is seen: a day row counted twice, a pending row left beside
	// its compacted rows, an hour row lost.
	for _, corrupt := range []struct{ name, do, undo string }{
		{"a day row twice",
			`INSERT INTO request_rollups SELECT * FROM request_rollups WHERE workspace_id = $1 AND width = 1440 AND grouping = 31 LIMIT 1`,
			`DELETE FROM request_rollups WHERE ctid IN (SELECT max(ctid) FROM request_rollups WHERE workspace_id = $1 AND width = 1440
				AND grouping = 31 GROUP BY slot HAVING count(*) > 1)`},
		{"a compacted slot pending again",
			`INSERT INTO request_rollups SELECT workspace_id, slot, grouping, collection_id, client_id, endpoint, code, gateway_code, n, errors,
				timing_sum, timing_max, delay_sum, timing_b, timing_n, delay_b, delay_n, 0
			FROM request_rollups WHERE workspace_id = $1 AND width = 15 AND grouping = 27 LIMIT 1`,
			`DELETE FROM request_rollups WHERE workspace_id = $1 AND width = 0`},
		{"a compacted slot packed again",
			`INSERT INTO request_rollup_batches SELECT workspace_id, grouping, slot, slot, ARRAY[slot], ARRAY[collection_id], ARRAY[client_id],
				ARRAY[endpoint], ARRAY[code], ARRAY[gateway_code], ARRAY[n], ARRAY[errors], ARRAY[timing_sum], ARRAY[timing_max],
				ARRAY[delay_sum], ARRAY[timing_b::text], ARRAY[timing_n::text], ARRAY[delay_b::text], ARRAY[delay_n::text]
			FROM request_rollups WHERE workspace_id = $1 AND width = 15 AND grouping = 27 LIMIT 1`,
			`DELETE FROM request_rollup_batches WHERE workspace_id = $1`},
	} {
		if _, err := d.Pool.Exec(ctx, corrupt.do, ws); err != nil {
			t.Fatal(err)
		}
		if n := mismatches(); n == 0 {
			t.Errorf("%s: no mismatch seen", corrupt.name)
		}
		if _, err := d.Pool.Exec(ctx, corrupt.undo, ws); err != nil {
			t.Fatal(err)
		}
		if n := mismatches(); n != 0 {
			t.Fatalf("after undoing %s: %d mismatches", corrupt.name, n)
		}
	}
	if _, err := d.Pool.Exec(ctx, `DELETE FROM request_rollups WHERE ctid = (SELECT min(ctid) FROM request_rollups WHERE workspace_id = $1 AND width = 60)`, ws); err != nil {
		t.Fatal(err)
	}
	if n := mismatches(); n == 0 {
		t.Error("an hour row lost: no mismatch seen")
	}
}

// TestInt64sScan: the integer arrays' text form scans as bun's array decoding did.
func TestInt64sScan(t *testing.T) {
	for _, c := range []struct {
		src  any
		want int64s
		ok   bool
	}{
		{"{}", int64s{}, true}, {"{7}", int64s{7}, true}, {[]byte("{1,-2,30000}"), int64s{1, -2, 30000}, true}, {nil, nil, true},
		{"{1,}", nil, false}, {"{a}", nil, false}, {"1,2", nil, false}, {"{", nil, false}, {42, nil, false},
	} {
		var got int64s
		err := got.Scan(c.src)
		if (err == nil) != c.ok || (c.ok && !reflect.DeepEqual(got, c.want)) {
			t.Errorf("%v: %v (%v), want %v", c.src, got, err, c.want)
		}
	}
}

// TestIngestHistLiterals: a batch row's histogram is its distinct buckets ascending
// and their counts, as array literals.
func TestIngestHistLiterals(t *testing.T) {
	for _, c := range []struct {
		vals       []int
		bs, counts string
	}{
		{[]int{5}, "{5}", "{1}"},
		{[]int{5, 3, 5, 300, 3, 5}, "{3,5,300}", "{2,3,1}"},
		{[]int{7, 7, 7}, "{7}", "{3}"},
	} {
		var h ingestHist
		for _, v := range c.vals {
			h.add(v)
		}
		bs, counts, _ := h.literals([]byte("prefix"))
		if bs != c.bs || counts != c.counts {
			t.Errorf("%v: %s %s, want %s %s", c.vals, bs, counts, c.bs, c.counts)
		}
	}
}
