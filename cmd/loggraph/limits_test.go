package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loggraph/loggraph/internal/limits"
	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/model"
)

// cells rewrites a table's column gaps as " | ", so assertions do not depend on widths.
func cells(out string) string { return regexp.MustCompile(` {2,}`).ReplaceAllString(out, " | ") }

const oneApp = `{"timestamp":"2024-06-13T14:30:00Z","level":"INFO","service":"s","message":"m"}`

func TestWorkspaceLimitsOverridesReachARunningServer(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	e := testserver.NewEnv(t, testserver.Options{RateLimits: &limits.Config{
		Workspace: limits.Values{RequestsPerSecond: 1}, Burst: 2 * time.Second, // bursts of 2; the clock moves only when told
		Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
	}})
	tok := e.Tokens[model.RoleIngest]
	ingest := func() int {
		resp, _ := e.Ingest("app", tok, oneApp)
		return resp.StatusCode
	}
	for i := 0; i < 2; i++ {
		if got := ingest(); got != http.StatusOK {
			t.Fatalf("request %d: %d", i, got)
		}
	}
	if got := ingest(); got != http.StatusTooManyRequests {
		t.Fatalf("over the default: %d", got)
	}

	out := mustCLI(t, e.DB.URL, "workspace", "limits", "acme", "--requests-per-second", "50", "--ingest-concurrent-bytes", "64MiB")
	want := "updated the limits of workspace acme; running servers apply them within 10s (--limits-reload-interval)\n" +
		"LIMIT | EFFECTIVE | OVERRIDE | DEFAULT\n" +
		"requests-per-second | 50 | 50 | 100\n" +
		"ingest-rows-per-second | 25000 | - | 25000\n" +
		"ingest-bytes-per-second | 33554432 (32 MiB) | - | 33554432 (32 MiB)\n" +
		"ingest-concurrent-bytes | 67108864 (64 MiB) | 67108864 (64 MiB) | 134217728 (128 MiB)\n"
	if out = cells(out); out != want {
		t.Fatalf("set:\n%s\nwant:\n%s", out, want)
	}
	// The server applies overrides when it rereads them (every --limits-reload-interval;
	// here the test triggers it).
	if got := ingest(); got != http.StatusTooManyRequests {
		t.Fatalf("before the reload: %d", got)
	}
	if err := e.Limiter.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(time.Second) // one second at the new rate
	mu.Unlock()
	for i := 0; i < 50; i++ {
		if got := ingest(); got != http.StatusOK {
			t.Fatalf("request %d after the override: %d", i, got)
		}
	}
	if got := ingest(); got != http.StatusTooManyRequests {
		t.Fatalf("request 51 after the override: %d", got)
	}

	// Showing, going back to the default one at a time, unlimited, and --reset.
	if out := cells(mustCLI(t, e.DB.URL, "workspace", "limits", "acme")); !strings.HasPrefix(out, "LIMIT | ") ||
		!strings.Contains(out, "requests-per-second | 50 | 50 | 100\n") {
		t.Fatalf("show:\n%s", out)
	}
	out = cells(mustCLI(t, e.DB.URL, "workspace", "limits", "acme", "--requests-per-second", "default", "--ingest-rows-per-second", "unlimited"))
	if !strings.Contains(out, "requests-per-second | 100 | - | 100\n") ||
		!strings.Contains(out, "ingest-rows-per-second | unlimited | unlimited | 25000\n") ||
		!strings.Contains(out, "ingest-concurrent-bytes | 67108864 (64 MiB) | 67108864 (64 MiB) | 134217728 (128 MiB)\n") {
		t.Fatalf("default and unlimited:\n%s", out)
	}
	out = cells(mustCLI(t, e.DB.URL, "workspace", "limits", "acme", "--reset", "--ingest-bytes-per-second", "0"))
	if !strings.Contains(out, "requests-per-second | 100 | - | 100\n") ||
		!strings.Contains(out, "ingest-rows-per-second | 25000 | - | 25000\n") ||
		!strings.Contains(out, "ingest-bytes-per-second | unlimited | unlimited | 33554432 (32 MiB)\n") ||
		!strings.Contains(out, "ingest-concurrent-bytes | 134217728 (128 MiB) | - | 134217728 (128 MiB)\n") {
		t.Fatalf("reset:\n%s", out)
	}
	out = mustCLI(t, e.DB.URL, "workspace", "limits", "acme", "--ingest-bytes-per-second", "default")
	var rows int
	if err := e.DB.Pool.QueryRow(context.Background(), "SELECT count(*) FROM workspace_limits").Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("no override left, yet %d rows (%v):\n%s", rows, err, out)
	}
	if err := e.Limiter.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := e.Limiter.Effective(e.WS); got.RequestsPerSecond != 1 {
		t.Fatalf("after every override is gone: %+v", got)
	}

	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"workspace", "limits", "acme", "--requests-per-second", "-3"},
			`--requests-per-second: "-3" is not a positive whole number, 0, unlimited or default`},
		{[]string{"workspace", "limits", "acme", "--ingest-bytes-per-second", "12 parsecs"},
			`--ingest-bytes-per-second: "12 parsecs" is not a positive whole number (optionally ending in KiB, MiB or GiB), 0, unlimited or default`},
		{[]string{"workspace", "limits", "nope"}, `no workspace "nope" (create it with: loggraph workspace create nope)`},
		{[]string{"workspace", "limits"}, workspaceLimitsUsage},
		{[]string{"serve", "--requests-per-second", "-1"}, "--requests-per-second must be 0 (no limit) or positive, not -1"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			_, err := cli(t, e.DB.URL, c.args...)
			if _, ok := err.(usageError); !ok || err.Error() != c.msg {
				t.Fatalf("error %v, want usage error %q", err, c.msg)
			}
		})
	}
}
