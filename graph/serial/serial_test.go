package serial_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/loggraph/loggraph/graph/serial"
)

// TestMarshalSlice: items are marshalled in order, each with its own index in its
// field context; a panicking item becomes null and an error, the others are kept.
func TestMarshalSlice(t *testing.T) {
	ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, graphql.DefaultRecover)
	var order []int
	arr := serial.MarshalSlice(ctx, 3, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		order = append(order, *graphql.GetFieldContext(ctx).Index)
		if i == 1 {
			panic("boom")
		}
		return graphql.MarshalInt(i)
	})
	var b bytes.Buffer
	arr.MarshalGQL(&b)
	if b.String() != "[0,null,2]" || len(order) != 3 || order[0] != 0 || order[1] != 1 || order[2] != 2 {
		t.Fatalf("got %s, order %v", b.String(), order)
	}
	if errs := graphql.GetErrors(ctx); len(errs) != 1 {
		t.Fatalf("errors: %v", errs)
	}
	if got := serial.MarshalSlice(ctx, 0, 0, true, nil); len(got) != 0 {
		t.Fatalf("empty: %v", got)
	}
}

// TestNewDeferredGroup: without a deferred field the group is empty (gqlgen reads
// nothing else of it); with one it is gqlgen's, ready to take the deferred fields.
func TestNewDeferredGroup(t *testing.T) {
	ctx := context.Background()
	plain := []graphql.CollectedField{{Field: &ast.Field{Name: "a"}}, {Field: &ast.Field{Name: "b"}}}
	g := serial.NewDeferredGroup(ctx, plain)
	if g.Context != ctx || g.Defers != nil || g.FieldSet != nil || g.Path != nil {
		t.Fatalf("no deferred field: %+v", g)
	}
	deferred := append(plain, graphql.CollectedField{Field: &ast.Field{Name: "c"}, Deferrables: []*graphql.Deferrable{{Label: "x"}}})
	g = serial.NewDeferredGroup(ctx, deferred)
	if g.Context != ctx || g.Defers == nil || g.FieldSet == nil {
		t.Fatalf("a deferred field: %+v", g)
	}
}
