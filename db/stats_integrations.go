package db

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/loggraph/loggraph/model"
)

// IntegrationStatsQuery asks for integration delivery statistics.
type IntegrationStatsQuery struct {
	Filter  *model.IntegrationLogFilter
	GroupBy []model.IntegrationDimension
	// Interval adds a time bucket to each group when not nil.
	Interval *time.Duration
}

// IntegrationStatsRow is one group (and bucket) of IntegrationStats; the resolver
// turns the ids into the Integration and IntegrationJob objects.
type IntegrationStatsRow struct {
	// IntegrationID is set when grouped by INTEGRATION.
	IntegrationID *uuid.UUID `bun:"integration_id,type:uuid"`
	// JobID is set when grouped by JOB and the deliveries had a job.
	JobID *uuid.UUID `bun:"job_id,type:uuid"`
	// StatusCode is set when grouped by STATUS_CODE.
	StatusCode *int `bun:"status_code"`
	// Bucket is set with an interval.
	Bucket *time.Time `bun:"bucket"`

	Deliveries        int     `bun:"deliveries"`
	Successes         int     `bun:"successes"`
	AttemptAvg        float64 `bun:"attempt_avg"`
	AttemptMax        int     `bun:"attempt_max"`
	RetriedDeliveries int     `bun:"retried"`
}

var integrationDims = map[model.IntegrationDimension]struct{ col, out string }{
	model.IntegrationDimensionIntegration: {"t.integration_id", "integration_id"},
	model.IntegrationDimensionJob:         {"t.job_id", "job_id"},
	model.IntegrationDimensionStatusCode:  {"t.status_code::int", "status_code"},
}

// IntegrationStats computes integration delivery statistics per group and optional
// bucket in one statement. Groups come in order of their deliveries over the whole
// window (most first, ties by their keys), each group's buckets in time order; a
// (group, bucket) without deliveries has no row and an empty window gives no rows.
//
// There is no top N here (the groups are integrations, jobs and codes, which a
// filter narrows), so the guardrails are checked on the answer: more than
// MaxStatsGroups groups or MaxStatsRows rows is refused. The statement reads at
// most MaxStatsRows+1 rows to learn that.
func (s *LogStore) IntegrationStats(ctx context.Context, ws uuid.UUID, q IntegrationStatsQuery) ([]IntegrationStatsRow, error) {
	var timeRange *model.TimeRange
	if q.Filter != nil {
		timeRange = q.Filter.Time
	}
	w, err := resolveWindow(timeRange, q.Interval)
	if err != nil {
		return nil, err
	}
	if w.Buckets == 0 {
		return []IntegrationStatsRow{}, nil
	}
	f := model.IntegrationLogFilter{}
	if q.Filter != nil {
		f = *q.Filter
	}
	f.Time = &model.TimeRange{From: &w.From, To: &w.To}

	// Grouped columns keep their names; the others are NULL so one scan type fits all.
	cols := map[string]string{"integration_id": "NULL::uuid", "job_id": "NULL::uuid", "status_code": "NULL::int"}
	var keys []string
	seen := map[model.IntegrationDimension]bool{}
	for _, d := range q.GroupBy {
		dim, ok := integrationDims[d]
		if !ok {
			return nil, model.InputErrorf("groupBy: %q is not a dimension", d)
		}
		if !seen[d] {
			seen[d] = true
			cols[dim.out] = dim.col
			keys = append(keys, dim.col)
		}
	}
	bucket, bucketArgs := w.bucketExpr("created_at")
	sel, err := s.kindQuery(ws, model.KindIntegration, &f, nil)
	if err != nil {
		return nil, err
	}
	for _, c := range []string{"integration_id", "job_id", "status_code"} {
		sel.ColumnExpr(cols[c] + " AS " + c)
	}
	sel.ColumnExpr(bucket+" AS bucket", bucketArgs...).
		ColumnExpr("count(*) AS deliveries").
		ColumnExpr("count(*) FILTER (WHERE t.succeeded) AS successes").
		ColumnExpr("avg(t.attempt)::float8 AS attempt_avg").
		ColumnExpr("max(t.attempt) AS attempt_max").
		ColumnExpr("count(*) FILTER (WHERE t.attempt >= 2) AS retried").
		GroupExpr(strings.Join(append(append([]string{}, keys...), "bucket"), ", "))
	// Order groups by their total over the window; keys break ties (NULL jobs last).
	total := "sum(count(*)) OVER (PARTITION BY " + strings.Join(append(append([]string{}, keys...), "true"), ", ") + ")"
	order := append([]string{total + " DESC"}, keys...)
	sel.OrderExpr(strings.Join(append(order, "bucket"), ", ")).Limit(MaxStatsRows + 1)

	var rows []IntegrationStatsRow
	if err := sel.Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("integration stats: %w", err)
	}
	if len(rows) > MaxStatsRows {
		return nil, model.InputErrorf("integrationStats: more than %d rows (groups x buckets); use a wider interval, a shorter time range, "+
			"or narrow the filter (integrationIds, jobIds, statusCodes)", MaxStatsRows)
	}
	type groupKey struct {
		i, j uuid.UUID
		c    int
	}
	groups := map[groupKey]bool{}
	for _, r := range rows {
		var k groupKey
		if r.IntegrationID != nil {
			k.i = *r.IntegrationID
		}
		if r.JobID != nil {
			k.j = *r.JobID
		}
		if r.StatusCode != nil {
			k.c = *r.StatusCode
		}
		groups[k] = true
	}
	if len(groups) > MaxStatsGroups {
		return nil, model.InputErrorf("integrationStats: %d groups, more than %d; narrow the filter (integrationIds, jobIds, statusCodes, time) or group by fewer dimensions",
			len(groups), MaxStatsGroups)
	}
	if w.IntervalUs == 0 {
		for i := range rows {
			rows[i].Bucket = nil
		}
	}
	return rows, nil
}
