// Command examplesgen writes the README's GraphQL examples as the playground's
// example tabs (go generate ./internal/playground).
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/loggraph/loggraph/internal/playground"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: examplesgen README.md examples.json")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "examplesgen:", err)
		os.Exit(1)
	}
}

func run(readme, out string) error {
	b, err := os.ReadFile(readme)
	if err != nil {
		return err
	}
	examples, err := playground.ExtractExamples(b)
	if err != nil {
		return err
	}
	j, err := json.MarshalIndent(examples, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(j, '\n'), 0o644)
}
