package rest

import (
	"net/http"

	"github.com/loggraph/loggraph/internal/auth"
	"github.com/loggraph/loggraph/internal/guard"
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
	OverCapacity            // a capacity refusal (429/503, the *guard.Refusal returned): the shim's refusal writer answers it
)

// ReadPrincipal resolves a shim's token (already taken from the shim's header,
// without its scheme) to a principal allowed to read, and takes one of its
// workspace's read slots for the rest of the request. OverCapacity comes with the
// refusal to answer (the database is down or busy, or the workspace runs its
// allowance of reads).
func ReadPrincipal(d Deps, r *http.Request, token string) (*model.Principal, Refusal, *guard.Refusal) {
	if token == "" {
		return nil, Unauthenticated, nil
	}
	p, err := d.Tokens.Authenticate(r.Context(), token)
	switch {
	case auth.Rejected(err):
		return nil, Unauthenticated, nil
	case err != nil:
		if ref := d.refusal(r.Context(), "authenticate", err); ref != nil {
			return nil, OverCapacity, ref
		}
		d.Log.ErrorContext(r.Context(), "authenticate", "err", err)
		return nil, Unavailable, nil
	}
	// Every authenticated request counts against its workspace's rate, a forbidden
	// one too, as on the /v1 routes.
	if ref := d.Limiter.AdmitRequest(p.Workspace); ref != nil {
		return p, OverCapacity, ref
	}
	switch {
	case !p.Role.CanRead():
		return p, Forbidden, nil
	}
	if ref := d.readSlot(r, p); ref != nil {
		return p, OverCapacity, ref
	}
	return p, Allowed, nil
}
