package db

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// A server's connections are split into three pools so that one kind of work cannot
// take every connection from the others: with one pool of four, a table locked for
// 25 s made token lookups, other kinds' ingest and /readyz wait for reads.
//
//   - read: GraphQL queries, the REST shims, /api-logs and the exports; the only
//     pool that a caller's query can keep busy for long (bounded per workspace by
//     the read concurrency limit, and by the statement timeout).
//   - ingest: ingest transactions (COPY) and partition upkeep.
//   - system: token lookups, /readyz and the live tail hub's reads: short
//     statements every request or event needs.
//
// The tail hub's LISTEN connection is its own, outside the pools.

// DefaultSystemConns is the system pool's default size.
const DefaultSystemConns = 4

// DefaultAcquireTimeout is how long a statement waits for a pooled connection by
// default before it fails with LimitDatabaseBusy (503, Retry-After).
const DefaultAcquireTimeout = 5 * time.Second

// DefaultMaxConns is the read pool's default size: four per core, at least 8. Reads
// mostly wait on I/O and locks rather than burn a core, so a few per core keep the
// CPU busy; PostgreSQL's default max_connections (100) leaves room for several
// servers.
func DefaultMaxConns() int32 { return int32(max(8, 4*runtime.GOMAXPROCS(0))) }

// DefaultIngestConns is the ingest pool's default size: one per core, at least 4
// (an ingest transaction is CPU-bound in COPY and index upkeep).
func DefaultIngestConns() int32 { return int32(max(4, runtime.GOMAXPROCS(0))) }

func (o Options) withDefaults() Options {
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns()
	}
	if o.IngestConns <= 0 {
		o.IngestConns = DefaultIngestConns()
	}
	if o.SystemConns <= 0 {
		o.SystemConns = DefaultSystemConns
	}
	if o.AcquireTimeout <= 0 {
		o.AcquireTimeout = DefaultAcquireTimeout
	}
	return o
}

// handle is one pgx pool and the bun handle over it.
type handle struct {
	pool *pgxpool.Pool
	bun  *bun.DB
}

func newHandle(ctx context.Context, cfg *pgxpool.Config, size int32) (handle, error) {
	cfg = cfg.Copy()
	cfg.MaxConns = size
	cfg.MinConns = 0
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return handle{}, fmt.Errorf("open pool: %w", err)
	}
	return handle{pool: pool, bun: bun.NewDB(stdlib.OpenDBFromPool(pool), pgdialect.New(), bun.WithDiscardUnknownColumns())}, nil
}

// pools are a DB's three pools (see above).
type pools struct {
	read, ingest, system handle
	opts                 Options
	once                 sync.Once
}

func openPools(ctx context.Context, cfg *pgxpool.Config, opts Options) (*pools, error) {
	ps := &pools{opts: opts}
	var err error
	for _, p := range []struct {
		h    *handle
		size int32
	}{{&ps.read, opts.MaxConns}, {&ps.ingest, opts.IngestConns}, {&ps.system, opts.SystemConns}} {
		if *p.h, err = newHandle(ctx, cfg, p.size); err != nil {
			ps.close()
			return nil, err
		}
	}
	return ps, nil
}

func (ps *pools) close() {
	ps.once.Do(func() {
		for _, h := range []handle{ps.read, ps.ingest, ps.system} {
			if h.pool != nil {
				_ = h.bun.Close()
				h.pool.Close()
			}
		}
	})
}

func (ps *pools) view(h handle, url string) *DB {
	return &DB{Pool: h.pool, Bun: h.bun, URL: url, pools: ps}
}

// SystemDB is d over the system pool: for token lookups, readiness and the live
// tail hub's reads, which must answer while reads are slow.
func (d *DB) SystemDB() *DB { return d.pools.view(d.pools.system, d.URL) }

// IngestDB is d over the ingest pool: for the ingest store and partition upkeep.
func (d *DB) IngestDB() *DB { return d.pools.view(d.pools.ingest, d.URL) }

// ReadDB is d over the read pool (what Open returns).
func (d *DB) ReadDB() *DB { return d.pools.view(d.pools.read, d.URL) }

// poolTracer is every pool's pgx tracer: it counts statements (statementTracer) and
// bounds the wait for a connection. pgxpool has no acquire timeout of its own; the
// acquire runs under a context with the timeout, so a full pool answers
// context.DeadlineExceeded while the caller's own context is still live, which
// Classify tells from the caller's deadline.
type poolTracer struct {
	statementTracer
	acquireTimeout time.Duration
	onStatement    func(sql string, args []any) // Options.OnStatement
}

// TraceQueryStart counts the statement and shows it to onStatement.
func (t poolTracer) TraceQueryStart(ctx context.Context, c *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if t.onStatement != nil {
		t.onStatement(data.SQL, data.Args)
	}
	return t.statementTracer.TraceQueryStart(ctx, c, data)
}

var _ pgxpool.AcquireTracer = poolTracer{}

type acquireCancelKey struct{}

// TraceAcquireStart starts the acquire timeout.
func (t poolTracer) TraceAcquireStart(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireStartData) context.Context {
	if t.acquireTimeout <= 0 {
		return ctx
	}
	actx, cancel := context.WithTimeout(ctx, t.acquireTimeout)
	return context.WithValue(actx, acquireCancelKey{}, cancel)
}

// TraceAcquireEnd stops the acquire timeout's timer. The connection does not keep
// the acquire's context: statements run under the caller's.
func (poolTracer) TraceAcquireEnd(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireEndData) {
	if cancel, ok := ctx.Value(acquireCancelKey{}).(context.CancelFunc); ok {
		cancel()
	}
}
