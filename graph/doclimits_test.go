package graph_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/loggraph/loggraph/graph"
	"github.com/loggraph/loggraph/graph/generated"
)

// defaultLimits is DocumentLimits with the defaults, without the hand-over (it
// checks and measures, and validates nothing).
func defaultLimits() *graph.DocumentLimits {
	d := &graph.DocumentLimits{
		MaxBytes: graph.DefaultMaxQueryBytes, MaxTokens: graph.DefaultMaxQueryTokens, MaxFields: graph.DefaultMaxQueryFields,
		MaxComparisons: graph.DefaultMaxFieldComparisons, MaxAliases: graph.DefaultMaxQueryAliases, MaxDirectives: graph.DefaultMaxQueryDirectives,
	}
	_ = d.Validate(generated.NewExecutableSchema(generated.Config{}))
	return d
}

func limitsRefusal(d *graph.DocumentLimits, q string) error {
	ctx := graphql.WithOperationContext(context.Background(), &graphql.OperationContext{})
	if err := d.MutateOperationParameters(ctx, &graphql.RawParams{Query: q}); err != nil {
		return err
	}
	return nil
}

// repeat joins n pieces made by piece(i), in braces.
func repeat(n int, piece func(i int) string) string {
	var b strings.Builder
	b.WriteString("{ ")
	for i := range n {
		b.WriteString(piece(i))
		b.WriteByte(' ')
	}
	b.WriteString("}")
	return b.String()
}

// replicated nests `ofType { ... }` d times per level, levels deep, over leaves.
func replicated(levels, d int, leaf func(i int) string) string {
	if levels == 0 {
		var b strings.Builder
		for i := range d {
			b.WriteString(leaf(i) + " ")
		}
		return b.String()
	}
	inner := replicated(levels-1, d, leaf)
	return strings.Repeat("ofType { "+inner+"} ", d)
}

// worstShapes are families of documents, each worse with n, that attack parsing or
// validation: the shapes of issue 8's attacks and of the costliest validation rule.
var worstShapes = []struct {
	name string
	doc  func(n int) string
}{
	{"same-name fields with conflicting arguments", func(n int) string {
		return repeat(n, func(i int) string { return fmt.Sprintf("logs(first: %d) { totalCount }", i+1) })
	}},
	{"one alias with conflicting arguments", func(n int) string {
		return repeat(n, func(i int) string { return fmt.Sprintf("a: appLogs(first: %d) { totalCount }", i+1) })
	}},
	{"__typename repeated", func(n int) string { return repeat(n, func(int) string { return "__typename" }) }},
	{"a: __typename repeated", func(n int) string { return repeat(n, func(int) string { return "a: __typename" }) }},
	{"replicated nested selections, conflicting leaves", func(n int) string {
		return `{ __type(name: "Query") { ` + replicated(n, 2, func(i int) string {
			if i == 0 {
				return "kind: name"
			}
			return "kind"
		}) + "} }"
	}},
	{"distinct fields nested deep", func(n int) string {
		return `{ __type(name: "Query") { ` + strings.Repeat("kind name description ofType { ", n) + "kind" + strings.Repeat(" }", n) + " } }"
	}},
	{"distinct aliases of data fields", func(n int) string {
		return repeat(n, func(i int) string {
			return fmt.Sprintf("a%d: logs(first: %d) { totalCount nodes { id message } }", i, i+1)
		})
	}},
	{"long string argument", func(n int) string { return `{ __type(name: "T` + strings.Repeat("x", n) + `") { name } }` }},
	{"directives", func(n int) string {
		return repeat(1, func(int) string { return "__typename" + strings.Repeat(" @include(if: true)", n) })
	}},
	{"unused fragments", func(n int) string {
		var b strings.Builder
		b.WriteString("{ __typename }")
		for i := range n {
			fmt.Fprintf(&b, " fragment F%d on Query { __typename }", i)
		}
		return b.String()
	}},
}

// largestAccepted finds the largest n whose document the default limits accept.
func largestAccepted(t testing.TB, d *graph.DocumentLimits, doc func(int) string) int {
	t.Helper()
	if limitsRefusal(d, doc(1)) != nil {
		t.Fatalf("the smallest document is refused: %v", limitsRefusal(d, doc(1)))
	}
	lo, hi := 1, 2
	for limitsRefusal(d, doc(hi)) == nil {
		lo, hi = hi, hi*2
		if hi > 1<<20 {
			t.Fatal("no limit refuses this shape")
		}
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if limitsRefusal(d, doc(mid)) == nil {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// parseAndValidate is what the limits let through: the executor's parse and its
// validation with gqlgen's rules.
func parseAndValidate(tb testing.TB, schema *ast.Schema, q string) {
	doc, err := parser.ParseQuery(&ast.Source{Input: q})
	if err != nil {
		tb.Fatalf("parse: %v", err)
	}
	_ = validator.ValidateWithRules(schema, doc, rules.NewDefaultRules())
}

// BenchmarkWorstAcceptedDocument times the limits' checks plus the parse and
// validation of the largest document of each worst shape the default limits accept
// (go test -run X -bench WorstAccepted -benchmem ./graph/).
func BenchmarkWorstAcceptedDocument(b *testing.B) {
	d := defaultLimits()
	schema := generated.NewExecutableSchema(generated.Config{}).Schema()
	for _, s := range worstShapes {
		n := largestAccepted(b, d, s.doc)
		q := s.doc(n)
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(float64(len(q)), "doc-bytes")
			b.ReportMetric(float64(graph.CountTokens(q)), "tokens")
			cpu := cpuTime()
			for b.Loop() {
				if err := limitsRefusal(d, q); err != nil {
					b.Fatal(err)
				}
				parseAndValidate(b, schema, q)
			}
			// CPU time, not wall time: the figure stays meaningful on a busy machine.
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
		})
	}
}

// TestDocumentLimitsShapes: every worst shape is refused by a limit before it gets
// large (the refusal names the limit), and its largest accepted document still
// passes the limits; GraphiQL's introspection query passes.
func TestDocumentLimitsShapes(t *testing.T) {
	t.Parallel()
	d := defaultLimits()
	if err := limitsRefusal(d, introspectionQuery); err != nil {
		t.Fatalf("the introspection query is refused: %v", err)
	}
	s := graph.MeasureDocument(mustParse(t, introspectionQuery), graph.DefaultMaxQueryFields, graph.DefaultMaxFieldComparisons)
	t.Logf("introspection: %d bytes, %d tokens, %+v", len(introspectionQuery), graph.CountTokens(introspectionQuery), s)
	for _, shape := range worstShapes {
		t.Run(shape.name, func(t *testing.T) {
			n := largestAccepted(t, d, shape.doc)
			err := limitsRefusal(d, shape.doc(n+1))
			t.Logf("largest accepted n=%d (%d bytes); n+1: %v", n, len(shape.doc(n)), err)
		})
	}
}

// cpuTime is the process's user and system CPU time, in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func mustParse(t *testing.T, q string) *ast.QueryDocument {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: q})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// BenchmarkParsedQueryBytes measures what a parsed and validated document
// allocates per byte of its text, for field-dense documents (the densest in AST
// nodes per byte): the basis of graph.ParsedQueryBytesPerByte.
func BenchmarkParsedQueryBytes(b *testing.B) {
	schema := generated.NewExecutableSchema(generated.Config{}).Schema()
	for _, q := range []string{
		introspectionQuery,
		repeat(300, func(i int) string { return fmt.Sprintf("a%d: __typename", i) }),
		`{ __type(name: "Query") { ` + strings.Repeat("kind name description ofType { ", 200) + "kind" + strings.Repeat(" }", 200) + " } }",
	} {
		b.Run(fmt.Sprintf("%d bytes", len(q)), func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				parseAndValidate(b, schema, q)
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/float64(len(q)), "alloc-B/query-byte")
		})
	}
}
