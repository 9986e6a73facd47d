package graph_test

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

// TestWebsocketOutlivesBodyReadTimeout: the body read deadline applies to requests
// with a body, never to a websocket's hijacked connection. A tail subscription opened
// before a stalled POST was cut off (so older than the timeout) still receives
// events and still has its messages read (unsubscribing ends it).
func TestWebsocketOutlivesBodyReadTimeout(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{BodyReadTimeout: time.Second})
	tc := openTail(t, e, e.Tokens[model.RoleRead], "graphql-transport-ws", nil)

	conn, err := net.Dial("tcp", strings.TrimPrefix(e.Srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Minute)) // fail rather than hang
	fmt.Fprintf(conn, "POST /v1/ingest/app HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 100\r\n\r\n{", e.Tokens[model.RoleIngest])
	if reply, err := io.ReadAll(conn); err != nil || !strings.HasPrefix(string(reply), "HTTP/1.1 408 ") {
		t.Fatalf("stalled POST: %v %q", err, reply)
	}

	// The body timeout has passed since the websocket opened: it still works both ways.
	ingestHTTP(t, e, e.Tokens[model.RoleIngest], "app", appBatch("INFO", "after the timeout"))
	if logs, _ := tc.take(t, 1); !slices.Equal(msgs(logs), []string{"after the timeout"}) {
		t.Fatalf("got %v", msgs(logs))
	}
	tc.unsubscribe(t)
	waitFor(t, "the unsubscription", func() bool { return e.Tail.Subscribers() == 0 })
}
