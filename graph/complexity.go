package graph

import (
	"time"

	"github.com/loggraph/loggraph/graph/generated"
	"github.com/loggraph/loggraph/model"
)

// Complexity weighs each connection by its page size: its selection counts once per
// item it may return (first or last, default 50), so nested pages multiply and a
// query asking for a million rows is refused before it runs.
func complexity() generated.ComplexityRoot {
	var c generated.ComplexityRoot
	page := func(child int, first, last *int) int {
		n := model.DefaultPageSize
		switch {
		case first != nil:
			n = *first
		case last != nil:
			n = *last
		}
		n = max(1, min(n, model.MaxPageSize))
		return 1 + n*child
	}
	c.Query.Logs = func(ch int, _ *model.LogFilter, f *int, _ *string, l *int, _ *string) int { return page(ch, f, l) }
	c.Query.AppLogs = func(ch int, _ *model.AppLogFilter, f *int, _ *string, l *int, _ *string) int { return page(ch, f, l) }
	c.Query.APIRequestLogs = func(ch int, _ *model.APIRequestLogFilter, f *int, _ *string, l *int, _ *string) int {
		return page(ch, f, l)
	}
	c.Query.IntegrationLogs = func(ch int, _ *model.IntegrationLogFilter, f *int, _ *string, l *int, _ *string) int {
		return page(ch, f, l)
	}
	c.Query.ActionLogs = func(ch int, _ *model.ActionLogFilter, f *int, _ *string, l *int, _ *string) int {
		return page(ch, f, l)
	}
	c.Query.APIReferenceLogs = func(ch int, _ *model.APIReferenceLogFilter, f *int, _ *string, l *int, _ *string) int {
		return page(ch, f, l)
	}
	c.Query.Integrations = func(ch int, f *int, _ *string, l *int, _ *string) int { return page(ch, f, l) }
	c.Query.APIReferences = func(ch int, f *int, _ *string, l *int, _ *string) int { return page(ch, f, l) }
	c.Query.APICollections = func(ch int, f *int, _ *string, l *int, _ *string) int { return page(ch, f, l) }
	c.Query.APIClients = func(ch int, f *int, _ *string, l *int, _ *string) int { return page(ch, f, l) }
	c.Integration.Jobs = func(ch int, f *int, _ *string, l *int, _ *string) int { return page(ch, f, l) }
	c.Integration.Logs = func(ch int, _ *model.IntegrationLogFilter, f *int, _ *string, l *int, _ *string) int {
		return page(ch, f, l)
	}
	c.IntegrationJob.Logs = func(ch int, _ *model.IntegrationLogFilter, f *int, _ *string, l *int, _ *string) int {
		return page(ch, f, l)
	}
	c.ApiCollection.RequestLogs = func(ch int, _ *model.APIRequestLogFilter, f *int, _ *string, l *int, _ *string) int {
		return page(ch, f, l)
	}
	c.ApiClient.RequestLogs = func(ch int, _ *model.APIRequestLogFilter, f *int, _ *string, l *int, _ *string) int {
		return page(ch, f, l)
	}
	c.ApiReference.Logs = func(ch int, _ *model.APIReferenceLogFilter, f *int, _ *string, l *int, _ *string) int {
		return page(ch, f, l)
	}
	// Analytics cost their selection plus one per row they can answer (buckets x
	// groups). The row cost is capped at the analytics guardrail (10,000 buckets or
	// groups): past it the resolver refuses with a message that says how to narrow
	// the query, which is more useful than a complexity figure.
	c.Query.LogHistogram = func(ch int, f *model.LogFilter, interval *model.Duration, _ *string) int {
		var tr *model.TimeRange
		if f != nil {
			tr = f.Time
		}
		return ch + min(buckets(tr, interval), analyticsRowCap)
	}
	c.Query.LogFacets = func(ch int, _ *model.LogFilter, fields []model.LogFacetField, first *int) int {
		return ch + len(fields)*orDefault(first, 10)
	}
	c.Query.APIRequestStats = func(ch int, f *model.APIRequestLogFilter, groupBy []model.APIRequestDimension, interval *model.Duration,
		_ *model.APIRequestStatsOrder, first *int) int {
		var tr *model.TimeRange
		if f != nil {
			tr = f.Time
		}
		groups := 1
		if len(groupBy) > 0 {
			groups = orDefault(first, 50) + 1 // the other row
		}
		return ch + min(groups*bucketsIf(tr, interval), analyticsRowCap)
	}
	c.Query.IntegrationStats = func(ch int, f *model.IntegrationLogFilter, groupBy []model.IntegrationDimension, interval *model.Duration) int {
		var tr *model.TimeRange
		if f != nil {
			tr = f.Time
		}
		// Groups are not capped by an argument: count one per bucket and dimension.
		return ch + min((1+len(groupBy))*bucketsIf(tr, interval), analyticsRowCap)
	}
	c.Query.LogPatterns = func(ch int, _ *model.LogFilter, first *int) int { return 1 + orDefault(first, 20)*ch }
	c.Query.LogContext = func(ch int, _ model.LogKind, _ string, before, after *int, _ *model.LogContextScope) int {
		return 1 + (1+orDefault(before, 10)+orDefault(after, 10))*ch
	}
	return c
}

// analyticsRowCap is the most rows an analytic's cost counts (its guardrail).
const analyticsRowCap = 10_000

func orDefault(n *int, def int) int {
	if n == nil || *n < 1 {
		return def
	}
	return min(*n, model.MaxPageSize)
}

// buckets estimates a histogram's buckets: the window (default the last 24 hours)
// over the interval (default about 60 buckets).
func buckets(tr *model.TimeRange, interval *model.Duration) int {
	if interval == nil || *interval <= 0 {
		return 60
	}
	window := 24 * time.Hour
	if from, to, err := tr.Bounds(time.Now()); err == nil && from != nil {
		end := time.Now()
		if to != nil {
			end = *to
		}
		window = end.Sub(*from)
	}
	return max(1, int(min(window/time.Duration(*interval)+1, analyticsRowCap+1)))
}

// bucketsIf is buckets when an interval splits the window, else 1.
func bucketsIf(tr *model.TimeRange, interval *model.Duration) int {
	if interval == nil {
		return 1
	}
	return buckets(tr, interval)
}
