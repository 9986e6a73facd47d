package db

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/uptrace/bun/migrate"

	"github.com/loggraph/loggraph/db/migrations"
)

// migrationLockKey is the advisory lock that serialises migrations across servers
// starting at once ("loggraph" in ASCII).
const migrationLockKey = 0x6c6f6767726170

// MigrationStatus describes the schema version.
type MigrationStatus struct {
	Applied []string
	Pending []string
}

// Current reports whether every migration is applied.
func (s MigrationStatus) Current() bool { return len(s.Pending) == 0 }

func (s MigrationStatus) String() string {
	var b strings.Builder
	for _, m := range s.Applied {
		fmt.Fprintf(&b, "applied  %s\n", m)
	}
	for _, m := range s.Pending {
		fmt.Fprintf(&b, "pending  %s\n", m)
	}
	if len(s.Applied)+len(s.Pending) == 0 {
		b.WriteString("no migrations\n")
	}
	return b.String()
}

func (d *DB) migrator() (*migrate.Migrator, error) {
	ms, err := migrations.Load()
	if err != nil {
		return nil, err
	}
	return migrate.NewMigrator(d.Bun, ms, migrate.WithMarkAppliedOnSuccess(true)), nil
}

// withMigrationLock runs fn while holding the migration advisory lock on a pinned
// connection; other servers wait, then find nothing left to do.
func (d *DB) withMigrationLock(ctx context.Context, fn func(*migrate.Migrator) error) error {
	m, err := d.migrator()
	if err != nil {
		return err
	}
	conn, err := d.Pool.Acquire(ctx)
	if err != nil {
		return ConnectFailure(d.URL, err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(migrationLockKey)); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(migrationLockKey))
	}()
	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("init migrations: %w", err)
	}
	return fn(m)
}

// MigrateUp applies every pending migration and returns the names applied.
func (d *DB) MigrateUp(ctx context.Context) ([]string, error) {
	var applied []string
	err := d.withMigrationLock(ctx, func(m *migrate.Migrator) error {
		group, err := m.Migrate(ctx)
		if err != nil {
			return fmt.Errorf("migrate up: %w", err)
		}
		for _, mig := range group.Migrations {
			applied = append(applied, mig.Name)
		}
		return nil
	})
	return applied, err
}

// MigrateDown rolls back the last applied group and returns the names rolled back.
func (d *DB) MigrateDown(ctx context.Context) ([]string, error) {
	var rolled []string
	err := d.withMigrationLock(ctx, func(m *migrate.Migrator) error {
		group, err := m.Rollback(ctx)
		if err != nil {
			return fmt.Errorf("migrate down: %w", err)
		}
		for _, mig := range group.Migrations {
			rolled = append(rolled, mig.Name)
		}
		return nil
	})
	return rolled, err
}

// MigrationState lists applied and pending migrations.
func (d *DB) MigrationState(ctx context.Context) (MigrationStatus, error) {
	var st MigrationStatus
	m, err := d.migrator()
	if err != nil {
		return st, err
	}
	if err := m.Init(ctx); err != nil {
		return st, fmt.Errorf("init migrations: %w", err)
	}
	ms, err := m.MigrationsWithStatus(ctx)
	if err != nil {
		return st, fmt.Errorf("migration status: %w", err)
	}
	for _, mig := range ms {
		if mig.IsApplied() {
			st.Applied = append(st.Applied, mig.Name)
		} else {
			st.Pending = append(st.Pending, mig.Name)
		}
	}
	return st, nil
}

// SchemaCurrent reports whether every embedded migration is applied, without taking
// the migration lock or creating bun's tables (readiness probes call it).
func (d *DB) SchemaCurrent(ctx context.Context) (bool, error) {
	ms, err := migrations.Load()
	if err != nil {
		return false, err
	}
	var applied []string
	rows, err := d.Pool.Query(ctx, "SELECT name FROM bun_migrations WHERE to_regclass('bun_migrations') IS NOT NULL")
	if err != nil {
		if isCode(err, "42P01") { // undefined_table: never migrated
			return false, nil
		}
		return false, fmt.Errorf("read applied migrations: %w", err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return false, err
		}
		applied = append(applied, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, err
	}
	for _, m := range ms.Sorted() {
		if !slices.Contains(applied, m.Name) {
			return false, nil
		}
	}
	return true, nil
}
