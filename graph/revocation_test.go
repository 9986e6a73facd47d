package graph_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/graph"
	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/internal/testwait"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

const revokedReason = "Unauthorized: API token has been revoked"

// expectRevokedClose reads the socket until it closes (a generous deadline: the
// close is an event, not a timing) and asserts close 4401 with the revocation's
// reason. Messages before the close (an operation's end) are skipped.
func (tc *tailClient) expectRevokedClose(t *testing.T) {
	t.Helper()
	ctx, cancel := testwait.Context(t)
	defer cancel()
	for {
		m, err := tc.read(ctx)
		if err == nil {
			if m.Type == "next" || m.Type == "data" {
				t.Fatalf("an event after the revocation: %s", m.Payload)
			}
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != graph.WebsocketCloseUnauthorized || ce.Reason != revokedReason {
			t.Fatalf("%s: got %v, want close %d %q", tc.proto, err, graph.WebsocketCloseUnauthorized, revokedReason)
		}
		return
	}
}

// newReadToken makes a read token of e's workspace and returns its id and text.
func newReadToken(t *testing.T, e *testserver.Env, name string) (string, string) {
	t.Helper()
	tok, text, err := e.Store.Create(context.Background(), e.WS, name, model.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	return tok.ID.String(), text
}

// revokeThroughGraphQL revokes token id with e's revokeApiToken.
func revokeThroughGraphQL(t *testing.T, e *testserver.Env, id string) {
	t.Helper()
	var r struct {
		Data struct {
			RevokeAPIToken struct{ RevokedAt *string } `json:"revokeApiToken"`
		}
		Errors []gqlError
	}
	e.GraphQL(e.Tokens[model.RoleAdmin], `mutation($id: ID!) { revokeApiToken(id: $id) { revokedAt } }`, map[string]any{"id": id}, &r)
	if r.Errors != nil || r.Data.RevokeAPIToken.RevokedAt == nil {
		t.Fatalf("revoke: %+v", r)
	}
}

// TestRevokedSocketsCloseOnEveryServer: two servers over one database. Revoking a
// token through one server's revokeApiToken closes, with 4401, every websocket that
// token opened, on both servers and both subprotocols, whether it authenticated in
// connection_init or with the upgrade's header; the sockets of other tokens keep
// streaming.
func TestRevokedSocketsCloseOnEveryServer(t *testing.T) {
	t.Parallel()
	a := testserver.New(t, rest.Limits{})
	b := a.Peer(t, testserver.Options{})
	id, text := newReadToken(t, a, "doomed")

	var doomed []*tailClient
	for _, e := range []*testserver.Env{a, b} {
		for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
			doomed = append(doomed, openTail(t, e, text, proto, nil))
		}
	}
	// A socket that authenticated with the upgrade's Authorization header.
	hc := &tailClient{c: dialWS(t, b.Srv.URL, "graphql-transport-ws", http.Header{"Authorization": {"Bearer " + text}}),
		proto: "graphql-transport-ws", msgs: make(chan wsMsg), err: make(chan error, 1)}
	send(t, hc.c, wsMsg{Type: "connection_init"})
	ctx, cancel := testwait.Context(t)
	defer cancel()
	if m, err := hc.read(ctx); err != nil || m.Type != "connection_ack" {
		t.Fatalf("init with the header: %+v %v", m, err)
	}
	doomed = append(doomed, hc)
	survivor := openTail(t, b, a.Tokens[model.RoleRead], "graphql-transport-ws", nil)
	if n := b.Revocations.Open(); n != 4 {
		t.Fatalf("server b tracks %d sockets, want 4", n)
	}

	revokeThroughGraphQL(t, a, id)
	for _, tc := range doomed {
		tc.expectRevokedClose(t)
	}
	waitFor(t, "the registries to forget the closed sockets", func() bool {
		return a.Revocations.Open() == 0 && b.Revocations.Open() == 1
	})
	ingestHTTP(t, b, b.Tokens[model.RoleIngest], "app", appBatch("INFO", "still here"))
	if logs, _ := survivor.take(t, 1); msgs(logs)[0] != "still here" {
		t.Fatalf("the other token's socket: %v", msgs(logs))
	}
}

// TestRevokedTokenRefusedOnEveryServer: with the principal cache on (a token's
// requests run no lookup), a token revoked through server a is refused at once on
// a, and on server b as soon as b hears the notice (the notice that closes the
// token's websocket on b), on GraphQL and /v1 alike.
func TestRevokedTokenRefusedOnEveryServer(t *testing.T) {
	t.Parallel()
	a := testserver.New(t, rest.Limits{})
	b := a.Peer(t, testserver.Options{})
	id, text := newReadToken(t, a, "doomed")
	waitFor(t, "both servers' token caches to turn on", func() bool {
		return a.Store.CacheStats().On && b.Store.CacheStats().On
	})
	viewer := func(e *testserver.Env) (*http.Response, string) {
		return post(e, gqlBody(`{ viewer { role } }`), "Authorization", "Bearer "+text)
	}
	for _, e := range []*testserver.Env{a, b} {
		before := e.Store.CacheStats()
		for range 2 {
			resp, body := viewer(e)
			if w := expect(t, resp, body, http.StatusOK, ctJSON); string(w.Data) != `{"viewer":{"role":"READ"}}` {
				t.Fatalf("viewer: %s", body)
			}
		}
		if after := e.Store.CacheStats(); after.Hits-before.Hits != 1 || after.Misses-before.Misses != 1 {
			t.Fatalf("cache before %+v, after %+v", before, after)
		}
	}
	tc := openTail(t, b, text, "graphql-transport-ws", nil) // authenticated from b's cache
	revokeThroughGraphQL(t, a, id)
	resp, body := viewer(a)
	refusal(t, resp, body, http.StatusUnauthorized, ctJSON, "UNAUTHENTICATED", "API token has been revoked")
	tc.expectRevokedClose(t) // b has heard the notice
	resp, body = viewer(b)
	refusal(t, resp, body, http.StatusUnauthorized, ctJSON, "UNAUTHENTICATED", "API token has been revoked")
	if resp, body := b.Ingest("app", text, appBatch("INFO", "x")); resp.StatusCode != http.StatusUnauthorized ||
		!strings.Contains(body, "API token has been revoked") {
		t.Fatalf("/v1 on b: %d %s", resp.StatusCode, body)
	}
}

// TestRevocationStoreRevokeNotifies: the store's Revoke (what `loggraph token revoke` calls)
// notifies as the mutation does.
func TestRevocationStoreRevokeNotifies(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	tok, text, err := e.Store.Create(context.Background(), e.WS, "cli", model.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	tc := openTail(t, e, text, "graphql-ws", nil)
	if _, err := db.NewTokenStore(e.DB.Bun).Revoke(context.Background(), e.WS, tok.ID); err != nil {
		t.Fatal(err)
	}
	tc.expectRevokedClose(t)
}

// TestRevocationLostNotice: a revocation whose notice never came (written without
// one, as if sent while the listener was reconnecting) is found by the re-check that
// follows the listener's reconnection, and by the periodic re-check.
func TestRevocationLostNotice(t *testing.T) {
	t.Parallel()
	revokeSilently := func(t *testing.T, e *testserver.Env, id string) {
		t.Helper()
		if _, err := e.DB.Pool.Exec(context.Background(), `UPDATE api_tokens SET revoked_at = now() WHERE workspace_id = $1 AND id = $2`, e.WS, id); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("listener reconnects", func(t *testing.T) {
		t.Parallel()
		e := testserver.New(t, rest.Limits{})
		id, text := newReadToken(t, e, "silent")
		tc := openTail(t, e, text, "graphql-transport-ws", nil)
		revokeSilently(t, e, id)
		var killed int
		err := e.DB.Pool.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE application_name = $1 AND datname = current_database()`, db.RevocationApplicationName).Scan(&killed)
		if err != nil || killed != 1 {
			t.Fatalf("terminate listener: %d, %v", killed, err)
		}
		tc.expectRevokedClose(t)
	})
	t.Run("periodic re-check", func(t *testing.T) {
		t.Parallel()
		e := testserver.NewWith(t, rest.Limits{}, func(c *graph.Config) {
			c.Revocations = graph.NewRevocations(c.Resolver.Tokens, nil, graph.RevocationOptions{RecheckInterval: 20 * time.Millisecond})
		})
		id, text := newReadToken(t, e, "silent")
		other := openTail(t, e, e.Tokens[model.RoleRead], "graphql-ws", nil)
		tc := openTail(t, e, text, "graphql-ws", nil)
		revokeSilently(t, e, id)
		tc.expectRevokedClose(t)
		ingestHTTP(t, e, e.Tokens[model.RoleIngest], "app", appBatch("INFO", "after"))
		if logs, _ := other.take(t, 1); msgs(logs)[0] != "after" {
			t.Fatalf("the other token's socket: %v", msgs(logs))
		}
	})
}

// TestRevocationBeforeRegistration: a notice heard before the socket of that token
// registers (the token was checked just before the revocation committed) still ends
// the socket.
func TestRevocationBeforeRegistration(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	tok, text, err := e.Store.Create(context.Background(), e.WS, "racy", model.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	e.Revocations.Revoked(tok.ID) // the notice, as the listener hands it over
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		tc := newTailClient(t, e.Srv.URL, proto)
		send(t, tc.c, wsMsg{Type: "connection_init", Payload: json2(map[string]string{"authToken": text})})
		tc.expectRevokedClose(t)
	}
}
