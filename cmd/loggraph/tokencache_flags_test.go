package main

import (
	"strings"
	"testing"

	"github.com/loggraph/loggraph/db/dbtest"
)

// TestServeTokenCacheFlags: a negative --token-cache-ttl or a --token-cache-size
// below 1 is a usage error, before anything is served.
func TestServeTokenCacheFlags(t *testing.T) {
	t.Parallel()
	u := dbtest.NewURL(t)
	for _, bad := range [][]string{{"--token-cache-ttl", "-1s"}, {"--token-cache-size", "0"}} {
		t.Run(strings.Join(bad, " "), func(t *testing.T) {
			_, err := cli(t, u, append([]string{"serve"}, bad...)...)
			if _, ok := err.(usageError); !ok {
				t.Fatalf("got %v, want a usage error", err)
			}
			if want := "--token-cache-ttl must be 0 (no cache) or a positive duration, e.g. 30s, and --token-cache-size at least 1"; !strings.Contains(err.Error(), want) {
				t.Fatalf("message %q", err)
			}
		})
	}
}
