package graph

import (
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
	return c
}
