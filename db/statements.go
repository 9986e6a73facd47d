package db

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// StatementCounter counts the SQL statements sent to PostgreSQL on behalf of one
// unit of work (a GraphQL response, say). It is safe for concurrent use: resolvers
// of one response run in parallel goroutines.
type StatementCounter struct {
	n atomic.Int64
	// limit, when positive, is the most statements allowed; the first statement
	// past it is not counted, and cancels exceeded's context instead.
	limit    int64
	exceeded context.CancelCauseFunc
}

// StatementLimitError is the cause of a context cancelled by LimitStatements.
type StatementLimitError struct {
	// Limit is the number of statements that were allowed.
	Limit int64
}

func (e *StatementLimitError) Error() string {
	return fmt.Sprintf("more than %d SQL statements", e.Limit)
}

// LimitStatements caps the statements of ctx's counter at limit: the statement
// that would exceed it is not counted, ctx is cancelled with a *StatementLimitError
// as its cause, and the statement fails with the context's error before it is
// sent (pgx checks the context before sending, and its context derives from ctx).
// It must be called before any statement runs with ctx; without a counter in ctx,
// or with limit < 1, it only makes the cancellable context. The returned
// CancelFunc releases the context.
func LimitStatements(ctx context.Context, limit int64) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	if c, _ := ctx.Value(statementCounterKey{}).(*StatementCounter); c != nil && limit > 0 {
		c.limit, c.exceeded = limit, cancel
	}
	return ctx, func() { cancel(context.Canceled) }
}

// Count returns the statements counted so far.
func (c *StatementCounter) Count() int64 {
	if c == nil {
		return 0
	}
	return c.n.Load()
}

type statementCounterKey struct{}

// WithStatementCounter returns ctx carrying a fresh counter, and the counter. Every
// statement run with ctx (or a context derived from it) through the pool, bun's
// database/sql handle over it, or a connection acquired from it, is counted: each
// Query, QueryRow and Exec (BEGIN and COMMIT included, they are round trips too),
// each query of a batch, and each CopyFrom. A nested call replaces the counter for
// the inner context only.
func WithStatementCounter(ctx context.Context) (context.Context, *StatementCounter) {
	c := new(StatementCounter)
	return context.WithValue(ctx, statementCounterKey{}, c), c
}

// StatementCount returns the statements counted so far by ctx's counter, or 0 when
// ctx carries none.
func StatementCount(ctx context.Context) int64 {
	c, _ := ctx.Value(statementCounterKey{}).(*StatementCounter)
	return c.Count()
}

func countStatement(ctx context.Context) {
	c, _ := ctx.Value(statementCounterKey{}).(*StatementCounter)
	if c == nil {
		return
	}
	if c.limit <= 0 {
		c.n.Add(1)
		return
	}
	for {
		n := c.n.Load()
		if n >= c.limit {
			c.exceeded(&StatementLimitError{Limit: c.limit})
			return
		}
		if c.n.CompareAndSwap(n, n+1) {
			return
		}
	}
}

// statementTracer is the pool's pgx tracer: it feeds the StatementCounter of the
// statement's context. It counts at the start of a statement, so a failed or
// cancelled statement counts too (it was sent), except one refused by
// LimitStatements (it is not sent). Prepare is not counted: pgx prepares
// implicitly as part of running a statement, which is already counted.
type statementTracer struct{}

var (
	_ pgx.QueryTracer    = statementTracer{}
	_ pgx.BatchTracer    = statementTracer{}
	_ pgx.CopyFromTracer = statementTracer{}
)

// TraceQueryStart counts one Query, QueryRow or Exec.
func (statementTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	countStatement(ctx)
	return ctx
}

// TraceQueryEnd does nothing: the statement was counted when it started.
func (statementTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TraceBatchStart does nothing: each query of the batch is counted by TraceBatchQuery.
func (statementTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

// TraceBatchQuery counts one query of a batch.
func (statementTracer) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchQueryData) {
	countStatement(ctx)
}

// TraceBatchEnd does nothing.
func (statementTracer) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// TraceCopyFromStart counts one COPY.
func (statementTracer) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceCopyFromStartData) context.Context {
	countStatement(ctx)
	return ctx
}

// TraceCopyFromEnd does nothing.
func (statementTracer) TraceCopyFromEnd(context.Context, *pgx.Conn, pgx.TraceCopyFromEndData) {}
