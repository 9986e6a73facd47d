package db

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/loggraph/loggraph/model"
)

// AnalyticsCacheUse says what the analytics cache did for one analytic (in
// AnalyticsPlan, so in extensions.stats.analytics).
type AnalyticsCacheUse struct {
	// Cached are the closed buckets answered from the cache.
	Cached int `json:"cachedBuckets"`
	// Changed are cached buckets recomputed because their logs changed.
	Changed int `json:"changedBuckets"`
	// Computed are the buckets read from the database (the open and partial ones,
	// those not cached yet, and the changed ones).
	Computed int `json:"computedBuckets"`
	// Bypass, when set, says why the cache was not used.
	Bypass string `json:"bypass,omitempty"`
}

// histogramCacheRow is a row of the cached histogram statement: a (bucket,
// severity) count, or (Start null) the statement's snapshot, the pruned horizon and
// the cached buckets changed since the entry's snapshot.
type histogramCacheRow struct {
	Start    *time.Time      `bun:"start"`
	Sev      *model.Severity `bun:"sev"`
	N        *int            `bun:"n"`
	Snapshot *string         `bun:"snap"`
	Below    *int64          `bun:"below"`
	Changed  []int           `bun:"changed,array"`
}

// cachedHistogram answers Histogram through the cache: the window's buckets that were
// closed when last read come from the cache unless their logs changed since; the
// others are computed. ok is false when the cache cannot serve the spec (then the
// caller computes everything); plan gets the cache's part.
func (s *LogStore) cachedHistogram(ctx context.Context, ws uuid.UUID, f *model.LogFilter, h HistogramSpec, plan *AnalyticsPlan) (_ []model.HistogramBucket, ok bool, _ error) {
	if !h.cellsAreBuckets() {
		plan.Cache = &AnalyticsCacheUse{Bypass: "the time zone changes its offset at a bucket boundary in the window"}
		return nil, false, nil
	}
	loc := ""
	if h.Location != nil {
		loc = h.Location.String()
	}
	key := analyticsKey("histogram", ws, f, h.Interval.String()+"|"+loc)
	entry := s.cache.get(key)

	usable, spans := entry.within(h.From, h.To)
	hs := h.sql()
	union, err := s.histogramCounts(ws, f, h, hs, plan.Rollup, spans)
	if err != nil {
		return nil, false, err
	}
	meta := s.changeCheck(s.db.NewSelect().ColumnExpr("NULL::timestamptz AS start, NULL::smallint AS sev, NULL::bigint AS n"),
		ws, entry, usable)
	counts := s.histogramQuery(hs, union)
	var rows []histogramCacheRow
	if err := s.db.NewSelect().TableExpr("(?) AS h", counts).ColumnExpr("h.start, h.sev, h.n").
		ColumnExpr("NULL::text AS snap, NULL::bigint AS below, NULL::int[] AS changed").
		UnionAll(meta).Scan(ctx, &rows); err != nil {
		return nil, false, h.queryError(err)
	}
	var snapshot string
	var below int64
	var changedAt []int
	series := make([]histogramRow, 0, len(rows))
	for _, r := range rows {
		if r.Start == nil {
			snapshot, changedAt = *r.Snapshot, r.Changed
			if r.Below != nil {
				below = *r.Below
			}
			continue
		}
		series = append(series, histogramRow{Start: *r.Start, Sev: *r.Sev, N: *r.N})
	}
	slices.SortFunc(series, func(a, b histogramRow) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return int(a.Sev) - int(b.Sev)
	})
	out := histogramBuckets(series)
	xmin, err := snapshotXmin(snapshot)
	if err != nil {
		return nil, false, err
	}

	stale, again := staleCells(entry, below, changedAt, usable)
	fresh := map[time.Time][]int{}
	if len(again) > 0 {
		union, err := s.histogramCounts(ws, f, h, hs, plan.Rollup, again)
		if err != nil {
			return nil, false, err
		}
		var rows []histogramRow
		if err := s.histogramQuery(hs, union).Scan(ctx, &rows); err != nil {
			return nil, false, h.queryError(err)
		}
		for _, b := range histogramBuckets(rows) {
			fresh[b.Start] = severityCounts(b)
		}
	}
	cached := map[time.Time][]int{}
	for i, c := range usable {
		if !stale[i] {
			cached[c.start] = c.counts
		}
	}
	// The answer, and the next entry: every bucket wholly in the window and closed
	// (ended before now), exact as of this statement's snapshot or later.
	now := Clock()
	next := &cacheEntry{snapshot: snapshot, xmin: xmin}
	use := AnalyticsCacheUse{Changed: countTrue(stale)}
	ends := map[time.Time]time.Time{}
	for _, c := range usable {
		ends[c.start] = c.end
	}
	var misses int
	for i := range out {
		b := &out[i]
		add := cached[b.Start]
		if add != nil {
			use.Cached++
		} else {
			use.Computed++
			add = fresh[b.Start]
		}
		for j, n := range add {
			b.BySeverity[j].Count += n
			b.Count += n
		}
		// A bucket ends where the next starts; the last one, on UTC, an interval later
		// (on a wall clock only the series knows, so it is kept once it is not last).
		end, known := ends[b.Start]
		if i+1 < len(out) {
			end, known = out[i+1].Start, true
		} else if h.Location == nil {
			end, known = b.Start.Add(h.Interval), true
		}
		if known && !b.Start.Before(h.From) && !end.After(h.To) && !end.After(now) {
			next.cells = append(next.cells, cacheCell{start: b.Start, end: end, counts: severityCounts(*b)})
			if _, was := ends[b.Start]; !was {
				misses++
			}
		}
	}
	s.cache.hits.Add(uint64(use.Cached))
	s.cache.changed.Add(uint64(use.Changed))
	s.cache.misses.Add(uint64(misses))
	s.cache.put(key, next)
	plan.Cache = &use
	return out, true, nil
}

// within returns the cells of e (nil: none) that lie within [from, to), by start, and
// the spans of the window they leave uncovered.
func (e *cacheEntry) within(from, to time.Time) (usable []cacheCell, spans [][2]time.Time) {
	at := from
	if e != nil {
		for _, c := range e.cells {
			if c.start.Before(from) || c.end.After(to) {
				continue
			}
			usable = append(usable, c)
			if at.Before(c.start) {
				spans = append(spans, [2]time.Time{at, c.start})
			}
			at = c.end
		}
	}
	if at.Before(to) {
		spans = append(spans, [2]time.Time{at, to})
	}
	return usable, spans
}

// changeCheck adds to meta, a one-row select (its other columns NULL, to be unioned
// with an analytic's rows), the columns snap (the statement's snapshot), below (the
// pruned horizon) and changed: the indexes of the cells of usable (the entry's cells
// within the window, by start) overlapping a change the entry's snapshot did not see.
func (s *LogStore) changeCheck(meta *bun.SelectQuery, ws uuid.UUID, entry *cacheEntry, usable []cacheCell) *bun.SelectQuery {
	meta.ColumnExpr("pg_current_snapshot()::text AS snap")
	if len(usable) == 0 {
		return meta.ColumnExpr("NULL::bigint AS below, NULL::int[] AS changed")
	}
	starts, ends := make([]time.Time, len(usable)), make([]time.Time, len(usable))
	for i, c := range usable {
		starts[i], ends[i] = c.start, c.end
	}
	// Changes are first narrowed to the cached span (most touch only the open bucket).
	changes := s.db.NewSelect().TableExpr("analytics_changes AS c").ColumnExpr("c.first_at, c.last_at").
		Where("c.workspace_id IN (?, ?) AND c.xid >= ?", ws, uuid.Nil, entry.xmin).
		Where("NOT pg_visible_in_snapshot(c.xid::text::xid8, ?::pg_snapshot)", entry.snapshot).
		Where("c.first_at < ? AND c.last_at >= ?", ends[len(ends)-1], starts[0])
	changed := s.db.NewSelect().
		TableExpr("unnest(?::timestamptz[], ?::timestamptz[]) WITH ORDINALITY AS u(s, e, i)",
			pgdialect.Array(starts), pgdialect.Array(ends)).
		ColumnExpr("DISTINCT u.i::int - 1").
		Where("EXISTS (SELECT 1 FROM (?) AS c WHERE c.first_at < u.e AND c.last_at >= u.s)", changes)
	return meta.ColumnExpr("coalesce((SELECT pruned_below FROM analytics_changes_pruned), 0) AS below").
		ColumnExpr("ARRAY(?) AS changed", changed)
}

// staleCells marks the cells of usable whose logs changed (changedAt, from
// changeCheck; all of them when the entry's snapshot is older than the pruned
// horizon below, so can no longer be checked), and returns the spans to read again.
func staleCells(entry *cacheEntry, below int64, changedAt []int, usable []cacheCell) (stale []bool, again [][2]time.Time) {
	stale = make([]bool, len(usable))
	for _, i := range changedAt {
		stale[i] = true
	}
	if entry != nil && entry.xmin < below {
		for i := range stale {
			stale[i] = true
		}
	}
	for i, c := range usable {
		if !stale[i] {
			continue
		}
		if n := len(again); n > 0 && again[n-1][1].Equal(c.start) {
			again[n-1][1] = c.end
		} else {
			again = append(again, [2]time.Time{c.start, c.end})
		}
	}
	return stale, again
}

// countTrue counts the true values of bs.
func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// severityCounts are a bucket's counts per severity (ascending).
func severityCounts(b model.HistogramBucket) []int {
	out := make([]int, len(b.BySeverity))
	for i, c := range b.BySeverity {
		out[i] = c.Count
	}
	return out
}

// cellsAreBuckets reports whether the instants [start, next start) of each bucket
// are exactly the logs the statement puts in it, which the cache relies on (it
// computes the open buckets' spans and matches changes by instants). True on UTC;
// on a wall clock, unless an offset change in or near the window makes a bucket's
// boundary a local time that is skipped or repeated (zones that change at midnight).
func (h HistogramSpec) cellsAreBuckets() bool {
	if h.Location == nil {
		return true
	}
	iv := h.Interval.Microseconds()
	origin := localOrigin.Unix() * 1_000_000
	from, to := h.From.Add(-h.Interval), h.To.Add(h.Interval)
	for t := from; t.Before(to); {
		_, end := t.In(h.Location).ZoneBounds()
		if end.IsZero() || !end.Before(to) {
			return true
		}
		_, before := end.Add(-time.Second).In(h.Location).Zone()
		_, after := end.In(h.Location).Zone()
		// The local times skipped or repeated at end, in microseconds since origin.
		lo := (end.Unix()+int64(min(before, after)))*1_000_000 - origin
		hi := (end.Unix()+int64(max(before, after)))*1_000_000 - origin
		if lo < hi {
			if k := -floorDiv(-lo, iv); k*iv <= hi {
				return false
			}
		}
		t = end
	}
	return true
}
