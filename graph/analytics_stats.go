package graph

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/graph/loader"
	"github.com/loggraph/loggraph/model"
)

// apiRequestStats serves the apiRequestStats root field: the store computes the
// groups, their top N and the other row; here only the defaults are applied.
func (r *Resolver) apiRequestStats(ctx context.Context, filter *model.APIRequestLogFilter, groupBy []model.APIRequestDimension, interval *model.Duration, orderBy *model.APIRequestStatsOrder, first *int) (*model.APIRequestStats, error) {
	p, err := reader(ctx)
	if err != nil {
		return nil, err
	}
	q := db.APIRequestStatsQuery{Filter: filter, GroupBy: groupBy, Interval: statsInterval(interval),
		OrderBy: model.APIRequestStatsFieldCount, Desc: true, First: db.DefaultStatsGroups}
	if orderBy != nil {
		q.OrderBy = orderBy.Field
		q.Desc = orderBy.Direction == nil || *orderBy.Direction == model.SortDirectionDesc
	}
	if first != nil {
		q.First = *first
	}
	rows, err := r.LogStore.APIRequestStats(ctx, p.Workspace.ID, q)
	if err != nil {
		return nil, err
	}
	return &model.APIRequestStats{Rows: rows}, nil
}

// integrationStats serves the integrationStats root field. The rows' integrations
// and jobs are loaded in one statement each (through the operation's loaders, so
// that other fields of the response asking for them hit the cache).
func (r *Resolver) integrationStats(ctx context.Context, filter *model.IntegrationLogFilter, groupBy []model.IntegrationDimension, interval *model.Duration) (*model.IntegrationStats, error) {
	p, err := reader(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := r.LogStore.IntegrationStats(ctx, p.Workspace.ID, db.IntegrationStatsQuery{Filter: filter, GroupBy: groupBy, Interval: statsInterval(interval)})
	if err != nil {
		return nil, err
	}
	deref := func(id *uuid.UUID) (uuid.UUID, bool) {
		if id == nil {
			return uuid.UUID{}, false
		}
		return *id, true
	}
	integrationIDs := db.Distinct(rows, func(r db.IntegrationStatsRow) (uuid.UUID, bool) { return deref(r.IntegrationID) })
	jobIDs := db.Distinct(rows, func(r db.IntegrationStatsRow) (uuid.UUID, bool) { return deref(r.JobID) })
	l := loader.For(ctx)
	integrations, jobs := map[uuid.UUID]*model.Integration{}, map[uuid.UUID]*model.IntegrationJob{}
	if len(integrationIDs) > 0 {
		if integrations, err = loader.Prefetch(ctx, l, l.Integration, integrationIDs); err != nil {
			return nil, err
		}
	}
	if len(jobIDs) > 0 {
		if jobs, err = loader.Prefetch(ctx, l, l.Job, jobIDs); err != nil {
			return nil, err
		}
	}
	out := &model.IntegrationStats{Rows: make([]model.IntegrationStatsRow, 0, len(rows))}
	for _, row := range rows {
		s := model.IntegrationStatsRow{StatusCode: row.StatusCode, Bucket: row.Bucket,
			Deliveries: row.Deliveries, Successes: row.Successes, Failures: row.Deliveries - row.Successes,
			SuccessRate:       float64(row.Successes) / float64(row.Deliveries),
			Attempts:          &model.AttemptStats{Avg: row.AttemptAvg, Max: row.AttemptMax},
			RetriedDeliveries: row.RetriedDeliveries}
		if row.IntegrationID != nil {
			s.Integration = integrations[*row.IntegrationID]
		}
		if row.JobID != nil {
			s.Job = jobs[*row.JobID]
		}
		out.Rows = append(out.Rows, s)
	}
	return out, nil
}

// statsInterval reads an optional GraphQL Duration.
func statsInterval(d *model.Duration) *time.Duration {
	if d == nil {
		return nil
	}
	td := time.Duration(*d)
	return &td
}
