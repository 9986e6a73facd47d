package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loggraph/loggraph/db/dbtest"
	"github.com/loggraph/loggraph/internal/testwait"
)

// cli runs the program with DATABASE_URL set and returns stdout.
func cli(t *testing.T, dbURL string, args ...string) (string, error) {
	t.Helper()
	return cliEnv(dbURL, nil, args...)
}

// cliEnv runs the program with DATABASE_URL and env set, and returns stdout.
func cliEnv(dbURL string, env map[string]string, args ...string) (string, error) {
	var out bytes.Buffer
	getenv := func(k string) string {
		if k == "DATABASE_URL" {
			return dbURL
		}
		return env[k]
	}
	err := run(context.Background(), append([]string{"loggraph"}, args...), getenv, &out, io.Discard)
	return out.String(), err
}

func mustCLI(t *testing.T, dbURL string, args ...string) string {
	t.Helper()
	out, err := cli(t, dbURL, args...)
	if err != nil {
		t.Fatalf("loggraph %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// acmeIngestToken creates workspace acme through the CLI and returns an ingest token of it.
func acmeIngestToken(t *testing.T, dbURL string) string {
	t.Helper()
	mustCLI(t, dbURL, "workspace", "create", "acme")
	return lastLine(mustCLI(t, dbURL, "token", "create", "--workspace", "acme", "--role", "ingest"))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestWorkspaceAndTokenCommands(t *testing.T) {
	t.Parallel()
	u := dbtest.NewURL(t)
	id := strings.TrimSpace(mustCLI(t, u, "workspace", "create", "acme", "--name", "Acme Inc"))
	if len(id) != 36 {
		t.Fatalf("workspace id %q", id)
	}
	if _, err := cli(t, u, "workspace", "create", "acme"); err == nil || !strings.Contains(err.Error(), "workspace already exists: acme") {
		t.Fatalf("duplicate workspace: %v", err)
	}
	if _, err := cli(t, u, "workspace", "create", "Bad Slug"); err == nil || !strings.Contains(err.Error(), "invalid workspace slug") {
		t.Fatalf("bad slug: %v", err)
	}
	out := mustCLI(t, u, "token", "create", "--workspace", "acme", "--role", "ingest", "--name", "shipper")
	tok := lastLine(out)
	if !strings.HasPrefix(tok, "lg_") || strings.Contains(tok, " ") {
		t.Fatalf("token is not alone on the last line: %q", out)
	}
	list := mustCLI(t, u, "token", "list", "--workspace", "acme")
	if !strings.Contains(list, "shipper") || !strings.Contains(list, "ingest") || strings.Contains(list, tok) {
		t.Fatalf("list: %s", list)
	}
	tokenID := strings.Fields(strings.Split(list, "\n")[1])[0]
	if out := mustCLI(t, u, "token", "revoke", "--workspace", "acme", tokenID); !strings.HasPrefix(out, "revoked token "+tokenID) {
		t.Fatalf("revoke: %s", out)
	}
	if list := mustCLI(t, u, "token", "list", "--workspace", "acme"); strings.Count(list, "\n") != 2 || strings.HasSuffix(strings.TrimSpace(list), "-") {
		t.Fatalf("revoked token not shown as revoked: %s", list)
	}
	for _, bad := range [][]string{
		{"token", "create", "--workspace", "acme", "--role", "owner"},
		{"token", "create", "--workspace", "nope", "--role", "read"},
		{"token", "revoke", "--workspace", "acme", "xyz"},
		{"token"},
		{"frobnicate"},
	} {
		if _, err := cli(t, u, bad...); err == nil {
			t.Fatalf("%v: no error", bad)
		} else if _, ok := err.(usageError); !ok {
			t.Fatalf("%v: %v is not a usage error", bad, err)
		}
	}
}

// statusLines runs migrate status and returns its lines split into fields.
func statusLines(t *testing.T, u string) [][]string {
	t.Helper()
	var lines [][]string
	for _, l := range strings.Split(strings.TrimSpace(mustCLI(t, u, "migrate", "status")), "\n") {
		lines = append(lines, strings.Fields(l))
	}
	return lines
}

// TestMigrateDownOneAtATime: down undoes the last migration only, status lists it as
// pending, up applies it again; on an empty database nothing is refused.
func TestMigrateDownOneAtATime(t *testing.T) {
	t.Parallel()
	u := dbtest.NewURL(t)
	before := statusLines(t, u)
	for _, l := range before {
		if l[0] != "applied" || len(l) != 4 {
			t.Fatalf("fresh database: status line %q, want applied VERSION COMMENT TIME", l)
		}
	}
	last, previous := before[len(before)-1], before[len(before)-2]
	out := mustCLI(t, u, "migrate", "down")
	if !strings.HasPrefix(out, "roll back "+last[1]+" "+last[2]+"\n") || !strings.HasSuffix(out, "rolled back "+last[1]+" "+last[2]+"\n") {
		t.Fatalf("down: %s", out)
	}
	after := statusLines(t, u)
	if got := after[len(after)-1]; len(after) != len(before) || got[0] != "pending" || got[1] != last[1] {
		t.Fatalf("status after one down: %q", after)
	}
	if got := after[len(after)-2]; got[0] != "applied" {
		t.Fatalf("down undid more than one migration: %q", after)
	}
	out = mustCLI(t, u, "migrate", "down")
	if !strings.HasSuffix(out, "rolled back "+previous[1]+" "+previous[2]+"\n") {
		t.Fatalf("second down: %s", out)
	}
	if out := mustCLI(t, u, "migrate", "up"); out != "applied "+previous[1]+"\napplied "+last[1]+"\n" {
		t.Fatalf("up: %q", out)
	}
	if out := mustCLI(t, u, "migrate"); out != "schema is up to date\n" {
		t.Fatalf("second up: %s", out)
	}
}

// TestMigrateDownRefusesToDropRows: with logs stored, down shows what it would drop
// (tables with their row counts) and refuses without --yes, leaving everything in
// place; bad flags are usage errors that change nothing; --to 0 --yes drops it all.
func TestMigrateDownRefusesToDropRows(t *testing.T) {
	t.Parallel()
	u := dbtest.NewURL(t)
	mustCLI(t, u, "seed", "--workspace", "acme", "--create", "--rows", "200", "--days", "1")
	conn, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	count := func(table string) int64 {
		var n int64
		if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	appRows := count("app_logs")
	if appRows == 0 {
		t.Fatal("seed stored no app logs")
	}
	status := statusLines(t, u)
	unchanged := func(what string) {
		t.Helper()
		if got := statusLines(t, u); len(got) != len(status) || got[len(got)-1][0] != "applied" {
			t.Fatalf("%s: status changed: %q", what, got)
		}
		if n := count("app_logs"); n != appRows {
			t.Fatalf("%s: app_logs holds %d rows, had %d", what, n, appRows)
		}
	}

	out, err := cli(t, u, "migrate", "down", "--to", "0")
	lost := regexp.MustCompile(`^the rollback drops stored data \((\d+) rows\); nothing was rolled back; run it again with --yes to drop them$`)
	if err == nil || !lost.MatchString(err.Error()) {
		t.Fatalf("down --to 0 with rows: %v\n%s", err, out)
	}
	for _, want := range []string{
		fmt.Sprintf("  drops table app_logs (%d rows)\n", appRows),
		fmt.Sprintf("  drops table workspaces (%d rows)\n", count("workspaces")),
		fmt.Sprintf("  drops table log_counts (%d rows)\n", count("log_counts")),
		"roll back " + status[0][1] + " " + status[0][2] + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	var sum int64
	for _, m := range regexp.MustCompile(`\((\d+) rows`).FindAllStringSubmatch(out, -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		sum += n
	}
	if got := lost.FindStringSubmatch(err.Error())[1]; got != strconv.FormatInt(sum, 10) {
		t.Errorf("refusal counts %s rows, the plan lists %d", got, sum)
	}
	if strings.Contains(out, "rolled back") {
		t.Errorf("refused down says it rolled back: %s", out)
	}
	unchanged("refused down")

	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"migrate", "down", "--to", "abc"}, `--to: "abc" is not a migration version (digits, as migrate status lists them, or 0)`},
		{[]string{"migrate", "down", "--to", "19990101000000"}, `unknown migration version "19990101000000" (loggraph migrate status lists them)`},
		{[]string{"migrate", "status", "--yes"}, "--to and --yes are flags of migrate down"},
		{[]string{"migrate", "up", "--to", "0"}, "--to and --yes are flags of migrate down"},
		{[]string{"migrate", "down", "extra"}, "migrate takes one of up, down, status"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			_, err := cli(t, u, c.args...)
			if _, ok := err.(usageError); !ok || err.Error() != c.msg {
				t.Fatalf("got %v, want usage error %q", err, c.msg)
			}
			unchanged(strings.Join(c.args, " "))
		})
	}

	out = mustCLI(t, u, "migrate", "down", "--to", "0", "--yes")
	if strings.Count(out, "rolled back ") != len(status) {
		t.Fatalf("down --to 0 --yes rolled back %d of %d:\n%s", strings.Count(out, "rolled back "), len(status), out)
	}
	var tables int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'bun_%'").Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("down --to 0 left %d tables (%v)", tables, err)
	}
	for _, l := range statusLines(t, u) {
		if l[0] != "pending" {
			t.Fatalf("after down --to 0: %q", l)
		}
	}
	if out := mustCLI(t, u, "migrate", "down"); out != "nothing to roll back\n" {
		t.Fatalf("down with nothing applied: %q", out)
	}
	mustCLI(t, u, "migrate", "up")
}

func TestUnreachableDatabaseIsOneLine(t *testing.T) {
	t.Parallel()
	_, err := cli(t, "postgres://bob:secret@127.0.0.1:1/loggraph?sslmode=disable&connect_timeout=2", "migrate", "status")
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || strings.Contains(msg, "secret") || !strings.Contains(msg, "127.0.0.1:1") ||
		!strings.Contains(msg, "docker compose up -d postgres") {
		t.Fatalf("message: %q", msg)
	}
}

// server runs `loggraph serve` in the background and returns its base URL, what it
// printed before listening (with --demo: up to the end of its token and links), and a stop function that waits for it to exit.
func server(t *testing.T, dbURL string, args ...string) (string, string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	env := func(k string) string {
		if k == "DATABASE_URL" {
			return dbURL
		}
		return ""
	}
	// --demo keeps its token in a file: the test's own, never the user's cache.
	tokenFile := filepath.Join(t.TempDir(), "demo-token")
	if i := slices.Index(args, "--demo-token-file"); i >= 0 && i+1 < len(args) {
		tokenFile = args[i+1]
	}
	demo := slices.Contains(args, "--demo")
	done := make(chan error, 1)
	go func() {
		err := run(ctx, append([]string{"loggraph", "serve", "--addr", "127.0.0.1:0", "--demo-rows", "500", "--demo-token-file", tokenFile}, args...), env, pw, io.Discard)
		pw.CloseWithError(io.EOF)
		done <- err
	}()
	sc := bufio.NewScanner(pr)
	var printed strings.Builder
	for sc.Scan() {
		line := sc.Text()
		printed.WriteString(line + "\n")
		if rest, ok := strings.CutPrefix(line, "loggraph listening on "); ok {
			base := strings.Fields(rest)[0]
			for demo && sc.Scan() { // the demo's token and links follow
				printed.WriteString(sc.Text() + "\n")
				if strings.Contains(sc.Text(), "Ctrl-C stops the server") {
					break
				}
			}
			go io.Copy(io.Discard, pr) //nolint:errcheck
			var once sync.Once
			var err error
			stop := func() error {
				once.Do(func() { cancel(); err = <-done })
				return err
			}
			t.Cleanup(func() { _ = stop() })
			return base, printed.String(), stop
		}
	}
	cancel()
	t.Fatalf("server did not start: %v\n%s", <-done, printed.String())
	return "", "", nil
}

// TestServeDemoIsCreatedOnce: the first --demo start fills workspace demo (sample
// logs and the records the README's examples ask for), later starts keep its data and
// add nothing, and print the same token as long as it works: an open playground keeps
// working across restarts. A token that stopped working is replaced.
func TestServeDemoIsCreatedOnce(t *testing.T) {
	t.Parallel()
	u := dbtest.NewURL(t)
	tokenFile := filepath.Join(t.TempDir(), "cache", "demo-token")
	start := func() (string, string, string) {
		t.Helper()
		base, printed, stop := server(t, u, "--demo", "--demo-token-file", tokenFile)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		var tok string
		for _, l := range strings.Split(printed, "\n") {
			if strings.HasPrefix(l, "lg_") {
				tok = l
			}
		}
		if !strings.HasPrefix(printed, "connecting to PostgreSQL at ") || !strings.Contains(printed, base+"/playground#token="+tok) ||
			!strings.Contains(printed, "export TOKEN="+tok) {
			t.Fatalf("no playground link or TOKEN line for %q:\n%s", tok, printed)
		}
		return base, printed, tok
	}
	_, printed, tok := start()
	if !strings.Contains(printed, `demo: creating workspace "demo" with 500 sample logs`) ||
		!strings.Contains(printed, fmt.Sprintf("demo: added %d records the README's examples ask for", demoExampleLines(t))) {
		t.Fatalf("first start:\n%s", printed)
	}
	if b, err := os.ReadFile(tokenFile); err != nil || strings.TrimSpace(string(b)) != tok {
		t.Fatalf("token file: %q, %v; want %q", b, err, tok)
	}
	countRows := func() int {
		conn, err := pgx.Connect(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var n int
		if err := conn.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM app_logs) + (SELECT count(*) FROM api_request_logs)
			+ (SELECT count(*) FROM integration_logs) + (SELECT count(*) FROM action_logs) + (SELECT count(*) FROM api_reference_logs)`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	first := countRows()
	if want := 500 + demoExampleLines(t); first != want {
		t.Fatalf("demo rows %d, want %d", first, want)
	}
	_, printed2, tok2 := start()
	if !strings.Contains(printed2, `workspace "demo" already exists`) || strings.Contains(printed2, "demo: added") {
		t.Fatalf("second start: %s", printed2)
	}
	if tok2 != tok {
		t.Fatalf("second start printed another token: %q, then %q", tok, tok2)
	}
	if n := countRows(); n != first {
		t.Fatalf("second --demo start changed the rows: %d -> %d", first, n)
	}
	// The kept token still opens the demo as admin.
	base, _, stop := server(t, u)
	status, body := do(t, http.MethodPost, base+"/graphql", "Authorization: Bearer "+tok, "application/json",
		strings.NewReader(`{"query":"{ viewer { workspace { slug } role } }"}`))
	if status != http.StatusOK || !strings.HasPrefix(string(body), `{"data":{"viewer":{"workspace":{"slug":"demo"},"role":"ADMIN"}},"extensions":{"stats":`) {
		t.Fatalf("viewer with the demo token: %d %s", status, body)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// A kept token that no longer works (revoked) is replaced, and the new one kept.
	list := mustCLI(t, u, "token", "list", "--workspace", "demo")
	mustCLI(t, u, "token", "revoke", "--workspace", "demo", strings.Fields(strings.Split(list, "\n")[1])[0])
	_, _, tok3 := start()
	if tok3 == tok || tok3 == "" {
		t.Fatalf("a revoked kept token was printed again: %q", tok3)
	}
	if b, _ := os.ReadFile(tokenFile); strings.TrimSpace(string(b)) != tok3 {
		t.Fatalf("token file %q, want the new token %q", b, tok3)
	}
}

// demoExampleLines counts the records of demo_examples.ndjson.
func demoExampleLines(t *testing.T) int {
	t.Helper()
	return bytes.Count(demoExamples, []byte("\n"))
}

// TestSeedRefusesAnUnknownWorkspace: a misspelled slug creates nothing; --create
// creates it, and an existing workspace needs no flag.
func TestSeedRefusesAnUnknownWorkspace(t *testing.T) {
	t.Parallel()
	u := dbtest.NewURL(t)
	mustCLI(t, u, "workspace", "create", "acme")
	_, err := cli(t, u, "seed", "--workspace", "acmee", "--rows", "10")
	if _, ok := err.(usageError); !ok || err.Error() != `no workspace "acmee" (create it with: loggraph workspace create acmee, or seed with --create)` {
		t.Fatalf("unknown workspace: %v", err)
	}
	if got := workspaceSlugs(t, u); !slices.Equal(got, []string{"acme"}) {
		t.Fatalf("workspaces after the refusal: %v", got)
	}
	if out := mustCLI(t, u, "seed", "--workspace", "acme", "--rows", "10"); !strings.Contains(out, "seeded 10 rows into workspace acme") {
		t.Fatalf("seed into acme: %s", out)
	}
	if out := mustCLI(t, u, "seed", "--workspace", "beta", "--create", "--rows", "10"); !strings.Contains(out, "seeded 10 rows into workspace beta") {
		t.Fatalf("seed --create: %s", out)
	}
	if got := workspaceSlugs(t, u); !slices.Equal(got, []string{"acme", "beta"}) {
		t.Fatalf("workspaces after --create: %v", got)
	}
}

// TestRefusedTokenStats: a 401 reports the statements of the token lookup, as the
// README says: one for a revoked or unknown token, none for a token not of our form.
func TestRefusedTokenStats(t *testing.T) {
	t.Parallel()
	u := dbtest.NewURL(t)
	revoked := acmeIngestToken(t, u)
	list := mustCLI(t, u, "token", "list", "--workspace", "acme")
	mustCLI(t, u, "token", "revoke", "--workspace", "acme", strings.Fields(strings.Split(list, "\n")[1])[0])
	unknown := revoked[:len(revoked)-4] + "AAAA"
	base, _, _ := server(t, u)
	for _, c := range []struct {
		name, token, message string
		statements           int
	}{
		{"revoked", revoked, "API token has been revoked", 1},
		{"unknown", unknown, "invalid API token", 1},
		{"not our form", "nope", "invalid API token", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := do(t, http.MethodPost, base+"/graphql", "Authorization: Bearer "+c.token, "application/json",
				strings.NewReader(`{"query":"{ viewer { role } }"}`))
			var resp struct {
				Errors []struct {
					Message string `json:"message"`
				} `json:"errors"`
				Extensions struct {
					Stats struct {
						SQLStatements int `json:"sqlStatements"`
					} `json:"stats"`
				} `json:"extensions"`
			}
			if err := json.Unmarshal(body, &resp); err != nil || status != http.StatusUnauthorized || len(resp.Errors) != 1 ||
				resp.Errors[0].Message != c.message || resp.Extensions.Stats.SQLStatements != c.statements {
				t.Fatalf("%d %s; want 401 %q with sqlStatements %d", status, body, c.message, c.statements)
			}
		})
	}
}

// TestServePortInUse: a port in use is reported before anything else happens, with
// the ways to pick another.
func TestServePortInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	u := dbtest.NewURL(t)
	_, err = cli(t, u, "serve", "--demo", "--demo-token-file", "", "--addr", ln.Addr().String())
	want := "listen on " + ln.Addr().String() + ": the port is in use (another loggraph?); pick another with --addr :9090, LOGGRAPH_ADDR=:9090 or make run PORT=9090"
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	if got := workspaceSlugs(t, u); len(got) != 0 {
		t.Fatalf("the demo was made before listening: workspaces %v", got)
	}
}

// workspaceSlugs lists the database's workspaces.
func workspaceSlugs(t *testing.T, u string) []string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var slugs []string
	if err := conn.QueryRow(context.Background(), "SELECT coalesce(array_agg(slug ORDER BY slug), '{}') FROM workspaces").Scan(&slugs); err != nil {
		t.Fatal(err)
	}
	return slugs
}

// TestShutdownDrainsIngests races SIGTERM (context cancel) against ingests: every
// batch is either stored whole and acknowledged, or refused and not stored at all.
func TestShutdownDrainsIngests(t *testing.T) {
	t.Parallel()
	u := dbtest.NewURL(t)
	tok := acmeIngestToken(t, u)
	// The shutdown timeout is only a safety net: the drain is sure to end, however
	// slow the machine.
	base, _, stop := server(t, u, "--shutdown-timeout", "10m")
	const batches, perBatch = 40, 1000
	acked := make([]bool, batches)
	firstAck := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	post := func(i int) {
		var b strings.Builder
		for j := 0; j < perBatch; j++ {
			fmt.Fprintf(&b, `{"level":"INFO","service":"batch-%d","message":"line %d"}`+"\n", i, j)
		}
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, base+"/v1/ingest/app", strings.NewReader(b.String()))
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			io.Copy(io.Discard, resp.Body) //nolint:errcheck
			resp.Body.Close()
			acked[i] = resp.StatusCode == http.StatusOK
			if acked[i] {
				once.Do(func() { close(firstAck) })
			}
		})
	}
	// Half the batches go first; once one is acknowledged (the others are in
	// flight or queued), the shutdown starts while the other half is sent: each
	// batch lands before the drain, during it, or is refused, never partly.
	for i := 0; i < batches/2; i++ {
		post(i)
	}
	select {
	case <-firstAck:
	case <-time.After(testwait.Safety):
		t.Fatal("hung: no ingest was acknowledged")
	}
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	for i := batches / 2; i < batches; i++ {
		post(i)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	conn, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	stored := map[string]int{}
	rows, err := conn.Query(context.Background(), "SELECT service, count(*) FROM app_logs GROUP BY service")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		stored[s] = n
	}
	nAcked := 0
	for i := 0; i < batches; i++ {
		n := stored[fmt.Sprintf("batch-%d", i)]
		if acked[i] {
			nAcked++
		}
		if (acked[i] && n != perBatch) || (!acked[i] && n != 0) {
			t.Fatalf("batch %d: acknowledged=%v but %d of %d rows stored", i, acked[i], n, perBatch)
		}
	}
	if nAcked == 0 || nAcked == batches {
		t.Logf("the shutdown did not race the ingests this time (%d of %d acknowledged)", nAcked, batches)
	}
}

// TestBenchLoadRoundsABBA: the hostile rounds of bench load come in the order
// calm, hostile, hostile, calm, so that drift weighs on both conditions alike.
func TestBenchLoadRoundsABBA(t *testing.T) {
	var got []bool
	for i := range 8 {
		got = append(got, abba(i))
	}
	want := []bool{false, true, true, false, false, true, true, false}
	if !slices.Equal(got, want) {
		t.Fatalf("rounds %v, want %v", got, want)
	}
}
