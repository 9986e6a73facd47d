package db

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// params binds a statement's values as PostgreSQL parameters ($1, $2, ...) instead
// of the literals bun writes into the text. A statement whose every value is a
// parameter has one text for every call of its shape, so PostgreSQL can keep it
// prepared on each connection and, once its plan does not depend on the values,
// skip planning: the nested pages (LATERAL over every partition of a log table,
// which no time bound prunes) spent more time being planned than run.
//
// A nil *params binds nothing: value returns the value itself, for bun to write. A
// filter's values are still written by bun (a filtered page has a text per filter).
type params struct{ args []any }

// value returns the placeholder of v as the next parameter, for a `?` of a bun
// query (or v itself when p is nil).
func (p *params) value(v any) any {
	if p == nil {
		return v
	}
	p.args = append(p.args, pgxValue(v))
	return bun.Safe("$" + strconv.Itoa(len(p.args)))
}

// pgxValue is v as pgx encodes it without detours: a []uuid.UUID as [][16]byte, whose
// elements pgx writes as uuids directly. Left as uuid.UUIDs, each element goes
// through its driver.Valuer (a string) and pgx's fallback plans, which build and
// discard an error per element: a tenth of the allocations of a nested query whose
// pages list 100 parent ids (BenchmarkNestedQuery).
func pgxValue(v any) any {
	ids, ok := v.([]uuid.UUID)
	if !ok {
		return v
	}
	raw := make([][16]byte, len(ids))
	for i, id := range ids {
		raw[i] = id
	}
	return raw
}

// scanPrepared runs q, built with p's placeholders, with p's arguments (prepared
// and cached by pgx, as every statement of the pools) and scans its rows into dest
// as q.Scan would.
func scanPrepared(ctx context.Context, idb bun.IDB, q *bun.SelectQuery, p *params, dest ...any) error {
	// database/sql's, not bun's QueryContext: bun would write the arguments into
	// the text (and find no `?` for them).
	var rows *sql.Rows
	var err error
	switch d := idb.(type) {
	case *bun.DB:
		rows, err = d.DB.QueryContext(ctx, q.String(), p.args...)
	case bun.Tx:
		rows, err = d.Tx.QueryContext(ctx, q.String(), p.args...)
	case bun.Conn:
		rows, err = d.Conn.QueryContext(ctx, q.String(), p.args...)
	default:
		return fmt.Errorf("prepared statement over %T", idb)
	}
	if err != nil {
		return err
	}
	defer rows.Close()
	if err := q.DB().ScanRows(ctx, rows, dest...); err != nil {
		return err
	}
	return rows.Err()
}
