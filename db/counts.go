package db

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"github.com/loggraph/loggraph/model"
)

// countKey is one row of log_counts: a UTC day and the dimensions of the kind.
type countKey struct {
	day           time.Time
	level         *int16
	service       *string
	integrationID *uuid.UUID
	referenceID   *string
}

func utcDay(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

// countKeyAt is record i's count key.
func (w *batchWriter) countKeyAt(i int) countKey {
	l, _ := w.logAt(i)
	k := countKey{day: utcDay(l.Time())}
	kindOf(w.kind).countKey(l, &k)
	return k
}

// comparableKey flattens a countKey for map grouping.
type comparableKey struct {
	day                time.Time
	level              int16
	hasLevel           bool
	service, reference string
	hasService, hasRef bool
	integration        uuid.UUID
	hasIntegration     bool
}

func (k countKey) flat() comparableKey {
	c := comparableKey{day: k.day}
	if k.level != nil {
		c.level, c.hasLevel = *k.level, true
	}
	if k.service != nil {
		c.service, c.hasService = *k.service, true
	}
	if k.referenceID != nil {
		c.reference, c.hasRef = *k.referenceID, true
	}
	if k.integrationID != nil {
		c.integration, c.hasIntegration = *k.integrationID, true
	}
	return c
}

// pendingCounts is the statement adding a batch's counts and rollups (insertCounts),
// computed in a goroutine (startCounts); done is closed when it is set.
type pendingCounts struct {
	done chan struct{}
	sql  string
	args []any
	err  error
}

// startCounts computes, in a goroutine, the statement adding the counts and rollups
// of the batch's records keep: tens of milliseconds of Go for a backfill batch,
// done while PostgreSQL takes the COPY. It only reads w, as the COPY does; the
// caller waits for it (wait) before anything changes w (a retry's entity sync).
func (w *batchWriter) startCounts(keep []int) *pendingCounts {
	p := &pendingCounts{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer func() {
			if r := recover(); r != nil {
				p.err = fmt.Errorf("counts of the batch: %v", r)
			}
		}()
		p.sql, p.args = w.countsStatement(keep)
	}()
	return p
}

// wait returns once the statement is computed.
func (p *pendingCounts) wait() { <-p.done }

// insertCounts runs the statement of startCounts in the batch's transaction, so a
// total read from log_counts is exactly what is committed.
func insertCounts(ctx context.Context, tx pgx.Tx, p *pendingCounts) error {
	p.wait()
	if p.err != nil {
		return p.err
	}
	if _, err := tx.Exec(ctx, p.sql, p.args...); err != nil {
		return fmt.Errorf("add counts: %w", err)
	}
	return nil
}

// countsStatement is the statement adding the counts and rollups of the batch's
// records keep, and its arguments.
func (w *batchWriter) countsStatement(keep []int) (string, []any) {
	n := map[comparableKey]int64{}
	keys := map[comparableKey]countKey{}
	for _, i := range keep {
		k := w.countKeyAt(i)
		f := k.flat()
		n[f]++
		keys[f] = k
	}
	var days []time.Time
	var levels []*int16
	var services, refs []*string
	var integrations []*uuid.UUID
	var counts []int64
	for f, c := range n {
		k := keys[f]
		days, levels, services = append(days, k.day), append(levels, k.level), append(services, k.service)
		integrations, refs = append(integrations, k.integrationID), append(refs, k.referenceID)
		counts = append(counts, c)
	}
	slots, sevs, sources, slotCounts := w.rollupRows(keep)
	args := []any{w.ws, string(w.kind), days, levels, services, integrations, refs, counts, slots, sevs, sources, slotCounts}
	args = append(args, w.patternRollupArgs(keep)...) // $13-$22
	// API requests' summaries for apiRequestStats (request_rollups.go), in the same statement.
	requested := ""
	if w.kind == model.KindAPIRequest {
		var params []any
		requested, params = w.requestRollupRows(keep).insert(len(args) + 1)
		args = append(args, params...)
	}
	first, last := w.timeRange(keep)
	args = append(args, first, last) // the analytics cache's change log
	changed := len(args) - 1
	// One statement for every table and the analytics cache's change log: a batch costs
	// no extra round trip for its rollups.
	return `
		WITH ` + requested + ` counts AS (
			INSERT INTO log_counts (workspace_id, kind, day, level, service, integration_id, api_reference_id, n)
			SELECT $1, $2, u.day, u.level, u.service, u.integration_id, u.api_reference_id, u.n
			FROM unnest($3::date[], $4::int2[], $5::text[], $6::uuid[], $7::text[], $8::int8[])
				AS u(day, level, service, integration_id, api_reference_id, n)
		), ` + patternRollupCTE + `, changed AS (
			` + changeSQL + fmt.Sprintf(` VALUES ($1, $%d, $%d)`, changed, changed+1) + `
		)
		INSERT INTO log_rollups (workspace_id, kind, slot, severity, source, n)
		SELECT $1, $2, r.slot, r.severity, r.source, r.n
		FROM unnest($9::timestamptz[], $10::int2[], $11::text[], $12::int8[]) AS r(slot, severity, source, n)`, args
}

// RebuildCounts recomputes a workspace's log_counts, log_rollups and request_rollups
// (compacted) from its rows (after a bulk load that bypassed the ingest path, such as
// Seed). Ingests into the workspace must not run meanwhile.
func RebuildCounts(ctx context.Context, d *DB, ws uuid.UUID) error {
	stmts := []string{`DELETE FROM log_counts WHERE workspace_id = $1`, `DELETE FROM log_rollups WHERE workspace_id = $1`,
		`DELETE FROM request_rollups WHERE workspace_id = $1`, `DELETE FROM request_rollup_batches WHERE workspace_id = $1`,
		`DELETE FROM log_pattern_rollup_batches WHERE workspace_id = $1`, requestRollupsSQL("api_request_logs WHERE workspace_id = $1", 1),
		requestCompactSQL("workspace_id = $1", "workspace_id = $1"), // a bulk load answers from day rows at once
		`DELETE FROM log_pattern_rollups WHERE workspace_id = $1`,
		changeSQL + ` VALUES ($1, '-infinity', 'infinity')`}
	for _, k := range model.AllKinds {
		patterns, err := rawSQL(patternRollupsInsert(k, bun.SafeQuery("? AS t WHERE t.workspace_id = $1", bun.Ident(k.Table()))))
		if err != nil {
			return err
		}
		stmts = append(stmts, rebuildCountsSQL(k), rollupsSQL(k, pgx.Identifier{k.Table()}.Sanitize()+" WHERE workspace_id = $1", "count(*)"),
			patterns)
	}
	// ... and answers from the pattern rollups' hour rows at once.
	stmts = append(stmts, patternCompactSQL("workspace_id = $1", "workspace_id = $1"))
	return pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
		if err := lockPatterns(ctx, tx); err != nil {
			return err
		}
		for _, q := range stmts {
			if _, err := tx.Exec(ctx, q, ws); err != nil {
				return fmt.Errorf("rebuild counts: %w", err)
			}
		}
		return nil
	})
}

// rebuildCountsSQL counts kind k's rows of workspace $1 into log_counts by UTC day
// and the kind's rollup dimensions.
func rebuildCountsSQL(k model.LogKind) string {
	return countsSQL(k, pgx.Identifier{k.Table()}.Sanitize()+" WHERE workspace_id = $1", "count(*)")
}

// countsSQL inserts into log_counts, grouped by workspace, UTC day and kind k's
// rollup dimensions, the rows of from (a relation with k's time column, workspace_id
// and dimensions, and a WHERE clause if any), each group counting n (count(*), or
// -count(*) for the rows a statement deleted).
func countsSQL(k model.LogKind, from, n string) string {
	dims, groups := "", ""
	for i, d := range kindOf(k).rollup {
		dims += ", " + d
		groups += fmt.Sprintf(", %d", i+4)
	}
	return fmt.Sprintf(`INSERT INTO log_counts (workspace_id, kind, day%[1]s, n)
		SELECT workspace_id, '%[2]s', (%[3]s AT TIME ZONE 'UTC')::date%[1]s, %[6]s
		FROM %[4]s GROUP BY 1, 3%[5]s`,
		dims, string(k), pgx.Identifier{k.TimeColumn()}.Sanitize(), from, groups, n)
}

// rollupsSQL is countsSQL for log_rollups: grouped by workspace, 15-minute slot and
// severity, per source and in total (source NULL).
func rollupsSQL(k model.LogKind, from, n string) string {
	ki := kindOf(k)
	return fmt.Sprintf(`INSERT INTO log_rollups (workspace_id, kind, slot, severity, source, n)
		SELECT workspace_id, '%[1]s', date_bin('15 minutes', %[2]s, 'epoch'), %[3]s, %[4]s::text, %[6]s
		FROM %[5]s GROUP BY GROUPING SETS ((1, 3, 4, 5), (1, 3, 4))`,
		string(k), pgx.Identifier{k.TimeColumn()}.Sanitize(), pgx.Identifier{ki.severity}.Sanitize(),
		pgx.Identifier{ki.source}.Sanitize(), from, n)
}

// rollupPlan says whether a filter can be counted from log_counts: its window and
// the WHERE clauses of its dimensions there.
type rollupPlan struct {
	time *model.TimeRange
	// dims restricts a log_counts query to the filter's dimensions.
	dims func(*bun.SelectQuery) error
	// withTime copies the filter with another window (for the partial days).
	withTime func(*model.TimeRange) any
}

// planRollup returns nil when the filter sets a field log_counts does not keep
// (fieldRows in the kind's filterSpec). The dimensions are the kind's own filter
// applied to log_counts with the window left out: their clauses name columns that
// log_counts keeps under the same names.
func planRollup(kind model.LogKind, filter any) (*rollupPlan, error) {
	ki := kindOf(kind)
	if ki == nil {
		return nil, nil
	}
	spec := ki.filter
	f, ok := spec.value(filter)
	if !ok {
		return nil, nil
	}
	dims := reflect.New(spec.typ) // the filter without its window
	for i := range spec.typ.NumField() {
		switch spec.fields[spec.typ.Field(i).Name].use {
		case fieldRollup:
			dims.Elem().Field(i).Set(f.Field(i))
		case fieldWindow:
		default: // fieldRows, or a field not classified: only the rows can tell
			if isSet(f.Field(i)) {
				return nil, nil
			}
		}
	}
	window := f.FieldByName("Time").Interface().(*model.TimeRange)
	return &rollupPlan{
		time:     window,
		dims:     func(q *bun.SelectQuery) error { return spec.apply(q, uuid.Nil, dims.Interface()) },
		withTime: func(r *model.TimeRange) any { return spec.withTime(filter, r) },
	}, nil
}

// countFromRollup counts a filter's rows as the sum of log_counts over the window's
// whole UTC days plus the rows of its partial first and last days, in one statement.
// ok is false when the filter needs the rows themselves.
func (s *LogStore) countFromRollup(ctx context.Context, ws uuid.UUID, kind model.LogKind, filter any) (int, bool, error) {
	if err := model.ValidateFilter(filter); err != nil {
		return 0, false, err
	}
	plan, err := planRollup(kind, filter)
	if err != nil || plan == nil {
		return 0, false, err
	}
	sum := s.db.NewSelect().TableExpr("log_counts").ColumnExpr("sum(n)").
		Where("workspace_id = ? AND kind = ?", ws, string(kind))
	if err := plan.dims(sum); err != nil {
		return 0, false, err
	}
	from, to, err := plan.time.Bounds(Clock())
	if err != nil {
		return 0, false, err
	}
	// Whole days are [lo, hi); the rows of [from, lo) and [hi, to) are counted.
	var lo, hi *time.Time
	var parts []*model.TimeRange
	if from != nil {
		d := utcDay(*from)
		if !d.Equal(*from) {
			d = d.Add(24 * time.Hour)
			end := d
			parts = append(parts, &model.TimeRange{From: from, To: &end})
		}
		lo = &d
	}
	if to != nil {
		d := utcDay(*to)
		if !d.Equal(*to) {
			start := d
			parts = append(parts, &model.TimeRange{From: &start, To: to})
		}
		hi = &d
	}
	if lo != nil && hi != nil && !lo.Before(*hi) {
		return 0, false, nil // within one day: counting the rows is as cheap
	}
	if lo != nil {
		sum.Where("day >= ?::date", lo.Format(time.DateOnly))
	}
	if hi != nil {
		sum.Where("day < ?::date", hi.Format(time.DateOnly))
	}
	expr, args := "coalesce((?), 0)", []any{sum}
	for _, r := range parts {
		q, err := s.kindQuery(ws, kind, plan.withTime(r), nil)
		if err != nil {
			return 0, false, err
		}
		expr, args = expr+" + (?)", append(args, q.ColumnExpr("count(*)"))
	}
	var n int
	if err := s.db.NewSelect().ColumnExpr(expr, args...).Scan(ctx, &n); err != nil {
		return 0, false, fmt.Errorf("count %s: %w", kind.Table(), err)
	}
	return n, true, nil
}

// CompactCounts merges the log_counts and log_rollups rows of the UTC days in
// [from, to) into one row per key, so that the per-batch deltas of busy days do not
// pile up. It returns the rows written.
func CompactCounts(ctx context.Context, d *DB, from, to time.Time) (int64, error) {
	return mergeCounts(ctx, d, countScope{from: utcDay(from), to: utcDay(to)})
}

// countScope selects log_counts and log_rollups rows: of one workspace and kind when
// set, of the UTC days [from, to) when set.
type countScope struct {
	ws       uuid.UUID
	kind     model.LogKind
	from, to time.Time
}

// where is the scope's WHERE clause on a table whose time column is col (day or
// slot), and its arguments.
func (c countScope) where(col string) (string, []any) { return c.whereSpan(col, col) }

// whereSpan is where for a table whose rows span from column first to column last
// (the rollup batches: slot and last_slot): those lying wholly in the scope, with the
// same arguments as where's.
func (c countScope) whereSpan(first, last string) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if c.ws != uuid.Nil {
		add("workspace_id = $%d", c.ws)
	}
	if c.kind != "" {
		add("kind = $%d", string(c.kind))
	}
	if !c.from.IsZero() {
		add(first+" >= $%d", c.from)
	}
	if !c.to.IsZero() {
		add(last+" < $%d", c.to)
	}
	if len(conds) == 0 {
		return "true", nil
	}
	return strings.Join(conds, " AND "), args
}

// mergeCounts merges the log_counts, log_rollups and log_pattern_rollups rows of scope into one row per
// key, leaving out keys whose counts sum to zero (deleted rows' negative deltas).
// Each table is one statement: readers see the deltas or the merged rows, never both
// or neither; batches committing meanwhile only insert rows of their own. It returns
// the rows written.
func mergeCounts(ctx context.Context, d *DB, scope countScope) (int64, error) {
	where, args := scope.where("day")
	tag, err := d.Pool.Exec(ctx, `
		WITH gone AS (
			DELETE FROM log_counts WHERE `+where+` RETURNING *
		)
		INSERT INTO log_counts (workspace_id, kind, day, level, service, integration_id, api_reference_id, n)
		SELECT workspace_id, kind, day, level, service, integration_id, api_reference_id, sum(n)
		FROM gone GROUP BY workspace_id, kind, day, level, service, integration_id, api_reference_id
		HAVING sum(n) <> 0`, args...)
	if err != nil {
		return 0, fmt.Errorf("compact counts: %w", err)
	}
	where, args = scope.where("slot")
	rolled, err := d.Pool.Exec(ctx, `
		WITH gone AS (
			DELETE FROM log_rollups WHERE `+where+` RETURNING *
		)
		INSERT INTO log_rollups (workspace_id, kind, slot, severity, source, n)
		SELECT workspace_id, kind, slot, severity, source, sum(n)
		FROM gone GROUP BY workspace_id, kind, slot, severity, source
		HAVING sum(n) <> 0`, args...)
	if err != nil {
		return 0, fmt.Errorf("compact rollups: %w", err)
	}
	batchWhere, _ := scope.whereSpan("slot", "last_slot")
	patterns, err := compactPatterns(ctx, d, where, batchWhere, args...)
	if err != nil {
		return 0, err
	}
	requested := int64(0)
	if scope.kind == "" || scope.kind == model.KindAPIRequest {
		if requested, err = mergeRequestRollups(ctx, d, countScope{ws: scope.ws, from: scope.from, to: scope.to}); err != nil {
			return 0, err
		}
	}
	return tag.RowsAffected() + rolled.RowsAffected() + patterns + requested, nil
}
