package db

import (
	"context"
	"errors"
	"fmt"
	"github.com/jackc/pgx/v5/pgxpool"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Planner statistics. Log tables grow by bulk loads (seed, large ingests) and by
// partitions that start empty each day; PostgreSQL's autovacuum analyzes a table
// once 10 % of it changed (if autovacuum is on at all), and never analyzes a
// partitioned parent. Plans made on statistics from before a workspace's rows
// arrived hash whole partitions where one index range would do (the tail read,
// issue 8; the child pages, issue 10). KeepStatistics does what autovacuum would,
// for every table of the schema and for the partitioned parents too.

// StatsOptions tune KeepStatistics; zero fields take the defaults.
type StatsOptions struct {
	// MinRows and Fraction: a table is analyzed once at least MinRows + Fraction x
	// its estimated rows changed since its last analysis (defaults 1,000 and 0.2:
	// above autovacuum's 50 + 0.1, so that where autovacuum runs it goes first).
	MinRows  int64
	Fraction float64
	// ParentEvery: a partitioned parent (whose ANALYZE samples every partition) is
	// analyzed at most this often, and only after one of its partitions was
	// (default 1 h; a parent never analyzed is analyzed at once)...
	ParentEvery time.Duration
	// ParentDrift: ...unless its estimate drifted: the rows its partitions hold
	// (their live rows as the statistics views count them, which a bulk load moves
	// at once) differ from the parent's reltuples by at least MinRows + ParentDrift x
	// reltuples; it is then analyzed at once (default 0.1). The planner estimates
	// every query over the whole table from the parent's statistics.
	ParentDrift float64
	// LockTimeout: a table being analyzed or altered by someone else is skipped
	// after this wait, to be tried again next time (default 1 s).
	LockTimeout time.Duration
}

func (o StatsOptions) withDefaults() StatsOptions {
	if o.MinRows <= 0 {
		o.MinRows = 1000
	}
	if o.Fraction <= 0 {
		o.Fraction = 0.2
	}
	if o.ParentEvery <= 0 {
		o.ParentEvery = time.Hour
	}
	if o.ParentDrift <= 0 {
		o.ParentDrift = 0.1
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = time.Second
	}
	return o
}

// statisticsLockKey is the advisory lock (pg_try_advisory_lock(hashtext(key)))
// held while KeepStatistics runs: of several servers whose timers fire together,
// one analyzes and the others skip their turn instead of analyzing the same
// tables again behind it.
const statisticsLockKey = "loggraph:statistics"

// KeepStatistics analyzes the tables of the current schema whose statistics are
// stale by o's measure (through their partitioned parent when that is due) and
// returns the names of the tables it analyzed. A table locked by someone
// else is skipped (tried again on the next call); while another server runs
// KeepStatistics it returns at once, analyzing nothing.
func KeepStatistics(ctx context.Context, d *DB, o StatsOptions) ([]string, error) {
	var done []string
	err := whileLocked(ctx, d, statisticsLockKey, func(*pgxpool.Conn) error {
		var err error
		done, err = keepStatistics(ctx, d, o.withDefaults())
		return err
	})
	return done, err
}

// whileLocked runs fn on a connection holding the session advisory lock
// pg_try_advisory_lock(hashtext(key)), and releases it after; while another session
// holds the lock it returns nil at once without running fn (of several servers whose
// timers fire together, one does the work).
func whileLocked(ctx context.Context, d *DB, key string, fn func(conn *pgxpool.Conn) error) error {
	conn, err := d.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock(hashtext($1))", key).Scan(&locked); err != nil {
		return fmt.Errorf("advisory lock %s: %w", key, err)
	}
	if !locked {
		return nil
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtext($1))", key)
	}()
	return fn(conn)
}

func keepStatistics(ctx context.Context, d *DB, o StatsOptions) ([]string, error) {
	rows, err := d.Pool.Query(ctx, `
		SELECT c.relname, coalesce(p.relname, ''),
		       coalesce(p.relname IS NOT NULL AND (ps.last_analyze IS NULL OR ps.last_analyze < now() - $3::interval), false)
		FROM pg_stat_user_tables s
		JOIN pg_class c ON c.oid = s.relid
		LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
		LEFT JOIN pg_class p ON p.oid = i.inhparent AND p.relkind = 'p'
		LEFT JOIN pg_stat_user_tables ps ON ps.relid = p.oid
		WHERE s.schemaname = current_schema() AND c.relkind = 'r'
		  AND s.n_mod_since_analyze >= $1 + $2 * greatest(c.reltuples, 0)
		ORDER BY s.n_mod_since_analyze DESC`,
		o.MinRows, o.Fraction, fmt.Sprintf("%d milliseconds", o.ParentEvery.Milliseconds()))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	// A due parent's ANALYZE also analyzes each of its partitions, so its stale
	// partitions are not analyzed on their own.
	var stale, parents []string
	parentOf := map[string]string{}
	parentDue := map[string]bool{}
	for rows.Next() {
		var table, parent string
		var due bool
		if err := rows.Scan(&table, &parent, &due); err != nil {
			return nil, err
		}
		switch {
		case due && !parentDue[parent]:
			parentDue[parent] = true
			parents = append(parents, parent)
		case !due:
			stale = append(stale, table)
			parentOf[table] = parent
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Parents never analyzed at all (a fresh schema, or one loaded by COPY), and
	// parents whose estimate drifted from what their partitions hold.
	never, err := d.Pool.Query(ctx, `
		SELECT c.relname FROM pg_class c
		JOIN pg_stat_user_tables s ON s.relid = c.oid
		CROSS JOIN LATERAL (
			SELECT coalesce(sum(k.n_live_tup), 0) AS live, coalesce(sum(k.n_mod_since_analyze), 0) AS mods
			FROM pg_inherits i JOIN pg_stat_user_tables k ON k.relid = i.inhrelid
			WHERE i.inhparent = c.oid) p
		WHERE s.schemaname = current_schema() AND c.relkind = 'p'
		  AND (s.last_analyze IS NULL AND (p.live > 0 OR p.mods > 0)
		       OR s.last_analyze IS NOT NULL AND abs(p.live - greatest(c.reltuples, 0)) >= $1 + $2 * greatest(c.reltuples, 0))`,
		o.MinRows, o.ParentDrift)
	if err != nil {
		return nil, err
	}
	defer never.Close()
	for never.Next() {
		var parent string
		if err := never.Scan(&parent); err != nil {
			return nil, err
		}
		if !parentDue[parent] {
			parentDue[parent] = true
			parents = append(parents, parent)
		}
	}
	if err := never.Err(); err != nil {
		return nil, err
	}
	tables := parents
	for _, t := range stale {
		if !parentDue[parentOf[t]] {
			tables = append(tables, t)
		}
	}
	var done []string
	for _, t := range tables {
		ok, err := analyze(ctx, d, t, o.LockTimeout)
		if err != nil {
			return done, err
		}
		if ok {
			done = append(done, t)
		}
	}
	return done, nil
}

// analyze runs ANALYZE on one table; false if the table was locked past timeout or
// is gone (a partition dropped meanwhile).
func analyze(ctx context.Context, d *DB, table string, timeout time.Duration) (bool, error) {
	err := analyzeTables(ctx, d, timeout, table)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "55P03" || pgErr.Code == "42P01") { // lock_not_available, undefined_table
		return false, nil
	}
	return err == nil, err
}

// analyzeTables runs one ANALYZE over tables, waiting at most lockTimeout for each
// table's lock (0: as long as it takes), without a statement timeout: sampling a
// large table may outlast the one for interactive queries.
func analyzeTables(ctx context.Context, d *DB, lockTimeout time.Duration, tables ...string) error {
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = pgx.Identifier{t}.Sanitize()
	}
	return pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d; SET LOCAL statement_timeout = 0", lockTimeout.Milliseconds())); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "ANALYZE "+strings.Join(names, ", "))
		return err
	})
}
