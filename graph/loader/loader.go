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

// batchWait lets belongs-to loads that the planner did not prefetch join one batch
// without adding noticeable latency.
const batchWait = 2 * time.Millisecond

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

	mu      sync.Mutex
	batches map[string]any   // per response path and arguments: a *childBatch of children pages or counts
	parents map[string][]any // per response path: the parents that will ask, as the planner announced them
}

// New makes the loaders of one operation in workspace ws.
func New(ws uuid.UUID, logs *db.LogStore, entities *db.EntityStore) *Loaders {
	l := &Loaders{ws: ws, logs: logs, entities: entities, batches: map[string]any{}, parents: map[string][]any{}, keyOf: map[any]any{}, primed: map[any]map[any]bool{}}
	l.Integration = byID(l, func(i *model.Integration) uuid.UUID { return i.ID })
	l.Job = byID(l, func(j *model.IntegrationJob) uuid.UUID { return j.ID })
	l.Collection = byID(l, func(c *model.APICollection) int64 { return c.ID })
	l.Client = byID(l, func(c *model.APIClient) int64 { return c.ID })
	l.APIReference = byID(l, func(r *model.APIReference) string { return r.ID })
	l.User = byID(l, func(u *model.TeamAccount) string { return u.ID })
	return l
}

// Announce tells the loaders which parents will ask for the children at response
// path path (list indexes left out): the first of them to ask loads the children of
// all of them in one statement, and the others find theirs loaded. Nobody waits for
// anybody, so the parents may ask in any order, one after the other or at once.
func (l *Loaders) Announce(path string, parents ...any) {
	l.mu.Lock()
	l.parents[path] = append(l.parents[path], parents...)
	l.mu.Unlock()
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

// childBatch is one statement's worth of children: the pages (or counts) of every
// announced parent at one response path with the same arguments, loaded once, by
// whichever parent asks first.
type childBatch[K comparable, V any] struct {
	once  sync.Once
	keys  []K // the announced parents, each once, in announcement order
	known map[K]bool
	res   map[K]V
	err   error
}

// children returns parent's value of the batch at path with args, loading the batch
// on first use. A parent that was not announced (a field the planner does not
// reach) is loaded on its own: correct, one statement for it.
func children[K comparable, V any](ctx context.Context, l *Loaders, path, args string, parent K,
	fetch func(context.Context, []K) (map[K]V, error)) (V, error) {
	l.mu.Lock()
	key := path + "\x00" + args
	b, _ := l.batches[key].(*childBatch[K, V])
	if b == nil {
		b = &childBatch[K, V]{known: map[K]bool{}}
		for _, p := range l.parents[path] {
			if k, ok := p.(K); ok && !b.known[k] {
				b.known[k] = true
				b.keys = append(b.keys, k)
			}
		}
		l.batches[key] = b
	}
	l.mu.Unlock()
	if !b.known[parent] {
		res, err := fetch(ctx, []K{parent})
		return res[parent], err
	}
	b.once.Do(func() { b.res, b.err = fetch(ctx, b.keys) })
	return b.res[parent], b.err
}

// childPage returns parent's page of the children at path with args. after sees the
// rows of every page a statement loaded, before any parent gets its page, to plan the
// next level.
func childPage[K comparable, T any](ctx context.Context, l *Loaders, path, args string, parent K,
	fetch func(context.Context, []K) (map[K]db.Paged[T], error), after func(context.Context, []T)) (db.Paged[T], error) {
	return children(ctx, l, path, args, parent, func(ctx context.Context, keys []K) (map[K]db.Paged[T], error) {
		pages, err := fetch(ctx, keys)
		if err == nil && after != nil {
			var visible []T
			for _, k := range keys {
				visible = append(visible, pages[k].Rows...)
			}
			after(ctx, visible)
		}
		return pages, err
	})
}

// childCount is childPage's sibling for totalCount of children.
func childCount[K comparable](ctx context.Context, l *Loaders, path, args string, parent K,
	fetch func(context.Context, []K) (map[string]int, error)) (int, error) {
	return children(ctx, l, path, args, parent, func(ctx context.Context, keys []K) (map[K]int, error) {
		counts, err := fetch(ctx, keys)
		out := make(map[K]int, len(keys))
		for _, k := range keys {
			out[k] = counts[fmt.Sprint(k)]
		}
		return out, err
	})
}
