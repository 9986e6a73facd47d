package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/loggraph/loggraph/model"
)

// ExportBatchSize is how many rows an export reads per statement: large enough that
// the round trips cost little next to the rows, small enough that one batch of even
// the widest kind stays a few megabytes.
const ExportBatchSize = 5000

// ExportRow is a log with the entities it refers to, which the export formats print
// by name. Only the kind's own entities are set, and any of them may be nil (an API
// request without a client, a reference never named).
type ExportRow struct {
	Log model.Log
	// API request logs.
	Collection *model.APICollection
	Client     *model.APIClient
	// Integration logs.
	Integration *model.Integration
	// API-reference logs.
	APIReference *model.APIReference
	User         *model.TeamAccount
}

// ListLogs returns one page of a kind's logs in list order, through List, so that
// every surface reads a filter the same way, and whether more follow.
func (s *LogStore) ListLogs(ctx context.Context, ws uuid.UUID, kind model.LogKind, filter any, p model.Page) ([]model.Log, bool, error) {
	ki := kindOf(kind)
	if ki == nil {
		return nil, false, fmt.Errorf("list logs: unknown kind %q", kind)
	}
	return ki.list(ctx, s, ws, filter, p)
}

// listAs is ListLogs for the kind whose logs are T.
func listAs[T model.Log](ctx context.Context, s *LogStore, ws uuid.UUID, filter any, p model.Page) ([]model.Log, bool, error) {
	var rows []T
	more, err := s.List(ctx, ws, (*new(T)).Kind(), filter, p, &rows)
	if err != nil {
		return nil, false, asInputError(err)
	}
	out := make([]model.Log, len(rows))
	for i, r := range rows {
		out[i] = r
	}
	return out, more, nil
}

// asInputError turns PostgreSQL's data exceptions (class 22: a value out of a
// column's range, say) into the caller's mistake, which surfaces answer with a 400
// rather than a 500: only filter values reach these statements as parameters.
func asInputError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && len(pgErr.Code) == 5 && pgErr.Code[:2] == "22" {
		return model.InputErrorf("invalid filter value: %s", pgErr.Message)
	}
	return err
}

// WithEntities pairs logs of one kind with the entities they refer to: one statement
// per entity table over the distinct ids of the whole slice, never one per row.
func (s *LogStore) WithEntities(ctx context.Context, ws uuid.UUID, kind model.LogKind, logs []model.Log) ([]ExportRow, error) {
	out := make([]ExportRow, len(logs))
	for i, l := range logs {
		out[i].Log = l
	}
	if len(logs) == 0 {
		return out, nil
	}
	if ki := kindOf(kind); ki != nil && ki.entities != nil {
		if err := ki.entities(ctx, NewEntityStore(s.db), ws, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// requestEntities sets API request rows' collections and clients.
func requestEntities(ctx context.Context, es *EntityStore, ws uuid.UUID, rows []ExportRow) error {
	log := func(r ExportRow) *model.APIRequestLog { return r.Log.(*model.APIRequestLog) }
	collIDs := Distinct(rows, func(r ExportRow) (int64, bool) { return log(r).CollectionID, true })
	clientIDs := Distinct(rows, func(r ExportRow) (int64, bool) {
		if c := log(r).ClientID; c != nil {
			return *c, true
		}
		return 0, false
	})
	colls, err := ByID(ctx, es, ws, collIDs, func(c *model.APICollection) int64 { return c.ID })
	if err != nil {
		return err
	}
	clients, err := ByID(ctx, es, ws, clientIDs, func(c *model.APIClient) int64 { return c.ID })
	if err != nil {
		return err
	}
	for i := range rows {
		l := log(rows[i])
		rows[i].Collection = colls[l.CollectionID]
		if l.ClientID != nil {
			rows[i].Client = clients[*l.ClientID]
		}
	}
	return nil
}

// integrationEntities sets integration rows' integrations.
func integrationEntities(ctx context.Context, es *EntityStore, ws uuid.UUID, rows []ExportRow) error {
	id := func(r ExportRow) uuid.UUID { return r.Log.(*model.IntegrationLog).IntegrationID }
	ids := Distinct(rows, func(r ExportRow) (uuid.UUID, bool) { return id(r), true })
	integrations, err := ByID(ctx, es, ws, ids, func(i *model.Integration) uuid.UUID { return i.ID })
	if err != nil {
		return err
	}
	for i := range rows {
		rows[i].Integration = integrations[id(rows[i])]
	}
	return nil
}

// referenceEntities sets API-reference rows' references and users.
func referenceEntities(ctx context.Context, es *EntityStore, ws uuid.UUID, rows []ExportRow) error {
	log := func(r ExportRow) *model.APIReferenceLog { return r.Log.(*model.APIReferenceLog) }
	refIDs := Distinct(rows, func(r ExportRow) (string, bool) { return log(r).APIReferenceID, true })
	userIDs := Distinct(rows, func(r ExportRow) (string, bool) { return log(r).UserID, true })
	refs, err := ByID(ctx, es, ws, refIDs, func(r *model.APIReference) string { return r.ID })
	if err != nil {
		return err
	}
	users, err := ByID(ctx, es, ws, userIDs, func(u *model.TeamAccount) string { return u.ID })
	if err != nil {
		return err
	}
	for i := range rows {
		l := log(rows[i])
		rows[i].APIReference, rows[i].User = refs[l.APIReferenceID], users[l.UserID]
	}
	return nil
}

// Stream walks every log of a kind that matches filter, newest first in keyset order
// (time desc, id desc), reading batch rows per statement (ExportBatchSize when batch
// <= 0) from just below the previous batch's last row, so that memory holds one
// batch whatever the total. Rows ingested meanwhile that are newer than the rows
// already read are not included; nothing is read twice.
//
// fn receives each batch with its entities resolved; it is called for the first
// batch even when nothing matches, so a caller can hold back its response headers
// until the database has accepted the filter. A filter mistake is a
// *model.InputError. Stream stops at the first error of fn and when ctx is done (a
// cancelled ctx also cancels the running statement).
func (s *LogStore) Stream(ctx context.Context, ws uuid.UUID, kind model.LogKind, filter any, batch int,
	fn func(rows []ExportRow) error) error {
	if batch <= 0 {
		batch = ExportBatchSize
	}
	var after *model.Cursor
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		logs, more, err := s.ListLogs(ctx, ws, kind, filter, model.Page{Limit: batch, After: after})
		if err != nil {
			return err
		}
		rows, err := s.WithEntities(ctx, ws, kind, logs)
		if err != nil {
			return fmt.Errorf("export %s: %w", kind.Route(), err)
		}
		if err := fn(rows); err != nil {
			return err
		}
		if !more {
			return nil
		}
		c := LogCursor(logs[len(logs)-1])
		after = &c
	}
}
