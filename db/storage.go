package db

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loggraph/loggraph/model"
)

// Storage, as /metrics reports it: what each kind's table takes on disk over its
// partitions, and each workspace's rows and share of it. Cheap enough to read every
// few minutes: the sizes come from the catalog (one pg_total_relation_size per
// partition), the rows from log_counts (the same totals the REST shims answer).

// StorageSnapshot is storage at one moment.
type StorageSnapshot struct {
	At         time.Time
	Kinds      []KindStorage
	Workspaces []WorkspaceStorage
}

// KindStorage is one kind's table: its partitions and their bytes on disk (heap,
// TOAST and every index), and its rows (all workspaces).
type KindStorage struct {
	Kind       model.LogKind
	Partitions int
	Bytes      int64
	Rows       int64
}

// WorkspaceStorage is one workspace's logs of one kind. Bytes is approximate: the
// kind's bytes shared out by rows (workspaces' rows are interleaved in the same
// partitions and indexes, so there is no exact figure short of measuring each row).
type WorkspaceStorage struct {
	Workspace string // slug
	Kind      model.LogKind
	Rows      int64
	Bytes     int64
}

// ReadStorage measures storage now.
func ReadStorage(ctx context.Context, d *DB) (StorageSnapshot, error) {
	snap := StorageSnapshot{At: time.Now()}
	byKind := map[model.LogKind]*KindStorage{}
	for _, k := range model.AllKinds {
		ks := KindStorage{Kind: k}
		if err := d.Pool.QueryRow(ctx, `
			SELECT count(*), coalesce(sum(pg_total_relation_size(i.inhrelid)), 0)::bigint
			FROM pg_inherits i WHERE i.inhparent = to_regclass($1)`, k.Table()).Scan(&ks.Partitions, &ks.Bytes); err != nil {
			return snap, err
		}
		snap.Kinds = append(snap.Kinds, ks)
	}
	for i := range snap.Kinds {
		byKind[snap.Kinds[i].Kind] = &snap.Kinds[i]
	}
	rows, err := d.Pool.Query(ctx, `
		SELECT w.slug, c.kind, c.n
		FROM (SELECT workspace_id, kind, sum(n)::bigint AS n FROM log_counts GROUP BY 1, 2) c
		JOIN workspaces w ON w.id = c.workspace_id
		WHERE c.n > 0
		ORDER BY 1, 2`)
	if err != nil {
		return snap, err
	}
	defer rows.Close()
	for rows.Next() {
		var ws WorkspaceStorage
		var kind string
		if err := rows.Scan(&ws.Workspace, &kind, &ws.Rows); err != nil {
			return snap, err
		}
		ws.Kind = model.LogKind(kind)
		if ks := byKind[ws.Kind]; ks != nil {
			ks.Rows += ws.Rows
		}
		snap.Workspaces = append(snap.Workspaces, ws)
	}
	if err := rows.Err(); err != nil {
		return snap, err
	}
	for i := range snap.Workspaces {
		ws := &snap.Workspaces[i]
		if ks := byKind[ws.Kind]; ks != nil && ks.Rows > 0 {
			ws.Bytes = int64(float64(ks.Bytes) * float64(ws.Rows) / float64(ks.Rows))
		}
	}
	return snap, nil
}

// TableSize is what one kind's table takes on disk, summed over its partitions.
type TableSize struct {
	Rows    int64
	Heap    int64       // heap, TOAST, free space and visibility maps (pg_table_size)
	Indexes []IndexSize // each index of the parent, over its partitions' indexes
}

// IndexSize is one partitioned index's bytes over all partitions.
type IndexSize struct {
	Name  string
	Bytes int64
}

// MeasureTable counts kind's rows and measures its heap and each of its indexes
// (exact: it counts every row; for benchmarks and operators, not for /metrics).
func MeasureTable(ctx context.Context, d *DB, kind model.LogKind) (TableSize, error) {
	var ts TableSize
	table := pgx.Identifier{kind.Table()}.Sanitize()
	if err := d.Pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM `+table+`),
		       coalesce((SELECT sum(pg_table_size(inhrelid)) FROM pg_inherits WHERE inhparent = $1::regclass), 0)::bigint`,
		kind.Table()).Scan(&ts.Rows, &ts.Heap); err != nil {
		return ts, err
	}
	rows, err := d.Pool.Query(ctx, `
		SELECT c.relname, coalesce(sum(pg_relation_size(i.inhrelid)), 0)::bigint
		FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
		LEFT JOIN pg_inherits i ON i.inhparent = x.indexrelid
		WHERE x.indrelid = $1::regclass
		GROUP BY c.relname ORDER BY c.relname`, kind.Table())
	if err != nil {
		return ts, err
	}
	defer rows.Close()
	for rows.Next() {
		var ix IndexSize
		if err := rows.Scan(&ix.Name, &ix.Bytes); err != nil {
			return ts, err
		}
		ts.Indexes = append(ts.Indexes, ix)
	}
	return ts, rows.Err()
}

// VacuumLogTables vacuums and analyzes every log table (partitions included), as
// autovacuum would in time: visibility maps made, GIN pending lists merged. Storage
// is measured after it, in the state a table settles in.
func VacuumLogTables(ctx context.Context, d *DB) error {
	names := make([]string, len(model.AllKinds))
	for i, k := range model.AllKinds {
		names[i] = pgx.Identifier{k.Table()}.Sanitize()
	}
	_, err := d.Pool.Exec(ctx, "VACUUM (ANALYZE) "+strings.Join(names, ", "))
	return err
}
