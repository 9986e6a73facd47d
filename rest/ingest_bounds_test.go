package rest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

// countPartitions counts the partitions of every log table.
func countPartitions(t *testing.T, e *testserver.Env) int {
	t.Helper()
	var n int
	if err := e.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_inherits i
		JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = ANY($1)`,
		[]string{"app_logs", "api_request_logs", "integration_logs", "action_logs", "api_reference_logs"}).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestIngestPartitionExplosionRefused sends the batch of issue 8: 3,000 records on
// 3,000 days from 1914 on. Every line outside the accepted window gets a 400 and
// nothing is stored or created.
func TestIngestPartitionExplosionRefused(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	before := countPartitions(t, e)
	var b strings.Builder
	start := time.Date(1914, 1, 1, 12, 0, 0, 0, time.UTC)
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&b, `{"timestamp":%q,"level":"INFO","service":"s","message":"m"}`+"\n", start.AddDate(0, 0, i).Format(time.RFC3339))
	}
	b.WriteString(goodApp + "\n") // a good line is not stored either
	resp, body := e.Ingest("app", e.Tokens[model.RoleIngest], b.String())
	r := decodeReply(t, body)
	if resp.StatusCode != http.StatusBadRequest || r.Code != "invalid_batch" || r.BadLines != 3000 || len(r.Errors) != 100 {
		t.Fatalf("status %d, code %s, bad %d, listed %d", resp.StatusCode, r.Code, r.BadLines, len(r.Errors))
	}
	want := `field "timestamp": 1914-01-01T12:00:00Z is more than 1826 days in the past; times from 1826 days ago to 2 days ahead are accepted`
	if r.Errors[0].Line != 1 || r.Errors[0].Message != want {
		t.Fatalf("first error: line %d %q\nwant %q", r.Errors[0].Line, r.Errors[0].Message, want)
	}
	if r.Error != "3000 bad line(s); nothing was stored" {
		t.Fatalf("error %q", r.Error)
	}
	if after := countPartitions(t, e); after != before {
		t.Fatalf("%d partitions before, %d after a refused batch", before, after)
	}
	if e.CountAll() != 0 {
		t.Fatal("rows stored")
	}
}

// TestIngestSeedExamplesLand checks that the seeds' own 2023 and 2024 examples (the
// README's curl examples) are accepted with the default window.
func TestIngestSeedExamplesLand(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	for kind, line := range map[string]string{"app": goodApp, "api-request": goodAPIRequest, "integration": goodIntegration,
		"action": goodAction, "api-reference": goodAPIRef} {
		resp, body := e.Ingest(kind, e.Tokens[model.RoleIngest], line)
		if resp.StatusCode != http.StatusOK || decodeReply(t, body).Accepted != 1 {
			t.Fatalf("%s: %d %s", kind, resp.StatusCode, body)
		}
	}
	if n := e.CountAll(); n != 5 {
		t.Fatalf("%d rows, want 5", n)
	}
}

// TestIngestLineOfExactly1MiB checks the line limit's edge: exactly 1 MiB is a line
// (with or without a terminator); one byte more is refused (TestIngestRejectsBadInput).
func TestIngestLineOfExactly1MiB(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	for _, body := range []string{appOfLen(1 << 20), appOfLen(1<<20) + "\n", appOfLen(1<<20) + "\r\n" + goodApp} {
		resp, reply := e.Ingest("app", e.Tokens[model.RoleIngest], body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %.300s", resp.StatusCode, reply)
		}
	}
	if n := e.Count("app_logs"); n != 4 {
		t.Fatalf("%d rows, want 4", n)
	}
}

// addWorkspace makes a second workspace with an ingest token.
func addWorkspace(t *testing.T, e *testserver.Env, slug string) (uuid.UUID, string) {
	t.Helper()
	ws, err := db.NewWorkspaceStore(e.DB.Bun).Create(context.Background(), slug, slug)
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := e.Store.Create(context.Background(), ws.ID, "ingest", model.RoleIngest)
	if err != nil {
		t.Fatal(err)
	}
	return ws.ID, tok
}

// post sends an ingest request from any goroutine (no t.Fatal).
func post(e *testserver.Env, kind, token, body string) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, e.Srv.URL+"/v1/ingest/"+kind, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.Srv.Client().Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

type postResult struct {
	status int
	body   string
	err    error
}

// TestIngestNotBlockedByPartitionCreation pauses a batch that must create a partition
// (the test holds the table's partition-creation advisory lock) and checks that
// another workspace's ingest into existing partitions completes meanwhile.
func TestIngestNotBlockedByPartitionCreation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := testserver.New(t, rest.Limits{})
	_, tok2 := addWorkspace(t, e, "other")
	now := time.Now().UTC()
	recent := fmt.Sprintf(`{"timestamp":%q,"level":"INFO","service":"s","message":"m"}`, now.Format(time.RFC3339Nano))
	// Today's partition exists and the server knows it.
	if status, body, err := post(e, "app", tok2, recent); err != nil || status != 200 {
		t.Fatalf("warm-up: %d %s %v", status, body, err)
	}
	conn, err := e.DB.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", db.PartitionLockKey("app_logs")); err != nil {
		t.Fatal(err)
	}
	locked := true
	unlock := func() {
		if locked {
			locked = false
			if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock(hashtext($1))", db.PartitionLockKey("app_logs")); err != nil {
				t.Error(err)
			}
		}
	}
	defer unlock()
	// Workspace 1 backfills a day 300 days back: a new (monthly) partition.
	old := fmt.Sprintf(`{"timestamp":%q,"level":"INFO","service":"s","message":"old"}`, now.AddDate(0, 0, -300).Format(time.RFC3339))
	slow := make(chan postResult, 1)
	go func() {
		s, b, err := post(e, "app", e.Tokens[model.RoleIngest], old)
		slow <- postResult{s, b, err}
	}()
	// Wait until that batch waits for the lock (a row in pg_locks), not for a time.
	deadline := time.Now().Add(time.Minute)
	for {
		var waiting int
		if err := e.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the backfill never waited for the partition lock")
		}
		select {
		case r := <-slow:
			t.Fatalf("the backfill finished while its partition could not be created: %+v", r)
		case <-time.After(10 * time.Millisecond): // poll interval, not a synchronisation
		}
	}
	// Meanwhile the other workspace's ingest into today's partition completes.
	fast := make(chan postResult, 1)
	go func() {
		s, b, err := post(e, "app", tok2, recent)
		fast <- postResult{s, b, err}
	}()
	select {
	case r := <-fast:
		if r.err != nil || r.status != 200 {
			t.Fatalf("other workspace: %+v", r)
		}
	case r := <-slow:
		t.Fatalf("the backfill finished first while the lock was held: %+v", r)
	case <-time.After(2 * time.Minute): // a generous "finishes at all"
		t.Fatal("the other workspace's ingest was blocked by the partition creation")
	}
	select {
	case r := <-slow:
		t.Fatalf("the backfill finished while the lock was held: %+v", r)
	default:
	}
	unlock()
	if r := <-slow; r.err != nil || r.status != 200 {
		t.Fatalf("backfill: %+v", r)
	}
	if n := e.Count("app_logs"); n != 1 {
		t.Fatalf("%d rows in workspace 1, want 1", n)
	}
}

// TestIngestAfterPartitionDroppedByHand drops the partition of a day behind the
// server's back; a later ingest for that day succeeds.
func TestIngestAfterPartitionDroppedByHand(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	ts := time.Now().UTC().Add(-30 * time.Hour)
	line := fmt.Sprintf(`{"timestamp":%q,"level":"INFO","service":"s","message":"m"}`, ts.Format(time.RFC3339Nano))
	if resp, body := e.Ingest("app", e.Tokens[model.RoleIngest], line); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if _, err := e.DB.Pool.Exec(context.Background(), "DROP TABLE app_logs_p"+ts.Format("20060102")); err != nil {
		t.Fatal(err)
	}
	if resp, body := e.Ingest("app", e.Tokens[model.RoleIngest], line); resp.StatusCode != 200 {
		t.Fatalf("after the drop: %d %s", resp.StatusCode, body)
	}
	if n := e.Count("app_logs"); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}

// actionIDs returns a workspace's action log ids, in order.
func actionIDs(t *testing.T, e *testserver.Env, ws uuid.UUID) []int64 {
	t.Helper()
	rows, err := e.DB.Pool.Query(context.Background(), "SELECT id FROM action_logs WHERE workspace_id = $1 ORDER BY id", ws)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// TestActionIDsPerWorkspace checks that server-made action ids come from each
// workspace's own counter: another workspace's huge client id does not move them,
// they never reuse the workspace's own client ids, and they stay below 2^53.
func TestActionIDsPerWorkspace(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	ws2, tok2 := addWorkspace(t, e, "other")
	noID := `{"level":20,"logger_name":"l","message":"m","app_name":"oms"}`
	withID := func(id int64) string {
		return fmt.Sprintf(`{"id":%d,"level":20,"logger_name":"l","message":"m","app_name":"oms"}`, id)
	}
	ingest := func(tok, body string, wantStatus int) ingestReply {
		t.Helper()
		status, reply, err := post(e, "action", tok, body)
		if err != nil || status != wantStatus {
			t.Fatalf("status %d (%v), want %d: %s", status, err, wantStatus, reply)
		}
		return decodeReply(t, reply)
	}
	// Workspace 2 sends the largest id there is.
	ingest(tok2, withID(model.MaxActionID), 200)
	// Workspace 1's server ids start at 1 and are consecutive, batch after batch.
	ingest(e.Tokens[model.RoleIngest], noID+"\n"+noID, 200)
	ingest(e.Tokens[model.RoleIngest], noID, 200)
	if got := actionIDs(t, e, e.WS); fmt.Sprint(got) != "[1 2 3]" {
		t.Fatalf("workspace 1 ids %v, want [1 2 3]", got)
	}
	// A client id moves the workspace's counter past it; server ids never reuse it.
	ingest(e.Tokens[model.RoleIngest], withID(10)+"\n"+noID, 200)
	ingest(e.Tokens[model.RoleIngest], noID, 200)
	if got := actionIDs(t, e, e.WS); fmt.Sprint(got) != "[1 2 3 10 11 12]" {
		t.Fatalf("workspace 1 ids %v, want [1 2 3 10 11 12]", got)
	}
	// 2^53 is refused with nothing stored.
	r := ingest(e.Tokens[model.RoleIngest], noID+"\n"+withID(model.MaxActionID+1), 400)
	want := `field "id": 9007199254740992 is out of range 1..9007199254740991`
	if r.BadLines != 1 || r.Errors[0].Line != 2 || r.Errors[0].Message != want {
		t.Fatalf("reply %+v, want line 2 %q", r, want)
	}
	// Workspace 2 has no server ids left: a record without an id is refused, one with
	// an id still lands.
	r = ingest(tok2, withID(7)+"\n"+noID, 400)
	want = `field "id": the workspace has no server-made action ids left (its ids reach 9007199254740991); send an id`
	if r.BadLines != 1 || r.Errors[0].Line != 2 || r.Errors[0].Message != want {
		t.Fatalf("reply %+v, want line 2 %q", r, want)
	}
	ingest(tok2, withID(7), 200)
	if got := actionIDs(t, e, ws2); fmt.Sprint(got) != fmt.Sprintf("[7 %d]", model.MaxActionID) {
		t.Fatalf("workspace 2 ids %v", got)
	}
	if got := actionIDs(t, e, e.WS); len(got) != 6 {
		t.Fatalf("workspace 1 ids %v after refused batches", got)
	}
}

// TestIngestMutationsShareTheChecks sends the window and details checks through the
// GraphQL ingest mutations (inline and as variables): a 4xx-class GraphQL error, the
// same messages, nothing stored.
func TestIngestMutationsShareTheChecks(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	const numMsg = `field "details": number 1e999999 is beyond the range PostgreSQL can store (at most 131072 digits before the decimal point and 16383 after)`
	cases := []struct {
		name, logs string
		vars       string // the logs as a JSON variable instead
		msg        string
	}{
		{"too old", `[{timestamp: "1914-07-28T00:00:00Z", level: INFO, service: "s", message: "m"}]`, "",
			`field "timestamp": 1914-07-28T00:00:00Z is more than 1826 days in the past; times from 1826 days ago to 2 days ahead are accepted`},
		{"year 10000", `[{timestamp: "9999-12-31T23:59:59.9999999Z", level: INFO, service: "s", message: "m"}]`, "",
			`field "timestamp": 9999-12-31T23:59:59.9999999Z is outside the supported range 1900-01-01..9999-12-31`},
		{"far future", `[{timestamp: "2099-01-01T00:00:00Z", level: INFO, service: "s", message: "m"}]`, "",
			`field "timestamp": 2099-01-01T00:00:00Z is more than 2 days in the future; times from 1826 days ago to 2 days ahead are accepted`},
		{"huge number in details, inline", `[{level: INFO, service: "s", message: "m", details: {n: 1e999999}}]`, "",
			`Expected value of type "AppLogInput!", found {level:INFO,service:"s",message:"m",details:{n:1e999999}}.`},
		{"huge number in details, variable", "", `[{"level":"INFO","service":"s","message":"m","details":{"n":1e999999}}]`, numMsg},
		{"action id 2^53", "", "", `field "id": 9007199254740992 is out of range 1..9007199254740991`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out struct {
				Errors []struct {
					Message    string         `json:"message"`
					Extensions map[string]any `json:"extensions"`
				} `json:"errors"`
			}
			query, vars := `mutation { ingestAppLogs(logs: `+c.logs+`) { accepted } }`, map[string]any(nil)
			if c.vars != "" {
				query, vars = `mutation($logs: [AppLogInput!]!) { ingestAppLogs(logs: $logs) { accepted } }`,
					map[string]any{"logs": json.RawMessage(c.vars)}
			}
			if c.name == "action id 2^53" {
				query = `mutation { ingestActionLogs(logs: [{id: "9007199254740992", level: 20, loggerName: "l", message: "m", appName: "a"}]) { accepted } }`
			}
			resp := e.GraphQL(e.Tokens[model.RoleIngest], query, vars, &out)
			if resp.StatusCode >= 500 || len(out.Errors) == 0 || out.Errors[0].Extensions["code"] != "BAD_USER_INPUT" {
				t.Fatalf("status %d, reply %+v", resp.StatusCode, out)
			}
			got := out.Errors[0].Message
			if lines, ok := out.Errors[0].Extensions["invalidLogs"].([]any); ok && len(lines) == 1 {
				got = fmt.Sprint(lines[0].(map[string]any)["message"])
			}
			if got != c.msg {
				t.Fatalf("error %q\nwant %q", got, c.msg)
			}
		})
	}
	// A lone surrogate, in the query text or in the variables, is refused by the
	// transport before Go's and the GraphQL decoders could make it U+FFFD.
	for _, c := range []struct {
		name, body, msg string
	}{
		{"query literal", `{"query":"mutation { ingestAppLogs(logs: [{level: INFO, service: \"s\", message: \"m\", details: {k: \"\\ud800\"}}]) { accepted } }"}`,
			`the query has a lone UTF-16 surrogate escape \ud800 at byte 88, which is not valid Unicode`},
		{"variables", `{"query":"mutation($l: [AppLogInput!]!) { ingestAppLogs(logs: $l) { accepted } }","variables":{"l":[{"level":"INFO","service":"s","message":"\udc00"}]}}`,
			`the request body has a lone UTF-16 surrogate escape \udc00 at byte 141, which is not valid Unicode`},
	} {
		t.Run("lone surrogate in "+c.name, func(t *testing.T) {
			resp, body := e.Do(http.MethodPost, "/graphql", strings.NewReader(c.body),
				"Authorization", "Bearer "+e.Tokens[model.RoleIngest], "Content-Type", "application/json")
			var out struct {
				Errors []struct {
					Message    string
					Extensions map[string]any
				}
			}
			if err := json.Unmarshal([]byte(body), &out); err != nil || resp.StatusCode != http.StatusBadRequest ||
				len(out.Errors) != 1 || out.Errors[0].Message != c.msg || out.Errors[0].Extensions["code"] != "BAD_USER_INPUT" {
				t.Fatalf("%d %s\nwant message %q", resp.StatusCode, body, c.msg)
			}
		})
	}
	if n := e.Count("app_logs"); n != 0 {
		t.Fatalf("%d app logs stored, want none", n)
	}
}

// TestIngestAcrossTheWholeWindow sends a batch spread over the whole accepted window
// (two rows a day) through HTTP: it lands, the table stays within the documented
// partition bound, and every workspace's unbounded reads keep working.
func TestIngestAcrossTheWholeWindow(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	now := time.Now()
	var b strings.Builder
	n := 0
	for ts := now.Add(-model.DefaultMaxAge + time.Hour); ts.Before(now.Add(model.DefaultMaxFuture - time.Hour)); ts = ts.Add(12 * time.Hour) {
		fmt.Fprintf(&b, `{"timestamp":%q,"level":"INFO","service":"s","message":"m"}`+"\n", ts.UTC().Format(time.RFC3339))
		n++
	}
	resp, body := e.Ingest("app", e.Tokens[model.RoleIngest], b.String())
	if resp.StatusCode != http.StatusOK || decodeReply(t, body).Accepted != n {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	bound := db.MaxPartitions(db.PartitionOptions{}, model.DefaultMaxAge, model.DefaultMaxFuture, 7)
	if got := countPartitions(t, e); got > bound {
		t.Fatalf("%d partitions, bound %d", got, bound)
	}
	var out struct {
		Data struct {
			Logs struct{ Nodes []struct{ ID string } } `json:"logs"`
		} `json:"data"`
		Errors []json.RawMessage `json:"errors"`
	}
	e.GraphQL(e.Tokens[model.RoleRead], `{ logs(first: 10) { nodes { id } } }`, nil, &out)
	if len(out.Errors) != 0 || len(out.Data.Logs.Nodes) != 10 {
		t.Fatalf("logs after the batch: %+v", out)
	}
}
