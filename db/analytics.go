package db

import (
	"time"

	"github.com/loggraph/loggraph/model"
)

// DefaultAnalyticsWindow is how far back analytics look when the filter gives no
// start: they aggregate every matching row, so every scan must be bounded.
const DefaultAnalyticsWindow = 24 * time.Hour

// AnalyticsWindow resolves an analytic's time range once (so every statement sees
// the same now): it ends at to, else now, and starts at from, else
// DefaultAnalyticsWindow before its end. A start at or after the end is an empty
// window, which callers answer with no rows rather than an error.
func AnalyticsWindow(r *model.TimeRange) (from, to time.Time, err error) {
	now := Clock()
	f, t, err := r.Bounds(now)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	to = now
	if t != nil {
		to = *t
	}
	from = to.Add(-DefaultAnalyticsWindow)
	if f != nil {
		from = *f
	}
	return from, to, nil
}
