package model

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
)

// MarshalUUID lets gqlgen print a uuid.UUID as an ID.
func MarshalUUID(id uuid.UUID) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(id.String())) })
}

// UnmarshalUUID reads an ID that must be a UUID.
func UnmarshalUUID(v any) (uuid.UUID, error) {
	s, ok := v.(string)
	if !ok {
		return uuid.Nil, InputErrorf("ID must be a string")
	}
	id, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return uuid.Nil, InputErrorf("%q is not a valid ID", s)
	}
	return id, nil
}

// MarshalInt64ID prints an integer id as a GraphQL ID (a string, as the spec says).
func MarshalInt64ID(id int64) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(strconv.FormatInt(id, 10))) })
}

// UnmarshalInt64ID reads an integer id sent as a string or a number.
func UnmarshalInt64ID(v any) (int64, error) {
	switch x := v.(type) {
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, InputErrorf("%q is not a valid ID", x)
		}
		return n, nil
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case json.Number:
		return x.Int64()
	}
	return 0, InputErrorf("ID must be a string")
}

// MarshalRawJSON prints stored JSON as it is (null when absent).
func MarshalRawJSON(raw json.RawMessage) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		if len(raw) == 0 {
			_, _ = io.WriteString(w, "null")
			return
		}
		_, _ = w.Write(raw)
	})
}

// UnmarshalRawJSON reads any JSON input value.
func UnmarshalRawJSON(v any) (json.RawMessage, error) {
	return json.Marshal(v)
}

// Duration is a GraphQL Duration: a number and a unit (ms, s, m, h, d).
type Duration time.Duration

// ParseDuration reads `500ms`, `15m`, `1h`, `7d` (Go's units plus d for days).
func ParseDuration(s string) (Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok && n != "" && !strings.ContainsAny(n, "hmsuµn") {
		days, err := strconv.ParseFloat(n, 64)
		if err != nil || days < 0 {
			return 0, fmt.Errorf("%q is not a duration (e.g. 500ms, 15m, 1h, 7d)", s)
		}
		return Duration(days * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration (e.g. 500ms, 15m, 1h, 7d)", s)
	}
	return Duration(d), nil
}

// String prints the duration as the schema documents it: `7d`, `1h`, `1h30m`, `15m`,
// `500ms` (Go's form without zero units).
func (d Duration) String() string {
	td := time.Duration(d)
	if td > 0 && td%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(td/(24*time.Hour)), 10) + "d"
	}
	s := td.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// UnmarshalGQL implements graphql.Unmarshaler.
func (d *Duration) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return InputErrorf("Duration must be a string such as 15m or 7d")
	}
	parsed, err := ParseDuration(s)
	if err != nil {
		return InputErrorf("%s", err)
	}
	*d = parsed
	return nil
}

// MarshalGQL implements graphql.Marshaler.
func (d Duration) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(d.String())) }

// MarshalTime prints a time as RFC 3339 in UTC.
func MarshalTime(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(t.UTC().Format(time.RFC3339Nano)))
	})
}

// UnmarshalTime reads an RFC 3339 time (a value without a zone is UTC).
func UnmarshalTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, InputErrorf("Time must be an RFC 3339 string such as 2024-06-13T14:30:00Z")
	}
	t, err := ParseTimestamp(s)
	if err != nil {
		return time.Time{}, InputErrorf("%q is not an RFC 3339 time (e.g. 2024-06-13T14:30:00Z)", s)
	}
	return t, nil
}
