package db

import (
	"context"
	"fmt"
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

// searchIndexes are the partitioned trigram indexes whose partitions' indexes are rebuilt.
var searchIndexes = []string{"app_logs_message_trgm_idx", "action_logs_message_trgm_idx"}

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
		WHERE NOT x.indisvalid AND c.relname ~ '_ccnew[0-9]*$' AND parent.relname IN ('app_logs', 'action_logs')
		  AND c.relnamespace = current_schema()::regnamespace`)
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
	rows, err := conn.Query(ctx, `
		SELECT ci.relname, pg_relation_size(ci.oid)
		FROM pg_inherits ii
		JOIN pg_class pi ON pi.oid = ii.inhparent
		JOIN pg_class ci ON ci.oid = ii.inhrelid
		JOIN pg_index x ON x.indexrelid = ci.oid
		JOIN pg_class part ON part.oid = x.indrelid
		JOIN pg_inherits pt ON pt.inhrelid = part.oid AND NOT pt.inhdetachpending,
		LATERAL regexp_match(pg_get_expr(part.relpartbound, part.oid), 'FROM \((.*)\) TO \((.*)\)') AS b
		WHERE pi.relname = ANY($1) AND pi.relnamespace = current_schema()::regnamespace
		  AND x.indisvalid AND b[2] <> 'MAXVALUE' AND trim(both '''' from b[2])::timestamptz <= $2
		  AND obj_description(ci.oid, 'pg_class') IS DISTINCT FROM $3
		ORDER BY trim(both '''' from b[2])::timestamptz, ci.relname
		LIMIT $4`, searchIndexes, closedBefore, SearchRebuiltComment, limit)
	if err != nil {
		return nil, fmt.Errorf("list search indexes to rebuild: %w", err)
	}
	todo, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SearchIndexRebuild, error) {
		var s SearchIndexRebuild
		return s, r.Scan(&s.Index, &s.Before)
	})
	if err != nil {
		return nil, fmt.Errorf("list search indexes to rebuild: %w", err)
	}
	var done []SearchIndexRebuild
	for _, s := range todo {
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
