package graph

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/loggraph/loggraph/db"
)

// ResponseStats adds `extensions.stats { durationMs, sqlStatements }` to every
// response the executor produces: results, request errors (parse, validation,
// limits) and each event of a subscription.
//
//   - sqlStatements counts the statements sent to PostgreSQL while the response was
//     produced (db.WithStatementCounter: a fresh counter per response, so per
//     subscription event too). Work done before the operation, such as the token
//     lookup of the HTTP middleware, is not in it.
//   - analytics, present when the response ran an analytic that can read
//     log_rollups, says for each whether it did (db.AnalyticsPlan), and if not why.
//   - durationMs is the time from the start of the operation (request read, parse,
//     validation included) to the response being ready, for queries and mutations;
//     for a subscription event it is the time from the first field resolved for the
//     event (with EventClock registered), so the wait for the event is not in it.
//
// Response interceptors added after it run inside it and see its counter (dataloaders
// made per response count their batches).
type ResponseStats struct{}

var (
	_ graphql.HandlerExtension    = ResponseStats{}
	_ graphql.ResponseInterceptor = ResponseStats{}
	_ graphql.FieldInterceptor    = EventClock{}
)

// ExtensionName names the extension in gqlgen's stats.
func (ResponseStats) ExtensionName() string { return "ResponseStats" }

// Validate accepts any schema.
func (ResponseStats) Validate(graphql.ExecutableSchema) error { return nil }

type responseStatsKey struct{}

// responseClock is the start time of one response. A subscription event's start is
// unknown until its first field resolves, so it is set once, then, by whichever
// resolver goroutine gets there first.
type responseClock struct {
	start atomic.Int64 // unix nanoseconds; 0 while unknown
}

// InterceptResponse gives the response a statement counter and, once it is ready,
// its stats.
func (ResponseStats) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	entered := time.Now()
	clock := new(responseClock)
	subscription := false
	if graphql.HasOperationContext(ctx) {
		opCtx := graphql.GetOperationContext(ctx)
		subscription = opCtx.Operation != nil && opCtx.Operation.Operation == ast.Subscription
		if !subscription && !opCtx.Stats.OperationStart.IsZero() {
			clock.start.Store(opCtx.Stats.OperationStart.UnixNano())
		}
	}
	if !subscription && clock.start.Load() == 0 {
		clock.start.Store(entered.UnixNano())
	}
	ctx, counter := db.WithStatementCounter(ctx)
	ctx, plans := db.WithAnalyticsPlans(ctx)
	resp := next(context.WithValue(ctx, responseStatsKey{}, clock))
	if resp == nil {
		return nil // end of a subscription's stream
	}
	start := clock.start.Load()
	if start == 0 { // a subscription event that resolved no field
		start = entered.UnixNano()
	}
	if resp.Extensions == nil {
		resp.Extensions = map[string]any{}
	}
	stats := statsValue(time.Since(time.Unix(0, start)), counter.Count())
	if p := plans(); len(p) > 0 {
		stats["analytics"] = p
	}
	resp.Extensions["stats"] = stats
	return resp
}

// EventClock starts a subscription event's clock (see ResponseStats) at the event's
// first field. A field interceptor runs for every field of every operation, so it is
// registered only on the executor that runs subscriptions (websockets).
type EventClock struct{}

// ExtensionName names the extension in gqlgen's stats.
func (EventClock) ExtensionName() string { return "EventClock" }

// Validate accepts any schema.
func (EventClock) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptField starts a subscription event's clock at its first field.
func (EventClock) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	if clock, _ := ctx.Value(responseStatsKey{}).(*responseClock); clock != nil && clock.start.Load() == 0 {
		clock.start.CompareAndSwap(0, time.Now().UnixNano())
	}
	return next(ctx)
}

// statsValue is the value of extensions.stats.
func statsValue(d time.Duration, statements int64) map[string]any {
	return map[string]any{
		"durationMs":    float64(d.Microseconds()) / 1000,
		"sqlStatements": statements,
	}
}
