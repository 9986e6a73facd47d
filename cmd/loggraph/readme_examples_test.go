package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/loggraph/loggraph/db/dbtest"
	"github.com/loggraph/loggraph/internal/playground"
)

// TestReadmeExamplesAnswerOnTheDemo runs every example of the README (each query,
// mutation and subscription of its ```graphql blocks, each curl command of its ```sh
// blocks) against `serve --demo`, as a newcomer would after `make run`, and fails on
// any that answers an error or nothing: an example must find rows in the demo data.
func TestReadmeExamplesAnswerOnTheDemo(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	base, token, _ := demoServer(t, dbtest.NewURL(t))

	examples, err := playground.ExtractExamples(readme)
	if err != nil {
		t.Fatal(err)
	}
	// Queries written inline, in backquotes, in the text.
	for _, m := range inlineQuery.FindAllSubmatch(readme, -1) {
		examples = append(examples, playground.Example{Title: "inline " + string(m[1]), Query: string(m[0][1 : len(m[0])-1])})
	}
	curls := readmeCurls(t, readme)
	if len(curls) < 10 {
		t.Fatalf("found %d curl examples in the README; the parser lost some", len(curls))
	}
	// Reads first, on the demo as make run leaves it; then the examples that write
	// (mutations, the live tail's ingests, curl with a body), so that no example's
	// answer comes from what another example wrote.
	for _, writes := range []bool{false, true} {
		for _, ex := range examples {
			op := strings.TrimSpace(stripComments(ex.Query))
			if writes != (strings.HasPrefix(op, "mutation") || strings.HasPrefix(op, "subscription")) {
				continue
			}
			t.Run("graphql/"+ex.Title, func(t *testing.T) {
				if strings.HasPrefix(op, "subscription") {
					checkSubscription(t, base, token, ex.Query)
					return
				}
				body, _ := json.Marshal(map[string]string{"query": ex.Query})
				status, got := do(t, http.MethodPost, base+"/graphql", "Authorization: Bearer "+token, "application/json", bytes.NewReader(body))
				if status != http.StatusOK {
					t.Fatalf("status %d: %s", status, got)
				}
				checkGraphQLRows(t, got)
			})
		}
		for _, c := range curls {
			req := c.request(t, base, token)
			if writes != (req.body != nil) {
				continue
			}
			t.Run(fmt.Sprintf("curl/line%d", c.line), func(t *testing.T) {
				status, got := do(t, req.method, req.url, req.auth, req.contentType, req.body)
				if status/100 != 2 {
					t.Fatalf("%s\nstatus %d: %s", c.text, status, got)
				}
				if !hasRows(got) {
					t.Fatalf("%s\nanswered no rows: %s", c.text, got)
				}
			})
		}
	}
}

// inlineQuery matches a query in backquotes: `{ field(...) ... }`.
var inlineQuery = regexp.MustCompile("`\\{ ([a-zA-Z]+)\\([^`]*\\}`")

// demoServer starts `serve --demo` over dbURL and returns its base URL, the demo
// token it printed and everything it printed.
func demoServer(t *testing.T, dbURL string, args ...string) (string, string, string) {
	t.Helper()
	base, printed, _ := server(t, dbURL, append([]string{"--demo", "--demo-rows", "2000"}, args...)...)
	for _, l := range strings.Split(printed, "\n") {
		if strings.HasPrefix(l, "lg_") {
			return base, l, printed
		}
	}
	t.Fatalf("no token printed:\n%s", printed)
	return "", "", ""
}

func do(t *testing.T, method, url, auth, contentType string, body io.Reader) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range strings.Split(auth, "\n") {
		if k, v, ok := strings.Cut(h, ":"); ok {
			req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, got
}

func stripComments(q string) string {
	var b strings.Builder
	for _, l := range strings.Split(q, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// checkGraphQLRows fails unless the response has no errors and each root field found
// something (see hasRows).
func checkGraphQLRows(t *testing.T, got []byte) {
	t.Helper()
	var resp struct {
		Data   map[string]any `json:"data"`
		Errors []any          `json:"errors"`
	}
	if err := json.Unmarshal(got, &resp); err != nil || len(resp.Errors) > 0 || len(resp.Data) == 0 {
		t.Fatalf("errors or no data (%v): %s", err, got)
	}
	for field, v := range resp.Data {
		b, _ := json.Marshal(v)
		if !hasRows(b) {
			t.Fatalf("%s found nothing: %s", field, b)
		}
	}
}

// hasRows tells whether an answer found something: JSON that is not null, whose
// arrays (if it has any) are not all empty and whose counts (if it has any) are not
// all zero; NDJSON with a line; CSV with a row below its header.
func hasRows(body []byte) bool {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return false
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		if body[0] == '{' { // NDJSON: a line that parses
			line, _, _ := bytes.Cut(body, []byte("\n"))
			return json.Unmarshal(line, &v) == nil
		}
		return bytes.Count(body, []byte("\n")) >= 1 // CSV: header and a row
	}
	var arrays, nonEmpty, counts, nonZero int
	var walk func(any, string)
	walk = func(v any, key string) {
		switch v := v.(type) {
		case []any:
			arrays++
			if len(v) > 0 {
				nonEmpty++
			}
			for _, e := range v {
				walk(e, "")
			}
		case map[string]any:
			for k, e := range v {
				walk(e, k)
			}
		case float64:
			if key == "count" || key == "accepted" || key == "duplicates" { // a retried ingest stores nothing twice
				counts++
				if v > 0 {
					nonZero++
				}
			}
		}
	}
	walk(v, "")
	return v != nil && (arrays == 0 || nonEmpty > 0) && (counts == 0 || nonZero > 0)
}

// checkSubscription subscribes over graphql-transport-ws, ingests an ERROR app log
// and expects an event carrying it.
func checkSubscription(t *testing.T, base, token, query string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	type msg struct {
		ID      string          `json:"id,omitempty"`
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload,omitempty"`
	}
	send := func(m any) {
		if err := wsjson.Write(ctx, c, m); err != nil {
			t.Fatal(err)
		}
	}
	read := func() msg {
		var m msg
		if err := wsjson.Read(ctx, c, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	send(map[string]any{"type": "connection_init", "payload": map[string]string{"Authorization": "Bearer " + token}})
	if m := read(); m.Type != "connection_ack" {
		t.Fatalf("init: %+v", m)
	}
	send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]string{"query": query}})
	// The subscription may not be registered yet when the first batch commits: ingest
	// until an event arrives.
	events := make(chan msg, 1)
	go func() {
		var m msg
		if err := wsjson.Read(ctx, c, &m); err == nil {
			events <- m
		}
		close(events)
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		status, got := do(t, http.MethodPost, base+"/v1/ingest/app", "Authorization: Bearer "+token, "application/x-ndjson",
			strings.NewReader(`{"level":"ERROR","service":"readme-test","message":"live tail example"}`))
		if status != http.StatusOK {
			t.Fatalf("ingest: %d %s", status, got)
		}
		select {
		case m, ok := <-events:
			if !ok || m.Type != "next" || !hasRows(m.Payload) || bytes.Contains(m.Payload, []byte(`"errors"`)) {
				t.Fatalf("event: %+v (%s)", m, m.Payload)
			}
			return
		case <-tick.C:
		case <-ctx.Done():
			t.Fatal("no event")
		}
	}
}

// readmeCurl is one curl command of the README's sh blocks (continuation lines and
// pipelines joined; of a pipeline, the first command is run).
type readmeCurl struct {
	line  int
	text  string
	stdin string // a heredoc's body
}

var heredoc = regexp.MustCompile(`<<-?'?"?([A-Za-z_]+)'?"?`)

func readmeCurls(t *testing.T, readme []byte) []readmeCurl {
	t.Helper()
	var out []readmeCurl
	sc := bufio.NewScanner(bytes.NewReader(readme))
	inSh, n := false, 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		switch {
		case !inSh:
			inSh = line == "```sh"
			continue
		case strings.HasPrefix(line, "```"):
			inSh = false
			continue
		case !strings.HasPrefix(line, "curl "):
			continue
		}
		c := readmeCurl{line: n, text: line}
		for (strings.HasSuffix(c.text, `\`) || strings.HasSuffix(c.text, "|")) && sc.Scan() {
			n++
			c.text = strings.TrimSuffix(c.text, `\`) + " " + strings.TrimSpace(sc.Text())
		}
		if m := heredoc.FindStringSubmatch(c.text); m != nil {
			var body strings.Builder
			for sc.Scan() {
				n++
				if strings.TrimSpace(sc.Text()) == m[1] {
					break
				}
				body.WriteString(sc.Text() + "\n")
			}
			c.stdin = body.String()
			c.text = strings.Replace(c.text, m[0], "", 1)
		}
		out = append(out, c)
	}
	return out
}

type curlRequest struct {
	method, url, auth, contentType string
	body                           io.Reader
}

// request reads the command's options: -H, -d/--data-binary (@- is the heredoc),
// the URL (its host replaced by base), and ignores -s -S -f -g -o FILE; $TOKEN is
// the demo token.
func (c readmeCurl) request(t *testing.T, base, token string) curlRequest {
	t.Helper()
	words := shellWords(t, c.text, map[string]string{"TOKEN": token})
	req := curlRequest{method: http.MethodGet}
	var headers []string
	for i := 1; i < len(words); i++ {
		w := words[i]
		next := func() string {
			i++
			if i >= len(words) {
				t.Fatalf("%s: %s takes a value", c.text, w)
			}
			return words[i]
		}
		switch {
		case w == "|":
			i = len(words) // the rest of a pipeline consumes this command's output
		case w == "-H":
			h := next()
			if k, v, _ := strings.Cut(h, ":"); strings.EqualFold(k, "Content-Type") {
				req.contentType = strings.TrimSpace(v)
			} else {
				headers = append(headers, h)
			}
		case w == "-d" || w == "--data-binary":
			d := next()
			if d == "@-" {
				d = c.stdin
			}
			req.method, req.body = http.MethodPost, strings.NewReader(d)
		case w == "-o":
			next()
		case strings.HasPrefix(w, "-"):
			if strings.Trim(w, "-sSfgL") != "" {
				t.Fatalf("%s: option %s is not understood by this test", c.text, w)
			}
		default:
			u := strings.TrimPrefix(w, "http://")
			_, path, _ := strings.Cut(u, "/")
			req.url = base + "/" + path
		}
	}
	if req.url == "" {
		t.Fatalf("%s: no URL", c.text)
	}
	req.auth = strings.Join(headers, "\n")
	return req
}

// shellWords splits a command line as sh would for the README's commands: single
// and double quotes, $NAME inside double quotes and bare words, `|` a word of its own.
func shellWords(t *testing.T, s string, vars map[string]string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord := false
	expand := func(s string, i int) (string, int) { // $NAME at s[i]
		j := i + 1
		for j < len(s) && (s[j] == '_' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= '0' && s[j] <= '9') {
			j++
		}
		v, ok := vars[s[i+1:j]]
		if !ok {
			v = "$" + s[i+1:j] // unknown: left as written (the pipeline's other token)
		}
		return v, j
	}
	for i := 0; i < len(s); {
		switch ch := s[i]; {
		case ch == ' ' || ch == '\t':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
			i++
		case ch == '|' && !inWord:
			words = append(words, "|")
			i++
		case ch == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				t.Fatalf("unterminated quote in %s", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			inWord, i = true, i+j+2
		case ch == '"':
			i++
			for i < len(s) && s[i] != '"' {
				if s[i] == '$' {
					v, j := expand(s, i)
					cur.WriteString(v)
					i = j
					continue
				}
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				cur.WriteByte(s[i])
				i++
			}
			inWord, i = true, i+1
		case ch == '$':
			v, j := expand(s, i)
			cur.WriteString(v)
			inWord, i = true, j
		default:
			cur.WriteByte(ch)
			inWord, i = true, i+1
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}
