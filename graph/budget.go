package graph

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/loggraph/loggraph/db"
)

// CodeStatementLimit is the extensions.code of a query refused or stopped by the
// statement limit (Config.MaxStatements).
const CodeStatementLimit = "STATEMENT_LIMIT_EXCEEDED"

// Defaults of the operation budget.
const (
	// DefaultOperationTimeout is Config.OperationTimeout's default: the server's
	// default statement timeout (30 s), so that one slow statement, not a chain of
	// them, is the most a query or mutation may take.
	DefaultOperationTimeout = 30 * time.Second
	// DefaultMaxStatements is Config.MaxStatements's default. A query's statements
	// do not grow with its page sizes (dataloaders batch each level), only with its
	// root data fields and nesting: the README's queries run fewer than 10.
	DefaultMaxStatements = 100
)

// errOperationTimeout is the cause of an operation cancelled by its deadline.
var errOperationTimeout = errors.New("the operation took longer than its deadline")

// OperationBudget gives each query and mutation a deadline (Timeout) and each query
// a statement limit (MaxStatements) enforced as its statements run: the operation's
// context is cancelled with the cause, so resolvers, dataloaders and SQL in flight
// stop, and the error presenter answers QUERY_TIMEOUT or STATEMENT_LIMIT_EXCEEDED.
// The request's own context is the parent, so a client that goes away cancels
// the work too. Mutations run without a statement limit: each runs one bounded
// ingest or token statement group (StatementEstimate refuses aliases of them
// beyond the limit). Subscriptions have neither: an event is bounded by the
// statement timeout.
//
// It must be registered after ResponseStats, whose statement counter it limits.
type OperationBudget struct {
	Timeout       time.Duration
	MaxStatements int
}

var (
	_ graphql.HandlerExtension    = OperationBudget{}
	_ graphql.ResponseInterceptor = OperationBudget{}
)

// ExtensionName names the extension in gqlgen's stats.
func (OperationBudget) ExtensionName() string { return "OperationBudget" }

// Validate accepts any schema.
func (OperationBudget) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptResponse runs the operation within its budget.
func (b OperationBudget) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if !graphql.HasOperationContext(ctx) {
		return next(ctx)
	}
	op := graphql.GetOperationContext(ctx).Operation
	if op == nil || op.Operation == ast.Subscription {
		return next(ctx)
	}
	if b.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, b.Timeout, errOperationTimeout)
		defer cancel()
	}
	if op.Operation == ast.Query && b.MaxStatements > 0 {
		var cancel context.CancelFunc
		ctx, cancel = db.LimitStatements(ctx, int64(b.MaxStatements))
		defer cancel()
	}
	return next(ctx)
}

// budgetError presents an error caused by the operation's budget, or nil.
func budgetError(ctx context.Context) *gqlerror.Error {
	var sle *db.StatementLimitError
	switch cause := context.Cause(ctx); {
	case cause == nil:
		return nil
	case errors.As(cause, &sle):
		return &gqlerror.Error{
			Message: fmt.Sprintf("the query needed more than %d SQL statements and was stopped: request fewer fields or aliases, or split it",
				sle.Limit),
			Extensions: map[string]any{"code": CodeStatementLimit, "limit": sle.Limit},
		}
	case errors.Is(cause, errOperationTimeout):
		return userError(CodeQueryTimeout, "the query took too long and was cancelled; narrow the time range or the filters")
	}
	return nil
}

// StatementEstimate refuses, before it runs, an operation whose root data fields
// alone need more SQL statements than Limit: each root field that reads or writes
// the database runs at least rootStatements of them (its statement, and the count
// of a connection's totalCount). Aliases multiply root fields: 5,000 aliases of
// appLogs(first: 1) are 5,000 statements. Nested fields are batched by dataloaders
// and are left to the run-time limit (OperationBudget).
type StatementEstimate struct {
	Limit int
}

var (
	_ graphql.HandlerExtension        = StatementEstimate{}
	_ graphql.OperationContextMutator = StatementEstimate{}
)

// ExtensionName names the extension in gqlgen's stats.
func (StatementEstimate) ExtensionName() string { return "StatementEstimate" }

// Validate accepts any schema.
func (StatementEstimate) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext counts the root fields' statements.
func (e StatementEstimate) MutateOperationContext(_ context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	if opCtx.Operation == nil || opCtx.Operation.Operation == ast.Subscription {
		return nil
	}
	n := rootStatementCount(opCtx.Operation.SelectionSet, map[*ast.FragmentDefinition]int{})
	if n <= e.Limit {
		return nil
	}
	return &gqlerror.Error{
		Message: fmt.Sprintf("the %s needs at least %d SQL statements, more than the limit of %d: request fewer root fields or aliases, or split it",
			opCtx.Operation.Operation, n, e.Limit),
		Extensions: map[string]any{"code": CodeStatementLimit, "statements": n, "limit": e.Limit},
	}
}

// rootStatements is the fewest statements a root field runs; fields not listed run
// none (viewer, introspection) or are not root fields.
var rootStatements = map[string]int{
	"apiTokens": 1, "log": 1, "integration": 1, "apiReference": 1, "logContext": 2,
	"logs": 1, "appLogs": 1, "apiRequestLogs": 1, "integrationLogs": 1, "actionLogs": 1, "apiReferenceLogs": 1,
	"integrations": 1, "apiReferences": 1, "apiCollections": 1, "apiClients": 1,
	"logHistogram": 1, "logFacets": 1, "apiRequestStats": 1, "integrationStats": 1, "logPatterns": 2,
	"ingestAppLogs": 2, "ingestApiRequestLogs": 2, "ingestIntegrationLogs": 2, "ingestActionLogs": 2,
	"ingestApiReferenceLogs": 2, "createApiToken": 1, "revokeApiToken": 1,
}

// rootStatementCount sums rootStatements over a root selection set, through
// fragments (each spread counts, each fragment is summed once: memo). It
// saturates, so it runs in linear time whatever the fragments spread.
func rootStatementCount(set ast.SelectionSet, memo map[*ast.FragmentDefinition]int) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			n = saturatingAdd(n, rootStatements[s.Name])
		case *ast.InlineFragment:
			n = saturatingAdd(n, rootStatementCount(s.SelectionSet, memo))
		case *ast.FragmentSpread:
			if s.Definition == nil {
				continue
			}
			m, ok := memo[s.Definition]
			if !ok {
				memo[s.Definition] = 0 // a cycle, which validation has already refused
				m = rootStatementCount(s.Definition.SelectionSet, memo)
				memo[s.Definition] = m
			}
			n = saturatingAdd(n, m)
		}
	}
	return n
}
