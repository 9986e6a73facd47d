package graph

import (
	"context"

	"github.com/loggraph/loggraph/internal/reqctx"
	"github.com/loggraph/loggraph/model"
)

// need returns the caller if its role passes allowed, else an UNAUTHENTICATED or
// FORBIDDEN error naming what was needed.
func need(ctx context.Context, allowed func(model.Role) bool, what string) (*model.Principal, error) {
	p := reqctx.Principal(ctx)
	if p == nil {
		return nil, errUnauthenticated()
	}
	if !allowed(p.Role) {
		return nil, userError(CodeForbidden, "this token's role (%s) may not %s", p.Role, what)
	}
	return p, nil
}

func anyRole(model.Role) bool { return true }
