// Command loggraph is the log-analytics server and its operator CLI: serve, migrate,
// workspaces, tokens, seed data and benchmarks. This package only wires things up.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // the distroless image has no zoneinfo: time zones (histograms) need it

	"github.com/loggraph/loggraph/db"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		if ctx.Err() != nil {
			// Ctrl-C or SIGTERM before the work was done. A server stopped while
			// starting was asked to stop, as when it drains (exit 0: make run reports
			// no error); another command's work is incomplete (128+SIGINT).
			fmt.Fprintln(os.Stderr, "loggraph: stopped by a signal before finishing:", err)
			if os.Args[1] == "serve" {
				return
			}
			os.Exit(130)
		}
		var ue usageError
		fmt.Fprintln(os.Stderr, "loggraph:", err)
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a mistake on the command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

const usage = `loggraph: a log-analytics backend over PostgreSQL

Usage:
  loggraph serve [--addr :8080] [--demo]            migrate, then serve everything on one port
  loggraph migrate [up|status]                      apply pending migrations, or list applied and pending
  loggraph migrate down [--to VERSION] [--yes]      undo the last migration (or all after VERSION); shows
                                                    what it drops, refuses to drop rows without --yes
  loggraph workspace create SLUG [--name N]         prints the workspace id
  loggraph workspace list                           every workspace, and any deletion left unfinished
  loggraph workspace delete SLUG [--yes]            the workspace and everything it owns (resumable)
  loggraph workspace limits SLUG [--requests-per-second V] [--ingest-rows-per-second V]
        [--ingest-bytes-per-second V] [--ingest-concurrent-bytes V] [--reset]
                                                    show or override a workspace's rate limits
                                                    (V: a number, 0 or unlimited, or default)
  loggraph token create --workspace SLUG --role read|ingest|admin [--name N]
                                                    prints the token alone on the last line
  loggraph token list --workspace SLUG              the workspace's tokens
  loggraph token revoke --workspace SLUG TOKEN_ID   refuse the token from the next request on
  loggraph retention show|set|apply [--workspace SLUG] [--kind K --days N|forever|default] [--dry-run]
                                                    days kept per log kind: defaults, overrides, a run now
  loggraph logs delete --workspace SLUG --kind K --filter QUERY [--dry-run]
                                                    delete one kind's logs matching a filter
  loggraph seed --workspace SLUG [--create] --rows N [--days D] [--daily-partition-days N]
                                                    synthetic logs of all five kinds (COPY)
  loggraph bench ingest [flags]                     ingest throughput against psql \copy
  loggraph bench read [flags]                       GraphQL read latency against the same SQL run raw
  loggraph bench shims [flags]                      REST shim first pages and streamed exports
  loggraph bench analytics [flags]                  histograms, facets, stats and patterns
  loggraph bench storage [--storage-rows N]         bytes per row on disk per kind, against raw NDJSON
  loggraph bench load [flags]                       a mixed load with a hostile client
  loggraph bench retention [flags]                  a retention run under ingest and reads, against a calm phase

Every command takes --database-url (env DATABASE_URL, default ` + db.DefaultURL + `).
Run 'loggraph COMMAND -h' for a command's flags.
`

// run is the whole program, with its environment passed in so that tests can call it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return usagef("no command given")
	}
	cmd, rest := args[1], args[2:]
	env := envReader(getenv)
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, env, stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, rest, env, stdout, stderr)
	case "workspace":
		return cmdWorkspace(ctx, rest, env, stdout, stderr)
	case "token":
		return cmdToken(ctx, rest, env, stdout, stderr)
	case "retention":
		return cmdRetention(ctx, rest, env, stdout, stderr)
	case "logs":
		return cmdLogs(ctx, rest, env, stdout, stderr)
	case "seed":
		return cmdSeed(ctx, rest, env, stdout, stderr)
	case "bench":
		return cmdBench(ctx, rest, env, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usagef("unknown command %q", cmd)
}

// envReader reads configuration defaults from the environment.
type envReader func(string) string

func (e envReader) str(name, def string) string {
	if v := e(name); v != "" {
		return v
	}
	return def
}

func (e envReader) duration(name string, def time.Duration) time.Duration {
	if v := e(name); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

func (e envReader) int(name string, def int) int {
	if v := e(name); v != "" {
		var n int
		if _, err := fmt.Sscan(v, &n); err == nil {
			return n
		}
	}
	return def
}

func (e envReader) bool(name string) bool { return e.boolDefault(name, false) }

// boolDefault reads a boolean variable, def when it is unset or not a boolean.
func (e envReader) boolDefault(name string, def bool) bool {
	switch strings.ToLower(e(name)) {
	case "1", "true", "yes", "on":
		return true
	case "0", "false", "no", "off":
		return false
	}
	return def
}

// newFlags makes a flag set that reports errors instead of exiting, with the shared
// --database-url flag.
func newFlags(name string, env envReader, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("loggraph "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := fs.String("database-url", env.str("DATABASE_URL", db.DefaultURL), "PostgreSQL URL (env DATABASE_URL)")
	return fs, dbURL
}

// envDailyPartitionDays names the environment variable of --daily-partition-days.
const envDailyPartitionDays = "LOGGRAPH_DAILY_PARTITION_DAYS"

// addPartitionFlags registers --daily-partition-days (seed and serve take it, so that
// a seeded database and its server partition alike); the returned check validates it
// after parsing and gives the partition options.
func addPartitionFlags(fs *flag.FlagSet, env envReader) func() (db.PartitionOptions, error) {
	days := db.DefaultDailyPartitionDays
	raw := env(envDailyPartitionDays)
	var envErr error
	if raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil {
			envErr = usagef("%s: %q is not a whole number of days", envDailyPartitionDays, raw)
		}
		days = n
	}
	fs.IntVar(&days, "daily-partition-days", days, fmt.Sprintf(
		"days before today whose logs get daily partitions (older ones: monthly for 12 months, then yearly), 1 to %d (env %s)",
		db.MaxDailyPartitionDays, envDailyPartitionDays))
	return func() (db.PartitionOptions, error) {
		given := false
		fs.Visit(func(f *flag.Flag) { given = given || f.Name == "daily-partition-days" })
		if envErr != nil && !given {
			return db.PartitionOptions{}, envErr
		}
		if err := db.CheckDailyPartitionDays(days); err != nil {
			return db.PartitionOptions{}, usagef("--daily-partition-days (env %s): %v", envDailyPartitionDays, err)
		}
		return db.PartitionOptions{DailyDays: days}, nil
	}
}

// parseArgs parses flags placed before, between or after positional arguments and
// returns the positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func openDB(ctx context.Context, url string, opts db.Options) (*db.DB, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return db.Open(ctx, url, opts)
}

// openMigrated opens the database and applies pending migrations (the CLI commands
// work on a fresh database too).
func openMigrated(ctx context.Context, url string) (*db.DB, error) {
	d, err := openDB(ctx, url, db.Options{})
	if err != nil {
		return nil, err
	}
	if _, err := d.MigrateUp(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}
