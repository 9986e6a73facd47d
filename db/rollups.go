package db

import (
	"cmp"
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"github.com/loggraph/loggraph/model"
)

// RollupSlot is the width of a log_rollups slot. Every UTC offset in use is a whole
// number of quarter hours, so a slot lies within one bucket of any time zone's wall
// clock whose width is a multiple of it.
const RollupSlot = 15 * time.Minute

// slotOf is the start of the UTC slot holding t.
func slotOf(t time.Time) time.Time { return t.UTC().Truncate(RollupSlot) }

// rollupRows are the batch's stored records counted per slot and severity, in total
// (a nil source) and per source, as the parallel arrays the ingest statement unnests
// (in a stable order).
func (w *batchWriter) rollupRows(keep []int) (slots []time.Time, sevs []int16, sources []*string, counts []int64) {
	type key struct {
		slot     int64
		sev      int16
		source   string
		bySource bool
	}
	sourceAt := kindOf(w.kind).sourceAt
	n := map[key]int64{}
	for _, i := range keep {
		l, _ := w.logAt(i)
		slot, sev := slotOf(l.Time()).Unix(), int16(l.Severity())
		n[key{slot, sev, "", false}]++
		n[key{slot, sev, sourceAt(w, i), true}]++
	}
	keys := make([]key, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.slot, b.slot), cmp.Compare(a.sev, b.sev), cmpBool(a.bySource, b.bySource),
			strings.Compare(a.source, b.source))
	})
	for _, k := range keys {
		var source *string
		if k.bySource {
			source = &k.source
		}
		slots, sevs = append(slots, time.Unix(k.slot, 0).UTC()), append(sevs, k.sev)
		sources, counts = append(sources, source), append(counts, n[k])
	}
	return slots, sevs, sources, counts
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	default:
		return 1
	}
}

// logFilterRollup classifies every field of model.LogFilter: "" when log_rollups can
// answer a filter that sets it (its dimensions are the kind, the slot and the
// severity, source), else the field's GraphQL name, which only the rows can answer.
// TestLogFilterRollupFields fails when a field is missing here, so a new filter field
// cannot silently be ignored by the rollup.
var logFilterRollup = map[string]string{
	"Kinds": "", "Time": "", "Severities": "", "MinSeverity": "",
	"Sources": "", "Search": "search", "TraceIDs": "traceIds",
}

// rollupRefusal names the first set field of f that log_rollups cannot answer ("" when
// the rollup can serve f).
func rollupRefusal(f *model.LogFilter) string {
	if f == nil {
		return ""
	}
	v := reflect.ValueOf(f).Elem()
	t := v.Type()
	for i := range t.NumField() {
		name := t.Field(i).Name
		gql, known := logFilterRollup[name]
		if !known {
			gql = name
		}
		if gql != "" && isSet(v.Field(i)) {
			return gql
		}
	}
	return ""
}

// rollupSpan is the part of a histogram's window that log_rollups answers: the whole
// slots [lo, hi). ok is false when the rollup cannot answer the histogram at all (a
// bucket width that is not a whole number of slots, a time zone whose offset is not
// a whole number of quarter hours somewhere in the window, or no whole slot).
func (h HistogramSpec) rollupSpan() (lo, hi time.Time, ok bool) {
	if h.Interval%RollupSlot != 0 {
		return lo, hi, false
	}
	if lo, hi, ok = wholeSlots(h.From, h.To); !ok {
		return lo, hi, false
	}
	if h.Location != nil && !quarterHourZones(h.Location, lo, hi) {
		return lo, hi, false
	}
	return lo, hi, true
}

// wholeSlots is the span of the whole slots of [from, to): [lo, hi), ok when there is
// at least one.
func wholeSlots(from, to time.Time) (lo, hi time.Time, ok bool) {
	lo, hi = slotOf(from), slotOf(to)
	if lo.Before(from) {
		lo = lo.Add(RollupSlot)
	}
	return lo, hi, lo.Before(hi)
}

// quarterHourZones reports whether every offset loc uses in [from, to) is a whole
// number of quarter hours and changes only on a slot boundary: then each slot lies
// within one wall-clock bucket (local mean times of the 19th century are not).
func quarterHourZones(loc *time.Location, from, to time.Time) bool {
	for t := from.In(loc); t.Before(to); {
		if _, offset := t.Zone(); offset%int(RollupSlot/time.Second) != 0 {
			return false
		}
		_, end := t.ZoneBounds()
		if end.IsZero() || !end.Before(to) { // the zone lasts past the window
			return true
		}
		if !slotOf(end).Equal(end) {
			return false
		}
		t = end
	}
	return true
}

// rollupWhere restricts q, over log_rollups AS r, to kind k's slots of [lo, hi) of
// workspace ws that filter f keeps (f's fields are those rollupRefusal accepts): the
// per-source rows when bySource or f names sources, else the totals.
func rollupWhere(q *bun.SelectQuery, ws uuid.UUID, k model.LogKind, f *model.LogFilter, lo, hi time.Time, bySource bool) {
	q.Where("r.workspace_id = ? AND r.kind = ? AND r.slot >= ? AND r.slot < ?", ws, string(k), lo, hi)
	if bySource || (f != nil && len(f.Sources) > 0) {
		q.Where("r.source IS NOT NULL")
	} else {
		q.Where("r.source IS NULL")
	}
	rollupDims(q, ws, k, f)
}

// rollupDims restricts q, over a rollup table AS r, to the severities and sources f
// keeps.
func rollupDims(q *bun.SelectQuery, ws uuid.UUID, k model.LogKind, f *model.LogFilter) {
	if f == nil {
		return
	}
	if len(f.Severities) > 0 {
		q.Where("r.severity IN (?)", bun.List(f.Severities))
	}
	if f.MinSeverity != nil {
		q.Where("r.severity >= ?", *f.MinSeverity)
	}
	if len(f.Sources) > 0 {
		kindOf(k).whereRollupSource(q, ws, f.Sources)
	}
}

// planAnalytic is how analytic query over f is answered: from the rollups unless
// they are off, f sets a field they do not keep, or the window does not fit them
// (spanned false; noSpan says why).
func planAnalytic(query string, rowsOnly bool, f *model.LogFilter, spanned bool, noSpan string) AnalyticsPlan {
	plan := AnalyticsPlan{Query: query}
	switch refusal := rollupRefusal(f); {
	case rowsOnly:
		plan.Reason = "rollups off"
	case refusal != "":
		plan.Reason = "the filter sets " + refusal + ", which only the rows can answer"
	case !spanned:
		plan.Reason = noSpan
	default:
		plan.Rollup = true
	}
	return plan
}

// RollupMismatches counts the (kind, slot, severity, source) groups of workspace ws,
// totals (source NULL) included, whose log_rollups sum differs from a fresh count of
// the rows, plus the groups of log_pattern_rollups (PatternRollupMismatches) and the
// keys of request_rollups at each of its levels (requestMismatches) that differ
// likewise: 0 when the rollups are exact, as ingest, compaction, retention and
// deletion keep them.
func RollupMismatches(ctx context.Context, d *DB, ws uuid.UUID) (int, error) {
	total, err := PatternRollupMismatches(ctx, d, ws)
	if err != nil {
		return 0, err
	}
	for _, k := range model.AllKinds {
		ki := kindOf(k)
		var n int
		err := d.Pool.QueryRow(ctx, fmt.Sprintf(`
			SELECT count(*) FROM (
				SELECT date_bin('15 minutes', %[1]s, 'epoch') AS slot, %[2]s AS severity, %[3]s::text AS source, count(*) AS n
				FROM %[4]s WHERE workspace_id = $1 GROUP BY GROUPING SETS ((1, 2, 3), (1, 2))
			) raw FULL JOIN (
				SELECT slot, severity, source, sum(n) AS n FROM log_rollups
				WHERE workspace_id = $1 AND kind = $2 GROUP BY 1, 2, 3 HAVING sum(n) <> 0
			) r ON r.slot = raw.slot AND r.severity = raw.severity AND r.source IS NOT DISTINCT FROM raw.source
			WHERE raw.n IS DISTINCT FROM r.n`,
			pgx.Identifier{k.TimeColumn()}.Sanitize(), pgx.Identifier{ki.severity}.Sanitize(),
			pgx.Identifier{ki.source}.Sanitize(), pgx.Identifier{k.Table()}.Sanitize()), ws, string(k)).Scan(&n)
		if err != nil {
			return 0, fmt.Errorf("compare rollups of %s: %w", k.Table(), err)
		}
		total += n
	}
	n, err := requestMismatches(ctx, d, ws)
	return total + n, err
}

// AnalyticsPlan says how one analytic was answered: from log_rollups (with raw rows
// for the partial slots at the window's edges) or from the rows, and why.
type AnalyticsPlan struct {
	// Query names the analytic (histogram).
	Query string `json:"query"`
	// Rollup is true when whole slots came from log_rollups.
	Rollup bool `json:"rollup"`
	// Reason says why the rows were read instead (empty when Rollup).
	Reason string `json:"reason,omitempty"`
	// Cache, when the analytics cache is on, says which buckets came from it.
	Cache *AnalyticsCacheUse `json:"cache,omitempty"`
}

type analyticsPlansKey struct{}

// analyticsPlans collects the plans of one response.
type analyticsPlans struct {
	mu    sync.Mutex
	plans []AnalyticsPlan
}

// WithAnalyticsPlans returns ctx collecting the plans of the analytics run with it,
// and a function that returns them (nil when none ran).
func WithAnalyticsPlans(ctx context.Context) (context.Context, func() []AnalyticsPlan) {
	p := new(analyticsPlans)
	return context.WithValue(ctx, analyticsPlansKey{}, p), func() []AnalyticsPlan {
		p.mu.Lock()
		defer p.mu.Unlock()
		return slices.Clone(p.plans)
	}
}

// noteAnalyticsPlan records p in ctx's collector, if any.
func noteAnalyticsPlan(ctx context.Context, p AnalyticsPlan) {
	if c, _ := ctx.Value(analyticsPlansKey{}).(*analyticsPlans); c != nil {
		c.mu.Lock()
		c.plans = append(c.plans, p)
		c.mu.Unlock()
	}
}
