package db

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"github.com/loggraph/loggraph/model"
)

// Deletion: logs by filter (data-subject requests) and whole workspaces. Rows go in
// batches of DeleteOptions.BatchSize, each one statement (its own short transaction)
// that also inserts the negative counts of what it deleted into log_counts, so
// totals match the rows after every batch, and recomputes the log_pattern_rollups
// rows of the slots it touched from the rows kept.

// DeleteOptions tune a deletion.
type DeleteOptions struct {
	// DryRun counts what would be deleted and deletes nothing.
	DryRun bool
	// BatchSize is the rows per delete statement (default DefaultDeleteBatch).
	BatchSize int
	// AfterBatch, if not nil, is called after each committed batch (tests interrupt
	// a deletion there).
	AfterBatch func()
	// BeforeFinal, if not nil, is called by DeleteWorkspace between its batched
	// deletes and the final transaction (tests store a late row there).
	BeforeFinal func()
}

func (o DeleteOptions) batch() int {
	if o.BatchSize <= 0 {
		return DefaultDeleteBatch
	}
	return o.BatchSize
}

// Why rows were deleted (the metrics' reason label).
const (
	reasonRetention = "retention"
	reasonWorkspace = "workspace"
	reasonFilter    = "filter"
)

// deleteWhere deletes kind k's rows of ws matching filter (the kind's filter struct,
// as reads take it), oldest first, batch rows per statement, adding them to kd.
func (l *Lifecycle) deleteWhere(ctx context.Context, ws uuid.UUID, k model.LogKind, filter any, reason string, o DeleteOptions, kd *KindDeletion) error {
	col := pgx.Identifier{k.TimeColumn()}.Sanitize()
	ki := kindOf(k)
	returning := "d.workspace_id, d.id, d." + col
	for _, dim := range slices.Compact(slices.Sorted(slices.Values(append([]string{ki.severity, ki.source}, ki.rollup...)))) {
		returning += ", d." + pgx.Identifier{dim}.Sanitize()
	}
	requested := ""
	if k == model.KindAPIRequest { // request_rollups' negative rows
		returning += ", d.code, d.gateway_code, d.client_id, d.endpoint, d.timing_ms, d.delay_ms"
		requested = ", requested AS (" + requestRollupsSQL("gone", -1) + ")"
	}
	stmt := fmt.Sprintf(`WITH k AS (?), gone AS (
			DELETE FROM %[1]s d USING k WHERE d.workspace_id = ? AND d.%[2]s = k.%[2]s AND d.id = k.id
			RETURNING %[3]s, pg_column_size(d.*) AS size
		), counted AS (%[4]s), rolled AS (%[5]s)%[6]s, changed AS (
			%[7]s SELECT workspace_id, min(%[2]s), max(%[2]s) FROM gone GROUP BY workspace_id
		), ?
		SELECT count(*), coalesce(sum(size), 0) FROM gone`,
		pgx.Identifier{k.Table()}.Sanitize(), col, returning, countsSQL(k, "gone", "-count(*)"), rollupsSQL(k, "gone", "-count(*)"),
		requested, changeSQL)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		keys, err := l.logs.kindQuery(ws, k, filter, nil)
		if err != nil {
			return err
		}
		keys.ColumnExpr("t.?, t.id", bun.Ident(k.TimeColumn())).
			OrderExpr("t.? ASC, t.id ASC", bun.Ident(k.TimeColumn())).Limit(int64(o.batch()))
		var rows, bytes int64
		err = l.db.Bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", patternLockKey); err != nil {
				return err
			}
			return tx.NewRaw(stmt, keys, ws, patternSlotsRecompute(k, ws)).Scan(ctx, &rows, &bytes)
		})
		if err != nil {
			return fmt.Errorf("delete from %s: %w", k.Table(), err)
		}
		kd.Rows, kd.Bytes = kd.Rows+rows, kd.Bytes+bytes
		l.stats.deleted(k, reason, rows, bytes)
		if o.AfterBatch != nil && rows > 0 {
			o.AfterBatch()
		}
		if rows < int64(o.batch()) {
			return nil
		}
	}
}

// DeleteLogs deletes kind's logs of ws that filter (the kind's filter struct, the
// one its reads take) matches, or with DryRun counts them.
func (l *Lifecycle) DeleteLogs(ctx context.Context, ws uuid.UUID, kind model.LogKind, filter any, o DeleteOptions) (*KindDeletion, error) {
	if !kind.IsValid() {
		return nil, model.InputErrorf("%q is not a log kind", kind)
	}
	kd := &KindDeletion{Kind: kind}
	if o.DryRun {
		n, err := l.logs.Count(ctx, ws, kind, filter)
		kd.Rows = int64(n)
		return kd, err
	}
	if err := l.deleteWhere(ctx, ws, kind, filter, reasonFilter, o, kd); err != nil {
		return kd, err
	}
	if _, err := mergeCounts(ctx, l.db, countScope{ws: ws, kind: kind}); err != nil {
		return kd, err
	}
	return kd, nil
}

// WorkspaceState is a workspace and, while `workspace delete` is under way or was
// interrupted, when its deletion began.
type WorkspaceState struct {
	model.Workspace
	DeletingSince *time.Time
}

// Workspaces lists every workspace by slug.
func (l *Lifecycle) Workspaces(ctx context.Context) ([]WorkspaceState, error) {
	rows, err := l.db.Pool.Query(ctx, `SELECT id, slug, name, created_at, deleting_since FROM workspaces ORDER BY slug`)
	if err != nil {
		return nil, fmt.Errorf("list workspaces: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (WorkspaceState, error) {
		var w WorkspaceState
		err := r.Scan(&w.ID, &w.Slug, &w.Name, &w.CreatedAt, &w.DeletingSince)
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("list workspaces: %w", err)
	}
	return out, nil
}

// DeleteWorkspace deletes workspace ws and everything it owns. It first marks the
// workspace as being deleted and revokes its tokens (so no new rows arrive), then
// deletes its logs kind by kind in batches, then, in one transaction, its counts and
// the workspace row, whose foreign keys take its entities, tokens and settings. An
// interrupted deletion leaves the workspace marked; running it again continues.
// With DryRun it only counts the logs.
func (l *Lifecycle) DeleteWorkspace(ctx context.Context, ws uuid.UUID, o DeleteOptions) (*DeletionReport, error) {
	rep := &DeletionReport{DryRun: o.DryRun}
	if o.DryRun {
		for _, k := range model.AllKinds {
			n, err := l.logs.Count(ctx, ws, k, filterWithTime(k, nil))
			if err != nil {
				return rep, err
			}
			rep.Kinds = append(rep.Kinds, KindDeletion{Kind: k, Rows: int64(n)})
		}
		return rep, nil
	}
	_, err := l.db.Pool.Exec(ctx, `
		WITH w AS (UPDATE workspaces SET deleting_since = coalesce(deleting_since, now()) WHERE id = $1),
		     r AS (UPDATE api_tokens SET revoked_at = now() WHERE workspace_id = $1 AND revoked_at IS NULL RETURNING id)
		SELECT pg_notify($2, id::text) FROM r`, ws, TokenNotifyChannel)
	if err != nil {
		return rep, fmt.Errorf("mark workspace deleting: %w", err)
	}
	for _, k := range model.AllKinds {
		kd := KindDeletion{Kind: k}
		err := l.deleteWhere(ctx, ws, k, filterWithTime(k, nil), reasonWorkspace, o, &kd)
		rep.Kinds = append(rep.Kinds, kd)
		if err != nil {
			return rep, err
		}
	}
	if o.BeforeFinal != nil {
		o.BeforeFinal()
	}
	// The workspace row goes first: deleting it waits for any batch still in flight
	// (its counts' foreign key share-locks the row), whose rows the sweep then takes;
	// a later batch fails the key. Counts and rollups go with the row (ON DELETE
	// CASCADE); entities, tokens, limits and retention overrides by their keys; the
	// pattern rollups and the batches' packed rollups (no key: its check cost ingest)
	// and the analytics cache's change rows here (a cache entry of the workspace can
	// no longer be read: its tokens are revoked).
	stmts := []string{`DELETE FROM workspaces WHERE id = $1`, `DELETE FROM log_pattern_rollups WHERE workspace_id = $1`,
		`DELETE FROM log_pattern_rollup_batches WHERE workspace_id = $1`, `DELETE FROM request_rollup_batches WHERE workspace_id = $1`,
		`DELETE FROM analytics_changes WHERE workspace_id = $1`}
	for _, k := range model.AllKinds {
		stmts = append(stmts, "DELETE FROM "+pgx.Identifier{k.Table()}.Sanitize()+" WHERE workspace_id = $1")
	}
	err = pgx.BeginFunc(ctx, l.db.Pool, func(tx pgx.Tx) error {
		for _, q := range stmts {
			if _, err := tx.Exec(ctx, q, ws); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("delete workspace: %w", err)
	}
	return rep, nil
}
