package db

import (
	"context"
	"time"

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
