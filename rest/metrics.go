package rest

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/guard"
	"github.com/loggraph/loggraph/internal/limits"
	"github.com/loggraph/loggraph/model"
)

// Metrics are the server's Prometheus metrics, on a registry of its own (so tests and
// several servers in one process do not collide).
type Metrics struct {
	Registry      *prometheus.Registry
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	ingestedRows  *prometheus.CounterVec
	ingestedDups  *prometheus.CounterVec
	ingestBatches *prometheus.CounterVec
	throttled     *prometheus.CounterVec
	// protocolRecords counts the records of the shippers' protocols (otlp, loki) by
	// outcome: stored, duplicate (already stored) or rejected (invalid).
	protocolRecords *prometheus.CounterVec
}

// NewMetrics registers the HTTP, ingest, DB pool and Go runtime metrics.
func NewMetrics(pool *pgxpool.Pool) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loggraph_http_requests_total", Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "loggraph_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
		ingestedRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loggraph_ingested_rows_total", Help: "Log rows stored, by kind.",
		}, []string{"kind"}),
		ingestedDups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loggraph_ingest_duplicates_total", Help: "Records skipped as already stored, by kind.",
		}, []string{"kind"}),
		ingestBatches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loggraph_ingest_batches_total", Help: "Ingest batches by kind and outcome (stored, rejected, failed).",
		}, []string{"kind", "outcome"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loggraph_throttled_total", Help: "Requests refused by a per-workspace rate limit or quota, by workspace slug and limit.",
		}, []string{"workspace", "limit"}),
		protocolRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loggraph_ingest_protocol_records_total",
			Help: "Log records received over OTLP/HTTP and the Loki push API, by protocol and outcome (stored, duplicate, rejected).",
		}, []string{"protocol", "outcome"}),
	}
	reg.MustRegister(m.requests, m.latency, m.ingestedRows, m.ingestedDups, m.ingestBatches, m.throttled, m.protocolRecords,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&poolCollector{pool: pool})
	for _, k := range model.AllKinds {
		m.ingestedRows.WithLabelValues(k.Route())
	}
	return m
}

// Ingested records a stored batch.
func (m *Metrics) Ingested(kind model.LogKind, res db.IngestResult) {
	m.ingestedRows.WithLabelValues(kind.Route()).Add(float64(res.Accepted))
	m.ingestedDups.WithLabelValues(kind.Route()).Add(float64(res.Duplicates))
	m.ingestBatches.WithLabelValues(kind.Route(), "stored").Inc()
}

// protocolIngested counts a request's records of a shipper protocol.
func (m *Metrics) protocolIngested(protocol string, res db.IngestResult, rejected int) {
	m.protocolRecords.WithLabelValues(protocol, "stored").Add(float64(res.Accepted))
	m.protocolRecords.WithLabelValues(protocol, "duplicate").Add(float64(res.Duplicates))
	m.protocolRecords.WithLabelValues(protocol, "rejected").Add(float64(rejected))
}

// Throttled counts a refusal by a workspace's limit (limits.Config.Refused).
func (m *Metrics) Throttled(ws model.Workspace, ref *guard.Refusal) {
	m.throttled.WithLabelValues(ws.Slug, string(ref.Limit)).Inc()
}

// WatchLimiter exports the ingest memory the limiter has reserved, read at scrape time.
func (m *Metrics) WatchLimiter(l *limits.Limiter) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "loggraph_ingest_memory_bytes",
		Help: "Estimated memory reserved by in-flight ingest batches, all workspaces (--ingest-memory-factor times their bodies).",
	}, func() float64 { return float64(l.IngestMemoryInUse()) }))
}

// WatchTail exports the live tail hub's state, read at scrape time: a backlog that
// grows means the hub is falling behind (past TailOptions.Backlog every
// subscription ends).
func (m *Metrics) WatchTail(h *db.TailHub) {
	m.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "loggraph_tail_subscribers",
			Help: "Open logTail subscriptions on this server.",
		}, func() float64 { return float64(h.Subscribers()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "loggraph_tail_backlog_notices",
			Help: "Committed ingest batches notified to the tail hub and not read yet.",
		}, func() float64 { return float64(h.Backlog()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "loggraph_tail_pending_logs",
			Help: "Logs read by the tail hub and waiting in subscribers' queues.",
		}, func() float64 { return float64(h.Pending()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "loggraph_tail_reads_total",
			Help: "Statements the tail hub ran to read notified batches.",
		}, func() float64 { return float64(h.Fetches()) }),
	)
}

// WatchTokens exports the principal cache's counters, read at scrape time: hits ran
// no statement; misses and bypasses each ran the token lookup.
func (m *Metrics) WatchTokens(s *db.TokenStore) {
	m.Registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "loggraph_token_cache_hits_total",
			Help: "Token authentications answered from the principal cache, without a statement.",
		}, func() float64 { return float64(s.CacheStats().Hits) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "loggraph_token_cache_misses_total",
			Help: "Token authentications that looked the token up while the principal cache was on (not cached, expired, or unknown).",
		}, func() float64 { return float64(s.CacheStats().Misses) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "loggraph_token_cache_bypasses_total",
			Help: "Token authentications that looked the token up because the principal cache was off: the revocation listener was not listening.",
		}, func() float64 { return float64(s.CacheStats().Bypasses) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "loggraph_token_cache_entries",
			Help: "Principals in the token cache.",
		}, func() float64 { return float64(s.CacheStats().Entries) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "loggraph_token_cache_on",
			Help: "1 while the principal cache answers (its revocation listener listens), else 0.",
		}, func() float64 {
			if s.CacheStats().On {
				return 1
			}
			return 0
		}),
	)
}

// WatchAnalyticsCache exports the analytics cache's counters, read at scrape time.
func (m *Metrics) WatchAnalyticsCache(c *db.AnalyticsCache) {
	m.Registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "loggraph_analytics_cache_hits_total",
			Help: "Closed histogram buckets answered from the analytics cache.",
		}, func() float64 { return float64(c.Stats().Hits) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "loggraph_analytics_cache_misses_total",
			Help: "Closed histogram buckets computed because the analytics cache did not hold them.",
		}, func() float64 { return float64(c.Stats().Misses) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "loggraph_analytics_cache_changed_total",
			Help: "Cached histogram buckets computed again because their logs changed (late logs, deletes, retention).",
		}, func() float64 { return float64(c.Stats().Changed) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "loggraph_analytics_cache_evicted_total",
			Help: "Histogram buckets dropped from the analytics cache to stay within --analytics-cache-buckets.",
		}, func() float64 { return float64(c.Stats().Evicted) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "loggraph_analytics_cache_buckets",
			Help: "Histogram buckets in the analytics cache.",
		}, func() float64 { return float64(c.Stats().Buckets) }),
	)
}

// poolCollector exports pgxpool statistics at scrape time.
type poolCollector struct{ pool *pgxpool.Pool }

var (
	poolTotal    = prometheus.NewDesc("loggraph_db_pool_connections", "Open connections by state.", []string{"state"}, nil)
	poolMax      = prometheus.NewDesc("loggraph_db_pool_max_connections", "Maximum pool size.", nil, nil)
	poolAcquires = prometheus.NewDesc("loggraph_db_pool_acquires_total", "Connections acquired from the pool.", nil, nil)
	poolWaits    = prometheus.NewDesc("loggraph_db_pool_empty_acquires_total", "Acquires that waited for a free connection.", nil, nil)
	poolWaitSecs = prometheus.NewDesc("loggraph_db_pool_acquire_seconds_total", "Time spent acquiring connections.", nil, nil)
)

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- poolTotal
	ch <- poolMax
	ch <- poolAcquires
	ch <- poolWaits
	ch <- poolWaitSecs
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(s.AcquiredConns()), "acquired")
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(s.IdleConns()), "idle")
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(s.ConstructingConns()), "constructing")
	ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(poolAcquires, prometheus.CounterValue, float64(s.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWaitSecs, prometheus.CounterValue, s.AcquireDuration().Seconds())
}
