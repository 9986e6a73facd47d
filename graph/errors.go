package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/reqctx"
	"github.com/loggraph/loggraph/model"
)

// Error codes carried in extensions.code.
const (
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	CodeBadUserInput    = "BAD_USER_INPUT"
	CodeNotFound        = "NOT_FOUND"
	CodeQueryTimeout    = "QUERY_TIMEOUT"
	CodeInternal        = "INTERNAL_SERVER_ERROR"
)

// userError is an error whose message is meant for the caller.
func userError(code, format string, args ...any) *gqlerror.Error {
	return &gqlerror.Error{Message: fmt.Sprintf(format, args...), Extensions: map[string]any{"code": code}}
}

func errUnauthenticated() error {
	return userError(CodeUnauthenticated, "an API token is required: send `Authorization: Bearer <token>`")
}

// batchError reports every bad record of a rejected ingest mutation.
func batchError(be *model.BatchError) error {
	e := userError(CodeBadUserInput, "%d bad log(s); nothing was stored", be.Total)
	lines := make([]map[string]any, len(be.Lines))
	for i, l := range be.Lines {
		lines[i] = map[string]any{"index": l.Line - 1, "message": l.Message}
	}
	e.Extensions["invalidLogs"] = lines
	return e
}

// presentError gives every error a code and the request id. An error is the
// caller's if it carries a code, is a model.InputError (filters, paging, scalars), or
// is one of gqlgen's own parse/validation errors (a *gqlerror.Error with no Go error
// inside). Anything else, including a resolver's error that gqlgen wrapped, is
// logged and answered "internal error", so no SQL or stack reaches a client.
func presentError(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		var out *gqlerror.Error
		var coded *gqlerror.Error
		var inputErr *model.InputError
		direct, isGQL := err.(*gqlerror.Error)
		budget := budgetError(ctx)
		stopped := errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || db.IsQueryCanceled(err)
		switch {
		case budget != nil && stopped:
			// The operation's deadline or statement limit cancelled its context.
			out = budget
			if isGQL {
				out.Path = direct.Path
			}
		case stopped && ctx.Err() != nil && context.Cause(ctx) == context.Canceled:
			// The client went away: nobody reads this, and it is no server failure.
			out = userError(CodeQueryTimeout, "the request was cancelled")
		case errors.As(err, &coded) && coded.Extensions["code"] != nil:
			out = coded
			if isValueError(coded) {
				out.Extensions["code"] = CodeBadUserInput
			}
		case errors.As(err, &inputErr):
			out = userError(CodeBadUserInput, "%s", inputErr.Msg)
			if isGQL {
				out.Path = direct.Path
			}
		case isGQL && direct.Err == nil:
			out = direct
			if out.Extensions == nil {
				out.Extensions = map[string]any{}
			}
			out.Extensions["code"] = CodeBadUserInput
		case db.IsBadInputValue(err):
			// A safety net: a value only the caller can have sent that PostgreSQL
			// refused (the validation before SQL should have caught it first).
			log.WarnContext(ctx, "graphql input refused by PostgreSQL", "err", err)
			out = userError(CodeBadUserInput, "%s", db.BadInputMessage)
		case db.IsQueryCanceled(err):
			out = userError(CodeQueryTimeout, "the query took too long and was cancelled; narrow the time range or the filters")
		case db.AsRefusal(ctx, err, 0) != nil:
			// The database is down or busy (or another capacity refusal): retry later.
			ref := db.AsRefusal(ctx, err, 0)
			log.WarnContext(ctx, "graphql refused", "limit", string(ref.Limit), "err", err)
			out = RefusalError(ref)
			if isGQL {
				out.Path = direct.Path
			}
		case errors.Is(err, context.DeadlineExceeded):
			out = userError(CodeQueryTimeout, "the query took too long and was cancelled; narrow the time range or the filters")
		default:
			log.ErrorContext(ctx, "graphql resolver failed", "err", err)
			out = userError(CodeInternal, "internal error")
			if isGQL {
				out.Path = direct.Path
			}
		}
		if out.Path == nil {
			out.Path = graphql.GetPath(ctx)
		}
		if id := reqctx.RequestID(ctx); id != "" {
			out.Extensions["requestId"] = id
		}
		return out
	}
}

// recoverPanic turns a resolver panic into INTERNAL_SERVER_ERROR (and a log line).
func recoverPanic(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "graphql panic", "panic", fmt.Sprint(p))
		return &gqlerror.Error{Message: "internal error", Extensions: map[string]any{"code": CodeInternal}}
	}
}

// isValueError tells a wrong argument or variable value (an unknown enum value, a
// string for an Int), which is BAD_USER_INPUT, from other validation failures of the
// document (an unknown field), which keep gqlgen's GRAPHQL_VALIDATION_FAILED.
func isValueError(e *gqlerror.Error) bool {
	if e.Extensions["code"] != errcode.ValidationFailed {
		return false
	}
	if e.Rule == "ValuesOfCorrectType" {
		return true
	}
	return len(e.Path) > 0 && e.Path[0] == ast.PathName("variable")
}
