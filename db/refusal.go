package db

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/loggraph/loggraph/internal/guard"
)

// How long a client is told to wait (Retry-After) after each kind of database refusal.
const (
	// RetryAfterUnavailable follows an outage: a restart or failover takes seconds.
	RetryAfterUnavailable = 5 * time.Second
	// RetryAfterBusy follows a full pool: connections free up as statements end.
	RetryAfterBusy = time.Second
	// RetryAfterStatementTimeout follows a statement timeout: the same request will
	// most likely time out again, so the client should narrow it rather than retry soon.
	RetryAfterStatementTimeout = 10 * time.Second
)

// The messages of database refusals: no SQL, no server detail (that is logged).
const (
	msgUnavailable = "the database is unavailable; retry later"
	msgBusy        = "the database is busy: no connection was free in time; retry later"
)

// AsRefusal classifies a store error as a capacity refusal (503 with Retry-After), or
// returns nil for any other error. ctx is the caller's: a deadline it set itself, or
// its cancellation, is not the database's fault. It is the one place that tells "the
// database is down or overloaded" from "this request failed":
//
//   - a refusal already in err (guard.Refusal) is returned as is;
//   - cannot connect, connection lost, too many clients (53300), shutting down or
//     not accepting connections (57P01..57P03), connection exceptions (class 08), a
//     closed pool: LimitDatabaseUnavailable;
//   - no pooled connection within the acquire timeout, insufficient resources
//     (class 53 other than 53300): LimitDatabaseBusy;
//   - a statement cancelled by statement_timeout (57014) while the caller still
//     waits: LimitStatementTimeout, naming the timeout (GraphQL answers its own
//     QUERY_TIMEOUT for these before asking).
//
// Callers log the error (with the request id) and answer the refusal in their
// surface's envelope; the refusal's message never carries the error's text.
func AsRefusal(ctx context.Context, err error, statementTimeout time.Duration) *guard.Refusal {
	if err == nil {
		return nil
	}
	if ref := guard.As(err); ref != nil {
		return ref
	}
	live := ctx.Err() == nil
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "57014":
			if live {
				return StatementTimeoutRefusal(statementTimeout)
			}
			return nil
		case pgErr.Code == "53300", pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03",
			strings.HasPrefix(pgErr.Code, "08"):
			return unavailable()
		case strings.HasPrefix(pgErr.Code, "53"):
			return busy()
		}
		// Any other server error was a statement's own failure, even inside a
		// connection error (wrong password, unknown database): those are unavailable
		// only when they come from connecting.
	}
	var ce *pgconn.ConnectError
	switch {
	case errors.As(err, &ce), isClosedPool(err), errors.Is(err, driver.ErrBadConn):
		return unavailable()
	case errors.Is(err, context.DeadlineExceeded) && live:
		// The caller's context is live, so the deadline was the acquire timeout's
		// (poolTracer): the pool had no free connection in time.
		return busy()
	case !live:
		return nil
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), isNetError(err), isConnClosed(err):
		// The connection broke under a statement: the server went away.
		return unavailable()
	}
	return nil
}

// StatementTimeoutRefusal is the refusal of a statement cancelled by the statement
// timeout d (0 when unknown).
func StatementTimeoutRefusal(d time.Duration) *guard.Refusal {
	msg := "the query ran past the statement timeout and was cancelled; narrow the time range or the filters"
	if d > 0 {
		msg = fmt.Sprintf("the query ran past the statement timeout (%s) and was cancelled; narrow the time range or the filters", d)
	}
	return &guard.Refusal{Status: 503, Limit: guard.LimitStatementTimeout, Message: msg, RetryAfter: RetryAfterStatementTimeout}
}

func unavailable() *guard.Refusal {
	return &guard.Refusal{Status: 503, Limit: guard.LimitDatabaseUnavailable, Message: msgUnavailable, RetryAfter: RetryAfterUnavailable}
}

func busy() *guard.Refusal {
	return &guard.Refusal{Status: 503, Limit: guard.LimitDatabaseBusy, Message: msgBusy, RetryAfter: RetryAfterBusy}
}

// isClosedPool reports pgxpool's error for a pool closed by shutdown (puddle's
// ErrClosedPool, not imported for one comparison).
func isClosedPool(err error) bool { return strings.Contains(err.Error(), "closed pool") }

func isNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne)
}

// isConnClosed reports pgx's errors for a statement on a connection that died
// (pgconn returns plain errors for these).
func isConnClosed(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "conn closed")
}

// Refusal is AsRefusal with d's statement timeout in the message.
func (d *DB) Refusal(ctx context.Context, err error) *guard.Refusal {
	return AsRefusal(ctx, err, d.pools.opts.StatementTimeout)
}
