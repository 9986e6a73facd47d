package model

import (
	"strconv"
	"strings"
	"unicode/utf8"
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
// The database computes the same templates (db.PatternSQL, the regexp_replace chain
// of PatternRules). Here each rule is a hand-written scanner that gives exactly what
// the rule's regular expression gives under leftmost-longest replacement (the
// regexp chain is kept as the reference in the tests, which fuzz one against the
// other): it runs at ingest on every message, where the regexps cost about 5 µs a
// message. One pass over the message first finds which rules' guards it matches; a
// message without any (no digit, quote, '@', '.', ...) is returned as it is, and a
// rule that masks nothing allocates nothing.
func MessagePattern(msg string) string {
	g := patternGuards(msg) // on the original message, as the SQL tests them
	if g == 0 {
		return msg
	}
	if g&guardTime != 0 {
		msg = maskTimes(msg)
	}
	if g&guardEmail != 0 {
		msg = maskEmails(msg)
	}
	if g&guardUUID != 0 {
		msg = maskUUIDs(msg)
	}
	if g&guardIPv6 != 0 {
		msg = maskBounded(maskBounded(msg, ipv6Core, "<ip>"), ipv6Core, "<ip>")
	}
	if g&guardIPv4 != 0 {
		msg = maskBounded(maskBounded(msg, ipv4Core, "<ip>"), ipv4Core, "<ip>")
	}
	if g&guardQuote != 0 {
		msg = maskBounded(maskBounded(msg, quotedCore, "<quoted>"), quotedCore, "<quoted>")
	}
	if g&guardHex != 0 {
		msg = maskBounded(maskBounded(msg, hexCore, "<hex>"), hexCore, "<hex>")
	}
	if g&guardDigit != 0 { // <num> has no guard; without a digit it masks nothing (tags hold none)
		msg = maskNums(msg)
	}
	return msg
}

// The rules' guards (PatternRule.Guard) a message matches, as bits.
const (
	guardTime  = 1 << iota // [0-9]{4}-[0-9]
	guardEmail             // @
	guardUUID              // [0-9a-fA-F]{8}-
	guardIPv6              // ::|:[0-9a-fA-F]{1,4}:
	guardIPv4              // [.]
	guardQuote             // ['"]
	guardHex               // 0[xX]|[0-9a-fA-F]{8}
	guardDigit             // [0-9]: <num> can mask something
)

// patternGuards returns the guards s matches, in one pass.
func patternGuards(s string) uint8 {
	var g uint8
	hexRun, digitRun := 0, 0 // lengths of the hex and decimal runs ending before i
	lastColon := -2
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isDigit(c):
			g |= guardDigit
			digitRun++
			hexRun++
			if c == '0' && i+1 < len(s) && s[i+1]|0x20 == 'x' {
				g |= guardHex
			}
		case isHexLetter(c):
			digitRun = 0
			hexRun++
		default:
			switch c {
			case '-':
				if digitRun >= 4 && i+1 < len(s) && isDigit(s[i+1]) {
					g |= guardTime
				}
				if hexRun >= 8 {
					g |= guardUUID
				}
			case '@':
				g |= guardEmail
			case ':':
				if lastColon == i-1 || (hexRun >= 1 && hexRun <= 4 && lastColon == i-hexRun-1) {
					g |= guardIPv6
				}
				lastColon = i
			case '.':
				g |= guardIPv4
			case '\'', '"':
				g |= guardQuote
			}
			digitRun, hexRun = 0, 0
		}
		if hexRun >= 8 {
			g |= guardHex
		}
	}
	return g
}

func isDigit(c byte) bool     { return '0' <= c && c <= '9' }
func isHexLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'f' }
func isHex(c byte) bool       { return isDigit(c) || isHexLetter(c) }
func isLetter(c byte) bool    { return 'a' <= c|0x20 && c|0x20 <= 'z' }
func isAlnum(c byte) bool     { return isDigit(c) || isLetter(c) }

// isEmailLocal is [A-Za-z0-9._%+-]; isDomain is [A-Za-z0-9-].
func isEmailLocal(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}
func isDomain(c byte) bool { return isAlnum(c) || c == '-' }

// digitsEnd is the end of the run of decimal digits from i.
func digitsEnd(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// hexEnd is the end of the run of hex digits from i.
func hexEnd(s string, i int) int {
	for i < len(s) && isHex(s[i]) {
		i++
	}
	return i
}

// masked builds a rule's output: the text between matches copied, each match
// replaced by the tag. Nothing is allocated until the first match.
type masked struct {
	b   strings.Builder
	src string
	pos int // src before pos is written or replaced
}

// replace writes src[pos:from] and tag, and skips src[from:to].
func (m *masked) replace(from, to int, tag string) {
	if m.b.Cap() == 0 {
		m.b.Grow(len(m.src) + 16)
	}
	m.b.WriteString(m.src[m.pos:from])
	m.b.WriteString(tag)
	m.pos = to
}

// result is src with its replacements (src itself when there were none).
func (m *masked) result() string {
	if m.b.Cap() == 0 {
		return m.src
	}
	m.b.WriteString(m.src[m.pos:])
	return m.b.String()
}

// maskTimes is rule <time>. A match starts with 4 digits and a '-', so each '-'
// after 4 digits is a candidate, leftmost first.
func maskTimes(s string) string {
	m := masked{src: s}
	for j := 4; j < len(s); j++ {
		k := strings.IndexByte(s[j:], '-')
		if k < 0 {
			break
		}
		j += k
		i := j - 4
		if i < m.pos || !isDigit(s[i]) || !isDigit(s[i+1]) || !isDigit(s[i+2]) || !isDigit(s[i+3]) {
			continue
		}
		if e := timeEnd(s, i); e > 0 {
			m.replace(i, e, "<time>")
			j = e + 3 // the loop's j++ makes it e+4: the next start is at e or later
		}
	}
	return m.result()
}

// twoDigits reports s[i:i+2] being two decimal digits.
func twoDigits(s string, i int) bool { return i+2 <= len(s) && isDigit(s[i]) && isDigit(s[i+1]) }

// timeEnd is the end of the longest <time> match at i (s[i:i+4] digits, s[i+4] a
// '-'), or -1. Every optional part only extends the match and none can start with
// what ends the part before it, so taking each part when it is there is longest.
func timeEnd(s string, i int) int {
	if !twoDigits(s, i+5) || i+7 >= len(s) || s[i+7] != '-' || !twoDigits(s, i+8) {
		return -1
	}
	e := i + 10
	// (?:[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?)?
	if e < len(s) && (s[e] == 'T' || s[e] == 't' || s[e] == ' ') && twoDigits(s, e+1) && e+3 < len(s) && s[e+3] == ':' && twoDigits(s, e+4) {
		e += 6
		if e < len(s) && s[e] == ':' && twoDigits(s, e+1) {
			e += 3
			if e < len(s) && (s[e] == '.' || s[e] == ',') && e+1 < len(s) && isDigit(s[e+1]) {
				e = digitsEnd(s, e+1)
			}
		}
		switch {
		case e < len(s) && (s[e] == 'Z' || s[e] == 'z'):
			e++
		case e < len(s) && (s[e] == '+' || s[e] == '-') && twoDigits(s, e+1):
			e += 3
			if e < len(s) && s[e] == ':' && twoDigits(s, e+1) {
				e += 3
			} else if twoDigits(s, e) {
				e += 2
			}
		}
	}
	return e
}

// maskEmails is rule <email>: per '@', the match starts where the run of local-part
// characters before it starts (not before the previous match's end).
func maskEmails(s string) string {
	m := masked{src: s}
	for j := 0; j < len(s); j++ {
		k := strings.IndexByte(s[j:], '@')
		if k < 0 {
			break
		}
		j += k
		i := j
		for i > m.pos && isEmailLocal(s[i-1]) {
			i--
		}
		if i == j {
			continue
		}
		if e := domainEnd(s, j+1); e > 0 {
			m.replace(i, e, "<email>")
			j = e - 1
		}
	}
	return m.result()
}

// domainEnd is the end of the longest [A-Za-z0-9-]+(?:[.][A-Za-z0-9-]+)*[.][A-Za-z]{2,}
// at p, or -1: labels separated by dots, ending within the last label (after the
// first) that starts with two letters, after all its leading letters.
func domainEnd(s string, p int) int {
	q := p
	for q < len(s) && isDomain(s[q]) {
		q++
	}
	if q == p {
		return -1
	}
	best := -1
	for q < len(s) && s[q] == '.' {
		r := q + 1
		letters := r
		for letters < len(s) && isLetter(s[letters]) {
			letters++
		}
		end := letters
		for end < len(s) && isDomain(s[end]) {
			end++
		}
		if end == r {
			break
		}
		if letters-r >= 2 {
			best = letters
		}
		q = end
	}
	return best
}

// maskUUIDs is rule <uuid>: a match has its first '-' 8 characters in.
func maskUUIDs(s string) string {
	m := masked{src: s}
	for j := 8; j < len(s); j++ {
		k := strings.IndexByte(s[j:], '-')
		if k < 0 {
			break
		}
		j += k
		i := j - 8
		if i >= m.pos && isUUID(s, i) {
			m.replace(i, i+36, "<uuid>")
			j = i + 36 + 7
		}
	}
	return m.result()
}

// isUUID reports 8-4-4-4-12 hex digits at i.
func isUUID(s string, i int) bool {
	if i+36 > len(s) {
		return false
	}
	for k := range 36 {
		c := s[i+k]
		if k == 8 || k == 13 || k == 18 || k == 23 {
			if c != '-' {
				return false
			}
		} else if !isHex(c) {
			return false
		}
	}
	return true
}

// maskNums is rule <num>: [0-9]+(?:[.][0-9]+)?.
func maskNums(s string) string {
	m := masked{src: s}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			continue
		}
		e := digitsEnd(s, i)
		if e+1 < len(s) && s[e] == '.' && isDigit(s[e+1]) {
			e = digitsEnd(s, e+1)
		}
		m.replace(i, e, "<num>")
		i = e - 1
	}
	return m.result()
}

// A core returns the end of the longest match of a bounded rule's Core at c that
// is followed by a boundary (a character not an ASCII letter or digit) or the end
// of s, or -1. Only the character after the match is looked at: the one before is
// the caller's (maskBounded).
type core func(s string, c int) int

// boundedEnd reports e being the end of s or followed by a boundary.
func boundedEnd(s string, e int) bool { return e == len(s) || !isAlnum(s[e]) }

// maskBounded runs one pass of a bounded rule: (^|B)(?:core)(B|$) replaced by
// ${1}tag${2}, leftmost-longest, where B is one character that is not an ASCII
// letter or digit. As in the regexp, the boundary after a match is consumed by it,
// so it cannot be the boundary before the next match (hence the rules' two passes).
// Every core starts with an ASCII character, so a candidate is a byte after a
// boundary (or at 0); the boundary before it must start at or after the previous
// match's end.
func maskBounded(s string, core core, tag string) string {
	m := masked{src: s}
	next := 0 // the next match, boundary included, starts here or later
	// A match at 0 either has no boundary before its core (^) or has s's first
	// character as it: the longer match, boundary after it included, wins. On a tie
	// ("'''", "[::1]") the boundary is taken, as PostgreSQL does (an alternation is
	// greedy: its longer branch wins), so "[::1]" is "[<ip>]". Go's regexp would
	// take ^ ("<ip>"), the first alternative: the regexps masked these messages
	// differently at ingest than db.PatternSQL over the rows.
	if len(s) > 0 {
		cs, e := 0, core(s, 0)
		if e > 0 {
			next = afterBoundary(s, e)
		}
		if !isAlnum(s[0]) {
			_, w := utf8.DecodeRuneInString(s)
			if w < len(s) {
				if e2 := core(s, w); e2 > 0 && afterBoundary(s, e2) >= next {
					cs, e, next = w, e2, afterBoundary(s, e2)
				}
			}
		}
		if e > 0 {
			m.replace(cs, e, tag)
		}
	}
	for p := max(1, next); p < len(s); p++ {
		c := s[p]
		if c >= utf8.RuneSelf || isAlnum(s[p-1]) {
			continue
		}
		start := p - 1 // of the boundary before p
		if s[p-1] >= utf8.RuneSelf {
			_, w := utf8.DecodeLastRuneInString(s[:p])
			start = p - w
		}
		if start < next || start == 0 { // consumed by the previous match, or tried above
			continue
		}
		if e := core(s, p); e > 0 {
			m.replace(p, e, tag)
			next = afterBoundary(s, e)
			p = next // the loop's p++: a core starts after a boundary
		}
	}
	return m.result()
}

// afterBoundary is the end of a bounded match whose core ends at e: after the
// boundary character at e, if any.
func afterBoundary(s string, e int) int {
	if e == len(s) {
		return e
	}
	if s[e] < utf8.RuneSelf {
		return e + 1
	}
	_, w := utf8.DecodeRuneInString(s[e:])
	return e + w
}

// quotedCore is '[^']*'|"[^"]*".
func quotedCore(s string, c int) int {
	q := s[c]
	if q != '\'' && q != '"' {
		return -1
	}
	k := strings.IndexByte(s[c+1:], q)
	if k < 0 {
		return -1
	}
	if e := c + 1 + k + 1; boundedEnd(s, e) {
		return e
	}
	return -1
}

// hexCore is 0[xX][0-9a-fA-F]+ or a run of 8 or more hex digits holding a digit and
// a letter (hexRun). A match followed by a boundary takes the whole hex run.
func hexCore(s string, c int) int {
	if !isHex(s[c]) {
		return -1
	}
	if s[c] == '0' && c+1 < len(s) && s[c+1]|0x20 == 'x' {
		if e := hexEnd(s, c+2); e > c+2 && boundedEnd(s, e) {
			return e
		}
		return -1 // the run from c is "0": no hexRun either
	}
	digit, letter := false, false
	e := c
	for ; e < len(s) && isHex(s[e]); e++ {
		if isDigit(s[e]) {
			digit = true
		} else {
			letter = true
		}
	}
	if e-c >= 8 && digit && letter && boundedEnd(s, e) {
		return e
	}
	return -1
}

// ipv4End is the end of [0-9]{1,3}(?:[.][0-9]{1,3}){3} at c whose last number is a
// whole run of digits (a shorter one is followed by a digit, no boundary), or -1.
func ipv4End(s string, c int) int {
	p := c
	for octet := range 4 {
		q := digitsEnd(s, p)
		if q == p || q-p > 3 {
			return -1
		}
		if octet == 3 {
			return q
		}
		if q >= len(s) || s[q] != '.' {
			return -1
		}
		p = q + 1
	}
	return -1
}

// portEnd extends a match ending at e by (?::[0-9]{1,5})? when that is followed by
// a boundary, else returns e if e is, else -1.
func portEnd(s string, e int) int {
	if e < len(s) && s[e] == ':' {
		if q := digitsEnd(s, e+1); q-e-1 >= 1 && q-e-1 <= 5 && boundedEnd(s, q) {
			return q
		}
	}
	if boundedEnd(s, e) {
		return e
	}
	return -1
}

// ipv4Core is [0-9]{1,3}(?:[.][0-9]{1,3}){3}(?::[0-9]{1,5})?.
func ipv4Core(s string, c int) int {
	if !isDigit(s[c]) {
		return -1
	}
	e := ipv4End(s, c)
	if e < 0 {
		return -1
	}
	return portEnd(s, e)
}

// ipv6Core is ipv6|\[(?:ipv6)\](?::[0-9]{1,5})?.
func ipv6Core(s string, c int) int {
	if s[c] != '[' {
		return ipv6End(s, c, boundedEnd)
	}
	e := ipv6End(s, c+1, func(s string, e int) bool { return e < len(s) && s[e] == ']' })
	if e < 0 {
		return -1
	}
	return portEnd(s, e+1)
}

// ipv6End is the largest end of an ipv6 match at c for which ok holds, or -1.
//
// Every end ok accepts is followed by a character that is not a hex digit, and the
// match starts after a non-alphanumeric character, so each h16 of such a match is a
// whole run of hex digits: the text from c splits into fields (the hex runs between
// colons, "" for the empty one of "::"), and each alternative of ipv6 is a shape of
// those fields. The longest alternative has 13 fields ((h16:){6}:(:h16){6}).
func ipv6End(s string, c int, ok func(string, int) bool) int {
	const maxFields = 14
	var start, end [maxFields]int
	n := 0
	for p := c; n < maxFields; {
		q := hexEnd(s, p)
		start[n], end[n] = p, q
		n++
		if q >= len(s) || s[q] != ':' {
			break
		}
		p = q + 1
	}
	h16 := func(k int) bool { l := end[k] - start[k]; return k < n && l >= 1 && l <= 4 }
	h16s := func(from, to int) bool { // fields from..to (inclusive) are all h16
		for k := from; k <= to; k++ {
			if !h16(k) {
				return false
			}
		}
		return true
	}
	// emptyColon: field k is empty and followed by ':' (a "::" at start[k]-1).
	emptyColon := func(k int) bool { return k < n-1 && start[k] == end[k] }
	best := -1
	try := func(e int) {
		if e > best && ok(s, e) {
			best = e
		}
	}
	// (?:h16:){7}h16
	if n >= 8 && h16s(0, 7) {
		try(end[7])
	}
	for a := 1; a <= 7 && h16(a-1); a++ { // a leading h16s, then "::"
		if !emptyColon(a) {
			continue
		}
		try(start[a] + 1) // (?:h16:){1,7}:
		if a > 6 {
			continue
		}
		for b := 1; b <= 6 && h16(a+b); b++ { // (?:h16:){1,6}(?::h16){1,6}
			try(end[a+b])
		}
	}
	if emptyColon(0) && emptyColon(1) {
		// "::" at c: ::(?:h16:){0,6}h16 and ::[fF]{4}:ipv4
		for k := 2; k <= 8 && h16(k); k++ {
			try(end[k])
		}
		if end[2]-start[2] == 4 && n >= 4 && strings.EqualFold(s[start[2]:end[2]], "ffff") {
			if e := ipv4End(s, start[3]); e >= 0 {
				try(e)
			}
		}
	}
	return best
}
