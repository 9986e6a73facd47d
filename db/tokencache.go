package db

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/loggraph/loggraph/model"
)

// Principal cache defaults (serve's --token-cache-ttl and --token-cache-size).
const (
	// DefaultTokenCacheTTL bounds how long a principal is reused without a lookup:
	// a revocation the servers do not hear about (a token revoked or deleted by hand
	// in SQL, without the NOTIFY) stops the token within this time.
	DefaultTokenCacheTTL = 30 * time.Second
	// DefaultTokenCacheSize is how many principals a server keeps (well under 1 KiB
	// each, entry and indexes): every token in use on a large fleet of clients.
	DefaultTokenCacheSize = 10_000
)

// TokenCacheOptions configure the principal cache of NewCachedTokenStore.
type TokenCacheOptions struct {
	// TTL is how long a looked-up principal is reused; zero or less: no cache.
	TTL time.Duration
	// Size is the most principals kept, the least recently used evicted first
	// (0: DefaultTokenCacheSize).
	Size int
	// Now is the cache's clock (nil: time.Now); tests move it.
	Now func() time.Time
}

// TokenCacheStats count the cache's answers since the store was made.
type TokenCacheStats struct {
	// Hits are lookups answered from the cache, with no statement.
	Hits uint64
	// Misses are lookups of a well-formed token that ran the statement while the
	// cache was on (an unknown or expired token, or one not seen yet).
	Misses uint64
	// Bypasses are lookups that ran the statement because the cache was off: the
	// revocation listener was not (yet, or no longer) listening.
	Bypasses uint64
	// Entries is how many principals are cached now.
	Entries int
	// On reports whether the cache answers now: its revocation listener listens.
	On bool
}

// cachedPrincipal is what a token's hash maps to.
type cachedPrincipal struct {
	p       model.Principal
	expires time.Time
}

// principalCache remembers the principals of successful lookups by the SHA-256 of
// the token's text (never the text). It answers only while a RevocationListener
// listens for the store (listening), since a revocation it does not hear about
// would otherwise go unnoticed for up to the TTL; the listener forgets each revoked
// token and flushes everything when it (re)connects. A lookup that ran while a
// revocation or a flush happened does not fill the cache: it may have read the row
// before the revocation committed (epoch).
type principalCache struct {
	ttl                    time.Duration
	now                    func() time.Time
	hits, misses, bypasses atomic.Uint64

	mu        sync.Mutex
	listening bool
	epoch     uint64 // incremented by every forget, flush and change of listening
	lru       *simplelru.LRU[[32]byte, cachedPrincipal]
	byID      map[uuid.UUID][32]byte // the hash of each cached token id
}

func newPrincipalCache(opts TokenCacheOptions) *principalCache {
	if opts.TTL <= 0 {
		return nil
	}
	if opts.Size <= 0 {
		opts.Size = DefaultTokenCacheSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &principalCache{ttl: opts.TTL, now: opts.Now, byID: map[uuid.UUID][32]byte{}}
	// NewLRU fails only on a size below 1.
	c.lru, _ = simplelru.NewLRU(opts.Size, func(_ [32]byte, v cachedPrincipal) { delete(c.byID, v.p.TokenID) })
	return c
}

// get returns the cached principal of hash, or else the ticket a lookup's result
// must show to fill the cache (fill is false when the cache is off: no listener).
func (c *principalCache) get(hash [32]byte) (p *model.Principal, ticket uint64, fill bool) {
	if c == nil {
		return nil, 0, false
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.listening {
		c.bypasses.Add(1)
		return nil, 0, false
	}
	if e, ok := c.lru.Get(hash); ok {
		if now.Before(e.expires) {
			c.hits.Add(1)
			cp := e.p // callers get their own copy
			return &cp, 0, false
		}
		c.lru.Remove(hash)
	}
	c.misses.Add(1)
	return nil, c.epoch, true
}

// put caches p under hash, unless the cache was flushed, turned off or told of a
// revocation since get handed out ticket.
func (c *principalCache) put(hash [32]byte, ticket uint64, p *model.Principal) {
	expires := c.now().Add(c.ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.listening || c.epoch != ticket {
		return
	}
	c.lru.Add(hash, cachedPrincipal{p: *p, expires: expires})
	c.byID[p.TokenID] = hash
}

// forget drops token id (revoked).
func (c *principalCache) forget(id uuid.UUID) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	if h, ok := c.byID[id]; ok {
		c.lru.Remove(h) // the eviction callback deletes byID's entry
	}
}

// setListening flushes the cache and turns it on (the listener's LISTEN is in
// effect: it hears every revocation from now on; those it missed are flushed) or
// off (the listener lost its connection).
func (c *principalCache) setListening(on bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	c.listening = on
	c.lru.Purge()
}

func (c *principalCache) stats() TokenCacheStats {
	if c == nil {
		return TokenCacheStats{}
	}
	c.mu.Lock()
	n, on := c.lru.Len(), c.listening
	c.mu.Unlock()
	return TokenCacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Bypasses: c.bypasses.Load(), Entries: n, On: on}
}
