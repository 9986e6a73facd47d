package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/loggraph/loggraph/db/dbtest"
)

// TestRetentionCommands: set shows the result, show tells defaults from overrides,
// apply --dry-run deletes nothing and apply deletes; bad input is a usage error with
// its message and stores nothing.
func TestRetentionCommands(t *testing.T) {
	t.Parallel()
	u := dbtest.NewURL(t)
	mustCLI(t, u, "seed", "--workspace", "acme", "--create", "--rows", "2000", "--days", "10", "--daily-partition-days", "12")
	mustCLI(t, u, "workspace", "create", "other")
	out := mustCLI(t, u, "retention", "show")
	if !strings.Contains(out, "app            forever  server default") || !strings.Contains(out, "last retention run: none") {
		t.Fatalf("show:\n%s", out)
	}
	bad := []struct {
		name string
		args []string
		msg  string
	}{
		{"days zero", []string{"--kind", "app", "--days", "0"}, "--days: retention must be 1 to 36500 days (or forever), not 0"},
		{"days text", []string{"--kind", "app", "--days", "week"}, `--days "week": want a number of days, forever or default`},
		{"unknown kind", []string{"--kind", "apps", "--days", "3"}, `--kind "apps": want app, api-request, integration, action or api-reference`},
		{"default without workspace", []string{"--kind", "app", "--days", "default"}, "--days default resets a workspace's override: give --workspace (or --days forever for the server default)"},
		{"unknown workspace", []string{"--kind", "app", "--days", "3", "--workspace", "nope"}, `no workspace "nope" (see loggraph workspace list)`},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := cli(t, u, append([]string{"retention", "set"}, c.args...)...)
			var ue usageError
			if !errors.As(err, &ue) || err.Error() != c.msg {
				t.Fatalf("got %v, want usage error %q", err, c.msg)
			}
			if out := mustCLI(t, u, "retention", "show"); strings.Count(out, "forever") != 5 {
				t.Fatalf("something was stored:\n%s", out)
			}
		})
	}
	mustCLI(t, u, "retention", "set", "--kind", "app", "--days", "5")
	out = mustCLI(t, u, "retention", "set", "--kind", "app", "--days", "3", "--workspace", "other")
	if !strings.Contains(out, "app            3        override") {
		t.Fatalf("set for other:\n%s", out)
	}
	out = mustCLI(t, u, "retention", "show", "--workspace", "acme")
	if !strings.Contains(out, "app            5        default") || !strings.Contains(out, "action         forever  default") {
		t.Fatalf("show acme:\n%s", out)
	}
	dry := mustCLI(t, u, "retention", "apply", "--dry-run")
	if !strings.Contains(dry, "would delete ") || strings.Contains(dry, "would delete 0 rows") {
		t.Fatalf("dry run:\n%s", dry)
	}
	run := mustCLI(t, u, "retention", "apply")
	if strings.Replace(dry, "would delete", "deleted", 1) != run {
		t.Fatalf("run differs from its dry run:\n%s\nvs\n%s", run, dry)
	}
	if again := mustCLI(t, u, "retention", "apply"); !strings.Contains(again, "deleted 0 rows, 0 partitions, 0 bytes") {
		t.Fatalf("second run:\n%s", again)
	}
	if out := mustCLI(t, u, "retention", "show"); !strings.Contains(out, ", ok; 0 rows, 0 partitions, 0 bytes") {
		t.Fatalf("last run:\n%s", out)
	}
}

// TestWorkspaceDeleteCommand: without --yes the slug must be typed back (a wrong
// answer deletes nothing); with it the workspace goes and list no longer shows it.
func TestWorkspaceDeleteCommand(t *testing.T) { // not parallel: it replaces stdin
	u := dbtest.NewURL(t)
	mustCLI(t, u, "seed", "--workspace", "acme", "--create", "--rows", "500")
	mustCLI(t, u, "workspace", "create", "other")
	saved := stdin
	defer func() { stdin = saved }()

	stdin = strings.NewReader("other\n")
	out, err := cli(t, u, "workspace", "delete", "acme")
	if err == nil || err.Error() != "not confirmed; nothing was deleted" || !strings.Contains(out, "workspace acme (") || !strings.Contains(out, "holds 500 logs") {
		t.Fatalf("wrong confirmation: %v\n%s", err, out)
	}
	if list := mustCLI(t, u, "workspace", "list"); !strings.Contains(list, "acme ") || !strings.Contains(list, "active") {
		t.Fatalf("list:\n%s", list)
	}
	stdin = strings.NewReader("acme\n")
	out = mustCLI(t, u, "workspace", "delete", "acme")
	if !strings.Contains(out, "deleted 500 rows, 0 partitions") || !strings.Contains(out, "deleted workspace acme") {
		t.Fatalf("delete:\n%s", out)
	}
	mustCLI(t, u, "workspace", "delete", "other", "--yes")
	if list := mustCLI(t, u, "workspace", "list"); strings.TrimSpace(list) != "SLUG  ID  NAME  CREATED  STATE" {
		t.Fatalf("list after deletes:\n%s", list)
	}
	if _, err := cli(t, u, "workspace", "delete", "acme", "--yes"); err == nil || err.Error() != `no workspace "acme" (see loggraph workspace list)` {
		t.Fatalf("deleting again: %v", err)
	}
}

// TestLogsDeleteCommand: the filter is the export's query string; a dry run counts,
// a run deletes as many; a bad filter is a usage error and deletes nothing.
func TestLogsDeleteCommand(t *testing.T) {
	t.Parallel()
	u := dbtest.NewURL(t)
	mustCLI(t, u, "seed", "--workspace", "acme", "--create", "--rows", "3000")
	bad := []struct {
		name string
		args []string
		msg  string
	}{
		{"unknown parameter", []string{"--kind", "app", "--filter", "service=auth"}, `--filter: unknown parameter "service"; the app export accepts details, levels, minLevel, search, services, time.from, time.last, time.to, traceIds`},
		{"no filter", []string{"--kind", "app"}, "--filter is required (to delete all of a kind, set a retention or delete the workspace)"},
		{"no kind", []string{"--filter", "services=auth"}, `--kind "": want app, api-request, integration, action or api-reference`},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := cli(t, u, append([]string{"logs", "delete", "--workspace", "acme"}, c.args...)...)
			var ue usageError
			if !errors.As(err, &ue) || err.Error() != c.msg {
				t.Fatalf("got %v, want usage error %q", err, c.msg)
			}
		})
	}
	dry := mustCLI(t, u, "logs", "delete", "--workspace", "acme", "--kind", "app", "--filter", "services=auth", "--dry-run")
	if !strings.Contains(dry, "would delete ") || strings.Contains(dry, "would delete 0 rows") {
		t.Fatalf("dry run:\n%s", dry)
	}
	n := strings.Fields(dry[strings.Index(dry, "would delete "):])[2]
	run := mustCLI(t, u, "logs", "delete", "--workspace", "acme", "--kind", "app", "--filter", "services=auth")
	if !strings.Contains(run, "deleted "+n+" rows, 0 partitions") {
		t.Fatalf("run:\n%s\ndry run:\n%s", run, dry)
	}
	if again := mustCLI(t, u, "logs", "delete", "--workspace", "acme", "--kind", "app", "--filter", "services=auth", "--dry-run"); !strings.Contains(again, "would delete 0 rows") {
		t.Fatalf("after:\n%s", again)
	}
}

// TestServeRetentionInterval: a negative --retention-interval is a usage error,
// before anything is served.
func TestServeRetentionInterval(t *testing.T) {
	t.Parallel()
	_, err := cli(t, dbtest.NewURL(t), "serve", "--retention-interval", "-1s")
	var ue usageError
	if !errors.As(err, &ue) || err.Error() != "--retention-interval must be 0 (never) or a positive duration, e.g. 1h" {
		t.Fatalf("got %v", err)
	}
}
