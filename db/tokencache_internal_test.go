package db

import (
	"testing"

	"github.com/google/uuid"

	"github.com/loggraph/loggraph/model"
)

// TestPrincipalCacheStaleFill: a lookup that was under way when a revocation was
// heard, or when the listener went down or came back, may have read the token
// before the change: its result does not fill the cache.
func TestPrincipalCacheStaleFill(t *testing.T) {
	p := &model.Principal{TokenID: uuid.New(), Role: model.RoleRead}
	hash := [32]byte{1}
	for _, c := range []struct {
		name   string
		during func(c *principalCache)
		cached bool
	}{
		{"nothing happened", func(*principalCache) {}, true},
		{"this token revoked", func(c *principalCache) { c.forget(p.TokenID) }, false},
		{"another token revoked", func(c *principalCache) { c.forget(uuid.New()) }, false},
		{"listener down", func(c *principalCache) { c.setListening(false) }, false},
		{"listener down and up", func(c *principalCache) { c.setListening(false); c.setListening(true) }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			pc := newPrincipalCache(TokenCacheOptions{TTL: 1 << 40})
			pc.setListening(true)
			got, ticket, fill := pc.get(hash)
			if got != nil || !fill {
				t.Fatalf("an empty cache answered %v, fill %v", got, fill)
			}
			c.during(pc)
			pc.put(hash, ticket, p)
			if n := pc.stats().Entries; (n == 1) != c.cached {
				t.Fatalf("%d entries; want it cached: %v", n, c.cached)
			}
		})
	}
}

// TestPrincipalCacheForgetsByID: forgetting a token id drops its entry, and only
// it, whatever the entries' order.
func TestPrincipalCacheForgetsByID(t *testing.T) {
	pc := newPrincipalCache(TokenCacheOptions{TTL: 1 << 40})
	pc.setListening(true)
	ids := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	for i, id := range ids {
		_, ticket, _ := pc.get([32]byte{byte(i)})
		pc.put([32]byte{byte(i)}, ticket, &model.Principal{TokenID: id})
	}
	pc.forget(ids[1])
	for i, id := range ids {
		got, _, _ := pc.get([32]byte{byte(i)})
		if (got != nil) != (i != 1) || (got != nil && got.TokenID != id) {
			t.Fatalf("entry %d: %+v", i, got)
		}
	}
	if len(pc.byID) != 2 {
		t.Fatalf("index %v", pc.byID)
	}
}
