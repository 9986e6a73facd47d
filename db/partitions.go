package db

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/loggraph/loggraph/model"
)

// Partition granularity. Recent rows get daily partitions (cheap to prune and to drop
// by day); older rows, which only a backfill sends, share one partition per month and,
// older still, per year, so that however spread a batch is, the partitions of a table
// stay few: planning a query that no time range prunes locks every partition and each
// of its indexes, and PostgreSQL's shared lock table holds only
// max_locks_per_transaction (64) x max_connections (100) locks.
const (
	// DefaultDailyPartitionDays is how many days before today get daily partitions;
	// it covers the day the server pre-creates behind today and a week of catch-up.
	DefaultDailyPartitionDays = 7
	// DefaultMonthlyPartitionMonths is how many whole months before the daily range
	// get monthly partitions; older rows get yearly ones.
	DefaultMonthlyPartitionMonths = 12
	// MaxDailyPartitionDays is the longest daily range (ten years): each daily
	// partition is a table with its indexes, and a query no time range prunes plans
	// (and locks) every one of them.
	MaxDailyPartitionDays = 3650
)

// CheckDailyPartitionDays refuses a daily range (PartitionOptions.DailyDays)
// outside 1..MaxDailyPartitionDays.
func CheckDailyPartitionDays(days int) error {
	if days < 1 || days > MaxDailyPartitionDays {
		return fmt.Errorf("daily partitions must cover 1 to %d days, not %d", MaxDailyPartitionDays, days)
	}
	return nil
}

// PartitionOptions sets the granularity of the partitions created on demand.
type PartitionOptions struct {
	DailyDays     int              // days before today with daily partitions (default 7)
	MonthlyMonths int              // months before those with monthly partitions (default 12)
	Now           func() time.Time // the clock (default time.Now)
}

func (o PartitionOptions) withDefaults() PartitionOptions {
	if o.DailyDays <= 0 {
		o.DailyDays = DefaultDailyPartitionDays
	}
	if o.MonthlyMonths <= 0 {
		o.MonthlyMonths = DefaultMonthlyPartitionMonths
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// MaxPartitions is the most partitions one table can have over the accepted ingest
// window [now-maxAge, now+maxFuture] when the server pre-creates `ahead` days, counted
// for a table that holds only what ingest and pre-creation made at one moment: daily
// ones from DailyDays ago (or the window's first day, if later) to max(ahead,
// maxFuture) days ahead, MonthlyMonths+1 monthly ones (the partial month before the
// daily range included) when the window reaches before the daily range, and one per
// calendar year touched by the rest of the window. As days pass, the daily partitions
// made earlier stay (until retention drops them) and coarser ones are cut around them.
func MaxPartitions(o PartitionOptions, maxAge, maxFuture time.Duration, ahead int) int {
	o = o.withDefaults()
	futureDays := int((maxFuture + day - 1) / day)
	pastDays := int((maxAge + day - 1) / day) // the window's first day is at most this many days back
	daily := min(o.DailyDays, pastDays) + 1 + max(ahead, futureDays)
	if o.DailyDays >= pastDays {
		return daily // the daily range covers the window
	}
	monthly := o.MonthlyMonths + 1
	// The yearly range is at most maxAge minus the daily days and the monthly months
	// long (twelve consecutive months are at least 365 days, any month at least 28);
	// a range of L days touches at most ceil(L/365)+1 calendar years.
	monthDays := o.MonthlyMonths/12*365 + o.MonthlyMonths%12*28
	rest := maxAge - time.Duration(o.DailyDays+monthDays)*day
	yearly := 0
	if rest > 0 {
		yearly = int((rest+365*day-1)/(365*day)) + 1
	}
	return daily + monthly + yearly
}

// span is one partition's range [from, to), its table's name and whether a DETACH
// ... CONCURRENTLY of it was interrupted (retention finishes it).
type span struct {
	from, to time.Time
	name     string
	pending  bool
}

// Partitions creates the partitions of the log tables: daily ones ahead of time for
// the coming days, and on demand whatever range a batch's times need (see
// PartitionOptions). It caches each table's partition ranges so that the hot path
// does no catalog query and takes no lock but a short mutex around the cache.
type Partitions struct {
	db   *DB
	opts PartitionOptions
	mu   sync.Mutex
	// known holds each table's partitions sorted by start. A slice is never changed
	// in place (it is replaced), so a reader may keep one after unlocking.
	known map[string][]span
}

// NewPartitions returns a partition manager for d with the default granularity; it
// loads a table's partitions on first use.
func NewPartitions(d *DB) *Partitions { return NewPartitionsWith(d, PartitionOptions{}) }

// NewPartitionsWith returns a partition manager with the given options.
func NewPartitionsWith(d *DB, o PartitionOptions) *Partitions {
	return &Partitions{db: d, opts: o.withDefaults(), known: make(map[string][]span)}
}

const day = 24 * time.Hour

// Far bounds stand for MINVALUE and MAXVALUE partition bounds (set by an operator).
var (
	farPast   = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	farFuture = time.Date(200000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// listSpans reads a table's partitions from the catalog.
func listSpans(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, table string) ([]span, error) {
	rows, err := q.Query(ctx, `
		SELECT CASE WHEN b[1] = 'MINVALUE' THEN $2 ELSE trim(both '''' from b[1])::timestamptz END,
		       CASE WHEN b[2] = 'MAXVALUE' THEN $3 ELSE trim(both '''' from b[2])::timestamptz END,
		       child.relname, i.inhdetachpending
		FROM pg_inherits i
		JOIN pg_class parent ON parent.oid = i.inhparent
		JOIN pg_class child ON child.oid = i.inhrelid,
		LATERAL regexp_match(pg_get_expr(child.relpartbound, child.oid), 'FROM \((.*)\) TO \((.*)\)') AS b
		WHERE parent.relname = $1 AND parent.relnamespace = current_schema()::regnamespace`, table, farPast, farFuture)
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", table, err)
	}
	spans, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (span, error) {
		var s span
		err := r.Scan(&s.from, &s.to, &s.name, &s.pending)
		s.from, s.to = s.from.UTC(), s.to.UTC()
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", table, err)
	}
	slices.SortFunc(spans, func(a, b span) int { return a.from.Compare(b.from) })
	return spans, nil
}

// covering returns the index of the span holding t, or -1 and the index of the first
// span that starts after t.
func covering(spans []span, t time.Time) (at, next int) {
	i, _ := slices.BinarySearchFunc(spans, t, func(s span, t time.Time) int {
		if s.from.After(t) {
			return 1
		}
		return -1
	}) // i: the first span starting after t
	if i > 0 && spans[i-1].to.After(t) {
		return i - 1, i
	}
	return -1, i
}

// spans returns table's cached partitions, loading them on first use.
func (p *Partitions) spans(ctx context.Context, table string) ([]span, error) {
	p.mu.Lock()
	s, ok := p.known[table]
	p.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := listSpans(ctx, p.db.Pool, table)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.known[table] = s
	p.mu.Unlock()
	return s, nil
}

// Ensure makes sure that a partition of kind's table covers every given time. The
// cache is checked without any wait; each missing partition is then created in its
// own short transaction, so that a batch which needs none never waits for one that
// does, and one that needs one waits at most for one creation at a time.
func (p *Partitions) Ensure(ctx context.Context, kind model.LogKind, times []time.Time) error {
	table := kind.Table()
	spans, err := p.spans(ctx, table)
	if err != nil {
		return err
	}
	var missing []time.Time
	for _, t := range times {
		if at, _ := covering(spans, t); at < 0 {
			missing = append(missing, t.UTC())
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.SortFunc(missing, time.Time.Compare)
	for _, t := range missing {
		spans, err := p.spans(ctx, table)
		if err != nil {
			return err
		}
		if at, _ := covering(spans, t); at >= 0 {
			continue // made for an earlier time of this batch, or by another batch
		}
		if err := p.create(ctx, table, t); err != nil {
			return err
		}
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

// target is the range of the partition a row at t gets: its day when recent, its
// month (cut at the daily range) when older, else its year (cut at the monthly range).
func (p *Partitions) target(t time.Time) (from, to time.Time) {
	t = t.UTC()
	today := p.opts.Now().UTC().Truncate(day)
	dailyStart := today.AddDate(0, 0, -p.opts.DailyDays)
	if !t.Before(dailyStart) {
		d := t.Truncate(day)
		return d, d.Add(day)
	}
	monthlyStart := time.Date(dailyStart.Year(), dailyStart.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -p.opts.MonthlyMonths, 0)
	if !t.Before(monthlyStart) {
		m := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return m, minTime(m.AddDate(0, 1, 0), dailyStart)
	}
	y := time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	return y, minTime(y.AddDate(1, 0, 0), monthlyStart)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func partitionName(table string, from, to time.Time) string {
	if to.Sub(from) == day && from.Equal(from.Truncate(day)) {
		return table + "_p" + from.Format("20060102")
	}
	layout := "20060102"
	if !from.Equal(from.Truncate(day)) || !to.Equal(to.Truncate(day)) {
		layout = "20060102T150405"
	}
	return table + "_p" + from.Format(layout) + "_" + to.Format(layout)
}

// PartitionLockKey is the advisory lock (pg_advisory_xact_lock(hashtext(key))) under
// which partitions of table are created: one creation per table at a time, across
// servers.
func PartitionLockKey(table string) string { return "partition:" + table }

// create adds the partition for a row at t in its own short transaction, under the
// table's advisory lock so that servers racing for the same range do not collide.
// Under the lock it reads the table's partitions from the catalog (another server may
// have made one meanwhile, or an operator dropped one) and cuts the target range to
// the free gap around t, since range partitions must not overlap. The table is
// created apart and then attached: ATTACH PARTITION takes only a SHARE UPDATE
// EXCLUSIVE lock on the parent, so reads and COPYs into other partitions go on,
// whereas CREATE TABLE ... PARTITION OF would take ACCESS EXCLUSIVE and queue behind
// them.
func (p *Partitions) create(ctx context.Context, table string, t time.Time) error {
	var spans []span
	var name string
	err := pgx.BeginFunc(ctx, p.db.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", PartitionLockKey(table)); err != nil {
			return err
		}
		var err error
		if spans, err = listSpans(ctx, tx, table); err != nil {
			return err
		}
		at, next := covering(spans, t)
		if at >= 0 {
			return nil
		}
		from, to := p.target(t)
		if next > 0 && spans[next-1].to.After(from) {
			from = spans[next-1].to
		}
		if next < len(spans) && spans[next].from.Before(to) {
			to = spans[next].from
		}
		name = partitionName(table, from, to)
		parent, child := pgx.Identifier{table}.Sanitize(), pgx.Identifier{name}.Sanitize()
		bounds := fmt.Sprintf("FROM ('%s') TO ('%s')", from.Format(time.RFC3339), to.Format(time.RFC3339))
		for _, q := range []string{
			fmt.Sprintf("CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED)", child, parent),
			fmt.Sprintf("ALTER TABLE %s ATTACH PARTITION %s FOR VALUES %s", parent, child, bounds),
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		spans = append(slices.Clone(spans[:next]), append([]span{{from: from, to: to, name: name}}, spans[next:]...)...)
		return nil
	})
	if err != nil {
		if name == "" {
			name = "for " + t.Format(time.RFC3339)
		}
		return fmt.Errorf("create partition %s of %s: %w", name, table, err)
	}
	p.mu.Lock()
	p.known[table] = spans
	p.mu.Unlock()
	return nil
}

// Forget drops the cache (tests that drop partitions behind the manager's back).
func (p *Partitions) Forget() {
	p.mu.Lock()
	p.known = make(map[string][]span)
	p.mu.Unlock()
}

// forget drops one table's cache: a row found no partition, so one was dropped.
func (p *Partitions) forget(table string) {
	p.mu.Lock()
	delete(p.known, table)
	p.mu.Unlock()
}

// isNoPartition reports a row that no partition holds (SQLSTATE 23514, "no partition
// of relation ... found for row"): a partition the cache knew was dropped.
func isNoPartition(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23514" && strings.HasPrefix(pe.Message, "no partition of relation")
}
