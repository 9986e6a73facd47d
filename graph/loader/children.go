package loader

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// argsKey identifies a field and its arguments: parents asking with equal arguments
// share one batch.
func argsKey(args ...any) string {
	b, _ := json.Marshal(args)
	return string(b)
}

// IntegrationLogsOf loads one page of an integration's (parentCol integration_id) or
// a job's (job_id) logs, batched with every other parent of the operation.
func (l *Loaders) IntegrationLogsOf(ctx context.Context, path, parentCol string, parent uuid.UUID, f *model.IntegrationLogFilter, p model.Page,
	after func(context.Context, []*model.IntegrationLog)) (db.Paged[*model.IntegrationLog], error) {
	return childPage(ctx, l, path, argsKey(parentCol, f, p), parent,
		func(ctx context.Context, parents []uuid.UUID) (map[uuid.UUID]db.Paged[*model.IntegrationLog], error) {
			return db.ChildPages(ctx, l.logs, l.ws, parentCol, parents, f, p, func(r *model.IntegrationLog) uuid.UUID {
				if parentCol == "job_id" && r.JobID != nil {
					return *r.JobID
				}
				return r.IntegrationID
			})
		}, after)
}

// IntegrationLogCount counts an integration's or a job's logs, batched.
func (l *Loaders) IntegrationLogCount(ctx context.Context, path, parentCol string, parent uuid.UUID, f *model.IntegrationLogFilter) (int, error) {
	return childCount(ctx, l, path, argsKey(parentCol, f), parent, func(ctx context.Context, parents []uuid.UUID) (map[string]int, error) {
		return l.logs.ChildCounts(ctx, l.ws, model.KindIntegration, parentCol, parents, f)
	})
}

// APIRequestLogsOf loads one page of a collection's (collection_id) or a client's
// (client_id) request logs, batched.
func (l *Loaders) APIRequestLogsOf(ctx context.Context, path, parentCol string, parent int64, f *model.APIRequestLogFilter, p model.Page,
	after func(context.Context, []*model.APIRequestLog)) (db.Paged[*model.APIRequestLog], error) {
	return childPage(ctx, l, path, argsKey(parentCol, f, p), parent,
		func(ctx context.Context, parents []int64) (map[int64]db.Paged[*model.APIRequestLog], error) {
			return db.ChildPages(ctx, l.logs, l.ws, parentCol, parents, f, p, func(r *model.APIRequestLog) int64 {
				if parentCol == "client_id" && r.ClientID != nil {
					return *r.ClientID
				}
				return r.CollectionID
			})
		}, after)
}

// APIRequestLogCount counts a collection's or a client's request logs, batched.
func (l *Loaders) APIRequestLogCount(ctx context.Context, path, parentCol string, parent int64, f *model.APIRequestLogFilter) (int, error) {
	return childCount(ctx, l, path, argsKey(parentCol, f), parent, func(ctx context.Context, parents []int64) (map[string]int, error) {
		return l.logs.ChildCounts(ctx, l.ws, model.KindAPIRequest, parentCol, parents, f)
	})
}

// APIReferenceLogsOf loads one page of an API reference's import logs, batched.
func (l *Loaders) APIReferenceLogsOf(ctx context.Context, path, parent string, f *model.APIReferenceLogFilter, p model.Page,
	after func(context.Context, []*model.APIReferenceLog)) (db.Paged[*model.APIReferenceLog], error) {
	return childPage(ctx, l, path, argsKey(f, p), parent,
		func(ctx context.Context, parents []string) (map[string]db.Paged[*model.APIReferenceLog], error) {
			return db.ChildPages(ctx, l.logs, l.ws, "api_reference_id", parents, f, p,
				func(r *model.APIReferenceLog) string { return r.APIReferenceID })
		}, after)
}

// APIReferenceLogCount counts an API reference's import logs, batched.
func (l *Loaders) APIReferenceLogCount(ctx context.Context, path, parent string, f *model.APIReferenceLogFilter) (int, error) {
	return childCount(ctx, l, path, argsKey(f), parent, func(ctx context.Context, parents []string) (map[string]int, error) {
		return l.logs.ChildCounts(ctx, l.ws, model.KindAPIReference, "api_reference_id", parents, f)
	})
}

// JobsOf loads one page of an integration's jobs, batched.
func (l *Loaders) JobsOf(ctx context.Context, path string, parent uuid.UUID, p model.Page,
	after func(context.Context, []*model.IntegrationJob)) (db.Paged[*model.IntegrationJob], error) {
	return childPage(ctx, l, path, argsKey(p), parent,
		func(ctx context.Context, parents []uuid.UUID) (map[uuid.UUID]db.Paged[*model.IntegrationJob], error) {
			return l.entities.JobsOfIntegrations(ctx, l.ws, parents, p)
		}, after)
}

// JobCount counts an integration's jobs, batched.
func (l *Loaders) JobCount(ctx context.Context, path string, parent uuid.UUID) (int, error) {
	return childCount(ctx, l, path, "", parent, func(ctx context.Context, parents []uuid.UUID) (map[string]int, error) {
		return l.entities.JobCounts(ctx, l.ws, parents)
	})
}
