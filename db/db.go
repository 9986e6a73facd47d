// Package db is loggraph's data layer: the connection, migrations, partitions and the
// stores every surface calls. SQL lives here and nowhere else.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/uptrace/bun"
)

// DefaultURL is where loggraph looks for PostgreSQL unless told otherwise.
const DefaultURL = "postgres://postgres@localhost:5432/loggraph?sslmode=disable"

// ErrNotFound is returned when a row does not exist in the caller's workspace.
var ErrNotFound = errors.New("not found")

// DB holds a pgx pool and the bun handle over it: bun for queries and migrations,
// pgx directly for COPY and LISTEN. An opened DB is the read pool (GraphQL, shims,
// exports); SystemDB and IngestDB are views of the same DB over its other pools (see
// pools.go), so that slow reads cannot starve token lookups, readiness, the live
// tail or ingest.
type DB struct {
	Pool *pgxpool.Pool
	Bun  *bun.DB
	URL  string
	// pools is shared by the DB and its views: every pool, closed once.
	pools *pools
}

// Options tune the connections. A zero field takes its default (pools.go).
type Options struct {
	// MaxConns is the read pool's size (default DefaultMaxConns()).
	MaxConns int32
	// IngestConns is the ingest pool's size (default DefaultIngestConns()).
	IngestConns int32
	// SystemConns is the system pool's size (default DefaultSystemConns).
	SystemConns int32
	// AcquireTimeout bounds the wait for a pooled connection (default
	// DefaultAcquireTimeout); past it the statement fails and Classify answers
	// LimitDatabaseBusy.
	AcquireTimeout time.Duration
	// StatementTimeout bounds every statement of the pool's connections (0: server default).
	StatementTimeout time.Duration
	// OnStatement, if not nil, sees every statement of every pool as it is sent:
	// its text and pgx's arguments (options first, as pgx takes them), which
	// Pool.Query accepts again (benchmarks replay what a request ran).
	OnStatement func(sql string, args []any)
}

// ParallelSetupCost is the parallel_setup_cost of every connection (see Open).
const ParallelSetupCost = "50000"

// Open connects to url, creating the database first if it does not exist.
func Open(ctx context.Context, rawURL string, opts Options) (*DB, error) {
	if notPostgres(rawURL) {
		return nil, fmt.Errorf("the database URL %s is not a PostgreSQL URL: use postgres://user:password@host:5432/database or key=value settings (host=... dbname=...)", Redact(rawURL))
	}
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		// Not wrapped: pgx's message quotes the string, redacted only on a best effort.
		return nil, fmt.Errorf("invalid database URL %s: %s", Redact(rawURL), rootCause(err))
	}
	opts = opts.withDefaults()
	// JIT compilation pays off for queries of many seconds; for ours (sub-second
	// analytics over a window) it added about 100 ms each.
	cfg.ConnConfig.RuntimeParams["jit"] = "off"
	// A parallel worker is a new backend process that loads the catalog entries of
	// every partition its plan touches before it reads a row: at 10M rows, the 24 h
	// histogram from rollups (about 2,500 rollup rows and 7,000 rows of its two edge
	// slots over five partitioned tables) ran in 8 ms serial and 58 ms with the two
	// workers PostgreSQL chose at the default setup cost of 1,000, and logPatterns'
	// 24 h statement 29 ms serial, 78-95 ms with workers at a setup cost of 10,000
	// (EXPLAIN ANALYZE, warm session; BENCHMARKS.md). At 50,000 (about the 50 ms two
	// workers cost here, at that statement's rate of about 2,400 cost units per ms)
	// the planner takes workers only for statements that run far longer than their
	// startup: scans of the rows over long windows.
	cfg.ConnConfig.RuntimeParams["parallel_setup_cost"] = ParallelSetupCost
	if opts.StatementTimeout > 0 {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = fmt.Sprint(opts.StatementTimeout.Milliseconds())
	}
	// Every statement feeds the StatementCounter of its context (extensions.stats);
	// every acquire waits at most opts.AcquireTimeout.
	cfg.ConnConfig.Tracer = poolTracer{acquireTimeout: opts.AcquireTimeout, onStatement: opts.OnStatement}
	if err := ensureDatabase(ctx, cfg.ConnConfig); err != nil {
		return nil, err
	}
	ps, err := openPools(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	if err := ps.read.pool.Ping(ctx); err != nil {
		ps.close()
		return nil, ConnectFailure(rawURL, err)
	}
	return ps.view(ps.read, rawURL), nil
}

// Close closes every pool of the DB and of its views (once, whichever is closed).
func (d *DB) Close() { d.pools.close() }

// ensureDatabase creates the target database through the maintenance database
// `postgres` when the target is missing.
func ensureDatabase(ctx context.Context, cfg *pgx.ConnConfig) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" { // invalid_catalog_name
		return ConnectFailure(cfg.ConnString(), err)
	}
	admin := cfg.Copy()
	admin.Database = "postgres"
	aconn, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return ConnectFailure(cfg.ConnString(), err)
	}
	defer aconn.Close(ctx)
	_, err = aconn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{cfg.Database}.Sanitize())
	switch {
	case isCode(err, "42501"): // insufficient_privilege: the role may not create databases
		return ConnectFailure(cfg.ConnString(), err)
	case err != nil && !isCode(err, "42P04"): // duplicate_database: another process won the race
		return fmt.Errorf("create database %q: %w", cfg.Database, err)
	}
	return nil
}

func isCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

// IsUniqueViolation reports a unique_violation (23505).
func IsUniqueViolation(err error) bool { return isCode(err, "23505") }

// IsQueryCanceled reports a statement timeout or cancellation (57014).
func IsQueryCanceled(err error) bool { return isCode(err, "57014") }

// noRows maps sql.ErrNoRows to ErrNotFound.
func noRows(err error) error {
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error { return d.Pool.Ping(ctx) }
