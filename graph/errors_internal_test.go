package graph

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/loggraph/loggraph/db"
)

// TestPresentErrorBadInputValue: the safety net. A data exception PostgreSQL raises
// only for a value the caller sent (one the validation before SQL missed) is
// BAD_USER_INPUT with a fixed message, never the database's text; other database
// errors stay internal.
func TestPresentErrorBadInputValue(t *testing.T) {
	t.Parallel()
	present := presentError(slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, code := range []string{"22021", "22P05", "22P02", "22008"} {
		pgErr := &pgconn.PgError{Code: code, Message: `invalid byte sequence for encoding "UTF8": 0x00`, InternalQuery: "SELECT secret"}
		got := present(context.Background(), fmt.Errorf("list app_logs: %w", pgErr))
		if got.Extensions["code"] != CodeBadUserInput || got.Message != db.BadInputMessage {
			t.Errorf("%s: %v %q", code, got.Extensions["code"], got.Message)
		}
	}
	got := present(context.Background(), fmt.Errorf("list: %w", &pgconn.PgError{Code: "42P01", Message: `relation "x" does not exist`}))
	if got.Extensions["code"] != CodeInternal || got.Message != "internal error" {
		t.Errorf("42P01: %v %q", got.Extensions["code"], got.Message)
	}
}
