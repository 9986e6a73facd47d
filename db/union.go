package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/loggraph/loggraph/model"
)

// LogsScope is the cursor scope of the cross-kind list.
const LogsScope = "logs"

// kindRank orders kinds among logs of the same time in the cross-kind list.
func kindRank(k model.LogKind) int { return slices.Index(model.AllKinds, k) }

// filterCommon turns a LogFilter into one kind's WHERE clauses.
func filterCommon(q *bun.SelectQuery, ws uuid.UUID, k model.LogKind, f *model.LogFilter) error {
	if f == nil {
		return nil
	}
	if err := f.Validate(); err != nil {
		return err
	}
	if err := timeFilter(q, k.TimeColumn(), f.Time); err != nil {
		return err
	}
	sev := bun.Ident(severityExpr(k))
	if len(f.Severities) > 0 {
		q.Where("? IN (?)", sev, bun.List(f.Severities))
	}
	if f.MinSeverity != nil {
		q.Where("? >= ?", sev, *f.MinSeverity)
	}
	ki := kindOf(k)
	if len(f.Sources) > 0 {
		ki.whereSource(q, ws, f.Sources)
	}
	ki.whereSearch(q, f.Search)
	return ki.whereTrace(q, "traceIds", f.TraceIDs)
}

func logKinds(f *model.LogFilter) []model.LogKind {
	if f == nil || len(f.Kinds) == 0 {
		return model.AllKinds
	}
	var out []model.LogKind
	for _, k := range model.AllKinds { // canonical order, duplicates dropped
		if slices.Contains(f.Kinds, k) {
			out = append(out, k)
		}
	}
	return out
}

// unionKeyset bounds one kind's branch by a cross-kind cursor. The list is ordered by
// (time, kind rank, id) descending: a branch of lower rank than the cursor's kind
// may include the cursor's time, one of higher rank may not, and the cursor's own
// kind compares (time, id).
func unionKeyset(q *bun.SelectQuery, k model.LogKind, c *model.Cursor, op string) error {
	col := bun.Ident(k.TimeColumn())
	rank, crank := kindRank(k), kindRank(c.Kind)
	if crank < 0 {
		return model.InputErrorf("after/before: not a valid cursor")
	}
	switch {
	case rank == crank:
		if err := checkCursorID(c.ID, idType(k)); err != nil {
			return err
		}
		q.Where("(?, id) "+op+" (?, ?::"+idType(k)+")", col, c.Time, c.ID)
	case (rank < crank) == (op == "<"):
		q.Where("? "+op+"= ?", col, c.Time)
	default:
		q.Where("? "+op+" ?", col, c.Time)
	}
	return nil
}

// unionRow is one row of the cross-kind query: the kind and the row as JSON.
type unionRow struct {
	Kind model.LogKind   `bun:"kind"`
	Row  json.RawMessage `bun:"row"`
}

// Logs returns one page of logs across kinds, merged by PostgreSQL in one statement:
// each kind's branch is an index-ordered, limited scan and the outer query merges
// them. more tells whether more logs follow the page in list order.
func (s *LogStore) Logs(ctx context.Context, ws uuid.UUID, f *model.LogFilter, p model.Page) (logs []model.Log, more bool, err error) {
	dir := "DESC"
	if p.Backward {
		dir = "ASC"
	}
	var union *bun.SelectQuery
	for _, k := range logKinds(f) {
		inner := s.db.NewSelect().TableExpr("? AS t", bun.Ident(k.Table())).Where("t.workspace_id = ?", ws)
		if err := filterCommon(inner, ws, k, f); err != nil {
			return nil, false, err
		}
		for _, b := range []struct {
			c  *model.Cursor
			op string
		}{{p.After, "<"}, {p.Before, ">"}} {
			if b.c != nil {
				if err := unionKeyset(inner, k, b.c, b.op); err != nil {
					return nil, false, err
				}
			}
		}
		col := bun.Ident(k.TimeColumn())
		inner.ColumnExpr("? AS kind, ? AS rank, t.? AS ts, row_number() OVER (ORDER BY t.? "+dir+", t.id "+dir+") AS ord, to_json(t.*) AS row",
			string(k), kindRank(k), col, col).
			OrderExpr("t.? "+dir+", t.id "+dir, col).Limit(readLimit(p))
		branch := s.db.NewSelect().TableExpr("(?) AS b", inner).Column("kind", "rank", "ts", "ord", "row")
		union = unionAll(union, branch)
	}
	var rows []unionRow
	err = s.db.NewSelect().TableExpr("(?) AS u", union).Column("kind", "row").
		OrderExpr("ts "+dir+", rank "+dir+", ord ASC").Limit(readLimit(p)).Scan(ctx, &rows)
	if err != nil {
		return nil, false, fmt.Errorf("list logs: %w", err)
	}
	rows, more = pageOf(rows, p)
	out := make([]model.Log, len(rows))
	for i, r := range rows {
		l, err := decodeLog(r.Kind, r.Row)
		if err != nil {
			return nil, false, err
		}
		out[i] = l
	}
	return out, more, nil
}

// CountLogs counts logs across kinds in one statement.
func (s *LogStore) CountLogs(ctx context.Context, ws uuid.UUID, f *model.LogFilter) (int, error) {
	var sum *bun.SelectQuery
	for _, k := range logKinds(f) {
		q := s.db.NewSelect().TableExpr("? AS t", bun.Ident(k.Table())).Where("t.workspace_id = ?", ws).ColumnExpr("count(*) AS n")
		if err := filterCommon(q, ws, k, f); err != nil {
			return 0, err
		}
		if sum == nil {
			sum = q
		} else {
			sum = sum.UnionAll(q)
		}
	}
	var n int
	if err := s.db.NewSelect().TableExpr("(?) AS c", sum).ColumnExpr("coalesce(sum(n), 0)").Scan(ctx, &n); err != nil {
		return 0, fmt.Errorf("count logs: %w", err)
	}
	return n, nil
}

// UnionCursor is the cursor of a log in the cross-kind list.
func UnionCursor(l model.Log) model.Cursor {
	return model.Cursor{Scope: LogsScope, Kind: l.Kind(), Time: l.Time(), ID: model.LogID(l)}
}

func decodeLog(k model.LogKind, raw json.RawMessage) (model.Log, error) {
	l := NewLog(k)
	if l == nil {
		return nil, fmt.Errorf("decode log: unknown kind %q", k)
	}
	if err := json.Unmarshal(raw, l); err != nil {
		return nil, fmt.Errorf("decode %s log: %w", k, err)
	}
	return l, nil
}

// LogByID returns one log of the workspace, or ErrNotFound (also for an id that
// cannot be of the kind).
func (s *LogStore) LogByID(ctx context.Context, ws uuid.UUID, kind model.LogKind, id string) (model.Log, error) {
	if err := model.CheckText("id", id); err != nil {
		return nil, err
	}
	if checkCursorID(id, idType(kind)) != nil {
		return nil, ErrNotFound
	}
	l := NewLog(kind)
	if l == nil {
		return nil, ErrNotFound
	}
	// Several partitions may hold the id (an id is unique with its time); the newest wins.
	err := s.db.NewSelect().Model(l).Where("workspace_id = ? AND id = ?::"+idType(kind), ws, id).
		OrderExpr("? DESC", bun.Ident(kind.TimeColumn())).Limit(1).Scan(ctx)
	if err != nil {
		if errors.Is(noRows(err), ErrNotFound) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("log %s %s: %w", kind, id, err)
	}
	return l, nil
}

// idArrayTypes are the SQL types of the ids ChildPages, ChildCounts and
// EntityStore.ByIDs take, by the Go type of their slice.
var idArrayTypes = map[reflect.Type]string{
	reflect.TypeFor[[]uuid.UUID](): "uuid",
	reflect.TypeFor[[]int64]():     "bigint",
	reflect.TypeFor[[]string]():    "text",
}

// ChildPages lists one page of each parent's logs of T's kind in one statement
// (LATERAL): parentCol is the logs' column that points at the parent
// (integration_id, job_id, collection_id, client_id, api_reference_id), parents the
// parents' ids (uuid.UUID, int64 or string), parentOf the parent of a log. A parent
// without logs is absent.
func ChildPages[T model.Log, K comparable](ctx context.Context, s *LogStore, ws uuid.UUID, parentCol string, parents []K,
	filter any, p model.Page, parentOf func(T) K) (map[K]Paged[T], error) {
	var rows []T
	if err := s.childRows(ctx, ws, (*new(T)).Kind(), parentCol, parents, filter, p, &rows); err != nil {
		return nil, err
	}
	return groupPages(rows, p, parentOf), nil
}

// childRows reads ChildPages' rows into dest, a pointer to a slice of the kind's
// model pointers: grouped by parent, in list order within each, and one more per
// parent than the page (see keyset).
func (s *LogStore) childRows(ctx context.Context, ws uuid.UUID, kind model.LogKind, parentCol string, parents any,
	filter any, p model.Page, dest any) error {
	parentType, ok := idArrayTypes[reflect.TypeOf(parents)]
	if !ok {
		return fmt.Errorf("child logs of %s: parents of type %T", parentCol, parents)
	}
	// Workspace and parents are parameters: without a filter or a cursor, whose
	// values bun writes as literals, the text is the same for every call of a page
	// size, so one prepared statement and its plan serve them all (see params).
	ps := &params{}
	inner, err := s.boundKindQuery(ps, ws, kind, filter, nil)
	if err != nil {
		return err
	}
	inner.Where("t.? = parent.id", bun.Ident(parentCol))
	if err := keyset(inner, kind.TimeColumn(), idType(kind), p); err != nil {
		return err
	}
	inner.ColumnExpr("t.*")
	from, args := "unnest(?::"+parentType+"[]) WITH ORDINALITY AS parent(id, n)", []any{ps.value(parents)}
	if kind == model.KindIntegration && parentCol == "job_id" {
		// A job's logs never precede the job (ingest keeps its created_at at its
		// earliest delivery), so the partitions before it are pruned at run time,
		// parent by parent: without a time bound every job probes every partition.
		from += " JOIN integration_jobs AS j ON j.workspace_id = ? AND j.id = parent.id"
		args = append(args, ps.value(ws))
		inner.Where("t.created_at >= j.created_at")
	}
	q := s.db.NewSelect().Model(dest).
		ModelTableExpr(from+" CROSS JOIN LATERAL (?) AS l", append(args, inner)...).
		ColumnExpr("l.*").
		OrderExpr("parent.n")
	if err := scanPrepared(ctx, s.db, q, ps, dest); err != nil {
		return fmt.Errorf("child logs of %s: %w", parentCol, err)
	}
	return nil
}

// ChildCounts counts each parent's logs matching filter, in one statement (parents
// as ChildPages takes them).
func (s *LogStore) ChildCounts(ctx context.Context, ws uuid.UUID, kind model.LogKind, parentCol string, parents any, filter any) (map[string]int, error) {
	q, err := s.kindQuery(ws, kind, filter, nil)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		Parent string `bun:"parent"`
		N      int    `bun:"n"`
	}
	err = q.ColumnExpr("t.?::text AS parent, count(*) AS n", bun.Ident(parentCol)).
		Where("t.? = ANY(?)", bun.Ident(parentCol), pgdialect.Array(parents)).
		GroupExpr("t.?", bun.Ident(parentCol)).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("count child logs: %w", err)
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.Parent] = r.N
	}
	return out, nil
}

// unionAll appends q to union with UNION ALL; a nil union is none yet, so the
// result is q.
func unionAll(union, q *bun.SelectQuery) *bun.SelectQuery {
	if union == nil {
		return q
	}
	return union.UnionAll(q)
}
