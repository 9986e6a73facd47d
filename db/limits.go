package db

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/loggraph/loggraph/model"
)

// WorkspaceLimitStore keeps the operators' per-workspace overrides of the rate limits
// and quotas (table workspace_limits: NULL is the server's default, 0 no limit).
type WorkspaceLimitStore struct{ db bun.IDB }

// NewWorkspaceLimitStore returns a store over db.
func NewWorkspaceLimitStore(db bun.IDB) *WorkspaceLimitStore { return &WorkspaceLimitStore{db: db} }

// Get returns ws's overrides; without a row every field is nil.
func (s *WorkspaceLimitStore) Get(ctx context.Context, ws uuid.UUID) (model.WorkspaceLimits, error) {
	return getLimits(ctx, s.db, ws, false)
}

func getLimits(ctx context.Context, db bun.IDB, ws uuid.UUID, forUpdate bool) (model.WorkspaceLimits, error) {
	var rows []model.WorkspaceLimits
	q := db.NewSelect().Model(&rows).Where("workspace_id = ?", ws)
	if forUpdate {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		return model.WorkspaceLimits{}, fmt.Errorf("workspace limits: %w", err)
	}
	if len(rows) == 0 {
		return model.WorkspaceLimits{WorkspaceID: ws}, nil
	}
	return rows[0], nil
}

// Update changes ws's overrides in one transaction: change gets the stored ones (all
// nil when there are none) and edits them; a result with every field nil deletes the
// row. It returns what is stored afterwards.
func (s *WorkspaceLimitStore) Update(ctx context.Context, ws uuid.UUID, change func(*model.WorkspaceLimits)) (model.WorkspaceLimits, error) {
	var out model.WorkspaceLimits
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		cur, err := getLimits(ctx, tx, ws, true)
		if err != nil {
			return err
		}
		change(&cur)
		cur.WorkspaceID = ws
		if cur.RequestsPerSecond == nil && cur.IngestRowsPerSecond == nil && cur.IngestBytesPerSecond == nil && cur.IngestConcurrentBytes == nil {
			if _, err := tx.NewDelete().Model((*model.WorkspaceLimits)(nil)).Where("workspace_id = ?", ws).Exec(ctx); err != nil {
				return fmt.Errorf("delete workspace limits: %w", err)
			}
			out = model.WorkspaceLimits{WorkspaceID: ws}
			return nil
		}
		// Two concurrent first overrides both find no row to lock: the upsert makes
		// the later one win instead of failing.
		_, err = tx.NewInsert().Model(&cur).
			On("CONFLICT (workspace_id) DO UPDATE").
			Set("requests_per_second = EXCLUDED.requests_per_second").
			Set("ingest_rows_per_second = EXCLUDED.ingest_rows_per_second").
			Set("ingest_bytes_per_second = EXCLUDED.ingest_bytes_per_second").
			Set("ingest_concurrent_bytes = EXCLUDED.ingest_concurrent_bytes").
			Set("updated_at = now()").
			Returning("updated_at").
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("store workspace limits: %w", err)
		}
		out = cur
		return nil
	})
	return out, err
}

// AllWorkspaceLimits returns every workspace's overrides (what servers reload).
func (s *WorkspaceLimitStore) AllWorkspaceLimits(ctx context.Context) ([]model.WorkspaceLimits, error) {
	var rows []model.WorkspaceLimits
	if err := s.db.NewSelect().Model(&rows).Scan(ctx); err != nil {
		return nil, fmt.Errorf("all workspace limits: %w", err)
	}
	return rows, nil
}
