package graph_test

import (
	"os"
	"testing"

	"github.com/loggraph/loggraph/db/dbtest"
	"github.com/loggraph/loggraph/graph/loader"
	"github.com/loggraph/loggraph/internal/testwait"
)

// TestMain makes an announced batch's fallback wait (loader.ExpectedWait) far longer
// than any test, once for the whole package: tests count statements, and on a loaded
// machine the 100 ms fallback could fire before the last announced parent asks and
// split a batch. Announcements are exact (TestPartialPagesAreAnnouncedExactly), so in
// a passing test the fallback never fires; a wrong one makes the test fail as hung.
// Test databases are dropped after their tests (dbtest.Main).
func TestMain(m *testing.M) {
	loader.ExpectedWait = 10 * testwait.Safety
	os.Exit(dbtest.Main(m))
}
