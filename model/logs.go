package model

import (
	"net/http"
	"strconv"
	"time"
)

// Log is what every log kind has (the GraphQL interface Log). Kind-specific fields
// are on the concrete types; relations (collection, integration, ...) are resolved
// by the GraphQL layer.
type Log interface {
	Kind() LogKind
	Time() time.Time
	Severity() Severity
}

// Kind implements Log.
func (l *AppLog) Kind() LogKind { return KindApp }

// Time implements Log.
func (l *AppLog) Time() time.Time { return l.Timestamp }

// Severity implements Log: the level.
func (l *AppLog) Severity() Severity { return l.Level }

// Source is the service.
func (l *AppLog) Source() *string { return &l.Service }

// Traced is a log that may carry a W3C trace id.
type Traced interface {
	Trace() *TraceID
}

// Trace is the log's trace id (nil: none).
func (l *AppLog) Trace() *TraceID { return l.TraceID }

// Trace is the request's trace id (nil: none).
func (l *APIRequestLog) Trace() *TraceID { return l.TraceID }

// Kind implements Log.
func (l *APIRequestLog) Kind() LogKind { return KindAPIRequest }

// Time implements Log.
func (l *APIRequestLog) Time() time.Time { return l.ReceivedAt }

// Timestamp is the common time field: when the request was received.
func (l *APIRequestLog) Timestamp() time.Time { return l.ReceivedAt }

// Severity implements Log: >= 500 ERROR, >= 400 WARN, else INFO.
func (l *APIRequestLog) Severity() Severity { return APIRequestSeverity(l.Code) }

// Status is the standard reason phrase of the code.
func (l *APIRequestLog) Status() string { return StatusText(l.Code) }

// Message is "<code> <status text> <endpoint>".
func (l *APIRequestLog) Message() string {
	return strconv.Itoa(l.Code) + " " + l.Status() + " " + l.Endpoint
}

// Outcome is SUCCESS below 400, else ERROR.
func (l *APIRequestLog) Outcome() RequestOutcome {
	if l.Code < 400 {
		return RequestOutcomeSuccess
	}
	return RequestOutcomeError
}

// IPText is the client address as text.
func (l *APIRequestLog) IPText() string { return l.IP.String() }

// StatusText is the standard reason phrase of an HTTP status code ("" if unknown).
func StatusText(code int) string { return http.StatusText(code) }

// Kind implements Log.
func (l *IntegrationLog) Kind() LogKind { return KindIntegration }

// Time implements Log.
func (l *IntegrationLog) Time() time.Time { return l.CreatedAt }

// Timestamp is the common time field: when the attempt was made.
func (l *IntegrationLog) Timestamp() time.Time { return l.CreatedAt }

// Severity implements Log: succeeded INFO, else ERROR.
func (l *IntegrationLog) Severity() Severity { return IntegrationSeverity(l.Succeeded) }

// Message is the error detail, else the body.
func (l *IntegrationLog) Message() string {
	switch {
	case l.ErrorDetail != nil:
		return *l.ErrorDetail
	case l.Body != nil:
		return *l.Body
	}
	return ""
}

// Kind implements Log.
func (l *ActionLog) Kind() LogKind { return KindAction }

// Time implements Log.
func (l *ActionLog) Time() time.Time { return l.CreatedAt }

// Timestamp is the common time field: when the log was created.
func (l *ActionLog) Timestamp() time.Time { return l.CreatedAt }

// Severity implements Log, from the Python level.
func (l *ActionLog) Severity() Severity { return ActionSeverity(l.Level) }

// Source is the logger's name.
func (l *ActionLog) Source() *string { return &l.LoggerName }

// Kind implements Log.
func (l *APIReferenceLog) Kind() LogKind { return KindAPIReference }

// Time implements Log.
func (l *APIReferenceLog) Time() time.Time { return l.ModifiedAt }

// Timestamp is the common time field: when the import log was last modified.
func (l *APIReferenceLog) Timestamp() time.Time { return l.ModifiedAt }

// Severity implements Log, from the error and alert counts.
func (l *APIReferenceLog) Severity() Severity {
	return APIReferenceSeverity(l.ErrorCount, l.AlertsCount)
}

// Message is the title.
func (l *APIReferenceLog) Message() string { return l.Title }

// LogsID is the seed's name for the id.
func (l *APIReferenceLog) LogsID() string { return l.ID }

// LogID returns a log's id as the opaque string clients see.
func LogID(l Log) string {
	switch x := l.(type) {
	case *AppLog:
		return x.ID.String()
	case *APIRequestLog:
		return x.ID.String()
	case *IntegrationLog:
		return x.ID.String()
	case *ActionLog:
		return strconv.FormatInt(x.ID, 10)
	case *APIReferenceLog:
		return x.ID
	}
	return ""
}
