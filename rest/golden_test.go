package rest_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// update rewrites the golden files under rest/testdata from the server's current
// answers (go test ./rest -run TestX -update). Review the diff: a golden file is the
// contract, not a snapshot to accept blindly.
var update = flag.Bool("update", false, "rewrite rest/testdata golden files from the current answers")

// golden compares got with the golden file testdata/name byte for byte (or
// rewrites the file with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	checkGolden(t, name, got, false)
}

// goldenJSON compares a JSON body with the golden file testdata/name, which is kept
// indented for review: the comparison is with its compact form, which keeps its key
// order and escapes, so it is byte for byte with the wire form. -update rewrites the
// file, indented.
func goldenJSON(t *testing.T, name, got string) {
	t.Helper()
	checkGolden(t, name, got, true)
}

func checkGolden(t *testing.T, name, got string, indented bool) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		out := []byte(got)
		if indented {
			var buf bytes.Buffer
			if err := json.Indent(&buf, out, "", "  "); err != nil {
				t.Fatalf("%s: the body is not JSON: %v", name, err)
			}
			out = append(buf.Bytes(), '\n')
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := string(raw)
	if indented {
		var compact bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		want = compact.String()
	}
	if got != want {
		t.Errorf("%s differs (go test ./rest -update rewrites it; review the diff):\n got %s\nwant %s", path, got, want)
	}
}
