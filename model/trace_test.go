package model

import (
	"encoding/json"
	"testing"
)

// TestTraceIDForms: a trace id reads from hex (either case) and from the uuid
// column's text and bytes, and always prints as lowercase hex; a span id round-trips
// through its bigint, including ids whose top bit is set (negative as a bigint).
func TestTraceIDForms(t *testing.T) {
	const hexID = "4bf92f3577b34da6a3ce929d0e0e4736"
	want, err := ParseTraceID("4BF92F3577B34DA6A3CE929D0E0E4736")
	if err != nil || want.String() != hexID {
		t.Fatalf("%v %v", want, err)
	}
	for _, c := range []struct {
		name string
		src  any
	}{
		{"uuid text", "4bf92f35-77b3-4da6-a3ce-929d0e0e4736"},
		{"hex text", hexID},
		{"uuid bytes", want[:]},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got TraceID
			if err := got.Scan(c.src); err != nil || got != want {
				t.Fatalf("%v %v", got, err)
			}
		})
	}
	var fromJSON TraceID
	if err := json.Unmarshal([]byte(`"4bf92f35-77b3-4da6-a3ce-929d0e0e4736"`), &fromJSON); err != nil || fromJSON != want {
		t.Fatalf("to_jsonb form: %v %v", fromJSON, err)
	}
	if b, _ := json.Marshal(want); string(b) != `"`+hexID+`"` {
		t.Fatalf("json %s", b)
	}

	for _, s := range []string{"00f067aa0ba902b7", "ffffffffffffffff", "8000000000000001"} {
		t.Run("span "+s, func(t *testing.T) {
			id, err := ParseSpanID(s)
			if err != nil {
				t.Fatal(err)
			}
			v, _ := id.Value()
			var back SpanID
			if err := back.Scan(v); err != nil || back != id || back.String() != s {
				t.Fatalf("%v -> %v -> %v (%v)", s, v, back, err)
			}
			b, _ := json.Marshal(v) // to_jsonb prints the bigint as a number
			var fromJSON SpanID
			if err := json.Unmarshal(b, &fromJSON); err != nil || fromJSON != id {
				t.Fatalf("to_jsonb form %s: %v %v", b, fromJSON, err)
			}
		})
	}
	for _, bad := range []string{"", "4bf92f35", "4bf92f3577b34da6a3ce929d0e0e473g", "00000000000000000000000000000000", hexID + "00"} {
		if _, err := ParseTraceID(bad); err == nil {
			t.Errorf("ParseTraceID(%q) accepted", bad)
		}
	}
	if _, err := ParseSpanID("0000000000000000"); err == nil {
		t.Error("all-zero span id accepted")
	}
}
