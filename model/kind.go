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

// KindFromRoute maps the `{kind}` segment of /v1/ingest/{kind} and /v1/export/{kind}.
func KindFromRoute(s string) (LogKind, bool) {
	switch s {
	case "app":
		return KindApp, true
	case "api-request":
		return KindAPIRequest, true
	case "integration":
		return KindIntegration, true
	case "action":
		return KindAction, true
	case "api-reference":
		return KindAPIReference, true
	}
	return "", false
}

// Route is the kind's path segment in /v1 routes.
func (k LogKind) Route() string {
	switch k {
	case KindApp:
		return "app"
	case KindAPIRequest:
		return "api-request"
	case KindIntegration:
		return "integration"
	case KindAction:
		return "action"
	case KindAPIReference:
		return "api-reference"
	}
	return ""
}

// Table is the partitioned table that stores the kind.
func (k LogKind) Table() string {
	switch k {
	case KindApp:
		return "app_logs"
	case KindAPIRequest:
		return "api_request_logs"
	case KindIntegration:
		return "integration_logs"
	case KindAction:
		return "action_logs"
	case KindAPIReference:
		return "api_reference_logs"
	}
	return ""
}

// TimeColumn is the column the kind's table is partitioned and ordered by.
func (k LogKind) TimeColumn() string {
	switch k {
	case KindApp:
		return "timestamp"
	case KindAPIRequest:
		return "received_at"
	case KindIntegration, KindAction:
		return "created_at"
	case KindAPIReference:
		return "modified_at"
	}
	return ""
}

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
