// Package limits enforces per-workspace rate limits and quotas, so that no workspace
// can take the server from the others: requests per second, ingest rows and bytes per
// second (token buckets), and the memory that a workspace's in-flight ingest batches
// may hold (a non-blocking weighted semaphore, with a server-wide cap as well).
//
// Every refusal is a *guard.Refusal naming the limit, its value and when to retry;
// each surface answers it in its own envelope (429, or 503 for the server-wide memory
// cap). Operators override a workspace's limits with `loggraph workspace limits`;
// the overrides are stored in PostgreSQL and a Limiter reloads them periodically
// (Run) or on demand (Reload). This package holds no SQL: a Source reads them.
//
// Memory is bounded: a workspace's buckets are forgotten once they are full again
// (a full bucket is the same as a new one) and it holds no ingest memory.
package limits

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/loggraph/loggraph/internal/guard"
	"github.com/loggraph/loggraph/model"
)

// Defaults, per workspace unless named "server". 0 in a Config or an override
// means no limit.
const (
	// DefaultRequestsPerSecond is a workspace's sustained request rate on the
	// surfaces that call AdmitRequest.
	DefaultRequestsPerSecond = 100
	// DefaultIngestRowsPerSecond is a workspace's sustained ingest rate in log rows:
	// half of what one server stores on the reference 2-core machine (about 50,000
	// rows/s, BENCHMARKS.md), so one workspace cannot take all of it.
	DefaultIngestRowsPerSecond = 25_000
	// DefaultIngestBytesPerSecond is a workspace's sustained ingest rate in request
	// body bytes (after decompression): 32 MiB/s, so that the default burst holds
	// one body of the default 64 MiB limit.
	DefaultIngestBytesPerSecond = 32 << 20
	// DefaultIngestConcurrentBytes is the memory a workspace's in-flight ingest
	// batches may hold at once (estimated as IngestMemoryFactor times the body).
	DefaultIngestConcurrentBytes = 128 << 20
	// DefaultServerIngestConcurrentBytes is the same for all workspaces together, so
	// that many workspaces at once cannot exhaust the server's memory either.
	DefaultServerIngestConcurrentBytes = 256 << 20
	// DefaultIngestMemoryFactor is the memory an ingest batch costs per body byte.
	// Measured on a 59 MiB app-log NDJSON body through POST /v1/ingest/app: the
	// decoded batch alone holds 1.25x the body, and the Go heap (live plus not yet
	// collected) peaks at 3.05x (GOGC=50) to 3.6x (GOGC=100) of the body above its
	// baseline during the request; issue 8 measured 647 MB RSS for four 60 MiB
	// batches at once, 2.7x each.
	DefaultIngestMemoryFactor = 3
	// DefaultBurst is how many seconds of its rate a bucket holds: a client may send
	// this much at once after being idle. A batch larger than the burst is accepted
	// when the bucket is full, and the workspace then waits the excess off.
	DefaultBurst = 2 * time.Second
	// DefaultReloadInterval is how often a server rereads the overrides: an
	// override set with the CLI takes effect within this delay on every server.
	DefaultReloadInterval = 10 * time.Second
	// SemaphoreRetryAfter is the Retry-After of a refusal for memory: in-flight
	// batches usually finish within a second or two.
	SemaphoreRetryAfter = time.Second
	// initialReservation is the body size reserved for a body of unknown length
	// (chunked, or gzip whose inflated size is unknown); the reservation grows as
	// the body is read.
	initialReservation = 256 << 10
	// growStep is how much body a growing reservation takes at a time beyond what was
	// read, so a long body does not take the lock for every read.
	growStep = 1 << 20
	// sweepEvery is how often idle workspaces are forgotten.
	sweepEvery = time.Minute
)

// LimitServerIngestConcurrentBytes names the server-wide ingest memory cap in
// refusals and metrics (503: the server is busy, not the workspace over its quota).
const LimitServerIngestConcurrentBytes guard.Limit = "server_ingest_concurrent_bytes"

// Values are the limits of one workspace; 0 means no limit.
type Values struct {
	RequestsPerSecond     int64
	IngestRowsPerSecond   int64
	IngestBytesPerSecond  int64
	IngestConcurrentBytes int64
}

// DefaultValues are the per-workspace defaults.
func DefaultValues() Values {
	return Values{
		RequestsPerSecond:     DefaultRequestsPerSecond,
		IngestRowsPerSecond:   DefaultIngestRowsPerSecond,
		IngestBytesPerSecond:  DefaultIngestBytesPerSecond,
		IngestConcurrentBytes: DefaultIngestConcurrentBytes,
	}
}

// With returns v with the overrides o applied (a nil field keeps v's value).
func (v Values) With(o model.WorkspaceLimits) Values {
	set := func(dst *int64, src *int64) {
		if src != nil {
			*dst = *src
		}
	}
	set(&v.RequestsPerSecond, o.RequestsPerSecond)
	set(&v.IngestRowsPerSecond, o.IngestRowsPerSecond)
	set(&v.IngestBytesPerSecond, o.IngestBytesPerSecond)
	set(&v.IngestConcurrentBytes, o.IngestConcurrentBytes)
	return v
}

// Config configures a Limiter. The zero Config limits nothing (benchmarks, tests);
// the server starts from DefaultConfig.
type Config struct {
	// Workspace are the limits of a workspace without overrides.
	Workspace Values
	// ServerIngestConcurrentBytes caps the ingest memory of all workspaces together.
	ServerIngestConcurrentBytes int64
	// IngestMemoryFactor is the estimated memory per ingest body byte (<= 0: default).
	IngestMemoryFactor int64
	// Burst is how many seconds of its rate each bucket holds (<= 0: default).
	Burst time.Duration
	// Now is the clock (nil: time.Now); tests inject one.
	Now func() time.Time
	// Refused, if set, is told of every refusal (metrics).
	Refused func(ws model.Workspace, ref *guard.Refusal)
	// IngestMemory, if set, is told the reserved ingest memory after every change:
	// the workspace's and the server's (metrics; tests wait on it).
	IngestMemory func(ws model.Workspace, workspaceBytes, serverBytes int64)
}

// DefaultConfig is the server's configuration when no flag changes it.
func DefaultConfig() Config {
	return Config{
		Workspace:                   DefaultValues(),
		ServerIngestConcurrentBytes: DefaultServerIngestConcurrentBytes,
		IngestMemoryFactor:          DefaultIngestMemoryFactor,
		Burst:                       DefaultBurst,
	}
}

// Source reads every workspace's overrides (db.WorkspaceLimitStore).
type Source interface {
	AllWorkspaceLimits(ctx context.Context) ([]model.WorkspaceLimits, error)
}

// Limiter enforces the limits of every workspace. A nil *Limiter limits nothing.
type Limiter struct {
	cfg       Config
	src       Source
	overrides atomic.Pointer[map[uuid.UUID]model.WorkspaceLimits]

	mu        sync.Mutex
	states    map[uuid.UUID]*state
	inUse     int64 // ingest memory reserved by every workspace
	lastSweep time.Time
}

// state is one workspace's buckets and reserved ingest memory.
type state struct {
	requests, rows, bytes *bucket
	inUse                 int64
}

// New returns a limiter; src (may be nil) supplies the overrides on Reload.
func New(cfg Config, src Source) *Limiter {
	if cfg.IngestMemoryFactor <= 0 {
		cfg.IngestMemoryFactor = DefaultIngestMemoryFactor
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Limiter{cfg: cfg, src: src, states: map[uuid.UUID]*state{}, lastSweep: cfg.Now()}
	l.overrides.Store(&map[uuid.UUID]model.WorkspaceLimits{})
	return l
}

// Reload rereads the overrides from the source; on failure the previous ones stay.
func (l *Limiter) Reload(ctx context.Context) error {
	if l == nil || l.src == nil {
		return nil
	}
	list, err := l.src.AllWorkspaceLimits(ctx)
	if err != nil {
		return fmt.Errorf("reload workspace limits: %w", err)
	}
	m := make(map[uuid.UUID]model.WorkspaceLimits, len(list))
	for _, o := range list {
		m[o.WorkspaceID] = o
	}
	l.overrides.Store(&m)
	// Apply the new limits now, so the time until a workspace's next request already
	// earns tokens at its new rate.
	now := l.cfg.Now()
	l.mu.Lock()
	for id := range l.states {
		l.state(id, now)
	}
	l.mu.Unlock()
	return nil
}

// Run reloads the overrides every interval until ctx ends.
func (l *Limiter) Run(ctx context.Context, every time.Duration, log *slog.Logger) {
	if l == nil || l.src == nil || every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := l.Reload(ctx); err != nil && ctx.Err() == nil {
				log.Warn("workspace limits: keeping the previous overrides", "err", err)
			}
		}
	}
}

// Effective returns a workspace's limits: the defaults with its overrides.
func (l *Limiter) Effective(id uuid.UUID) Values {
	if l == nil {
		return Values{}
	}
	return l.cfg.Workspace.With((*l.overrides.Load())[id])
}

// burst is the capacity of a bucket of the given rate.
func (l *Limiter) burst(rate int64) float64 {
	return math.Max(1, math.Floor(float64(rate)*l.cfg.Burst.Seconds()))
}

// state returns ws's state with its buckets set to its current limits. l.mu is held.
func (l *Limiter) state(id uuid.UUID, now time.Time) (*state, Values) {
	if now.Sub(l.lastSweep) >= sweepEvery {
		l.sweep(now)
	}
	v := l.Effective(id)
	st := l.states[id]
	if st == nil {
		st = &state{
			requests: newBucket(float64(v.RequestsPerSecond), l.burst(v.RequestsPerSecond), now),
			rows:     newBucket(float64(v.IngestRowsPerSecond), l.burst(v.IngestRowsPerSecond), now),
			bytes:    newBucket(float64(v.IngestBytesPerSecond), l.burst(v.IngestBytesPerSecond), now),
		}
		l.states[id] = st
		return st, v
	}
	st.requests.configure(float64(v.RequestsPerSecond), l.burst(v.RequestsPerSecond), now)
	st.rows.configure(float64(v.IngestRowsPerSecond), l.burst(v.IngestRowsPerSecond), now)
	st.bytes.configure(float64(v.IngestBytesPerSecond), l.burst(v.IngestBytesPerSecond), now)
	return st, v
}

// sweep forgets workspaces whose buckets are full and that hold no ingest memory:
// their state is the same as a new one. l.mu is held.
func (l *Limiter) sweep(now time.Time) {
	l.lastSweep = now
	for id, st := range l.states {
		if st.inUse == 0 && st.requests.full(now) && st.rows.full(now) && st.bytes.full(now) {
			delete(l.states, id)
		}
	}
}

// tracked is how many workspaces the limiter remembers (tests of eviction).
func (l *Limiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.states)
}

func (l *Limiter) refused(ws model.Workspace, ref *guard.Refusal) *guard.Refusal {
	if l.cfg.Refused != nil {
		l.cfg.Refused(ws, ref)
	}
	return ref
}

// rateRefusal is a 429 for a token bucket; the message names the limit, its value,
// the burst, and what to do.
func rateRefusal(limit guard.Limit, what string, ws model.Workspace, rate, burst, n int64, wait time.Duration) *guard.Refusal {
	ref := &guard.Refusal{Status: http.StatusTooManyRequests, Limit: limit, RetryAfter: wait}
	secs := ref.RetryAfterSeconds()
	switch {
	case n > burst:
		ref.Message = fmt.Sprintf("this batch of %d %s is larger than workspace %s's burst of %d %s (limit %d %s per second), "+
			"so it is accepted only when the workspace has sent none for a while; retry after %d s, or split the batch",
			n, what, ws.Slug, burst, what, rate, what, secs)
	case n > 1:
		ref.Message = fmt.Sprintf("workspace %s is over its limit of %d %s per second (bursts up to %d); this batch has %d %s: "+
			"retry after %d s, or send fewer %s per second", ws.Slug, rate, what, burst, n, what, secs, what)
	default:
		ref.Message = fmt.Sprintf("workspace %s is over its limit of %d %s per second (bursts up to %d); retry after %d s",
			ws.Slug, rate, what, burst, secs)
	}
	return ref
}

// AdmitRequest counts one request of ws against its requests-per-second limit.
// Call it right after authentication on every surface.
func (l *Limiter) AdmitRequest(ws model.Workspace) *guard.Refusal {
	if l == nil {
		return nil
	}
	now := l.cfg.Now()
	l.mu.Lock()
	st, v := l.state(ws.ID, now)
	wait := st.requests.wait(1, now)
	if wait == 0 {
		st.requests.take(1, now)
	}
	burst := int64(st.requests.burst)
	l.mu.Unlock()
	if wait == 0 {
		return nil
	}
	return l.refused(ws, rateRefusal(guard.LimitRequestsPerSecond, "requests", ws, v.RequestsPerSecond, burst, 1, wait))
}

// ChargeIngest takes a decoded batch's rows and body bytes from ws's ingest buckets,
// both or neither: call it after decoding and before storing. A refusal names the
// limit that needs the longer wait, and its Retry-After covers both.
func (l *Limiter) ChargeIngest(ws model.Workspace, rows, bytes int64) *guard.Refusal {
	if l == nil {
		return nil
	}
	now := l.cfg.Now()
	l.mu.Lock()
	st, v := l.state(ws.ID, now)
	wr := st.rows.wait(float64(rows), now)
	wb := st.bytes.wait(float64(bytes), now)
	if wr == 0 && wb == 0 {
		st.rows.take(float64(rows), now)
		st.bytes.take(float64(bytes), now)
		l.mu.Unlock()
		return nil
	}
	rowBurst, byteBurst := int64(st.rows.burst), int64(st.bytes.burst)
	l.mu.Unlock()
	if wr >= wb {
		return l.refused(ws, rateRefusal(guard.LimitIngestRowsPerSecond, "ingest rows", ws, v.IngestRowsPerSecond, rowBurst, rows, wr))
	}
	return l.refused(ws, rateRefusal(guard.LimitIngestBytesPerSecond, "ingest bytes", ws, v.IngestBytesPerSecond, byteBurst, bytes, wb))
}
