package graph

import (
	"context"
	"math"
	"time"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// maxHistogramBuckets is the most buckets a histogram answers.
const maxHistogramBuckets = 10_000

// defaultFacetValues is how many values a facet lists when first is not given.
const defaultFacetValues = 10

// niceIntervals are the default bucket widths, smallest first: the default is the
// smallest that cuts the window into at most targetBuckets buckets, and a refused
// interval's message suggests the smallest that fits the guardrail.
var niceIntervals = []time.Duration{
	time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour,
}

// targetBuckets is about how many buckets a histogram without an interval gets.
const targetBuckets = 60

// analyticsWindow resolves an analytic's time range to a closed window [from, to):
// no end means now, no start means db.DefaultAnalyticsWindow before the end. Resolving
// it once (rather than per kind) gives every branch of a statement the same now.
// A start in the future with no end gives an empty window (from == to), which
// answers no buckets and no values, as apiRequestStats does.
func analyticsWindow(tr *model.TimeRange) (from, to time.Time, err error) {
	if from, to, err = db.AnalyticsWindow(tr); err == nil && from.After(to) {
		from = to // a start in the future: an empty window
	}
	return from, to, err
}

// durationText prints a duration the way the Duration scalar reads it, without
// Go's trailing zero units: 1m, 1h30m, 30d (not 1m0s, 1h30m0s, 720h0m0s).
func durationText(d time.Duration) string {
	if d == math.MaxInt64 { // time.Time.Sub saturates past 292 years
		return "more than 292 years"
	}
	return model.Duration(d).String()
}

func filterTime(f *model.LogFilter) *model.TimeRange {
	if f == nil {
		return nil
	}
	return f.Time
}

// defaultInterval is the smallest nice interval giving at most targetBuckets buckets
// over a window (the largest nice interval for windows past 420 days).
func defaultInterval(window time.Duration) time.Duration {
	for _, iv := range niceIntervals {
		if window <= iv*targetBuckets {
			return iv
		}
	}
	return niceIntervals[len(niceIntervals)-1]
}

// logHistogram answers Query.logHistogram. Sub-day buckets stay on the UTC grid of
// the Unix epoch whatever the time zone, so that every bucket has the interval's
// length, even on the night of a DST change (on a wall clock that night's repeated
// hour would fall into one bucket). Buckets of a day or more are cut on the time
// zone's wall clock (UTC by default): they start at local midnight, weeks start on
// Monday, and a day across a DST change is 23 or 25 hours long.
func (r *Resolver) logHistogram(ctx context.Context, filter *model.LogFilter, interval *model.Duration, timeZone *string) (*model.LogHistogram, error) {
	p, err := reader(ctx)
	if err != nil {
		return nil, err
	}
	from, to, err := analyticsWindow(filterTime(filter))
	if err != nil {
		return nil, err
	}
	loc := time.UTC
	if timeZone != nil {
		// LoadLocation also accepts "" (UTC) and "Local" (the server's zone): neither
		// is an IANA name a caller means.
		l, err := time.LoadLocation(*timeZone)
		if err != nil || *timeZone == "" || *timeZone == "Local" {
			return nil, userError(CodeBadUserInput, "timeZone: %q is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)", *timeZone)
		}
		loc = l
	}
	var iv time.Duration
	if interval != nil {
		iv = time.Duration(*interval).Truncate(time.Microsecond)
		if *interval <= 0 {
			return nil, userError(CodeBadUserInput, "interval: must be a positive duration")
		}
		if iv < time.Millisecond {
			return nil, userError(CodeBadUserInput, "interval: %s is below the smallest bucket of 1ms", durationText(time.Duration(*interval)))
		}
	} else {
		iv = defaultInterval(to.Sub(from))
	}
	spec := func(iv time.Duration) db.HistogramSpec {
		s := db.HistogramSpec{From: from, To: to, Interval: iv}
		if iv >= 24*time.Hour {
			s.Location = loc
		}
		return s
	}
	h := spec(iv)
	if n := h.BucketCount(); n > maxHistogramBuckets {
		hint := "use a shorter time range"
		for _, nice := range niceIntervals {
			if nice > iv && spec(nice).BucketCount() <= maxHistogramBuckets {
				hint = "use an interval of at least " + durationText(nice) + " or a shorter time range"
				break
			}
		}
		return nil, userError(CodeBadUserInput, "interval %s over %s gives %d buckets; the limit is %d: %s",
			durationText(iv), durationText(to.Sub(from)), n, maxHistogramBuckets, hint)
	}
	buckets, err := r.LogStore.Histogram(ctx, p.Workspace.ID, filter, h)
	if err != nil {
		return nil, err
	}
	return &model.LogHistogram{Interval: model.Duration(iv), Buckets: buckets}, nil
}

// logFacets answers Query.logFacets: one facet per asked field, in the asked order
// (a field asked twice is answered once). See db.LogStore.Facets for which logs
// count in a facet.
func (r *Resolver) logFacets(ctx context.Context, filter *model.LogFilter, fields []model.LogFacetField, first *int) ([]model.Facet, error) {
	p, err := reader(ctx)
	if err != nil {
		return nil, err
	}
	n := defaultFacetValues
	if first != nil {
		n = *first
		if n < 1 {
			return nil, userError(CodeBadUserInput, "first: %d is below 1", n)
		}
		if n > db.MaxFacetValues {
			return nil, userError(CodeBadUserInput, "first: %d is above the maximum %d", n, db.MaxFacetValues)
		}
	}
	from, to, err := analyticsWindow(filterTime(filter))
	if err != nil {
		return nil, err
	}
	return r.LogStore.Facets(ctx, p.Workspace.ID, filter, from, to, fields, n)
}
