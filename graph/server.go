package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/graph/generated"
	"github.com/loggraph/loggraph/internal/auth"
	"github.com/loggraph/loggraph/internal/guard"
	"github.com/loggraph/loggraph/internal/limits"
	"github.com/loggraph/loggraph/internal/reqctx"
	"github.com/loggraph/loggraph/model"
)

// Config is what the GraphQL endpoint needs. Every limit is on by default: a zero
// field takes the Default constant of the same name.
type Config struct {
	// Resolver is the root resolver; its Tokens also authenticate requests and websockets.
	Resolver *Resolver
	// Log receives resolver failures and panics (with the request id); nil: slog.Default().
	Log *slog.Logger
	// MaxBodyBytes bounds a request body (default 8 MiB; ingest mutations carry up to
	// 1000 logs). A larger POST is answered 413.
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

// Websocket close codes of the graphql-ws protocols (4400..4499 are the protocol's).
const (
	// WebsocketCloseUnauthorized closes a websocket whose connection_init carries no
	// valid token. graphql-transport-ws recommends 4403 for any refused init; we answer
	// 4401 as the HTTP surfaces answer 401 for a missing, bad or revoked token, and
	// keep 4403 for a role that may not do the thing.
	WebsocketCloseUnauthorized = 4401
	// WebsocketCloseForbidden closes a websocket whose token may not read: the only
	// subscription (logTail) reads, and queries and mutations go over HTTP.
	WebsocketCloseForbidden = 4403
	// WebsocketCloseInternal closes a websocket whose init failed on the server side.
	WebsocketCloseInternal = 4500
)

// Response media types of the GraphQL-over-HTTP spec.
const (
	mediaGraphQLResponse = "application/graphql-response+json"
	mediaJSON            = "application/json"
)

// NewHandler returns the /graphql endpoint: GET (queries only), POST and OPTIONS per
// the GraphQL-over-HTTP spec, websockets (graphql-transport-ws and graphql-ws),
// automatic persisted queries, introspection, the complexity and depth limits,
// extensions.stats on every response, the error presenter and panic recovery, behind
// token authentication.
func NewHandler(cfg Config) http.Handler {
	cfg = withDefaults(cfg)
	srv := handler.New(generated.NewExecutableSchema(generated.Config{Resolvers: cfg.Resolver, Complexity: complexity()}))
	// Websocket first: it takes every request with an Upgrade header, the HTTP
	// transport every other.
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
	srv.AddTransport(ws)
	srv.AddTransport(httpTransport{maxBodyBytes: cfg.MaxBodyBytes})
	queries := cfg.QueryCache
	if queries == nil {
		q := NewQueryCache(cfg.QueryCacheBytes)
		queries = &q
	}
	apq := cfg.APQCache
	if apq == nil {
		apq = NewAPQCache(cfg.APQCacheBytes)
	}
	srv.SetQueryCache(*queries)
	if cfg.MaxQueryTokens > 0 {
		// A backstop for a text DocumentLimits did not see (a persisted query's,
		// checked when it was stored); DocumentLimits counts the same tokens first.
		srv.SetParserTokenLimit(cfg.MaxQueryTokens + 1)
	}
	// ResponseStats first: it is the outermost response interceptor, so the
	// statement counter it makes is seen by everything that runs inside it.
	srv.Use(ResponseStats{})
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
	return authenticate(cfg.Resolver.Tokens, cfg.Resolver.Limiter, cfg.Log, cfg.Revocations.track(http.MaxBytesHandler(srv, cfg.MaxBodyBytes)))
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

// PlaygroundHandler serves GraphiQL pointed at /graphql.
func PlaygroundHandler() http.Handler {
	return playground.Handler("loggraph playground", "/graphql")
}

// authenticate resolves `Authorization: Bearer` to a principal. A request without a
// token goes on anonymously (introspection and __typename work; data fields answer
// UNAUTHENTICATED; a websocket authenticates in its connection_init); a bad or
// revoked token is refused with 401.
func authenticate(tokens *db.TokenStore, limiter *limits.Limiter, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if h == "" {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		// The lookup's statements are counted only for a refusal's stats: the counter
		// does not reach the operation, whose stats count its own statements.
		ctx, counter := db.WithStatementCounter(r.Context())
		refuse := func(status int, code, msg string) {
			writeGraphQLError(w, r, status, code, msg, statsValue(time.Since(start), counter.Count()))
		}
		tok, ok := auth.BearerToken(h)
		if !ok {
			refuse(http.StatusUnauthorized, CodeUnauthenticated, "the Authorization header must be `Bearer <token>`")
			return
		}
		p, err := tokens.Authenticate(ctx, tok)
		switch {
		case auth.Rejected(err):
			refuse(http.StatusUnauthorized, CodeUnauthenticated, err.Error())
			return
		case err != nil:
			if ref := db.AsRefusal(r.Context(), err, 0); ref != nil {
				log.WarnContext(r.Context(), "authenticate: refused", "limit", string(ref.Limit), "err", err)
				writeGraphQLRefusal(w, r, ref, statsValue(time.Since(start), counter.Count()))
				return
			}
			log.ErrorContext(r.Context(), "authenticate", "err", err)
			refuse(http.StatusInternalServerError, CodeInternal, "internal error")
			return
		}
		// Every authenticated request counts against its workspace's rate, before any
		// parsing or execution.
		if ref := limiter.AdmitRequest(p.Workspace); ref != nil {
			writeGraphQLRefusal(w, r, ref, statsValue(time.Since(start), counter.Count()))
			return
		}
		next.ServeHTTP(w, r.WithContext(reqctx.WithPrincipal(r.Context(), p)))
	})
}

// writeGraphQLError answers a request refused before it reached the executor.
func writeGraphQLError(w http.ResponseWriter, r *http.Request, status int, code, msg string, stats map[string]any) {
	ext := map[string]any{"code": code}
	if id := reqctx.RequestID(r.Context()); id != "" {
		ext["requestId"] = id
	}
	mt, ok := responseMediaType(r.Header.Get("Accept"))
	if !ok {
		mt = mediaJSON
	}
	w.Header().Set("Content-Type", mt+"; charset=utf-8")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="loggraph"`)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors":     []any{map[string]any{"message": msg, "extensions": ext}},
		"extensions": map[string]any{"stats": stats},
	})
}

// websocketInit authenticates a websocket from its connection_init payload:
// `{"Authorization": "Bearer <token>"}` or `{"authToken": "<token>"}`. A socket whose
// upgrade request carried a valid Authorization header (non-browser clients) may send
// an empty payload. A refused socket gets, on graphql-ws, a connection_error with the
// message and then the close; on graphql-transport-ws (which has no connection_error)
// the close alone, code 4401, the reason saying why. gqlgen sends both from the
// context returned with the error (WithWebsocketCloseCode, AppendCloseReason).
func websocketInit(tokens *db.TokenStore, log *slog.Logger) transport.WebsocketInitFunc {
	return func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		refuse := func(code int, msg string) (context.Context, *transport.InitPayload, error) {
			reason := msg
			switch code {
			case WebsocketCloseUnauthorized:
				reason = "Unauthorized: " + msg
			case WebsocketCloseForbidden:
				reason = "Forbidden: " + msg
			}
			ctx = transport.WithWebsocketCloseCode(ctx, code)
			ctx = transport.AppendCloseReason(ctx, closeReason(reason))
			return ctx, nil, errors.New(msg)
		}
		tok, present := "", false
		if h := payload.Authorization(); h != "" {
			t, ok := auth.BearerToken(h)
			if !ok {
				return refuse(WebsocketCloseUnauthorized, "the Authorization value must be `Bearer <token>`")
			}
			tok, present = t, true
		} else if _, ok := payload["authToken"]; ok {
			tok, present = strings.TrimSpace(payload.GetString("authToken")), true
		}
		forbidden := func(p *model.Principal) (context.Context, *transport.InitPayload, error) {
			return refuse(WebsocketCloseForbidden, fmt.Sprintf("this token's role (%s) may not read logs: subscriptions need a read or admin token", p.Role))
		}
		switch {
		case !present && reqctx.Principal(ctx) != nil:
			if p := reqctx.Principal(ctx); !p.Role.CanRead() {
				return forbidden(p)
			}
			return watchRevocation(ctx, reqctx.Principal(ctx)), nil, nil
		case !present || tok == "":
			return refuse(WebsocketCloseUnauthorized, "an API token is required in connection_init: {\"Authorization\": \"Bearer <token>\"} or {\"authToken\": \"<token>\"}")
		}
		p, err := tokens.Authenticate(ctx, tok)
		switch {
		case auth.Rejected(err):
			return refuse(WebsocketCloseUnauthorized, err.Error())
		case err != nil:
			log.ErrorContext(ctx, "websocket authenticate", "err", err)
			if ref := db.AsRefusal(ctx, err, 0); ref != nil {
				return refuse(WebsocketCloseInternal, ref.Message)
			}
			return refuse(WebsocketCloseInternal, "internal error")
		case !p.Role.CanRead():
			return forbidden(p)
		}
		return watchRevocation(reqctx.WithPrincipal(ctx, p), p), nil, nil
	}
}

// closeReason fits a websocket close reason into its 123 bytes (a longer one makes
// the close frame fail), without cutting a UTF-8 sequence.
func closeReason(s string) string {
	const limit = 123
	if len(s) <= limit {
		return s
	}
	cut := limit - len("...")
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "..."
}

// httpTransport serves GraphQL over HTTP (GET, POST, OPTIONS) per the
// GraphQL-over-HTTP spec. It replaces gqlgen's transport.GET and transport.POST,
// which answer 406 to a mutation over GET (the spec: 405 with Allow: POST), 422 to a
// request error with application/json (the spec: 200), 200 with `"data": null` to a
// refused operation with application/graphql-response+json (the spec: 4xx and no
// data entry), and a 200 to an oversize body (we answer 413). It uses the executor
// as they do, so extensions, the error presenter and the recover func all apply.
type httpTransport struct {
	maxBodyBytes int64
}

var _ graphql.Transport = httpTransport{}

// Supports takes every request that is not a websocket upgrade: methods other than
// GET, POST and OPTIONS get a 405 here rather than gqlgen's 400.
func (httpTransport) Supports(r *http.Request) bool { return r.Header.Get("Upgrade") == "" }

// allowedMethods is the Allow header of /graphql.
const allowedMethods = "GET, POST, OPTIONS"

// Do answers one request.
func (t httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	if r.Method == http.MethodOptions {
		w.Header().Set("Allow", allowedMethods)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	mt, ok := responseMediaType(r.Header.Get("Accept"))
	if !ok {
		// The spec recommends 406 when no supported media type is acceptable.
		t.refuse(w, r, exec, mediaJSON, http.StatusNotAcceptable, nil,
			"the Accept header allows neither application/graphql-response+json nor application/json")
		return
	}
	var params *graphql.RawParams
	var status int
	var msg string
	switch r.Method {
	case http.MethodGet:
		params, status, msg = paramsFromQuery(r.URL.RawQuery)
	case http.MethodPost:
		params, status, msg = t.paramsFromBody(r)
	default:
		t.refuse(w, r, exec, mt, http.StatusMethodNotAllowed, http.Header{"Allow": {allowedMethods}},
			fmt.Sprintf("%s is not supported: send GraphQL requests with GET (queries) or POST", r.Method))
		return
	}
	if params == nil {
		t.refuse(w, r, exec, mt, status, nil, msg)
		return
	}
	params.Headers = r.Header
	ctx := r.Context()
	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		// A request error: the request is well formed, the operation cannot run.
		status := http.StatusOK
		if mt == mediaGraphQLResponse && !persistedQueryNotFound(errs) {
			status = http.StatusBadRequest
		}
		writeResponse(w, mt, status, exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs))
		return
	}
	switch op := opCtx.Operation.Operation; {
	case op == ast.Subscription:
		// One HTTP response cannot carry a stream of events.
		t.refuse(w, r, exec, mt, http.StatusBadRequest, nil,
			"subscriptions are served over a websocket on /graphql (graphql-transport-ws or graphql-ws)")
		return
	case r.Method == http.MethodGet && op != ast.Query:
		// GET must be safe: the spec requires 405 for a mutation over GET.
		t.refuse(w, r, exec, mt, http.StatusMethodNotAllowed, http.Header{"Allow": {http.MethodPost}},
			fmt.Sprintf("a %s cannot be sent with GET: use POST", op))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, opCtx)
	resp := responses(ctx)
	if resp == nil {
		return // the client went away
	}
	status = http.StatusOK
	if s, retryAfter, ok := refusalStatus(resp); ok {
		// The whole operation was refused for capacity: say so in the status too.
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		writeResponse(w, mt, s, resp)
		return
	}
	if mt == mediaGraphQLResponse && resp.Data == nil {
		// No data entry: the spec requires 4xx or 5xx with this media type.
		status = http.StatusBadRequest
		if hasCode(resp.Errors, CodeInternal) {
			status = http.StatusInternalServerError
		}
	}
	writeResponse(w, mt, status, resp)
}

// refuse answers a request that is not a well-formed GraphQL-over-HTTP request (or
// asks what this endpoint does not do), through the executor's error path so that
// the answer has a code, the request id and stats like every other.
func (httpTransport) refuse(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, mt string, status int, header http.Header, msg string) {
	for k, v := range header {
		w.Header()[k] = v
	}
	err := &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": CodeBadUserInput}}
	// An operation context without an operation, as gqlgen makes for a request
	// refused before parsing, so that the stats time the request from its start.
	opCtx := &graphql.OperationContext{Stats: graphql.Stats{OperationStart: graphql.GetStartTime(r.Context())}}
	writeResponse(w, mt, status, exec.DispatchError(graphql.WithOperationContext(r.Context(), opCtx), gqlerror.List{err}))
}

// paramsFromBody reads a POST body: JSON, UTF-8, within the body limit. A nil result
// comes with the status and message of the refusal.
func (t httpTransport) paramsFromBody(r *http.Request) (*graphql.RawParams, int, string) {
	ct := r.Header.Get("Content-Type")
	media, mparams, err := mime.ParseMediaType(ct)
	switch {
	case ct == "":
		return nil, http.StatusUnsupportedMediaType, "a POST needs `Content-Type: application/json`"
	case err != nil || media != mediaJSON:
		return nil, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Type %q: send application/json", ct)
	case mparams["charset"] != "" && !strings.EqualFold(mparams["charset"], "utf-8"):
		return nil, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported charset %q: send UTF-8", mparams["charset"])
	}
	tooLarge := fmt.Sprintf("the request body is larger than %d bytes", t.maxBodyBytes)
	if r.ContentLength > t.maxBodyBytes {
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	}
	// The handler's MaxBytesReader stops the read at the limit.
	body, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	case err != nil:
		return nil, http.StatusBadRequest, "the request body could not be read"
	case len(bytes.TrimSpace(body)) == 0:
		return nil, http.StatusBadRequest, "the request body is empty: send {\"query\": \"...\"}"
	}
	if off, esc, found := model.LoneSurrogate(body); found {
		// Go's decoder would store U+FFFD in its place without a word; the ingest
		// route refuses it, and so does this one.
		return nil, http.StatusBadRequest, fmt.Sprintf("the request body has a lone UTF-16 surrogate escape %s at byte %d, which is not valid Unicode", esc, off)
	}
	params := &graphql.RawParams{}
	if err := decodeJSON(body, params); err != nil {
		return nil, http.StatusBadRequest, "the request body is not a GraphQL request: " + err.Error()
	}
	if params.Query == "" && params.Extensions["persistedQuery"] == nil {
		return nil, http.StatusBadRequest, "the request has no query"
	}
	if status, msg := loneSurrogateInQuery(params.Query); status != 0 {
		return nil, status, msg
	}
	params.ReadTime = graphql.TraceTiming{Start: graphql.GetStartTime(r.Context()), End: graphql.Now()}
	return params, 0, ""
}

// paramsFromQuery reads a GET's query string (query, operationName, and variables
// and extensions as JSON).
func paramsFromQuery(raw string) (*graphql.RawParams, int, string) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, http.StatusBadRequest, "the query string could not be parsed: " + err.Error()
	}
	params := &graphql.RawParams{Query: q.Get("query"), OperationName: q.Get("operationName")}
	for _, p := range []struct {
		name string
		into *map[string]any
	}{{"variables", &params.Variables}, {"extensions", &params.Extensions}} {
		if v := q.Get(p.name); v != "" {
			if _, esc, found := model.LoneSurrogate([]byte(v)); found {
				return nil, http.StatusBadRequest, fmt.Sprintf("the %s parameter has a lone UTF-16 surrogate escape %s, which is not valid Unicode", p.name, esc)
			}
			if err := decodeJSON([]byte(v), p.into); err != nil {
				return nil, http.StatusBadRequest, fmt.Sprintf("the %s parameter is not a JSON object: %v", p.name, err)
			}
		}
	}
	if params.Query == "" && params.Extensions["persistedQuery"] == nil {
		return nil, http.StatusBadRequest, "the request has no query parameter"
	}
	if status, msg := loneSurrogateInQuery(params.Query); status != 0 {
		return nil, status, msg
	}
	params.ReadTime = graphql.TraceTiming{Start: graphql.Now(), End: graphql.Now()}
	return params, 0, ""
}

// loneSurrogateInQuery refuses a query text whose string literals hold a lone UTF-16
// surrogate escape: the GraphQL lexer, like Go's JSON decoder, would replace it with
// U+FFFD without a word.
func loneSurrogateInQuery(query string) (int, string) {
	if off, esc, found := model.LoneSurrogate([]byte(query)); found {
		return http.StatusBadRequest, fmt.Sprintf("the query has a lone UTF-16 surrogate escape %s at byte %d, which is not valid Unicode", esc, off)
	}
	return 0, ""
}

// decodeJSON decodes exactly one JSON value, keeping numbers as json.Number (as
// gqlgen does, so that big integers survive until variable coercion).
func decodeJSON(b []byte, into any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(into); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			want := "an object"
			if te.Type.Kind() == reflect.String {
				want = "a string"
			}
			return fmt.Errorf("%q must be %s, not %s", te.Field, want, te.Value)
		}
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// responseMediaType picks the response media type from an Accept header, honouring
// q-values: application/graphql-response+json when it is preferred, application/json
// for application/json, application/* and */*, and application/json when there is no
// Accept header (as the spec says). false: nothing acceptable.
func responseMediaType(accept string) (string, bool) {
	if strings.TrimSpace(accept) == "" {
		return mediaJSON, true
	}
	best, bestQ, bestRank := "", 0.0, 0
	for part := range strings.SplitSeq(accept, ",") {
		media, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil {
				continue
			}
		}
		var mt string
		var rank int // on equal q, an exact type beats a wildcard, graphql-response+json beats json
		switch media {
		case mediaGraphQLResponse:
			mt, rank = mediaGraphQLResponse, 3
		case mediaJSON:
			mt, rank = mediaJSON, 2
		case "application/*", "*/*":
			mt, rank = mediaJSON, 1
		default:
			continue
		}
		if q > 0 && (q > bestQ || q == bestQ && rank > bestRank) {
			best, bestQ, bestRank = mt, q, rank
		}
	}
	return best, best != ""
}

// wireResponse is graphql.Response without a data entry when there is no data:
// the spec distinguishes "no data" (a request error) from `"data": null`.
type wireResponse struct {
	Errors     gqlerror.List   `json:"errors,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
	Label      string          `json:"label,omitempty"`
	Path       ast.Path        `json:"path,omitempty"`
	HasNext    *bool           `json:"hasNext,omitempty"`
	Extensions map[string]any  `json:"extensions,omitempty"`
}

func writeResponse(w http.ResponseWriter, mt string, status int, resp *graphql.Response) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // "found <EOF>" stays readable rather than \u003cEOF\u003e
	if err := enc.Encode(wireResponse(*resp)); err != nil {
		// Only a resolver's value can fail to marshal; the handler's recover answers it.
		panic(fmt.Errorf("marshal GraphQL response: %w", err))
	}
	w.Header().Set("Content-Type", mt+"; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

func persistedQueryNotFound(errs gqlerror.List) bool {
	// Apollo's APQ protocol: clients answer PERSISTED_QUERY_NOT_FOUND by resending the
	// query, and expect it with 200 (as Apollo Server sends it), whatever the media type.
	return len(errs) == 1 && errs[0].Extensions["code"] == "PERSISTED_QUERY_NOT_FOUND"
}

func hasCode(errs gqlerror.List, code string) bool {
	for _, e := range errs {
		if e.Extensions["code"] == code {
			return true
		}
	}
	return false
}
