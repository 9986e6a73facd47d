package db

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loggraph/loggraph/model"
)

// RollupSlot is the width of a log_rollups slot. Every UTC offset in use is a whole
// number of quarter hours, so a slot lies within one bucket of any time zone's wall
// clock whose width is a multiple of it.
const RollupSlot = 15 * time.Minute

// slotOf is the start of the UTC slot holding t.
func slotOf(t time.Time) time.Time { return t.UTC().Truncate(RollupSlot) }

// rollupRows are the batch's stored records counted per slot and severity, as the
// parallel arrays the ingest statement unnests (in a stable order).
func (w *batchWriter) rollupRows(keep []int) (slots []time.Time, sevs []int16, counts []int64) {
	type key struct {
		slot int64
		sev  int16
	}
	n := map[key]int64{}
	for _, i := range keep {
		l, _ := w.logAt(i)
		n[key{slotOf(l.Time()).Unix(), int16(l.Severity())}]++
	}
	keys := make([]key, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool {
		if keys[a].slot != keys[b].slot {
			return keys[a].slot < keys[b].slot
		}
		return keys[a].sev < keys[b].sev
	})
	for _, k := range keys {
		slots, sevs, counts = append(slots, time.Unix(k.slot, 0).UTC()), append(sevs, k.sev), append(counts, n[k])
	}
	return slots, sevs, counts
}

// rebuildRollupsSQL counts kind k's rows of workspace $1 into log_rollups.
func rebuildRollupsSQL(k model.LogKind) string {
	return fmt.Sprintf(`INSERT INTO log_rollups (workspace_id, kind, slot, severity, n)
		SELECT workspace_id, '%[1]s', date_bin('15 minutes', %[2]s, 'epoch'), %[3]s, count(*)
		FROM %[4]s WHERE workspace_id = $1 GROUP BY 1, 3, 4`,
		string(k), pgx.Identifier{k.TimeColumn()}.Sanitize(), pgx.Identifier{severityExpr(k)}.Sanitize(),
		pgx.Identifier{k.Table()}.Sanitize())
}

// logFilterRollup classifies every field of model.LogFilter: "" when log_rollups can
// answer a filter that sets it (its dimensions are the kind, the slot and the
// severity), else the field's GraphQL name, which only the rows can answer.
// TestLogFilterRollupFields fails when a field is missing here, so a new filter field
// cannot silently be ignored by the rollup.
var logFilterRollup = map[string]string{
	"Kinds": "", "Time": "", "Severities": "", "MinSeverity": "",
	"Sources": "sources", "Search": "search", "TraceIDs": "traceIds",
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
	lo, hi = slotOf(h.From), slotOf(h.To)
	if lo.Before(h.From) {
		lo = lo.Add(RollupSlot)
	}
	if !lo.Before(hi) {
		return lo, hi, false
	}
	if h.Location != nil && !quarterHourZones(h.Location, lo, hi) {
		return lo, hi, false
	}
	return lo, hi, true
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

// AnalyticsPlan says how one analytic was answered: from log_rollups (with raw rows
// for the partial slots at the window's edges) or from the rows, and why.
type AnalyticsPlan struct {
	// Query names the analytic (histogram).
	Query string `json:"query"`
	// Rollup is true when whole slots came from log_rollups.
	Rollup bool `json:"rollup"`
	// Reason says why the rows were read instead (empty when Rollup).
	Reason string `json:"reason,omitempty"`
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
