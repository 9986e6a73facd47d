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
// A record the demo's data contradicts (an action id taken by another log) is
// reported, and the server starts.
func TestServeDemoTopsUpAStaleDemo(t *testing.T) {
	t.Parallel()
	ago := func(d time.Duration) string { return time.Now().Add(-d).UTC().Format(time.RFC3339) }
	added := fmt.Sprintf("demo: added %d records the README's examples ask for", demoExampleLines(t))
	for _, c := range []struct {
		name         string
		kind, stored string // a record stored before the demo starts
		want         []string
	}{
		{"no logs", "", "", []string{"demo: it has no logs; adding 300 sample logs over the last 3 day(s)...", added}},
		{"newest 30h old", "app", fmt.Sprintf(`{"level":"INFO","service":"s","message":"old","timestamp":%q}`, ago(30*time.Hour)),
			[]string{"old; adding 200 sample logs over the last 2 day(s)...", added}},
		{"action id taken", "action", fmt.Sprintf(`{"id":105,"level":20,"logger_name":"l","message":"m","app_name":"a","created_at":%q}`, ago(2*time.Hour)),
			[]string{"demo: the README examples' action records were not added: batch rejected: 1 bad record(s); first at line 1: " +
				`field "id": id 105 is already stored with another created_at; an action log id names one log (delete the demo workspace to make it again)`,
				fmt.Sprintf("demo: added %d records the README's examples ask for", demoExampleLines(t)-1)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			u := dbtest.NewURL(t)
			mustCLI(t, u, "workspace", "create", "demo")
			if c.stored != "" {
				tok := lastLine(mustCLI(t, u, "token", "create", "--workspace", "demo", "--role", "ingest"))
				base, _, stop := server(t, u)
				if status, body := do(t, http.MethodPost, base+"/v1/ingest/"+c.kind, "Authorization: Bearer "+tok, "application/x-ndjson",
					strings.NewReader(c.stored)); status != http.StatusOK {
					t.Fatalf("ingest: %d %s", status, body)
				}
				if err := stop(); err != nil {
					t.Fatal(err)
				}
			}
			_, _, printed := demoServer(t, u, "--demo-rows", "300")
			for _, want := range append([]string{`demo: workspace "demo" already exists; keeping its data`}, c.want...) {
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
