package graph

import (
	"context"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestFieldPathIsTheResponsePathWithoutIndexes: fieldPath, which the planner and the
// child resolvers key batches by, names the same fields as gqlgen's own Path.
func TestFieldPathIsTheResponsePathWithoutIndexes(t *testing.T) {
	field := func(ctx context.Context, alias string) context.Context {
		return graphql.WithFieldContext(ctx, &graphql.FieldContext{Field: graphql.CollectedField{Field: &ast.Field{Alias: alias}}})
	}
	item := func(ctx context.Context, i int) context.Context {
		return graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i})
	}
	ctx := context.Background()
	if got := fieldPath(ctx); got != "" {
		t.Fatalf("no field: %q", got)
	}
	ctx = field(ctx, "integrations")
	ctx = field(ctx, "nodes")
	ctx = item(ctx, 3)
	ctx = field(ctx, "recent")
	ctx = field(ctx, "edges")
	ctx = item(ctx, 0)
	ctx = field(ctx, "node")
	ctx = field(ctx, "logs")
	var want []string
	for _, p := range graphql.GetFieldContext(ctx).Path() {
		if name, ok := p.(ast.PathName); ok {
			want = append(want, string(name))
		}
	}
	if got := fieldPath(ctx); got != strings.Join(want, "/") || got != "integrations/nodes/recent/edges/node/logs" {
		t.Fatalf("fieldPath %q, Path %q", got, want)
	}
}
