// Package serial marshals the items of GraphQL lists one after the other, in the
// goroutine of the list's field, instead of one goroutine per item.
//
// gqlgen's generated executor marshals every list of objects through
// graphql.MarshalSliceConcurrently, which starts a goroutine per item so that the
// items' resolvers can wait on a dataloader together. Here nothing waits for a
// sibling: when a list is fetched the planner (graph/plan.go) prefetches the
// belongs-to relations its items show and announces the parents of each nested
// connection, whose first asker loads the pages of all of them (graph/loader). A
// goroutine per item then buys nothing and costs a stack that grows by copying as the
// item's fields are marshalled: on the three-level nested query of issue 10 that was
// about a tenth of the server's CPU.
//
// `go generate ./graph` runs gqlgen, then ./rewrite, which points the generated code
// at MarshalSlice below.
package serial

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
)

// MarshalSlice has graphql.MarshalSliceConcurrently's signature and semantics
// (each item in its own field context with its index; a panic in an item is
// reported and the item is null unless omitPanicHandler), run in order in the
// caller's goroutine. workerLimit bounds concurrency, of which there is none.
func MarshalSlice(ctx context.Context, length int, workerLimit int64, omitPanicHandler bool,
	marshalElement func(ctx context.Context, i int) graphql.Marshaler) graphql.Array {
	_ = workerLimit
	ret := make(graphql.Array, length)
	for i := range length {
		childCtx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i})
		if omitPanicHandler {
			ret[i] = marshalElement(childCtx, i)
			continue
		}
		ret[i] = marshalItem(childCtx, i, marshalElement)
	}
	return ret
}

func marshalItem(ctx context.Context, i int, marshalElement func(ctx context.Context, i int) graphql.Marshaler) (m graphql.Marshaler) {
	defer func() {
		if r := recover(); r != nil {
			graphql.AddError(ctx, graphql.Recover(ctx, r))
			m = graphql.Null
		}
	}()
	return marshalElement(ctx, i)
}

// NewDeferredGroup is graphql.NewDeferredGroup for an object whose collected fields
// are fields. gqlgen's executor fills the group only with fields under @defer, and
// reads its path, field set and labels only when it holds such a field. For an object
// without one (every object of a query that does not use @defer) the group stays
// empty: no response path is built and nothing is allocated, where gqlgen's builds the
// path and allocates a field set and a map per object (about 7 % of the server's CPU
// on issue 10's q3, 620 objects).
func NewDeferredGroup(ctx context.Context, fields []graphql.CollectedField) graphql.DeferredGroup {
	for _, f := range fields {
		if f.IsDeferred() {
			return graphql.NewDeferredGroup(ctx)
		}
	}
	return graphql.DeferredGroup{Context: ctx}
}
