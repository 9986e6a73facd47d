package graph

import (
	"context"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// Defaults and caps of logPatterns and logContext (the schema states them).
const (
	defaultPatterns    = 20
	defaultContextLogs = 10
	maxContextLogs     = 1000
)

// countArg reads an optional count argument: def when absent, else within [lo, hi].
func countArg(name string, v *int, def, lo, hi int) (int, error) {
	if v == nil {
		return def, nil
	}
	if *v < lo || *v > hi {
		return 0, model.InputErrorf("%s: %d is not between %d and %d", name, *v, lo, hi)
	}
	return *v, nil
}

// logPatterns groups the caller's workspace's logs by message template.
func (r *Resolver) logPatterns(ctx context.Context, filter *model.LogFilter, first *int) ([]model.LogPattern, error) {
	p, err := reader(ctx)
	if err != nil {
		return nil, err
	}
	n, err := countArg("first", first, defaultPatterns, 1, db.MaxPatterns)
	if err != nil {
		return nil, err
	}
	return r.LogStore.Patterns(ctx, p.Workspace.ID, filter, n)
}

// logContext returns a log of the caller's workspace and its neighbours; null when
// there is no such log, as for log(kind, id).
func (r *Resolver) logContext(ctx context.Context, kind model.LogKind, id string, before, after *int, by *model.LogContextScope) (*model.LogContext, error) {
	p, err := reader(ctx)
	if err != nil {
		return nil, err
	}
	nb, err := countArg("before", before, defaultContextLogs, 0, maxContextLogs)
	if err != nil {
		return nil, err
	}
	na, err := countArg("after", after, defaultContextLogs, 0, maxContextLogs)
	if err != nil {
		return nil, err
	}
	scope := model.LogContextScopeSource
	if by != nil {
		scope = *by
	}
	return notFoundIsNil(r.LogStore.LogContext(ctx, p.Workspace.ID, kind, id, nb, na, scope))
}
