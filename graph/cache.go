package graph

import (
	"container/list"
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/loggraph/loggraph/internal/reqctx"
)

// ByteCache is an LRU cache bounded by the bytes its entries cost rather than by
// their number: gqlgen's lru of 1000 entries held ~8.8 MB per 7 MB query, so its
// size in memory depended on what clients sent. Entries are added only for an
// authenticated request (the principal is in the context, see reqctx): nothing an
// anonymous client sends is retained. An entry costing more than the whole budget is
// not added. It is safe for concurrent use.
type ByteCache[T any] struct {
	budget int64
	cost   func(key string, value T) int64

	mu    sync.Mutex
	used  int64
	order *list.List // front: most recently used; values are *byteCacheEntry[T]
	items map[string]*list.Element
}

type byteCacheEntry[T any] struct {
	key   string
	value T
	cost  int64
}

var _ graphql.Cache[string] = (*ByteCache[string])(nil)

// NewByteCache returns a cache of at most budget bytes, each entry costing
// cost(key, value).
func NewByteCache[T any](budget int64, cost func(key string, value T) int64) *ByteCache[T] {
	return &ByteCache[T]{budget: budget, cost: cost, order: list.New(), items: map[string]*list.Element{}}
}

// Get returns the value cached under key, for any caller.
func (c *ByteCache[T]) Get(_ context.Context, key string) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.order.MoveToFront(el)
		return el.Value.(*byteCacheEntry[T]).value, true
	}
	var zero T
	return zero, false
}

// Add caches value under key if the request is authenticated and the entry fits the
// budget, evicting the least recently used entries to make room.
func (c *ByteCache[T]) Add(ctx context.Context, key string, value T) {
	if reqctx.Principal(ctx) == nil {
		return
	}
	cost := c.cost(key, value)
	if cost > c.budget {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		e := el.Value.(*byteCacheEntry[T])
		c.used += cost - e.cost
		e.value, e.cost = value, cost
		c.order.MoveToFront(el)
	} else {
		c.items[key] = c.order.PushFront(&byteCacheEntry[T]{key: key, value: value, cost: cost})
		c.used += cost
	}
	for c.used > c.budget {
		el := c.order.Back()
		e := el.Value.(*byteCacheEntry[T])
		c.order.Remove(el)
		delete(c.items, e.key)
		c.used -= e.cost
	}
}

// Len returns the number of entries.
func (c *ByteCache[T]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

// Bytes returns what the entries cost in all, never more than the budget.
func (c *ByteCache[T]) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// ParsedQueryBytesPerByte is what a parsed and validated query document costs in
// the heap per byte of its text, measured with TestParsedQueryCostFactor over
// field-heavy documents (the densest in AST nodes per byte); a long string argument
// costs far less per byte. The parsed-query cache charges each entry this much per
// byte, plus the text itself (the key).
const ParsedQueryBytesPerByte = 40

// entryOverhead is the bookkeeping of one cache entry (list element, map slot,
// headers), charged so that many tiny entries cannot exceed the budget either.
const entryOverhead = 200

func parsedQueryCost(key string, _ *ast.QueryDocument) int64 {
	return int64(len(key))*(1+ParsedQueryBytesPerByte) + entryOverhead
}

func persistedQueryCost(key string, value string) int64 {
	return int64(len(key)+len(value)) + entryOverhead
}

// QueryCache is the executor's parsed-query cache: a ByteCache of validated
// documents, and the hand-over of the document DocumentLimits parsed and validated
// for this very operation (kept in the operation context), so that a document is
// parsed and validated once even when it is not retained (an anonymous request, or
// one too big for the budget).
type QueryCache struct {
	*ByteCache[*ast.QueryDocument]
}

var _ graphql.Cache[*ast.QueryDocument] = QueryCache{}

// handOverKey names the hand-over in the operation context's stats.
const handOverKey = "loggraph.parsedQuery"

type handOver struct {
	query string
	doc   *ast.QueryDocument
}

// NewQueryCache returns a parsed-query cache of budget bytes.
func NewQueryCache(budget int64) QueryCache {
	return QueryCache{NewByteCache(budget, parsedQueryCost)}
}

// NewAPQCache returns an automatic-persisted-query cache of budget bytes.
func NewAPQCache(budget int64) *ByteCache[string] {
	return NewByteCache(budget, persistedQueryCost)
}

// handOver gives the executor the document parsed and validated from query, and
// caches it.
func (c QueryCache) handOver(ctx context.Context, query string, doc *ast.QueryDocument) {
	if !graphql.HasOperationContext(ctx) {
		return
	}
	graphql.GetOperationContext(ctx).Stats.SetExtension(handOverKey, &handOver{query: query, doc: doc})
	c.ByteCache.Add(ctx, query, doc)
}

// Get returns the document handed over for this operation, else the cached one.
func (c QueryCache) Get(ctx context.Context, query string) (*ast.QueryDocument, bool) {
	if graphql.HasOperationContext(ctx) {
		if h, ok := graphql.GetOperationContext(ctx).Stats.GetExtension(handOverKey).(*handOver); ok && h.query == query {
			return h.doc, true
		}
	}
	return c.ByteCache.Get(ctx, query)
}
