package db

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/loggraph/loggraph/model"
)

// The lookups below serve the Elastic Path shim (seed 001), whose paths name an
// integration and a job: an id of another workspace must answer exactly like an id
// that does not exist, so every statement is keyed by workspace first.

// IntegrationExists returns nil when the integration is the workspace's, else
// ErrNotFound.
func (s *EntityStore) IntegrationExists(ctx context.Context, ws, integration uuid.UUID) error {
	ok, err := s.db.NewSelect().Model((*model.Integration)(nil)).
		Where("workspace_id = ? AND id = ?", ws, integration).Exists(ctx)
	if err != nil {
		return fmt.Errorf("integration exists: %w", err)
	}
	if !ok {
		return ErrNotFound
	}
	return nil
}

// JobOfIntegrationExists returns nil when the job is the workspace's and belongs to
// the integration, else ErrNotFound: a job reached through the wrong integration's
// path does not exist there.
func (s *EntityStore) JobOfIntegrationExists(ctx context.Context, ws, integration, job uuid.UUID) error {
	ok, err := s.db.NewSelect().Model((*model.IntegrationJob)(nil)).
		Where("workspace_id = ? AND id = ? AND integration_id = ?", ws, job, integration).Exists(ctx)
	if err != nil {
		return fmt.Errorf("job of integration exists: %w", err)
	}
	if !ok {
		return ErrNotFound
	}
	return nil
}

// JobsOfIntegration returns the ids of all of an integration's jobs, newest first
// (ties by id descending), unpaged: the seed's /jobs endpoint documents no paging.
// A delivery stored without a job is its own one-delivery job, listed under the
// delivery's id and time (in Elastic Path every delivery belongs to a job, and a
// client follows relationships.job to /jobs/{job_uuid}/logs). The partial index
// integration_logs_no_job_idx keeps the jobless deliveries one index range.
func (s *EntityStore) JobsOfIntegration(ctx context.Context, ws, integration uuid.UUID) ([]uuid.UUID, error) {
	var out []uuid.UUID
	err := s.db.NewRaw(`
		SELECT id FROM (
			SELECT id, created_at FROM integration_jobs WHERE workspace_id = ? AND integration_id = ?
			UNION ALL
			-- An id stored at two times is one delivery (LogByID's newest row).
			SELECT id, max(created_at) FROM integration_logs WHERE workspace_id = ? AND integration_id = ? AND job_id IS NULL
			GROUP BY id
		) j (id, created_at) ORDER BY created_at DESC, id DESC`, ws, integration, ws, integration).Scan(ctx, &out)
	if err != nil {
		return nil, fmt.Errorf("jobs of integration: %w", err)
	}
	return out, nil
}

// OneDeliveryJob returns the delivery that stands for job id when the integration
// has no job of that id but has a delivery of that id stored without a job (see
// JobsOfIntegration), else ErrNotFound.
func (s *LogStore) OneDeliveryJob(ctx context.Context, ws, integration, id uuid.UUID) (*model.IntegrationLog, error) {
	l, err := s.LogByID(ctx, ws, model.KindIntegration, id.String())
	if err != nil {
		return nil, err
	}
	if il, ok := l.(*model.IntegrationLog); ok && il.IntegrationID == integration && il.JobID == nil {
		return il, nil
	}
	return nil, ErrNotFound
}

// IntegrationLogPage returns one offset page of the integration logs matching f
// (at most p.Limit rows, newest first) and the count of all of them. Both are read
// through List and Count (the one data path) in one read-only repeatable-read
// snapshot, so the count and the page agree while logs are being ingested.
func (s *LogStore) IntegrationLogPage(ctx context.Context, ws uuid.UUID, f *model.IntegrationLogFilter, p model.Page) ([]*model.IntegrationLog, int, error) {
	logs, total, err := CountedPage[*model.IntegrationLog](ctx, s, ws, f, func(int) (model.Page, bool, error) { return p, true, nil })
	if err != nil {
		return nil, 0, fmt.Errorf("integration log page: %w", err)
	}
	return logs, total, nil
}
