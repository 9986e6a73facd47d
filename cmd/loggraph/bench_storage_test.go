package main

import (
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
