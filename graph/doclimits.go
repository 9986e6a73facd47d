package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// Error codes of documents refused before parsing and validation.
const (
	// CodeDocumentTooLarge: the query text has more bytes than Config.MaxQueryBytes.
	CodeDocumentTooLarge = "DOCUMENT_TOO_LARGE"
	// CodeTooManyTokens: the query text has more lexical tokens than Config.MaxQueryTokens.
	CodeTooManyTokens = "TOO_MANY_TOKENS"
	// CodeTooManyFields: the document selects more fields (fragments expanded) than
	// Config.MaxQueryFields, repeats response names so often that validation would
	// compare more than Config.MaxFieldComparisons pairs of fields, has more aliases than Config.MaxQueryAliases or
	// more directives than Config.MaxQueryDirectives.
	CodeTooManyFields = "TOO_MANY_FIELDS"
)

// DocumentLimits refuses a query document that is too big to parse and validate
// cheaply, before gqlgen parses or validates it: it is an operation parameter
// mutator, which the executor runs first for every transport (HTTP and websocket).
//
// Parsing is linear in the tokens but validation is not: the
// OverlappingFieldsCanBeMerged rule compares every pair of fields that share a
// response name in a selection set (fragments collected), and builds an error per
// conflicting pair (2,000 `logs(first: N)` took over 20 s and GBs). So the checks
// run cheapest first: the bytes; the tokens (one pass of the lexer, no allocation
// per token); then a parse bounded by the token limit, and a linear count of the
// fields with fragments expanded, of the aliases and directives, and of the pairs
// of fields sharing a response name that the rule would compare (counting stops
// at the limit). A document within every
// limit is validated here, with gqlgen's rules, and handed to the executor through
// the parsed-query cache (see QueryCache), so it is parsed and validated once. An
// invalid document is left to the executor, which reports its errors as always.
//
// A request with only a persisted-query hash carries no text here: its text was
// checked when it was first sent (this extension runs before the APQ extension).
type DocumentLimits struct {
	// MaxBytes, MaxTokens, MaxFields, MaxComparisons, MaxAliases and
	// MaxDirectives are the limits (Config's MaxQuery* fields); 0 or negative: none.
	MaxBytes, MaxTokens, MaxFields, MaxComparisons, MaxAliases, MaxDirectives int

	schema *ast.Schema
	cache  *QueryCache
}

var (
	_ graphql.HandlerExtension          = (*DocumentLimits)(nil)
	_ graphql.OperationParameterMutator = (*DocumentLimits)(nil)
)

// ExtensionName names the extension in gqlgen's stats.
func (*DocumentLimits) ExtensionName() string { return "DocumentLimits" }

// Validate keeps the schema the documents are validated against.
func (d *DocumentLimits) Validate(es graphql.ExecutableSchema) error {
	d.schema = es.Schema()
	return nil
}

// MutateOperationParameters checks the query text.
func (d *DocumentLimits) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	q := params.Query
	if q == "" {
		return nil
	}
	if d.MaxBytes > 0 && len(q) > d.MaxBytes {
		return limitError(CodeDocumentTooLarge, "the query document has %d bytes, more than the limit of %d: send a smaller document (large values go in variables)",
			len(q), d.MaxBytes)
	}
	if d.cache != nil {
		if _, ok := d.cache.ByteCache.Get(ctx, q); ok {
			return nil // checked, parsed and validated before
		}
	}
	if n := CountTokens(q); d.MaxTokens > 0 && n > d.MaxTokens {
		return limitError(CodeTooManyTokens, "the query document has %d tokens, more than the limit of %d: select fewer fields (large values go in variables)",
			n, d.MaxTokens)
	}
	tokenLimit := 0 // none
	if d.MaxTokens > 0 {
		tokenLimit = d.MaxTokens + 1 // never reached: the tokens were counted above
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: q}, tokenLimit)
	if err != nil {
		return nil // the executor parses it again and reports the error as always
	}
	s := MeasureDocument(doc, d.MaxFields, max(d.MaxComparisons, 0))
	switch {
	case d.MaxFields > 0 && s.Fields > d.MaxFields:
		return limitError(CodeTooManyFields, "the query document selects %d fields (fragments expanded), more than the limit of %d: select fewer fields or split the operation",
			s.Fields, d.MaxFields)
	case d.MaxComparisons > 0 && s.Comparisons > d.MaxComparisons:
		return limitError(CodeTooManyFields, "the query document repeats response names so often (%q %d times in one selection set) that validating it would compare more than %d pairs of fields: select each field once, or give each selection its own alias",
			s.RepeatedName, s.Repeated, d.MaxComparisons)
	case d.MaxAliases > 0 && s.Aliases > d.MaxAliases:
		return limitError(CodeTooManyFields, "the query document has %d aliases, more than the limit of %d: split the operation",
			s.Aliases, d.MaxAliases)
	case d.MaxDirectives > 0 && s.Directives > d.MaxDirectives:
		return limitError(CodeTooManyFields, "the query document has %d directives, more than the limit of %d",
			s.Directives, d.MaxDirectives)
	}
	if d.cache == nil || d.schema == nil {
		return nil
	}
	if errs := validator.ValidateWithRules(d.schema, doc, rules.NewDefaultRules()); len(errs) > 0 {
		return nil // the executor validates it again and reports the errors as always
	}
	if len(doc.Operations) > 0 {
		d.cache.handOver(ctx, q, doc)
	}
	return nil
}

func limitError(code, format string, args ...any) *gqlerror.Error {
	return &gqlerror.Error{Message: fmt.Sprintf(format, args...), Extensions: map[string]any{"code": code}}
}

// CountTokens counts the lexical tokens of a GraphQL document (comments included),
// up to the first lexical error. It allocates nothing per token.
func CountTokens(q string) int {
	lx := lexer.New(&ast.Source{Input: q})
	n := 0
	for {
		tok, err := lx.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			return n
		}
		n++
	}
}

// DocumentSize is what MeasureDocument counts.
type DocumentSize struct {
	// Fields counts the field selections of the operations, each fragment spread
	// counted as its fragment's fields (recursively), saturating; a fragment no
	// operation spreads counts its fields (expanded) once.
	Fields int
	// Repeated is the most fields sharing one response name (RepeatedName) in one
	// selection set, with inline fragments and fragment spreads collected into it,
	// as the OverlappingFieldsCanBeMerged rule collects them.
	Repeated     int
	RepeatedName string
	// Comparisons counts the pairs of fields the OverlappingFieldsCanBeMerged rule
	// may compare: in each selection set, every pair sharing a response name, and for
	// each such pair every pair of their sub-selections sharing one, recursively,
	// plus the response names looked up to find those. It is an upper bound (the rule stops at a pair that conflicts, and compares a pair
	// of fragments once) counted up to the limit passed to MeasureDocument, plus one.
	Comparisons int
	// Aliases counts the aliased field selections as written.
	Aliases int
	// Directives counts the directives as written.
	Directives int
}

// MeasureDocument measures a parsed (not yet validated) document in time linear in
// its size plus maxComparisons: each fragment is measured once, a fragment spread
// in a cycle counts nothing (validation refuses the cycle), and the comparisons
// are counted no further than maxComparisons+1. Response names and comparisons,
// which visit fragments' fields as expanded, are measured only when Fields is at
// most maxFields (or 10 x DefaultMaxQueryFields when maxFields < 1): a fragment
// bomb (30 fragments each spreading the next twice) is 2^30 fields.
func MeasureDocument(doc *ast.QueryDocument, maxFields, maxComparisons int) DocumentSize {
	m := &measurer{doc: doc, size: map[string]int{}, names: map[string]map[string]int{},
		fragFields: map[string][]*ast.Field{}, children: map[*ast.Field]map[string][]*ast.Field{}, budget: maxComparisons}
	var s DocumentSize
	for _, op := range doc.Operations {
		s.Fields = saturatingAdd(s.Fields, m.fields(op.SelectionSet))
		s.Directives += len(op.Directives)
		for _, v := range op.VariableDefinitions {
			s.Directives += len(v.Directives)
		}
	}
	for _, f := range doc.Fragments {
		if _, used := m.size[f.Name]; !used {
			// Not spread by any operation (validation refuses it), but walked
			// below all the same: its fields count.
			s.Fields = saturatingAdd(s.Fields, m.fields(f.SelectionSet))
		}
	}
	if maxFields < 1 {
		maxFields = 10 * DefaultMaxQueryFields
	}
	if s.Fields > maxFields {
		return s
	}
	for _, op := range doc.Operations {
		m.walk(op.SelectionSet, &s)
	}
	for _, f := range doc.Fragments {
		s.Directives += len(f.Directives)
		m.walk(f.SelectionSet, &s)
	}
	return s
}

type measurer struct {
	doc   *ast.QueryDocument
	size  map[string]int            // fragment name -> expanded fields; -1 while measured
	names map[string]map[string]int // fragment name -> response names collected; nil while collected

	fragFields  map[string][]*ast.Field                // fragment name -> fields collected; nil while collected
	children    map[*ast.Field]map[string][]*ast.Field // field -> its sub-selection's fields by response name
	budget      int                                    // comparisons counted at most budget+1
	comparisons int
}

func (m *measurer) fragment(name string) *ast.FragmentDefinition {
	return m.doc.Fragments.ForName(name)
}

// fields counts set's fields with spreads expanded.
func (m *measurer) fields(set ast.SelectionSet) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			n = saturatingAdd(n, saturatingAdd(1, m.fields(s.SelectionSet)))
		case *ast.InlineFragment:
			n = saturatingAdd(n, m.fields(s.SelectionSet))
		case *ast.FragmentSpread:
			size, ok := m.size[s.Name]
			if !ok {
				def := m.fragment(s.Name)
				if def == nil {
					continue
				}
				m.size[s.Name] = -1
				size = m.fields(def.SelectionSet)
				m.size[s.Name] = size
			}
			n = saturatingAdd(n, max(size, 0))
		}
	}
	return n
}

// walk records the most repeated response name of set (its fields collected
// through fragments) and of every selection set nested in it, and counts the
// aliases and directives written in it. Fragment definitions are walked on their own.
func (m *measurer) walk(set ast.SelectionSet, s *DocumentSize) {
	counts := map[string]int{}
	m.collect(set, counts)
	for name, n := range counts {
		if n > s.Repeated || n == s.Repeated && name < s.RepeatedName {
			s.Repeated, s.RepeatedName = n, name
		}
	}
	if m.comparisons <= m.budget {
		m.within(m.byName(set))
		s.Comparisons = m.comparisons
	}
	m.selections(set, s)
}

// selections counts the aliases and directives of set and walks the selection sets
// of its fields; an inline fragment's fields belong to the enclosing set.
func (m *measurer) selections(set ast.SelectionSet, s *DocumentSize) {
	for _, sel := range set {
		switch f := sel.(type) {
		case *ast.Field:
			if f.Alias != "" && f.Alias != f.Name {
				s.Aliases++
			}
			s.Directives += len(f.Directives)
			if len(f.SelectionSet) > 0 {
				m.walk(f.SelectionSet, s)
			}
		case *ast.InlineFragment:
			s.Directives += len(f.Directives)
			m.selections(f.SelectionSet, s)
		case *ast.FragmentSpread:
			s.Directives += len(f.Directives)
		}
	}
}

// collect adds the response names of set's fields to counts, through inline
// fragments and fragment spreads (each fragment's names collected once).
func (m *measurer) collect(set ast.SelectionSet, counts map[string]int) {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			counts[responseName(s)]++
		case *ast.InlineFragment:
			m.collect(s.SelectionSet, counts)
		case *ast.FragmentSpread:
			names, ok := m.names[s.Name]
			if !ok {
				def := m.fragment(s.Name)
				if def == nil {
					continue
				}
				m.names[s.Name] = nil
				names = map[string]int{}
				m.collect(def.SelectionSet, names)
				m.names[s.Name] = names
			}
			for name, n := range names {
				counts[name] += n
			}
		}
	}
}

func responseName(f *ast.Field) string {
	if f.Alias != "" {
		return f.Alias
	}
	return f.Name
}

// byName collects set's fields by response name, through inline fragments and
// fragment spreads.
func (m *measurer) byName(set ast.SelectionSet) map[string][]*ast.Field {
	out := map[string][]*ast.Field{}
	for _, f := range m.flatten(set, nil) {
		out[responseName(f)] = append(out[responseName(f)], f)
	}
	return out
}

// flatten appends set's fields to into, through inline fragments and fragment
// spreads (each fragment's fields collected once).
func (m *measurer) flatten(set ast.SelectionSet, into []*ast.Field) []*ast.Field {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			into = append(into, s)
		case *ast.InlineFragment:
			into = m.flatten(s.SelectionSet, into)
		case *ast.FragmentSpread:
			fields, ok := m.fragFields[s.Name]
			if !ok {
				def := m.fragment(s.Name)
				if def == nil {
					continue
				}
				m.fragFields[s.Name] = nil
				fields = m.flatten(def.SelectionSet, nil)
				m.fragFields[s.Name] = fields
			}
			into = append(into, fields...)
		}
	}
	return into
}

func (m *measurer) childrenOf(f *ast.Field) map[string][]*ast.Field {
	c, ok := m.children[f]
	if !ok {
		c = m.byName(f.SelectionSet)
		m.children[f] = c
	}
	return c
}

// within counts the comparisons among fields sharing a response name in one set.
func (m *measurer) within(set map[string][]*ast.Field) {
	for _, fields := range set {
		for i := range fields {
			for j := i + 1; j < len(fields); j++ {
				if !m.compare(fields[i], fields[j]) {
					return
				}
			}
		}
	}
}

// compare counts the comparison of a and b and of their sub-selections; false
// once the budget is spent.
func (m *measurer) compare(a, b *ast.Field) bool {
	m.comparisons++
	if m.comparisons > m.budget {
		return false
	}
	if len(a.SelectionSet) == 0 || len(b.SelectionSet) == 0 {
		return true
	}
	ca, cb := m.childrenOf(a), m.childrenOf(b)
	if len(cb) < len(ca) {
		ca, cb = cb, ca
	}
	// Looking up the names costs too: charge them, so that the count bounds the work.
	m.comparisons += len(ca)
	if m.comparisons > m.budget {
		return false
	}
	for name, as := range ca {
		for _, x := range as {
			for _, y := range cb[name] {
				if !m.compare(x, y) {
					return false
				}
			}
		}
	}
	return true
}

// Defaults of the document limits (Config.MaxQuery*). The worst documents within
// all of them are parsed and validated in a few ms and a few MB (see
// BenchmarkWorstAcceptedDocument); GraphiQL's introspection query (about 1.7 KB,
// 400 tokens, 150 fields expanded) and the README's queries pass with room to spare.
const (
	// DefaultMaxQueryBytes is Config.MaxQueryBytes's default: 64 KiB of query text
	// (values of any size go in variables, which the body limit bounds).
	DefaultMaxQueryBytes = 64 << 10
	// DefaultMaxQueryTokens is Config.MaxQueryTokens's default.
	DefaultMaxQueryTokens = 3000
	// DefaultMaxQueryFields is Config.MaxQueryFields's default: field selections
	// with fragments expanded.
	DefaultMaxQueryFields = 1000
	// DefaultMaxFieldComparisons is Config.MaxFieldComparisons's default: what
	// validation's overlapping-fields rule may compare (see DocumentSize.Comparisons).
	// A document that repeats no response name in a selection set needs none.
	DefaultMaxFieldComparisons = 200
	// DefaultMaxQueryAliases is Config.MaxQueryAliases's default.
	DefaultMaxQueryAliases = 100
	// DefaultMaxQueryDirectives is Config.MaxQueryDirectives's default.
	DefaultMaxQueryDirectives = 50
)
