package graph_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/internal/testwait"
	"github.com/loggraph/loggraph/model"
)

// BenchmarkAuthenticatedTypename: `{ __typename }` with a read token through the
// whole HTTP handler (no network), the token looked up on every request or
// answered from the principal cache, 4 clients per core. The ratio is what the
// cache saves per request.
func BenchmarkAuthenticatedTypename(b *testing.B) {
	for _, c := range []struct {
		name  string
		cache db.TokenCacheOptions
	}{
		{"lookup", db.TokenCacheOptions{TTL: -1}},
		{"cached", db.TokenCacheOptions{}}, // serve's default
	} {
		b.Run(c.name, func(b *testing.B) {
			e := testserver.NewEnv(b, testserver.Options{TokenCache: c.cache, DB: db.Options{SystemConns: db.DefaultSystemConns}})
			if c.cache.TTL >= 0 {
				testwait.Until(b, "the token cache to turn on", func() bool { return e.Store.CacheStats().On })
			}
			h, auth := e.Srv.Config.Handler, "Bearer "+e.Tokens[model.RoleRead]
			b.SetParallelism(4) // 8 clients on 2 cores, as the issue measures
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", auth)
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Errorf("%d %s", w.Code, w.Body)
						return
					}
				}
			})
		})
	}
}
