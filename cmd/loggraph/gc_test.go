package main

import (
	"math"
	"os"
	"runtime/debug"
	"testing"
)

// TestTuneGC: serve's collector settings apply unless GOGC or GOMEMLIMIT is in the
// environment, and out-of-range flags are usage errors. Not parallel: it changes
// process-wide settings (and restores them).
func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))

	for _, k := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)
	}
	tuneGC(300, 512<<20)
	if got := debug.SetGCPercent(100); got != 300 {
		t.Fatalf("GC percent %d, want 300", got)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != 512<<20 {
		t.Fatalf("memory limit %d, want %d", got, 512<<20)
	}

	t.Setenv("GOGC", "150")
	t.Setenv("GOMEMLIMIT", "2GiB")
	tuneGC(300, 512<<20)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GOGC set: GC percent changed to %d", got)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != math.MaxInt64 {
		t.Fatalf("GOMEMLIMIT set: memory limit changed to %d", got)
	}

	for _, bad := range [][]string{{"serve", "--gc-percent", "10"}, {"serve", "--gc-percent", "5000"}, {"serve", "--memory-limit", "-1"}} {
		if _, err := cli(t, "postgres://nobody@127.0.0.1:1/none", bad...); err == nil {
			t.Fatalf("%v: no error", bad)
		} else if _, ok := err.(usageError); !ok {
			t.Fatalf("%v: %v is not a usage error", bad, err)
		}
	}
}
