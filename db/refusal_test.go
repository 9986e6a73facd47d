package db_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/guard"
)

// TestAsRefusalClassifies: outages, full pools and statement timeouts are refusals
// naming their limit; a statement's own failure, or a caller that gave up, is not.
func TestAsRefusalClassifies(t *testing.T) {
	live := context.Background()
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	pg := func(code string) error {
		return fmt.Errorf("list logs: %w", &pgconn.PgError{Code: code, Message: "SELECT secret"})
	}
	mine := &guard.Refusal{Status: 429, Limit: guard.LimitRequestsPerSecond, Message: "slow down"}
	for _, c := range []struct {
		name  string
		ctx   context.Context
		err   error
		limit guard.Limit // "" for no refusal
	}{
		{"too many clients", live, pg("53300"), guard.LimitDatabaseUnavailable},
		{"admin shutdown", live, pg("57P01"), guard.LimitDatabaseUnavailable},
		{"cannot connect now", live, pg("57P03"), guard.LimitDatabaseUnavailable},
		{"connection failure", live, pg("08006"), guard.LimitDatabaseUnavailable},
		{"out of memory", live, pg("53200"), guard.LimitDatabaseBusy},
		{"statement timeout", live, pg("57014"), guard.LimitStatementTimeout},
		{"cancelled by the caller", gone, pg("57014"), ""},
		{"acquire timeout", live, fmt.Errorf("acquire: %w", context.DeadlineExceeded), guard.LimitDatabaseBusy},
		{"the caller's deadline", gone, context.DeadlineExceeded, ""},
		{"connection lost", live, fmt.Errorf("read: %w", io.ErrUnexpectedEOF), guard.LimitDatabaseUnavailable},
		{"a refusal already", live, fmt.Errorf("wrapped: %w", mine), guard.LimitRequestsPerSecond},
		{"undefined table", live, pg("42P01"), ""},
		{"unique violation", live, pg("23505"), ""},
		{"plain", live, errors.New("boom"), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			ref := db.AsRefusal(c.ctx, c.err, 2*time.Second)
			switch {
			case c.limit == "" && ref != nil:
				t.Fatalf("refusal %+v, want none", ref)
			case c.limit == "":
				return
			case ref == nil || ref.Limit != c.limit:
				t.Fatalf("refusal %+v, want limit %s", ref, c.limit)
			}
			if c.limit != guard.LimitRequestsPerSecond && (ref.Status != 503 || ref.RetryAfter <= 0) {
				t.Errorf("refusal %+v: want 503 with a Retry-After", ref)
			}
		})
	}
	if ref := db.AsRefusal(live, pg("57014"), 2*time.Second); ref.Message !=
		"the query ran past the statement timeout (2s) and was cancelled; narrow the time range or the filters" {
		t.Errorf("statement timeout message: %q", ref.Message)
	}
}
