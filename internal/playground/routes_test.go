package playground_test

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/rest"
)

// TestRoutes: the server's router (as serve wires it) serves the embedded page
// at /playground, / redirects there, and its assets are under /playground/assets/.
func TestRoutes(t *testing.T) {
	e := testserver.New(t, rest.Limits{})
	// The client follows / to /playground.
	resp, page := e.Do(http.MethodGet, "/", nil)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/playground" || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET / ended at %s with %d %s", resp.Request.URL.Path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	refs := regexp.MustCompile(`(?:src|href)="playground/(assets/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) != 2 {
		t.Fatalf("want a stylesheet and a script under playground/assets/, got %v", refs)
	}
	for _, ref := range refs {
		t.Run(ref[1], func(t *testing.T) {
			resp, body := e.Do(http.MethodGet, "/playground/"+ref[1], nil)
			if resp.StatusCode != http.StatusOK || len(body) == 0 || resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
				t.Fatalf("%d, %d bytes, %v", resp.StatusCode, len(body), resp.Header)
			}
		})
	}
	t.Run("unknown asset", func(t *testing.T) {
		if resp, _ := e.Do(http.MethodGet, "/playground/assets/missing.js", nil); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}
