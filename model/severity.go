package model

import (
	"fmt"
	"io"
	"strconv"
)

// Severity is the common severity of every log, stored as a smallint (1..5) so that
// minSeverity filters are range scans.
type Severity int16

// Severities from least to most severe.
const (
	SeverityDebug Severity = 1
	SeverityInfo  Severity = 2
	SeverityWarn  Severity = 3
	SeverityError Severity = 4
	SeverityFatal Severity = 5
)

// AllSeverities lists the severities in ascending order.
var AllSeverities = []Severity{SeverityDebug, SeverityInfo, SeverityWarn, SeverityError, SeverityFatal}

var severityNames = [...]string{"", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}

// ParseSeverity reads a level name as the seeds print it (upper case).
func ParseSeverity(s string) (Severity, bool) {
	for i := 1; i < len(severityNames); i++ {
		if severityNames[i] == s {
			return Severity(i), true
		}
	}
	return 0, false
}

// IsValid reports whether s is one of the five severities.
func (s Severity) IsValid() bool { return s >= SeverityDebug && s <= SeverityFatal }

func (s Severity) String() string {
	if !s.IsValid() {
		return fmt.Sprintf("Severity(%d)", int16(s))
	}
	return severityNames[s]
}

// MarshalText makes JSON and CSV print the name.
func (s Severity) MarshalText() ([]byte, error) {
	if !s.IsValid() {
		return nil, fmt.Errorf("invalid severity %d", int16(s))
	}
	return []byte(severityNames[s]), nil
}

// UnmarshalGQL implements graphql.Unmarshaler.
func (s *Severity) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	if !ok {
		return InputErrorf("Severity must be a string")
	}
	sev, ok := ParseSeverity(str)
	if !ok {
		return InputErrorf("%q is not a valid Severity", str)
	}
	*s = sev
	return nil
}

// MarshalGQL implements graphql.Marshaler.
func (s Severity) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(s.String())) }

// APIRequestSeverity maps an HTTP status code: >= 500 ERROR, >= 400 WARN, else INFO.
// The same rule is a generated column in api_request_logs.
func APIRequestSeverity(code int) Severity {
	switch {
	case code >= 500:
		return SeverityError
	case code >= 400:
		return SeverityWarn
	}
	return SeverityInfo
}

// IntegrationSeverity maps a delivery outcome: succeeded INFO, else ERROR.
func IntegrationSeverity(succeeded bool) Severity {
	if succeeded {
		return SeverityInfo
	}
	return SeverityError
}

// ActionSeverity maps a Python logging level (0..50).
func ActionSeverity(level int) Severity {
	switch {
	case level < 20:
		return SeverityDebug
	case level < 30:
		return SeverityInfo
	case level < 40:
		return SeverityWarn
	case level < 50:
		return SeverityError
	}
	return SeverityFatal
}

// APIReferenceSeverity maps an import log's counters.
func APIReferenceSeverity(errorCount, alertsCount int) Severity {
	switch {
	case errorCount > 0:
		return SeverityError
	case alertsCount > 0:
		return SeverityWarn
	}
	return SeverityInfo
}
