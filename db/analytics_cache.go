package db

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// The analytics cache keeps the closed buckets of analytics per workspace and
// normalized filter, so that a dashboard's refresh recomputes only the buckets still
// open (the window's partial first and last ones) and those whose logs changed.
//
// "Closed" buckets do change: ingest accepts late logs with old times, deletes and
// retention remove rows, and several servers share one database. So every statement
// that changes the logs of a window also inserts, in its own transaction, a row into
// analytics_changes: its workspace (the nil uuid for every workspace), the span of log
// times it touched and its transaction id (changeSQL). A cache entry keeps the
// snapshot (pg_current_snapshot) of the statement that read its buckets; the next
// read of the entry lists, in the same statement that computes the open buckets, the
// cached buckets overlapping a change that snapshot did not see
// (pg_visible_in_snapshot), and recomputes those. A batch acknowledged by any server
// before a read started is committed, so visible to that read's statement: its change
// is listed, and no answer is ever stale. A cached bucket is reused only with its
// entry's snapshot checkable: analytics_changes_pruned.pruned_below (raised by
// PruneAnalyticsChanges) not above the snapshot's xmin.
//
// Entries are keyed by analytic, workspace, the filter without its window, and the
// bucket cut (interval, time zone); a bucket is keyed by its start. The cache is in
// process and bounded by its buckets (least recently used entries go first).

// changeSQL starts the insert of a row of the change log (the columns workspace_id,
// first_at, last_at: the span of log times touched, both ends included).
const changeSQL = "INSERT INTO analytics_changes (workspace_id, first_at, last_at)"

// DefaultAnalyticsCacheBuckets is how many buckets the analytics cache keeps (serve's
// --analytics-cache-buckets): about 100 bytes each, entry overhead included, so
// about 20 MB.
const DefaultAnalyticsCacheBuckets = 200_000

// DefaultAnalyticsChangesAge is how long a change row is kept (PruneAnalyticsChanges):
// a cached entry whose snapshot is older than the oldest row pruned is recomputed.
const DefaultAnalyticsChangesAge = time.Hour

// AnalyticsCacheOptions configure NewAnalyticsCache.
type AnalyticsCacheOptions struct {
	// MaxBuckets bounds the buckets kept over every entry (0: DefaultAnalyticsCacheBuckets).
	MaxBuckets int
}

// AnalyticsCacheStats count the cache's work since it was made.
type AnalyticsCacheStats struct {
	// Hits are closed buckets answered from the cache.
	Hits uint64
	// Misses are closed buckets computed because they were not cached.
	Misses uint64
	// Changed are cached buckets recomputed because their logs changed (or their
	// entry's snapshot could no longer be checked).
	Changed uint64
	// Evicted are buckets dropped to keep within MaxBuckets.
	Evicted uint64
	// Entries and Buckets are what the cache holds now.
	Entries, Buckets int
}

// AnalyticsCache is the in-process cache of closed analytics buckets, shared by the
// stores made with LogStore.WithAnalyticsCache. Safe for concurrent use.
type AnalyticsCache struct {
	max                            int
	hits, misses, changed, evicted atomic.Uint64

	mu      sync.Mutex
	lru     *simplelru.LRU[string, *cacheEntry]
	buckets int // over every entry
}

// cacheEntry is one analytic's closed buckets, all exact as of snapshot (or later:
// a change after it is listed by the next read).
type cacheEntry struct {
	snapshot string // pg_snapshot text, xmin:xmax:xip,...
	xmin     int64
	cells    []cacheCell // by start
}

// cacheCell is one closed bucket: the logs of [start, end) and their counts per
// severity (ascending, histograms), per facet value (facets) or per group
// (apiRequestStats).
type cacheCell struct {
	start, end time.Time
	counts     []int
	facets     []facetCount
	// requests are apiRequestStats' compacted request_rollups rows of the cell (a
	// UTC day, hour or slot).
	requests []requestStatsRow
	// patterns are logPatterns' (template, severity) sums of the cell (a UTC hour).
	patterns []patternPart
}

// size is what e counts for in the cache's bound: a bucket each cell, and a bucket
// for every four facet values (each about a quarter of a histogram bucket).
func (e *cacheEntry) size() int {
	n := len(e.cells)
	for _, c := range e.cells {
		n += len(c.facets) / 4
		for _, r := range c.requests { // about 16 bytes a histogram entry
			n += 1 + (len(r.TimingB)+len(r.DelayB))/6
		}
		n += len(c.patterns) // a template's sums and strings: about a bucket each
	}
	return n
}

// NewAnalyticsCache returns an empty cache.
func NewAnalyticsCache(opts AnalyticsCacheOptions) *AnalyticsCache {
	if opts.MaxBuckets <= 0 {
		opts.MaxBuckets = DefaultAnalyticsCacheBuckets
	}
	c := &AnalyticsCache{max: opts.MaxBuckets}
	// Bounded by buckets (put), not entries: each entry holds at least one.
	c.lru, _ = simplelru.NewLRU(opts.MaxBuckets, func(_ string, e *cacheEntry) { c.buckets -= e.size() })
	return c
}

// WithAnalyticsCache returns a reader of the same database whose histograms keep
// their closed buckets in c (nil: none).
func (s *LogStore) WithAnalyticsCache(c *AnalyticsCache) *LogStore {
	cp := *s
	cp.cache = c
	return &cp
}

// Stats returns the cache's counters.
func (c *AnalyticsCache) Stats() AnalyticsCacheStats {
	if c == nil {
		return AnalyticsCacheStats{}
	}
	c.mu.Lock()
	n, b := c.lru.Len(), c.buckets
	c.mu.Unlock()
	return AnalyticsCacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Changed: c.changed.Load(),
		Evicted: c.evicted.Load(), Entries: n, Buckets: b}
}

// get returns key's entry (shared: callers only read it), or nil.
func (c *AnalyticsCache) get(key string) *cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, _ := c.lru.Get(key)
	return e
}

// put replaces key's entry with e (none when e holds no bucket), then evicts the
// least recently used entries until the buckets fit (e itself when it alone is too
// big).
func (c *AnalyticsCache) put(key string, e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Remove(key)
	if len(e.cells) == 0 {
		return
	}
	c.lru.Add(key, e)
	c.buckets += e.size()
	for c.buckets > c.max {
		_, old, ok := c.lru.RemoveOldest()
		if !ok {
			break
		}
		c.evicted.Add(uint64(old.size()))
	}
}

// store counts an answer's use of the cache (misses: the cells it computed that it
// could keep, changed ones included) and replaces key's entry with next, its cells
// sorted by start.
func (c *AnalyticsCache) store(key string, next *cacheEntry, use AnalyticsCacheUse, misses int) {
	slices.SortFunc(next.cells, func(a, b cacheCell) int { return a.start.Compare(b.start) })
	c.hits.Add(uint64(use.Cached))
	c.changed.Add(uint64(use.Changed))
	c.misses.Add(uint64(max(0, misses-use.Changed)))
	c.put(key, next)
}

// analyticsKey names an analytic's cache entry: the analytic, the workspace, every
// set field of filter (a filter struct) but its window, normalized (lists sorted and
// deduplicated, an empty search unset), and the bucket cut (cut).
func analyticsKey(query string, ws uuid.UUID, filter any, cut string) string {
	var b strings.Builder
	b.WriteString(query + "|" + ws.String() + "|" + cut)
	v := reflect.ValueOf(filter)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return b.String()
		}
		v = v.Elem()
	}
	t := v.Type()
	for i := range t.NumField() {
		name, fv := t.Field(i).Name, v.Field(i)
		if name == "Time" || !isSet(fv) {
			continue
		}
		b.WriteString("|" + name + "=")
		switch fv.Kind() {
		case reflect.Slice:
			vals := make([]string, fv.Len())
			for j := range vals {
				vals[j] = fmt.Sprint(fv.Index(j).Interface())
			}
			slices.Sort(vals)
			for _, s := range slices.Compact(vals) {
				b.WriteString(strconv.Quote(s) + ",")
			}
		case reflect.Pointer:
			b.WriteString(strconv.Quote(fmt.Sprint(fv.Elem().Interface())))
		default: // maps (details): JSON sorts their keys
			j, _ := json.Marshal(fv.Interface())
			b.Write(j)
		}
	}
	return b.String()
}

// snapshotXmin is the xmin of a pg_snapshot's text (xmin:xmax:xip,...).
func snapshotXmin(snap string) (int64, error) {
	x, _, _ := strings.Cut(snap, ":")
	return strconv.ParseInt(x, 10, 64)
}

// PruneAnalyticsChanges deletes the change rows older than age whose transactions
// every snapshot from now on sees (below the current snapshot's xmin), and raises the
// pruned horizon past them: an entry whose snapshot's xmin is below the horizon may
// have missed a pruned change, so its buckets are recomputed rather than trusted (an
// entry read since then has a snapshot at or past it). It returns the rows deleted.
func PruneAnalyticsChanges(ctx context.Context, d *DB, age time.Duration) (int64, error) {
	var n int64
	err := d.Pool.QueryRow(ctx, `
		WITH gone AS (
			DELETE FROM analytics_changes WHERE at < now() - $1 * interval '1 microsecond'
				AND xid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
			RETURNING xid
		), raised AS (
			INSERT INTO analytics_changes_pruned (pruned_below) SELECT max(xid) + 1 FROM gone HAVING count(*) > 0
			ON CONFLICT (one) DO UPDATE SET pruned_below = greatest(analytics_changes_pruned.pruned_below, excluded.pruned_below)
		)
		SELECT count(*) FROM gone`, age.Microseconds()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("prune analytics changes: %w", err)
	}
	return n, nil
}
