package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/loggraph/loggraph/db/dbtest"
)

// TestServeDemoTopsUpAStaleDemo: a demo workspace without recent logs gets fresh
// sample logs (a day's worth per day missed, up to the 3 days a new demo gets) and the
// records the README's examples ask for, those of the last hour included, so that the
// examples answer again after a restart days later. A fresh demo gets nothing more.
func TestServeDemoTopsUpAStaleDemo(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		newest time.Duration // age of the one log stored; 0: none
		want   string
	}{
		{"no logs", 0, "demo: it has no logs; adding 300 sample logs over the last 3 day(s)..."},
		{"newest 30h old", 30 * time.Hour, "old; adding 200 sample logs over the last 2 day(s)..."},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			u := dbtest.NewURL(t)
			mustCLI(t, u, "workspace", "create", "demo")
			if c.newest > 0 {
				tok := lastLine(mustCLI(t, u, "token", "create", "--workspace", "demo", "--role", "ingest"))
				base, _, stop := server(t, u)
				rec := fmt.Sprintf(`{"level":"INFO","service":"s","message":"old","timestamp":%q}`,
					time.Now().Add(-c.newest).UTC().Format(time.RFC3339))
				if status, body := do(t, http.MethodPost, base+"/v1/ingest/app", "Authorization: Bearer "+tok, "application/x-ndjson",
					strings.NewReader(rec)); status != http.StatusOK {
					t.Fatalf("ingest: %d %s", status, body)
				}
				if err := stop(); err != nil {
					t.Fatal(err)
				}
			}
			_, _, printed := demoServer(t, u, "--demo-rows", "300")
			for _, want := range []string{
				`demo: workspace "demo" already exists; keeping its data`,
				c.want,
				fmt.Sprintf("demo: added %d records the README's examples ask for", demoExampleLines(t)),
			} {
				if !strings.Contains(printed, want) {
					t.Fatalf("no %q in:\n%s", want, printed)
				}
			}
			_, _, printed = demoServer(t, u, "--demo-rows", "300")
			if strings.Contains(printed, "adding") || strings.Contains(printed, "demo: added") {
				t.Fatalf("a fresh demo was topped up:\n%s", printed)
			}
		})
	}
}
