package db

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun/migrate"

	"github.com/loggraph/loggraph/db/migrations"
)

// migrationLockKey is the advisory lock that serialises migrations across servers
// starting at once ("loggraph" in ASCII).
const migrationLockKey = 0x6c6f6767726170

// MigrationStatus describes the schema version: applied migrations oldest first, then
// the pending ones.
type MigrationStatus struct {
	Applied []MigrationInfo
	Pending []MigrationInfo
}

// MigrationInfo is one embedded migration; MigratedAt is zero while pending.
type MigrationInfo struct {
	Version, Comment string
	MigratedAt       time.Time
}

// Current reports whether every migration is applied.
func (s MigrationStatus) Current() bool { return len(s.Pending) == 0 }

func (s MigrationStatus) String() string {
	var b strings.Builder
	for _, m := range s.Applied {
		fmt.Fprintf(&b, "applied  %s  %-20s %s\n", m.Version, m.Comment, m.MigratedAt.UTC().Format(time.RFC3339))
	}
	for _, m := range s.Pending {
		fmt.Fprintf(&b, "pending  %s  %s\n", m.Version, m.Comment)
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

// ErrUnknownVersion: migrate down --to names no embedded migration.
var ErrUnknownVersion = errors.New("unknown migration version")

// ErrRollbackLosesData: a rollback would drop rows and was not confirmed.
var ErrRollbackLosesData = errors.New("the rollback drops stored data")

// RollbackPlan is what a rollback undoes, newest migration first, and what each down
// migration drops, measured before anything is dropped.
type RollbackPlan struct{ Steps []RollbackStep }

// RollbackStep is one migration to undo.
type RollbackStep struct {
	Version, Comment string
	Tables           []TableDrop  // tables dropped (rows counted over their partitions)
	Columns          []ColumnDrop // columns dropped
	Indexes          []string     // indexes dropped
}

// TableDrop is a table a down migration drops and the rows it holds.
type TableDrop struct {
	Table string
	Rows  int64
}

// ColumnDrop is a column a down migration drops and the rows holding a value in it.
type ColumnDrop struct {
	Table, Column string
	Rows          int64
}

// RowsLost is the number of stored rows (tables) and values (columns) the plan drops.
func (p RollbackPlan) RowsLost() int64 {
	var n int64
	for _, s := range p.Steps {
		for _, t := range s.Tables {
			n += t.Rows
		}
		for _, c := range s.Columns {
			n += c.Rows
		}
	}
	return n
}

func (p RollbackPlan) String() string {
	var b strings.Builder
	if len(p.Steps) == 0 {
		return "nothing to roll back\n"
	}
	for _, s := range p.Steps {
		fmt.Fprintf(&b, "roll back %s %s\n", s.Version, s.Comment)
		for _, t := range s.Tables {
			fmt.Fprintf(&b, "  drops table %s (%d rows)\n", t.Table, t.Rows)
		}
		for _, c := range s.Columns {
			fmt.Fprintf(&b, "  drops column %s.%s (%d rows hold a value)\n", c.Table, c.Column, c.Rows)
		}
		for _, i := range s.Indexes {
			fmt.Fprintf(&b, "  drops index %s\n", i)
		}
	}
	return b.String()
}

// MigrateDown rolls back, one migration at a time and newest first, the last applied
// migration (to "") or every applied migration after version to ("0": all of them).
// Under the migration lock it measures what the down migrations drop and passes that
// plan to confirm, which may refuse it by returning an error (nothing is then
// rolled back); a plan that drops rows is refused with ErrRollbackLosesData unless
// force. It returns the plan and the versions rolled back.
func (d *DB) MigrateDown(ctx context.Context, to string, force bool, confirm func(RollbackPlan) error) (RollbackPlan, []string, error) {
	var plan RollbackPlan
	var rolled []string
	err := d.withMigrationLock(ctx, func(m *migrate.Migrator) error {
		ms, err := m.MigrationsWithStatus(ctx)
		if err != nil {
			return fmt.Errorf("migration status: %w", err)
		}
		if to != "" && to != "0" && !slices.ContainsFunc(ms, func(mig migrate.Migration) bool { return mig.Name == to }) {
			return fmt.Errorf("%w %q (loggraph migrate status lists them)", ErrUnknownVersion, to)
		}
		var steps []migrate.Migration
		for i := len(ms) - 1; i >= 0; i-- {
			mig := ms[i]
			if !mig.IsApplied() || (to != "" && mig.Name <= to) {
				continue
			}
			steps = append(steps, mig)
			if to == "" {
				break
			}
		}
		for _, mig := range steps {
			step, err := d.planStep(ctx, mig)
			if err != nil {
				return err
			}
			plan.Steps = append(plan.Steps, step)
		}
		if confirm != nil {
			if err := confirm(plan); err != nil {
				return err
			}
		}
		if n := plan.RowsLost(); n > 0 && !force {
			return fmt.Errorf("%w (%d rows); nothing was rolled back", ErrRollbackLosesData, n)
		}
		for i := range steps {
			mig := &steps[i]
			if mig.Down != nil {
				if err := mig.Down(ctx, m, mig); err != nil {
					return fmt.Errorf("%s: down: %w", mig.Name, err)
				}
			}
			if err := m.MarkUnapplied(ctx, mig); err != nil {
				return err
			}
			rolled = append(rolled, mig.Name)
		}
		return nil
	})
	return plan, rolled, err
}

var (
	sqlComment = regexp.MustCompile(`--[^\n]*`)
	dropTable  = regexp.MustCompile(`(?is)^DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?(.+?)(?:\s+(?:CASCADE|RESTRICT))?$`)
	dropIndex  = regexp.MustCompile(`(?is)^DROP\s+INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+EXISTS\s+)?(.+?)(?:\s+(?:CASCADE|RESTRICT))?$`)
	alterTable = regexp.MustCompile(`(?is)^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?([\w"]+)\s+(.*)$`)
	dropColumn = regexp.MustCompile(`(?is)DROP\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?([\w"]+)`)
)

// planStep reads a migration's down SQL for the tables, columns and indexes it drops
// and counts what they hold now (those already gone are left out).
func (d *DB) planStep(ctx context.Context, mig migrate.Migration) (RollbackStep, error) {
	step := RollbackStep{Version: mig.Name, Comment: mig.Comment}
	text, err := migrations.DownSQL(mig.Name)
	if err != nil {
		return step, err
	}
	names := func(list string) []string {
		var out []string
		for _, n := range strings.Split(list, ",") {
			out = append(out, strings.Trim(strings.TrimSpace(n), `"`))
		}
		return out
	}
	for _, stmt := range strings.Split(sqlComment.ReplaceAllString(text, ""), ";") {
		stmt = strings.TrimSpace(stmt)
		switch {
		case dropTable.MatchString(stmt):
			for _, t := range names(dropTable.FindStringSubmatch(stmt)[1]) {
				n, ok, err := d.countRows(ctx, t, "")
				if err != nil {
					return step, err
				}
				if ok {
					step.Tables = append(step.Tables, TableDrop{Table: t, Rows: n})
				}
			}
		case dropIndex.MatchString(stmt):
			for _, i := range names(dropIndex.FindStringSubmatch(stmt)[1]) {
				var exists bool
				if err := d.Pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", i).Scan(&exists); err != nil {
					return step, err
				}
				if exists {
					step.Indexes = append(step.Indexes, i)
				}
			}
		case alterTable.MatchString(stmt):
			m := alterTable.FindStringSubmatch(stmt)
			table := strings.Trim(m[1], `"`)
			for _, c := range dropColumn.FindAllStringSubmatch(m[2], -1) {
				col := strings.Trim(c[1], `"`)
				if strings.EqualFold(col, "CONSTRAINT") || strings.EqualFold(col, "DEFAULT") || strings.EqualFold(col, "NOT") {
					continue // DROP CONSTRAINT, ALTER COLUMN ... DROP DEFAULT / NOT NULL
				}
				n, ok, err := d.countRows(ctx, table, col)
				if err != nil {
					return step, err
				}
				if ok {
					step.Columns = append(step.Columns, ColumnDrop{Table: table, Column: col, Rows: n})
				}
			}
		}
	}
	return step, nil
}

// countRows counts table's rows (column "") or the rows holding a value in column;
// false if the table or column does not exist.
func (d *DB) countRows(ctx context.Context, table, column string) (int64, bool, error) {
	var exists bool
	if err := d.Pool.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM pg_attribute
		               WHERE attrelid = to_regclass($1) AND ($2 = '' OR attname = $2) AND NOT attisdropped)`,
		table, column).Scan(&exists); err != nil {
		return 0, false, err
	}
	if !exists {
		return 0, false, nil
	}
	what := "*"
	if column != "" {
		what = pgx.Identifier{column}.Sanitize()
	}
	var n int64
	err := d.Pool.QueryRow(ctx, fmt.Sprintf("SELECT count(%s) FROM %s", what, pgx.Identifier{table}.Sanitize())).Scan(&n)
	return n, true, err
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
		info := MigrationInfo{Version: mig.Name, Comment: mig.Comment}
		if mig.IsApplied() {
			info.MigratedAt = mig.MigratedAt
			st.Applied = append(st.Applied, info)
		} else {
			st.Pending = append(st.Pending, info)
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
