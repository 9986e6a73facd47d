// Package playground serves /playground: GraphiQL with a token field, the README's
// GraphQL examples as tabs and charts of analytics results, built from the npm
// packages pinned in web/ into dist/ (make playground) and embedded in the binary,
// so the page loads nothing from another host.
package playground

//go:generate go run ./examplesgen ../../README.md examples.json

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Path is where the page is served; its assets are under Path + "/assets/".
const Path = "/playground"

//go:embed dist
var dist embed.FS

//go:embed examples.json
var examplesJSON []byte

// page is the HTML of Path: its stylesheet and script (relative to Path, so the
// page works behind a path prefix) and the examples, inlined.
const page = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>loggraph playground</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="playground/assets/%s" />
    <script type="application/json" id="loggraph-examples">%s</script>
  </head>
  <body>
    <div id="root"><noscript>The playground needs JavaScript.</noscript></div>
    <script src="playground/assets/%s"></script>
  </body>
</html>
`

// contentTypes are the assets' media types (not left to the host's mime tables).
var contentTypes = map[string]string{
	".html":  "text/html; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".json":  "application/json",
	".svg":   "image/svg+xml",
	".woff2": "font/woff2",
	".txt":   "text/plain; charset=utf-8",
}

// contentSecurityPolicy allows the page nothing but its own origin: scripts and
// styles from the binary, queries and the live tail's websocket to /graphql, the
// fonts GraphiQL's stylesheet inlines. GraphiQL sets style attributes, hence
// 'unsafe-inline' for styles (never for scripts). The websocket is named by host
// as well, for browsers whose 'self' does not cover ws: and wss:.
func contentSecurityPolicy(host string) string {
	connect := "'self'"
	if validHost.MatchString(host) {
		connect += " ws://" + host + " wss://" + host
	}
	return "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; " +
		"img-src 'self' data:; connect-src " + connect + "; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
}

// validHost is a Host header that may be written into the policy as it is.
var validHost = regexp.MustCompile(`^[A-Za-z0-9.-]+(:[0-9]+)?$|^\[[0-9A-Fa-f:.]+\](:[0-9]+)?$`)

// asset is one file as served: its bytes, gzipped once on first request.
type asset struct {
	body        []byte
	contentType string
	etag        string
	once        sync.Once
	gz          []byte
}

func newAsset(name string, body []byte) *asset {
	sum := sha256.Sum256(body)
	return &asset{body: body, contentType: contentTypes[path.Ext(name)], etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// gzipped is the body gzip-compressed, or nil if that saves nothing.
func (a *asset) gzipped() []byte {
	a.once.Do(func() {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		_, _ = zw.Write(a.body)
		_ = zw.Close()
		if b.Len() < len(a.body)*9/10 {
			a.gz = b.Bytes()
		}
	})
	return a.gz
}

// Handler serves the page at Path (GET and HEAD) and its assets under Path +
// "/assets/". The page is revalidated on every load (no-cache, with an ETag);
// the assets carry a content hash in their names and are cached for a year.
func Handler() (http.Handler, error) {
	var examples []Example
	if err := json.Unmarshal(examplesJSON, &examples); err != nil {
		return nil, fmt.Errorf("playground: examples.json: %w", err)
	}
	// json.Marshal escapes <, > and &: the examples cannot end the script element.
	inline, err := json.Marshal(examples)
	if err != nil {
		return nil, fmt.Errorf("playground: examples: %w", err)
	}
	assets := map[string]*asset{}
	var script, style string
	err = fs.WalkDir(dist, "dist/assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := dist.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "dist/assets/")
		assets[name] = newAsset(p, body)
		for ext, found := range map[string]*string{".js": &script, ".css": &style} {
			if path.Ext(name) != ext {
				continue
			}
			if *found != "" {
				return fmt.Errorf("two %s bundles, %s and %s (run make playground)", ext, *found, name)
			}
			*found = name
		}
		return nil
	})
	if err == nil && (script == "" || style == "") {
		err = fmt.Errorf("dist/assets lacks the script or the stylesheet (run make playground)")
	}
	if err != nil {
		return nil, fmt.Errorf("playground: %w", err)
	}
	index := newAsset("index.html", fmt.Appendf(nil, page, style, inline, script))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		switch p := r.URL.Path; {
		case p == Path:
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Set("Content-Security-Policy", contentSecurityPolicy(r.Host))
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.Header().Set("Referrer-Policy", "no-referrer")
			serve(w, r, index)
		case p == Path+"/":
			// The page's relative asset and endpoint URLs resolve from Path only.
			http.Redirect(w, r, Path, http.StatusMovedPermanently)
		case strings.HasPrefix(p, Path+"/assets/") && assets[strings.TrimPrefix(p, Path+"/assets/")] != nil:
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			serve(w, r, assets[strings.TrimPrefix(p, Path+"/assets/")])
		default:
			http.NotFound(w, r)
		}
	}), nil
}

// serve writes a, gzipped when the client accepts it, answering 304 to a
// matching If-None-Match (each encoding has its own ETag).
func serve(w http.ResponseWriter, r *http.Request, a *asset) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Add("Vary", "Accept-Encoding")
	body, etag := a.body, a.etag
	if acceptsGzip(r) {
		if gz := a.gzipped(); gz != nil {
			body, etag = gz, strings.TrimSuffix(a.etag, `"`)+`-gzip"`
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		h.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		if t = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(t), "W/")); t == etag || t == "*" {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether Accept-Encoding lists gzip without q=0.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
