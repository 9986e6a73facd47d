package db

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/bits"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/loggraph/loggraph/model"
)

// request_rollups (migration 20261204100000) keeps, per workspace and 15-minute UTC
// slot, the API requests' count, error count, timing and delay sums, timing maximum
// and timing and delay histograms, in total and per one dimension (requestGrouping);
// since migration 20261205100000 also compacted per UTC hour and day (requestLevels).
// apiRequestStats sums its window's whole slots from it (requestRanges).

// Request histogram buckets: a value below 256 (ms) is its own bucket; above, the
// value's top 8 bits: 128 buckets per power of two, each holding the integers
// [m<<e, (m+1)<<e) for m in [128, 256). A bucket is thus narrower than 1/128 of its
// lower bound, and any value estimated inside the bucket of the true one is within
// RequestPercentileError of it, relatively.
const (
	// RequestPercentileError bounds the relative error of a percentile answered from
	// request_rollups against percentile_cont over the rows.
	RequestPercentileError = 1.0 / 128
	requestBucketBits      = 8
)

// RequestBucket is the histogram bucket of v (v >= 0).
func RequestBucket(v int) int {
	e := max(0, bits.Len32(uint32(v))-requestBucketBits)
	return e<<(requestBucketBits-1) + v>>e
}

// requestBucketRange is the first and last integer of bucket b.
func requestBucketRange(b int) (lo, hi int) {
	half := 1 << (requestBucketBits - 1)
	if b < 2*half {
		return b, b
	}
	e := b/half - 1
	m := b - e*half
	return m << e, (m+1)<<e - 1
}

// requestBucketSQL is RequestBucket over the integer SQL expression v: width_bucket
// over the powers of two finds the exponent exactly (no floating point).
func requestBucketSQL(v string) string {
	var pows []string
	for p := 1 << requestBucketBits; p > 0 && p <= math.MaxInt32/2+1; p <<= 1 {
		pows = append(pows, strconv.Itoa(p))
	}
	e := fmt.Sprintf("width_bucket(%s, '{%s}'::int[])", v, strings.Join(pows, ","))
	return fmt.Sprintf("(%[1]s * %[2]d + (%[3]s >> %[1]s))::int2", e, 1<<(requestBucketBits-1), v)
}

// requestGrouping values: PostgreSQL's GROUPING(collection_id, client_id, endpoint,
// code, gateway_code) of a request_rollups row (a bit set: the column is not grouped).

const requestGroupingTotal = 31

// requestDimCols are request_rollups' dimension columns, in GROUPING order.
var requestDimCols = []string{"collection_id", "client_id", "endpoint", "code", "gateway_code"}

// requestGroupingOf is the grouping of the rows kept per column col.
func requestGroupingOf(col string) int16 {
	i := slices.Index(requestDimCols, col)
	return int16(requestGroupingTotal &^ (1 << (len(requestDimCols) - 1 - i)))
}

// requestRollupsSQL inserts into request_rollups the summaries of the API request rows
// of from (a relation with api_request_logs' columns, a WHERE clause if any), counted
// with sign (1, or -1 for rows a statement deleted, whose timing_max is then NULL).
// Each row is counted twice in the inner grouping (m 0: its timing, m 1: its delay)
// so that both histograms come from one scan.
func requestRollupsSQL(from string, sign int) string {
	maxExpr := "max(mx) FILTER (WHERE m = 0)"
	if sign < 0 {
		maxExpr = "NULL::int"
	}
	return fmt.Sprintf(`INSERT INTO request_rollups (workspace_id, slot, grouping, collection_id, client_id, endpoint, code, gateway_code,
		n, errors, timing_sum, timing_max, delay_sum, timing_b, timing_n, delay_b, delay_n)
	SELECT workspace_id, slot, g, collection_id, client_id, endpoint, code, gateway_code,
		%[1]d * sum(c) FILTER (WHERE m = 0), %[1]d * sum(e) FILTER (WHERE m = 0), %[1]d * sum(s) FILTER (WHERE m = 0), %[2]s,
		%[1]d * sum(s) FILTER (WHERE m = 1),
		array_agg(b ORDER BY b) FILTER (WHERE m = 0), array_agg(%[1]d * c ORDER BY b) FILTER (WHERE m = 0),
		array_agg(b ORDER BY b) FILTER (WHERE m = 1), array_agg(%[1]d * c ORDER BY b) FILTER (WHERE m = 1)
	FROM (
		SELECT workspace_id, slot, GROUPING(collection_id, client_id, endpoint, code, gateway_code) AS g,
			collection_id, client_id, endpoint, code, gateway_code, m, b,
			count(*)::int AS c, count(*) FILTER (WHERE code >= 400) AS e, sum(v) AS s, max(v) AS mx
		FROM (
			SELECT t.workspace_id, date_bin('15 minutes', t.received_at, 'epoch') AS slot, t.collection_id,
				coalesce(t.client_id, -1) AS client_id, t.endpoint, t.code, coalesce(t.gateway_code, -1) AS gateway_code,
				v.m, v.v, %[3]s AS b
			FROM (SELECT * FROM %[4]s) AS t CROSS JOIN LATERAL (VALUES (0, t.timing_ms), (1, t.delay_ms)) AS v(m, v)
		) AS x
		GROUP BY workspace_id, slot, m, b, GROUPING SETS ((), (collection_id), (client_id), (endpoint), (code), (gateway_code))
	) AS y
	GROUP BY workspace_id, slot, g, collection_id, client_id, endpoint, code, gateway_code`,
		sign, maxExpr, requestBucketSQL("v.v"), from)
}

// int64s scans a PostgreSQL integer array's text form ({1,-2,3}) directly: the
// histograms are most of what an apiRequestStats answer from request_rollups reads,
// and bun's reflective array decoding took about half of its Go time.
type int64s []int64

// Scan implements sql.Scanner.
func (a *int64s) Scan(src any) error {
	var text string
	switch v := src.(type) {
	case nil:
		*a = nil
		return nil
	case string:
		text = v
	case []byte:
		text = string(v)
	default:
		return fmt.Errorf("scan %T into an integer array", src)
	}
	if len(text) < 2 || text[0] != '{' || text[len(text)-1] != '}' {
		return fmt.Errorf("not an integer array: %.40q", text)
	}
	body := text[1 : len(text)-1]
	out := make([]int64, 0, strings.Count(body, ",")+1)
	// Elements of int2/int4 arrays: an optional minus and at most 10 digits.
	for start := 0; start < len(body); {
		i, neg := start, body[start] == '-'
		if neg {
			i++
		}
		var n int64
		digits := 0
		for ; i < len(body) && body[i] != ','; i++ {
			c := body[i]
			if c < '0' || c > '9' || digits == 18 {
				return fmt.Errorf("not an integer array: %.40q", text)
			}
			n, digits = n*10+int64(c-'0'), digits+1
		}
		if digits == 0 || (i < len(body) && i == len(body)-1) { // an empty element, or a trailing comma
			return fmt.Errorf("not an integer array: %.40q", text)
		}
		if neg {
			n = -n
		}
		out = append(out, n)
		start = i + 1
	}
	*a = out
	return nil
}

// requestHist is a histogram of request values: count per bucket.
type requestHist map[int]int64

// add merges bucket numbers bs with counts ns into h.
func (h requestHist) add(bs, ns []int64) {
	for i, b := range bs {
		if i < len(ns) {
			h[int(b)] += int64(ns[i])
		}
	}
}

// merge adds o into h.
func (h requestHist) merge(o requestHist) {
	for b, n := range o {
		h[b] += n
	}
}

// quantiles estimates, for each p, percentile_cont(p) over the values counted in h:
// like percentile_cont, the value at the fractional rank p*(n-1) interpolated between
// the two order statistics around it, each estimated inside its bucket (spread
// evenly over the bucket's integers). Each estimate lies in the bucket of the order
// statistic it stands for, so the result is within RequestPercentileError of
// percentile_cont's. Buckets whose count is not positive (negative deltas not merged
// yet cancel to zero) are skipped.
func (h requestHist) quantiles(ps ...float64) []float64 {
	type bucket struct {
		b int
		n int64
	}
	var bs []bucket
	var total int64
	for b, n := range h {
		if n > 0 {
			bs = append(bs, bucket{b, n})
			total += n
		}
	}
	out := make([]float64, len(ps))
	if total == 0 {
		return out
	}
	slices.SortFunc(bs, func(x, y bucket) int { return cmp.Compare(x.b, y.b) })
	// at estimates the order statistic of 0-based rank r.
	at := func(r int64) float64 {
		for _, b := range bs {
			if r < b.n {
				lo, hi := requestBucketRange(b.b)
				return float64(lo) + float64(hi-lo)*(float64(r)+0.5)/float64(b.n)
			}
			r -= b.n
		}
		lo, hi := requestBucketRange(bs[len(bs)-1].b)
		return float64(lo+hi) / 2
	}
	for i, p := range ps {
		rank := p * float64(total-1)
		k := int64(math.Floor(rank))
		v := at(k)
		if f := rank - float64(k); f > 0 && k+1 < total {
			v += f * (at(k+1) - v)
		}
		out[i] = v
	}
	return out
}

// top is the last integer of h's highest non-empty bucket (0 when empty): an upper
// bound of the largest value within RequestPercentileError of it.
func (h requestHist) top() int {
	best := -1
	for b, n := range h {
		if n > 0 && b > best {
			best = b
		}
	}
	if best < 0 {
		return 0
	}
	_, hi := requestBucketRange(best)
	return hi
}

// requestSummary sums one group of request_rollups rows (or of raw rows).
type requestSummary struct {
	n, errors, timingSum, delaySum int64
	timingMax                      *int
	timing, delay                  requestHist
	pcts                           []float64 // percentiles' cache
}

func newRequestSummary() *requestSummary {
	return &requestSummary{timing: requestHist{}, delay: requestHist{}}
}

// merge adds o into s.
func (s *requestSummary) merge(o *requestSummary) {
	s.n, s.errors, s.timingSum, s.delaySum = s.n+o.n, s.errors+o.errors, s.timingSum+o.timingSum, s.delaySum+o.delaySum
	if o.timingMax != nil && (s.timingMax == nil || *o.timingMax > *s.timingMax) {
		m := *o.timingMax
		s.timingMax = &m
	}
	s.timing.merge(o.timing)
	s.delay.merge(o.delay)
}

// maxTiming is the largest timing: the stored maximum, unless deletions left it above
// the histogram's top bucket.
func (s *requestSummary) maxTiming() float64 {
	top := s.timing.top()
	if s.timingMax != nil && *s.timingMax <= top {
		return float64(*s.timingMax)
	}
	return float64(top)
}

// requestRollupKey is one request_rollups row of a batch: its slot, grouping and the
// grouped column's value (a collection or client id, code or gateway code, or the
// index of the endpoint in the batch's sorted endpoints), so that the keys order as
// the rows would.
type requestRollupKey struct {
	slot     int64
	grouping int16
	val      int64
}

// ingestHist is a histogram of a batch's request values: their bucket numbers, in
// arrival order (a row of a backfill batch holds a few values; sorting them once
// costs less than keeping them counted in order).
type ingestHist []int32

// add counts one value of bucket b.
func (h *ingestHist) add(b int) { *h = append(*h, int32(b)) }

// literals are h's buckets (ascending) and their counts as PostgreSQL array literals,
// appended to buf.
func (h ingestHist) literals(buf []byte) (buckets, counts string, out []byte) {
	slices.Sort(h)
	start := len(buf)
	buf = append(buf, '{')
	for i, b := range h {
		if i == 0 || b != h[i-1] {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = strconv.AppendInt(buf, int64(b), 10)
		}
	}
	buf = append(buf, '}')
	mid := len(buf)
	buf = append(buf, '{')
	for i := 0; i < len(h); {
		j := i + 1
		for j < len(h) && h[j] == h[i] {
			j++
		}
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = strconv.AppendInt(buf, int64(j-i), 10)
		i = j
	}
	buf = append(buf, '}')
	return string(buf[start:mid]), string(buf[mid:]), buf
}

// ingestSummary sums one request_rollups row of a batch.
type ingestSummary struct {
	n, errors, timingSum, delaySum int64
	timingMax                      int
	timing, delay                  ingestHist
}

// requestRollupArgs are the parallel arrays of a batch's request_rollups rows of one
// grouping, as its request_rollup_batches row holds them (the histograms as array
// literals).
type requestRollupArgs struct {
	grouping                                int16
	slots                                   []time.Time
	collections, clients                    []*int64
	endpoints                               []*string
	codes                                   []*int16
	gateways                                []*int32
	ns, errs, timingSums, timingMaxes, dSum []int64
	timingB, timingN, delayB, delayN        []string
}

// requestRollupBatch is a batch's request_rollups rows, per grouping.
type requestRollupBatch []*requestRollupArgs

// requestDimGroupings are the groupings of requestRollupRows after the total, in order.
var requestDimGroupings = []int16{requestGroupingOf("collection_id"), requestGroupingOf("client_id"), requestGroupingOf("endpoint"),
	requestGroupingOf("code"), requestGroupingOf("gateway_code")}

// requestRollupRows summarises the batch's stored API requests (keep) per slot in
// total and per dimension: per grouping, its rows in slot order.
func (w *batchWriter) requestRollupRows(keep []int) requestRollupBatch {
	var endpoints []string
	endpointAt := map[string]int64{}
	for _, i := range keep {
		e := w.b.APIRequest[i].Log.Endpoint
		if _, ok := endpointAt[e]; !ok {
			endpointAt[e] = 0
			endpoints = append(endpoints, e)
		}
	}
	slices.Sort(endpoints)
	for i, e := range endpoints {
		endpointAt[e] = int64(i)
	}
	at := map[requestRollupKey]int{}
	var keys []requestRollupKey
	var sums []ingestSummary
	for _, i := range keep {
		r := &w.b.APIRequest[i]
		l := &r.Log
		client, gateway := int64(-1), int64(-1)
		if r.Client != nil {
			client = w.clientIDs[*r.Client]
		}
		if l.GatewayCode != nil {
			gateway = int64(*l.GatewayCode)
		}
		slot := slotOf(l.ReceivedAt).Unix()
		vals := [...]int64{0, w.collectionIDs[r.Collection], client, endpointAt[l.Endpoint], int64(l.Code), gateway}
		tb, db := RequestBucket(l.TimingMs), RequestBucket(l.DelayMs)
		for g, val := range vals {
			k := requestRollupKey{slot: slot, grouping: requestGroupingTotal, val: val}
			if g > 0 {
				k.grouping = requestDimGroupings[g-1]
			}
			j, ok := at[k]
			if !ok {
				j = len(sums)
				at[k] = j
				keys, sums = append(keys, k), append(sums, ingestSummary{timingMax: l.TimingMs})
			}
			s := &sums[j]
			s.n++
			if l.Code >= 400 {
				s.errors++
			}
			s.timingSum, s.delaySum = s.timingSum+int64(l.TimingMs), s.delaySum+int64(l.DelayMs)
			s.timingMax = max(s.timingMax, l.TimingMs)
			s.timing.add(tb)
			s.delay.add(db)
		}
	}
	order := make([]int, len(keys))
	for j := range order {
		order[j] = j
	}
	slices.SortFunc(order, func(a, b int) int {
		ka, kb := keys[a], keys[b]
		return cmp.Or(cmp.Compare(ka.grouping, kb.grouping), cmp.Compare(ka.slot, kb.slot), cmp.Compare(ka.val, kb.val))
	})
	var out requestRollupBatch
	var buf []byte
	for _, j := range order {
		k, s := keys[j], &sums[j]
		if len(out) == 0 || out[len(out)-1].grouping != k.grouping {
			out = append(out, &requestRollupArgs{grouping: k.grouping})
		}
		a := out[len(out)-1]
		a.slots = append(a.slots, time.Unix(k.slot, 0).UTC())
		var coll, client *int64
		var endpoint *string
		var code *int16
		var gateway *int32
		switch val := k.val; k.grouping {
		case requestGroupingOf("collection_id"):
			coll = &val
		case requestGroupingOf("client_id"):
			client = &val
		case requestGroupingOf("endpoint"):
			endpoint = &endpoints[val]
		case requestGroupingOf("code"):
			c := int16(val)
			code = &c
		case requestGroupingOf("gateway_code"):
			g := int32(val)
			gateway = &g
		}
		a.collections, a.clients, a.endpoints = append(a.collections, coll), append(a.clients, client), append(a.endpoints, endpoint)
		a.codes, a.gateways = append(a.codes, code), append(a.gateways, gateway)
		a.ns, a.errs = append(a.ns, s.n), append(a.errs, s.errors)
		a.timingSums, a.timingMaxes, a.dSum = append(a.timingSums, s.timingSum), append(a.timingMaxes, int64(s.timingMax)), append(a.dSum, s.delaySum)
		var tb, tn, db, dn string
		tb, tn, buf = s.timing.literals(buf[:0])
		db, dn, buf = s.delay.literals(buf[:0])
		a.timingB, a.timingN, a.delayB, a.delayN = append(a.timingB, tb), append(a.timingN, tn), append(a.delayB, db), append(a.delayN, dn)
	}
	return out
}

// insert is the ingest statement's CTE inserting b as request_rollup_batches rows of
// workspace $1, one per grouping, the arrays bound as they are from parameter $p on,
// and those parameters; "" when b is empty.
func (b requestRollupBatch) insert(p int) (string, []any) {
	if len(b) == 0 {
		return "", nil
	}
	types := []string{"timestamptz", "timestamptz", "timestamptz[]", "int8[]", "int8[]", "text[]", "int2[]", "int4[]",
		"int8[]", "int8[]", "int8[]", "int8[]", "int8[]", "text[]", "text[]", "text[]", "text[]"}
	var rows []string
	var args []any
	for _, a := range b {
		row := []string{"$1", strconv.Itoa(int(a.grouping))}
		for i, typ := range types {
			row = append(row, fmt.Sprintf("$%d::%s", p+len(args)+i, typ))
		}
		rows = append(rows, "("+strings.Join(row, ", ")+")")
		args = append(args, a.slots[0], a.slots[len(a.slots)-1], a.slots, a.collections, a.clients, a.endpoints, a.codes,
			a.gateways, a.ns, a.errs, a.timingSums, a.timingMaxes, a.dSum, a.timingB, a.timingN, a.delayB, a.delayN)
	}
	return `requested AS (
			INSERT INTO request_rollup_batches (workspace_id, grouping, slot, last_slot, slots, collection_id, client_id, endpoint,
				code, gateway_code, n, errors, timing_sum, timing_max, delay_sum, timing_b, timing_n, delay_b, delay_n)
			VALUES ` + strings.Join(rows, ",\n\t\t\t\t") + `
		),`, args
}

// request_rollups' levels (migration 20261205100000): a row's width is the minutes
// it covers. Ingest and deletions insert pending rows (width 0, one 15-minute slot);
// the compaction (requestCompactSQL) moves them into the compacted rows of their key
// at every level of requestLevels, each a UTC-aligned slot, hour or day.
const requestPending = 0

// requestLevels are the compacted widths in minutes, widest first.
var requestLevels = []int16{1440, 60, 15}

// requestCompactSQL moves the pending request_rollups rows matching where (a
// condition over request_rollups' columns) and the packed rows of the
// request_rollup_batches rows matching batchWhere (over its columns) into the
// compacted levels, in one statement: it deletes them and the compacted rows of
// every (workspace, width, slot, grouping) they fall into, and inserts one row per
// key and level with the sums of both, histogram buckets summed (buckets and keys
// that cancel out left out). A row is thus either pending or folded into all three levels, never both;
// compactions running at once may leave two compacted rows of one key (each
// statement deletes only rows it saw), which queries sum and the next compaction
// merges.
func requestCompactSQL(where, batchWhere string) string {
	const keys = "workspace_id, width, slot, grouping, collection_id, client_id, endpoint, code, gateway_code"
	const cols = keys + ", n, errors, timing_sum, timing_max, delay_sum, timing_b, timing_n, delay_b, delay_n"
	return `
		WITH goneRows AS (
			DELETE FROM request_rollups WHERE width = ` + strconv.Itoa(requestPending) + ` AND (` + where + `) RETURNING *
		), goneBatches AS (
			DELETE FROM request_rollup_batches WHERE ` + batchWhere + ` RETURNING *
		), gone AS (
			SELECT ` + requestRollupCols + ` FROM goneRows
			UNION ALL SELECT ` + requestBatchCols + ` FROM ` + requestBatchFrom("goneBatches") + `
		), changed AS (
			` + changeSQL + `
			SELECT workspace_id, min(slot), max(slot) + interval '15 minutes' - interval '1 microsecond' FROM gone GROUP BY workspace_id
		), moved AS (
			SELECT g.workspace_id, l.w AS width, date_bin(make_interval(mins => l.w), g.slot, 'epoch') AS slot, g.grouping,
				g.collection_id, g.client_id, g.endpoint, g.code, g.gateway_code,
				g.n, g.errors, g.timing_sum, g.timing_max, g.delay_sum, g.timing_b, g.timing_n, g.delay_b, g.delay_n
			FROM gone AS g CROSS JOIN (VALUES ` + levelValues(requestLevels) + `) AS l(w)
		), folded AS (
			DELETE FROM request_rollups AS r USING (SELECT DISTINCT workspace_id, width, slot, grouping FROM moved) AS k
			WHERE r.workspace_id = k.workspace_id AND r.grouping = k.grouping AND r.width = k.width AND r.slot = k.slot
			RETURNING r.workspace_id, r.width, r.slot, r.grouping, r.collection_id, r.client_id, r.endpoint, r.code, r.gateway_code,
				r.n, r.errors, r.timing_sum, r.timing_max, r.delay_sum, r.timing_b, r.timing_n, r.delay_b, r.delay_n
		), src AS (
			SELECT ` + cols + ` FROM moved UNION ALL SELECT ` + cols + ` FROM folded
		), s AS (
			SELECT ` + keys + `, sum(n) AS n, sum(errors) AS e, sum(timing_sum) AS ts, max(timing_max) AS tm, sum(delay_sum) AS ds
			FROM src GROUP BY ` + keys + ` HAVING sum(n) <> 0
		), h AS (
			SELECT ` + keys + `, u.m, u.b, sum(u.c)::int AS c
			FROM src CROSS JOIN LATERAL (
				SELECT 0, b, c FROM unnest(src.timing_b, src.timing_n) AS t(b, c)
				UNION ALL SELECT 1, b, c FROM unnest(src.delay_b, src.delay_n) AS t(b, c)
			) AS u(m, b, c)
			GROUP BY ` + keys + `, u.m, u.b HAVING sum(u.c) <> 0
		), a AS (
			SELECT ` + keys + `, array_agg(b ORDER BY b) FILTER (WHERE m = 0) AS tb, array_agg(c ORDER BY b) FILTER (WHERE m = 0) AS tn,
				array_agg(b ORDER BY b) FILTER (WHERE m = 1) AS db, array_agg(c ORDER BY b) FILTER (WHERE m = 1) AS dn
			FROM h GROUP BY ` + keys + `
		)
		INSERT INTO request_rollups (` + cols + `)
		SELECT s.workspace_id, s.width, s.slot, s.grouping, s.collection_id, s.client_id, s.endpoint, s.code, s.gateway_code,
			s.n, s.e, s.ts, s.tm, s.ds, coalesce(a.tb, '{}'), coalesce(a.tn, '{}'), coalesce(a.db, '{}'), coalesce(a.dn, '{}')
		FROM s LEFT JOIN a ON a.workspace_id = s.workspace_id AND a.width = s.width AND a.slot = s.slot AND a.grouping = s.grouping
			AND (a.collection_id, a.client_id, a.endpoint, a.code, a.gateway_code) IS NOT DISTINCT FROM
			    (s.collection_id, s.client_id, s.endpoint, s.code, s.gateway_code)
		ORDER BY s.workspace_id, s.grouping, s.width, s.slot -- request_rollups_idx's order: a level's rows together in the heap`
}

// mergeRequestRollups is mergeCounts for request_rollups (scope without a kind): it
// compacts the scope's pending rows (requestCompactSQL). It returns the rows written.
func mergeRequestRollups(ctx context.Context, d *DB, scope countScope) (int64, error) {
	where, args := scope.where("slot")
	batchWhere, _ := scope.whereSpan("slot", "last_slot")
	tag, err := d.Pool.Exec(ctx, requestCompactSQL(where, batchWhere), args...)
	if err != nil {
		return 0, fmt.Errorf("compact request rollups: %w", err)
	}
	return tag.RowsAffected(), nil
}

// CompactRequestRollups compacts the pending request_rollups rows of the slots
// before before (of every workspace) into their 15-minute, hour and day rows, so
// that apiRequestStats over days reads a day row per key and day. It returns the
// rows written. serve runs it every few minutes with the current slot's start.
func CompactRequestRollups(ctx context.Context, d *DB, before time.Time) (int64, error) {
	return mergeRequestRollups(ctx, d, countScope{to: before})
}

// requestMismatches counts, at every level of requestLevels, the request_rollups
// keys of workspace ws (a level's slot, hour or day, and a grouping's values) whose
// compacted rows of that level plus the pending rows inside it sum to a count,
// errors, sums or histogram buckets other than a fresh count of the rows, or whose
// timing maximum is below the rows', plus the compacted rows not aligned to their
// width: 0 when every query's sum over levels is exact, so a level counted twice (a
// pending row left beside its compacted sum) or lost shows.
func requestMismatches(ctx context.Context, d *DB, ws uuid.UUID) (int, error) {
	const keys = "w, slot, g, collection_id, client_id, endpoint, code, gateway_code"
	batchesSQL, err := rawSQL(requestRollupsWithBatches("b.workspace_id = $1"))
	if err != nil {
		return 0, err
	}
	var n int
	err = d.Pool.QueryRow(ctx, `
		WITH lv(w) AS (VALUES `+levelValues(requestLevels)+`), base AS (
			SELECT lv.w, date_bin(make_interval(mins => lv.w), t.received_at, 'epoch') AS slot, t.collection_id,
				coalesce(t.client_id, -1) AS client_id, t.endpoint, t.code, coalesce(t.gateway_code, -1) AS gateway_code,
				t.timing_ms, t.delay_ms
			FROM api_request_logs AS t CROSS JOIN lv WHERE t.workspace_id = $1
		), raw AS (
			SELECT w, slot, GROUPING(collection_id, client_id, endpoint, code, gateway_code) AS g, collection_id, client_id, endpoint, code, gateway_code,
				count(*) AS n, count(*) FILTER (WHERE code >= 400) AS e, sum(timing_ms) AS ts, max(timing_ms) AS tm, sum(delay_ms) AS ds
			FROM base GROUP BY w, slot, GROUPING SETS ((), (collection_id), (client_id), (endpoint), (code), (gateway_code))
		), rawh AS (
			SELECT w, slot, GROUPING(collection_id, client_id, endpoint, code, gateway_code) AS g, collection_id, client_id, endpoint, code, gateway_code,
				m, b, count(*) AS c
			FROM (SELECT base.*, v.m, `+requestBucketSQL("v.v")+` AS b
				FROM base CROSS JOIN LATERAL (VALUES (0, base.timing_ms), (1, base.delay_ms)) AS v(m, v)) AS x
			GROUP BY w, slot, m, b, GROUPING SETS ((), (collection_id), (client_id), (endpoint), (code), (gateway_code))
		), stored AS (
			SELECT lv.w, date_bin(make_interval(mins => lv.w), r.slot, 'epoch') AS slot, r.grouping AS g, r.collection_id, r.client_id,
				r.endpoint, r.code, r.gateway_code, r.n, r.errors, r.timing_sum, r.timing_max, r.delay_sum, r.timing_b, r.timing_n, r.delay_b, r.delay_n
			FROM (`+batchesSQL+`) AS r JOIN lv ON r.width IN (`+strconv.Itoa(requestPending)+`, lv.w)
			WHERE r.workspace_id = $1
		), st AS (
			SELECT `+keys+`, sum(n) AS n, sum(errors) AS e, sum(timing_sum) AS ts, max(timing_max) AS tm, sum(delay_sum) AS ds
			FROM stored GROUP BY `+keys+` HAVING sum(n) <> 0
		), sth AS (
			SELECT `+keys+`, u.m, u.b, sum(u.c) AS c
			FROM stored AS r CROSS JOIN LATERAL (
				SELECT 0, b, c FROM unnest(r.timing_b, r.timing_n) AS t(b, c)
				UNION ALL SELECT 1, b, c FROM unnest(r.delay_b, r.delay_n) AS t(b, c)
			) AS u(m, b, c)
			GROUP BY `+keys+`, u.m, u.b HAVING sum(u.c) <> 0
		)
		SELECT (SELECT count(*) FROM raw FULL JOIN st ON st.w = raw.w AND st.slot = raw.slot AND st.g = raw.g
				AND (st.collection_id, st.client_id, st.endpoint, st.code, st.gateway_code) IS NOT DISTINCT FROM
				    (raw.collection_id, raw.client_id, raw.endpoint, raw.code, raw.gateway_code)
			WHERE (raw.n, raw.e, raw.ts, raw.ds) IS DISTINCT FROM (st.n, st.e, st.ts, st.ds) OR st.tm < raw.tm)
		     + (SELECT count(*) FROM rawh FULL JOIN sth ON sth.w = rawh.w AND sth.slot = rawh.slot AND sth.g = rawh.g
				AND sth.m = rawh.m AND sth.b = rawh.b
				AND (sth.collection_id, sth.client_id, sth.endpoint, sth.code, sth.gateway_code) IS NOT DISTINCT FROM
				    (rawh.collection_id, rawh.client_id, rawh.endpoint, rawh.code, rawh.gateway_code)
			WHERE rawh.c IS DISTINCT FROM sth.c)
		     + (SELECT count(*) FROM request_rollups WHERE workspace_id = $1 AND width <> `+strconv.Itoa(requestPending)+`
			AND slot <> date_bin(make_interval(mins => width), slot, 'epoch'))`, ws).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("compare request rollups: %w", err)
	}
	return n, nil
}

// requestFilterFamily classifies every field of model.APIRequestLogFilter: the
// request_rollups column a filter setting it needs ("" for the window), or, prefixed
// with "rows:", its GraphQL name when only the rows can answer it.
// TestRequestFilterRollupFields fails when a field is missing here.
var requestFilterFamily = map[string]string{
	"Time": "", "Codes": "code", "CodeClasses": "code", "Outcome": "code", "GatewayCodes": "gateway_code",
	"Clients": "client_id", "Collections": "collection_id", "CollectionType": "collection_id", "Endpoints": "endpoint",
	"IPs": "rows:ips", "MinTimingMs": "rows:minTimingMs", "MaxTimingMs": "rows:maxTimingMs",
	"Search": "rows:search", "TraceIDs": "rows:traceIds",
}

// requestDimFamily is the request_rollups column each grouping dimension needs.
var requestDimFamily = map[model.APIRequestDimension]string{
	model.APIRequestDimensionClient: "client_id", model.APIRequestDimensionCollection: "collection_id",
	model.APIRequestDimensionCollectionType: "collection_id", model.APIRequestDimensionEndpoint: "endpoint",
	model.APIRequestDimensionCode: "code", model.APIRequestDimensionCodeClass: "code", model.APIRequestDimensionGatewayCode: "gateway_code",
}

// requestRollupColumn is the one request_rollups column a query's groups and filter
// need ("" for the totals), or the reason the rows must answer it.
func requestRollupColumn(dims []model.APIRequestDimension, f *model.APIRequestLogFilter) (col, refusal string) {
	need := map[string]bool{}
	for _, d := range dims {
		need[requestDimFamily[d]] = true
	}
	v := reflect.ValueOf(f).Elem()
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		fam, known := requestFilterFamily[name]
		if !known {
			fam = "rows:" + name
		}
		if fam == "" || !isSet(v.Field(i)) {
			continue
		}
		if gql, ok := strings.CutPrefix(fam, "rows:"); ok {
			return "", "the filter sets " + gql + ", which only the rows can answer"
		}
		need[fam] = true
	}
	if len(need) > 1 {
		cols := slices.Sorted(maps.Keys(need))
		return "", "groupBy and filter together need " + strings.Join(cols, " and ") + "; request_rollups keeps one dimension at a time"
	}
	for c := range need {
		col = c
	}
	return col, ""
}

// requestStatsPlan says whether request_rollups answers apiRequestStats, and why not.
func (s *LogStore) requestStatsPlan(dims []model.APIRequestDimension, f *model.APIRequestLogFilter, interval *time.Duration, w statsWindow) AnalyticsPlan {
	plan := AnalyticsPlan{Query: "apiRequestStats"}
	_, refusal := requestRollupColumn(dims, f)
	_, _, spanned := wholeSlots(w.From, w.To)
	switch {
	case s.rowsOnly:
		plan.Reason = "rollups off"
	case refusal != "":
		plan.Reason = refusal
	case interval != nil && (*interval%RollupSlot != 0):
		plan.Reason = "the interval is not a whole number of 15-minute slots"
	case !spanned:
		plan.Reason = "the window holds no whole 15-minute slot"
	default:
		plan.Rollup = true
	}
	return plan
}

// requestRange is a range of whole slots [from, to) that request_rollups' rows of one
// width answer.
type requestRange struct {
	width    int16
	from, to time.Time
}

// requestRanges splits the whole slots [lo, hi) (15-minute aligned) among the levels:
// the pending rows of all of it, and the compacted rows of the widest level that
// fits each part (its whole UTC days, then its other whole hours, then its other
// slots), so that each compacted row is read at exactly one level. With buckets of
// intervalUs microseconds (a whole number of slots, aligned at the epoch), only the
// levels whose width divides the interval, whose rows thus lie each in one bucket.
func requestRanges(lo, hi time.Time, intervalUs int64) []requestRange {
	return levelRanges(requestLevels, lo, hi, intervalUs)
}

// levelValues are a rollup's compacted widths as the rows of a VALUES list.
func levelValues(levels []int16) string {
	rows := make([]string, len(levels))
	for i, w := range levels {
		rows[i] = fmt.Sprintf("(%d::int2)", w)
	}
	return strings.Join(rows, ", ")
}

// levelRanges is requestRanges for a rollup whose compacted widths are levels
// (widest first).
func levelRanges(levels []int16, lo, hi time.Time, intervalUs int64) []requestRange {
	var widths []int16
	for _, w := range levels {
		if intervalUs == 0 || intervalUs%(time.Duration(w)*time.Minute).Microseconds() == 0 {
			widths = append(widths, w)
		}
	}
	out := []requestRange{{width: requestPending, from: lo, to: hi}}
	var cover func(lo, hi time.Time, widths []int16)
	cover = func(lo, hi time.Time, widths []int16) {
		if !lo.Before(hi) || len(widths) == 0 {
			return
		}
		d := time.Duration(widths[0]) * time.Minute
		a, b := lo.Truncate(d), hi.Truncate(d) // UTC-aligned: Truncate counts from year 1, a whole number of days before the epoch
		if a.Before(lo) {
			a = a.Add(d)
		}
		if !a.Before(b) {
			cover(lo, hi, widths[1:])
			return
		}
		cover(lo, a, widths[1:])
		out = append(out, requestRange{width: widths[0], from: a, to: b})
		cover(b, hi, widths[1:])
	}
	cover(lo.UTC(), hi.UTC(), widths)
	return out
}

// requestStatsRow is one scanned (group, bucket) of apiRequestStatsFromRollup.
type requestStatsRow struct {
	Bucket         time.Time `bun:"bucket"`
	Client         *string   `bun:"client"`
	Collection     *string   `bun:"collection"`
	CollectionType *string   `bun:"collection_type"`
	Endpoint       *string   `bun:"endpoint"`
	Code           *int      `bun:"code"`
	CodeClass      *string   `bun:"code_class"`
	GatewayCode    *int      `bun:"gateway_code"`
	N              int64     `bun:"n"`
	Errors         int64     `bun:"e"`
	TimingSum      int64     `bun:"ts"`
	TimingMax      *int      `bun:"tm"`
	DelaySum       int64     `bun:"ds"`
	TimingB        int64s    `bun:"tb"`
	TimingN        int64s    `bun:"tn"`
	DelayB         int64s    `bun:"db"`
	DelayN         int64s    `bun:"dn"`
	// Width and Cell are a compacted row's level and start (nil for the pending and
	// raw rows): the analytics cache keeps them per (level, start).
	Width *int16     `bun:"w"`
	Cell  *time.Time `bun:"cell"`
}

// apiRequestStatsFromRollup is APIRequestStats over request_rollups' whole slots of the
// window plus the rows of its partial first and last slots, in one statement; each
// (group, bucket) is summed here, the groups are then ranked, cut to the first First
// and the rest summed into the other row here, percentiles estimated from the merged
// histograms (RequestPercentileError). labels are the label columns over the group
// g, joins their name joins (with their arguments joinArgs).
func (s *LogStore) apiRequestStatsFromRollup(ctx context.Context, ws uuid.UUID, q APIRequestStatsQuery, dims []model.APIRequestDimension,
	f *model.APIRequestLogFilter, w statsWindow, labels string, joins []string, joinArgs []any, plan *AnalyticsPlan) ([]model.APIRequestStatsRow, error) {
	col, _ := requestRollupColumn(dims, f)
	grouping := int16(requestGroupingTotal)
	if col != "" {
		grouping = requestGroupingOf(col)
	}
	lo, hi, _ := wholeSlots(w.From, w.To)
	keyCols := []string{"1 AS k0"}
	keyNames := []string{"k0"}
	needsType := false
	if len(dims) > 0 {
		keyCols, keyNames = nil, nil
		for i, d := range dims {
			keyCols = append(keyCols, fmt.Sprintf("%s AS k%d", requestDims[d].key, i))
			keyNames = append(keyNames, fmt.Sprintf("k%d", i))
			needsType = needsType || d == model.APIRequestDimensionCollectionType
		}
	}
	// The whole slots: request_rollups AS t, whose columns bear the rows' names, so the
	// filter (only the fields of the one column kept) applies as it does to the rows.
	// Each level reads its own ranges (requestRanges), one index range scan each.
	dimsOnly := *f
	dimsOnly.Time = nil
	ranges := requestRanges(lo, hi, w.IntervalUs)
	st := requestStatsStatement{ws: ws, f: f, dimsOnly: &dimsOnly, w: w, grouping: grouping, keyCols: keyCols, keyNames: keyNames,
		needsType: needsType, labels: labels, joins: joins, joinArgs: joinArgs}
	if s.cache == nil {
		rows, err := st.rows(ctx, s, ranges)
		if err != nil {
			return nil, err
		}
		return rankRequestStats(rows, q, dims, w.IntervalUs > 0), nil
	}
	cut := fmt.Sprintf("%v|%d", dims, w.IntervalUs)
	var rows []requestStatsRow
	err := s.db.RunInTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}, func(ctx context.Context, tx bun.Tx) error {
		in := *s
		in.db = tx
		var err error
		rows, err = in.cachedRequestStatsRows(ctx, ws, &dimsOnly, cut, ranges, plan, func(ranges []requestRange) ([]requestStatsRow, error) {
			return st.rows(ctx, &in, ranges)
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return rankRequestStats(rows, q, dims, w.IntervalUs > 0), nil
}

// requestStatsStatement is what apiRequestStatsFromRollup's statement is made of: the
// filter (dimsOnly: without its time), the window, the grouping read, the groups'
// key columns keyCols (named keyNames; needsType joins the collections for their
// type), and the label columns with their name joins (and arguments).
type requestStatsStatement struct {
	ws                uuid.UUID
	f, dimsOnly       *model.APIRequestLogFilter
	w                 statsWindow
	grouping          int16
	keyCols, keyNames []string
	needsType         bool
	labels            string
	joins             []string
	joinArgs          []any
}

// rows runs the statement through s: the request_rollups rows of ranges and the raw
// rows of the window's partial edge slots, each with its group's labels.
func (st requestStatsStatement) rows(ctx context.Context, s *LogStore, ranges []requestRange) ([]requestStatsRow, error) {
	ws, f, dimsOnly, w, grouping := st.ws, st.f, st.dimsOnly, st.w, st.grouping
	keyCols, keyNames, needsType, labels, joins, joinArgs := st.keyCols, st.keyNames, st.needsType, st.labels, st.joins, st.joinArgs
	lo, hi, _ := wholeSlots(w.From, w.To)
	bucket := func(c string) (string, []any) {
		if w.IntervalUs == 0 {
			return "'epoch'::timestamptz", nil
		}
		return w.bucketExpr(c)
	}
	withKeys := func(b *bun.SelectQuery, timeCol string) {
		expr, args := bucket(timeCol)
		b.ColumnExpr(strings.Join(keyCols, ", ")).ColumnExpr(expr+" AS bucket", args...)
		if needsType {
			b.Join("JOIN api_collections AS ct ON ct.workspace_id = t.workspace_id AND ct.id = t.collection_id")
		}
	}
	var parts []string
	var srcArgs []any
	for _, r := range ranges {
		rolled := s.db.NewSelect().TableExpr("request_rollups AS t")
		if r.width == requestPending { // with the batches' packed rows
			rolled = s.db.NewSelect().TableExpr("(?) AS t", requestPendingFrom(ws, grouping, r.from, r.to))
		}
		rolled.Where("t.workspace_id = ? AND t.grouping = ? AND t.width = ? AND t.slot >= ? AND t.slot < ?", ws, grouping, r.width, r.from, r.to)
		if err := filterAPIRequest(rolled, ws, dimsOnly); err != nil {
			return nil, err
		}
		withKeys(rolled, "slot")
		rolled.ColumnExpr("t.n, t.errors, t.timing_sum, t.timing_max, t.delay_sum, t.timing_b, t.timing_n, t.delay_b, t.delay_n")
		if r.width == requestPending {
			rolled.ColumnExpr("NULL::smallint AS w, NULL::timestamptz AS cell")
		} else {
			rolled.ColumnExpr("t.width AS w, t.slot AS cell")
		}
		parts, srcArgs = append(parts, "?"), append(srcArgs, rolled)
	}
	src := strings.Join(parts, " UNION ALL ")
	// The partial slots: the rows, each as a one-row summary.
	for _, edge := range [][2]time.Time{{w.From, lo}, {hi, w.To}} {
		if !edge[0].Before(edge[1]) {
			continue
		}
		ef := *f
		ef.Time = &model.TimeRange{From: &edge[0], To: &edge[1]}
		raw, err := s.kindQuery(ws, model.KindAPIRequest, &ef, nil)
		if err != nil {
			return nil, err
		}
		withKeys(raw, "received_at")
		raw.ColumnExpr("1::bigint, (t.code >= 400)::int::bigint, t.timing_ms::bigint, t.timing_ms, t.delay_ms::bigint, " +
			"ARRAY[" + requestBucketSQL("t.timing_ms") + "], ARRAY[1], ARRAY[" + requestBucketSQL("t.delay_ms") + "], ARRAY[1], " +
			"NULL::smallint, NULL::timestamptz")
		src += " UNION ALL ?"
		srcArgs = append(srcArgs, raw)
	}
	keyList := strings.Join(keyNames, ", ")
	// The rows go to Go unmerged: summing the sparse histograms there costs less than
	// unnesting them into a hash aggregate (at 1M rows, 7 days of 40 endpoints: 1,256
	// rollup rows, 45,000 histogram entries; 43 ms against 71 ms merged in SQL, see
	// BENCHMARKS.md); each row carries its group's labels, looked up once per group.
	stmt := `WITH src AS (` + src + `),
keys AS (SELECT DISTINCT ` + keyList + ` FROM src),
lab AS (SELECT g.*, ` + labels + ` FROM keys AS g ` + strings.Join(joins, " ") + `)
SELECT src.bucket, src.n, src.errors AS e, src.timing_sum AS ts, src.timing_max AS tm, src.delay_sum AS ds,
	src.timing_b AS tb, src.timing_n AS tn, src.delay_b AS db, src.delay_n AS dn, src.w, src.cell,
	lab.client, lab.collection, lab.collection_type, lab.endpoint, lab.code, lab.code_class, lab.gateway_code
FROM src JOIN lab USING (` + keyList + `)`
	var rows []requestStatsRow
	if err := s.db.NewRaw(stmt, append(srcArgs, joinArgs...)...).Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("api request stats: %w", err)
	}
	return rows, nil
}

// requestGroup is one group of a rollup answer: its labels, its whole-window summary
// (which ranks it) and its buckets' summaries.
type requestGroup struct {
	labels  requestStatsRow
	total   *requestSummary
	buckets map[time.Time]*requestSummary
	measure float64
}

// addRow adds a scanned row into s.
func (s *requestSummary) addRow(r *requestStatsRow) {
	s.n, s.errors, s.timingSum, s.delaySum = s.n+r.N, s.errors+r.Errors, s.timingSum+r.TimingSum, s.delaySum+r.DelaySum
	if r.TimingMax != nil && (s.timingMax == nil || *r.TimingMax > *s.timingMax) {
		m := *r.TimingMax
		s.timingMax = &m
	}
	s.timing.add(r.TimingB, r.TimingN)
	s.delay.add(r.DelayB, r.DelayN)
}

// percentiles are s's timing p50, p90, p95, p99 and delay p95, computed once: s is
// complete when they are first asked for (the ranking, then the answer's rows).
func (s *requestSummary) percentiles() []float64 {
	if s.pcts == nil {
		s.pcts = append(s.timing.quantiles(0.5, 0.9, 0.95, 0.99), s.delay.quantiles(0.95)...)
	}
	return s.pcts
}

// measure is the value of field f over s, as requestMeasures computes it over rows.
func (s *requestSummary) measure(f model.APIRequestStatsField) float64 {
	n := float64(s.n)
	switch f {
	case model.APIRequestStatsFieldErrorCount:
		return float64(s.errors)
	case model.APIRequestStatsFieldErrorRate:
		return float64(s.errors) / n
	case model.APIRequestStatsFieldTimingP50:
		return s.percentiles()[0]
	case model.APIRequestStatsFieldTimingP90:
		return s.percentiles()[1]
	case model.APIRequestStatsFieldTimingP95:
		return s.percentiles()[2]
	case model.APIRequestStatsFieldTimingP99:
		return s.percentiles()[3]
	case model.APIRequestStatsFieldTimingAvg:
		return float64(s.timingSum) / n
	case model.APIRequestStatsFieldTimingMax:
		return s.maxTiming()
	case model.APIRequestStatsFieldDelayAvg:
		return float64(s.delaySum) / n
	case model.APIRequestStatsFieldDelayP95:
		return s.percentiles()[4]
	}
	return n
}

// rankRequestStats orders the groups of rows as APIRequestStats does (the measure,
// then the labels in groupBy's order, byte-wise, nulls first), keeps the first
// q.First and sums the rest into the other row, per bucket.
func rankRequestStats(rows []requestStatsRow, q APIRequestStatsQuery, dims []model.APIRequestDimension, bucketed bool) []model.APIRequestStatsRow {
	groups := map[string]*requestGroup{}
	var order []*requestGroup
	for i := range rows {
		r := &rows[i]
		key, _ := json.Marshal([]any{r.Client, r.Collection, r.CollectionType, r.Endpoint, r.Code, r.CodeClass, r.GatewayCode})
		k := string(key)
		g := groups[k]
		if g == nil {
			g = &requestGroup{labels: *r, total: newRequestSummary(), buckets: map[time.Time]*requestSummary{}}
			groups[k] = g
			order = append(order, g)
		}
		b := g.buckets[r.Bucket]
		if b == nil {
			b = newRequestSummary()
			g.buckets[r.Bucket] = b
		}
		b.addRow(r)
	}
	for _, g := range order {
		if len(g.buckets) == 1 { // no interval: the total is the one bucket (read only from here on)
			for _, b := range g.buckets {
				g.total = b
			}
			continue
		}
		for _, b := range g.buckets {
			g.total.merge(b)
		}
	}
	// Groups (and below, buckets) whose rows were all deleted, their negative rows not
	// merged yet, are no groups.
	order = slices.DeleteFunc(order, func(g *requestGroup) bool { return g.total.n <= 0 })
	for _, g := range order {
		g.measure = g.total.measure(q.OrderBy)
	}
	slices.SortFunc(order, func(a, b *requestGroup) int {
		c := cmp.Compare(a.measure, b.measure)
		if q.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
		for _, d := range dims {
			if c := compareLabel(a.labels, b.labels, d); c != 0 {
				return c
			}
		}
		return 0
	})
	grouped := len(dims) > 0
	var out []model.APIRequestStatsRow
	emit := func(labels *requestStatsRow, buckets map[time.Time]*requestSummary, other bool) {
		times := slices.SortedFunc(maps.Keys(buckets), func(a, b time.Time) int { return a.Compare(b) })
		for _, t := range times {
			sum := buckets[t]
			if sum.n <= 0 {
				continue
			}
			p := sum.percentiles()
			row := model.APIRequestStatsRow{Other: other, Count: int(sum.n), ErrorCount: int(sum.errors),
				ErrorRate: float64(sum.errors) / float64(sum.n),
				Timing:    &model.TimingStats{P50: p[0], P90: p[1], P95: p[2], P99: p[3], Avg: float64(sum.timingSum) / float64(sum.n), Max: sum.maxTiming()},
				Delay:     &model.DelayStats{Avg: float64(sum.delaySum) / float64(sum.n), P95: p[4]}}
			if labels != nil {
				row.Client, row.Collection, row.Endpoint, row.Code, row.CodeClass, row.GatewayCode =
					labels.Client, labels.Collection, labels.Endpoint, labels.Code, labels.CodeClass, labels.GatewayCode
				if labels.CollectionType != nil {
					ct := model.CollectionType(*labels.CollectionType)
					row.CollectionType = &ct
				}
			}
			if bucketed {
				b := t.UTC()
				row.Bucket = &b
			}
			out = append(out, row)
		}
	}
	rest := map[time.Time]*requestSummary{}
	for i, g := range order {
		if i < q.First || !grouped {
			emit(&g.labels, g.buckets, false)
			continue
		}
		for t, sum := range g.buckets {
			if rest[t] == nil {
				rest[t] = newRequestSummary()
			}
			rest[t].merge(sum)
		}
	}
	emit(nil, rest, true)
	if out == nil {
		out = []model.APIRequestStatsRow{}
	}
	return out
}

// compareLabel orders two groups by dimension d's label, as the statement's tie-break:
// nulls first, strings byte-wise, codes numerically.
func compareLabel(a, b requestStatsRow, d model.APIRequestDimension) int {
	nullsFirst := func(x, y bool) int { return cmpBool(x, y) } // x, y: set; unset first
	str := func(x, y *string) int {
		if x == nil || y == nil {
			return nullsFirst(x != nil, y != nil)
		}
		return strings.Compare(*x, *y)
	}
	num := func(x, y *int) int {
		if x == nil || y == nil {
			return nullsFirst(x != nil, y != nil)
		}
		return cmp.Compare(*x, *y)
	}
	switch d {
	case model.APIRequestDimensionClient:
		return str(a.Client, b.Client)
	case model.APIRequestDimensionCollection:
		return str(a.Collection, b.Collection)
	case model.APIRequestDimensionCollectionType:
		return str(a.CollectionType, b.CollectionType)
	case model.APIRequestDimensionEndpoint:
		return str(a.Endpoint, b.Endpoint)
	case model.APIRequestDimensionCode:
		return num(a.Code, b.Code)
	case model.APIRequestDimensionCodeClass:
		return str(a.CodeClass, b.CodeClass)
	}
	return num(a.GatewayCode, b.GatewayCode)
}
