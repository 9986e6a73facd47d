package graph_test

import (
	"os"
	"testing"

	"github.com/loggraph/loggraph/db/dbtest"
)

// TestMain: test databases are dropped after their tests (dbtest.Main).
func TestMain(m *testing.M) {
	os.Exit(dbtest.Main(m))
}
