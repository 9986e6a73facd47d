package model_test

import (
	"encoding/json"
	"os"
	"regexp"
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
