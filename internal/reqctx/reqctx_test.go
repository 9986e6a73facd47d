package reqctx

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestLoggerAddsRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := Logger(slog.New(slog.NewJSONHandler(&buf, nil)))
	if Logger(log) != log {
		t.Error("Logger wrapped its own logger again")
	}
	ctx := WithRequestID(context.Background(), "req-1")
	log.InfoContext(ctx, "with id", "k", "v")
	log.With("a", 1).InfoContext(ctx, "derived")
	log.InfoContext(ctx, "explicit", "request_id", "req-2")
	log.InfoContext(context.Background(), "no id")
	log.Info("no context")
	var got []map[string]any
	for line := range strings.Lines(buf.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		got = append(got, m)
	}
	want := []any{"req-1", "req-1", "req-2", nil, nil}
	if len(got) != len(want) {
		t.Fatalf("%d lines: %s", len(got), buf.String())
	}
	for i, m := range got {
		if m["request_id"] != want[i] {
			t.Errorf("%s: request_id %v, want %v", m["msg"], m["request_id"], want[i])
		}
	}
	if n := strings.Count(buf.String(), `"request_id"`); n != 3 {
		t.Errorf("%d request_id keys, want 3 (none twice on a line):\n%s", n, buf.String())
	}
}
