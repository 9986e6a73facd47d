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
	Kind model.LogKind `bun:"-"`
}

// LogContext returns the log of kind and id (ErrNotFound if the workspace has none)
// with up to before earlier and after later logs of the same source (the
// service, API collection, integration job or else integration, logger, or API
// reference), both oldest first. Neighbours are ordered by (time, id), so logs of
// the anchor's very time are placed by id. Two statements: the anchor, then both
// sides together.
func (s *LogStore) LogContext(ctx context.Context, ws uuid.UUID, kind model.LogKind, id string, before, after int) (*model.LogContext, error) {
	anchor, err := s.LogByID(ctx, ws, kind, id)
	if err != nil {
		return nil, err
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
	out := &model.LogContext{Log: anchor, Before: []model.Log{}, After: []model.Log{}}
	for _, r := range rows {
		l, err := decodeLog(kind, r.Row)
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
