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
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// DefaultURL is where loggraph looks for PostgreSQL unless told otherwise.
const DefaultURL = "postgres://postgres@localhost:5432/loggraph?sslmode=disable"

// ErrNotFound is returned when a row does not exist in the caller's workspace.
var ErrNotFound = errors.New("not found")

// DB holds the one pgx pool and the bun handle over it: bun for queries and
// migrations, pgx directly for COPY and LISTEN.
type DB struct {
	Pool *pgxpool.Pool
	Bun  *bun.DB
	URL  string
}

// Options tune the connection.
type Options struct {
	MaxConns int32
	// StatementTimeout bounds every statement of the pool's connections (0: server default).
	StatementTimeout time.Duration
}

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
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	// JIT compilation pays off for queries of many seconds; for ours (sub-second
	// analytics over a window) it added about 100 ms each.
	cfg.ConnConfig.RuntimeParams["jit"] = "off"
	if opts.StatementTimeout > 0 {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = fmt.Sprint(opts.StatementTimeout.Milliseconds())
	}
	// Every statement feeds the StatementCounter of its context (extensions.stats).
	cfg.ConnConfig.Tracer = statementTracer{}
	if err := ensureDatabase(ctx, cfg.ConnConfig); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, ConnectFailure(rawURL, err)
	}
	sqldb := stdlib.OpenDBFromPool(pool)
	return &DB{Pool: pool, Bun: bun.NewDB(sqldb, pgdialect.New(), bun.WithDiscardUnknownColumns()), URL: rawURL}, nil
}

// Close closes bun's handle and the pool.
func (d *DB) Close() {
	_ = d.Bun.Close()
	d.Pool.Close()
}

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
