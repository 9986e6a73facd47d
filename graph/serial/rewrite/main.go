// Command rewrite points gqlgen's generated executor at serial.MarshalSlice: it
// replaces every call of graphql.MarshalSliceConcurrently in the Go files of the
// directory given as its argument and imports package serial where it did. It runs
// after gqlgen in `go generate ./graph` (graph/resolver.go) and changes nothing when
// run twice.
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
)

const (
	from       = "graphql.MarshalSliceConcurrently("
	to         = "serial.MarshalSlice("
	importPath = `"github.com/loggraph/loggraph/graph/serial"`
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: rewrite DIR")
		os.Exit(2)
	}
	files, err := filepath.Glob(filepath.Join(os.Args[1], "*.go"))
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("no Go files in %s", os.Args[1])
	}
	for _, f := range files {
		if err != nil {
			break
		}
		err = rewrite(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rewrite:", err)
		os.Exit(1)
	}
}

func rewrite(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !bytes.Contains(src, []byte(from)) {
		return nil
	}
	out := bytes.ReplaceAll(src, []byte(from), []byte(to))
	if !bytes.Contains(out, []byte(importPath)) {
		i := bytes.Index(out, []byte("\nimport (\n"))
		if i < 0 {
			return fmt.Errorf("%s: no import block", path)
		}
		i += len("\nimport (\n")
		out = append(out[:i:i], append([]byte("\t"+importPath+"\n"), out[i:]...)...)
	}
	formatted, err := format.Source(out)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, formatted, 0o644)
}
