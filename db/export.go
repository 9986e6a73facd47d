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
// every surface reads a filter the same way.
func (s *LogStore) ListLogs(ctx context.Context, ws uuid.UUID, kind model.LogKind, filter any, p model.Page) ([]model.Log, error) {
	switch kind {
	case model.KindApp:
		return listAs[*model.AppLog](ctx, s, ws, kind, filter, p)
	case model.KindAPIRequest:
		return listAs[*model.APIRequestLog](ctx, s, ws, kind, filter, p)
	case model.KindIntegration:
		return listAs[*model.IntegrationLog](ctx, s, ws, kind, filter, p)
	case model.KindAction:
		return listAs[*model.ActionLog](ctx, s, ws, kind, filter, p)
	case model.KindAPIReference:
		return listAs[*model.APIReferenceLog](ctx, s, ws, kind, filter, p)
	}
	return nil, fmt.Errorf("list logs: unknown kind %q", kind)
}

func listAs[T model.Log](ctx context.Context, s *LogStore, ws uuid.UUID, kind model.LogKind, filter any, p model.Page) ([]model.Log, error) {
	var rows []T
	if err := s.List(ctx, ws, kind, filter, p, &rows); err != nil {
		return nil, asInputError(err)
	}
	out := make([]model.Log, len(rows))
	for i, r := range rows {
		out[i] = r
	}
	return out, nil
}

// asInputError turns PostgreSQL's data exceptions (class 22: a value out of a
// column's range, say) into the caller's mistake, which surfaces answer with a 400
// rather than a 500: only filter values reach these statements as parameters.
func asInputError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && len(pgErr.Code) == 5 && pgErr.Code[:2] == "22" {
		return &model.InputError{Msg: "invalid filter value: " + pgErr.Message}
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
	es := NewEntityStore(s.db)
	switch kind {
	case model.KindAPIRequest:
		var collIDs, clientIDs []int64
		seenColl, seenClient := map[int64]bool{}, map[int64]bool{}
		for _, l := range logs {
			r := l.(*model.APIRequestLog)
			if !seenColl[r.CollectionID] {
				seenColl[r.CollectionID] = true
				collIDs = append(collIDs, r.CollectionID)
			}
			if r.ClientID != nil && !seenClient[*r.ClientID] {
				seenClient[*r.ClientID] = true
				clientIDs = append(clientIDs, *r.ClientID)
			}
		}
		colls, err := byID(ctx, es, ws, collIDs, func(c *model.APICollection) int64 { return c.ID })
		if err != nil {
			return nil, err
		}
		clients, err := byID(ctx, es, ws, clientIDs, func(c *model.APIClient) int64 { return c.ID })
		if err != nil {
			return nil, err
		}
		for i, l := range logs {
			r := l.(*model.APIRequestLog)
			out[i].Collection = colls[r.CollectionID]
			if r.ClientID != nil {
				out[i].Client = clients[*r.ClientID]
			}
		}
	case model.KindIntegration:
		var ids []uuid.UUID
		seen := map[uuid.UUID]bool{}
		for _, l := range logs {
			if id := l.(*model.IntegrationLog).IntegrationID; !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		integrations, err := byID(ctx, es, ws, ids, func(i *model.Integration) uuid.UUID { return i.ID })
		if err != nil {
			return nil, err
		}
		for i, l := range logs {
			out[i].Integration = integrations[l.(*model.IntegrationLog).IntegrationID]
		}
	case model.KindAPIReference:
		var refIDs, userIDs []string
		seenRef, seenUser := map[string]bool{}, map[string]bool{}
		for _, l := range logs {
			r := l.(*model.APIReferenceLog)
			if !seenRef[r.APIReferenceID] {
				seenRef[r.APIReferenceID] = true
				refIDs = append(refIDs, r.APIReferenceID)
			}
			if !seenUser[r.UserID] {
				seenUser[r.UserID] = true
				userIDs = append(userIDs, r.UserID)
			}
		}
		refs, err := byID(ctx, es, ws, refIDs, func(r *model.APIReference) string { return r.ID })
		if err != nil {
			return nil, err
		}
		users, err := byID(ctx, es, ws, userIDs, func(u *model.TeamAccount) string { return u.ID })
		if err != nil {
			return nil, err
		}
		for i, l := range logs {
			r := l.(*model.APIReferenceLog)
			out[i].APIReference, out[i].User = refs[r.APIReferenceID], users[r.UserID]
		}
	}
	return out, nil
}

// byID loads entities by id in one statement and maps them by id.
func byID[K comparable, T any](ctx context.Context, es *EntityStore, ws uuid.UUID, ids []K, key func(*T) K) (map[K]*T, error) {
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
		logs, err := s.ListLogs(ctx, ws, kind, filter, model.Page{Limit: batch, After: after})
		if err != nil {
			return err
		}
		// List reads one row more than asked to tell whether another batch follows.
		more := len(logs) > batch
		if more {
			logs = logs[:batch]
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
