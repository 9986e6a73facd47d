package graph

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/loggraph/loggraph/graph/generated"
	"github.com/loggraph/loggraph/internal/guard"
	"github.com/loggraph/loggraph/internal/reqctx"
)

// Config is what the GraphQL endpoint needs. Every limit is on by default: a zero
// field takes the Default constant of the same name.
type Config struct {
	// Resolver is the root resolver; its Tokens also authenticate requests and websockets.
	Resolver *Resolver
	// Log receives resolver failures and panics (with the request id); nil: slog.Default().
	Log *slog.Logger
	// MaxBodyBytes bounds a request body (default 8 MiB; ingest mutations carry up to
	// 1000 logs). A larger POST is answered 413. It is never off: zero or negative
	// takes the default.
	MaxBodyBytes int64
	// ComplexityLimit bounds an operation's complexity (gqlgen's: one per field,
	// children included); over it the operation is refused with
	// COMPLEXITY_LIMIT_EXCEEDED. Negative: no limit.
	ComplexityLimit int
	// MaxDepth bounds how deeply an operation's selections nest (introspection not
	// counted); over it the operation is refused with BAD_USER_INPUT. Negative: no
	// limit.
	MaxDepth int
	// WebsocketKeepAlive is how often the server pings a websocket: a `ka` message on
	// graphql-ws, a `ping` on graphql-transport-ws (a client that answers no `pong`
	// for twice as long is disconnected). Negative: never.
	WebsocketKeepAlive time.Duration
	// WebsocketInitTimeout is how long a new websocket may take to send
	// connection_init before it is closed.
	WebsocketInitTimeout time.Duration
	// ReadSlots bounds each workspace's concurrent queries (refused with
	// RATE_LIMITED beyond it); nil: no limit.
	ReadSlots *guard.ReadSlots
	// Revocations, if set, ends the websockets of revoked tokens (close 4401); its
	// listener is started by the caller (Revocations.Start).
	Revocations *Revocations

	// Document limits, checked before a query is parsed or validated (see
	// DocumentLimits), on HTTP and websockets. Negative: no limit.

	// MaxQueryBytes bounds the query text's bytes (DOCUMENT_TOO_LARGE).
	MaxQueryBytes int
	// MaxQueryTokens bounds the query text's lexical tokens (TOO_MANY_TOKENS).
	MaxQueryTokens int
	// MaxQueryFields bounds the field selections, fragments expanded (TOO_MANY_FIELDS).
	MaxQueryFields int
	// MaxFieldComparisons bounds the pairs of same-named fields validation would
	// compare (TOO_MANY_FIELDS).
	MaxFieldComparisons int
	// MaxQueryAliases bounds the aliases (TOO_MANY_FIELDS).
	MaxQueryAliases int
	// MaxQueryDirectives bounds the directives (TOO_MANY_FIELDS).
	MaxQueryDirectives int

	// QueryCacheBytes bounds the parsed-query cache, in bytes (each entry costs
	// its text times ParsedQueryBytesPerByte); only authenticated requests fill it.
	QueryCacheBytes int64
	// APQCacheBytes bounds the automatic-persisted-query cache, in bytes (each entry
	// costs its hash and text); only authenticated requests fill it.
	APQCacheBytes int64
	// QueryCache and APQCache, when set, are used instead of new caches of
	// QueryCacheBytes and APQCacheBytes (tests read their accounting).
	QueryCache *QueryCache
	APQCache   *ByteCache[string]

	// OperationTimeout bounds a query or mutation from the start of its execution
	// to its response; over it the operation is cancelled (its SQL too) and answered
	// QUERY_TIMEOUT. Negative: none.
	OperationTimeout time.Duration
	// MaxStatements bounds the SQL statements one query may run: a query whose
	// data fields would need more is refused before it runs, and one that gets
	// there at run time is cancelled (STATEMENT_LIMIT_EXCEEDED). Negative: none.
	MaxStatements int
}

// Defaults of Config.
const (
	// DefaultMaxBodyBytes is Config.MaxBodyBytes's default: 8 MiB.
	DefaultMaxBodyBytes = 8 << 20
	// DefaultComplexityLimit is Config.ComplexityLimit's default. A connection's
	// selection counts once per item of its page (see complexity.go): a page of 1000
	// logs with 20 fields passes, a page of pages of 1000 does not.
	DefaultComplexityLimit = 25000
	// DefaultMaxDepth is Config.MaxDepth's default: the schema's deepest useful path
	// (connection, edges, node, relation, relation, field) with room to spare.
	DefaultMaxDepth = 12
	// DefaultWebsocketKeepAlive is Config.WebsocketKeepAlive's default: below the
	// 30 to 60 s idle timeouts of common proxies and load balancers.
	DefaultWebsocketKeepAlive = 15 * time.Second
	// DefaultWebsocketInitTimeout is Config.WebsocketInitTimeout's default.
	DefaultWebsocketInitTimeout = 10 * time.Second
)

// Cache budgets (the least recently used entries are forgotten first).
const (
	// DefaultQueryCacheBytes is Config.QueryCacheBytes's default: 64 MiB, some
	// 1,500 documents of 1 KB.
	DefaultQueryCacheBytes = 64 << 20
	// DefaultAPQCacheBytes is Config.APQCacheBytes's default: 16 MiB.
	DefaultAPQCacheBytes = 16 << 20
)

// NewHandler returns the /graphql endpoint: GET (queries only), POST and OPTIONS per
// the GraphQL-over-HTTP spec, websockets (graphql-transport-ws and graphql-ws),
// automatic persisted queries, introspection, the complexity and depth limits,
// extensions.stats on every response, the error presenter and panic recovery, behind
// token authentication.
func NewHandler(cfg Config) http.Handler {
	cfg = withDefaults(cfg)
	queries := cfg.QueryCache
	if queries == nil {
		q := NewQueryCache(cfg.QueryCacheBytes)
		queries = &q
	}
	apq := cfg.APQCache
	if apq == nil {
		apq = NewAPQCache(cfg.APQCacheBytes)
	}
	// Two executors over one schema, caches and limits: websockets (the only
	// transport of subscriptions) and plain HTTP. Only the first times subscription
	// events from their first field (EventClock), a field interceptor that would
	// otherwise run for every field of every query.
	ws := transport.Websocket{
		// Closes a revoked token's sockets with 4401 (see revocation.go).
		Implementation: revocableWebsockets{},
		InitFunc:       websocketInit(cfg.Resolver.Tokens, cfg.Log),
		InitTimeout:    cfg.WebsocketInitTimeout,
		ErrorFunc: func(ctx context.Context, err error) {
			// Mostly peers going away (1001, dropped connections): worth a debug line.
			cfg.Log.DebugContext(ctx, "graphql websocket", "err", err)
		},
	}
	if cfg.WebsocketKeepAlive > 0 {
		ws.KeepAlivePingInterval = cfg.WebsocketKeepAlive // graphql-ws `ka`
		ws.PingPongInterval = cfg.WebsocketKeepAlive      // graphql-transport-ws ping/pong
	}
	sockets := newExecutor(cfg, ws, queries, apq, true)
	requests := newExecutor(cfg, httpTransport{maxBodyBytes: cfg.MaxBodyBytes}, queries, apq, false)
	srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ws.Supports(r) {
			sockets.ServeHTTP(w, r)
			return
		}
		requests.ServeHTTP(w, r)
	})
	return authenticate(cfg.Resolver.Tokens, cfg.Resolver.Limiter, cfg.Log, cfg.Revocations.track(http.MaxBytesHandler(srv, cfg.MaxBodyBytes)))
}

// newExecutor is one gqlgen server over the schema with every limit and extension,
// for one transport; events adds the subscription event clock.
func newExecutor(cfg Config, t graphql.Transport, queries *QueryCache, apq *ByteCache[string], events bool) *handler.Server {
	srv := handler.New(generated.NewExecutableSchema(generated.Config{Resolvers: cfg.Resolver, Complexity: complexity()}))
	srv.AddTransport(t)
	srv.SetQueryCache(*queries)
	if cfg.MaxQueryTokens > 0 {
		// A backstop for a text DocumentLimits did not see (a persisted query's,
		// checked when it was stored); DocumentLimits counts the same tokens first.
		srv.SetParserTokenLimit(cfg.MaxQueryTokens + 1)
	}
	// ResponseStats first: it is the outermost response interceptor, so the
	// statement counter it makes is seen by everything that runs inside it.
	srv.Use(ResponseStats{})
	if events {
		srv.Use(EventClock{})
	}
	// The operation's deadline and statement budget, on that counter.
	srv.Use(OperationBudget{Timeout: cfg.OperationTimeout, MaxStatements: cfg.MaxStatements})
	// Before the APQ extension: a text is checked before it is stored.
	srv.Use(&DocumentLimits{
		MaxBytes: cfg.MaxQueryBytes, MaxTokens: cfg.MaxQueryTokens, MaxFields: cfg.MaxQueryFields,
		MaxComparisons: cfg.MaxFieldComparisons, MaxAliases: cfg.MaxQueryAliases, MaxDirectives: cfg.MaxQueryDirectives,
		cache: queries,
	})
	// Fresh dataloaders per response (per operation, per subscription event).
	srv.AroundResponses(cfg.Resolver.withLoaders)
	// A workspace's queries run their root fields within its read slots.
	srv.AroundRootFields(readSlots(cfg.ReadSlots))
	srv.Use(extension.Introspection{})
	srv.Use(extension.AutomaticPersistedQuery{Cache: apq})
	// Depth before complexity: it is the cheaper check.
	if cfg.MaxDepth > 0 {
		srv.Use(DepthLimit{Limit: cfg.MaxDepth})
	}
	if cfg.ComplexityLimit > 0 {
		srv.Use(newComplexityLimit(cfg.ComplexityLimit))
	}
	if cfg.MaxStatements > 0 {
		srv.Use(StatementEstimate{Limit: cfg.MaxStatements})
	}
	srv.SetErrorPresenter(presentError(cfg.Log))
	srv.SetRecoverFunc(recoverPanic(cfg.Log))
	return srv
}

func withDefaults(cfg Config) Config {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	// Every line logged with a request's context carries its request id.
	cfg.Log = reqctx.Logger(cfg.Log)
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.ComplexityLimit == 0 {
		cfg.ComplexityLimit = DefaultComplexityLimit
	}
	if cfg.MaxDepth == 0 {
		cfg.MaxDepth = DefaultMaxDepth
	}
	if cfg.WebsocketKeepAlive == 0 {
		cfg.WebsocketKeepAlive = DefaultWebsocketKeepAlive
	}
	if cfg.WebsocketInitTimeout <= 0 {
		cfg.WebsocketInitTimeout = DefaultWebsocketInitTimeout
	}
	for _, l := range []struct {
		v   *int
		def int
	}{
		{&cfg.MaxQueryBytes, DefaultMaxQueryBytes},
		{&cfg.MaxQueryTokens, DefaultMaxQueryTokens},
		{&cfg.MaxQueryFields, DefaultMaxQueryFields},
		{&cfg.MaxFieldComparisons, DefaultMaxFieldComparisons},
		{&cfg.MaxQueryAliases, DefaultMaxQueryAliases},
		{&cfg.MaxQueryDirectives, DefaultMaxQueryDirectives},
		{&cfg.MaxStatements, DefaultMaxStatements},
	} {
		if *l.v == 0 {
			*l.v = l.def
		}
	}
	if cfg.QueryCacheBytes <= 0 {
		cfg.QueryCacheBytes = DefaultQueryCacheBytes
	}
	if cfg.APQCacheBytes <= 0 {
		cfg.APQCacheBytes = DefaultAPQCacheBytes
	}
	if cfg.OperationTimeout == 0 {
		cfg.OperationTimeout = DefaultOperationTimeout
	}
	return cfg
}
