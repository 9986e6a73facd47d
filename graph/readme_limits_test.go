package graph_test

import (
	"fmt"
	"os"
	"regexp"
	"testing"
)

// TestReadmeQueriesPassLimits: every GraphQL block of the README passes the
// default document limits.
func TestReadmeQueriesPassLimits(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```graphql\n(.*?)```").FindAllStringSubmatch(string(b), -1)
	if len(blocks) == 0 {
		t.Fatal("no GraphQL block in the README")
	}
	d := defaultLimits()
	for i, m := range blocks {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if err := limitsRefusal(d, m[1]); err != nil {
				t.Fatalf("refused: %v\n%s", err, m[1])
			}
		})
	}
}
