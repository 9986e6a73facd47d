package graph_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSchemaAreasListed: gqlgen reads only the schema files gqlgen.yml lists, so an
// area file added to graph/schema/ but not listed would silently drop out of the
// API; and each area has its resolver file (follow-schema layout).
func TestSchemaAreasListed(t *testing.T) {
	cfg, err := os.ReadFile("../gqlgen.yml")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(string(cfg), "\n") {
		if path, ok := strings.CutPrefix(strings.TrimSpace(line), "- "); ok && strings.HasSuffix(path, ".graphqls") {
			listed[path] = true
		}
	}
	areas, err := filepath.Glob("schema/*.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	if len(areas) == 0 {
		t.Fatal("no schema area files under graph/schema/")
	}
	for _, area := range areas {
		name := strings.TrimSuffix(filepath.Base(area), ".graphqls")
		t.Run(name, func(t *testing.T) {
			if !listed["graph/"+filepath.ToSlash(area)] {
				t.Errorf("gqlgen.yml does not list graph/%s", area)
			}
			if _, err := os.Stat(name + ".resolvers.go"); err != nil {
				t.Errorf("no resolver file for area %s: %v", name, err)
			}
		})
	}
	if !listed["schema.graphqls"] {
		t.Error("gqlgen.yml does not list the root schema.graphqls")
	}
}
