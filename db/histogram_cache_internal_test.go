package db

import (
	"testing"
	"time"
)

// TestCellsAreBuckets: the cache serves wall-clock buckets unless an offset change
// skips or repeats a bucket boundary (Havana changes its clocks at midnight).
func TestCellsAreBuckets(t *testing.T) {
	load := func(name string) *time.Location {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	day := 24 * time.Hour
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		name string
		h    HistogramSpec
		want bool
	}{
		{"UTC", HistogramSpec{From: at("2026-10-01T00:00:00Z"), To: at("2026-11-30T00:00:00Z"), Interval: time.Hour}, true},
		{"Berlin days across the October change (at 3:00)", HistogramSpec{From: at("2026-10-01T00:00:00Z"),
			To: at("2026-11-30T00:00:00Z"), Interval: day, Location: load("Europe/Berlin")}, true},
		{"Havana days across the November change (at midnight)", HistogramSpec{From: at("2026-10-20T00:00:00Z"),
			To: at("2026-11-10T00:00:00Z"), Interval: day, Location: load("America/Havana")}, false},
		{"Havana days in summer", HistogramSpec{From: at("2026-06-01T00:00:00Z"),
			To: at("2026-07-01T00:00:00Z"), Interval: day, Location: load("America/Havana")}, true},
		{"Havana weeks across the change: no Monday midnight in it", HistogramSpec{From: at("2026-10-20T00:00:00Z"),
			To: at("2026-11-10T00:00:00Z"), Interval: 7 * day, Location: load("America/Havana")}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.h.cellsAreBuckets(); got != c.want {
				t.Fatalf("cellsAreBuckets %v, want %v", got, c.want)
			}
		})
	}
}
