package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/loggraph/loggraph/model"
)

// patternCell is the hour a logPatterns cache cell covers: the rollup's hour level.
const patternCell = time.Hour

// cachedPatterns merges into m the pattern parts of f's window [from, to) through
// the analytics cache: the (template, severity) sums of each closed UTC hour lying
// wholly in the window (the rollup's hour rows and the hour's pending rows, the
// cache's cells) are kept per workspace and filter, so a refresh reads only the
// window's partial hours, the hours not cached yet and those whose logs changed
// (checked against the change log in the same statement, as histograms are). plan
// gets the cache's part.
func (s *LogStore) cachedPatterns(ctx context.Context, ws uuid.UUID, f *model.LogFilter, from, to time.Time, m *patternMerger, plan *AnalyticsPlan) error {
	key := analyticsKey("patterns", ws, f, "")
	entry := s.cache.get(key)
	usable, spans := entry.within(from, to)
	read := func(spans [][2]time.Time, withMeta bool) (fresh map[int64][]patternPart, snapshot string, below int64, changedAt []int, err error) {
		fresh = map[int64][]patternPart{} // by cell, in Unix seconds
		var union *bun.SelectQuery
		if len(spans) > 0 {
			if union, err = s.patternSpans(ws, f, spans, true); err != nil {
				return nil, "", 0, nil, err
			}
		}
		var meta func(string, int64, []int)
		if withMeta { // the change check: one more row, in the same statement
			check := s.changeCheck(s.db.NewSelect().ColumnExpr(`NULL::timestamptz AS cell, NULL::bool AS masked, NULL::text AS text,
				NULL::int2 AS sev, NULL::bigint AS n, NULL::timestamptz AS f, NULL::timestamptz AS l, NULL::text AS s`), ws, entry, usable)
			if union != nil {
				union = s.db.NewSelect().TableExpr("(?) AS u", union).
					ColumnExpr("u.*, NULL::text AS snap, NULL::bigint AS below, NULL::int[] AS changed")
			}
			union = unionAll(union, check)
			meta = func(snap string, b int64, changed []int) { snapshot, below, changedAt = snap, b, changed }
		}
		if union == nil {
			return fresh, "", 0, nil, nil
		}
		err = s.scanPatternParts(ctx, union, func(p *patternPart) {
			var cell int64 = -1 << 62 // the partial hours' parts: not a cell
			if p.Cell != nil {
				cell = p.Cell.Unix()
			}
			fresh[cell] = append(fresh[cell], *p)
		}, meta)
		return fresh, snapshot, below, changedAt, err
	}
	fresh, snapshot, below, changedAt, err := read(spans, true)
	if err != nil {
		return err
	}
	xmin, err := snapshotXmin(snapshot)
	if err != nil {
		return err
	}
	stale, again := staleCells(entry, below, changedAt, usable)
	if len(again) > 0 {
		more, _, _, _, err := read(again, false)
		if err != nil {
			return err
		}
		for cell, parts := range more {
			fresh[cell] = append(fresh[cell], parts...)
		}
	}

	// The answer, and the next entry: the cached cells still valid, and every hour
	// read that lies wholly in the window and had ended (empty ones included).
	now := Clock()
	next := &cacheEntry{snapshot: snapshot, xmin: xmin}
	use := AnalyticsCacheUse{Changed: countTrue(stale)}
	for i, c := range usable {
		if !stale[i] {
			next.cells = append(next.cells, c)
			for j := range c.patterns {
				m.add(&c.patterns[j])
			}
			use.Cached++
		}
	}
	for _, parts := range fresh {
		for j := range parts {
			m.add(&parts[j])
		}
	}
	var misses int
	for _, sp := range append(spans, again...) {
		for cell := sp[0].Truncate(patternCell); cell.Before(sp[1]); cell = cell.Add(patternCell) {
			end := cell.Add(patternCell)
			if cell.Before(sp[0]) || end.After(sp[1]) {
				continue // a partial hour of the span: its parts are in the answer, not cached
			}
			use.Computed++
			if end.After(now) {
				continue
			}
			next.cells = append(next.cells, cacheCell{start: cell, end: end, patterns: fresh[cell.Unix()]})
			misses++
		}
	}
	s.cache.store(key, next, use, misses)
	plan.Cache = &use
	return nil
}
