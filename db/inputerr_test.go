package db

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestIsBadInputValue(t *testing.T) {
	t.Parallel()
	for ci, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("list: %w", &pgconn.PgError{Code: "22021"}), true},
		{&pgconn.PgError{Code: "22P05"}, true},
		{&pgconn.PgError{Code: "22P02"}, true},
		{&pgconn.PgError{Code: "22008"}, true},
		{&pgconn.PgError{Code: "23505"}, false},
		{&pgconn.PgError{Code: "57014"}, false},
		{errors.New("connection reset"), false},
		{nil, false},
	} {
		t.Run(fmt.Sprint(ci), func(t *testing.T) {
			if got := IsBadInputValue(c.err); got != c.want {
				t.Errorf("IsBadInputValue(%v) = %v, want %v", c.err, got, c.want)
			}
		})
	}
}
