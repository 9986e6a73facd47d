package rest

import (
	"errors"
	"net/http"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/reqctx"
	"github.com/loggraph/loggraph/model"
)

// Refusal is why a shim refuses a request before looking at its parameters; each
// shim answers it in its own envelope.
type Refusal int

// Refusals, in the order they are checked: auth fails before validation, validation
// before lookup.
const (
	Allowed         Refusal = iota
	Unauthenticated         // no token, or a bad or revoked one: 401
	Forbidden               // a token whose role may not read: 403
	Unavailable             // the token store failed: 500 (logged)
)

// ReadPrincipal resolves a shim's token (already taken from the shim's header,
// without its scheme) to a principal allowed to read.
func ReadPrincipal(d Deps, r *http.Request, token string) (*model.Principal, Refusal) {
	if token == "" {
		return nil, Unauthenticated
	}
	p, err := d.Tokens.Authenticate(r.Context(), token)
	switch {
	case errors.Is(err, db.ErrInvalidToken), errors.Is(err, db.ErrRevokedToken):
		return nil, Unauthenticated
	case err != nil:
		d.Log.ErrorContext(r.Context(), "authenticate", "err", err, "request_id", reqctx.RequestID(r.Context()))
		return nil, Unavailable
	case !p.Role.CanRead():
		return p, Forbidden
	}
	return p, Allowed
}
