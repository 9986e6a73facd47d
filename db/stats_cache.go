package db

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/loggraph/loggraph/model"
)

// cachedRequestStatsRows is requestStatsRows through the analytics cache, in the
// caller's repeatable-read transaction (one snapshot for both statements): the
// compacted request_rollups rows of each whole day, hour or slot the window reads
// (ranges, requestRanges) are kept per workspace, filter, groups and interval, and
// only the cells not cached, those whose logs or rollup rows changed since (the
// change log, checked first), the pending rows and the partial edge slots are read.
// Compaction moves pending rows into the compacted ones, so it records its span in
// the change log too (requestCompactSQL). plan gets the cache's part.
func (s *LogStore) cachedRequestStatsRows(ctx context.Context, ws uuid.UUID, f *model.APIRequestLogFilter, cut string,
	ranges []requestRange, plan *AnalyticsPlan, read func([]requestRange) ([]requestStatsRow, error)) ([]requestStatsRow, error) {
	key := analyticsKey("apiRequestStats", ws, f, cut)
	entry := s.cache.get(key)
	cached := map[[2]int64]cacheCell{}
	if entry != nil {
		for _, c := range entry.cells {
			cached[[2]int64{c.start.Unix(), c.end.Unix()}] = c
		}
	}
	// usable: the cached cells of the window's compacted ranges; todo: the rest of the
	// ranges, contiguous cells of a level read as one range.
	var usable []cacheCell
	var todo []requestRange
	for _, r := range ranges {
		if r.width == requestPending {
			todo = append(todo, r)
			continue
		}
		d := time.Duration(r.width) * time.Minute
		open := -1 // index in todo of the range being extended
		for st := r.from; st.Before(r.to); st = st.Add(d) {
			if c, ok := cached[[2]int64{st.Unix(), st.Add(d).Unix()}]; ok {
				usable, open = append(usable, c), -1
				continue
			}
			if open >= 0 {
				todo[open].to = st.Add(d)
			} else {
				todo, open = append(todo, requestRange{width: r.width, from: st, to: st.Add(d)}), len(todo)
			}
		}
	}
	slices.SortFunc(usable, func(a, b cacheCell) int { return a.start.Compare(b.start) })
	var meta struct {
		Snapshot string `bun:"snap"`
		Below    *int64 `bun:"below"`
		Changed  []int  `bun:"changed,array"`
	}
	if err := s.changeCheck(s.db.NewSelect(), ws, entry, usable).Scan(ctx, &meta); err != nil {
		return nil, fmt.Errorf("api request stats: %w", err)
	}
	var below int64
	if meta.Below != nil {
		below = *meta.Below
	}
	xmin, err := snapshotXmin(meta.Snapshot)
	if err != nil {
		return nil, err
	}
	stale, _ := staleCells(entry, below, meta.Changed, usable)
	next := &cacheEntry{snapshot: meta.Snapshot, xmin: xmin}
	use := AnalyticsCacheUse{Changed: countTrue(stale)}
	var out []requestStatsRow
	for i, c := range usable {
		if stale[i] {
			todo = append(todo, requestRange{width: int16(c.end.Sub(c.start) / time.Minute), from: c.start, to: c.end})
			continue
		}
		next.cells = append(next.cells, c)
		out = append(out, c.requests...)
		use.Cached++
	}
	rows, err := read(todo)
	if err != nil {
		return nil, err
	}
	out = append(out, rows...)
	// Every compacted cell read becomes a cached one, empty ones included: the
	// ranges lie in the window's whole slots, which had all ended.
	byCell := map[[2]int64][]requestStatsRow{}
	for _, r := range rows {
		if r.Width != nil && r.Cell != nil {
			k := [2]int64{r.Cell.Unix(), r.Cell.Add(time.Duration(*r.Width) * time.Minute).Unix()}
			byCell[k] = append(byCell[k], r)
		}
	}
	var misses int
	for _, r := range todo {
		if r.width == requestPending {
			continue
		}
		d := time.Duration(r.width) * time.Minute
		for st := r.from; st.Before(r.to); st = st.Add(d) {
			next.cells = append(next.cells, cacheCell{start: st, end: st.Add(d), requests: byCell[[2]int64{st.Unix(), st.Add(d).Unix()}]})
			use.Computed++
			misses++
		}
	}
	s.cache.store(key, next, use, misses)
	plan.Cache = &use
	return out, nil
}
