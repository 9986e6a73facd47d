package graph_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/model"
)

// BenchmarkNestedQuery: issue 10's q3, integrations(first 20) -> jobs(first 5) ->
// logs(first 5), through the whole HTTP handler (no network) over a seeded
// workspace, one client. Allocations per request are the stable figure on a shared
// machine (`-benchmem`); time per request includes PostgreSQL's.
func BenchmarkNestedQuery(b *testing.B) {
	e := testserver.NewEnv(b, testserver.Options{})
	if _, err := db.Seed(context.Background(), e.DB, db.NewPartitions(e.DB), e.WS, db.SeedOptions{Rows: 20000, Days: 2}); err != nil {
		b.Fatal(err)
	}
	const q = `{"query":"{ integrations(first: 20) { nodes { id name jobs(first: 5) { nodes { id logs(first: 5) { nodes { id createdAt statusCode } } } } } } }"}`
	h, auth := e.Srv.Config.Handler, "Bearer "+e.Tokens[model.RoleRead]
	do := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(q))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	if w := do(); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"statusCode"`) || strings.Contains(w.Body.String(), `"errors"`) {
		b.Fatalf("%d %s", w.Code, w.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if w := do(); w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}
