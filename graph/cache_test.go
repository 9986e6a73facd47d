package graph_test

import (
	"context"
	"testing"

	"github.com/loggraph/loggraph/graph"
	"github.com/loggraph/loggraph/internal/reqctx"
	"github.com/loggraph/loggraph/model"
)

// TestByteCache: entries cost their bytes; the least recently used go first when
// the budget is exceeded; an entry over the whole budget and anything added without
// a principal are not retained.
func TestByteCache(t *testing.T) {
	c := graph.NewByteCache(1000, func(k, v string) int64 { return int64(len(k) + len(v)) })
	anon := context.Background()
	authed := reqctx.WithPrincipal(anon, &model.Principal{Role: model.RoleRead})
	c.Add(anon, "a", string(make([]byte, 99)))
	if c.Len() != 0 || c.Bytes() != 0 {
		t.Fatalf("anonymous entry retained: %d entries, %d bytes", c.Len(), c.Bytes())
	}
	for _, k := range []string{"a", "b", "c"} {
		c.Add(authed, k, string(make([]byte, 299)))
	}
	if c.Len() != 3 || c.Bytes() != 900 {
		t.Fatalf("%d entries, %d bytes; want 3, 900", c.Len(), c.Bytes())
	}
	if _, ok := c.Get(anon, "a"); !ok { // a is now the most recently used
		t.Fatal("a is missing")
	}
	c.Add(authed, "d", string(make([]byte, 299)))
	if _, ok := c.Get(anon, "b"); ok {
		t.Fatal("b, the least recently used, was kept")
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, ok := c.Get(anon, k); !ok {
			t.Fatalf("%s is missing", k)
		}
	}
	c.Add(authed, "e", string(make([]byte, 1000)))
	if _, ok := c.Get(anon, "e"); ok || c.Bytes() != 900 {
		t.Fatalf("an entry over the budget was cached: %d bytes", c.Bytes())
	}
}
