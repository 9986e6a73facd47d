package model

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// InputError is a caller's mistake in a filter or page argument; every surface
// answers it with its 400 (GraphQL: BAD_USER_INPUT).
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// InputErrorf is an *InputError with a formatted message: the one way to make one.
func InputErrorf(format string, args ...any) error {
	return &InputError{Msg: fmt.Sprintf(format, args...)}
}

// RequestOutcome is whether an API request succeeded (code < 400).
type RequestOutcome string

// Outcomes.
const (
	RequestOutcomeSuccess RequestOutcome = "SUCCESS"
	RequestOutcomeError   RequestOutcome = "ERROR"
)

// UnmarshalGQL implements graphql.Unmarshaler.
func (o *RequestOutcome) UnmarshalGQL(v any) error {
	s, _ := v.(string)
	if s != string(RequestOutcomeSuccess) && s != string(RequestOutcomeError) {
		return InputErrorf("%q is not a valid RequestOutcome", s)
	}
	*o = RequestOutcome(s)
	return nil
}

// MarshalGQL implements graphql.Marshaler.
func (o RequestOutcome) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(o))) }

// TimeRange is a window: From inclusive, To exclusive, or Last up to now.
type TimeRange struct {
	From *time.Time
	To   *time.Time
	Last *Duration
}

// Bounds resolves the window at now; nil bounds are open.
func (r *TimeRange) Bounds(now time.Time) (from, to *time.Time, err error) {
	if r == nil {
		return nil, nil, nil
	}
	if r.Last != nil {
		if r.From != nil || r.To != nil {
			return nil, nil, InputErrorf("time: give either last or from/to, not both")
		}
		if *r.Last <= 0 {
			return nil, nil, InputErrorf("time.last: must be a positive duration")
		}
		f := now.Add(-time.Duration(*r.Last))
		return &f, nil, nil
	}
	for _, b := range []struct {
		name string
		t    *time.Time
	}{{"time.from", r.From}, {"time.to", r.To}} {
		// PostgreSQL's timestamps (and every stored log) are within these years.
		if b.t != nil && (b.t.Before(minCursorTime) || b.t.After(maxCursorTime)) {
			return nil, nil, InputErrorf("%s: %s is outside the years 0001 to 9999", b.name, b.t.UTC().Format(time.RFC3339Nano))
		}
	}
	if r.From != nil && r.To != nil && !r.From.Before(*r.To) {
		return nil, nil, InputErrorf("time: from (%s) must be before to (%s)", r.From.UTC().Format(time.RFC3339Nano), r.To.UTC().Format(time.RFC3339Nano))
	}
	return r.From, r.To, nil
}

// LogFilter selects logs across kinds.
type LogFilter struct {
	Kinds       []LogKind
	Time        *TimeRange
	Severities  []Severity
	MinSeverity *Severity
	Sources     []string
	Search      *string
	// TraceIDs keeps the logs of these traces (kinds without trace ids have none).
	TraceIDs []string
}

// AppLogFilter selects application logs.
type AppLogFilter struct {
	Time     *TimeRange
	Levels   []Severity
	MinLevel *Severity
	Services []string
	Search   *string
	// Details is matched by jsonb containment (@>).
	Details  map[string]any
	TraceIDs []string
}

// APIRequestLogFilter selects API gateway request logs.
type APIRequestLogFilter struct {
	Time           *TimeRange
	Codes          []int
	CodeClasses    []string
	Outcome        *RequestOutcome
	GatewayCodes   []int
	Clients        []string
	Collections    []string
	CollectionType *CollectionType
	Endpoints      []string
	IPs            []string
	MinTimingMs    *int
	MaxTimingMs    *int
	Search         *string
	TraceIDs       []string
}

// IntegrationLogFilter selects integration delivery logs.
type IntegrationLogFilter struct {
	Time           *TimeRange
	IntegrationIDs []string
	JobIDs         []string
	Succeeded      *bool
	StatusCodes    []int
	MinAttempt     *int
	Search         *string
}

// ActionLogFilter selects action logs.
type ActionLogFilter struct {
	Time        *TimeRange
	MinLevel    *int
	MaxLevel    *int
	AppNames    []string
	LoggerNames []string
	Search      *string
}

// APIReferenceLogFilter selects API-reference import logs.
type APIReferenceLogFilter struct {
	Time            *TimeRange
	APIReferenceIDs []string
	UserIDs         []string
	HasErrors       *bool
	HasAlerts       *bool
	Search          *string
}

// CodeClassRange turns "4xx" into [400, 500).
func CodeClassRange(class string) (lo, hi int, err error) {
	if len(class) == 3 && strings.HasSuffix(strings.ToLower(class), "xx") && class[0] >= '1' && class[0] <= '5' {
		lo = int(class[0]-'0') * 100
		return lo, lo + 100, nil
	}
	return 0, 0, InputErrorf("codeClasses: %q is not one of 1xx, 2xx, 3xx, 4xx, 5xx", class)
}

// ParseUUIDs reads a list of UUID ids, naming the field in the error.
func ParseUUIDs(field string, ids []string) ([]uuid.UUID, error) {
	out := make([]uuid.UUID, 0, len(ids))
	for i, s := range ids {
		id, err := uuid.Parse(s)
		if err != nil || len(s) != 36 {
			return nil, InputErrorf("%s[%d]: %q is not a valid id", field, i, s)
		}
		out = append(out, id)
	}
	return out, nil
}

// MaxTraceIDs bounds a filter's trace ids.
const MaxTraceIDs = 100

// ParseTraceIDs reads a filter's trace ids (32 hex digits each).
func ParseTraceIDs(field string, ids []string) ([]TraceID, error) {
	if len(ids) > MaxTraceIDs {
		return nil, InputErrorf("%s: at most %d trace ids, got %d", field, MaxTraceIDs, len(ids))
	}
	out := make([]TraceID, 0, len(ids))
	for i, s := range ids {
		id, err := ParseTraceID(s)
		if err != nil {
			return nil, InputErrorf("%s[%d]: %v", field, i, err)
		}
		out = append(out, id)
	}
	return out, nil
}

// ParseIPs reads addresses or CIDR prefixes.
func ParseIPs(ips []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ips))
	for i, s := range ips {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, InputErrorf("ips[%d]: %q is not an IP address or CIDR range", i, s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// ValidateRange checks optional min/max bounds of a numeric filter.
func ValidateRange(minName string, lo *int, maxName string, hi *int, floor int) error {
	if lo != nil && *lo < floor {
		return InputErrorf("%s: %d is below %d", minName, *lo, floor)
	}
	if hi != nil && *hi < floor {
		return InputErrorf("%s: %d is below %d", maxName, *hi, floor)
	}
	if lo != nil && hi != nil && *lo > *hi {
		return InputErrorf("%s (%d) is greater than %s (%d)", minName, *lo, maxName, *hi)
	}
	return nil
}
