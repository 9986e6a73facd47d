package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/graph"
	"github.com/loggraph/loggraph/internal/app"
	"github.com/loggraph/loggraph/internal/guard"
	"github.com/loggraph/loggraph/internal/limits"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

// serveConfig is the server's configuration: each flag has an environment variable.
type serveConfig struct {
	Addr             string
	DatabaseURL      string
	Demo             bool
	DemoRows         int
	DemoTokenFile    string // where --demo keeps its token across restarts; empty = nowhere
	ShutdownTimeout  time.Duration
	StatementTimeout time.Duration
	MaxIngestBytes   int64
	IngestMaxAge     time.Duration // oldest accepted log time, before now
	IngestMaxFuture  time.Duration // latest accepted log time, after now
	// Partitions is the partitions' granularity (--daily-partition-days; zero: the
	// defaults, as in the benchmarks).
	Partitions       db.PartitionOptions
	DBMaxConns       int
	DBIngestConns    int
	DBSystemConns    int
	DBAcquireTimeout time.Duration
	ConcurrentReads  int
	BodyReadTimeout  time.Duration
	LogLevel         string
	TokenRecheck     time.Duration // how often the tokens of open websockets are checked again
	TokenCacheTTL    time.Duration // how long a token's principal is reused without a lookup; 0 = no cache
	TokenCacheSize   int           // most principals cached
	AnalyzeInterval  time.Duration // how often stale planner statistics are looked for; 0 = never
	StorageMetrics   time.Duration // how often the storage metrics are read; 0 = not exported
	RowsOnly         bool          // analytics read rows only, never log_rollups
	// AnalyticsCache keeps closed histogram buckets in process (nil: off).
	AnalyticsCache *db.AnalyticsCacheOptions
	// RetentionInterval is how often retention runs (one server at a time); 0 = never.
	RetentionInterval time.Duration
	PprofAddr         string         // where net/http/pprof listens; empty = nowhere
	TrustedProxies    []netip.Prefix // peers whose X-Forwarded-Proto/Host are honoured
	GraphQL           graph.Config   // limits only; the resolver is wired in internal/app
	// RateLimits are the per-workspace rate limits and quotas (zero: none, as in
	// the benchmarks); LimitsReload is how often overrides are reread.
	RateLimits   limits.Config
	LimitsReload time.Duration
	// OnStatement (benchmarks, not a flag) sees every statement (db.Options.OnStatement).
	OnStatement func(sql string, args []any)
}

func cmdServe(ctx context.Context, args []string, env envReader, stdout, stderr io.Writer) error {
	fs, dbURL := newFlags("serve", env, stderr)
	var cfg serveConfig
	fs.StringVar(&cfg.Addr, "addr", env.str("LOGGRAPH_ADDR", ":8080"), "listen address (env LOGGRAPH_ADDR)")
	fs.BoolVar(&cfg.Demo, "demo", env.bool("LOGGRAPH_DEMO"), "create workspace demo with sample data and print an admin token (env LOGGRAPH_DEMO)")
	fs.IntVar(&cfg.DemoRows, "demo-rows", env.int("LOGGRAPH_DEMO_ROWS", 20000), "rows of demo data (env LOGGRAPH_DEMO_ROWS)")
	fs.StringVar(&cfg.DemoTokenFile, "demo-token-file", env.str("LOGGRAPH_DEMO_TOKEN_FILE", defaultDemoTokenFile()),
		"where --demo keeps its admin token, reused on the next start while it works; empty = a new token on each start (env LOGGRAPH_DEMO_TOKEN_FILE)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", env.duration("LOGGRAPH_SHUTDOWN_TIMEOUT", 30*time.Second),
		"how long SIGTERM waits for in-flight requests (env LOGGRAPH_SHUTDOWN_TIMEOUT)")
	fs.DurationVar(&cfg.StatementTimeout, "statement-timeout", env.duration("LOGGRAPH_STATEMENT_TIMEOUT", 30*time.Second),
		"PostgreSQL statement_timeout of every query (env LOGGRAPH_STATEMENT_TIMEOUT)")
	fs.Int64Var(&cfg.MaxIngestBytes, "max-ingest-bytes", int64(env.int("LOGGRAPH_MAX_INGEST_BYTES", rest.DefaultMaxIngestBodyBytes)),
		"largest ingest body, compressed or not (env LOGGRAPH_MAX_INGEST_BYTES)")
	fs.DurationVar(&cfg.IngestMaxAge, "ingest-max-age", env.duration("LOGGRAPH_INGEST_MAX_AGE", model.DefaultMaxAge),
		"oldest log time ingest accepts, before now (1826 days: 5 years); older lines get a 400. Bounds the partitions backfill creates (env LOGGRAPH_INGEST_MAX_AGE)")
	fs.DurationVar(&cfg.IngestMaxFuture, "ingest-max-future", env.duration("LOGGRAPH_INGEST_MAX_FUTURE", model.DefaultMaxFuture),
		"latest log time ingest accepts, after now (2 days: clock skew); later lines get a 400 (env LOGGRAPH_INGEST_MAX_FUTURE)")
	fs.IntVar(&cfg.DBMaxConns, "db-max-conns", env.int("LOGGRAPH_DB_MAX_CONNS", int(db.DefaultMaxConns())),
		"read pool size: GraphQL, REST shims, exports; default 4 per core, at least 8 (env LOGGRAPH_DB_MAX_CONNS)")
	fs.IntVar(&cfg.DBIngestConns, "db-ingest-conns", env.int("LOGGRAPH_DB_INGEST_CONNS", int(db.DefaultIngestConns())),
		"ingest pool size; default 1 per core, at least 4 (env LOGGRAPH_DB_INGEST_CONNS)")
	fs.IntVar(&cfg.DBSystemConns, "db-system-conns", env.int("LOGGRAPH_DB_SYSTEM_CONNS", db.DefaultSystemConns),
		"system pool size: token lookups, /readyz, live tail reads (env LOGGRAPH_DB_SYSTEM_CONNS)")
	fs.DurationVar(&cfg.DBAcquireTimeout, "db-acquire-timeout", env.duration("LOGGRAPH_DB_ACQUIRE_TIMEOUT", db.DefaultAcquireTimeout),
		"longest wait for a pooled connection, then 503 database_busy; also the longest wait for a workspace's read slot, then 429 (env LOGGRAPH_DB_ACQUIRE_TIMEOUT)")
	fs.IntVar(&cfg.ConcurrentReads, "max-concurrent-reads", env.int("LOGGRAPH_MAX_CONCURRENT_READS", guard.DefaultConcurrentReads),
		"read requests (queries, shim requests, exports) one workspace may run at once, then 429 concurrent_queries; -1 = off (env LOGGRAPH_MAX_CONCURRENT_READS)")
	fs.DurationVar(&cfg.BodyReadTimeout, "body-read-timeout", env.duration("LOGGRAPH_BODY_READ_TIMEOUT", rest.DefaultBodyReadTimeout),
		"longest time a request body may take to arrive, then 408 or the connection is closed; -1s = off (env LOGGRAPH_BODY_READ_TIMEOUT)")
	fs.IntVar(&cfg.GraphQL.ComplexityLimit, "max-query-complexity", env.int("LOGGRAPH_MAX_QUERY_COMPLEXITY", graph.DefaultComplexityLimit),
		"GraphQL complexity limit; a connection counts its selection once per item of its page; -1 = off (env LOGGRAPH_MAX_QUERY_COMPLEXITY)")
	fs.IntVar(&cfg.GraphQL.MaxDepth, "max-query-depth", env.int("LOGGRAPH_MAX_QUERY_DEPTH", graph.DefaultMaxDepth),
		"GraphQL selection depth limit; -1 = off (env LOGGRAPH_MAX_QUERY_DEPTH)")
	fs.Int64Var(&cfg.GraphQL.MaxBodyBytes, "max-graphql-bytes", int64(env.int("LOGGRAPH_MAX_GRAPHQL_BYTES", graph.DefaultMaxBodyBytes)),
		"largest GraphQL request body (env LOGGRAPH_MAX_GRAPHQL_BYTES)")
	fs.DurationVar(&cfg.TokenRecheck, "token-recheck-interval", env.duration("LOGGRAPH_TOKEN_RECHECK_INTERVAL", graph.DefaultTokenRecheckInterval),
		"how often the tokens of open websockets are checked for revocation, besides the revocation notices (env LOGGRAPH_TOKEN_RECHECK_INTERVAL)")
	fs.DurationVar(&cfg.TokenCacheTTL, "token-cache-ttl", env.duration("LOGGRAPH_TOKEN_CACHE_TTL", db.DefaultTokenCacheTTL),
		"how long a token's principal is reused without a lookup; a revocation reaches every server's cache by its NOTIFY, and this bounds one made without it (a token deleted in SQL); 0 = no cache (env LOGGRAPH_TOKEN_CACHE_TTL)")
	fs.IntVar(&cfg.TokenCacheSize, "token-cache-size", env.int("LOGGRAPH_TOKEN_CACHE_SIZE", db.DefaultTokenCacheSize),
		"most token principals cached, least recently used evicted first (env LOGGRAPH_TOKEN_CACHE_SIZE)")
	fs.DurationVar(&cfg.AnalyzeInterval, "analyze-interval", env.duration("LOGGRAPH_ANALYZE_INTERVAL", time.Minute),
		"how often tables (log partitions and their parents included) whose planner statistics are stale get analyzed; 0 = leave it to autovacuum (env LOGGRAPH_ANALYZE_INTERVAL)")
	rollups := fs.Bool("analytics-rollups", env.boolDefault("LOGGRAPH_ANALYTICS_ROLLUPS", true),
		"answer logHistogram and logFacets from the 15-minute rollups kept at ingest where they can (same answers); false reads rows only (env LOGGRAPH_ANALYTICS_ROLLUPS)")
	analyticsCache := fs.Bool("analytics-cache", env.boolDefault("LOGGRAPH_ANALYTICS_CACHE", true),
		"keep the closed buckets of logHistogram, the closed 15-minute slots of logFacets and the compacted days, hours and slots of apiRequestStats in memory, per workspace and filter, so a refresh reads only the open buckets and those whose logs changed (checked against the change log in the same statement: never stale); false computes every bucket (env LOGGRAPH_ANALYTICS_CACHE)")
	cacheBuckets := fs.Int("analytics-cache-buckets", env.int("LOGGRAPH_ANALYTICS_CACHE_BUCKETS", db.DefaultAnalyticsCacheBuckets),
		"most buckets the analytics cache keeps, about 100 bytes each (a facet slot counts one plus one per four values, a stats row one plus one per six histogram entries); the least recently used analytics go first (env LOGGRAPH_ANALYTICS_CACHE_BUCKETS)")
	fs.DurationVar(&cfg.StorageMetrics, "storage-metrics-interval", env.duration("LOGGRAPH_STORAGE_METRICS_INTERVAL", rest.DefaultStorageMetricsInterval),
		"how often /metrics' storage figures (rows and bytes per kind and workspace, partitions) are read from the catalog and log_counts; 0 = not exported (env LOGGRAPH_STORAGE_METRICS_INTERVAL)")
	fs.DurationVar(&cfg.RetentionInterval, "retention-interval", env.duration("LOGGRAPH_RETENTION_INTERVAL", time.Hour),
		"how often retention is applied (one server at a time, advisory-locked); it deletes nothing until a retention is set with loggraph retention set; 0 = never (env LOGGRAPH_RETENTION_INTERVAL)")
	// GraphQL document limits (checked before parsing), caches, deadline, statements.
	fs.IntVar(&cfg.GraphQL.MaxQueryBytes, "max-query-bytes", env.int("LOGGRAPH_MAX_QUERY_BYTES", graph.DefaultMaxQueryBytes),
		"largest GraphQL query text, in bytes; -1 = off (env LOGGRAPH_MAX_QUERY_BYTES)")
	fs.IntVar(&cfg.GraphQL.MaxQueryTokens, "max-query-tokens", env.int("LOGGRAPH_MAX_QUERY_TOKENS", graph.DefaultMaxQueryTokens),
		"most lexical tokens in a GraphQL query; -1 = off (env LOGGRAPH_MAX_QUERY_TOKENS)")
	fs.IntVar(&cfg.GraphQL.MaxQueryFields, "max-query-fields", env.int("LOGGRAPH_MAX_QUERY_FIELDS", graph.DefaultMaxQueryFields),
		"most field selections in a GraphQL query, fragments expanded; -1 = off (env LOGGRAPH_MAX_QUERY_FIELDS)")
	fs.IntVar(&cfg.GraphQL.MaxFieldComparisons, "max-query-field-comparisons", env.int("LOGGRAPH_MAX_QUERY_FIELD_COMPARISONS", graph.DefaultMaxFieldComparisons),
		"most pairs of same-named fields validation may compare; -1 = off (env LOGGRAPH_MAX_QUERY_FIELD_COMPARISONS)")
	fs.IntVar(&cfg.GraphQL.MaxQueryAliases, "max-query-aliases", env.int("LOGGRAPH_MAX_QUERY_ALIASES", graph.DefaultMaxQueryAliases),
		"most aliases in a GraphQL query; -1 = off (env LOGGRAPH_MAX_QUERY_ALIASES)")
	fs.IntVar(&cfg.GraphQL.MaxQueryDirectives, "max-query-directives", env.int("LOGGRAPH_MAX_QUERY_DIRECTIVES", graph.DefaultMaxQueryDirectives),
		"most directives in a GraphQL query; -1 = off (env LOGGRAPH_MAX_QUERY_DIRECTIVES)")
	fs.Int64Var(&cfg.GraphQL.QueryCacheBytes, "query-cache-bytes", int64(env.int("LOGGRAPH_QUERY_CACHE_BYTES", graph.DefaultQueryCacheBytes)),
		"memory budget of the parsed-query cache (env LOGGRAPH_QUERY_CACHE_BYTES)")
	fs.Int64Var(&cfg.GraphQL.APQCacheBytes, "apq-cache-bytes", int64(env.int("LOGGRAPH_APQ_CACHE_BYTES", graph.DefaultAPQCacheBytes)),
		"memory budget of the automatic persisted query cache (env LOGGRAPH_APQ_CACHE_BYTES)")
	fs.DurationVar(&cfg.GraphQL.OperationTimeout, "graphql-timeout", env.duration("LOGGRAPH_GRAPHQL_TIMEOUT", 0),
		"deadline of a GraphQL query or mutation; 0 = the statement timeout, -1ns = off (env LOGGRAPH_GRAPHQL_TIMEOUT)")
	fs.IntVar(&cfg.GraphQL.MaxStatements, "max-query-statements", env.int("LOGGRAPH_MAX_QUERY_STATEMENTS", graph.DefaultMaxStatements),
		"most SQL statements one GraphQL query may run; -1 = off (env LOGGRAPH_MAX_QUERY_STATEMENTS)")
	fs.StringVar(&cfg.PprofAddr, "pprof-addr", env.str("LOGGRAPH_PPROF_ADDR", ""),
		"serve Go's profiles (net/http/pprof, /debug/pprof/) on this separate address, e.g. 127.0.0.1:6060; never expose it publicly; empty = off (env LOGGRAPH_PPROF_ADDR)")
	trustedProxies := fs.String("trusted-proxies", env.str("LOGGRAPH_TRUSTED_PROXIES", ""),
		"comma-separated CIDR prefixes or addresses of reverse proxies whose X-Forwarded-Proto and X-Forwarded-Host are honoured in absolute links (the Akinon shim's next/previous); empty = none (env LOGGRAPH_TRUSTED_PROXIES)")
	fs.StringVar(&cfg.LogLevel, "log-level", env.str("LOGGRAPH_LOG_LEVEL", "info"), "debug, info, warn or error (env LOGGRAPH_LOG_LEVEL)")
	gcPercent := fs.Int("gc-percent", env.int("LOGGRAPH_GC_PERCENT", defaultGCPercent),
		"Go garbage collector target (GOGC): heap growth in percent between collections, 25..1000; GOGC in the environment wins (env LOGGRAPH_GC_PERCENT)")
	memoryLimit := fs.Int64("memory-limit", int64(env.int("LOGGRAPH_MEMORY_LIMIT", defaultMemoryLimit)),
		"soft limit of the Go heap in bytes (GOMEMLIMIT): the collector runs harder as the heap nears it, whatever --gc-percent; 0 = none; GOMEMLIMIT in the environment wins (env LOGGRAPH_MEMORY_LIMIT)")
	checkLimits := addLimitFlags(fs, env, &cfg)
	partitionOptions := addPartitionFlags(fs, env)
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	cfg.RowsOnly = !*rollups
	if *analyticsCache {
		cfg.AnalyticsCache = &db.AnalyticsCacheOptions{MaxBuckets: *cacheBuckets}
	}
	if err := checkLimits(); err != nil {
		return err
	}
	var err error
	if cfg.Partitions, err = partitionOptions(); err != nil {
		return err
	}
	cfg.DatabaseURL = *dbURL
	if cfg.TrustedProxies, err = rest.ParseTrustedProxies(*trustedProxies); err != nil {
		return usagef("--trusted-proxies: %v", err)
	}
	if cfg.IngestMaxAge <= 0 || cfg.IngestMaxFuture <= 0 {
		return usagef("--ingest-max-age and --ingest-max-future must be positive durations, e.g. 43824h or 48h")
	}
	if cfg.RetentionInterval < 0 {
		return usagef("--retention-interval must be 0 (never) or a positive duration, e.g. 1h")
	}
	if cfg.TokenCacheTTL < 0 || cfg.TokenCacheSize < 1 {
		return usagef("--token-cache-ttl must be 0 (no cache) or a positive duration, e.g. 30s, and --token-cache-size at least 1")
	}
	if cfg.GraphQL.OperationTimeout == 0 && cfg.StatementTimeout > 0 {
		// One slow statement, not a chain of them, is the most an operation may take.
		cfg.GraphQL.OperationTimeout = cfg.StatementTimeout
	}
	if *gcPercent < 25 || *gcPercent > 1000 || *memoryLimit < 0 {
		return usagef("--gc-percent must be 25..1000 (Go's default is 100) and --memory-limit a size in bytes, 0 for none")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return usagef("--log-level: %v", err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	tuneGC(*gcPercent, *memoryLimit)
	return serve(ctx, cfg, log, stdout)
}

// newApp connects, migrates, wires the server (internal/app) and prepares the
// partitions. Closing a.DB closes every pool, after a.Stop.
func newApp(ctx context.Context, cfg serveConfig, log *slog.Logger) (*app.App, error) {
	d, err := openDB(ctx, cfg.DatabaseURL, db.Options{MaxConns: int32(cfg.DBMaxConns), IngestConns: int32(cfg.DBIngestConns),
		SystemConns: int32(cfg.DBSystemConns), AcquireTimeout: cfg.DBAcquireTimeout, StatementTimeout: cfg.StatementTimeout,
		OnStatement: cfg.OnStatement})
	if err != nil {
		return nil, err
	}
	applied, err := d.MigrateUp(ctx)
	if err != nil {
		d.Close()
		return nil, err
	}
	for _, m := range applied {
		log.InfoContext(ctx, "migration applied", "name", m)
	}
	if cfg.IngestMaxAge <= 0 { // benchmarks build a config without flags
		cfg.IngestMaxAge = model.DefaultMaxAge
	}
	if cfg.IngestMaxFuture <= 0 {
		cfg.IngestMaxFuture = model.DefaultMaxFuture
	}
	reload := cfg.LimitsReload
	if reload <= 0 {
		reload = limits.DefaultReloadInterval
	}
	// The background work (tail hub, revocation listener, limits reload) runs until
	// ctx (the server's signal context) ends.
	a, err := app.New(ctx, d, log, app.Config{
		REST: rest.Limits{MaxIngestBodyBytes: cfg.MaxIngestBytes, BodyReadTimeout: cfg.BodyReadTimeout,
			Ingest: model.IngestLimits{MaxAge: cfg.IngestMaxAge, MaxFuture: cfg.IngestMaxFuture}, TrustedProxies: cfg.TrustedProxies},
		GraphQL:           cfg.GraphQL,
		ConcurrentReads:   cfg.ConcurrentReads,
		ReadSlotWait:      cfg.DBAcquireTimeout,
		TokenRecheck:      cfg.TokenRecheck,
		TokenCache:        db.TokenCacheOptions{TTL: cfg.TokenCacheTTL, Size: cfg.TokenCacheSize},
		RateLimits:        &cfg.RateLimits,
		LimitsReload:      reload,
		Partitions:        cfg.Partitions,
		StorageMetrics:    cfg.StorageMetrics,
		RowsOnlyAnalytics: cfg.RowsOnly,
		AnalyticsCache:    cfg.AnalyticsCache,
	})
	if err != nil {
		d.Close()
		return nil, err
	}
	if err := a.Parts.EnsureAhead(ctx, time.Now(), partitionsBack, partitionsAhead); err != nil {
		a.Stop()
		d.Close()
		return nil, err
	}
	log.InfoContext(ctx, "ingest time window", "max_age", cfg.IngestMaxAge.String(), "max_future", cfg.IngestMaxFuture.String(),
		"max_partitions_per_table", db.MaxPartitions(cfg.Partitions, cfg.IngestMaxAge, cfg.IngestMaxFuture, partitionsAhead))
	return a, nil
}

// Partitions are kept from partitionsBack days ago to partitionsAhead days ahead;
// other days are created when a row needs them.
const (
	partitionsBack  = 1
	partitionsAhead = 7
)

func serve(ctx context.Context, cfg serveConfig, log *slog.Logger, stdout io.Writer) error {
	fmt.Fprintf(stdout, "connecting to PostgreSQL at %s and applying migrations...\n", db.Redact(cfg.DatabaseURL))
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		a.Stop()
		a.DB.Close()
	}()
	// Listen first: a port in use is reported before the demo is filled.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return listenFailure(cfg.Addr, err)
	}
	defer ln.Close()
	var demoToken string
	if cfg.Demo {
		if demoToken, err = setUpDemo(ctx, a, cfg.DemoRows, cfg.DemoTokenFile, stdout); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// Requests get a context that SIGTERM does not cancel: in-flight ingests finish.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	base := "http://" + displayAddr(ln.Addr())
	fmt.Fprintf(stdout, "loggraph listening on %s (GraphQL /graphql, playground /playground)\n", base)
	if cfg.Demo {
		printDemoReady(stdout, base, demoToken, cfg.DemoTokenFile)
	}
	log.InfoContext(ctx, "listening", "addr", ln.Addr().String())

	if cfg.PprofAddr != "" {
		stop, err := servePprof(ctx, cfg.PprofAddr, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	go keepPartitions(ctx, a.DB, a.Parts, log)
	go keepRequestRollups(ctx, a.DB, log)
	if cfg.AnalyzeInterval > 0 {
		go keepStatistics(ctx, a.DB, cfg.AnalyzeInterval, log)
	}
	if cfg.RetentionInterval > 0 {
		go keepRetention(ctx, a.Lifecycle, cfg.RetentionInterval, log)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Drain: refuse new connections, let in-flight requests (ingests) complete, then
	// close the database. An ingest either commits and is acknowledged, or its
	// transaction never commits.
	a.ShuttingDown.Store(true)
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

func displayAddr(a net.Addr) string {
	s := a.String()
	if strings.HasPrefix(s, "[::]:") {
		return "localhost:" + strings.TrimPrefix(s, "[::]:")
	}
	if strings.HasPrefix(s, "0.0.0.0:") {
		return "localhost:" + strings.TrimPrefix(s, "0.0.0.0:")
	}
	return s
}

// every runs f at each tick of interval until ctx ends, logging its error (unless
// ctx ended) under what.
func every(ctx context.Context, interval time.Duration, log *slog.Logger, what string, f func(now time.Time) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if err := f(now); err != nil && ctx.Err() == nil {
				log.Error(what, "err", err)
			}
		}
	}
}

// A partition's trigram indexes are rebuilt (db.RebuildSearchIndexes) once its range
// has been closed for searchRebuildGrace (most late logs are in by then), at most
// searchRebuildsPerRun of them an hour (a server upgraded over 30 days of data catches
// up within a day or so, without a burst of rebuilds).
const (
	searchRebuildGrace   = 6 * time.Hour
	searchRebuildsPerRun = 8
)

// keepPartitions creates upcoming days' partitions every hour, merges the count
// deltas of the last week's finished days, prunes the analytics cache's change log
// and rebuilds the trigram indexes of partitions that closed.
func keepPartitions(ctx context.Context, d *db.DB, parts *db.Partitions, log *slog.Logger) {
	every(ctx, time.Hour, log, "partition upkeep", func(now time.Time) error {
		var errs []error
		if err := parts.EnsureAhead(ctx, now, partitionsBack, partitionsAhead); err != nil {
			errs = append(errs, fmt.Errorf("create partitions: %w", err))
		}
		today := now.UTC().Truncate(24 * time.Hour)
		if _, err := db.CompactCounts(ctx, d, today.AddDate(0, 0, -7), today); err != nil {
			errs = append(errs, fmt.Errorf("compact counts: %w", err))
		}
		if _, err := db.PruneAnalyticsChanges(ctx, d, db.DefaultAnalyticsChangesAge); err != nil {
			errs = append(errs, err)
		}
		rebuilt, err := db.RebuildSearchIndexes(ctx, d, now.Add(-searchRebuildGrace), searchRebuildsPerRun)
		for _, r := range rebuilt {
			log.Info("search index rebuilt", "index", r.Index, "bytes_before", r.Before, "bytes_after", r.After)
		}
		if err != nil {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}

// requestCompactEvery is how often serve compacts request_rollups' closed slots.
const requestCompactEvery = 5 * time.Minute

// keepRequestRollups folds request_rollups' pending rows and packed batches of closed
// 15-minute slots into their slot, hour and day rows (db.CompactRequestRollups), and
// the packed pattern rollups of closed slots into log_pattern_rollups
// (db.CompactPatternRollups), every requestCompactEvery, so that apiRequestStats
// reads a few rows per key and day rather than one per batch and slot, and
// logPatterns a few rows per slot. Servers running it at once stay exact.
func keepRequestRollups(ctx context.Context, d *db.DB, log *slog.Logger) {
	every(ctx, requestCompactEvery, log, "compact request rollups", func(now time.Time) error {
		before := now.UTC().Truncate(db.RollupSlot)
		_, err := db.CompactRequestRollups(ctx, d, before)
		_, perr := db.CompactPatternRollups(ctx, d, before)
		return errors.Join(err, perr)
	})
}

// keepStatistics analyzes tables whose planner statistics went stale (db.KeepStatistics)
// every interval: PostgreSQL never analyzes partitioned parents, and autovacuum may be
// off or behind a day's partition that fills by the minute.
func keepStatistics(ctx context.Context, d *db.DB, interval time.Duration, log *slog.Logger) {
	every(ctx, interval, log, "keep statistics", func(time.Time) error {
		done, err := db.KeepStatistics(ctx, d, db.StatsOptions{})
		if len(done) > 0 {
			log.Debug("analyzed", "tables", done)
		}
		return err
	})
}

// keepRetention applies retention every interval (db.Lifecycle.ApplyRetention); a
// run another server holds the lock for is skipped.
func keepRetention(ctx context.Context, life *db.Lifecycle, interval time.Duration, log *slog.Logger) {
	every(ctx, interval, log, "retention", func(time.Time) error {
		rep, err := life.ApplyRetention(ctx, db.RetentionOptions{})
		if errors.Is(err, db.ErrRetentionBusy) {
			log.Debug("retention skipped: another server is running it")
			return nil
		}
		if err == nil {
			rows, bytes, parts := rep.Totals()
			log.Info("retention applied", "rows", rows, "partitions", parts, "bytes", bytes)
		}
		return err
	})
}

// listenFailure words a failure to listen; a port in use says how to pick another.
func listenFailure(addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("listen on %s: the port is in use (another loggraph?); pick another with --addr :9090, LOGGRAPH_ADDR=:9090 or make run PORT=9090", addr)
	}
	return fmt.Errorf("listen on %s: %w", addr, err)
}
