package auth

import (
	"fmt"
	"testing"

	"github.com/loggraph/loggraph/db"
)

func TestBearerToken(t *testing.T) {
	for _, c := range []struct {
		in, token string
		ok        bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"BEARER   abc  ", "abc", true},
		{"Bearer", "", false},
		{"Bearer   ", "", false},
		{"Basic abc", "", false},
		{"abc", "", false},
		{"Bearer\tabc", "", false},
		{" Bearer abc", "", false}, // surrounding whitespace is the caller's
		{"", "", false},
	} {
		t.Run(fmt.Sprintf("%q", c.in), func(t *testing.T) {
			if token, ok := BearerToken(c.in); token != c.token || ok != c.ok {
				t.Errorf("BearerToken(%q) = %q, %v; want %q, %v", c.in, token, ok, c.token, c.ok)
			}
		})
	}
}

func TestRejected(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{db.ErrInvalidToken, true},
		{fmt.Errorf("authenticate: %w", db.ErrRevokedToken), true},
		{fmt.Errorf("authenticate: connection refused"), false},
		{nil, false},
	} {
		t.Run(fmt.Sprint(c.err), func(t *testing.T) {
			if got := Rejected(c.err); got != c.want {
				t.Errorf("Rejected(%v) = %v", c.err, got)
			}
		})
	}
}
