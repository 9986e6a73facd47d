package model

import (
	"bytes"
	"database/sql/driver"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
)

// TraceID is a W3C/OpenTelemetry trace id: 16 bytes, written as 32 lowercase hex
// digits, never all zero. It is stored in a uuid column (16 bytes, the same size),
// so the database's text for it is a hyphenated UUID; clients only ever see hex.
type TraceID [16]byte

// SpanID is a W3C/OpenTelemetry span id: 8 bytes, 16 lowercase hex digits, never
// all zero, stored as a bigint (the same 8 bytes, read as a signed integer).
type SpanID [8]byte

// ParseTraceID reads 32 hex digits (either case).
func ParseTraceID(s string) (TraceID, error) {
	var t TraceID
	if err := parseHexID(t[:], s, "trace id"); err != nil {
		return TraceID{}, err
	}
	return t, nil
}

// ParseSpanID reads 16 hex digits (either case).
func ParseSpanID(s string) (SpanID, error) {
	var id SpanID
	if err := parseHexID(id[:], s, "span id"); err != nil {
		return SpanID{}, err
	}
	return id, nil
}

func parseHexID(dst []byte, s, what string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("%q is not a %s: want %d hex digits", truncate(s, 64), what, 2*len(dst))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fmt.Errorf("%q is not a %s: want %d hex digits", truncate(s, 64), what, 2*len(dst))
	}
	if bytes.Count(dst, []byte{0}) == len(dst) {
		return fmt.Errorf("%s %q is all zeros, which W3C Trace Context defines as invalid", what, s)
	}
	return nil
}

func (t TraceID) String() string { return hex.EncodeToString(t[:]) }
func (s SpanID) String() string  { return hex.EncodeToString(s[:]) }

// Value stores the id in a uuid column (PostgreSQL reads 32 hex digits as a UUID).
func (t TraceID) Value() (driver.Value, error) { return t.String(), nil }

// Scan reads a uuid column (text or 16 bytes).
func (t *TraceID) Scan(src any) error {
	switch x := src.(type) {
	case string:
		return t.fromText(x)
	case []byte:
		if len(x) == 16 {
			copy(t[:], x)
			return nil
		}
		return t.fromText(string(x))
	case [16]byte:
		*t = x
		return nil
	}
	return fmt.Errorf("trace id: cannot scan %T", src)
}

func (t *TraceID) fromText(s string) error {
	u, err := uuid.Parse(s) // the hyphenated form, or 32 hex digits
	if err != nil {
		return fmt.Errorf("trace id: %w", err)
	}
	*t = TraceID(u)
	return nil
}

// MarshalJSON writes the hex form.
func (t TraceID) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(t.String())), nil }

// UnmarshalJSON reads the hex form or a uuid column's text (rows read as to_jsonb).
func (t *TraceID) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("trace id: %w", err)
	}
	return t.fromText(s)
}

// Value stores the id as a bigint.
func (s SpanID) Value() (driver.Value, error) { return int64(binary.BigEndian.Uint64(s[:])), nil }

// Scan reads a bigint column.
func (s *SpanID) Scan(src any) error {
	switch x := src.(type) {
	case int64:
		binary.BigEndian.PutUint64(s[:], uint64(x))
		return nil
	case []byte:
		return s.fromText(string(x))
	case string:
		return s.fromText(x)
	}
	return fmt.Errorf("span id: cannot scan %T", src)
}

func (s *SpanID) fromText(text string) error {
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return fmt.Errorf("span id: %w", err)
	}
	binary.BigEndian.PutUint64(s[:], uint64(n))
	return nil
}

// MarshalJSON writes the hex form.
func (s SpanID) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.String())), nil }

// UnmarshalJSON reads the hex form or a bigint column's number (rows read as to_jsonb).
func (s *SpanID) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var text string
		if err := json.Unmarshal(b, &text); err != nil {
			return fmt.Errorf("span id: %w", err)
		}
		id, err := ParseSpanID(text)
		*s = id
		return err
	}
	return s.fromText(string(b))
}

// MarshalTraceID lets gqlgen print a trace id as a String.
func MarshalTraceID(t TraceID) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(t.String())) })
}

// UnmarshalTraceID reads a String that must be a trace id.
func UnmarshalTraceID(v any) (TraceID, error) {
	s, ok := v.(string)
	if !ok {
		return TraceID{}, InputErrorf("a trace id must be a string of 32 hex digits")
	}
	t, err := ParseTraceID(s)
	if err != nil {
		return TraceID{}, InputErrorf("%v", err)
	}
	return t, nil
}

// MarshalSpanID lets gqlgen print a span id as a String.
func MarshalSpanID(s SpanID) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(s.String())) })
}

// UnmarshalSpanID reads a String that must be a span id.
func UnmarshalSpanID(v any) (SpanID, error) {
	s, ok := v.(string)
	if !ok {
		return SpanID{}, InputErrorf("a span id must be a string of 16 hex digits")
	}
	id, err := ParseSpanID(s)
	if err != nil {
		return SpanID{}, InputErrorf("%v", err)
	}
	return id, nil
}
