package model

import (
	"regexp"
	"strconv"
	"strings"
)

// PatternRule is one masking step of MessagePattern: every match of Core becomes Tag.
//
// Core is written in the common subset of Go's RE2 and PostgreSQL's ARE, so that the
// database can compute the same templates (db.PatternSQL builds its regexp_replace
// chain from these rules): ASCII bracket classes instead of \d or \w, [.] instead of
// \., (?:...) for every group, greedy quantifiers only (both engines then take the
// leftmost-longest match), and no lookaround or \b, which RE2 lacks and which means a
// backspace in ARE.
type PatternRule struct {
	// Tag replaces each match, e.g. "<num>".
	Tag string
	// Core is the masked text.
	Core string
	// Bounded requires the match to stand between characters that are not ASCII
	// letters or digits (or the ends of the message), so "it's" holds no quoted value
	// and "accessed12345678" no hex id. Without lookaround the boundaries are matched
	// and put back, and a boundary consumed by one match cannot start the next one:
	// bounded rules run twice, which masks the values the first run skipped.
	Bounded bool
	// Guard, if not empty, is a cheap regular expression that every message the
	// rule can change matches, already before any rule ran (masking only replaces
	// text by tags, which are bounded by < and >, so it creates no digit, hex run or
	// punctuation a guard looks for). A message that fails it skips the expensive
	// expression; no result changes. It is in the same common subset as Core.
	Guard string
}

// boundary is what may stand beside a bounded rule's match.
const boundary = `[^0-9A-Za-z]`

// Expr is the rule's whole regular expression. A bounded rule's expression has two
// groups, the boundaries before and after the match.
func (r PatternRule) Expr() string {
	if !r.Bounded {
		return r.Core
	}
	return "(^|" + boundary + ")(?:" + r.Core + ")(" + boundary + "|$)"
}

// Passes is how many times the rule runs (see Bounded).
func (r PatternRule) Passes() int {
	if r.Bounded {
		return 2
	}
	return 1
}

// GoReplacement is the replacement in regexp.Regexp.ReplaceAllString's syntax.
func (r PatternRule) GoReplacement() string {
	if !r.Bounded {
		return r.Tag
	}
	return "${1}" + r.Tag + "${2}"
}

// SQLReplacement is the replacement in PostgreSQL regexp_replace's syntax.
func (r PatternRule) SQLReplacement() string {
	if !r.Bounded {
		return r.Tag
	}
	return `\1` + r.Tag + `\2`
}

const (
	hexDigit = `[0-9a-fA-F]`
	h16      = hexDigit + `{1,4}`
	ipv4     = `[0-9]{1,3}(?:[.][0-9]{1,3}){3}`
)

// ipv6 covers the full form and the compressed forms (with "::"), with an IPv4
// tail only in the usual ::ffff: mapping.
var ipv6 = strings.Join([]string{
	`(?:` + h16 + `:){7}` + h16,
	`(?:` + h16 + `:){1,6}(?::` + h16 + `){1,6}`,
	`(?:` + h16 + `:){1,7}:`,
	`::[fF]{4}:` + ipv4,
	`::(?:` + h16 + `:){0,6}` + h16,
}, "|")

// hexRun is a run of 8 or more hex digits holding both a digit and a letter a-f.
// Without lookahead, "at least 8 long" and "holds both" are one expression by the
// position of the first digit/letter pair (a run holding both has such a pair).
func hexRun() string {
	pair := `(?:[0-9][a-fA-F]|[a-fA-F][0-9])`
	var alts []string
	for p := 0; p <= 6; p++ { // the pair starts at p, so 6-p or more digits follow
		pre := ""
		if p > 0 {
			pre = hexDigit + "{" + strconv.Itoa(p) + "}"
		}
		alts = append(alts, pre+pair+hexDigit+"{"+strconv.Itoa(6-p)+",}")
	}
	alts = append(alts, hexDigit+`{7,}`+pair+hexDigit+`*`)
	return strings.Join(alts, "|")
}

// PatternRules are MessagePattern's rules, in the order they run.
var PatternRules = []PatternRule{
	{Tag: "<time>", Guard: `[0-9]{4}-[0-9]`, Core: `[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?)?`},
	{Tag: "<email>", Guard: `@`, Core: `[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:[.][A-Za-z0-9-]+)*[.][A-Za-z]{2,}`},
	{Tag: "<uuid>", Guard: hexDigit + `{8}-`, Core: hexDigit + `{8}-` + hexDigit + `{4}-` + hexDigit + `{4}-` + hexDigit + `{4}-` + hexDigit + `{12}`},
	// Two rules, so that each has its own guard (IPv6 is the costliest expression and
	// few messages hold a colon); IPv6 first, so that the IPv4 tail of
	// "::ffff:10.1.2.3" stays in it.
	{Tag: "<ip>", Bounded: true, Guard: `::|:` + h16 + `:`, Core: ipv6 + `|\[(?:` + ipv6 + `)\](?::[0-9]{1,5})?`},
	{Tag: "<ip>", Bounded: true, Guard: `[.]`, Core: ipv4 + `(?::[0-9]{1,5})?`},
	{Tag: "<quoted>", Bounded: true, Guard: `['"]`, Core: `'[^']*'|"[^"]*"`},
	{Tag: "<hex>", Bounded: true, Guard: `0[xX]|` + hexDigit + `{8}`, Core: `0[xX]` + hexDigit + `+|` + hexRun()},
	{Tag: "<num>", Core: `[0-9]+(?:[.][0-9]+)?`},
}

type compiledRule struct {
	re    *regexp.Regexp
	repl  string
	runs  int
	guard *regexp.Regexp // nil: none
}

var compiledRules = func() []compiledRule {
	out := make([]compiledRule, len(PatternRules))
	for i, r := range PatternRules {
		re := regexp.MustCompile(r.Expr())
		re.Longest() // PostgreSQL's ARE takes the leftmost-longest match; so must Go
		out[i] = compiledRule{re: re, repl: r.GoReplacement(), runs: r.Passes()}
		if r.Guard != "" {
			out[i].guard = regexp.MustCompile(r.Guard)
		}
	}
	return out
}()

// MessagePattern returns the template of a log message: its variable parts masked
// by these rules, in this order (each sees the previous ones' output, so a masked
// part is never masked again as smaller parts):
//
//  1. <time>: ISO 8601 / RFC 3339 dates and date-times ("2024-06-13",
//     "2024-06-13T12:00:00.123Z", "2024-06-13 12:00:00,5+02:00").
//  2. <email>: addresses such as "bob.smith+x@mail.example.com".
//  3. <uuid>: 8-4-4-4-12 hex digits, in any case.
//  4. <ip>: IPv4 addresses with an optional :port ("10.0.0.1:8080"), IPv6 addresses
//     in full or compressed form ("fe80::1", "::ffff:10.0.0.1"), and bracketed
//     IPv6 with an optional port ("[::1]:443"). A dotted quad such as a version
//     "1.2.3.4" is masked too.
//  5. <quoted>: '...' and "..." (no escapes inside: a quote ends the value).
//  6. <hex>: 0x-prefixed hex numbers, and runs of 8 or more hex digits that hold
//     both a digit and a letter a-f ("deadbeef42"). A run of decimal digits only is
//     a number (else ids 9999999 and 10000000 would get different templates), and
//     one of letters only is a word ("deadbeef").
//  7. <num>: integers and decimals, also glued to letters: the digits are masked
//     and the letters kept ("12ms" -> "<num>ms", "user42" -> "user<num>"). A sign
//     stays as text.
//
// Rules 4-6 need their match to stand between characters that are not ASCII
// letters or digits (or the message's ends): "it's" holds no quoted value and
// "accessed12345678" no hex id, while "_" and "-" separate ("trace_deadbeef42").
// The other rules match anywhere.
//
// The database computes the same templates (db.PatternSQL); both use PatternRules.
func MessagePattern(msg string) string {
	orig := msg // guards test the original message, as the SQL does
	for _, r := range compiledRules {
		if r.guard != nil && !r.guard.MatchString(orig) {
			continue
		}
		for range r.runs {
			msg = r.re.ReplaceAllString(msg, r.repl)
		}
	}
	return msg
}
