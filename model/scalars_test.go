package model

import "testing"

func TestDurationRoundTrip(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		{"500ms", "500ms"}, {"15m", "15m"}, {"1h", "1h"}, {"90m", "1h30m"}, {"7d", "7d"}, {"36h", "36h"},
		{"1.5h", "1h30m"}, {"45s", "45s"}, {"1h0m30s", "1h0m30s"}, {"2d", "2d"},
	} {
		t.Run(c.in, func(t *testing.T) {
			d, err := ParseDuration(c.in)
			if err != nil {
				t.Fatalf("%s: %v", c.in, err)
			}
			if d.String() != c.out {
				t.Errorf("%s prints %s, want %s", c.in, d.String(), c.out)
			}
			back, err := ParseDuration(d.String())
			if err != nil || back != d {
				t.Errorf("%s does not read back (%v, %v)", d.String(), back, err)
			}
		})
	}
	for _, bad := range []string{"", "forever", "-5m", "7days", "d"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
