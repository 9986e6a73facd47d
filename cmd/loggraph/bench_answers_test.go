package main

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loggraph/loggraph/model"
)

// chRows parses rows as ClickHouse's JSONCompact data (64-bit integers quoted).
func chRows(t *testing.T, data string) [][]json.RawMessage {
	t.Helper()
	var rows [][]json.RawMessage
	if err := json.Unmarshal([]byte(data), &rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

// mustAgree fails unless the two answers compare equal within tol.
func mustAgree(t *testing.T, want, got answer, err1, err2 error, tol float64) {
	t.Helper()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if diffs, _ := compareAnswers(want, got, tol); len(diffs) > 0 {
		t.Fatalf("differences: %q", diffs)
	}
}

func TestCompareAnswers(t *testing.T) {
	base := func() answer {
		a := newAnswer()
		a.counts["x"], a.counts["y"] = 3, 4
		a.values["p95"] = 100
		a.order = []string{"y", "x"}
		return a
	}
	if diffs, maxRel := compareAnswers(base(), base(), 0.01); len(diffs) != 0 || maxRel != 0 {
		t.Fatalf("equal answers: %q, %g", diffs, maxRel)
	}
	cases := []struct {
		name   string
		change func(a *answer)
		want   string // in the one difference
	}{
		{"count", func(a *answer) { a.counts["x"] = 2 }, `"x": 3, ClickHouse 2`},
		{"missing", func(a *answer) { delete(a.counts, "y") }, `"y": 4, missing`},
		{"extra", func(a *answer) { a.counts["z"] = 1 }, `"z": 1 in ClickHouse's answer only`},
		{"value", func(a *answer) { a.values["p95"] = 102 }, `2.00% off, tolerance 1.00%`},
		{"order", func(a *answer) { a.order = []string{"x", "y"} }, "ranking differs"},
	}
	for _, c := range cases {
		got := base()
		c.change(&got)
		diffs, _ := compareAnswers(base(), got, 0.01)
		if len(diffs) != 1 || !strings.Contains(diffs[0], c.want) {
			t.Errorf("%s: %q, want one difference with %q", c.name, diffs, c.want)
		}
	}
	// Within the tolerance: no difference, the deviation reported.
	got := base()
	got.values["p95"] = 100.5
	if diffs, maxRel := compareAnswers(base(), got, 0.01); len(diffs) != 0 || maxRel != 0.005 {
		t.Fatalf("within tolerance: %q, %g", diffs, maxRel)
	}
}

func TestHistogramAnswersAgree(t *testing.T) {
	reply := `{"data":{"logHistogram":{"interval":"30m","buckets":[
		{"start":"2026-12-03T09:00:00Z","count":5,"bySeverity":[{"severity":"DEBUG","count":0},{"severity":"INFO","count":4},{"severity":"ERROR","count":1}]},
		{"start":"2026-12-03T09:30:00Z","count":0,"bySeverity":[{"severity":"INFO","count":0}]}]}}}`
	unix := func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
	want, err1 := histogramAnswer([]byte(reply), unix)
	// ClickHouse lists no empty bucket, and severities as numbers.
	got, err2 := chHistogramAnswer(chRows(t, `[[1796288400, 2, "4"], [1796288400, 4, "1"]]`))
	mustAgree(t, want, got, err1, err2, 0)

	// Day buckets in a time zone: loggraph's start is the local midnight.
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	reply = `{"data":{"logHistogram":{"buckets":[{"start":"2026-12-02T23:00:00Z","bySeverity":[{"severity":"WARN","count":7}]}]}}}`
	want, err1 = histogramAnswer([]byte(reply), func(t time.Time) string { return t.In(berlin).Format(time.DateOnly) })
	got, err2 = chHistogramAnswer(chRows(t, `[["2026-12-03", 3, "7"]]`))
	mustAgree(t, want, got, err1, err2, 0)
	got, _ = chHistogramAnswer(chRows(t, `[["2026-12-02", 3, "7"]]`))
	if diffs, _ := compareAnswers(want, got, 0); len(diffs) != 2 {
		t.Fatalf("another day: %q", diffs)
	}
}

func TestFacetsAnswersAgree(t *testing.T) {
	// loggraph answers in the asked order of fields, ClickHouse by field name.
	reply := `{"data":{"logFacets":[
		{"field":"SOURCE","otherCount":2,"values":[{"value":"orders","count":9},{"value":"billing","count":4}]},
		{"field":"KIND","otherCount":0,"values":[{"value":"APP","count":13}]}]}}`
	want, err1 := facetsAnswer([]byte(reply))
	got, err2 := chFacetsAnswer(chRows(t, `[["KIND","APP","13"],["SOURCE","orders","9"],["SOURCE","billing","4"]]`))
	mustAgree(t, want, got, err1, err2, 0)
	// The same counts ranked otherwise differ.
	got, _ = chFacetsAnswer(chRows(t, `[["KIND","APP","13"],["SOURCE","billing","4"],["SOURCE","orders","9"]]`))
	if diffs, _ := compareAnswers(want, got, 0); len(diffs) != 1 || !strings.Contains(diffs[0], "ranking") {
		t.Fatalf("ranking: %q", diffs)
	}
}

func TestStatsAnswersAgree(t *testing.T) {
	reply := `{"data":{"apiRequestStats":{"rows":[
		{"endpoint":"GET /orders","other":false,"count":10,"errorCount":2,"errorRate":0.2,"timing":{"p50":40.5,"p95":120,"p99":300.25}}]}}}`
	want, err1 := statsAnswer([]byte(reply))
	got, err2 := chStatsAnswer(chRows(t, `[["GET /orders","10","2",[40.5,120.9,300.25]]]`))
	mustAgree(t, want, got, err1, err2, percentileTolerance)
	if diffs, maxRel := compareAnswers(want, got, 0.001); len(diffs) != 1 || maxRel < 0.0074 || maxRel > 0.0076 {
		t.Fatalf("p95 off by 0.75%%: %q, %g", diffs, maxRel)
	}
	// An other row has no ClickHouse counterpart: a difference, not a silent pass.
	reply = `{"data":{"apiRequestStats":{"rows":[{"endpoint":null,"other":true,"count":1,"errorCount":0,"timing":{"p50":1,"p95":1,"p99":1}}]}}}`
	want, _ = statsAnswer([]byte(reply))
	if diffs, _ := compareAnswers(want, got, percentileTolerance); len(diffs) == 0 {
		t.Fatal("other row: no difference")
	}
}

func TestPatternsAnswersAgree(t *testing.T) {
	reply := `{"data":{"logPatterns":[{"pattern":"Order <num> created","count":5,"severity":"INFO"},{"pattern":"Failed <num>","count":2,"severity":"ERROR"}]}}`
	want, err1 := patternsAnswer([]byte(reply))
	got, err2 := chPatternsAnswer(chRows(t, `[["Order <num> created","5",2],["Failed <num>","2",4]]`))
	mustAgree(t, want, got, err1, err2, 0)
	got, _ = chPatternsAnswer(chRows(t, `[["Order <num> created","5",2],["Failed <num>","2",3]]`))
	if diffs, _ := compareAnswers(want, got, 0); len(diffs) != 2 {
		t.Fatalf("another severity: %q", diffs)
	}
}

func TestChRow(t *testing.T) {
	line := `{"id":"a0000000-0000-4000-8000-000000000001","timestamp":"2024-06-13T14:30:00.999999Z","level":"ERROR",` +
		`"details":{"user_id":12345},"trace_id":null,"ok":true,"no":false,"n":7}`
	out, err := chRow([]byte(line), "timestamp", "ws-1")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": "a0000000-0000-4000-8000-000000000001", "level": "ERROR", "workspace": "ws-1",
		"timestamp": float64(1718289000), // floored to the second, as loggraph's [from, to) on whole seconds selects it
		"details":   `{"user_id":12345}`, "trace_id": nil, "ok": float64(1), "no": float64(0), "n": float64(7),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %#v, want %#v", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("fields: %v", got)
	}
	if _, err := chRow([]byte(`{"timestamp":"yesterday"}`), "timestamp", "w"); err == nil {
		t.Error("a bad time: no error")
	}
}

func TestChQuote(t *testing.T) {
	if got := chQuote(`it's a \d`); got != `'it\'s a \\d'` {
		t.Fatalf("chQuote: %s", got)
	}
}

// TestChPatternSQLRules: the ClickHouse masking is one replaceRegexpAll per rule
// and pass, in model.PatternRules' order, with the rules' own expressions.
func TestChPatternSQLRules(t *testing.T) {
	sql := chPatternSQL("msg")
	passes := 0
	for _, r := range model.PatternRules {
		passes += r.Passes()
		if !strings.Contains(sql, chQuote(r.Expr())) {
			t.Errorf("rule %s: expression missing", r.Tag)
		}
	}
	if n := strings.Count(sql, "replaceRegexpAll("); n != passes {
		t.Fatalf("%d replaceRegexpAll, want %d", n, passes)
	}
	if !strings.HasPrefix(sql, strings.Repeat("replaceRegexpAll(", passes)+"msg, ") {
		t.Fatal("not one nested chain over msg")
	}
}

// leftmostFirstPattern masks msg as chPatternSQL does in ClickHouse: every rule,
// no guards, with RE2's default leftmost-first matching (Go's regexp without
// Longest is the same engine semantics).
func leftmostFirstPattern(msg string) string {
	for _, r := range model.PatternRules {
		re := regexp.MustCompile(r.Expr())
		for range r.Passes() {
			msg = re.ReplaceAllString(msg, r.GoReplacement())
		}
	}
	return msg
}

// TestChPatternSemantics documents where ClickHouse's templates equal loggraph's:
// on messages of the seeds' shapes they do; with a quote character right before a
// quoted value they cannot, since the bounded rule's (^|boundary) alternatives then
// match different lengths and ClickHouse's replaceRegexpAll has no leftmost-longest
// mode. (A random search over 300,000 strings without quotes found no other case.)
func TestChPatternSemantics(t *testing.T) {
	for _, msg := range []string{
		"Failed to allocate order 512345: insufficient stock for SKU-01234",
		"Task omnishop.tasks.sync_stock[0badc0de] received",
		"Order 612345 created (channel=web, total=12.50)",
		"Login from 10.1.2.3:8080 and fe80::1 by bob.smith+x@mail.example.com at 2026-12-03T09:00:00.5Z",
		"KeyError: 'vat_rate_12' for id 3f2504e0-4f89-11d3-9a0c-0305e82c3301 trace_deadbeef42 0x1F",
		"Received a status code outside of 2xx range - treating webhook as a fail",
		`ValueError: invalid literal for int() with base 10: 'N/A' (row 12)`,
	} {
		if got, want := leftmostFirstPattern(msg), model.MessagePattern(msg); got != want {
			t.Errorf("%q: leftmost-first %q, loggraph %q", msg, got, want)
		}
	}
	const msg = `"""]`
	if got, want := leftmostFirstPattern(msg), model.MessagePattern(msg); got != `<quoted>"]` || want != `"<quoted>]` {
		t.Errorf("%q: leftmost-first %q, loggraph %q: the documented difference changed", msg, got, want)
	}
}
