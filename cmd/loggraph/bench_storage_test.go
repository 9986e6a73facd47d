package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/loggraph/loggraph/db/dbtest"
)

// TestBenchStorage: bench storage seeds a database without logs and prints bytes per
// row per kind against raw NDJSON; a database holding logs is refused, untouched.
func TestBenchStorage(t *testing.T) {
	t.Parallel()
	u := dbtest.NewURL(t)
	out := mustCLI(t, u, "bench", "storage", "--storage-rows", "500", "--storage-database-url", u)
	for _, want := range []string{
		"| kind | rows | raw NDJSON B/row | heap B/row | indexes B/row | total B/row | total / raw |\n",
		"| app | 200 | ", "| api-request | 150 | ", "| integration | 75 | ", "| action | 50 | ", "| api-reference | 25 | ",
		"| app | app_logs_list_idx | ", "| app | app_logs_message_trgm_idx | ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	_, err := cli(t, u, "bench", "storage", "--storage-rows", "500", "--storage-database-url", u)
	if err == nil || err.Error() != "bench storage measures whole tables and needs a database without logs; app_logs holds 200 rows (drop the database, or give another --storage-database-url)" {
		t.Fatalf("second run: %v", err)
	}
}

// TestBenchAnalytics: bench analytics (without ClickHouse) seeds its workspace,
// times every question on both servers, then the histograms' dashboard refresh on a
// server with the closed-bucket cache, each refresh checked equal to the uncached
// answer (a difference fails the command), and the cache used by the last refresh.
func TestBenchAnalytics(t *testing.T) {
	t.Parallel()
	u := dbtest.NewURL(t)
	out := mustCLI(t, u, "bench", "analytics", "--analytics-rows", "2000", "--requests", "2", "--bench-database-url", u)
	for _, want := range []string{
		"| logHistogram, 30 days, 1 d buckets, Europe/Berlin | ", "| apiRequestStats by ENDPOINT, 7 days, ordered by p95 | ",
		"| logPatterns, 24 h (first 20) | ",
		"| query | refresh p50 | p95 | buckets cached / computed (last refresh) |\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The 30-day refresh takes its closed days from the cache: 29 or 30 of its 31
	// Berlin days (the partial first and the open last one computed).
	if !regexp.MustCompile(`\| logHistogram, 30 days, 1 d buckets, Europe/Berlin \| [0-9.]+ \| [0-9.]+ \| (29|30) / [12] \|`).MatchString(out) {
		t.Errorf("the 30-day refresh did not use the cache:\n%s", out)
	}
}
