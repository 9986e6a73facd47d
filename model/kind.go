// Package model holds the types every surface shares: log kinds, severities, roles,
// the stored records (bun + json tags, autobound by gqlgen) and the pure mappings
// between them. Nothing here does I/O.
package model

import (
	"io"
	"strconv"
)

// LogKind names one of the five kinds of logs loggraph stores.
type LogKind string

// The five log kinds, as GraphQL spells them.
const (
	KindApp          LogKind = "APP"
	KindAPIRequest   LogKind = "API_REQUEST"
	KindIntegration  LogKind = "INTEGRATION"
	KindAction       LogKind = "ACTION"
	KindAPIReference LogKind = "API_REFERENCE"
)

// AllKinds lists the kinds in their canonical order.
var AllKinds = []LogKind{KindApp, KindAPIRequest, KindIntegration, KindAction, KindAPIReference}

// kindNames are each kind's names outside Go: its path segment in /v1 routes, the
// partitioned table that stores it, and the column that table is partitioned and
// ordered by. (What the stores know of a kind is in db's kinds.)
var kindNames = map[LogKind]struct{ route, table, timeColumn string }{
	KindApp:          {"app", "app_logs", "timestamp"},
	KindAPIRequest:   {"api-request", "api_request_logs", "received_at"},
	KindIntegration:  {"integration", "integration_logs", "created_at"},
	KindAction:       {"action", "action_logs", "created_at"},
	KindAPIReference: {"api-reference", "api_reference_logs", "modified_at"},
}

// KindFromRoute maps the `{kind}` segment of /v1/ingest/{kind} and /v1/export/{kind}.
func KindFromRoute(s string) (LogKind, bool) {
	for _, k := range AllKinds {
		if kindNames[k].route == s {
			return k, true
		}
	}
	return "", false
}

// Route is the kind's path segment in /v1 routes.
func (k LogKind) Route() string { return kindNames[k].route }

// Table is the partitioned table that stores the kind.
func (k LogKind) Table() string { return kindNames[k].table }

// TimeColumn is the column the kind's table is partitioned and ordered by.
func (k LogKind) TimeColumn() string { return kindNames[k].timeColumn }

// IsValid reports whether k is one of the five kinds.
func (k LogKind) IsValid() bool { return k.Table() != "" }

func (k LogKind) String() string { return string(k) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (k *LogKind) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return InputErrorf("LogKind must be a string")
	}
	*k = LogKind(s)
	if !k.IsValid() {
		return InputErrorf("%q is not a valid LogKind", s)
	}
	return nil
}

// MarshalGQL implements graphql.Marshaler.
func (k LogKind) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(k))) }
