// Package reqctx carries per-request values (request id, authenticated principal)
// through a context, for every surface.
package reqctx

import (
	"context"

	"github.com/loggraph/loggraph/model"
)

type key int

const (
	requestIDKey key = iota
	principalKey
)

// WithRequestID returns ctx carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID returns the request id of ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// WithPrincipal returns ctx carrying the authenticated principal.
func WithPrincipal(ctx context.Context, p *model.Principal) context.Context {
	return context.WithValue(ctx, principalKey, p)
}

// Principal returns the authenticated principal of ctx, or nil.
func Principal(ctx context.Context) *model.Principal {
	p, _ := ctx.Value(principalKey).(*model.Principal)
	return p
}
