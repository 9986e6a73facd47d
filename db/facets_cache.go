package db

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/loggraph/loggraph/model"
)

// facetCount is one value's count in a facet field.
type facetCount struct {
	field model.LogFacetField
	value string
	n     int
}

// facetCacheRow is a row of the cached facets statement: a (slot, field, value)
// count, or (Field null) the statement's snapshot, the pruned horizon and the cached
// slots changed since the entry's snapshot.
type facetCacheRow struct {
	Slot     *time.Time `bun:"slot"`
	Field    *string    `bun:"field"`
	Value    *string    `bun:"value"`
	N        *int       `bun:"n"`
	Snapshot *string    `bun:"snap"`
	Below    *int64     `bun:"below"`
	Changed  []int      `bun:"changed,array"`
}

// cachedFacets counts the values of the asked fields over [from, to) through the
// analytics cache, for facets the rollups answer (plan.Rollup): the counts of each
// closed 15-minute slot (the rollup's, the cache's cells) are kept per workspace,
// filter and fields, so a refresh reads only the window's partial edge slots, the
// slots not cached yet and those whose logs changed (checked against the change log
// in the same statement, as histograms are). It returns every value's count over the
// window; plan gets the cache's part.
func (s *LogStore) cachedFacets(ctx context.Context, ws uuid.UUID, f *model.LogFilter, from, to time.Time,
	asked []model.LogFacetField, plan *AnalyticsPlan) ([]facetCount, error) {
	key := analyticsKey("facets", ws, f, strings.Join(fieldStrings(asked), ","))
	entry := s.cache.get(key)
	usable, spans := entry.within(from, to)
	union, err := s.facetSlots(ws, f, asked, spans)
	if err != nil {
		return nil, err
	}
	meta := s.changeCheck(s.db.NewSelect().
		ColumnExpr("NULL::timestamptz AS slot, NULL::text AS field, NULL::text AS value, NULL::bigint AS n"), ws, entry, usable)
	q := meta
	if union != nil {
		q = union.ColumnExpr("NULL::text AS snap, NULL::bigint AS below, NULL::int[] AS changed").UnionAll(meta)
	}
	var rows []facetCacheRow
	if err := q.Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("log facets: %w", err)
	}
	var snapshot string
	var below int64
	var changedAt []int
	fresh := map[int64][]facetCount{} // by slot, in Unix seconds
	for _, r := range rows {
		if r.Field == nil {
			if r.Snapshot != nil {
				snapshot, changedAt = *r.Snapshot, r.Changed
				if r.Below != nil {
					below = *r.Below
				}
			}
			continue
		}
		fresh[r.Slot.Unix()] = append(fresh[r.Slot.Unix()], facetCount{model.LogFacetField(*r.Field), *r.Value, *r.N})
	}
	xmin, err := snapshotXmin(snapshot)
	if err != nil {
		return nil, err
	}
	stale, again := staleCells(entry, below, changedAt, usable)
	if len(again) > 0 {
		union, err := s.facetSlots(ws, f, asked, again)
		if err != nil {
			return nil, err
		}
		var rows []facetCacheRow
		if err := union.Scan(ctx, &rows); err != nil {
			return nil, fmt.Errorf("log facets: %w", err)
		}
		for _, r := range rows {
			fresh[r.Slot.Unix()] = append(fresh[r.Slot.Unix()], facetCount{model.LogFacetField(*r.Field), *r.Value, *r.N})
		}
	}

	// The answer, and the next entry: the cached cells still valid, and every slot
	// read that lies wholly in the window and had ended (empty ones included).
	now := Clock()
	next := &cacheEntry{snapshot: snapshot, xmin: xmin}
	use := AnalyticsCacheUse{Changed: countTrue(stale)}
	var out []facetCount
	for i, c := range usable {
		if !stale[i] {
			next.cells = append(next.cells, c)
			out = append(out, c.facets...)
			use.Cached++
		}
	}
	var misses int
	for _, sp := range append(spans, again...) {
		for slot := slotOf(sp[0]); slot.Before(sp[1]); slot = slot.Add(RollupSlot) {
			counts := fresh[slot.Unix()]
			out = append(out, counts...)
			use.Computed++
			end := slot.Add(RollupSlot)
			if slot.Before(from) || end.After(to) || end.After(now) {
				continue
			}
			next.cells = append(next.cells, cacheCell{start: slot, end: end, facets: counts})
			misses++
		}
	}
	s.cache.store(key, next, use, misses)
	plan.Cache = &use
	return out, nil
}

// facetSlots is the statement counting the asked fields' values per 15-minute slot
// over the spans (disjoint, within the window): (slot, field, value, n) rows, each
// kind's branch reading the rollups for the spans' whole slots and the rows for
// their partial ones. Nil when no kind has an asked field.
func (s *LogStore) facetSlots(ws uuid.UUID, f *model.LogFilter, asked []model.LogFacetField, spans [][2]time.Time) (*bun.SelectQuery, error) {
	var union *bun.SelectQuery
	for _, sp := range spans {
		for _, k := range logKinds(f) {
			branch, _, err := s.facetBranch(ws, k, f, sp[0], sp[1], asked, true)
			if err != nil {
				return nil, err
			}
			if branch == nil {
				continue
			}
			union = unionAll(union, branch)
		}
	}
	if union == nil {
		return nil, nil
	}
	return s.db.NewSelect().
		TableExpr("(?) AS b", union).
		Join("CROSS JOIN LATERAL unnest(b.fields) AS f(field)").
		ColumnExpr("b.slot, f.field, b.value, sum(b.n)::bigint AS n").
		Where("b.value IS NOT NULL").
		GroupExpr("b.slot, f.field, b.value"), nil
}

// rankFacets fills out (the asked fields' facets, at their index at) with the
// values of counts summed, the first most frequent of each field (count descending,
// then value in byte order, as the statement ranks them) and the others' total.
func rankFacets(out []model.Facet, at map[model.LogFacetField]int, counts []facetCount, first int) {
	type fv struct {
		field model.LogFacetField
		value string
	}
	sums := map[fv]int{}
	for _, c := range counts {
		sums[fv{c.field, c.value}] += c.n
	}
	per := map[model.LogFacetField][]model.FacetValue{}
	totals := map[model.LogFacetField]int{}
	for k, n := range sums {
		if n == 0 {
			continue
		}
		per[k.field] = append(per[k.field], model.FacetValue{Value: k.value, Count: n})
		totals[k.field] += n
	}
	for field, values := range per {
		i, ok := at[field]
		if !ok {
			continue
		}
		slices.SortFunc(values, func(a, b model.FacetValue) int {
			return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Value, b.Value))
		})
		values = values[:min(first, len(values))]
		other := totals[field]
		for _, v := range values {
			other -= v.Count
		}
		out[i].Values, out[i].OtherCount = values, other
	}
}
