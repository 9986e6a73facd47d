package model

import "testing"

// TestNumericFits checks the numeric range check against what PostgreSQL 15's jsonb
// input was seen to accept or refuse ("value overflows numeric format").
func TestNumericFits(t *testing.T) {
	for num, ok := range map[string]bool{
		"1e999999": false, "1e-999999": false, "-1e999999": false, "1e1000000000": false,
		"1e131071": true, "1e131072": false, "1e-16383": true, "1e-16384": false,
		"0e999999": true, "0.0e-999999": false, "1.5e-16382": true, "123e-16385": false,
		"0": true, "-0.5": true, "12.5E+3": true, "1E5": true, "0e2000000000": false,
		"0e131072": true, "0.00001e131076": true, "0.00001e131077": false,
	} {
		if got := numericFits([]byte(num)); got != ok {
			t.Errorf("numericFits(%s) = %v, want %v", num, got, ok)
		}
	}
}

func TestLoneSurrogate(t *testing.T) {
	for in, want := range map[string]int{
		`{"a":"\ud83d\ude00"}`: -1, // a pair
		`{"a":"\\ud800"}`:      -1, // an escaped backslash, then text
		`{"a":"\u00e9"}`:       -1,
		`{"a":"\ud800"}`:       6,
		`{"a":"x\uDC00"}`:      7,
		`{"a":"\ud800\ud800"}`: 6,
		`{"a":"\ud800x"}`:      6,
		`{"\udfff":1}`:         2, // in a key
	} {
		off, _, found := loneSurrogate([]byte(in))
		if !found {
			off = -1
		}
		if off != want {
			t.Errorf("loneSurrogate(%s) = %d, want %d", in, off, want)
		}
	}
}
