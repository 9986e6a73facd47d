package model

import (
	"encoding/json"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// Workspace owns every other row.
type Workspace struct {
	bun.BaseModel `bun:"table:workspaces"`

	ID        uuid.UUID `bun:"id,pk,type:uuid" json:"id"`
	Slug      string    `bun:"slug" json:"slug"`
	Name      string    `bun:"name" json:"name"`
	CreatedAt time.Time `bun:"created_at,nullzero,default:now()" json:"createdAt"`
}

// APIToken is a stored token: only its hash is kept.
type APIToken struct {
	bun.BaseModel `bun:"table:api_tokens"`

	WorkspaceID uuid.UUID  `bun:"workspace_id,pk,type:uuid" json:"-"`
	ID          uuid.UUID  `bun:"id,pk,type:uuid" json:"id"`
	Name        string     `bun:"name" json:"name"`
	Role        Role       `bun:"role" json:"role"`
	Hash        []byte     `bun:"token_hash" json:"-"`
	Hint        string     `bun:"token_hint" json:"hint"`
	CreatedAt   time.Time  `bun:"created_at,nullzero,default:now()" json:"createdAt"`
	LastUsedAt  *time.Time `bun:"last_used_at" json:"lastUsedAt"`
	RevokedAt   *time.Time `bun:"revoked_at" json:"revokedAt"`
}

// Integration is a webhook/integration target (seed 001).
type Integration struct {
	bun.BaseModel `bun:"table:integrations"`

	WorkspaceID uuid.UUID `bun:"workspace_id,pk,type:uuid" json:"-"`
	ID          uuid.UUID `bun:"id,pk,type:uuid" json:"id"`
	Name        *string   `bun:"name" json:"name"`
	CreatedAt   time.Time `bun:"created_at,nullzero,default:now()" json:"createdAt"`
}

// IntegrationJob is one run of an integration; its logs are the delivery attempts.
type IntegrationJob struct {
	bun.BaseModel `bun:"table:integration_jobs"`

	WorkspaceID   uuid.UUID `bun:"workspace_id,pk,type:uuid" json:"-"`
	ID            uuid.UUID `bun:"id,pk,type:uuid" json:"id"`
	IntegrationID uuid.UUID `bun:"integration_id,type:uuid" json:"integrationId"`
	CreatedAt     time.Time `bun:"created_at,nullzero,default:now()" json:"createdAt"`
}

// APICollection groups API endpoints (seed 003): a recipe or a proxy collection.
type APICollection struct {
	bun.BaseModel `bun:"table:api_collections"`

	WorkspaceID uuid.UUID      `bun:"workspace_id,pk,type:uuid" json:"-"`
	ID          int64          `bun:"id,pk,autoincrement" json:"id"`
	Name        string         `bun:"name" json:"name"`
	Type        CollectionType `bun:"type" json:"type"`
}

// APIClient is a named caller of the API gateway (seed 003).
type APIClient struct {
	bun.BaseModel `bun:"table:api_clients"`

	WorkspaceID uuid.UUID `bun:"workspace_id,pk,type:uuid" json:"-"`
	ID          int64     `bun:"id,pk,autoincrement" json:"id"`
	Name        string    `bun:"name" json:"name"`
}

// APIReference is an imported API definition (seed 000).
type APIReference struct {
	bun.BaseModel `bun:"table:api_references"`

	WorkspaceID uuid.UUID `bun:"workspace_id,pk,type:uuid" json:"-"`
	ID          string    `bun:"id,pk" json:"id"`
	Name        *string   `bun:"name" json:"name"`
}

// TeamAccount is the user who ran an API-reference import (seed 000).
type TeamAccount struct {
	bun.BaseModel `bun:"table:team_accounts"`

	WorkspaceID uuid.UUID `bun:"workspace_id,pk,type:uuid" json:"-"`
	ID          string    `bun:"id,pk" json:"id"`
	Name        string    `bun:"name" json:"name"`
}

// AppLog is an application/service log (seed 002).
type AppLog struct {
	bun.BaseModel `bun:"table:app_logs"`

	WorkspaceID uuid.UUID       `bun:"workspace_id,type:uuid" json:"workspace_id"`
	ID          uuid.UUID       `bun:"id,type:uuid" json:"id"`
	Timestamp   time.Time       `bun:"timestamp" json:"timestamp"`
	Level       Severity        `bun:"level" json:"level"`
	Service     string          `bun:"service" json:"service"`
	Message     string          `bun:"message" json:"message"`
	Details     json.RawMessage `bun:"details,type:json" json:"details"`
	TraceID     *TraceID        `bun:"trace_id,type:uuid" json:"trace_id"`
	SpanID      *SpanID         `bun:"span_id" json:"span_id"`
}

// APIRequestLog is an API gateway request log (seed 003). Collection and client are
// stored by id; their names live on the entities. JSON tags are column names (the
// cross-kind query reads rows as to_jsonb); the REST shims have their own shapes.
type APIRequestLog struct {
	bun.BaseModel `bun:"table:api_request_logs"`

	WorkspaceID   uuid.UUID  `bun:"workspace_id,type:uuid" json:"-"`
	ID            uuid.UUID  `bun:"id,type:uuid" json:"id"`
	ReceivedAt    time.Time  `bun:"received_at" json:"received_at"`
	Code          int        `bun:"code" json:"code"`
	GatewayCode   *int       `bun:"gateway_code" json:"gateway_code"`
	StatusDetails *string    `bun:"status_details" json:"status_details"`
	IP            netip.Addr `bun:"ip,type:inet" json:"ip"`
	TimingMs      int        `bun:"timing_ms" json:"timing_ms"`
	DelayMs       int        `bun:"delay_ms" json:"delay_ms"`
	CollectionID  int64      `bun:"collection_id" json:"collection_id"`
	ClientID      *int64     `bun:"client_id" json:"client_id"`
	Endpoint      string     `bun:"endpoint" json:"endpoint"`
	JobURL        *string    `bun:"job_url" json:"job_url"`
	TraceID       *TraceID   `bun:"trace_id,type:uuid" json:"trace_id"`
	SpanID        *SpanID    `bun:"span_id" json:"span_id"`
}

// IntegrationLog is one webhook/integration delivery attempt (seed 001).
type IntegrationLog struct {
	bun.BaseModel `bun:"table:integration_logs"`

	WorkspaceID   uuid.UUID  `bun:"workspace_id,type:uuid" json:"-"`
	ID            uuid.UUID  `bun:"id,type:uuid" json:"id"`
	CreatedAt     time.Time  `bun:"created_at" json:"created_at"`
	IntegrationID uuid.UUID  `bun:"integration_id,type:uuid" json:"integration_id"`
	JobID         *uuid.UUID `bun:"job_id,type:uuid" json:"job_id"`
	Succeeded     bool       `bun:"succeeded" json:"succeeded"`
	Attempt       int        `bun:"attempt" json:"attempt"`
	Body          *string    `bun:"body" json:"body"`
	StatusCode    int        `bun:"status_code" json:"status_code"`
	ErrorDetail   *string    `bun:"error_detail" json:"error_detail"`
}

// ActionLog is an OMS action log (seed 004); Level is a Python logging level.
type ActionLog struct {
	bun.BaseModel `bun:"table:action_logs"`

	WorkspaceID uuid.UUID `bun:"workspace_id,type:uuid" json:"-"`
	ID          int64     `bun:"id" json:"id"`
	CreatedAt   time.Time `bun:"created_at" json:"created_at"`
	Level       int       `bun:"level" json:"level"`
	LoggerName  string    `bun:"logger_name" json:"logger_name"`
	Message     string    `bun:"message" json:"message"`
	AppName     string    `bun:"app_name" json:"app_name"`
	Trace       *string   `bun:"trace" json:"trace"`
}

// ImportIssue is one error or alert of an API-reference import.
type ImportIssue struct {
	Message string `json:"message"`
	Pointer string `json:"pointer"`
}

// APIReferenceLog is an API-reference import log (seed 000). ID is the seed's logs_id.
type APIReferenceLog struct {
	bun.BaseModel `bun:"table:api_reference_logs"`

	WorkspaceID    uuid.UUID     `bun:"workspace_id,type:uuid" json:"-"`
	ID             string        `bun:"id" json:"id"`
	ModifiedAt     time.Time     `bun:"modified_at" json:"modified_at"`
	APIReferenceID string        `bun:"api_reference_id" json:"api_reference_id"`
	UserID         string        `bun:"user_id" json:"user_id"`
	Title          string        `bun:"title" json:"title"`
	ErrorCount     int           `bun:"error_count" json:"error_count"`
	AlertsCount    int           `bun:"alerts_count" json:"alerts_count"`
	Errors         []ImportIssue `bun:"errors,type:jsonb" json:"errors"`
	Alerts         []ImportIssue `bun:"alerts,type:jsonb" json:"alerts"`
}

// CollectionType is recipe or proxy (seed 003).
type CollectionType string

// Collection types, stored lower case as ingest receives them.
const (
	CollectionRecipe CollectionType = "recipe"
	CollectionProxy  CollectionType = "proxy"
)

// UnmarshalGQL implements graphql.Unmarshaler (GraphQL spells RECIPE and PROXY).
func (t *CollectionType) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return InputErrorf("CollectionType must be a string")
	}
	switch ct := CollectionType(strings.ToLower(s)); {
	case s == "RECIPE" || s == "PROXY":
		*t = ct
		return nil
	}
	return InputErrorf("%q is not a valid CollectionType", s)
}

// MarshalGQL implements graphql.Marshaler.
func (t CollectionType) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(strings.ToUpper(string(t))))
}
