package graph_test

import (
	"encoding/json"
	"testing"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/model"
)

// TestHistogramCacheAcrossServers: with the analytics cache on, a refresh answers
// the closed buckets from the cache and says so in extensions.stats.analytics; a
// late log ingested through a second server (its own cache) into a cached bucket is
// counted by the next answer of the first, which says it recomputed that bucket.
func TestHistogramCacheAcrossServers(t *testing.T) {
	t.Parallel()
	on := &db.AnalyticsCacheOptions{}
	e := testserver.NewEnv(t, testserver.Options{AnalyticsCache: on})
	peer := e.Peer(t, testserver.Options{AnalyticsCache: on})
	hfIngest(t, e, e.Tokens[model.RoleIngest], hfData())
	query := `{ logHistogram(filter: {time: {from: "2024-06-13T12:00:00Z", to: "2024-06-13T13:00:00Z"}}, interval: "15m") { buckets { start count } } }`
	type answer struct {
		Errors []any `json:"errors"`
		Data   struct {
			LogHistogram struct {
				Buckets []struct {
					Start string `json:"start"`
					Count int    `json:"count"`
				} `json:"buckets"`
			} `json:"logHistogram"`
		} `json:"data"`
		Extensions struct {
			Stats struct {
				SQLStatements int             `json:"sqlStatements"`
				Analytics     json.RawMessage `json:"analytics"`
			} `json:"stats"`
		} `json:"extensions"`
	}
	ask := func(env *testserver.Env) answer {
		t.Helper()
		var r answer
		env.GraphQL(e.Tokens[model.RoleRead], query, nil, &r)
		if len(r.Errors) > 0 {
			t.Fatal(r.Errors)
		}
		return r
	}
	counts := func(r answer) []int {
		var out []int
		for _, b := range r.Data.LogHistogram.Buckets {
			out = append(out, b.Count)
		}
		return out
	}
	first := ask(e)
	if got := string(first.Extensions.Stats.Analytics); got !=
		`[{"query":"histogram","rollup":true,"cache":{"cachedBuckets":0,"changedBuckets":0,"computedBuckets":4}}]` {
		t.Fatalf("first answer's analytics: %s", got)
	}
	again := ask(e)
	if got := string(again.Extensions.Stats.Analytics); got !=
		`[{"query":"histogram","rollup":true,"cache":{"cachedBuckets":4,"changedBuckets":0,"computedBuckets":0}}]` {
		t.Fatalf("refresh's analytics: %s", got)
	}
	if again.Extensions.Stats.SQLStatements != 1 || fmtInts(counts(again)) != fmtInts(counts(first)) {
		t.Fatalf("refresh: %d statements, counts %v, first %v", again.Extensions.Stats.SQLStatements, counts(again), counts(first))
	}
	// A late log in the second bucket, through the other server.
	late := hfApp(hfTime("2024-06-13T12:20:00Z"), "ERROR", "auth")
	hfIngest(t, peer, e.Tokens[model.RoleIngest], []hfRec{late})
	after := ask(e)
	if got := string(after.Extensions.Stats.Analytics); got !=
		`[{"query":"histogram","rollup":true,"cache":{"cachedBuckets":3,"changedBuckets":1,"computedBuckets":1}}]` {
		t.Fatalf("analytics after the late log: %s", got)
	}
	want := counts(first)
	want[1]++
	if fmtInts(counts(after)) != fmtInts(want) {
		t.Fatalf("after the late log: %v, want %v", counts(after), want)
	}
}

func fmtInts(v []int) string { b, _ := json.Marshal(v); return string(b) }
