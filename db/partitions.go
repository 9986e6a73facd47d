package db

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loggraph/loggraph/model"
)

// Partitions creates the daily partitions of the log tables: ahead of time for the
// coming days, and on demand for any other day a batch carries (a 2019 or a 2031 row
// lands too). It remembers which days exist so the hot path does no catalog query.
type Partitions struct {
	db    *DB
	mu    sync.Mutex
	known map[string]map[int64]bool // table -> day number (Unix days) -> exists
}

// NewPartitions returns a partition manager for d; it loads the existing partitions
// on first use.
func NewPartitions(d *DB) *Partitions { return &Partitions{db: d} }

const day = 24 * time.Hour

func dayNumber(t time.Time) int64 { return t.UTC().Truncate(day).Unix() / 86400 }

func partitionName(table string, dayNum int64) string {
	return table + "_p" + time.Unix(dayNum*86400, 0).UTC().Format("20060102")
}

func (p *Partitions) load(ctx context.Context) error {
	if p.known != nil {
		return nil
	}
	known := make(map[string]map[int64]bool)
	for _, k := range model.AllKinds {
		known[k.Table()] = make(map[int64]bool)
	}
	// The partition bound expression gives each partition's lower bound.
	rows, err := p.db.Pool.Query(ctx, `
		SELECT parent.relname, (regexp_match(pg_get_expr(child.relpartbound, child.oid), 'FROM \(''([^'']+)''\)'))[1]::timestamptz
		FROM pg_inherits i
		JOIN pg_class parent ON parent.oid = i.inhparent
		JOIN pg_class child ON child.oid = i.inhrelid
		WHERE parent.relname = ANY($1) AND child.relkind = 'r'`, tableNames())
	if err != nil {
		return fmt.Errorf("list partitions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var table string
		var from *time.Time
		if err := rows.Scan(&table, &from); err != nil {
			return fmt.Errorf("scan partition: %w", err)
		}
		if from != nil {
			known[table][dayNumber(*from)] = true
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list partitions: %w", err)
	}
	p.known = known
	return nil
}

func tableNames() []string {
	names := make([]string, len(model.AllKinds))
	for i, k := range model.AllKinds {
		names[i] = k.Table()
	}
	return names
}

// Ensure makes sure that a partition of kind's table covers every given time.
func (p *Partitions) Ensure(ctx context.Context, kind model.LogKind, times []time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.load(ctx); err != nil {
		return err
	}
	table := kind.Table()
	var missing []int64
	seen := make(map[int64]bool)
	for _, t := range times {
		d := dayNumber(t)
		if !p.known[table][d] && !seen[d] {
			seen[d] = true
			missing = append(missing, d)
		}
	}
	for _, d := range missing {
		if err := p.create(ctx, kind, d); err != nil {
			return err
		}
		p.known[table][d] = true
	}
	return nil
}

// EnsureAhead creates the partitions of every kind from `back` days ago to `ahead`
// days from now.
func (p *Partitions) EnsureAhead(ctx context.Context, now time.Time, back, ahead int) error {
	var times []time.Time
	for i := -back; i <= ahead; i++ {
		times = append(times, now.Add(time.Duration(i)*day))
	}
	for _, k := range model.AllKinds {
		if err := p.Ensure(ctx, k, times); err != nil {
			return err
		}
	}
	return nil
}

// create adds one daily partition in its own short transaction, under an advisory
// lock per table so that servers racing for the same day do not collide. The table
// is created apart and then attached: ATTACH PARTITION takes only a SHARE UPDATE
// EXCLUSIVE lock on the parent, so reads and COPYs into other days go on, whereas
// CREATE TABLE ... PARTITION OF would take ACCESS EXCLUSIVE and queue behind them.
func (p *Partitions) create(ctx context.Context, kind model.LogKind, d int64) error {
	table := kind.Table()
	from := time.Unix(d*86400, 0).UTC()
	to := from.Add(day)
	name := partitionName(table, d)
	parent, child := pgx.Identifier{table}.Sanitize(), pgx.Identifier{name}.Sanitize()
	bounds := fmt.Sprintf("FROM ('%s') TO ('%s')", from.Format(time.RFC3339), to.Format(time.RFC3339))
	err := pgx.BeginFunc(ctx, p.db.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", "partition:"+table); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", name).Scan(&exists); err != nil || exists {
			return err
		}
		for _, q := range []string{
			fmt.Sprintf("CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED)", child, parent),
			fmt.Sprintf("ALTER TABLE %s ATTACH PARTITION %s FOR VALUES %s", parent, child, bounds),
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create partition %s: %w", name, err)
	}
	return nil
}

// Forget drops the cache (tests that drop partitions behind the manager's back).
func (p *Partitions) Forget() {
	p.mu.Lock()
	p.known = nil
	p.mu.Unlock()
}
