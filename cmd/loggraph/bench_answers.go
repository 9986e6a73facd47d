package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/loggraph/loggraph/model"
)

// answer is one analytics question's answer in a form loggraph's GraphQL reply and
// ClickHouse's rows both reduce to, so that `bench analytics` can check them equal
// before timing them, whichever path (rollups or rows) loggraph took.
type answer struct {
	// counts are compared exactly; a key on one side only is a difference.
	counts map[string]int64
	// values (percentiles) are compared within a relative tolerance.
	values map[string]float64
	// order, when not nil, is the ranked keys, compared exactly.
	order []string
}

func newAnswer() answer { return answer{counts: map[string]int64{}, values: map[string]float64{}} }

// maxDiffs is how many differences compareAnswers lists.
const maxDiffs = 8

// relDev is |got - want| relative to want (absolute when want is 0).
func relDev(want, got float64) float64 {
	d := math.Abs(got - want)
	if d == 0 {
		return 0
	}
	return d / math.Max(math.Abs(want), 1e-9)
}

// compareAnswers lists how got differs from want (at most maxDiffs differences,
// keys in byte order): a count or key not equal, a value off by more than relTol
// relative, a different ranking. maxRel is the largest relative deviation of the
// values present on both sides, within the tolerance or not.
func compareAnswers(want, got answer, relTol float64) (diffs []string, maxRel float64) {
	add := func(format string, args ...any) {
		if len(diffs) < maxDiffs {
			diffs = append(diffs, fmt.Sprintf(format, args...))
		}
	}
	for _, k := range unionKeys(want.counts, got.counts) {
		w, inW := want.counts[k]
		g, inG := got.counts[k]
		switch {
		case !inG:
			add("%q: %d, missing from ClickHouse's answer", k, w)
		case !inW:
			add("%q: %d in ClickHouse's answer only", k, g)
		case w != g:
			add("%q: %d, ClickHouse %d", k, w, g)
		}
	}
	for _, k := range unionKeys(want.values, got.values) {
		w, inW := want.values[k]
		g, inG := got.values[k]
		if !inW || !inG {
			add("%q: on one side only", k)
			continue
		}
		d := relDev(w, g)
		maxRel = math.Max(maxRel, d)
		if d > relTol {
			add("%q: %g, ClickHouse %g (%.2f%% off, tolerance %.2f%%)", k, w, g, 100*d, 100*relTol)
		}
	}
	if want.order != nil && !slices.Equal(want.order, got.order) {
		add("ranking differs: %q, ClickHouse %q", want.order, got.order)
	}
	return diffs, maxRel
}

func unionKeys[V any](a, b map[string]V) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// rankedOrder flattens per-field rankings into one order, fields in byte order.
func rankedOrder(byField map[string][]string) []string {
	fields := make([]string, 0, len(byField))
	for f := range byField {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	out := []string{}
	for _, f := range fields {
		for _, v := range byField[f] {
			out = append(out, f+": "+v)
		}
	}
	return out
}

// gqlData decodes a GraphQL reply's data.<field> into dst.
func gqlData(reply []byte, field string, dst any) error {
	var env struct {
		Data map[string]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(reply, &env); err != nil {
		return fmt.Errorf("graphql reply: %w", err)
	}
	raw, ok := env.Data[field]
	if !ok {
		return fmt.Errorf("graphql reply: no data.%s", field)
	}
	return json.Unmarshal(raw, dst)
}

// The loggraph side: GraphQL replies of the bench's queries.

// histogramAnswer: the non-zero count of each (bucket, severity), the bucket named
// by label(start).
func histogramAnswer(reply []byte, label func(time.Time) string) (answer, error) {
	var h struct {
		Buckets []struct {
			Start      time.Time `json:"start"`
			BySeverity []struct {
				Severity string `json:"severity"`
				Count    int64  `json:"count"`
			} `json:"bySeverity"`
		} `json:"buckets"`
	}
	a := newAnswer()
	if err := gqlData(reply, "logHistogram", &h); err != nil {
		return a, err
	}
	for _, b := range h.Buckets {
		for _, s := range b.BySeverity {
			if s.Count != 0 {
				a.counts[label(b.Start)+" "+s.Severity] = s.Count
			}
		}
	}
	return a, nil
}

// facetsAnswer: each value's count and each field's ranking.
func facetsAnswer(reply []byte) (answer, error) {
	var fs []struct {
		Field  string `json:"field"`
		Values []struct {
			Value string `json:"value"`
			Count int64  `json:"count"`
		} `json:"values"`
	}
	a := newAnswer()
	if err := gqlData(reply, "logFacets", &fs); err != nil {
		return a, err
	}
	ranks := map[string][]string{}
	for _, f := range fs {
		ranks[f.Field] = []string{}
		for _, v := range f.Values {
			a.counts[f.Field+": "+v.Value] = v.Count
			ranks[f.Field] = append(ranks[f.Field], v.Value)
		}
	}
	a.order = rankedOrder(ranks)
	return a, nil
}

// statsAnswer: per endpoint the count and errors (exact), p50/p95/p99 (values).
// The other row, if any, is named "(other)": ClickHouse's answer has none, so it
// shows as a difference.
func statsAnswer(reply []byte) (answer, error) {
	var st struct {
		Rows []struct {
			Endpoint   *string `json:"endpoint"`
			Other      bool    `json:"other"`
			Count      int64   `json:"count"`
			ErrorCount int64   `json:"errorCount"`
			Timing     struct {
				P50, P95, P99 float64
			} `json:"timing"`
		} `json:"rows"`
	}
	a := newAnswer()
	if err := gqlData(reply, "apiRequestStats", &st); err != nil {
		return a, err
	}
	for _, r := range st.Rows {
		name := "(other)"
		if r.Endpoint != nil && !r.Other {
			name = *r.Endpoint
		}
		statsRow(a, name, r.Count, r.ErrorCount, []float64{r.Timing.P50, r.Timing.P95, r.Timing.P99})
	}
	return a, nil
}

func statsRow(a answer, endpoint string, count, errs int64, p []float64) {
	a.counts[endpoint+" count"] = count
	a.counts[endpoint+" errors"] = errs
	for i, name := range []string{"p50", "p95", "p99"} {
		a.values[endpoint+" "+name] = p[i]
	}
}

// patternsAnswer: each template's count and dominant severity, and their ranking.
func patternsAnswer(reply []byte) (answer, error) {
	var ps []struct {
		Pattern  string `json:"pattern"`
		Count    int64  `json:"count"`
		Severity string `json:"severity"`
	}
	a := newAnswer()
	if err := gqlData(reply, "logPatterns", &ps); err != nil {
		return a, err
	}
	a.order = []string{}
	for _, p := range ps {
		patternRow(&a, p.Pattern, p.Count, p.Severity)
	}
	return a, nil
}

func patternRow(a *answer, pattern string, count int64, severity string) {
	a.counts[pattern] = count
	a.counts[pattern+" | severity "+severity] = 1
	a.order = append(a.order, pattern)
}

// The ClickHouse side: rows of the chHistogram, chFacets, chStats and chPatterns
// statements (FORMAT JSONCompact).

func chInt(raw json.RawMessage) (int64, error) { return strconv.ParseInt(chString(raw), 10, 64) }

func chSeverity(raw json.RawMessage) (string, error) {
	n, err := chInt(raw)
	if err != nil {
		return "", err
	}
	return model.Severity(n).String(), nil
}

// chHistogramAnswer reads (bucket, severity, count) rows; the bucket as
// ClickHouse prints it.
func chHistogramAnswer(rows [][]json.RawMessage) (answer, error) {
	a := newAnswer()
	for _, r := range rows {
		sev, err := chSeverity(r[1])
		if err != nil {
			return a, err
		}
		n, err := chInt(r[2])
		if err != nil {
			return a, err
		}
		a.counts[chString(r[0])+" "+sev] = n
	}
	return a, nil
}

// chFacetsAnswer reads (field, value, count) rows, ranked within each field.
func chFacetsAnswer(rows [][]json.RawMessage) (answer, error) {
	a := newAnswer()
	ranks := map[string][]string{"SOURCE": {}, "SEVERITY": {}, "KIND": {}}
	for _, r := range rows {
		field, value := chString(r[0]), chString(r[1])
		n, err := chInt(r[2])
		if err != nil {
			return a, err
		}
		a.counts[field+": "+value] = n
		ranks[field] = append(ranks[field], value)
	}
	a.order = rankedOrder(ranks)
	return a, nil
}

// chStatsAnswer reads (endpoint, count, errors, [p50, p95, p99]) rows.
func chStatsAnswer(rows [][]json.RawMessage) (answer, error) {
	a := newAnswer()
	for _, r := range rows {
		n, err1 := chInt(r[1])
		errs, err2 := chInt(r[2])
		var p []float64
		err3 := json.Unmarshal(r[3], &p)
		if err := errors.Join(err1, err2, err3); err != nil {
			return a, err
		}
		if len(p) != 3 {
			return a, fmt.Errorf("clickhouse stats: %d quantiles", len(p))
		}
		statsRow(a, chString(r[0]), n, errs, p)
	}
	return a, nil
}

// chPatternsAnswer reads (pattern, count, severity) rows, ranked.
func chPatternsAnswer(rows [][]json.RawMessage) (answer, error) {
	a := newAnswer()
	a.order = []string{}
	for _, r := range rows {
		n, err := chInt(r[1])
		if err != nil {
			return a, err
		}
		sev, err := chSeverity(r[2])
		if err != nil {
			return a, err
		}
		patternRow(&a, chString(r[0]), n, sev)
	}
	return a, nil
}
