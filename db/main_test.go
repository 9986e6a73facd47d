package db_test

import (
	"os"
	"testing"

	"github.com/loggraph/loggraph/db/dbtest"
)

// TestMain drops the tests' databases after their tests (dbtest.Main).
func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }
