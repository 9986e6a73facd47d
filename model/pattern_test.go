package model_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/loggraph/loggraph/model"
)

// PatternCase is one message of the shared corpus and its template; the database's
// templates are checked against the same file (graph tests).
type patternCase struct {
	Msg  string `json:"msg"`
	Want string `json:"want"`
}

func loadCorpus(t *testing.T) []patternCase {
	t.Helper()
	b, err := os.ReadFile("testdata/patterns.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []patternCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

func TestMessagePatternCorpus(t *testing.T) {
	t.Parallel()
	for _, c := range loadCorpus(t) {
		if got := model.MessagePattern(c.Msg); got != c.Want {
			t.Errorf("MessagePattern(%q)\n got %q\nwant %q", c.Msg, got, c.Want)
		}
	}
}

// TestMessagePatternOrder pins the rules' order: an earlier rule's value must not
// come out as a later rule's fragments.
func TestMessagePatternOrder(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, msg, want string }{
		{"timestamp before numbers", "2024-06-13T12:00:00Z", "<time>"},
		{"date before numbers", "2024-06-13", "<time>"},
		{"email before ip and num", "a1@b2.example.org", "<email>"},
		{"uuid before hex and num", "3f2b1c9e-0a4d-4c1e-9b7f-1234567890ab", "<uuid>"},
		{"ip before num", "10.20.30.40:5432", "<ip>"},
		{"quoted before hex and num", "'deadbeef42 17'", "<quoted>"},
		{"hex before num", "0x1234", "<hex>"},
		{"num last", "v2", "v<num>"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := model.MessagePattern(c.msg); got != c.want {
				t.Errorf("%s: MessagePattern(%q) = %q, want %q", c.name, c.msg, got, c.want)
			}
		})
	}
}

// TestMessagePatternRulesCovered checks that every rule's tag occurs in the corpus's
// templates, so no rule goes untested.
func TestMessagePatternRulesCovered(t *testing.T) {
	t.Parallel()
	cases := loadCorpus(t)
	for _, r := range model.PatternRules {
		found := false
		for _, c := range cases {
			if regexp.MustCompile(regexp.QuoteMeta(r.Tag)).MatchString(c.Want) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no corpus template has %s", r.Tag)
		}
	}
}

// TestMessagePatternIdempotent: a template is its own template, so masking twice
// (or masking a template a client sends back) changes nothing.
func TestMessagePatternIdempotent(t *testing.T) {
	t.Parallel()
	for _, c := range loadCorpus(t) {
		if got := model.MessagePattern(c.Want); got != c.Want {
			t.Errorf("MessagePattern(%q) = %q, want it unchanged", c.Want, got)
		}
	}
}

// refRule is one of model.PatternRules compiled as the regexp it is written as.
type refRule struct {
	re    *regexp.Regexp
	repl  string
	runs  int
	guard *regexp.Regexp // nil: none
}

var refRules = func() []refRule {
	out := make([]refRule, len(model.PatternRules))
	for i, r := range model.PatternRules {
		// Among equally long matches at the message's start, PostgreSQL's greedy
		// alternation takes a boundary character over ^ ("[::1]" is "[<ip>]"), Go's
		// regexp the first alternative: with the boundary first, Go picks as
		// PostgreSQL does (the extent of each match, leftmost-longest, is unchanged).
		re := regexp.MustCompile(strings.Replace(r.Expr(), "(^|[^0-9A-Za-z])", "([^0-9A-Za-z]|^)", 1))
		re.Longest() // PostgreSQL's ARE takes the leftmost-longest match; so must Go
		out[i] = refRule{re: re, repl: r.GoReplacement(), runs: r.Passes()}
		if r.Guard != "" {
			out[i].guard = regexp.MustCompile(r.Guard)
		}
	}
	return out
}()

// refMessagePattern is MessagePattern as the chain of model.PatternRules' regexps
// (the implementation before the hand-written scanners, and what db.PatternSQL
// runs), with PostgreSQL's choice among equally long matches: the reference the
// scanners must equal.
func refMessagePattern(msg string) string {
	orig := msg // guards test the original message, as the SQL does
	for _, r := range refRules {
		if r.guard != nil && !r.guard.MatchString(orig) {
			continue
		}
		for range r.runs {
			msg = r.re.ReplaceAllString(msg, r.repl)
		}
	}
	return msg
}

// patternSeeds are tricky messages (quotes, UUIDs, hex, IP addresses, numbers
// inside words, unicode), shared with db's TestPatternSQLMatchesSeeds.
func patternSeeds(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile("testdata/pattern_seeds.json")
	if err != nil {
		t.Fatal(err)
	}
	var seeds []string
	if err := json.Unmarshal(b, &seeds); err != nil {
		t.Fatal(err)
	}
	return seeds
}

// invalidUTF8Seeds are seeds PostgreSQL cannot store (so not in the shared file).
var invalidUTF8Seeds = []string{"\xff'a'\xfe", "\xe2\x82 1.2.3.4", "\xc3'x'\xc3", "1.2.3.4\x80", "\x80::1\x80", "'\xe2\x82\xac'\xac", "a\x00'b'\x001"}

// TestMessagePatternMatchesRegexps: the scanners give the regexp chain's template
// for every message of both corpora (the fuzz test's seeds, also run without -fuzz).
func TestMessagePatternMatchesRegexps(t *testing.T) {
	t.Parallel()
	msgs := append(patternSeeds(t), invalidUTF8Seeds...)
	for _, c := range loadCorpus(t) {
		msgs = append(msgs, c.Msg, c.Want)
	}
	for i, msg := range msgs {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if got, want := model.MessagePattern(msg), refMessagePattern(msg); got != want {
				t.Errorf("MessagePattern(%q)\n got %q\nwant %q (regexps)", msg, got, want)
			}
		})
	}
}

// FuzzMessagePattern compares the scanners with the regexp chain on any message:
//
//	go test ./model/ -run '^$' -fuzz FuzzMessagePattern -fuzztime 5m
func FuzzMessagePattern(f *testing.F) {
	for _, s := range patternSeeds(f) {
		f.Add(s)
	}
	for _, s := range invalidUTF8Seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		if got, want := model.MessagePattern(msg), refMessagePattern(msg); got != want {
			t.Errorf("MessagePattern(%q)\n got %q\nwant %q (regexps)", msg, got, want)
		}
	})
}

// benchMessages are messages shaped like the ingest benchmark's (bench ingest: all
// distinct, numbers only) and like the seeds' mixes.
func benchMessages(b *testing.B) map[string][]string {
	b.Helper()
	ingest := make([]string, 1000)
	for i := range ingest {
		ingest[i] = fmt.Sprintf("request %d for user %d finished in %d ms", i*7919%1000000, i*31%100000, i%900)
	}
	plain := []string{"Cache warmed", "user logged out", "Connection closed by peer", "shutting down"}
	var mixed []string
	for _, s := range patternSeeds(b) {
		if len(s) > 20 {
			mixed = append(mixed, s)
		}
	}
	return map[string][]string{"ingest": ingest, "plain": plain, "mixed": mixed,
		"long": {strings.Repeat("token=deadbeef42 from 10.0.0.1 took 12ms; ", 20)}}
}

// BenchmarkMessagePattern: the scanners (impl=scan) against the regexp chain they
// replace (impl=regexp), per message.
func BenchmarkMessagePattern(b *testing.B) {
	sets := benchMessages(b)
	for _, name := range []string{"ingest", "plain", "mixed", "long"} {
		msgs := sets[name]
		for _, impl := range []struct {
			name string
			f    func(string) string
		}{{"scan", model.MessagePattern}, {"regexp", refMessagePattern}} {
			b.Run(name+"/impl="+impl.name, func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					impl.f(msgs[i%len(msgs)])
					i++
				}
			})
		}
	}
}
