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

// JobsOfIntegration returns all of an integration's jobs, newest first (ties by id
// descending), unpaged: the seed's /jobs endpoint documents no paging.
func (s *EntityStore) JobsOfIntegration(ctx context.Context, ws, integration uuid.UUID) ([]*model.IntegrationJob, error) {
	var out []*model.IntegrationJob
	err := s.db.NewSelect().Model(&out).
		Where("workspace_id = ? AND integration_id = ?", ws, integration).
		OrderExpr("created_at DESC, id DESC").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("jobs of integration: %w", err)
	}
	return out, nil
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
