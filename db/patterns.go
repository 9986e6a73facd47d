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
	_, _, spanned := wholeSlots(from, to)
	plan := planAnalytic("patterns", s.rowsOnly, f, spanned, "the window holds no whole 15-minute slot")
	defer func() { noteAnalyticsPlan(ctx, plan) }() // with the cache's part
	var rows []patternRow
	if plan.Rollup {
		rows, err = s.patternsFromRollups(ctx, ws, f, first, &plan)
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
// here); Cell is the UTC hour the rollup row lies in when the statement asks for it
// (the analytics cache's cells), else nil.
type patternPart struct {
	Cell   *time.Time
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
// and grouping 6,600 rows by template; see BENCHMARKS.md). With the analytics cache
// the closed whole hours come from it (cachedPatterns).
func (s *LogStore) patternsFromRollups(ctx context.Context, ws uuid.UUID, f *model.LogFilter, first int, plan *AnalyticsPlan) ([]patternRow, error) {
	from, to := *f.Time.From, *f.Time.To
	var m patternMerger
	if s.cache != nil {
		if err := s.cachedPatterns(ctx, ws, f, from, to, &m, plan); err != nil {
			return nil, err
		}
		return m.rank(first), nil
	}
	union, err := s.patternSpans(ws, f, [][2]time.Time{{from, to}}, false)
	if err != nil {
		return nil, err
	}
	if err := s.scanPatternParts(ctx, union, func(p *patternPart) { m.add(p) }, nil); err != nil {
		return nil, err
	}
	return m.rank(first), nil
}

// patternSpans is the statement of patternParts over the spans (disjoint, within
// the window): for each kind and span, the rollup's rows of the span's whole slots
// (hour rows for its whole hours, slot rows for its other slots, pending rows for
// all; with their hour when byCell) grouped by (template, severity), and the rows of
// its partial slots grouped by (message, severity).
func (s *LogStore) patternSpans(ws uuid.UUID, f *model.LogFilter, spans [][2]time.Time, byCell bool) (*bun.SelectQuery, error) {
	var union *bun.SelectQuery
	for _, k := range logKinds(f) {
		ts := bun.Ident(k.TimeColumn())
		for _, sp := range spans {
			edges := [][2]time.Time{sp}
			if lo, hi, ok := wholeSlots(sp[0], sp[1]); ok {
				edges = [][2]time.Time{{sp[0], lo}, {hi, sp[1]}}
				for _, r := range levelRanges(patternLevels, lo, hi, 0) {
					q := s.db.NewSelect()
					if byCell {
						q.ColumnExpr("date_bin('1 hour', r.slot, 'epoch') AS cell").GroupExpr("1, 3, 4")
					} else {
						q.ColumnExpr("NULL::timestamptz AS cell").GroupExpr("3, 4")
					}
					q.ColumnExpr(`true AS masked, r.pattern AS text, r.severity AS sev, sum(r.n)::bigint AS n, min(r.first_seen) AS f, max(r.last_seen) AS l, min(r.sample COLLATE "C") AS s`)
					patternRollupWhere(q, ws, k, f, r.width, r.from, r.to)
					union = unionAll(union, q)
				}
			}
			for _, edge := range edges {
				if !edge[0].Before(edge[1]) {
					continue
				}
				q := s.db.NewSelect().TableExpr("? AS t", bun.Ident(k.Table())).Where("t.workspace_id = ?", ws)
				if err := filterCommon(q, ws, k, boundedFilter(f, edge[0], edge[1])); err != nil {
					return nil, err
				}
				q.ColumnExpr(`NULL::timestamptz AS cell, false AS masked, ? AS text, t.? AS sev, count(*) AS n, min(t.?) AS f, max(t.?) AS l, min(? COLLATE "C") AS s`,
					messageSQL(k), bun.Ident(severityExpr(k)), ts, ts, sampleSQL(k)).
					GroupExpr("3, 4")
				union = unionAll(union, q)
			}
		}
	}
	return union, nil
}

// scanPatternParts runs q (patternSpans' statement) and passes each row to each,
// masking the edge rows' messages (each distinct one once). When meta is not nil,
// q's rows also carry the change check's columns (changeCheck: snap, below, changed)
// and its row (the one with a snapshot) goes to meta. Scanned column by column, not
// through bun's reflective model: at 10M rows the 24 h answer reads about 6,600
// rows, and the model took half of its Go time.
func (s *LogStore) scanPatternParts(ctx context.Context, q *bun.SelectQuery, each func(*patternPart), meta func(snap string, below int64, changed []int)) error {
	if meta == nil {
		q = s.db.NewSelect().TableExpr("(?) AS u", q).ColumnExpr("u.*")
	}
	rows, err := q.Rows(ctx)
	if err != nil {
		return fmt.Errorf("log patterns: %w", err)
	}
	defer rows.Close()
	templates := map[string]string{}
	for rows.Next() {
		var p patternPart
		var masked *bool
		var text *string
		var sev *int16
		var n *int64
		var first, last *time.Time
		var sample, snap *string
		var below *int64
		var changed []int
		dest := []any{&p.Cell, &masked, &text, &sev, &n, &first, &last, &sample}
		if meta != nil {
			dest = append(dest, &snap, &below, pgdialect.Array(&changed))
		}
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("log patterns: %w", err)
		}
		if masked == nil { // the change check's row
			if snap != nil {
				var b int64
				if below != nil {
					b = *below
				}
				meta(*snap, b, changed)
			}
			continue
		}
		p.Masked, p.Text, p.Sev, p.N, p.F, p.L, p.S = *masked, *text, model.Severity(*sev), int(*n), *first, *last, *sample
		if !p.Masked {
			tpl, ok := templates[p.Text]
			if !ok {
				tpl = model.MessagePattern(p.Text)
				templates[p.Text] = tpl
			}
			p.Text, p.Masked = tpl, true
		}
		each(&p)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("log patterns: %w", err)
	}
	return nil
}

// patternMerger sums masked pattern parts per template and ranks them.
type patternMerger struct {
	byPattern map[string]*templateSums
}

// templateSums is one template's sums, its counts per severity number (1-based).
type templateSums struct {
	row   patternRow
	bySev [model.SeverityFatal + 1]int
}

// add merges p (masked) in.
func (m *patternMerger) add(p *patternPart) {
	if m.byPattern == nil {
		m.byPattern = map[string]*templateSums{}
	}
	a := m.byPattern[p.Text]
	if a == nil {
		a = &templateSums{row: patternRow{Pattern: p.Text, FirstSeen: p.F, LastSeen: p.L, Sample: p.S}}
		m.byPattern[p.Text] = a
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

// rank is the first templates, most frequent first (then by template, in byte order),
// each with its dominant severity.
func (m *patternMerger) rank(first int) []patternRow {
	out := make([]patternRow, 0, len(m.byPattern))
	for _, a := range m.byPattern {
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
	return out
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
	// Each kind's samples' times bound its statement, so that only the partitions
	// holding them are planned and searched (at 30 daily partitions a kind, the
	// unbounded lookup probed every partition's index).
	span := map[model.LogKind][2]time.Time{}
	for _, r := range rows {
		kind, rest, _ := strings.Cut(r.Sample, " ")
		us, id, _ := strings.Cut(rest, " ")
		k := model.LogKind(kind)
		ids[k] = append(ids[k], id)
		n, err := strconv.ParseInt(us, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("pattern sample key %q: %w", r.Sample, err)
		}
		t := time.UnixMicro(n).UTC()
		sp, seen := span[k]
		if !seen || t.Before(sp[0]) {
			sp[0] = t
		}
		if !seen || t.After(sp[1]) {
			sp[1] = t
		}
		span[k] = sp
	}
	var union *bun.SelectQuery
	for _, k := range model.AllKinds {
		if len(ids[k]) == 0 {
			continue
		}
		q := s.db.NewSelect().TableExpr("? AS t", bun.Ident(k.Table())).
			ColumnExpr("? AS kind, to_json(t.*) AS row", string(k)).
			Where("t.workspace_id = ? AND t.id = ANY(?::"+idType(k)+"[])", ws, pgdialect.Array(ids[k])).
			Where("t.? >= ? AND t.? <= ?", bun.Ident(k.TimeColumn()), span[k][0], bun.Ident(k.TimeColumn()), span[k][1])
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
