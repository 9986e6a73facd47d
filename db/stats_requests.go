package db

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/loggraph/loggraph/model"
)

// Guardrails of the analytics answers: beyond them a query is refused with a
// message saying how to narrow it, rather than tying up the database and the
// client with an answer nobody can read.
const (
	// MaxStatsBuckets bounds the time buckets of one answer.
	MaxStatsBuckets = 10_000
	// MaxStatsGroups bounds the groups of one answer.
	MaxStatsGroups = 1_000
	// MaxStatsRows bounds groups x buckets of one answer.
	MaxStatsRows = 100_000
	// MinStatsInterval is the narrowest time bucket.
	MinStatsInterval = time.Millisecond
	// DefaultStatsGroups is how many groups apiRequestStats shows before its other row.
	DefaultStatsGroups = 50
)

// bucketOrigin aligns every time bucket: 1h buckets start on the hour and 1d
// buckets at UTC midnight, so the same interval always gives the same buckets.
var bucketOrigin = time.Unix(0, 0).UTC()

// statsWindow is a resolved analytics window: [From, To), with optional buckets.
type statsWindow struct {
	From, To time.Time
	// IntervalUs is the bucket width in microseconds (PostgreSQL's resolution), 0
	// without buckets.
	IntervalUs int64
	// Buckets is how many buckets the window touches (1 without an interval).
	Buckets int64
}

// resolveWindow bounds an analytics query (AnalyticsWindow). It checks the interval and the bucket count.
func resolveWindow(r *model.TimeRange, interval *time.Duration) (statsWindow, error) {
	from, to, err := AnalyticsWindow(r)
	if err != nil {
		return statsWindow{}, err
	}
	w := statsWindow{Buckets: 1, From: from, To: to}
	// PostgreSQL keeps microseconds (pgx truncates bound times): count the buckets
	// of the very bounds the WHERE clause sees.
	w.From, w.To = w.From.Truncate(time.Microsecond), w.To.Truncate(time.Microsecond)
	if interval != nil && *interval < MinStatsInterval {
		return w, model.InputErrorf("interval: %s is below the narrowest bucket, %s", model.Duration(*interval), model.Duration(MinStatsInterval))
	}
	if !w.From.Before(w.To) {
		// A start in the future with an open end: an empty window.
		w.Buckets = 0
		return w, nil
	}
	if interval == nil {
		return w, nil
	}
	// Sub-microsecond parts cannot be represented by a PostgreSQL interval.
	w.IntervalUs = interval.Microseconds()
	first := floorDiv(w.From.UnixMicro()-bucketOrigin.UnixMicro(), w.IntervalUs)
	last := floorDiv(w.To.UnixMicro()-bucketOrigin.UnixMicro()-1, w.IntervalUs) // To is exclusive
	w.Buckets = last - first + 1
	if w.Buckets > MaxStatsBuckets {
		return w, model.InputErrorf("interval: %s over %s..%s gives %d buckets, more than %d; use a wider interval or a shorter time range",
			model.Duration(*interval), w.From.UTC().Format(time.RFC3339Nano), w.To.UTC().Format(time.RFC3339Nano), w.Buckets, MaxStatsBuckets)
	}
	return w, nil
}

// bucketExpr is the bucket column of a windowed query: date_bin over the time
// column, or a constant without an interval so that the grouping stays uniform.
func (w statsWindow) bucketExpr(col string) (string, []any) {
	if w.IntervalUs == 0 {
		return "NULL::timestamptz", nil
	}
	return "date_bin(? * interval '1 microsecond', ?, ?::timestamptz)", []any{w.IntervalUs, bun.Ident(col), bucketOrigin}
}

// APIRequestStatsQuery asks for API request statistics.
type APIRequestStatsQuery struct {
	Filter  *model.APIRequestLogFilter
	GroupBy []model.APIRequestDimension
	// Interval adds a time bucket to each group when not nil.
	Interval *time.Duration
	// OrderBy ranks the groups; Desc puts the largest first.
	OrderBy model.APIRequestStatsField
	Desc    bool
	// First is how many groups are shown; the rest are summed into one other row.
	First int
}

// requestDim is how a dimension is grouped and shown. Groups are keyed by
// never-null ids and codes (a NULL would not match in the hash join that tells each
// row its group's rank); names are looked up once per group, not once per row.
type requestDim struct {
	key   string // over t (and ct, the collection, when needsType)
	label string // over g (the group's keys) and the name joins cl / co
	join  string // the name join of the label, if any
}

var requestDims = map[model.APIRequestDimension]requestDim{
	model.APIRequestDimensionClient: {key: "coalesce(t.client_id, -1)", label: "cl.name",
		join: "LEFT JOIN api_clients AS cl ON cl.workspace_id = ? AND cl.id = g.k%d"},
	model.APIRequestDimensionCollection: {key: "t.collection_id", label: "co.name",
		join: "LEFT JOIN api_collections AS co ON co.workspace_id = ? AND co.id = g.k%d"},
	model.APIRequestDimensionCollectionType: {key: "ct.type", label: "g.k%d"},
	model.APIRequestDimensionEndpoint:       {key: "t.endpoint", label: "g.k%d"},
	model.APIRequestDimensionCode:           {key: "t.code::int", label: "g.k%d"},
	model.APIRequestDimensionCodeClass:      {key: "t.code / 100", label: "(g.k%d)::text || 'xx'"},
	// Gateway codes are >= 0 (a CHECK), so -1 stands for "none".
	model.APIRequestDimensionGatewayCode: {key: "coalesce(t.gateway_code, -1)", label: "nullif(g.k%d, -1)"},
}

// requestMeasures are the SQL of each orderable measure over a group's rows (b).
var requestMeasures = map[model.APIRequestStatsField]string{
	model.APIRequestStatsFieldCount:      "count(*)::float8",
	model.APIRequestStatsFieldErrorCount: "(count(*) FILTER (WHERE b.code >= 400))::float8",
	model.APIRequestStatsFieldErrorRate:  "(count(*) FILTER (WHERE b.code >= 400))::float8 / count(*)",
	model.APIRequestStatsFieldTimingP50:  "percentile_cont(0.5) WITHIN GROUP (ORDER BY b.timing_ms)",
	model.APIRequestStatsFieldTimingP90:  "percentile_cont(0.9) WITHIN GROUP (ORDER BY b.timing_ms)",
	model.APIRequestStatsFieldTimingP95:  "percentile_cont(0.95) WITHIN GROUP (ORDER BY b.timing_ms)",
	model.APIRequestStatsFieldTimingP99:  "percentile_cont(0.99) WITHIN GROUP (ORDER BY b.timing_ms)",
	// avg as float8, the very value the rows show, so that the order matches them.
	model.APIRequestStatsFieldTimingAvg: "avg(b.timing_ms)::float8",
	model.APIRequestStatsFieldTimingMax: "max(b.timing_ms)::float8",
	model.APIRequestStatsFieldDelayAvg:  "avg(b.delay_ms)::float8",
	model.APIRequestStatsFieldDelayP95:  "percentile_cont(0.95) WITHIN GROUP (ORDER BY b.delay_ms)",
}

// apiRequestStatsRow is one scanned row of APIRequestStats.
type apiRequestStatsRow struct {
	Slot           int64     `bun:"slot"`
	Bucket         time.Time `bun:"bucket,nullzero"`
	Client         *string   `bun:"client"`
	Collection     *string   `bun:"collection"`
	CollectionType *string   `bun:"collection_type"`
	Endpoint       *string   `bun:"endpoint"`
	Code           *int      `bun:"code"`
	CodeClass      *string   `bun:"code_class"`
	GatewayCode    *int      `bun:"gateway_code"`
	Count          int       `bun:"count"`
	ErrorCount     int       `bun:"error_count"`
	TimingP        []float64 `bun:"timing_p,array"`
	TimingAvg      float64   `bun:"timing_avg"`
	TimingMax      float64   `bun:"timing_max"`
	DelayAvg       float64   `bun:"delay_avg"`
	DelayP95       float64   `bun:"delay_p95"`
}

// APIRequestStats computes API request statistics in one statement:
//
//  1. base: the filtered rows of the window, with their group keys and bucket;
//  2. ranked: every group's ordering measure over the whole window and its rank
//     (ties broken by the shown group values, so the answer is deterministic);
//  3. agg: the measures per (rank, bucket) for the first First groups, and per
//     bucket for the rest together (slot 0, the other row), whose percentiles are
//     thus computed over the rest's rows, not averaged from the groups'.
//
// With an interval the top groups are chosen over the whole window, not per bucket,
// so that a group is either shown in every bucket or summed into other in every
// bucket. Rows come in rank order, each group's buckets in time order, other rows
// last; a (group, bucket) without requests has no row (no gap filling), and an
// empty window gives no rows.
func (s *LogStore) APIRequestStats(ctx context.Context, ws uuid.UUID, q APIRequestStatsQuery) ([]model.APIRequestStatsRow, error) {
	if q.First < 1 || q.First > MaxStatsGroups {
		return nil, model.InputErrorf("first: %d is not between 1 and %d; the groups past first are summed into the other row, "+
			"and filters (clients, collections, endpoints, codes) narrow the groups", q.First, MaxStatsGroups)
	}
	measure, ok := requestMeasures[q.OrderBy]
	if !ok {
		return nil, model.InputErrorf("orderBy.field: %q is not a statistic", q.OrderBy)
	}
	var dims []model.APIRequestDimension
	seen := map[model.APIRequestDimension]bool{}
	for _, d := range q.GroupBy {
		if _, ok := requestDims[d]; !ok {
			return nil, model.InputErrorf("groupBy: %q is not a dimension", d)
		}
		if !seen[d] {
			seen[d] = true
			dims = append(dims, d)
		}
	}
	var timeRange *model.TimeRange
	if q.Filter != nil {
		timeRange = q.Filter.Time
	}
	w, err := resolveWindow(timeRange, q.Interval)
	if err != nil {
		return nil, err
	}
	groups := int64(q.First)
	if len(dims) == 0 {
		groups = 1
	}
	if groups*w.Buckets > MaxStatsRows {
		return nil, model.InputErrorf("first: %d groups x %d buckets could give %d rows, more than %d; lower first, use a wider interval or a shorter time range",
			groups, w.Buckets, groups*w.Buckets, MaxStatsRows)
	}
	if w.Buckets == 0 {
		return []model.APIRequestStatsRow{}, nil
	}

	// The filter's own time is replaced by the resolved window, so that every other
	// condition means exactly what it means in apiRequestLogs.
	f := model.APIRequestLogFilter{}
	if q.Filter != nil {
		f = *q.Filter
	}
	f.Time = &model.TimeRange{From: &w.From, To: &w.To}

	// Keys k0..kn; without dimensions one constant key makes everything one group.
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
	bucket, bucketArgs := w.bucketExpr("received_at")
	base, err := s.kindQuery(ws, model.KindAPIRequest, &f, nil)
	if err != nil {
		return nil, err
	}
	base.ColumnExpr(strings.Join(keyCols, ", ")).
		ColumnExpr(bucket+" AS bucket", bucketArgs...).
		ColumnExpr("t.code, t.timing_ms, t.delay_ms")
	if needsType {
		base.Join("JOIN api_collections AS ct ON ct.workspace_id = t.workspace_id AND ct.id = t.collection_id")
	}

	// The labels the rows show, and the order of the groups: the measure, then the
	// labels (unique per group: names are unique in a workspace).
	labelCols := map[string]string{}
	var joins, tieBreak []string
	args := []any{base}
	for i, d := range dims {
		rd := requestDims[d]
		label := rd.label
		if strings.Contains(label, "%d") {
			label = fmt.Sprintf(label, i)
		}
		labelCols[string(d)] = label
		// Byte order, not the database's collation, so that ties break the same
		// everywhere (and as a client sorting the values would break them).
		collate := ` COLLATE "C"`
		if d == model.APIRequestDimensionCode || d == model.APIRequestDimensionGatewayCode {
			collate = ""
		}
		tieBreak = append(tieBreak, label+collate+" ASC NULLS FIRST")
		if rd.join != "" {
			joins = append(joins, fmt.Sprintf(rd.join, i))
			args = append(args, ws)
		}
	}
	dir := "ASC"
	if q.Desc {
		dir = "DESC"
	}
	order := append([]string{"g.m " + dir + " NULLS LAST"}, tieBreak...)
	labelList := func(prefix string) string {
		var out []string
		for _, c := range []struct{ dim, name string }{
			{"CLIENT", "client"}, {"COLLECTION", "collection"}, {"COLLECTION_TYPE", "collection_type"},
			{"ENDPOINT", "endpoint"}, {"CODE", "code"}, {"CODE_CLASS", "code_class"}, {"GATEWAY_CODE", "gateway_code"},
		} {
			expr := "NULL"
			if l, ok := labelCols[c.dim]; ok {
				expr = l
				if prefix != "" {
					expr = prefix + c.name
				}
			}
			if c.dim == "CODE" || c.dim == "GATEWAY_CODE" {
				expr += "::int"
			} else {
				expr += "::text"
			}
			out = append(out, expr+" AS "+c.name)
		}
		return strings.Join(out, ", ")
	}
	keyList := strings.Join(keyNames, ", ")
	var keyJoin []string
	for _, k := range keyNames {
		keyJoin = append(keyJoin, "r."+k+" = b."+k)
	}

	plan := s.requestStatsPlan(dims, &f, q.Interval, w)
	if plan.Rollup {
		out, err := s.apiRequestStatsFromRollup(ctx, ws, q, dims, &f, w, labelList(""), joins, args[1:], &plan)
		noteAnalyticsPlan(ctx, plan)
		return out, err
	}
	noteAnalyticsPlan(ctx, plan)

	sql := `WITH base AS (?),
groups AS (SELECT ` + keyList + `, ` + measure + ` AS m FROM base AS b GROUP BY ` + keyList + `),
ranked AS (
	SELECT g.*, ` + labelList("") + `, row_number() OVER (ORDER BY ` + strings.Join(order, ", ") + `) AS rank
	FROM groups AS g ` + strings.Join(joins, " ") + `
),
agg AS (
	SELECT CASE WHEN r.rank <= ? THEN r.rank ELSE 0 END AS slot, b.bucket,
		count(*) AS count,
		count(*) FILTER (WHERE b.code >= 400) AS error_count,
		percentile_cont(ARRAY[0.5, 0.9, 0.95, 0.99]::float8[]) WITHIN GROUP (ORDER BY b.timing_ms) AS timing_p,
		avg(b.timing_ms)::float8 AS timing_avg,
		max(b.timing_ms)::float8 AS timing_max,
		avg(b.delay_ms)::float8 AS delay_avg,
		percentile_cont(0.95) WITHIN GROUP (ORDER BY b.delay_ms) AS delay_p95
	FROM base AS b JOIN ranked AS r ON ` + strings.Join(keyJoin, " AND ") + `
	GROUP BY 1, 2
)
SELECT a.*, ` + labelList("r.") + `
FROM agg AS a LEFT JOIN ranked AS r ON r.rank = a.slot
ORDER BY a.slot = 0, a.slot, a.bucket`
	args = append(args, q.First)
	var rows []apiRequestStatsRow
	if err := s.db.NewRaw(sql, args...).Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("api request stats: %w", err)
	}
	return toAPIRequestStatsRows(rows, len(dims) > 0, w.IntervalUs > 0), nil
}

func toAPIRequestStatsRows(rows []apiRequestStatsRow, grouped, bucketed bool) []model.APIRequestStatsRow {
	out := make([]model.APIRequestStatsRow, 0, len(rows))
	for _, r := range rows {
		row := model.APIRequestStatsRow{
			Client: r.Client, Collection: r.Collection, Endpoint: r.Endpoint, Code: r.Code, CodeClass: r.CodeClass, GatewayCode: r.GatewayCode,
			Other: grouped && r.Slot == 0, Count: r.Count, ErrorCount: r.ErrorCount, ErrorRate: float64(r.ErrorCount) / float64(r.Count),
			Timing: &model.TimingStats{Avg: r.TimingAvg, Max: r.TimingMax},
			Delay:  &model.DelayStats{Avg: r.DelayAvg, P95: r.DelayP95},
		}
		if len(r.TimingP) == 4 {
			row.Timing.P50, row.Timing.P90, row.Timing.P95, row.Timing.P99 = r.TimingP[0], r.TimingP[1], r.TimingP[2], r.TimingP[3]
		}
		if r.CollectionType != nil {
			ct := model.CollectionType(*r.CollectionType)
			row.CollectionType = &ct
		}
		if bucketed {
			b := r.Bucket
			row.Bucket = &b
		}
		out = append(out, row)
	}
	return out
}
