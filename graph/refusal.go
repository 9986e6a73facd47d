package graph

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/loggraph/loggraph/internal/guard"
	"github.com/loggraph/loggraph/internal/reqctx"
)

// Error codes of capacity refusals (a *guard.Refusal): retry after
// extensions.retryAfter seconds; extensions.limit names the limit.
const (
	// CodeServiceUnavailable: the database is down or overloaded (503).
	CodeServiceUnavailable = "SERVICE_UNAVAILABLE"
	// CodeRateLimited: the workspace is over one of its rates or quotas, or runs its
	// allowance of concurrent reads (429).
	CodeRateLimited = "RATE_LIMITED"
)

// RefusalError is the GraphQL error of a capacity refusal: code SERVICE_UNAVAILABLE
// (503) or RATE_LIMITED (429), with limit and retryAfter (seconds) in extensions. A
// resolver or interceptor returns it (or any error wrapping the *guard.Refusal: the
// error presenter renders those the same way); when every error of a response is a
// refusal and there is no data, the HTTP response takes the refusal's status and
// Retry-After.
func RefusalError(ref *guard.Refusal) *gqlerror.Error {
	code := CodeServiceUnavailable
	if ref.Status == http.StatusTooManyRequests {
		code = CodeRateLimited
	}
	return &gqlerror.Error{Message: ref.Message, Extensions: map[string]any{
		"code": code, "limit": string(ref.Limit), "retryAfter": ref.RetryAfterSeconds(),
	}}
}

// refusalStatus returns the HTTP status and Retry-After seconds of a response whose
// operation failed for capacity alone: no data (or only null root fields), and every
// error a refusal. ok is false otherwise.
func refusalStatus(resp *graphql.Response) (status, retryAfter int, ok bool) {
	if len(resp.Errors) == 0 || !noData(resp.Data) {
		return 0, 0, false
	}
	for _, e := range resp.Errors {
		var s int
		switch e.Extensions["code"] {
		case CodeServiceUnavailable:
			s = http.StatusServiceUnavailable
		case CodeRateLimited:
			s = http.StatusTooManyRequests
		default:
			return 0, 0, false
		}
		// 503 (the server's state) outranks 429 (the workspace's).
		status = max(status, s)
		if ra, isInt := e.Extensions["retryAfter"].(int); isInt {
			retryAfter = max(retryAfter, ra)
		}
	}
	return status, max(retryAfter, 1), true
}

// noData reports data that is absent, null, or an object of null root fields.
func noData(data json.RawMessage) bool {
	if len(data) == 0 || string(data) == "null" {
		return true
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(data, &fields) != nil {
		return false
	}
	for _, v := range fields {
		if string(v) != "null" {
			return false
		}
	}
	return true
}

// readSlots runs each data root field of an authenticated query within one of its
// workspace's read slots (guard.ReadSlots): beyond the allowance a field waits, then
// is refused with RATE_LIMITED. The slot is per root field, not per operation,
// because gqlgen resolves root fields concurrently: one operation of many aliased
// root fields would otherwise hold as many pooled connections as it has fields. A
// slot holder never waits for another slot (its nested fields take none), so slots
// cannot deadlock. Introspection takes no slot; mutations (ingest, tokens) and
// subscriptions (long-lived, fed by the tail hub) take none either.
func readSlots(slots *guard.ReadSlots) graphql.RootFieldMiddleware {
	return func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
		p := reqctx.Principal(ctx)
		if p == nil || slots == nil || !graphql.HasOperationContext(ctx) {
			return next(ctx)
		}
		if op := graphql.GetOperationContext(ctx).Operation; op == nil || op.Operation != ast.Query {
			return next(ctx)
		}
		if f := graphql.GetRootFieldContext(ctx); f == nil || strings.HasPrefix(f.Field.Name, "__") {
			return next(ctx)
		}
		release, err := slots.Acquire(ctx, p.Workspace.ID)
		if err != nil {
			if ref := guard.As(err); ref != nil {
				graphql.AddError(ctx, RefusalError(ref))
			}
			return graphql.Null // or the client went away while waiting
		}
		defer release()
		return next(ctx)
	}
}

// writeGraphQLRefusal answers a refusal met before the executor (the token lookup):
// the refusal's status and Retry-After, the error with its code, limit and retryAfter.
func writeGraphQLRefusal(w http.ResponseWriter, r *http.Request, ref *guard.Refusal, stats map[string]any) {
	e := RefusalError(ref)
	if id := reqctx.RequestID(r.Context()); id != "" {
		e.Extensions["requestId"] = id
	}
	mt, ok := responseMediaType(r.Header.Get("Accept"))
	if !ok {
		mt = mediaJSON
	}
	ref.SetHeader(w.Header())
	w.Header().Set("Content-Type", mt+"; charset=utf-8")
	w.WriteHeader(ref.Status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors":     []any{map[string]any{"message": e.Message, "extensions": e.Extensions}},
		"extensions": map[string]any{"stats": stats},
	})
}
