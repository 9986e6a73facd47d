// Package guard names why a request is refused for capacity rather than for what it
// asks: a per-workspace rate or quota (429) or an overloaded or unreachable database
// (503). Each surface answers a Refusal in its own envelope with a Retry-After header,
// so a client can tell "retry later" from "your request is wrong".
package guard

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Limit names a refused limit in bodies, metrics and logs.
type Limit string

// The limits a Refusal can name.
const (
	// Per-workspace rates and quotas: 429.
	LimitRequestsPerSecond     Limit = "requests_per_second"
	LimitIngestRowsPerSecond   Limit = "ingest_rows_per_second"
	LimitIngestBytesPerSecond  Limit = "ingest_bytes_per_second"
	LimitIngestConcurrentBytes Limit = "ingest_concurrent_bytes"
	LimitConcurrentQueries     Limit = "concurrent_queries"
	// The server's own capacity: 503.
	LimitDatabaseUnavailable Limit = "database_unavailable" // cannot connect, shutting down, too many clients
	LimitDatabaseBusy        Limit = "database_busy"        // no pooled connection within the acquire timeout
	LimitStatementTimeout    Limit = "statement_timeout"    // a statement ran past the statement timeout
)

// Refusal is a request refused for capacity. It is an error, so stores and
// middleware can return it and surfaces find it with errors.As.
type Refusal struct {
	// Status is 429 (a workspace's rate or quota) or 503 (overload, outage).
	Status int
	// Limit names what was exceeded.
	Limit Limit
	// Message is one sentence for the caller: the limit, its value, what to do.
	Message string
	// RetryAfter is when a retry may succeed; the header rounds it up to whole seconds
	// (at least 1).
	RetryAfter time.Duration
}

func (r *Refusal) Error() string { return r.Message }

// RetryAfterSeconds is the Retry-After header value: whole seconds, at least 1.
func (r *Refusal) RetryAfterSeconds() int {
	s := int(math.Ceil(r.RetryAfter.Seconds()))
	return max(s, 1)
}

// SetHeader sets Retry-After on h.
func (r *Refusal) SetHeader(h http.Header) {
	h.Set("Retry-After", strconv.Itoa(r.RetryAfterSeconds()))
}

// As returns the Refusal inside err, or nil.
func As(err error) *Refusal {
	if r, ok := errors.AsType[*Refusal](err); ok {
		return r
	}
	return nil
}
