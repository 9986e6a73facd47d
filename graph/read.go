package graph

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// reader returns the caller if it may read.
func reader(ctx context.Context) (*model.Principal, error) {
	return need(ctx, model.Role.CanRead, "read logs")
}

func pageArgs(first *int, after *string, last *int, before *string) model.PageArgs {
	return model.PageArgs{First: first, After: after, Last: last, Before: before}
}

// listKind serves a root list of one kind: keyset page plus a lazy total count.
func listKind[T model.Log](ctx context.Context, r *Resolver, kind model.LogKind, filter any, a model.PageArgs) (*model.Connection[T], error) {
	p, err := reader(ctx)
	if err != nil {
		return nil, err
	}
	page, err := model.ParsePage(a, string(kind))
	if err != nil {
		return nil, err
	}
	var rows []T
	more, err := r.LogStore.List(ctx, p.Workspace.ID, kind, filter, page, &rows)
	if err != nil {
		return nil, err
	}
	planConnection(ctx, rows)
	return model.NewConnection(rows, more, page, func(l T) model.Cursor { return db.LogCursor(l) },
		func(ctx context.Context) (int, error) { return r.LogStore.Count(ctx, p.Workspace.ID, kind, filter) }), nil
}

// childPage serves a nested list through a batching loader: load gets the field's
// response path (the loader's key), the page, and the hook that plans each batch's
// rows; count is called with the totalCount field's context.
func childPage[T any](ctx context.Context, scope string, a model.PageArgs,
	load func(path string, p model.Page, after func(context.Context, []T)) (db.Paged[T], error),
	cursor func(T) model.Cursor, count func(ctx context.Context, path string) (int, error)) (*model.Connection[T], error) {
	if _, err := reader(ctx); err != nil {
		return nil, err
	}
	page, err := model.ParsePage(a, scope)
	if err != nil {
		return nil, err
	}
	pg, err := load(fieldPath(ctx), page, planConnection[T])
	if err != nil {
		return nil, err
	}
	return model.NewConnection(pg.Rows, pg.More, page, cursor, func(ctx context.Context) (int, error) { return count(ctx, fieldPath(ctx)) }), nil
}

// logCursor adapts db.LogCursor to a concrete log type.
func logCursor[T model.Log](l T) model.Cursor { return db.LogCursor(l) }

// parseUUID reads an id argument; a malformed one simply matches nothing.
func parseUUID(s string) (uuid.UUID, bool) {
	id, err := uuid.Parse(s)
	return id, err == nil && len(s) == 36
}

func notFoundIsNil[T any](v T, err error) (T, error) {
	var zero T
	if errors.Is(err, db.ErrNotFound) {
		return zero, nil
	}
	return v, err
}
