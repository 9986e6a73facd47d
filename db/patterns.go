package db

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/schema"

	"github.com/loggraph/loggraph/model"
)

// MaxPatterns caps logPatterns' answer.
const MaxPatterns = 1000

// analyticsFilter returns f with a closed time range [from, to): no end means now,
// no start means 24 hours before the end (the rule of the other analytics). It is
// resolved once, so every kind's branch sees the same now; ok is false when the
// window is empty (a start in the future). f is not changed.
func analyticsFilter(f *model.LogFilter) (out *model.LogFilter, ok bool, err error) {
	c := model.LogFilter{}
	if f != nil {
		c = *f
	}
	start, end, err := AnalyticsWindow(c.Time)
	if err != nil {
		return nil, false, err
	}
	c.Time = &model.TimeRange{From: &start, To: &end}
	return &c, start.Before(end), nil
}

// PatternSQL returns the SQL expression of the template of the text expression msg:
// the regexp_replace chain of model.PatternRules, so that the database and
// model.MessagePattern mask with the same rules, written once. msg is repeated in
// the expression, so it should be a column, not a computation.
//
// A rule with a guard runs only on messages that match it; the test is on the
// original message (see model.PatternRule.Guard), and a message that fails it gets
// the guard as its pattern, which cannot match either: the expression stays one
// nested chain, with no CASE repeating it.
func PatternSQL(msg schema.QueryAppender) schema.QueryAppender {
	expr := msg
	for _, r := range model.PatternRules {
		var pattern schema.QueryAppender = bun.SafeQuery("?", r.Expr())
		if r.Guard != "" {
			pattern = bun.SafeQuery("CASE WHEN ? ~ ? THEN ? ELSE ? END", msg, r.Guard, r.Expr(), r.Guard)
		}
		for range r.Passes() {
			expr = bun.SafeQuery("regexp_replace(?, ?, ?, 'g')", expr, pattern, r.SQLReplacement())
		}
	}
	return expr
}

// statusTexts is an array literal of the HTTP reason phrases by code (1-based, as
// SQL arrays are), for API request messages.
var statusTexts = func() string {
	texts := make([]string, 599)
	for i := range texts {
		texts[i] = model.StatusText(i + 1)
	}
	return pgArray(texts)
}()

// messageSQL is the SQL of a kind's message (model's Message() per kind), on alias t.
func messageSQL(k model.LogKind) schema.QueryAppender { return kindOf(k).message }

// patternRow is one template's aggregates; Sample is "<kind> <time in µs> <id>" of
// one of its logs (an id is unique only with its time), the least in byte order.
type patternRow struct {
	Pattern   string         `bun:"pattern"`
	Count     int            `bun:"count"`
	Severity  model.Severity `bun:"severity"`
	FirstSeen time.Time      `bun:"first_seen"`
	LastSeen  time.Time      `bun:"last_seen"`
	Sample    string         `bun:"sample"`
}

// Patterns groups the messages of the logs matching f (within the 24 hours before
// its end, or now, when it has no start: see analyticsFilter) by
// model.MessagePattern's template, most frequent first (then by template, in byte
// order), at most first of them. Two statements: the grouping and counting, then
// the samples, fetched together.
//
// When log_pattern_rollups can answer f (rollupRefusal), its rows give the window's
// whole 15-minute slots, already masked, and only the rows of the partial slots at
// its edges are read, masked in Go (patternsFromRollups); both are merged per
// (template, severity) as the rows alone would be, so the answer is the same.
// Otherwise every row of the window is read, and masked and ranked in the database
// (patternsFromRows). Messages read are grouped before they are masked, so each
// distinct message is masked once however often it repeats (log messages repeat a
// lot).
func (s *LogStore) Patterns(ctx context.Context, ws uuid.UUID, f *model.LogFilter, first int) ([]model.LogPattern, error) {
	f, ok, err := analyticsFilter(f)
	if err != nil || !ok {
		return []model.LogPattern{}, err
	}
	from, to := *f.Time.From, *f.Time.To
	lo, hi, spanned := wholeSlots(from, to)
	plan := planAnalytic("patterns", s.rowsOnly, f, spanned, "the window holds no whole 15-minute slot")
	noteAnalyticsPlan(ctx, plan)
	var rows []patternRow
	if plan.Rollup {
		rows, err = s.patternsFromRollups(ctx, ws, f, lo, hi, first)
	} else {
		rows, err = s.patternsFromRows(ctx, ws, f, first)
	}
	if err != nil {
		return nil, err
	}
	samples, err := s.logsByKey(ctx, ws, rows)
	if err != nil {
		return nil, err
	}
	out := make([]model.LogPattern, 0, len(rows))
	for _, r := range rows {
		l := samples[r.Sample]
		if l == nil {
			continue // deleted (retention) between the statements: nothing to show
		}
		out = append(out, model.LogPattern{Pattern: r.Pattern, Count: r.Count, Severity: r.Severity,
			FirstSeen: r.FirstSeen, LastSeen: r.LastSeen, Sample: l})
	}
	return out, nil
}

// patternsFromRows is the first most frequent templates of the logs f keeps, read
// from the rows and masked in PostgreSQL (PatternSQL), in one statement: each kind's
// rows grouped by (message, severity), so that each distinct message is masked once.
func (s *LogStore) patternsFromRows(ctx context.Context, ws uuid.UUID, f *model.LogFilter, first int) ([]patternRow, error) {
	var union *bun.SelectQuery
	for _, k := range logKinds(f) {
		q := s.db.NewSelect().TableExpr("? AS t", bun.Ident(k.Table())).Where("t.workspace_id = ?", ws)
		if err := filterCommon(q, ws, k, f); err != nil {
			return nil, err
		}
		ts := bun.Ident(k.TimeColumn())
		q.ColumnExpr(`? AS msg, t.? AS sev, count(*) AS n, min(t.?) AS f, max(t.?) AS l, min(? COLLATE "C") AS s`,
			messageSQL(k), bun.Ident(severityExpr(k)), ts, ts, sampleSQL(k)).
			GroupExpr("1, 2")
		union = unionAll(union, q)
	}
	masked := s.db.NewSelect().TableExpr("(?) AS m", union).
		ColumnExpr("? AS pattern, m.sev, m.n, m.f, m.l, m.s", PatternSQL(bun.Safe("m.msg")))
	// The dominant severity is the one with most logs, the more severe on a tie:
	// mode() breaks ties arbitrarily, hence the (template, severity) level.
	bySeverity := s.db.NewSelect().TableExpr("(?) AS m", masked).
		ColumnExpr(`m.pattern, m.sev, sum(m.n) AS n, min(m.f) AS f, max(m.l) AS l, min(m.s COLLATE "C") AS s`).
		GroupExpr("1, 2")
	var rows []patternRow
	err := s.db.NewSelect().TableExpr("(?) AS p", bySeverity).
		ColumnExpr("pattern, sum(n)::bigint AS count, min(f) AS first_seen, max(l) AS last_seen").
		ColumnExpr(`(array_agg(sev ORDER BY n DESC, sev DESC))[1] AS severity, min(s COLLATE "C") AS sample`).
		GroupExpr("pattern").
		OrderExpr(`count DESC, pattern COLLATE "C"`). // byte order, as clients sort strings
		Limit(int64(first)).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("log patterns: %w", err)
	}
	return rows, nil
}

// patternPart is a row of patternsFromRollups' statement: a template's aggregates
// per severity (from the rollup), or a message's (from an edge slot's rows, masked
// here).
type patternPart struct {
	Masked bool
	Text   string
	Sev    model.Severity
	N      int
	F, L   time.Time
	S      string
}

// patternsFromRollups is rankPatterns' answer for f's window from the whole slots
// [lo, hi) of log_pattern_rollups and the rows of its partial edge slots, in one
// statement whose rows are merged here: the edge rows come grouped by message and
// are masked with model.MessagePattern (as ingest masks the rollup's; the same
// templates as PatternSQL, which takes about 16 µs a message in PostgreSQL against
// under 1 µs here), and merging the few thousand (template, severity) rows in Go
// costs less than hashing and sorting the templates in SQL (at 10M rows the 24 h
// answer took 70 ms as one SQL aggregate, most of it masking 1,000 edge messages
// and grouping 6,600 rows by template; see BENCHMARKS.md).
func (s *LogStore) patternsFromRollups(ctx context.Context, ws uuid.UUID, f *model.LogFilter, lo, hi time.Time, first int) ([]patternRow, error) {
	from, to := *f.Time.From, *f.Time.To
	var union *bun.SelectQuery
	for _, k := range logKinds(f) {
		// The hour rows of the whole hours, the slot rows of the other whole slots, the
		// pending rows of all of them.
		for _, r := range levelRanges(patternLevels, lo, hi, 0) {
			q := s.db.NewSelect().
				ColumnExpr(`true AS masked, r.pattern AS text, r.severity AS sev, sum(r.n)::bigint AS n, min(r.first_seen) AS f, max(r.last_seen) AS l, min(r.sample COLLATE "C") AS s`).
				GroupExpr("2, 3")
			patternRollupWhere(q, ws, k, f, r.width, r.from, r.to)
			union = unionAll(union, q)
		}
		ts := bun.Ident(k.TimeColumn())
		for _, edge := range [][2]time.Time{{from, lo}, {hi, to}} {
			if !edge[0].Before(edge[1]) {
				continue
			}
			q := s.db.NewSelect().TableExpr("? AS t", bun.Ident(k.Table())).Where("t.workspace_id = ?", ws)
			if err := filterCommon(q, ws, k, boundedFilter(f, edge[0], edge[1])); err != nil {
				return nil, err
			}
			q.ColumnExpr(`false AS masked, ? AS text, t.? AS sev, count(*) AS n, min(t.?) AS f, max(t.?) AS l, min(? COLLATE "C") AS s`,
				messageSQL(k), bun.Ident(severityExpr(k)), ts, ts, sampleSQL(k)).
				GroupExpr("2, 3")
			union = unionAll(union, q)
		}
	}
	// Scanned column by column, not through bun's reflective model: at 10M rows the
	// 24 h answer reads about 6,600 rows, and the model took half of its Go time.
	rows, err := s.db.NewSelect().TableExpr("(?) AS u", union).ColumnExpr("u.*").Rows(ctx)
	if err != nil {
		return nil, fmt.Errorf("log patterns: %w", err)
	}
	defer rows.Close()
	type agg struct {
		row   patternRow
		bySev [model.SeverityFatal + 1]int // by severity number (1-based)
	}
	templates := map[string]string{}
	byPattern := map[string]*agg{}
	var p patternPart
	for rows.Next() {
		if err := rows.Scan(&p.Masked, &p.Text, &p.Sev, &p.N, &p.F, &p.L, &p.S); err != nil {
			return nil, fmt.Errorf("log patterns: %w", err)
		}
		pattern := p.Text
		if !p.Masked {
			tpl, ok := templates[p.Text]
			if !ok {
				tpl = model.MessagePattern(p.Text)
				templates[p.Text] = tpl
			}
			pattern = tpl
		}
		a := byPattern[pattern]
		if a == nil {
			a = &agg{row: patternRow{Pattern: pattern, FirstSeen: p.F, LastSeen: p.L, Sample: p.S}}
			byPattern[pattern] = a
		}
		a.row.Count += p.N
		if int(p.Sev) >= 1 && int(p.Sev) < len(a.bySev) {
			a.bySev[p.Sev] += p.N
		}
		if p.F.Before(a.row.FirstSeen) {
			a.row.FirstSeen = p.F
		}
		if p.L.After(a.row.LastSeen) {
			a.row.LastSeen = p.L
		}
		a.row.Sample = min(a.row.Sample, p.S)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("log patterns: %w", err)
	}
	out := make([]patternRow, 0, len(byPattern))
	for _, a := range byPattern {
		best := -1
		for sev, n := range a.bySev { // most logs, the more severe on a tie (ascending: >= keeps the last)
			if n > 0 && n >= best {
				a.row.Severity, best = model.Severity(sev), n
			}
		}
		out = append(out, a.row)
	}
	less := func(a, b patternRow) int {
		if a.Count != b.Count {
			return cmp.Compare(b.Count, a.Count)
		}
		return strings.Compare(a.Pattern, b.Pattern) // byte order, as clients sort strings
	}
	// Only the first are ranked: a partial selection keeps the top of the counts.
	if first < len(out) {
		out = topPatterns(out, first, less)
	}
	slices.SortFunc(out, less)
	return out, nil
}

// topPatterns returns the first rows of rows by less (unordered), in one pass with a
// heap of first rows.
func topPatterns(rows []patternRow, first int, less func(a, b patternRow) int) []patternRow {
	h := &patternHeap{less: less}
	for _, r := range rows {
		if len(h.rows) < first {
			heap.Push(h, r)
		} else if less(r, h.rows[0]) < 0 {
			h.rows[0] = r
			heap.Fix(h, 0)
		}
	}
	return h.rows
}

// patternHeap is a heap whose root is the last of its rows by less (the one to drop).
type patternHeap struct {
	rows []patternRow
	less func(a, b patternRow) int
}

func (h *patternHeap) Len() int           { return len(h.rows) }
func (h *patternHeap) Less(i, j int) bool { return h.less(h.rows[i], h.rows[j]) > 0 }
func (h *patternHeap) Swap(i, j int)      { h.rows[i], h.rows[j] = h.rows[j], h.rows[i] }
func (h *patternHeap) Push(x any)         { h.rows = append(h.rows, x.(patternRow)) }
func (h *patternHeap) Pop() any {
	r := h.rows[len(h.rows)-1]
	h.rows = h.rows[:len(h.rows)-1]
	return r
}

// sampleKey is a log's key in patternRow.Sample.
func sampleKey(l model.Log) string {
	return string(l.Kind()) + " " + strconv.FormatInt(l.Time().UnixMicro(), 10) + " " + model.LogID(l)
}

// logsByKey fetches the patterns' samples in one statement, keyed by sampleKey.
func (s *LogStore) logsByKey(ctx context.Context, ws uuid.UUID, rows []patternRow) (map[string]model.Log, error) {
	ids := map[model.LogKind][]string{}
	for _, r := range rows {
		kind, rest, _ := strings.Cut(r.Sample, " ")
		_, id, _ := strings.Cut(rest, " ")
		ids[model.LogKind(kind)] = append(ids[model.LogKind(kind)], id)
	}
	var union *bun.SelectQuery
	for _, k := range model.AllKinds {
		if len(ids[k]) == 0 {
			continue
		}
		q := s.db.NewSelect().TableExpr("? AS t", bun.Ident(k.Table())).
			ColumnExpr("? AS kind, to_json(t.*) AS row", string(k)).
			Where("t.workspace_id = ? AND t.id = ANY(?::"+idType(k)+"[])", ws, pgdialect.Array(ids[k]))
		union = unionAll(union, q)
	}
	out := make(map[string]model.Log, len(rows))
	if union == nil {
		return out, nil
	}
	var found []unionRow
	if err := union.Scan(ctx, &found); err != nil {
		return nil, fmt.Errorf("pattern samples: %w", err)
	}
	for _, r := range found {
		l, err := decodeLog(r.Kind, r.Row)
		if err != nil {
			return nil, err
		}
		out[sampleKey(l)] = l // rows of the same id at other times match no key
	}
	return out, nil
}
