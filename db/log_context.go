package db

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/loggraph/loggraph/model"
)

// contextSource is the column and value that name a log's source, whose logs make
// its context.
func contextSource(l model.Log) (col string, val any) {
	if ki := kindOf(l.Kind()); ki != nil {
		return ki.contextOf(l)
	}
	return "", nil
}

// contextRow is one neighbour: which side of the anchor, and the row as JSON.
type contextRow struct {
	Side string        `bun:"side"`
	Row  []byte        `bun:"row"`
	Kind model.LogKind `bun:"kind"` // set by LogContext when the rows are of the anchor's kind
}

// LogContext returns the log of kind and id (ErrNotFound if the workspace has none)
// with up to before earlier and after later logs of the same source (the
// service, API collection, integration job or else integration, logger, or API
// reference), both oldest first. Neighbours are ordered by (time, id), so logs of
// the anchor's very time are placed by id. Two statements: the anchor, then both
// sides together.
//
// With scope TRACE the neighbours are the logs of the anchor's trace across the
// kinds that carry trace ids, ordered by (time, kind, id) as the cross-kind list is.
func (s *LogStore) LogContext(ctx context.Context, ws uuid.UUID, kind model.LogKind, id string, before, after int,
	scope model.LogContextScope) (*model.LogContext, error) {
	anchor, err := s.LogByID(ctx, ws, kind, id)
	if err != nil {
		return nil, err
	}
	if scope == model.LogContextScopeTrace {
		return s.traceContext(ctx, ws, anchor, before, after)
	}
	col, val := contextSource(anchor)
	ts := bun.Ident(kind.TimeColumn())
	side := func(name, op, dir string, n int) *bun.SelectQuery {
		q := s.db.NewSelect().TableExpr("? AS t", bun.Ident(kind.Table())).
			ColumnExpr("? AS side, t.? AS ts, t.id, to_json(t.*) AS row", name, ts).
			Where("t.workspace_id = ? AND t.? = ?", ws, bun.Ident(col), val).
			Where("(t.?, t.id) "+op+" (?, ?::"+idType(kind)+")", ts, anchor.Time(), model.LogID(anchor)).
			OrderExpr("t.? "+dir+", t.id "+dir, ts).Limit(int64(n))
		if n == 0 {
			q.Where("false") // bun drops LIMIT 0, which would mean no limit
		}
		return q
	}
	// Each side is an index-ordered scan from the anchor outwards; the outer order
	// turns the earlier side oldest first.
	var rows []contextRow
	err = s.db.NewSelect().
		TableExpr("((?) UNION ALL (?)) AS c", side("before", "<", "DESC", before), side("after", ">", "ASC", after)).
		ColumnExpr("side, row").
		OrderExpr("side DESC, ts, id"). // "before" sorts after "after"; DESC puts it first
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("log context %s %s: %w", kind, id, err)
	}
	for i := range rows {
		rows[i].Kind = kind
	}
	return contextOf(anchor, rows)
}

// contextOf sorts the decoded neighbours into the anchor's context.
func contextOf(anchor model.Log, rows []contextRow) (*model.LogContext, error) {
	out := &model.LogContext{Log: anchor, Before: []model.Log{}, After: []model.Log{}}
	for _, r := range rows {
		l, err := decodeLog(r.Kind, r.Row)
		if err != nil {
			return nil, err
		}
		if r.Side == "before" {
			out.Before = append(out.Before, l)
		} else {
			out.After = append(out.After, l)
		}
	}
	return out, nil
}

// traceContext is LogContext by trace: each side is, per traced kind, an index scan of
// the trace's logs from the anchor outwards (unionKeyset places the other kinds'
// logs of the anchor's very time), cut to n overall.
func (s *LogStore) traceContext(ctx context.Context, ws uuid.UUID, anchor model.Log, before, after int) (*model.LogContext, error) {
	traced, _ := anchor.(model.Traced)
	if traced == nil || traced.Trace() == nil {
		return nil, model.InputErrorf("by: TRACE: this %s log has no trace id", anchor.Kind())
	}
	trace := *traced.Trace()
	at := &model.Cursor{Kind: anchor.Kind(), Time: anchor.Time(), ID: model.LogID(anchor)}
	side := func(name, op, dir string, n int) (*bun.SelectQuery, error) {
		var union *bun.SelectQuery
		for _, k := range model.AllKinds {
			if !kindOf(k).traced {
				continue
			}
			ts := bun.Ident(k.TimeColumn())
			q := s.db.NewSelect().TableExpr("? AS t", bun.Ident(k.Table())).
				ColumnExpr("? AS side, ? AS kind, ?::int AS rank, t.? AS ts, t.id::text AS id, to_json(t.*) AS row", name, string(k), kindRank(k), ts).
				Where("t.workspace_id = ? AND t.trace_id = ?", ws, trace).
				OrderExpr("t.? "+dir+", t.id "+dir, ts).Limit(int64(max(n, 1)))
			if err := unionKeyset(q, k, at, op); err != nil {
				return nil, err
			}
			union = unionAll(union, q)
		}
		out := s.db.NewSelect().TableExpr("(?) AS u", union).ColumnExpr("u.*").
			OrderExpr("u.ts " + dir + ", u.rank " + dir + ", u.id " + dir).Limit(int64(n))
		if n == 0 {
			out.Where("false") // bun drops LIMIT 0, which would mean no limit
		}
		return out, nil
	}
	b, err := side("before", "<", "DESC", before)
	if err != nil {
		return nil, err
	}
	a, err := side("after", ">", "ASC", after)
	if err != nil {
		return nil, err
	}
	var rows []contextRow
	err = s.db.NewSelect().
		TableExpr("((?) UNION ALL (?)) AS c", b, a).
		ColumnExpr("side, kind, row").
		OrderExpr("side DESC, ts, rank, id").
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("trace context: %w", err)
	}
	return contextOf(anchor, rows)
}
