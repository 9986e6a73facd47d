// Command rewrite points gqlgen's generated executor at package serial: in the Go
// files of the directory given as its argument it replaces every call of
// graphql.MarshalSliceConcurrently by serial.MarshalSlice and every
// graphql.NewDeferredGroup(ctx) of an object by serial.NewDeferredGroup(ctx, fields),
// and imports package serial where it did. It runs after gqlgen in
// `go generate ./graph` (graph/resolver.go) and changes nothing when run twice.
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
)

// replacements are the texts replaced, in order.
var replacements = []struct{ from, to string }{
	{"graphql.MarshalSliceConcurrently(", "serial.MarshalSlice("},
	// Each object's marshaller collects its fields into fields just before.
	{"deferred := graphql.NewDeferredGroup(ctx)\n", "deferred := serial.NewDeferredGroup(ctx, fields)\n"},
}

const importPath = `"github.com/loggraph/loggraph/graph/serial"`

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
	out := src
	for _, r := range replacements {
		out = bytes.ReplaceAll(out, []byte(r.from), []byte(r.to))
	}
	if bytes.Equal(out, src) {
		return nil
	}
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
