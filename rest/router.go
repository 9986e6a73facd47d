// Package rest serves loggraph's HTTP surface around GraphQL's executor: the router
// (request ids, request logs, body deadlines, metrics per route) that mounts /graphql
// and the playground, the /v1 ingest and /api-logs routes, the REST shims of the
// five seed APIs, the streamed exports, health, readiness and metrics. Handlers
// parse, call the stores in db, and write their surface's envelope.
package rest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/guard"
	"github.com/loggraph/loggraph/internal/limits"
	"github.com/loggraph/loggraph/internal/reqctx"
	"github.com/loggraph/loggraph/model"
)

// Deps are what the routes need.
type Deps struct {
	DB         *db.DB
	Tokens     *db.TokenStore
	Ingest     *db.IngestStore
	Metrics    *Metrics
	Log        *slog.Logger
	GraphQL    http.Handler
	Playground http.Handler
	Limits     Limits
	// Limiter enforces the per-workspace rate limits and quotas; nil: none.
	Limiter *limits.Limiter
	// ShuttingDown is set when the server starts draining: /readyz then answers 503.
	ShuttingDown *atomic.Bool
	// ReadSlots bounds each workspace's concurrent read requests (shims, /api-logs,
	// exports); nil: no limit.
	ReadSlots *guard.ReadSlots
}

// Limits bound request bodies, and say which peers are trusted proxies.
type Limits struct {
	MaxIngestBodyBytes int64 // compressed and decompressed (default 64 MiB)
	// BodyReadTimeout bounds reading a request's body, from the request's start
	// (default DefaultBodyReadTimeout; negative: none).
	BodyReadTimeout time.Duration
	Ingest          model.IngestLimits
	// TrustedProxies are the peers whose X-Forwarded-Proto and X-Forwarded-Host
	// name the client's scheme and host in absolute links (004's next/previous);
	// empty: none, the links use the connection's scheme and the Host header.
	TrustedProxies []netip.Prefix
}

// DefaultMaxIngestBodyBytes bounds one ingest request body.
const DefaultMaxIngestBodyBytes = 64 << 20

// NewRouter returns the server's whole HTTP handler.
func NewRouter(d Deps) http.Handler {
	if d.Limits.MaxIngestBodyBytes <= 0 {
		d.Limits.MaxIngestBodyBytes = DefaultMaxIngestBodyBytes
	}
	if d.ShuttingDown == nil {
		d.ShuttingDown = new(atomic.Bool)
	}
	if d.Log != nil {
		// Every line logged with a request's context carries its request id.
		d.Log = reqctx.Logger(d.Log)
	}
	mux := http.NewServeMux()
	handle := func(pattern string, h http.Handler) { mux.Handle(pattern, instrument(d.Metrics, pattern, h)) }
	ing := &ingestHandler{deps: d}
	handle("POST /v1/ingest/{kind}", ing)
	handle("/v1/ingest/{kind}", methodNotAllowed("POST"))
	handle("POST /v1/logs", &otlpHandler{deps: d})
	handle("/v1/logs", http.HandlerFunc(otlpMethodNotAllowed))
	handle("POST /loki/api/v1/push", &lokiHandler{deps: d})
	handle("/loki/api/v1/push", http.HandlerFunc(lokiMethodNotAllowed))
	handle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}))
	handle("GET /readyz", readiness(d))
	handle("GET /metrics", promhttp.HandlerFor(d.Metrics.Registry, promhttp.HandlerOpts{}))
	// The REST shims of the five seed APIs and the streamed exports.
	registerDocument360(handle, d)
	registerElasticPath(handle, d)
	registerGenericLogs(handle, d)
	registerAkinon(handle, d)
	registerAPILogs(handle, d)
	registerExports(handle, d)
	if d.GraphQL != nil {
		handle("/graphql", d.GraphQL)
	}
	if d.Playground != nil {
		// The page and its embedded assets (/playground/assets/...).
		handle("GET /playground", d.Playground)
		handle("GET /playground/", d.Playground)
		handle("GET /{$}", http.RedirectHandler("/playground", http.StatusFound))
	}
	return requestContext(d.Log, bodyReadDeadline(d.Limits.BodyReadTimeout, mux))
}

func methodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeV1Error(w, r, http.StatusMethodNotAllowed, "method_not_allowed", "use "+allow)
	})
}

// requestContext gives every request an id (the caller's X-Request-Id when it is
// sane), echoes it, logs one JSON line per request, and turns a panic into a 500.
func requestContext(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if len(id) == 0 || len(id) > 128 {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", id)
		ctx := reqctx.WithRequestID(r.Context(), id)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.ErrorContext(ctx, "panic", "panic", p)
				if !rec.wrote {
					writeV1Error(rec, r, http.StatusInternalServerError, "internal", "internal error")
				}
			}
			log.InfoContext(ctx, "request", "method", r.Method, "path", r.URL.Path,
				"status", rec.status, "bytes", rec.bytes, "duration_ms", float64(time.Since(start).Microseconds())/1000)
		}()
		next.ServeHTTP(rec, r.WithContext(ctx))
	})
}

// instrument counts and times requests by route pattern (never by raw path, which
// would make label values unbounded).
func instrument(m *Metrics, route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec, ok := w.(*statusRecorder)
		if !ok {
			rec = &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		}
		start := time.Now()
		next.ServeHTTP(rec, r)
		m.latency.WithLabelValues(route, r.Method).Observe(time.Since(start).Seconds())
		m.requests.WithLabelValues(route, r.Method, strconv.Itoa(rec.status)).Inc()
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (flush, hijack for websockets).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush passes flushes through (streamed responses).
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// ReadinessTimeout is /readyz's budget: a database that does not answer its trivial
// query within it is reported unavailable (503).
const ReadinessTimeout = time.Second

func readiness(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.ShuttingDown.Load() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
			return
		}
		// A bounded probe on the system pool: slow reads holding the read pool cannot
		// delay it, and a database that does not answer a trivial query in time is
		// reported rather than waited for.
		ctx, cancel := context.WithTimeout(r.Context(), ReadinessTimeout)
		defer cancel()
		current, err := d.DB.SystemDB().SchemaCurrent(ctx)
		switch {
		case err != nil && ctx.Err() != nil && r.Context().Err() == nil:
			d.Log.WarnContext(r.Context(), "readiness: database too slow", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{
				"status": "database did not answer within " + ReadinessTimeout.String()})
		case err != nil:
			d.Log.WarnContext(r.Context(), "readiness: database", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable"})
		case !current:
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "migrations pending"})
		default:
			writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		}
	})
}
