package playground

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// Example is one of the README's GraphQL examples, opened as a playground tab.
type Example struct {
	// Title is the operation's name (GraphiQL titles a tab with it).
	Title string `json:"title"`
	// Query is the example as the README prints it, its comment lines included,
	// with an operation name added when it had none.
	Query string `json:"query"`
}

// unnamedOperation matches an anonymous operation's start: `{` or `query {`,
// `mutation {`, `subscription {`, then the first root field.
var unnamedOperation = regexp.MustCompile(`^\s*(?:(query|mutation|subscription)\s*)?\{\s*([_A-Za-z][_0-9A-Za-z]*)`)

// namedOperation matches a named operation's start.
var namedOperation = regexp.MustCompile(`^\s*(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)`)

// ExtractExamples returns the examples in readme's ```graphql blocks, in order:
// within a block, examples are separated by blank lines, and comment lines belong
// to the example below them. An anonymous operation is named after its first
// root field (`{ logHistogram(...) }` becomes `query LogHistogram { logHistogram(...) }`).
func ExtractExamples(readme []byte) ([]Example, error) {
	var (
		examples []Example
		inBlock  bool
		chunk    []string
		line     int
	)
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		ex, ok, err := newExample(chunk)
		if err != nil {
			return fmt.Errorf("README line %d: %w", line, err)
		}
		if ok {
			examples = append(examples, ex)
			chunk = nil
		}
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(readme))
	for sc.Scan() {
		line++
		text := sc.Text()
		trimmed := strings.TrimSpace(text)
		switch {
		case !inBlock:
			inBlock = trimmed == "```graphql"
		case strings.HasPrefix(trimmed, "```"):
			if err := flush(); err != nil {
				return nil, err
			}
			if len(chunk) > 0 {
				return nil, fmt.Errorf("README line %d: a graphql block ends with comments and no operation", line)
			}
			inBlock = false
		case trimmed == "":
			if err := flush(); err != nil {
				return nil, err
			}
		default:
			chunk = append(chunk, text)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if inBlock {
		return nil, fmt.Errorf("README: a graphql block is not closed")
	}
	if len(examples) == 0 {
		return nil, fmt.Errorf("README: no graphql examples")
	}
	return examples, nil
}

// newExample makes an example of lines, or reports false when they are only
// comments (which then belong to the next example).
func newExample(lines []string) (Example, bool, error) {
	op := -1
	for i, l := range lines {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			op = i
			break
		}
	}
	if op < 0 {
		return Example{}, false, nil
	}
	comments, rest := strings.Join(lines[:op], "\n"), strings.Join(lines[op:], "\n")+"\n"
	if comments != "" {
		comments += "\n"
	}
	if m := unnamedOperation.FindStringSubmatchIndex(rest); m != nil {
		kind := "query"
		if m[2] >= 0 {
			kind = rest[m[2]:m[3]]
		}
		field := rest[m[4]:m[5]]
		name := string(unicode.ToUpper(rune(field[0]))) + field[1:]
		brace := m[0] + strings.Index(rest[m[0]:], "{")
		return Example{Title: name, Query: comments + kind + " " + name + " " + rest[brace:]}, true, nil
	}
	named := namedOperation.FindStringSubmatch(rest)
	if named == nil {
		return Example{}, false, fmt.Errorf("cannot tell the operation of %q", lines[op])
	}
	return Example{Title: named[1], Query: comments + rest}, true, nil
}
