package rest

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// TestInputMessage: what every shim answers with its 400: the validation's own
// message, or for a value PostgreSQL refused (the safety net) a fixed one without
// the database's text; any other error is not the caller's.
func TestInputMessage(t *testing.T) {
	t.Parallel()
	for ci, c := range []struct {
		err     error
		msg     string
		isInput bool
	}{
		{&model.InputError{Msg: "search: is not valid UTF-8"}, "search: is not valid UTF-8", true},
		{fmt.Errorf("list: %w", &pgconn.PgError{Code: "22021", Message: "invalid byte sequence"}), db.BadInputMessage, true},
		{fmt.Errorf("list: %w", &pgconn.PgError{Code: "42P01"}), "", false},
	} {
		t.Run(fmt.Sprint(ci), func(t *testing.T) {
			if msg, isInput := inputMessage(c.err); msg != c.msg || isInput != c.isInput {
				t.Errorf("inputMessage(%v) = %q %v, want %q %v", c.err, msg, isInput, c.msg, c.isInput)
			}
		})
	}
}
