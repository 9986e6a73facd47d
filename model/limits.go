package model

import (
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// WorkspaceLimits are an operator's per-workspace overrides of the server's rate
// limits and quotas (`loggraph workspace limits`). A nil field takes the server's
// default; 0 means no limit; a positive value replaces the default.
type WorkspaceLimits struct {
	bun.BaseModel `bun:"table:workspace_limits"`

	WorkspaceID           uuid.UUID `bun:"workspace_id,pk,type:uuid"`
	RequestsPerSecond     *int64    `bun:"requests_per_second"`
	IngestRowsPerSecond   *int64    `bun:"ingest_rows_per_second"`
	IngestBytesPerSecond  *int64    `bun:"ingest_bytes_per_second"`
	IngestConcurrentBytes *int64    `bun:"ingest_concurrent_bytes"`
	UpdatedAt             time.Time `bun:"updated_at,nullzero,default:now()"`
}
