package db

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"github.com/loggraph/loggraph/model"
)

// Retention keeps each kind of log for a number of days: a server-wide default per
// kind (retention_defaults; a kind without one is kept forever, which is how an
// upgraded database starts) and per-workspace overrides, shorter or longer, or
// "forever" (workspace_retention). A run (ApplyRetention) drops the whole
// partitions that no workspace keeps and deletes, in small batches over the list
// index, the older rows of the workspaces whose retention is shorter; the log_counts
// rows of what it removes go in the same step, so totals never count deleted logs.

// MaxRetentionDays is the longest retention one can set (100 years); longer is
// "forever".
const MaxRetentionDays = 36500

// DefaultDeleteBatch is how many rows one delete statement (one short transaction)
// removes: retention's per-workspace deletes, `workspace delete` and `logs delete`.
const DefaultDeleteBatch = 5000

// RetentionLockKey is the session advisory lock (pg_try_advisory_lock(hashtext(key)))
// a retention run holds: one run at a time across servers and CLI invocations.
const RetentionLockKey = "loggraph:retention"

// ErrRetentionBusy: another server or `loggraph retention apply` is running retention.
var ErrRetentionBusy = errors.New("another retention run is in progress")

// RetentionSource says where a workspace's retention of a kind comes from.
type RetentionSource string

// The sources of a retention.
const (
	RetentionFromDefault  RetentionSource = "DEFAULT"
	RetentionFromOverride RetentionSource = "OVERRIDE"
)

// KindRetention is the retention of one kind: Days nil keeps the logs forever.
type KindRetention struct {
	Kind   model.LogKind   `json:"kind"`
	Days   *int            `json:"days"`
	Source RetentionSource `json:"source"`
}

// CheckRetentionDays refuses a retention outside 1..MaxRetentionDays days.
func CheckRetentionDays(days int) error {
	if days < 1 || days > MaxRetentionDays {
		return model.InputErrorf("retention must be 1 to %d days (or forever), not %d", MaxRetentionDays, days)
	}
	return nil
}

// Lifecycle applies retention and deletes workspaces and logs. Its counters feed
// the metrics (Collector); a server shares one between its job and its API.
type Lifecycle struct {
	db    *DB
	logs  *LogStore
	stats lifecycleStats
}

// NewLifecycle returns the retention and deletion manager over d.
func NewLifecycle(d *DB) *Lifecycle { return &Lifecycle{db: d, logs: NewLogStore(d.Bun)} }

// kindNames are the kinds as log_counts and the retention tables spell them.
func kindNames() []string {
	out := make([]string, len(model.AllKinds))
	for i, k := range model.AllKinds {
		out[i] = string(k)
	}
	return out
}

// Retention returns ws's retention of every kind (uuid.Nil: the server's defaults).
func (l *Lifecycle) Retention(ctx context.Context, ws uuid.UUID) ([]KindRetention, error) {
	all, err := l.effectiveRetention(ctx, &ws)
	if err != nil {
		return nil, err
	}
	return all[ws], nil
}

// effectiveRetention returns each workspace's retention of every kind, in
// model.AllKinds order (only ws's when ws is not nil; the defaults alone under
// uuid.Nil when *ws is uuid.Nil).
func (l *Lifecycle) effectiveRetention(ctx context.Context, ws *uuid.UUID) (map[uuid.UUID][]KindRetention, error) {
	rows, err := l.db.Pool.Query(ctx, `
		WITH k AS (SELECT kind, ord FROM unnest($1::text[]) WITH ORDINALITY AS u(kind, ord)),
		     w AS (SELECT id FROM workspaces WHERE $2::uuid IS NULL OR id = $2
		           UNION ALL SELECT '00000000-0000-0000-0000-000000000000'::uuid WHERE $2 = '00000000-0000-0000-0000-000000000000')
		SELECT w.id, k.kind, CASE WHEN o.workspace_id IS NULL THEN d.days ELSE o.days END, o.workspace_id IS NOT NULL
		FROM w CROSS JOIN k
		LEFT JOIN workspace_retention o ON o.workspace_id = w.id AND o.kind = k.kind
		LEFT JOIN retention_defaults d ON d.kind = k.kind
		ORDER BY w.id, k.ord`, kindNames(), ws)
	if err != nil {
		return nil, fmt.Errorf("read retention: %w", err)
	}
	out := map[uuid.UUID][]KindRetention{}
	var id uuid.UUID
	var r KindRetention
	var override bool
	_, err = pgx.ForEachRow(rows, []any{&id, &r.Kind, &r.Days, &override}, func() error {
		r.Source = RetentionFromDefault
		if override {
			r.Source = RetentionFromOverride
		}
		out[id] = append(out[id], r)
		r.Days = nil
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read retention: %w", err)
	}
	return out, nil
}

// SetDefaultRetention sets kind's server-wide retention (days nil: forever).
func (l *Lifecycle) SetDefaultRetention(ctx context.Context, kind model.LogKind, days *int) error {
	if days != nil {
		if err := CheckRetentionDays(*days); err != nil {
			return err
		}
	}
	var err error
	if days == nil {
		_, err = l.db.Pool.Exec(ctx, `DELETE FROM retention_defaults WHERE kind = $1`, string(kind))
	} else {
		_, err = l.db.Pool.Exec(ctx, `INSERT INTO retention_defaults (kind, days) VALUES ($1, $2)
			ON CONFLICT (kind) DO UPDATE SET days = excluded.days, updated_at = now()`, string(kind), *days)
	}
	if err != nil {
		return fmt.Errorf("set retention: %w", err)
	}
	return nil
}

// SetWorkspaceRetention overrides kind's retention for ws (days nil: forever), or
// with reset goes back to the default.
func (l *Lifecycle) SetWorkspaceRetention(ctx context.Context, ws uuid.UUID, kind model.LogKind, days *int, reset bool) error {
	if days != nil {
		if err := CheckRetentionDays(*days); err != nil {
			return err
		}
	}
	var err error
	if reset {
		_, err = l.db.Pool.Exec(ctx, `DELETE FROM workspace_retention WHERE workspace_id = $1 AND kind = $2`, ws, string(kind))
	} else {
		_, err = l.db.Pool.Exec(ctx, `INSERT INTO workspace_retention (workspace_id, kind, days) VALUES ($1, $2, $3)
			ON CONFLICT (workspace_id, kind) DO UPDATE SET days = excluded.days, updated_at = now()`, ws, string(kind), days)
	}
	if err != nil {
		return fmt.Errorf("set retention: %w", err)
	}
	return nil
}

// RetentionOptions tune a retention run.
type RetentionOptions struct {
	// DryRun reports what a run would delete and deletes nothing.
	DryRun bool
	// Now is the clock (default time.Now); a retention of N days keeps the rows from
	// UTC midnight N days before today's.
	Now func() time.Time
	// BatchSize is the rows per delete statement (default DefaultDeleteBatch).
	BatchSize int
}

// KindDeletion is what was (or, in a dry run, would be) deleted of one kind. Bytes
// are the dropped partitions' size on disk plus the deleted rows' size (whose space
// vacuum makes reusable); a dry run counts the partitions' bytes only.
type KindDeletion struct {
	Kind       model.LogKind
	Rows       int64
	Bytes      int64
	Partitions []string // dropped partitions
}

// DeletionReport is a deletion's outcome, kind by kind.
type DeletionReport struct {
	DryRun bool
	Kinds  []KindDeletion
}

// Totals sums the report over its kinds.
func (r *DeletionReport) Totals() (rows, bytes int64, partitions int) {
	for _, k := range r.Kinds {
		rows, bytes, partitions = rows+k.Rows, bytes+k.Bytes, partitions+len(k.Partitions)
	}
	return rows, bytes, partitions
}

// cutoff is where a workspace's retention of a kind ends: rows before it go (nil:
// none go).
type cutoff struct {
	ws uuid.UUID
	at *time.Time
}

// ApplyRetention runs retention once, under RetentionLockKey (ErrRetentionBusy if
// another run holds it). A run that is not a dry run is recorded in retention_runs,
// failed or not (LastRetentionRun).
func (l *Lifecycle) ApplyRetention(ctx context.Context, o RetentionOptions) (*DeletionReport, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultDeleteBatch
	}
	conn, err := l.db.Pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext($1))`, RetentionLockKey).Scan(&locked); err != nil {
		return nil, fmt.Errorf("retention lock: %w", err)
	}
	if !locked {
		return nil, ErrRetentionBusy
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext($1))`, RetentionLockKey); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx)) // closing the session releases the lock
		}
	}()
	started := time.Now()
	rep := &DeletionReport{DryRun: o.DryRun}
	err = l.applyRetention(ctx, o, rep)
	if !o.DryRun {
		rows, bytes, parts := rep.Totals()
		l.stats.ran(started, err == nil)
		if rerr := l.recordRun(context.WithoutCancel(ctx), started, err, rows, bytes, parts); rerr != nil && err == nil {
			err = rerr
		}
	}
	return rep, err
}

func (l *Lifecycle) applyRetention(ctx context.Context, o RetentionOptions, rep *DeletionReport) error {
	all, err := l.effectiveRetention(ctx, nil)
	if err != nil {
		return err
	}
	today := o.Now().UTC().Truncate(day)
	for i, k := range model.AllKinds {
		var cuts []cutoff
		for ws, rs := range all {
			c := cutoff{ws: ws}
			if d := rs[i].Days; d != nil {
				at := today.AddDate(0, 0, -*d)
				c.at = &at
			}
			cuts = append(cuts, c)
		}
		kd := KindDeletion{Kind: k}
		err := l.retainKind(ctx, k, cuts, o, &kd)
		rep.Kinds = append(rep.Kinds, kd)
		if err != nil {
			return fmt.Errorf("retention of %s: %w", k.Table(), err)
		}
	}
	return nil
}

// retainKind applies kind k's cutoffs: the partitions wholly before every
// workspace's cutoff are dropped, then each workspace's older rows left are deleted.
func (l *Lifecycle) retainKind(ctx context.Context, k model.LogKind, cuts []cutoff, o RetentionOptions, kd *KindDeletion) error {
	var dropBefore *time.Time // the earliest cutoff, if every workspace has one
	for i, c := range cuts {
		if c.at == nil {
			dropBefore = nil
			break
		}
		if i == 0 || c.at.Before(*dropBefore) {
			at := *c.at
			dropBefore = &at
		}
	}
	// floor: the rows before it were all in the partitions dropped (the run of
	// droppable partitions from the oldest on); the rows left start there.
	var floor *time.Time
	if dropBefore != nil {
		spans, err := listSpans(ctx, l.db.Pool, k.Table())
		if err != nil {
			return err
		}
		prefix := true
		for _, s := range spans {
			// Only partitions ending at a UTC midnight: log_counts rows are per day.
			if s.to.After(*dropBefore) || !s.to.Equal(s.to.Truncate(day)) {
				prefix = false
				continue
			}
			if err := l.dropPartition(ctx, k, s, o.DryRun, kd); err != nil {
				return err
			}
			if prefix {
				to := s.to
				floor = &to
			}
		}
	}
	for _, c := range cuts {
		if c.at == nil {
			continue
		}
		if floor != nil && !floor.Before(*c.at) {
			continue // the dropped partitions held all of it
		}
		window := &model.TimeRange{From: floor, To: c.at}
		if o.DryRun {
			n, err := l.logs.Count(ctx, c.ws, k, filterWithTime(k, window))
			if err != nil {
				return err
			}
			kd.Rows += int64(n)
			continue
		}
		if err := l.deleteWhere(ctx, c.ws, k, filterWithTime(k, window), reasonRetention, DeleteOptions{BatchSize: o.BatchSize}, kd); err != nil {
			return err
		}
		// The deleted rows' negative deltas cancel their days' counts: merge them away.
		if _, err := mergeCounts(ctx, l.db, countScope{ws: c.ws, kind: k, to: *c.at}); err != nil {
			return err
		}
	}
	return nil
}

// filterWithTime is kind k's filter with only the window set.
func filterWithTime(k model.LogKind, window *model.TimeRange) any {
	return kindOf(k).filter.withTime(nil, window)
}

// dropPartition removes partition s of kind k without blocking ingest or reads: its
// days' counts go first (a total may miss the rows for a moment, never count rows
// already gone), then DETACH PARTITION ... CONCURRENTLY (outside a transaction;
// FINALIZE when an earlier run was interrupted in it), then, in one transaction, DROP
// TABLE and a recount of those days from the rows (a backfill may have stored rows
// of those days meanwhile, into a partition made for them).
func (l *Lifecycle) dropPartition(ctx context.Context, k model.LogKind, s span, dryRun bool, kd *KindDeletion) error {
	from, to := s.from.Format(time.DateOnly), s.to.Format(time.DateOnly)
	var rows, bytes int64
	err := l.db.Pool.QueryRow(ctx, `
		SELECT (SELECT coalesce(sum(n), 0) FROM log_counts WHERE kind = $1 AND day >= $2::date AND day < $3::date),
		       pg_total_relation_size(to_regclass(quote_ident($4)))`,
		string(k), from, to, s.name).Scan(&rows, &bytes)
	if err != nil {
		return fmt.Errorf("size of partition %s: %w", s.name, err)
	}
	if !dryRun {
		parent, child := pgx.Identifier{k.Table()}.Sanitize(), pgx.Identifier{s.name}.Sanitize()
		err := pgx.BeginFunc(ctx, l.db.Pool, func(tx pgx.Tx) error {
			if err := lockPatterns(ctx, tx); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `
			WITH rolled AS (DELETE FROM log_rollups WHERE kind = $1 AND slot >= $4 AND slot < $5),
			patterns AS (DELETE FROM log_pattern_rollups WHERE kind = $1 AND slot >= $4 AND slot < $5),
			requested AS (DELETE FROM request_rollups WHERE $1 = 'API_REQUEST' AND slot >= $4 AND slot < $5),
			`+requestBatchesUnpack("$1 = 'API_REQUEST' AND "+overlapSQL("$4", "$5"), "NOT (u.slot >= $4 AND u.slot < $5)")+`,
			`+patternBatchesUnpack("kind = $1 AND "+overlapSQL("$4", "$5"), "NOT (u.slot >= $4 AND u.slot < $5)")+`,
			changed AS (`+changeSQL+` VALUES ($6, $4, $5))
			DELETE FROM log_counts WHERE kind = $1 AND day >= $2::date AND day < $3::date`,
				string(k), from, to, s.from, s.to, uuid.Nil)
			return err
		})
		if err != nil {
			return fmt.Errorf("drop counts of %s: %w", s.name, err)
		}
		detach := fmt.Sprintf("ALTER TABLE %s DETACH PARTITION %s CONCURRENTLY", parent, child)
		if s.pending {
			detach = fmt.Sprintf("ALTER TABLE %s DETACH PARTITION %s FINALIZE", parent, child)
		}
		if _, err := l.db.Pool.Exec(ctx, detach); err != nil {
			return fmt.Errorf("detach partition %s: %w", s.name, err)
		}
		col := pgx.Identifier{k.TimeColumn()}.Sanitize()
		kept := fmt.Sprintf("%s WHERE %s >= $4 AND %s < $5", parent, col, col)
		patterns, err := rawSQL(patternRollupsInsert(k, bun.SafeQuery("? AS t WHERE t.? >= $4 AND t.? < $5",
			bun.Ident(k.Table()), bun.Ident(k.TimeColumn()), bun.Ident(k.TimeColumn()))))
		if err != nil {
			return err
		}
		recount := `WITH gone AS (DELETE FROM log_counts WHERE kind = $1 AND day >= $2::date AND day < $3::date),
			rolledGone AS (DELETE FROM log_rollups WHERE kind = $1 AND slot >= $4 AND slot < $5),
			patternsGone AS (DELETE FROM log_pattern_rollups WHERE kind = $1 AND slot >= $4 AND slot < $5),
			` + patternBatchesUnpack("kind = $1 AND "+overlapSQL("$4", "$5"), "NOT (u.slot >= $4 AND u.slot < $5)") + `,
			patterns AS (` + patterns + `),
			rolled AS (` + rollupsSQL(k, kept, "count(*)") + `),
			changed AS (` + changeSQL + ` VALUES ($6, $4, $5)) ` + countsSQL(k, kept, "count(*)")
		if k == model.KindAPIRequest { // request_rollups too: recounted from the rows left
			recount = `WITH requestedGone AS (DELETE FROM request_rollups WHERE slot >= $4 AND slot < $5),
			` + requestBatchesUnpack(overlapSQL("$4", "$5"), "NOT (u.slot >= $4 AND u.slot < $5)") + `,
			requested AS (` + requestRollupsSQL(kept, 1) + `), ` + strings.TrimPrefix(recount, "WITH ")
		}
		err = pgx.BeginFunc(ctx, l.db.Pool, func(tx pgx.Tx) error {
			if err := lockPatterns(ctx, tx); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "DROP TABLE "+child); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, recount, string(k), from, to, s.from, s.to, uuid.Nil)
			return err
		})
		if err != nil {
			return fmt.Errorf("drop partition %s: %w", s.name, err)
		}
		l.stats.dropped(k, rows, bytes)
	}
	kd.Rows += rows
	kd.Bytes += bytes
	kd.Partitions = append(kd.Partitions, s.name)
	return nil
}

// RetentionRun is a recorded retention run.
type RetentionRun struct {
	StartedAt, FinishedAt time.Time
	OK                    bool
	Error                 string
	Rows, Bytes           int64
	Partitions            int
}

// recordRun stores a run, keeping the last 100.
func (l *Lifecycle) recordRun(ctx context.Context, started time.Time, runErr error, rows, bytes int64, parts int) error {
	var msg *string
	if runErr != nil {
		s := runErr.Error()
		msg = &s
	}
	_, err := l.db.Pool.Exec(ctx, `
		WITH r AS (
			INSERT INTO retention_runs (started_at, finished_at, ok, error, rows_deleted, partitions_dropped, bytes_freed)
			VALUES ($1, now(), $2, $3, $4, $5, $6) RETURNING id
		)
		DELETE FROM retention_runs WHERE id <= (SELECT id FROM r) - 100`,
		started, runErr == nil, msg, rows, parts, bytes)
	if err != nil {
		return fmt.Errorf("record retention run: %w", err)
	}
	return nil
}

// LastRetentionRun returns the latest recorded run of any server (nil: none yet).
func (l *Lifecycle) LastRetentionRun(ctx context.Context) (*RetentionRun, error) {
	r := new(RetentionRun)
	var msg *string
	err := l.db.Pool.QueryRow(ctx, `SELECT started_at, finished_at, ok, error, rows_deleted, bytes_freed, partitions_dropped
		FROM retention_runs ORDER BY id DESC LIMIT 1`).Scan(&r.StartedAt, &r.FinishedAt, &r.OK, &msg, &r.Rows, &r.Bytes, &r.Partitions)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("last retention run: %w", err)
	}
	if msg != nil {
		r.Error = *msg
	}
	return r, nil
}
