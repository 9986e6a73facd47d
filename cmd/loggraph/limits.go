package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/limits"
	"github.com/loggraph/loggraph/model"
)

// limitDefaults are the per-workspace rate limits and quotas from the environment, or
// the built-in defaults: what `serve` starts from and `workspace limits` shows.
func limitDefaults(env envReader) (limits.Config, time.Duration) {
	d := limits.DefaultConfig()
	cfg := limits.Config{
		Workspace: limits.Values{
			RequestsPerSecond:     int64(env.int("LOGGRAPH_REQUESTS_PER_SECOND", int(d.Workspace.RequestsPerSecond))),
			IngestRowsPerSecond:   int64(env.int("LOGGRAPH_INGEST_ROWS_PER_SECOND", int(d.Workspace.IngestRowsPerSecond))),
			IngestBytesPerSecond:  int64(env.int("LOGGRAPH_INGEST_BYTES_PER_SECOND", int(d.Workspace.IngestBytesPerSecond))),
			IngestConcurrentBytes: int64(env.int("LOGGRAPH_INGEST_CONCURRENT_BYTES", int(d.Workspace.IngestConcurrentBytes))),
		},
		ServerIngestConcurrentBytes: int64(env.int("LOGGRAPH_SERVER_INGEST_CONCURRENT_BYTES", int(d.ServerIngestConcurrentBytes))),
		IngestMemoryFactor:          int64(env.int("LOGGRAPH_INGEST_MEMORY_FACTOR", int(d.IngestMemoryFactor))),
		Burst:                       env.duration("LOGGRAPH_RATE_LIMIT_BURST", d.Burst),
	}
	return cfg, env.duration("LOGGRAPH_LIMITS_RELOAD_INTERVAL", limits.DefaultReloadInterval)
}

// addLimitFlags registers serve's rate-limit flags; the returned check validates them
// after parsing.
func addLimitFlags(fs *flag.FlagSet, env envReader, cfg *serveConfig) func() error {
	def, reload := limitDefaults(env)
	c := &cfg.RateLimits
	fs.Int64Var(&c.Workspace.RequestsPerSecond, "requests-per-second", def.Workspace.RequestsPerSecond,
		"per-workspace authenticated requests per second (burst: --rate-limit-burst of them); 0 = no limit (env LOGGRAPH_REQUESTS_PER_SECOND)")
	fs.Int64Var(&c.Workspace.IngestRowsPerSecond, "ingest-rows-per-second", def.Workspace.IngestRowsPerSecond,
		"per-workspace ingested log rows per second; 0 = no limit (env LOGGRAPH_INGEST_ROWS_PER_SECOND)")
	fs.Int64Var(&c.Workspace.IngestBytesPerSecond, "ingest-bytes-per-second", def.Workspace.IngestBytesPerSecond,
		"per-workspace ingest body bytes (decompressed) per second; 0 = no limit (env LOGGRAPH_INGEST_BYTES_PER_SECOND)")
	fs.Int64Var(&c.Workspace.IngestConcurrentBytes, "ingest-concurrent-bytes", def.Workspace.IngestConcurrentBytes,
		"per-workspace memory of in-flight ingest batches (--ingest-memory-factor x body bytes); 0 = no limit (env LOGGRAPH_INGEST_CONCURRENT_BYTES)")
	fs.Int64Var(&c.ServerIngestConcurrentBytes, "server-ingest-concurrent-bytes", def.ServerIngestConcurrentBytes,
		"memory of in-flight ingest batches of all workspaces together; 0 = no limit (env LOGGRAPH_SERVER_INGEST_CONCURRENT_BYTES)")
	fs.Int64Var(&c.IngestMemoryFactor, "ingest-memory-factor", def.IngestMemoryFactor,
		"estimated memory of an ingest batch per body byte (env LOGGRAPH_INGEST_MEMORY_FACTOR)")
	fs.DurationVar(&c.Burst, "rate-limit-burst", def.Burst,
		"each rate limit's burst, in seconds of its rate (env LOGGRAPH_RATE_LIMIT_BURST)")
	fs.DurationVar(&cfg.LimitsReload, "limits-reload-interval", reload,
		"how often per-workspace overrides (loggraph workspace limits) are reread (env LOGGRAPH_LIMITS_RELOAD_INTERVAL)")
	return func() error {
		for name, v := range map[string]int64{
			"--requests-per-second": c.Workspace.RequestsPerSecond, "--ingest-rows-per-second": c.Workspace.IngestRowsPerSecond,
			"--ingest-bytes-per-second": c.Workspace.IngestBytesPerSecond, "--ingest-concurrent-bytes": c.Workspace.IngestConcurrentBytes,
			"--server-ingest-concurrent-bytes": c.ServerIngestConcurrentBytes,
		} {
			if v < 0 {
				return usagef("%s must be 0 (no limit) or positive, not %d", name, v)
			}
		}
		if c.IngestMemoryFactor < 1 {
			return usagef("--ingest-memory-factor must be at least 1")
		}
		if c.Burst <= 0 || cfg.LimitsReload <= 0 {
			return usagef("--rate-limit-burst and --limits-reload-interval must be positive")
		}
		return nil
	}
}

// limitSetting is one overridable limit: its flag, and where it lives in an override.
type limitSetting struct {
	flag  string
	bytes bool
	field func(*model.WorkspaceLimits) **int64
	value func(limits.Values) int64
}

var limitSettings = []limitSetting{
	{"requests-per-second", false, func(o *model.WorkspaceLimits) **int64 { return &o.RequestsPerSecond },
		func(v limits.Values) int64 { return v.RequestsPerSecond }},
	{"ingest-rows-per-second", false, func(o *model.WorkspaceLimits) **int64 { return &o.IngestRowsPerSecond },
		func(v limits.Values) int64 { return v.IngestRowsPerSecond }},
	{"ingest-bytes-per-second", true, func(o *model.WorkspaceLimits) **int64 { return &o.IngestBytesPerSecond },
		func(v limits.Values) int64 { return v.IngestBytesPerSecond }},
	{"ingest-concurrent-bytes", true, func(o *model.WorkspaceLimits) **int64 { return &o.IngestConcurrentBytes },
		func(v limits.Values) int64 { return v.IngestConcurrentBytes }},
}

const workspaceLimitsUsage = "usage: loggraph workspace limits SLUG [--requests-per-second V] [--ingest-rows-per-second V] " +
	"[--ingest-bytes-per-second V] [--ingest-concurrent-bytes V] [--reset]; V is a positive number (bytes may end in KiB, MiB or GiB), " +
	"0 or unlimited for no limit, or default for the server's default"

// cmdWorkspaceLimits shows a workspace's effective limits and overrides, or changes
// the overrides. Running servers pick changes up within --limits-reload-interval.
func cmdWorkspaceLimits(ctx context.Context, args []string, env envReader, stdout, stderr io.Writer) error {
	fs, dbURL := newFlags("workspace limits", env, stderr)
	values := make([]*string, len(limitSettings))
	for i, s := range limitSettings {
		values[i] = fs.String(s.flag, "", "override: a positive number, 0 or unlimited (no limit), or default")
	}
	reset := fs.Bool("reset", false, "remove every override first (the server's defaults apply)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("%s", workspaceLimitsUsage)
	}
	// given[i]: the flag was given; values[i] is then its override (nil: the default).
	given := make([]bool, len(limitSettings))
	changes := make([]*int64, len(limitSettings))
	changed := *reset
	for i, s := range limitSettings {
		if *values[i] == "" {
			continue
		}
		v, err := parseLimitValue(*values[i], s.bytes)
		if err != nil {
			return usagef("--%s: %v", s.flag, err)
		}
		given[i], changes[i], changed = true, v, true
	}
	d, err := openMigrated(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer d.Close()
	ws, err := workspaceOr(ctx, d, pos[0], "create it with: loggraph workspace create "+pos[0])
	if err != nil {
		return err
	}
	store := db.NewWorkspaceLimitStore(d.Bun)
	var o model.WorkspaceLimits
	if changed {
		o, err = store.Update(ctx, ws.ID, func(o *model.WorkspaceLimits) {
			if *reset {
				*o = model.WorkspaceLimits{WorkspaceID: o.WorkspaceID}
			}
			for i, s := range limitSettings {
				if given[i] {
					*s.field(o) = changes[i]
				}
			}
		})
	} else {
		o, err = store.Get(ctx, ws.ID)
	}
	if err != nil {
		return err
	}
	def, reload := limitDefaults(env)
	eff := def.Workspace.With(o)
	if changed {
		fmt.Fprintf(stdout, "updated the limits of workspace %s; running servers apply them within %s (--limits-reload-interval)\n", ws.Slug, reload)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LIMIT\tEFFECTIVE\tOVERRIDE\tDEFAULT")
	for _, s := range limitSettings {
		override := "-"
		if p := *s.field(&o); p != nil {
			override = formatLimit(*p, s.bytes)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.flag, formatLimit(s.value(eff), s.bytes), override, formatLimit(s.value(def.Workspace), s.bytes))
	}
	return tw.Flush()
}

// parseLimitValue reads an override: nil for "default", 0 for no limit.
func parseLimitValue(s string, bytes bool) (*int64, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "default":
		return nil, nil
	case "unlimited", "0":
		return new(int64), nil
	}
	num, mult := s, int64(1)
	if bytes {
		for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
			if n, ok := strings.CutSuffix(s, suffix); ok {
				num, mult = strings.TrimSpace(n), m
			}
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		unit := ""
		if bytes {
			unit = " (optionally ending in KiB, MiB or GiB)"
		}
		return nil, fmt.Errorf("%q is not a positive whole number%s, 0, unlimited or default", s, unit)
	}
	n *= mult
	return &n, nil
}

func formatLimit(n int64, bytes bool) string {
	switch {
	case n == 0:
		return "unlimited"
	case bytes && n >= 1<<10:
		for _, u := range []struct {
			name string
			size int64
		}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
			if n%u.size == 0 {
				return fmt.Sprintf("%d (%d %s)", n, n/u.size, u.name)
			}
		}
	}
	return strconv.FormatInt(n, 10)
}
