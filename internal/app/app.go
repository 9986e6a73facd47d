// Package app wires the server over an open database: the stores on their pools,
// the live tail hub, the rate limiter, metrics, the GraphQL endpoint and the router.
// `loggraph serve`, the benchmarks and the test server all build it here, so the
// tests run the wiring that runs in production.
package app

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/graph"
	"github.com/loggraph/loggraph/internal/guard"
	"github.com/loggraph/loggraph/internal/limits"
	"github.com/loggraph/loggraph/internal/playground"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

// Config is what may differ between servers: serve's flags, and what tests vary.
type Config struct {
	// REST are the REST routes' limits (bodies, the ingest time window).
	REST rest.Limits
	// GraphQL holds the GraphQL endpoint's limits; New fills in its resolver,
	// logger, read slots and revocations.
	GraphQL graph.Config
	// ConcurrentReads is each workspace's read allowance (0: guard's default, -1: none).
	ConcurrentReads int
	// ReadSlotWait is how long a read waits for its workspace's slot.
	ReadSlotWait time.Duration
	// TokenRecheck is how often the tokens of open websockets are checked again
	// (0: graph's default).
	TokenRecheck time.Duration
	// TokenCache is the principal cache of the token store (a zero TTL: none). It
	// answers only while the revocation listener (Revocations) listens.
	TokenCache db.TokenCacheOptions
	// RateLimits, if not nil, turns the per-workspace rate limits and quotas on;
	// its Refused hook, if any, is called besides the metrics'. Nil: no limiter.
	RateLimits *limits.Config
	// LimitsReload, if positive, is how often the limiter rereads the overrides; they
	// are then also read before New returns. Zero: read only when the limiter is asked.
	LimitsReload time.Duration
	// Configure, if not nil, may change the GraphQL endpoint's configuration last
	// (tests: their limits, logger, caches, the resolver's hooks).
	Configure func(*graph.Config)
	// Partitions is the granularity of the partitions ingest and upkeep create
	// (zero fields: db's defaults).
	Partitions db.PartitionOptions
	// StorageMetrics, if positive, is how often the storage metrics (rows and bytes
	// per kind and workspace, partitions) are read for /metrics; zero: not exported.
	StorageMetrics time.Duration
	// RowsOnlyAnalytics answers the analytics from rows, never from log_rollups.
	RowsOnlyAnalytics bool
	// AnalyticsCache, if not nil, keeps the closed buckets of histograms in process
	// (db.AnalyticsCache); nil: every histogram reads all its buckets.
	AnalyticsCache *db.AnalyticsCacheOptions
}

// App is the wired server.
type App struct {
	// Handler is the whole HTTP surface.
	Handler http.Handler
	// DB is the read pool; closing it closes every pool.
	DB *db.DB
	// Parts creates the ingest tables' partitions (on the ingest pool).
	Parts *db.Partitions
	// Tokens authenticates requests (on the system pool).
	Tokens *db.TokenStore
	// Tail is the live tail hub (one LISTEN connection for every logTail).
	Tail *db.TailHub
	// Limiter enforces the rate limits and quotas (nil without Config.RateLimits).
	Limiter *limits.Limiter
	// Revocations ends the websockets of revoked tokens (nil if Configure removed it).
	Revocations *graph.Revocations
	// Lifecycle applies retention and deletes logs and workspaces (its counters
	// feed the metrics).
	Lifecycle *db.Lifecycle
	// AnalyticsCache holds the closed histogram buckets (nil without Config.AnalyticsCache).
	AnalyticsCache *db.AnalyticsCache
	// ShuttingDown, once set, makes /readyz answer 503 while the server drains.
	ShuttingDown *atomic.Bool

	stops []func()
}

// New wires a server over d (open and migrated). The tail hub, the revocation
// listener and the limiter's reloads run until ctx ends or Stop is called.
func New(ctx context.Context, d *db.DB, log *slog.Logger, cfg Config) (*App, error) {
	play, err := playground.Handler()
	if err != nil {
		return nil, err
	}
	a := &App{DB: d, ShuttingDown: new(atomic.Bool)}
	// Ingest and partition upkeep on the ingest pool; token lookups and the tail hub
	// on the system pool; everything else reads on d (the read pool).
	a.Parts = db.NewPartitionsWith(d.IngestDB(), cfg.Partitions)
	a.Tokens = db.NewCachedTokenStore(d.SystemDB().Bun, cfg.TokenCache)
	ingest := db.NewIngestStore(d.IngestDB(), a.Parts)
	metrics := rest.NewMetrics(d.Pool)
	slots := guard.NewReadSlots(cfg.ConcurrentReads, cfg.ReadSlotWait)
	a.Tail = db.NewTailHub(d.SystemDB(), log, db.TailOptions{})
	a.stops = append(a.stops, a.Tail.Start(ctx))
	metrics.WatchTail(a.Tail)
	metrics.WatchTokens(a.Tokens)
	if cfg.StorageMetrics > 0 {
		a.run(ctx, func(ctx context.Context) { metrics.KeepStorage(ctx, d, cfg.StorageMetrics, log) })
	}
	a.Lifecycle = db.NewLifecycle(d)
	metrics.Registry.MustRegister(a.Lifecycle.Collector())
	if cfg.RateLimits != nil {
		lc := *cfg.RateLimits
		refused := lc.Refused
		lc.Refused = func(ws model.Workspace, ref *guard.Refusal) {
			metrics.Throttled(ws, ref)
			if refused != nil {
				refused(ws, ref)
			}
		}
		a.Limiter = limits.New(lc, db.NewWorkspaceLimitStore(d.Bun))
		if cfg.LimitsReload > 0 {
			if err := a.Limiter.Reload(ctx); err != nil {
				a.Stop()
				return nil, err
			}
		}
		metrics.WatchLimiter(a.Limiter)
		if cfg.LimitsReload > 0 {
			a.run(ctx, func(ctx context.Context) { a.Limiter.Run(ctx, cfg.LimitsReload, log) })
		}
	}
	logs := db.NewLogStore(d.Bun)
	if cfg.RowsOnlyAnalytics {
		logs = logs.WithoutRollups()
	}
	if cfg.AnalyticsCache != nil {
		a.AnalyticsCache = db.NewAnalyticsCache(*cfg.AnalyticsCache)
		logs = logs.WithAnalyticsCache(a.AnalyticsCache)
		metrics.WatchAnalyticsCache(a.AnalyticsCache)
	}
	resolver := &graph.Resolver{Ingest: ingest, Tokens: a.Tokens, IngestLimits: cfg.REST.Ingest, OnIngest: metrics.Ingested,
		LogStore: logs, EntityStore: db.NewEntityStore(d.Bun), Tail: a.Tail, Limiter: a.Limiter,
		Lifecycle: a.Lifecycle}
	gcfg := cfg.GraphQL
	gcfg.Resolver, gcfg.Log, gcfg.ReadSlots = resolver, log, slots
	// Revoking a token on any server ends its websockets on this one (NOTIFY, plus a
	// periodic re-check) and drops its cached principal; the registry's listener
	// turns the principal cache on while it listens.
	gcfg.Revocations = graph.NewRevocations(a.Tokens, log, graph.RevocationOptions{RecheckInterval: cfg.TokenRecheck})
	if cfg.Configure != nil {
		cfg.Configure(&gcfg)
	}
	if a.Revocations = gcfg.Revocations; a.Revocations != nil {
		a.stops = append(a.stops, a.Revocations.Start(ctx, d))
	}
	a.Handler = rest.NewRouter(rest.Deps{
		DB: d, Tokens: a.Tokens, Ingest: ingest, Metrics: metrics, Log: log, Limits: cfg.REST, Limiter: a.Limiter,
		ReadSlots:    slots,
		GraphQL:      graph.NewHandler(gcfg),
		Playground:   play,
		ShuttingDown: a.ShuttingDown,
	})
	return a, nil
}

// run runs f in a goroutine until ctx ends or Stop is called.
func (a *App) run(ctx context.Context, f func(context.Context)) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(ctx)
	}()
	a.stops = append(a.stops, func() { cancel(); <-done })
}

// Stop ends the server's background work, latest started first, and waits for it.
// It does not close the database.
func (a *App) Stop() {
	for i := len(a.stops) - 1; i >= 0; i-- {
		a.stops[i]()
	}
	a.stops = nil
}
