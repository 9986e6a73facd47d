package db

import (
	"context"
	"database/sql"
	"reflect"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/loggraph/loggraph/model"
)

// CountedPage counts the logs of T's kind matching filter and reads one offset page
// of them (at most the page's Limit rows, newest first), through Count and List
// (the one data path), in one read-only repeatable-read snapshot: the total and the
// page agree while logs are being ingested. page turns the total into the page to
// read; read false (an offset past the end, say) reads no rows, and its error ends
// the snapshot and is returned as it is.
func CountedPage[T model.Log](ctx context.Context, s *LogStore, ws uuid.UUID, filter any,
	page func(total int) (p model.Page, read bool, err error)) (rows []T, total int, err error) {
	kind := (*new(T)).Kind()
	opts := &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	err = s.db.RunInTx(ctx, opts, func(ctx context.Context, tx bun.Tx) error {
		in := NewLogStore(tx)
		var err error
		if total, err = in.Count(ctx, ws, kind, filter); err != nil {
			return err
		}
		p, read, err := page(total)
		if err != nil || !read {
			return err
		}
		// An offset page knows from the count whether another follows.
		_, err = in.List(ctx, ws, kind, filter, p, &rows)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return rows, total, nil
}

// readLimit is how many rows a store reads for page p: one more than the page, to
// learn whether another follows. pageOf, cutPage and groupPages then cut the rows
// to the page, so that no caller sees the extra row.
func readLimit(p model.Page) int64 { return int64(p.Limit) + 1 }

// pageOf cuts rows read with readLimit to the page, and tells whether more rows
// follow it in list order.
func pageOf[T any](rows []T, p model.Page) ([]T, bool) {
	if len(rows) > p.Limit {
		return rows[:p.Limit], true
	}
	return rows, false
}

// cutPage is pageOf for dest, a pointer to a slice.
func cutPage(dest any, p model.Page) bool {
	v := reflect.ValueOf(dest).Elem()
	if v.Len() <= p.Limit {
		return false
	}
	v.SetLen(p.Limit)
	return true
}

// Paged is one page of a list and whether more rows follow it in list order.
type Paged[T any] struct {
	Rows []T
	More bool
}

// groupPages cuts rows read per parent with readLimit, grouped by parent, into each
// parent's page.
func groupPages[T any, K comparable](rows []T, p model.Page, parentOf func(T) K) map[K]Paged[T] {
	out := make(map[K]Paged[T])
	for _, r := range rows {
		k := parentOf(r)
		g := out[k]
		if len(g.Rows) < p.Limit {
			g.Rows = append(g.Rows, r)
		} else {
			g.More = true
		}
		out[k] = g
	}
	return out
}
