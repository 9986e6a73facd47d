package main

import (
	"os"
	"runtime/debug"
)

// The garbage collector's settings of `serve`. A GraphQL response allocates many
// small objects that die with it; at Go's default (GOGC=100) the collector ran often
// enough to take about a quarter of the server's CPU on issue 10's nested query.
// Collecting at 4x growth instead of 2x (GOGC=400) cut the server's CPU per request
// by 27 % on that query (BENCHMARKS.md), and a soft memory limit keeps what the
// larger growth costs bounded: near the limit the collector runs as often as it must,
// whatever the percentage. The limit sits above what the ingest memory budget lets
// batches hold at once (internal/limits, 256 MiB server-wide at 3x per body byte).
const (
	defaultGCPercent   = 400
	defaultMemoryLimit = 1 << 30
)

// tuneGC applies the percentage and the limit unless the environment sets them
// (GOGC, GOMEMLIMIT: the runtime read those at start, and they win).
func tuneGC(percent int, limit int64) {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(percent)
	}
	if _, ok := os.LookupEnv("GOMEMLIMIT"); !ok && limit > 0 {
		debug.SetMemoryLimit(limit)
	}
}
