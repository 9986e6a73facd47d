package playground

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestExtractExamples(t *testing.T) {
	cases := []struct {
		name   string
		readme string
		want   []Example
		err    string
	}{
		{
			name:   "anonymous query named after its root field, comment kept",
			readme: "text\n```graphql\n# Counts\n{ logHistogram(interval: \"1h\") { interval } }\n```\n",
			want:   []Example{{Title: "LogHistogram", Query: "# Counts\nquery LogHistogram { logHistogram(interval: \"1h\") { interval } }\n"}},
		},
		{
			name:   "examples split at blank lines; a mutation's field on the next line",
			readme: "```graphql\n{ a { b } }\n\nmutation {\n  ingestAppLogs(logs: []) { accepted }\n}\n```\n",
			want: []Example{
				{Title: "A", Query: "query A { a { b } }\n"},
				{Title: "IngestAppLogs", Query: "mutation IngestAppLogs {\n  ingestAppLogs(logs: []) { accepted }\n}\n"},
			},
		},
		{
			name:   "a comment alone before a blank line belongs to the next example",
			readme: "```graphql\n# Tail\n\nsubscription { logTail { dropped } }\n```\n",
			want:   []Example{{Title: "LogTail", Query: "# Tail\nsubscription LogTail { logTail { dropped } }\n"}},
		},
		{
			name:   "a named operation is kept as it is",
			readme: "```graphql\nquery Mine($n: Int) { logs(first: $n) { totalCount } }\n```\n",
			want:   []Example{{Title: "Mine", Query: "query Mine($n: Int) { logs(first: $n) { totalCount } }\n"}},
		},
		{
			name:   "other blocks are ignored",
			readme: "```sh\n{ not graphql }\n```\n```graphql\n{ x }\n```\n",
			want:   []Example{{Title: "X", Query: "query X { x }\n"}},
		},
		{name: "an unclosed block", readme: "```graphql\n{ x }\n", err: "README: a graphql block is not closed"},
		{name: "comments and no operation", readme: "```graphql\n# only\n```\n", err: "README line 3: a graphql block ends with comments and no operation"},
		{name: "not an operation", readme: "```graphql\nfragment F on Log { id }\n```\n", err: `README line 3: cannot tell the operation of "fragment F on Log { id }"`},
		{name: "no examples", readme: "# loggraph\n", err: "README: no graphql examples"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ExtractExamples([]byte(c.readme))
			if c.err != "" {
				if err == nil || err.Error() != c.err {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !equalExamples(got, c.want) {
				t.Fatalf("got %#v\nwant %#v", got, c.want)
			}
		})
	}
}

func equalExamples(a, b []Example) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestExamplesMatchREADME: the embedded tabs are the README's current examples.
func TestExamplesMatchREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want, err := ExtractExamples(readme)
	if err != nil {
		t.Fatal(err)
	}
	var got []Example
	if err := json.Unmarshal(examplesJSON, &got); err != nil {
		t.Fatal(err)
	}
	if !equalExamples(got, want) {
		t.Fatalf("examples.json is not the README's examples: run go generate ./internal/playground")
	}
	titles := map[string]bool{}
	for _, e := range got {
		if titles[e.Title] {
			t.Errorf("two examples are titled %s: their tabs would look alike", e.Title)
		}
		titles[e.Title] = true
	}
	for _, want := range []string{"LogHistogram", "LogFacets", "ApiRequestStats", "LogTail"} {
		if !titles[want] {
			t.Errorf("no %s example (the browser test opens it)", want)
		}
	}
}

func get(t *testing.T, h http.Handler, path string, header http.Header) *http.Response {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	rd := res.Body
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		rd = zr
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var assetRef = regexp.MustCompile(`(?:src|href)="([^"]*)"`)

func TestHandler(t *testing.T) {
	h, err := Handler()
	if err != nil {
		t.Fatal(err)
	}
	res := get(t, h, "/playground", nil)
	page := body(t, res)
	t.Run("page", func(t *testing.T) {
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status %d", res.StatusCode)
		}
		for k, want := range map[string]string{
			"Content-Type":  "text/html; charset=utf-8",
			"Cache-Control": "no-cache",
			"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; " +
				"img-src 'self' data:; connect-src 'self' ws://example.com wss://example.com; base-uri 'none'; form-action 'none'; frame-ancestors 'self'",
			"X-Content-Type-Options": "nosniff",
		} {
			if got := res.Header.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
		if !strings.Contains(page, `<script type="application/json" id="loggraph-examples">[{"title":`) {
			t.Errorf("the examples are not inlined: %.300s", page)
		}
	})
	refs := assetRef.FindAllStringSubmatch(page, -1)
	t.Run("page loads nothing from another host", func(t *testing.T) {
		if len(refs) < 3 {
			t.Fatalf("expected an icon, a stylesheet and a script, found %v", refs)
		}
		for _, r := range refs {
			if strings.Contains(r[1], "//") {
				t.Errorf("%s names a host", r[1])
			}
		}
		for host, want := range map[string]string{
			"localhost:8080":   "connect-src 'self' ws://localhost:8080 wss://localhost:8080;",
			"[::1]:8080":       "connect-src 'self' ws://[::1]:8080 wss://[::1]:8080;",
			"evil; script-src": "connect-src 'self';",
			"":                 "connect-src 'self';",
		} {
			if got := contentSecurityPolicy(host); !strings.Contains(got, want) {
				t.Errorf("host %q: policy %s, want %s", host, got, want)
			}
		}
	})
	for _, r := range refs {
		ref := r[1]
		if strings.HasPrefix(ref, "data:") {
			continue
		}
		t.Run("asset "+ref, func(t *testing.T) {
			if !strings.HasPrefix(ref, "playground/assets/") {
				t.Fatalf("%s is not under playground/assets/ (relative to /playground)", ref)
			}
			want := map[bool]string{true: "text/javascript; charset=utf-8", false: "text/css; charset=utf-8"}[strings.HasSuffix(ref, ".js")]
			plain := get(t, h, "/"+ref, nil)
			raw := body(t, plain)
			if plain.StatusCode != http.StatusOK || plain.Header.Get("Content-Type") != want ||
				plain.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || plain.Header.Get("Content-Encoding") != "" {
				t.Fatalf("status %d, headers %v", plain.StatusCode, plain.Header)
			}
			zipped := get(t, h, "/"+ref, http.Header{"Accept-Encoding": {"br, gzip"}})
			if zipped.Header.Get("Content-Encoding") != "gzip" || zipped.Header.Get("Vary") != "Accept-Encoding" {
				t.Fatalf("not gzipped: %v", zipped.Header)
			}
			if unzipped := body(t, zipped); unzipped != raw {
				t.Fatal("the gzipped body differs from the plain one")
			}
			if zipped.Header.Get("ETag") == plain.Header.Get("ETag") {
				t.Error("the gzipped and plain bodies share an ETag")
			}
			again := get(t, h, "/"+ref, http.Header{"Accept-Encoding": {"gzip"}, "If-None-Match": {zipped.Header.Get("ETag")}})
			if again.StatusCode != http.StatusNotModified || body(t, again) != "" {
				t.Fatalf("revalidation: status %d", again.StatusCode)
			}
			refused := get(t, h, "/"+ref, http.Header{"Accept-Encoding": {"gzip;q=0"}})
			if refused.Header.Get("Content-Encoding") != "" {
				t.Error("gzip;q=0 got gzip")
			}
		})
	}
	t.Run("other paths", func(t *testing.T) {
		for path, want := range map[string]int{
			"/playground/":                  http.StatusMovedPermanently,
			"/playground/assets/nope.js":    http.StatusNotFound,
			"/playground/index.html":        http.StatusNotFound,
			"/playground/assets/../go.mod":  http.StatusNotFound,
			"/playground/assets/":           http.StatusNotFound,
			"/playground/examples.json":     http.StatusNotFound,
			"/playground/dist/index.html":   http.StatusNotFound,
			"/playground/assets/index.html": http.StatusNotFound,
		} {
			t.Run(path, func(t *testing.T) {
				if got := get(t, h, path, nil).StatusCode; got != want {
					t.Errorf("status %d, want %d", got, want)
				}
			})
		}
	})
	t.Run("HEAD and POST", func(t *testing.T) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodHead, "/playground", nil))
		if w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("Content-Length") == "" {
			t.Errorf("HEAD: status %d, %d bytes, headers %v", w.Code, w.Body.Len(), w.Header())
		}
		w = httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/playground", bytes.NewReader(nil)))
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("POST: status %d, Allow %q", w.Code, w.Header().Get("Allow"))
		}
	})
}
