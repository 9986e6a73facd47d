package graph

import (
	"context"
	"fmt"
	"math"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// CodeComplexityLimit is the extensions.code of an operation refused by the
// complexity limit.
const CodeComplexityLimit = "COMPLEXITY_LIMIT_EXCEEDED"

// DepthLimit refuses an operation whose selections nest deeper than Limit, before
// any resolver runs. `{ viewer { role } }` has depth 2; fragments and inline
// fragments add no depth of their own (their fields count where they are spread).
//
// Introspection (`__schema`, `__type`) is not counted: the standard GraphiQL
// introspection query nests 14 deep (`ofType` in `ofType`), and its cost is bounded
// otherwise: gqlparser's MaxIntrospectionDepth validation rule lets list fields
// (`fields`, `interfaces`, ...) nest at most 3 deep, and an `ofType` chain resolves
// no further than the schema's wrapping types (it is null past the named type).
//
// The refusal is a BAD_USER_INPUT error (the caller must change the operation; the
// product's error codes have none closer), with the depth and the limit in the
// message and in extensions.depth and extensions.limit.
type DepthLimit struct {
	Limit int
}

var (
	_ graphql.HandlerExtension        = DepthLimit{}
	_ graphql.OperationContextMutator = DepthLimit{}
)

// ExtensionName names the extension in gqlgen's stats.
func (DepthLimit) ExtensionName() string { return "DepthLimit" }

// Validate refuses a limit that would refuse every operation.
func (d DepthLimit) Validate(graphql.ExecutableSchema) error {
	if d.Limit < 1 {
		return fmt.Errorf("DepthLimit: limit %d must be at least 1", d.Limit)
	}
	return nil
}

// MutateOperationContext measures the operation (it has passed validation, so
// every fragment spread names an existing fragment and none is cyclic).
func (d DepthLimit) MutateOperationContext(_ context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	depth := OperationDepth(opCtx.Doc, opCtx.Operation)
	if depth <= d.Limit {
		return nil
	}
	return &gqlerror.Error{
		Message: fmt.Sprintf("operation has depth %d, which exceeds the limit of %d: nest fewer selections or split the operation",
			depth, d.Limit),
		Extensions: map[string]any{"code": CodeBadUserInput, "depth": depth, "limit": d.Limit},
	}
}

// OperationDepth returns how deeply op's fields nest, not counting introspection
// subtrees. Each fragment is measured once (memoised), so a document that spreads
// fragments exponentially often is still measured in linear time.
func OperationDepth(doc *ast.QueryDocument, op *ast.OperationDefinition) int {
	if op == nil {
		return 0
	}
	w := depthWalker{doc: doc, memo: map[string]int{}}
	return w.selectionSet(op.SelectionSet)
}

type depthWalker struct {
	doc  *ast.QueryDocument
	memo map[string]int // fragment name -> depth of its selection set; -1 while being measured
}

func (w depthWalker) selectionSet(set ast.SelectionSet) int {
	deepest := 0
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" {
				continue
			}
			d = 1 + w.selectionSet(s.SelectionSet)
		case *ast.InlineFragment:
			d = w.selectionSet(s.SelectionSet)
		case *ast.FragmentSpread:
			d = w.fragment(s)
		}
		deepest = max(deepest, d)
	}
	return deepest
}

func (w depthWalker) fragment(s *ast.FragmentSpread) int {
	if d, ok := w.memo[s.Name]; ok {
		return max(d, 0) // -1: a cycle, which validation has already refused
	}
	def := s.Definition
	if def == nil && w.doc != nil {
		def = w.doc.Fragments.ForName(s.Name)
	}
	if def == nil {
		return 0
	}
	w.memo[s.Name] = -1
	d := w.selectionSet(def.SelectionSet)
	w.memo[s.Name] = d
	return d
}

// complexityLimit is gqlgen's FixedComplexityLimit with a message that says what to
// do about it and the figures in extensions. The complexity is gqlgen's: one per
// field, children included, unless the schema's Complexity functions say otherwise.
type complexityLimit struct {
	*extension.ComplexityLimit
}

var (
	_ graphql.HandlerExtension        = complexityLimit{}
	_ graphql.OperationContextMutator = complexityLimit{}
)

func newComplexityLimit(limit int) complexityLimit {
	return complexityLimit{extension.FixedComplexityLimit(limit)}
}

// MutateOperationContext runs gqlgen's check and rewords its refusal.
//
// gqlgen's walker expands every fragment spread anew, so a small document whose
// fragments each spread the next twice takes exponential time to measure (30
// fragments: minutes of CPU). The operation's size with each spread counted (what
// the walker would visit; gqlgen's default complexity is exactly this) is measured
// first, each fragment once, and an operation over the limit is refused without
// running the walker.
func (c complexityLimit) MutateOperationContext(ctx context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	limit := c.Func(ctx, opCtx)
	if size := expandedSize(opCtx.Operation); size > limit {
		return complexityError(size, limit)
	}
	err := c.ComplexityLimit.MutateOperationContext(ctx, opCtx)
	if err == nil {
		return nil
	}
	stats, ok := opCtx.Stats.GetExtension(c.ExtensionName()).(*extension.ComplexityStats)
	if !ok {
		return &gqlerror.Error{Message: err.Message, Extensions: map[string]any{"code": CodeComplexityLimit}}
	}
	return complexityError(stats.Complexity, stats.ComplexityLimit)
}

func complexityError(complexity, limit int) *gqlerror.Error {
	return &gqlerror.Error{
		Message: fmt.Sprintf("operation has complexity %d, which exceeds the limit of %d: select fewer fields, use fewer aliases or split the operation",
			complexity, limit),
		Extensions: map[string]any{"code": CodeComplexityLimit, "complexity": complexity, "limit": limit},
	}
}

// expandedSize counts op's fields with every fragment spread expanded, skipping
// `__schema` subtrees as gqlgen's complexity walker does. Each fragment is counted
// once (memoised) and the sum saturates, so it runs in linear time.
func expandedSize(op *ast.OperationDefinition) int {
	if op == nil {
		return 0
	}
	memo := map[*ast.FragmentDefinition]int{}
	var size func(ast.SelectionSet) int
	size = func(set ast.SelectionSet) int {
		n := 0
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				if s.Name != "__schema" {
					n = saturatingAdd(n, saturatingAdd(1, size(s.SelectionSet)))
				}
			case *ast.InlineFragment:
				n = saturatingAdd(n, size(s.SelectionSet))
			case *ast.FragmentSpread:
				if s.Definition == nil {
					continue
				}
				m, ok := memo[s.Definition]
				if !ok {
					memo[s.Definition] = 0 // a cycle, which validation has already refused
					m = size(s.Definition.SelectionSet)
					memo[s.Definition] = m
				}
				n = saturatingAdd(n, m)
			}
		}
		return n
	}
	return size(op.SelectionSet)
}

func saturatingAdd(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}
