package db

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"github.com/loggraph/loggraph/model"
)

// countKey is one row of log_counts: a UTC day and the dimensions of the kind.
type countKey struct {
	day           time.Time
	level         *int16
	service       *string
	integrationID *uuid.UUID
	referenceID   *string
}

func utcDay(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

// countKeyAt is record i's count key.
func (w *batchWriter) countKeyAt(i int) countKey {
	k := countKey{day: utcDay(w.timeAt(i))}
	switch w.kind {
	case model.KindApp:
		l := &w.b.App[i].Log
		lv := int16(l.Level)
		k.level, k.service = &lv, &l.Service
	case model.KindIntegration:
		k.integrationID = &w.b.Integration[i].Log.IntegrationID
	case model.KindAction:
		lv := int16(w.b.Action[i].Log.Level)
		k.level = &lv
	case model.KindAPIReference:
		k.referenceID = &w.b.APIReference[i].Log.APIReferenceID
	}
	return k
}

// comparableKey flattens a countKey for map grouping.
type comparableKey struct {
	day                time.Time
	level              int16
	hasLevel           bool
	service, reference string
	hasService, hasRef bool
	integration        uuid.UUID
	hasIntegration     bool
}

func (k countKey) flat() comparableKey {
	c := comparableKey{day: k.day}
	if k.level != nil {
		c.level, c.hasLevel = *k.level, true
	}
	if k.service != nil {
		c.service, c.hasService = *k.service, true
	}
	if k.referenceID != nil {
		c.reference, c.hasRef = *k.referenceID, true
	}
	if k.integrationID != nil {
		c.integration, c.hasIntegration = *k.integrationID, true
	}
	return c
}

// insertCounts adds the stored records' counts in the batch's transaction, so a total
// read from log_counts is exactly what is committed.
func (w *batchWriter) insertCounts(ctx context.Context, tx pgx.Tx, keep []int) error {
	n := map[comparableKey]int64{}
	keys := map[comparableKey]countKey{}
	for _, i := range keep {
		k := w.countKeyAt(i)
		f := k.flat()
		n[f]++
		keys[f] = k
	}
	var days []time.Time
	var levels []*int16
	var services, refs []*string
	var integrations []*uuid.UUID
	var counts []int64
	for f, c := range n {
		k := keys[f]
		days, levels, services = append(days, k.day), append(levels, k.level), append(services, k.service)
		integrations, refs = append(integrations, k.integrationID), append(refs, k.referenceID)
		counts = append(counts, c)
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO log_counts (workspace_id, kind, day, level, service, integration_id, api_reference_id, n)
		SELECT $1, $2, u.day, u.level, u.service, u.integration_id, u.api_reference_id, u.n
		FROM unnest($3::date[], $4::int2[], $5::text[], $6::uuid[], $7::text[], $8::int8[])
			AS u(day, level, service, integration_id, api_reference_id, n)`,
		w.ws, string(w.kind), days, levels, services, integrations, refs, counts)
	if err != nil {
		return fmt.Errorf("add counts: %w", err)
	}
	return nil
}

// RebuildCounts recomputes a workspace's log_counts from its rows (after a bulk load
// that bypassed the ingest path, such as Seed). Ingests into the workspace must not
// run meanwhile.
func RebuildCounts(ctx context.Context, d *DB, ws uuid.UUID) error {
	return pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
		for _, q := range []string{
			`DELETE FROM log_counts WHERE workspace_id = $1`,
			`INSERT INTO log_counts (workspace_id, kind, day, level, service, n)
			 SELECT workspace_id, 'APP', ("timestamp" AT TIME ZONE 'UTC')::date, level, service, count(*)
			 FROM app_logs WHERE workspace_id = $1 GROUP BY 1, 3, 4, 5`,
			`INSERT INTO log_counts (workspace_id, kind, day, n)
			 SELECT workspace_id, 'API_REQUEST', (received_at AT TIME ZONE 'UTC')::date, count(*)
			 FROM api_request_logs WHERE workspace_id = $1 GROUP BY 1, 3`,
			`INSERT INTO log_counts (workspace_id, kind, day, integration_id, n)
			 SELECT workspace_id, 'INTEGRATION', (created_at AT TIME ZONE 'UTC')::date, integration_id, count(*)
			 FROM integration_logs WHERE workspace_id = $1 GROUP BY 1, 3, 4`,
			`INSERT INTO log_counts (workspace_id, kind, day, level, n)
			 SELECT workspace_id, 'ACTION', (created_at AT TIME ZONE 'UTC')::date, level, count(*)
			 FROM action_logs WHERE workspace_id = $1 GROUP BY 1, 3, 4`,
			`INSERT INTO log_counts (workspace_id, kind, day, api_reference_id, n)
			 SELECT workspace_id, 'API_REFERENCE', (modified_at AT TIME ZONE 'UTC')::date, api_reference_id, count(*)
			 FROM api_reference_logs WHERE workspace_id = $1 GROUP BY 1, 3, 4`,
		} {
			if _, err := tx.Exec(ctx, q, ws); err != nil {
				return fmt.Errorf("rebuild counts: %w", err)
			}
		}
		return nil
	})
}

// rollupPlan says whether a filter can be counted from log_counts: its window and
// the WHERE clauses of its dimensions there.
type rollupPlan struct {
	time *model.TimeRange
	dims func(*bun.SelectQuery)
	// withTime copies the filter with another window (for the partial days).
	withTime func(*model.TimeRange) any
}

// planRollup returns nil when the filter uses a field log_counts does not keep.
func planRollup(kind model.LogKind, filter any) (*rollupPlan, error) {
	none := func(*bun.SelectQuery) {}
	switch f := filter.(type) {
	case *model.AppLogFilter:
		if f == nil {
			return &rollupPlan{dims: none, withTime: func(r *model.TimeRange) any { return &model.AppLogFilter{Time: r} }}, nil
		}
		if (f.Search != nil && *f.Search != "") || f.Details != nil {
			return nil, nil
		}
		c := *f
		return &rollupPlan{time: f.Time, dims: func(q *bun.SelectQuery) {
			if len(f.Levels) > 0 {
				q.Where("level IN (?)", bun.In(f.Levels))
			}
			if f.MinLevel != nil {
				q.Where("level >= ?", *f.MinLevel)
			}
			if len(f.Services) > 0 {
				q.Where("service IN (?)", bun.In(f.Services))
			}
		}, withTime: func(r *model.TimeRange) any { c.Time = r; cc := c; return &cc }}, nil
	case *model.IntegrationLogFilter:
		if f == nil {
			return &rollupPlan{dims: none, withTime: func(r *model.TimeRange) any { return &model.IntegrationLogFilter{Time: r} }}, nil
		}
		// A job's few rows are counted through its index, not the rollup.
		if len(f.JobIDs) > 0 || f.Succeeded != nil || len(f.StatusCodes) > 0 || f.MinAttempt != nil || (f.Search != nil && *f.Search != "") {
			return nil, nil
		}
		integrations, err := model.ParseUUIDs("integrationIds", f.IntegrationIDs)
		if err != nil {
			return nil, err
		}
		c := *f
		return &rollupPlan{time: f.Time, dims: func(q *bun.SelectQuery) {
			if len(integrations) > 0 {
				q.Where("integration_id IN (?)", bun.In(integrations))
			}
		}, withTime: func(r *model.TimeRange) any { c.Time = r; cc := c; return &cc }}, nil
	case *model.ActionLogFilter:
		if f == nil {
			return &rollupPlan{dims: none, withTime: func(r *model.TimeRange) any { return &model.ActionLogFilter{Time: r} }}, nil
		}
		if len(f.AppNames) > 0 || len(f.LoggerNames) > 0 || (f.Search != nil && *f.Search != "") {
			return nil, nil
		}
		if err := model.ValidateRange("minLevel", f.MinLevel, "maxLevel", f.MaxLevel, 0); err != nil {
			return nil, err
		}
		c := *f
		return &rollupPlan{time: f.Time, dims: func(q *bun.SelectQuery) {
			if f.MinLevel != nil {
				q.Where("level >= ?", *f.MinLevel)
			}
			if f.MaxLevel != nil {
				q.Where("level <= ?", *f.MaxLevel)
			}
		}, withTime: func(r *model.TimeRange) any { c.Time = r; cc := c; return &cc }}, nil
	case *model.APIReferenceLogFilter:
		if f == nil {
			return &rollupPlan{dims: none, withTime: func(r *model.TimeRange) any { return &model.APIReferenceLogFilter{Time: r} }}, nil
		}
		if len(f.UserIDs) > 0 || f.HasErrors != nil || f.HasAlerts != nil || (f.Search != nil && *f.Search != "") {
			return nil, nil
		}
		c := *f
		return &rollupPlan{time: f.Time, dims: func(q *bun.SelectQuery) {
			if len(f.APIReferenceIDs) > 0 {
				q.Where("api_reference_id IN (?)", bun.In(f.APIReferenceIDs))
			}
		}, withTime: func(r *model.TimeRange) any { c.Time = r; cc := c; return &cc }}, nil
	case *model.APIRequestLogFilter:
		if f == nil {
			return &rollupPlan{dims: none, withTime: func(r *model.TimeRange) any { return &model.APIRequestLogFilter{Time: r} }}, nil
		}
		if len(f.Codes)+len(f.CodeClasses)+len(f.GatewayCodes)+len(f.Clients)+len(f.Collections)+len(f.Endpoints)+len(f.IPs) > 0 ||
			f.Outcome != nil || f.CollectionType != nil || f.MinTimingMs != nil || f.MaxTimingMs != nil || (f.Search != nil && *f.Search != "") {
			return nil, nil
		}
		return &rollupPlan{time: f.Time, dims: none, withTime: func(r *model.TimeRange) any { return &model.APIRequestLogFilter{Time: r} }}, nil
	}
	return nil, nil
}

// countFromRollup counts a filter's rows as the sum of log_counts over the window's
// whole UTC days plus the rows of its partial first and last days, in one statement.
// ok is false when the filter needs the rows themselves.
func (s *LogStore) countFromRollup(ctx context.Context, ws uuid.UUID, kind model.LogKind, filter any) (int, bool, error) {
	if err := model.ValidateFilter(filter); err != nil {
		return 0, false, err
	}
	plan, err := planRollup(kind, filter)
	if err != nil || plan == nil {
		return 0, false, err
	}
	from, to, err := plan.time.Bounds(Clock())
	if err != nil {
		return 0, false, err
	}
	// Whole days are [lo, hi); the rows of [from, lo) and [hi, to) are counted.
	var lo, hi *time.Time
	var parts []*model.TimeRange
	if from != nil {
		d := utcDay(*from)
		if !d.Equal(*from) {
			d = d.Add(24 * time.Hour)
			end := d
			parts = append(parts, &model.TimeRange{From: from, To: &end})
		}
		lo = &d
	}
	if to != nil {
		d := utcDay(*to)
		if !d.Equal(*to) {
			start := d
			parts = append(parts, &model.TimeRange{From: &start, To: to})
		}
		hi = &d
	}
	if lo != nil && hi != nil && !lo.Before(*hi) {
		return 0, false, nil // within one day: counting the rows is as cheap
	}
	sum := s.db.NewSelect().TableExpr("log_counts").ColumnExpr("sum(n)").
		Where("workspace_id = ? AND kind = ?", ws, string(kind))
	if lo != nil {
		sum.Where("day >= ?::date", lo.Format(time.DateOnly))
	}
	if hi != nil {
		sum.Where("day < ?::date", hi.Format(time.DateOnly))
	}
	plan.dims(sum)
	expr, args := "coalesce((?), 0)", []any{sum}
	for _, r := range parts {
		q, err := s.kindQuery(ws, kind, plan.withTime(r), nil)
		if err != nil {
			return 0, false, err
		}
		expr, args = expr+" + (?)", append(args, q.ColumnExpr("count(*)"))
	}
	var n int
	if err := s.db.NewSelect().ColumnExpr(expr, args...).Scan(ctx, &n); err != nil {
		return 0, false, fmt.Errorf("count %s: %w", kind.Table(), err)
	}
	return n, true, nil
}

// CompactCounts merges the log_counts rows of the UTC days in [from, to) into one
// row per key, so that the per-batch deltas of busy days do not pile up. It is one
// statement: readers see the deltas or the merged rows, never both or neither;
// batches committing meanwhile only insert rows of their own.
func CompactCounts(ctx context.Context, d *DB, from, to time.Time) (int64, error) {
	tag, err := d.Pool.Exec(ctx, `
		WITH gone AS (
			DELETE FROM log_counts WHERE day >= $1::date AND day < $2::date RETURNING *
		)
		INSERT INTO log_counts (workspace_id, kind, day, level, service, integration_id, api_reference_id, n)
		SELECT workspace_id, kind, day, level, service, integration_id, api_reference_id, sum(n)
		FROM gone GROUP BY workspace_id, kind, day, level, service, integration_id, api_reference_id`,
		utcDay(from).Format(time.DateOnly), utcDay(to).Format(time.DateOnly))
	if err != nil {
		return 0, fmt.Errorf("compact counts: %w", err)
	}
	return tag.RowsAffected(), nil
}
