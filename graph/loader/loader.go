// Package loader batches the GraphQL layer's reads: belongs-to relations by id and
// paginated children for all parents at once. Loaders are made fresh for each
// operation and each subscription event, so no cache outlives one response.
package loader

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/graph-gophers/dataloader/v7"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// batchWait lets loads that nobody announced (see Expect) join one batch without
// adding noticeable latency.
const batchWait = 2 * time.Millisecond

// ExpectedWait is the fallback of an announced batch, which normally fires as soon
// as the last announced parent asks (a variable so that tests can make a wrong
// announcement impossible to miss).
var ExpectedWait = 100 * time.Millisecond

// maxBatch bounds the keys of one statement (a page holds at most 1000 items).
const maxBatch = 1000

// Loaders are one operation's loaders.
type Loaders struct {
	ws       uuid.UUID
	logs     *db.LogStore
	entities *db.EntityStore

	Integration  *dataloader.Loader[uuid.UUID, *model.Integration]
	Job          *dataloader.Loader[uuid.UUID, *model.IntegrationJob]
	Collection   *dataloader.Loader[int64, *model.APICollection]
	Client       *dataloader.Loader[int64, *model.APIClient]
	APIReference *dataloader.Loader[string, *model.APIReference]
	User         *dataloader.Loader[string, *model.TeamAccount]

	keyOf  map[any]any          // belongs-to loader -> func(*T) K
	primed map[any]map[any]bool // belongs-to loader -> keys already in its cache

	mu     sync.Mutex
	pages  map[string]any // per response path and arguments: a loader of children pages
	expect map[string]int // per response path: how many parents will ask
}

// New makes the loaders of one operation in workspace ws.
func New(ws uuid.UUID, logs *db.LogStore, entities *db.EntityStore) *Loaders {
	l := &Loaders{ws: ws, logs: logs, entities: entities, pages: map[string]any{}, expect: map[string]int{}, keyOf: map[any]any{}, primed: map[any]map[any]bool{}}
	l.Integration = byID(l, func(i *model.Integration) uuid.UUID { return i.ID })
	l.Job = byID(l, func(j *model.IntegrationJob) uuid.UUID { return j.ID })
	l.Collection = byID(l, func(c *model.APICollection) int64 { return c.ID })
	l.Client = byID(l, func(c *model.APIClient) int64 { return c.ID })
	l.APIReference = byID(l, func(r *model.APIReference) string { return r.ID })
	l.User = byID(l, func(u *model.TeamAccount) string { return u.ID })
	return l
}

// Expect announces that n more parents will load the children at response path
// path (list indexes left out): their loader then fires when the n-th asks.
func (l *Loaders) Expect(path string, n int) {
	l.mu.Lock()
	l.expect[path] += n
	l.mu.Unlock()
}

// options sizes a children loader by the parents announced for its path.
func (l *Loaders) options(path string) (wait time.Duration, capacity int) {
	if n := l.expect[path]; n > 0 {
		return ExpectedWait, min(n, maxBatch)
	}
	return batchWait, maxBatch
}

func childOptions[K comparable, V any](wait time.Duration, capacity int) []dataloader.Option[K, V] {
	return []dataloader.Option[K, V]{
		dataloader.WithWait[K, V](wait),
		dataloader.WithBatchCapacity[K, V](capacity),
		dataloader.WithCache[K, V](&dataloader.NoCache[K, V]{}),
	}
}

// byID makes a belongs-to loader: one statement per batch, results in key order,
// nil for an id the workspace does not have.
func byID[K comparable, T any](l *Loaders, key func(*T) K) *dataloader.Loader[K, *T] {
	batch := func(ctx context.Context, keys []K) []*dataloader.Result[*T] {
		byKey, err := db.ByID(ctx, l.entities, l.ws, keys, key)
		out := make([]*dataloader.Result[*T], len(keys))
		for i, k := range keys {
			out[i] = &dataloader.Result[*T]{Data: byKey[k], Error: err}
		}
		return out
	}
	// A per-operation cache: the same id asked twice in one response loads once.
	opts := []dataloader.Option[K, *T]{dataloader.WithWait[K, *T](batchWait), dataloader.WithBatchCapacity[K, *T](maxBatch)}
	ld := dataloader.NewBatchedLoader(batch, opts...)
	l.keyOf[ld] = key
	return ld
}

// Prefetch loads the keys of a belongs-to loader in one statement and primes its
// cache, so that the resolvers asking next find them there. It returns what it
// loaded, by key (missing keys map to nil).
func Prefetch[K comparable, T any](ctx context.Context, l *Loaders, ld *dataloader.Loader[K, *T], keys []K) (map[K]*T, error) {
	key, ok := l.keyOf[ld].(func(*T) K)
	if !ok {
		return nil, fmt.Errorf("loader: %T is not a belongs-to loader of these Loaders", ld)
	}
	out := make(map[K]*T, len(keys))
	l.mu.Lock()
	done := l.primed[ld]
	if done == nil {
		done = map[any]bool{}
		l.primed[ld] = done
	}
	var missing, hits []K
	for _, k := range keys {
		if done[k] {
			hits = append(hits, k)
		} else {
			missing = append(missing, k)
		}
	}
	l.mu.Unlock()
	for _, k := range hits {
		out[k], _ = ld.Load(ctx, k)() // a cache hit
	}
	if len(missing) == 0 {
		return out, nil
	}
	loaded, err := db.ByID(ctx, l.entities, l.ws, missing, key)
	if err != nil {
		return nil, err
	}
	maps.Copy(out, loaded)
	l.mu.Lock()
	for _, k := range missing {
		ld.Prime(ctx, k, out[k])
		done[k] = true
	}
	l.mu.Unlock()
	return out, nil
}

type ctxKey struct{}

// With returns ctx carrying the loaders.
func With(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// For returns the loaders of ctx's operation.
func For(ctx context.Context) *Loaders {
	l, _ := ctx.Value(ctxKey{}).(*Loaders)
	if l == nil {
		panic("loader: no loaders in context (install them with AroundResponses)")
	}
	return l
}

// pageLoader returns the loader of children pages at one response path with given
// arguments, making it on first use: every parent asking joins its batch. fetch
// returns each parent's page; after sees every batch's rows that the pages will
// show before the parents get them, to plan the next level.
func pageLoader[K comparable, T any](l *Loaders, path, args string, fetch func(context.Context, []K) (map[K]db.Paged[T], error),
	after func(context.Context, []T)) *dataloader.Loader[K, db.Paged[T]] {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := path + "\x00" + args
	if existing, ok := l.pages[key].(*dataloader.Loader[K, db.Paged[T]]); ok {
		return existing
	}
	batch := func(ctx context.Context, keys []K) []*dataloader.Result[db.Paged[T]] {
		pages, err := fetch(ctx, keys)
		if err == nil && after != nil {
			var visible []T
			seen := make(map[K]bool, len(keys))
			for _, k := range keys {
				if !seen[k] {
					seen[k] = true
					visible = append(visible, pages[k].Rows...)
				}
			}
			after(ctx, visible)
		}
		out := make([]*dataloader.Result[db.Paged[T]], len(keys))
		for i, k := range keys {
			out[i] = &dataloader.Result[db.Paged[T]]{Data: pages[k], Error: err}
		}
		return out
	}
	ld := dataloader.NewBatchedLoader(batch, childOptions[K, db.Paged[T]](l.options(path))...)
	l.pages[key] = ld
	return ld
}

// countLoader is pageLoader's sibling for totalCount of children.
func countLoader[K comparable](l *Loaders, path, args string, fetch func(context.Context, []K) (map[string]int, error)) *dataloader.Loader[K, int] {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := path + "\x00" + args
	if existing, ok := l.pages[key].(*dataloader.Loader[K, int]); ok {
		return existing
	}
	batch := func(ctx context.Context, keys []K) []*dataloader.Result[int] {
		counts, err := fetch(ctx, keys)
		out := make([]*dataloader.Result[int], len(keys))
		for i, k := range keys {
			out[i] = &dataloader.Result[int]{Data: counts[fmt.Sprint(k)], Error: err}
		}
		return out
	}
	ld := dataloader.NewBatchedLoader(batch, childOptions[K, int](l.options(path))...)
	l.pages[key] = ld
	return ld
}
