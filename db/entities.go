package db

import (
	"context"
	"fmt"
	"reflect"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/loggraph/loggraph/model"
)

// EntityStore reads the entities logs refer to: integrations, jobs, collections,
// clients, API references and team accounts.
type EntityStore struct{ db bun.IDB }

// NewEntityStore returns the entity reader.
func NewEntityStore(db bun.IDB) *EntityStore { return &EntityStore{db: db} }

// Cursor scopes of the entity lists.
const (
	IntegrationsScope  = "integrations"
	JobsScope          = "integration.jobs"
	CollectionsScope   = "apiCollections"
	ClientsScope       = "apiClients"
	APIReferencesScope = "apiReferences"
)

// ByID loads the workspace's entities T of the given ids in one statement (none for
// no ids) and maps them by id, which key reads; ids the workspace does not have
// are absent.
func ByID[K comparable, T any](ctx context.Context, es *EntityStore, ws uuid.UUID, ids []K, key func(*T) K) (map[K]*T, error) {
	out := make(map[K]*T, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []*T
	if err := es.ByIDs(ctx, ws, ids, &rows); err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[key(r)] = r
	}
	return out, nil
}

// Distinct returns the keys of items, each once, in first-seen order (ok false:
// the item has none).
func Distinct[T any, K comparable](items []T, key func(T) (K, bool)) []K {
	var out []K
	seen := map[K]bool{}
	for _, it := range items {
		if k, ok := key(it); ok && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// ByIDs loads the workspace's rows of an entity model by id, in one statement; dest
// is a pointer to a slice of the entity's model pointers. Missing ids are absent.
func (s *EntityStore) ByIDs(ctx context.Context, ws uuid.UUID, ids any, dest any) error {
	typ, ok := idArrayTypes[reflect.TypeOf(ids)]
	if !ok {
		return fmt.Errorf("load entities: ids of type %T", ids)
	}
	// One prepared statement per entity (see params).
	ps := &params{}
	q := s.db.NewSelect().Model(dest).Where("workspace_id = ? AND id = ANY(?::"+typ+"[])", ps.value(ws), ps.value(ids))
	if err := scanPrepared(ctx, s.db, q, ps, dest); err != nil {
		return fmt.Errorf("load entities: %w", err)
	}
	return nil
}

// ListIntegrations pages integrations, newest first, and tells whether more follow.
func (s *EntityStore) ListIntegrations(ctx context.Context, ws uuid.UUID, p model.Page) ([]*model.Integration, bool, error) {
	var out []*model.Integration
	q := s.db.NewSelect().Model(&out).Where("workspace_id = ?", ws)
	if err := keyset(q, "created_at", "uuid", p); err != nil {
		return nil, false, err
	}
	if err := q.Scan(ctx); err != nil {
		return nil, false, fmt.Errorf("list integrations: %w", err)
	}
	out, more := pageOf(out, p)
	return out, more, nil
}

// IntegrationCursor is an integration's cursor.
func IntegrationCursor(i *model.Integration) model.Cursor {
	return model.Cursor{Scope: IntegrationsScope, Time: i.CreatedAt, ID: i.ID.String()}
}

// JobCursor is a job's cursor in its integration's list.
func JobCursor(j *model.IntegrationJob) model.Cursor {
	return model.Cursor{Scope: JobsScope, Time: j.CreatedAt, ID: j.ID.String()}
}

// listByName pages a name-keyed entity table in name order into dest (a pointer to
// a slice) and tells whether more follow.
func (s *EntityStore) listByName(ctx context.Context, ws uuid.UUID, p model.Page, dest any) (bool, error) {
	q := s.db.NewSelect().Model(dest).Where("workspace_id = ?", ws)
	for _, b := range []struct {
		c  *model.Cursor
		op string
	}{{p.After, ">"}, {p.Before, "<"}} {
		if b.c != nil {
			if err := checkCursorID(b.c.ID, "bigint"); err != nil {
				return false, err
			}
			q.Where("(name, id) "+b.op+" (?, ?::bigint)", b.c.Name, b.c.ID)
		}
	}
	dir := "ASC"
	if p.Backward {
		dir = "DESC"
	}
	if err := q.OrderExpr("name " + dir + ", id " + dir).Limit(readLimit(p)).Scan(ctx); err != nil {
		return false, fmt.Errorf("list entities: %w", err)
	}
	return cutPage(dest, p), nil
}

// ListCollections pages API collections by name and tells whether more follow.
func (s *EntityStore) ListCollections(ctx context.Context, ws uuid.UUID, p model.Page) ([]*model.APICollection, bool, error) {
	var out []*model.APICollection
	more, err := s.listByName(ctx, ws, p, &out)
	return out, more, err
}

// ListClients pages API clients by name and tells whether more follow.
func (s *EntityStore) ListClients(ctx context.Context, ws uuid.UUID, p model.Page) ([]*model.APIClient, bool, error) {
	var out []*model.APIClient
	more, err := s.listByName(ctx, ws, p, &out)
	return out, more, err
}

// CollectionCursor is a collection's cursor.
func CollectionCursor(c *model.APICollection) model.Cursor {
	return model.Cursor{Scope: CollectionsScope, Name: c.Name, ID: fmt.Sprint(c.ID)}
}

// ClientCursor is a client's cursor.
func ClientCursor(c *model.APIClient) model.Cursor {
	return model.Cursor{Scope: ClientsScope, Name: c.Name, ID: fmt.Sprint(c.ID)}
}

// ListAPIReferences pages API references by id and tells whether more follow.
func (s *EntityStore) ListAPIReferences(ctx context.Context, ws uuid.UUID, p model.Page) ([]*model.APIReference, bool, error) {
	var out []*model.APIReference
	q := s.db.NewSelect().Model(&out).Where("workspace_id = ?", ws)
	if p.After != nil {
		q.Where("id > ?", p.After.ID)
	}
	if p.Before != nil {
		q.Where("id < ?", p.Before.ID)
	}
	dir := "ASC"
	if p.Backward {
		dir = "DESC"
	}
	if err := q.OrderExpr("id " + dir).Limit(readLimit(p)).Scan(ctx); err != nil {
		return nil, false, fmt.Errorf("list api references: %w", err)
	}
	out, more := pageOf(out, p)
	return out, more, nil
}

// APIReferenceCursor is an API reference's cursor.
func APIReferenceCursor(r *model.APIReference) model.Cursor {
	return model.Cursor{Scope: APIReferencesScope, ID: r.ID}
}

// CountEntities counts the workspace's rows of an entity table.
func (s *EntityStore) CountEntities(ctx context.Context, ws uuid.UUID, table string) (int, error) {
	var n int
	err := s.db.NewSelect().TableExpr("?", bun.Ident(table)).ColumnExpr("count(*)").Where("workspace_id = ?", ws).Scan(ctx, &n)
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", table, err)
	}
	return n, nil
}

// JobsOfIntegrations pages each integration's jobs, newest first, in one statement.
// An integration without jobs is absent.
func (s *EntityStore) JobsOfIntegrations(ctx context.Context, ws uuid.UUID, integrations []uuid.UUID, p model.Page) (map[uuid.UUID]Paged[*model.IntegrationJob], error) {
	// Parameters, as in LogStore.childRows: one prepared statement per page size.
	ps := &params{}
	inner := s.db.NewSelect().TableExpr("integration_jobs AS j").ColumnExpr("j.*").
		Where("j.workspace_id = ? AND j.integration_id = parent.id", ps.value(ws))
	if err := keyset(inner, "created_at", "uuid", p); err != nil {
		return nil, err
	}
	var out []*model.IntegrationJob
	q := s.db.NewSelect().Model(&out).
		ModelTableExpr("unnest(?::uuid[]) WITH ORDINALITY AS parent(id, n) CROSS JOIN LATERAL (?) AS l", ps.value(integrations), inner).
		ColumnExpr("l.*").OrderExpr("parent.n")
	if err := scanPrepared(ctx, s.db, q, ps, &out); err != nil {
		return nil, fmt.Errorf("jobs of integrations: %w", err)
	}
	return groupPages(out, p, func(j *model.IntegrationJob) uuid.UUID { return j.IntegrationID }), nil
}

// JobCounts counts each integration's jobs in one statement.
func (s *EntityStore) JobCounts(ctx context.Context, ws uuid.UUID, integrations []uuid.UUID) (map[string]int, error) {
	var rows []struct {
		Parent string `bun:"parent"`
		N      int    `bun:"n"`
	}
	err := s.db.NewSelect().TableExpr("integration_jobs").ColumnExpr("integration_id::text AS parent, count(*) AS n").
		Where("workspace_id = ? AND integration_id IN (?)", ws, bun.List(integrations)).GroupExpr("integration_id").Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.Parent] = r.N
	}
	return out, nil
}
