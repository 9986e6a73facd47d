// Package auth holds what every surface reads the same way about API tokens: the
// Bearer scheme, and which token errors are the caller's (a 401), not the server's.
package auth

import (
	"errors"
	"strings"

	"github.com/loggraph/loggraph/db"
)

// BearerToken reads a credential of the Bearer scheme, `Bearer <token>` (the
// scheme's case does not matter, RFC 9110; spaces around the token do not count).
// ok is false when the scheme is another or the token is empty. Surrounding
// whitespace is not trimmed: Go's HTTP server strips it from header values already,
// and a websocket's connection_init payload is taken as sent.
func BearerToken(credentials string) (token string, ok bool) {
	scheme, token, _ := strings.Cut(credentials, " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// Rejected reports whether err (from db.TokenStore.Authenticate) refuses the token
// itself, unknown or revoked: a 401 whose message (err.Error()) the caller may see.
// Any other error is the server's.
func Rejected(err error) bool {
	return errors.Is(err, db.ErrInvalidToken) || errors.Is(err, db.ErrRevokedToken)
}
