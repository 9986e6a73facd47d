package db

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Trigram search indexes (GIN) built row by row through their pending list come out
// larger than the same rows indexed at once: 175 against 147 bytes per app log
// (BENCHMARKS.md, "Storage"). A partition whose range has ended takes few rows
// after that (late logs), so once it has been closed for a while its trigram
// indexes are rebuilt once, with REINDEX INDEX CONCURRENTLY: reads and ingest go
// on meanwhile (it waits for the transactions using the partition, twice), and a
// late log lands in the rebuilt index as before. A rebuilt index is marked by a
// comment, so that it is not rebuilt again.

// searchRebuildLockKey is the advisory lock (pg_try_advisory_lock(hashtext(key)))
// held while RebuildSearchIndexes runs: one server rebuilds, the others skip.
const searchRebuildLockKey = "loggraph:search-index-rebuild"

// SearchRebuiltComment marks a partition's trigram index rebuilt after its range closed.
const SearchRebuiltComment = "loggraph: rebuilt once its partition closed"

// searchIndexes are the log tables with a trigram index, and that partitioned index,
// whose partitions' indexes are rebuilt.
var searchIndexes = []struct{ table, index string }{
	{"app_logs", "app_logs_message_trgm_idx"},
	{"action_logs", "action_logs_message_trgm_idx"},
}

// searchTables are the tables of searchIndexes.
func searchTables() []string {
	var out []string
	for _, si := range searchIndexes {
		out = append(out, si.table)
	}
	return out
}

// SearchIndexRebuild is one partition's trigram index rebuilt, with its size before
// and after.
type SearchIndexRebuild struct {
	Index         string
	Before, After int64
}

// RebuildSearchIndexes rebuilds, oldest first and at most limit of them, the trigram
// indexes of partitions whose range ended at or before closedBefore and that were
// not rebuilt yet. It first drops what an interrupted rebuild left (the invalid
// "_ccnew" copies REINDEX CONCURRENTLY builds). While another server runs it, it
// returns at once with nothing done.
func RebuildSearchIndexes(ctx context.Context, d *DB, closedBefore time.Time, limit int) ([]SearchIndexRebuild, error) {
	var done []SearchIndexRebuild
	err := whileLocked(ctx, d, searchRebuildLockKey, func(conn *pgxpool.Conn) error {
		var err error
		done, err = rebuildSearchIndexes(ctx, conn, closedBefore, limit)
		return err
	})
	return done, err
}

func rebuildSearchIndexes(ctx context.Context, conn *pgxpool.Conn, closedBefore time.Time, limit int) ([]SearchIndexRebuild, error) {
	// Leftovers of an interrupted REINDEX CONCURRENTLY: invalid indexes named
	// <index>_ccnew[N] on the partitions of the searched tables.
	left, err := conn.Query(ctx, `
		SELECT c.relname FROM pg_index x
		JOIN pg_class c ON c.oid = x.indexrelid
		JOIN pg_inherits p ON p.inhrelid = x.indrelid
		JOIN pg_class parent ON parent.oid = p.inhparent
		WHERE NOT x.indisvalid AND c.relname ~ '_ccnew[0-9]*$' AND parent.relname = ANY($1)
		  AND c.relnamespace = current_schema()::regnamespace`, searchTables())
	if err != nil {
		return nil, fmt.Errorf("list interrupted rebuilds: %w", err)
	}
	stale, err := pgx.CollectRows(left, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list interrupted rebuilds: %w", err)
	}
	for _, name := range stale {
		if _, err := conn.Exec(ctx, "DROP INDEX CONCURRENTLY IF EXISTS "+pgx.Identifier{name}.Sanitize()); err != nil {
			return nil, fmt.Errorf("drop %s left by an interrupted rebuild: %w", name, err)
		}
	}
	// The partitions closed by then (their bounds as Partitions reads them), oldest
	// first, and the trigram index of each that is not marked rebuilt yet.
	type candidate struct {
		SearchIndexRebuild
		closed time.Time
	}
	var todo []candidate
	for _, si := range searchIndexes {
		spans, err := listSpans(ctx, conn, si.table)
		if err != nil {
			return nil, err
		}
		closedAt := map[string]time.Time{}
		for _, sp := range spans {
			if !sp.pending && !sp.to.Equal(farFuture) && !sp.to.After(closedBefore) {
				closedAt[sp.name] = sp.to
			}
		}
		if len(closedAt) == 0 {
			continue
		}
		rows, err := conn.Query(ctx, `
			SELECT ci.relname, pg_relation_size(ci.oid), part.relname
			FROM pg_inherits ii
			JOIN pg_class ci ON ci.oid = ii.inhrelid
			JOIN pg_index x ON x.indexrelid = ci.oid
			JOIN pg_class part ON part.oid = x.indrelid
			WHERE ii.inhparent = to_regclass($1) AND part.relname = ANY($2) AND x.indisvalid
			  AND obj_description(ci.oid, 'pg_class') IS DISTINCT FROM $3`,
			pgx.Identifier{si.index}.Sanitize(), slices.Collect(maps.Keys(closedAt)), SearchRebuiltComment)
		if err != nil {
			return nil, fmt.Errorf("list search indexes to rebuild: %w", err)
		}
		found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (candidate, error) {
			var c candidate
			var partition string
			err := r.Scan(&c.Index, &c.Before, &partition)
			c.closed = closedAt[partition]
			return c, err
		})
		if err != nil {
			return nil, fmt.Errorf("list search indexes to rebuild: %w", err)
		}
		todo = append(todo, found...)
	}
	slices.SortFunc(todo, func(a, b candidate) int {
		return cmp.Or(a.closed.Compare(b.closed), cmp.Compare(a.Index, b.Index))
	})
	todo = todo[:min(len(todo), limit)]
	var done []SearchIndexRebuild
	for _, c := range todo {
		s := c.SearchIndexRebuild
		ident := pgx.Identifier{s.Index}.Sanitize()
		if _, err := conn.Exec(ctx, "REINDEX INDEX CONCURRENTLY "+ident); err != nil {
			return done, fmt.Errorf("rebuild %s: %w", s.Index, err)
		}
		if _, err := conn.Exec(ctx, fmt.Sprintf("COMMENT ON INDEX %s IS '%s'", ident, SearchRebuiltComment)); err != nil {
			return done, fmt.Errorf("mark %s rebuilt: %w", s.Index, err)
		}
		if err := conn.QueryRow(ctx, "SELECT pg_relation_size(to_regclass($1))", ident).Scan(&s.After); err != nil {
			return done, fmt.Errorf("size of %s: %w", s.Index, err)
		}
		done = append(done, s)
	}
	return done, nil
}
