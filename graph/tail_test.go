package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/graph"
	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/internal/testwait"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

const tailQuery = `subscription($f: LogFilter) { logTail(filter: $f) { dropped logs { __typename id kind severity message source } } }`

// tailLog is a log as a logTail event carries it.
type tailLog struct {
	Typename string  `json:"__typename"`
	ID       string  `json:"id"`
	Kind     string  `json:"kind"`
	Severity string  `json:"severity"`
	Message  string  `json:"message"`
	Source   *string `json:"source"`
}

// tailClient is one websocket with one logTail subscription. Its messages are read
// by one goroutine, started at the first read (a stalled client reads nothing until
// then), because coder/websocket closes a connection whose Read is cancelled.
type tailClient struct {
	c     *websocket.Conn
	proto string
	id    string
	once  sync.Once
	msgs  chan wsMsg
	err   chan error
}

func newTailClient(t *testing.T, base, proto string) *tailClient {
	t.Helper()
	return tailClientOn(dialWS(t, base, proto, nil), proto)
}

func tailClientOn(c *websocket.Conn, proto string) *tailClient {
	tc := &tailClient{c: c, proto: proto, msgs: make(chan wsMsg), err: make(chan error, 1)}
	tc.c.SetReadLimit(64 << 20)
	return tc
}

// openTail connects with token over proto, subscribes with filter, and waits until
// the hub counts one more receiving subscriber, so that every batch ingested after
// it returns must reach the client.
func openTail(t *testing.T, e *testserver.Env, token, proto string, filter map[string]any) *tailClient {
	t.Helper()
	return subscribeTail(t, e, newTailClient(t, e.Srv.URL, proto), token, filter)
}

// subscribeTail initialises tc's socket with token and subscribes as openTail does.
func subscribeTail(t *testing.T, e *testserver.Env, tc *tailClient, token string, filter map[string]any) *tailClient {
	t.Helper()
	before := e.Tail.Subscribers()
	send(t, tc.c, wsMsg{Type: "connection_init", Payload: json2(map[string]string{"authToken": token})})
	ctx, cancel := testwait.Context(t)
	defer cancel()
	if m, err := tc.read(ctx); err != nil || m.Type != "connection_ack" {
		t.Fatalf("init: %+v %v", m, err)
	}
	tc.subscribe(t, "1", filter)
	waitFor(t, "the subscription to start", func() bool { return e.Tail.Subscribers() > before })
	return tc
}

func (tc *tailClient) subscribe(t *testing.T, id string, filter map[string]any) {
	t.Helper()
	tc.id = id
	typ := "subscribe"
	if tc.proto == "graphql-ws" {
		typ = "start"
	}
	send(t, tc.c, wsMsg{ID: id, Type: typ, Payload: json2(map[string]any{"query": tailQuery, "variables": map[string]any{"f": filter}})})
}

func (tc *tailClient) unsubscribe(t *testing.T) {
	t.Helper()
	typ := "complete"
	if tc.proto == "graphql-ws" {
		typ = "stop"
	}
	send(t, tc.c, wsMsg{ID: tc.id, Type: typ})
}

func (tc *tailClient) pump() {
	for {
		var m wsMsg
		if err := wsjson.Read(context.Background(), tc.c, &m); err != nil {
			tc.err <- err
			return
		}
		switch m.Type {
		case "ka", "pong":
			continue
		case "ping":
			_ = wsjson.Write(context.Background(), tc.c, wsMsg{Type: "pong"})
			continue
		}
		tc.msgs <- m // unbuffered: the client reads no faster than the test
	}
}

// read returns the next message that is not a keep-alive or a ping (answered).
func (tc *tailClient) read(ctx context.Context) (wsMsg, error) {
	tc.once.Do(func() { go tc.pump() })
	select {
	case m := <-tc.msgs:
		return m, nil
	case err := <-tc.err:
		tc.err <- err
		return wsMsg{}, err
	case <-ctx.Done():
		return wsMsg{}, ctx.Err()
	}
}

// event reads one logTail event.
func (tc *tailClient) event(t *testing.T, ctx context.Context) (logs []tailLog, dropped int) {
	t.Helper()
	m, err := tc.read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if (m.Type != "next" && m.Type != "data") || m.ID != tc.id {
		t.Fatalf("not an event: %s %s %s", m.Type, m.ID, m.Payload)
	}
	var r struct {
		Data struct {
			LogTail struct {
				Dropped int       `json:"dropped"`
				Logs    []tailLog `json:"logs"`
			} `json:"logTail"`
		} `json:"data"`
		Errors []gqlError `json:"errors"`
	}
	if err := json.Unmarshal(m.Payload, &r); err != nil || r.Errors != nil {
		t.Fatalf("event %s: %v", m.Payload, err)
	}
	decodeWire(t, string(m.Payload)).stats(t) // each event has its own stats
	return r.Data.LogTail.Logs, r.Data.LogTail.Dropped
}

// collect reads events until n logs (or drops) arrived, then checks that nothing
// else comes for a moment.
func (tc *tailClient) collect(t *testing.T, n int) (logs []tailLog, dropped int) {
	t.Helper()
	logs, dropped = tc.take(t, n)
	tc.quiet(t)
	return logs, dropped
}

// take reads events until n logs (or drops) arrived.
func (tc *tailClient) take(t *testing.T, n int) (logs []tailLog, dropped int) {
	t.Helper()
	ctx, cancel := testwait.Context(t)
	defer cancel()
	for len(logs)+dropped < n {
		l, d := tc.event(t, ctx)
		logs, dropped = append(logs, l...), dropped+d
	}
	return logs, dropped
}

// quiet asserts that no message comes for a moment.
func (tc *tailClient) quiet(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if m, err := tc.read(ctx); err == nil {
		t.Fatalf("unexpected %s %s", m.Type, m.Payload)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, what, cond)
}

func ingestHTTP(t *testing.T, e *testserver.Env, token, kind, body string) {
	t.Helper()
	resp, reply := e.Ingest(kind, token, body, "Content-Type", "application/x-ndjson")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest %s: %d %s", kind, resp.StatusCode, reply)
	}
}

// appBatch makes NDJSON app logs with the given messages, at now.
func appBatch(level string, msgs ...string) string {
	var b strings.Builder
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for _, m := range msgs {
		fmt.Fprintf(&b, `{"timestamp":%q,"level":%q,"service":"svc","message":%q}`+"\n", now, level, m)
	}
	return b.String()
}

func msgs(logs []tailLog) []string {
	out := make([]string, len(logs))
	for i, l := range logs {
		out[i] = l.Message
	}
	return out
}

// TestLogTailBothSubprotocols: over graphql-transport-ws (subscribe) and graphql-ws
// (start), the logs ingested through HTTP after subscribing arrive once, in commit
// order, batched in events with their stats; unsubscribing frees the subscription.
func TestLogTailBothSubprotocols(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	ingest := e.Tokens[model.RoleIngest]
	ingestHTTP(t, e, ingest, "app", appBatch("INFO", "before")) // committed before: never sent
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		tc := openTail(t, e, e.Tokens[model.RoleRead], proto, nil)
		ingestHTTP(t, e, ingest, "app", appBatch("INFO", proto+" 1", proto+" 2", proto+" 3"))
		ingestHTTP(t, e, ingest, "app", appBatch("WARN", proto+" 4", proto+" 5"))
		logs, dropped := tc.collect(t, 5)
		want := []string{proto + " 1", proto + " 2", proto + " 3", proto + " 4", proto + " 5"}
		if !slices.Equal(msgs(logs), want) || dropped != 0 {
			t.Fatalf("%s: got %v dropped %d", proto, msgs(logs), dropped)
		}
		if l := logs[3]; l.Typename != "AppLog" || l.Kind != "APP" || l.Severity != "WARN" || l.Source == nil || *l.Source != "svc" || l.ID == "" {
			t.Fatalf("%s: log %+v", proto, l)
		}
		tc.unsubscribe(t)
		waitFor(t, "the unsubscription", func() bool { return e.Tail.Subscribers() == 0 })
	}
}

// TestLogTailWorkspacesAndFilters: a subscriber of workspace B sees none of A's
// batches; kind, minSeverity and search filters pick the logs they say.
func TestLogTailWorkspacesAndFilters(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	ctx := context.Background()
	wsB, err := db.NewWorkspaceStore(e.DB.Bun).Create(ctx, "bravo", "Bravo")
	if err != nil {
		t.Fatal(err)
	}
	_, readB, err := e.Store.Create(ctx, wsB.ID, "read", model.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	_, ingestB, err := e.Store.Create(ctx, wsB.ID, "ingest", model.RoleIngest)
	if err != nil {
		t.Fatal(err)
	}
	read, ingestA := e.Tokens[model.RoleRead], e.Tokens[model.RoleIngest]
	clients := map[string]*tailClient{
		"A":         openTail(t, e, read, "graphql-transport-ws", nil),
		"B":         openTail(t, e, readB, "graphql-ws", nil),
		"requests":  openTail(t, e, read, "graphql-transport-ws", map[string]any{"kinds": []string{"API_REQUEST"}}),
		"errors":    openTail(t, e, read, "graphql-ws", map[string]any{"minSeverity": "ERROR"}),
		"timeout":   openTail(t, e, read, "graphql-transport-ws", map[string]any{"search": "TimeOut"}),
		"app infos": openTail(t, e, read, "graphql-transport-ws", map[string]any{"kinds": []string{"APP"}, "severities": []string{"INFO"}, "sources": []string{"svc"}}),
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	ingestHTTP(t, e, ingestA, "app", appBatch("ERROR", "db timeout")+appBatch("INFO", "all good"))
	ingestHTTP(t, e, ingestA, "api-request", strings.ReplaceAll(`{"received_at":"NOW","code":503,"status_details":"upstream timeout","ip":"10.0.0.1","timing_ms":12,"delay_ms":1,"collection":"orders","collection_type":"proxy","endpoint":"GET /orders"}
{"received_at":"NOW","code":200,"ip":"10.0.0.1","timing_ms":3,"delay_ms":0,"collection":"orders","collection_type":"proxy","endpoint":"GET /users"}`, "NOW", now))
	ingestHTTP(t, e, ingestB, "app", appBatch("ERROR", "only in B"))
	want := map[string][]string{
		"A":         {"db timeout", "all good", "503 Service Unavailable GET /orders", "200 OK GET /users"},
		"B":         {"only in B"},
		"requests":  {"503 Service Unavailable GET /orders", "200 OK GET /users"},
		"errors":    {"db timeout", "503 Service Unavailable GET /orders"},
		"timeout":   {"db timeout", "503 Service Unavailable GET /orders"},
		"app infos": {"all good"},
	}
	for name, tc := range clients {
		logs, dropped := tc.collect(t, len(want[name]))
		if !slices.Equal(msgs(logs), want[name]) || dropped != 0 {
			t.Fatalf("%s: got %v dropped %d, want %v", name, msgs(logs), dropped, want[name])
		}
	}
}

// TestLogTailForbidden: a token that may not read cannot tail.
func TestLogTailForbidden(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	const msg = "this token's role (ingest) may not read logs: subscriptions need a read or admin token"
	ingest := e.Tokens[model.RoleIngest]
	// graphql-transport-ws: the close alone, 4403.
	c := dialWS(t, e.Srv.URL, "graphql-transport-ws", nil)
	send(t, c, wsMsg{Type: "connection_init", Payload: json2(map[string]string{"authToken": ingest})})
	expectClose(t, c, graph.WebsocketCloseForbidden, "Forbidden: "+msg)
	// graphql-ws: connection_error with the message, then the same close.
	c = dialWS(t, e.Srv.URL, "graphql-ws", nil)
	send(t, c, wsMsg{Type: "connection_init", Payload: json2(map[string]string{"Authorization": "Bearer " + ingest})})
	if m := next(t, c, true); m.Type != "connection_error" || string(m.Payload) != string(json2(map[string]string{"message": msg})) {
		t.Fatalf("graphql-ws: %+v", m)
	}
	expectClose(t, c, graph.WebsocketCloseForbidden, "Forbidden: "+msg)
	// The same token in the upgrade request's header, with an empty init.
	c = dialWS(t, e.Srv.URL, "graphql-transport-ws", http.Header{"Authorization": {"Bearer " + ingest}})
	send(t, c, wsMsg{Type: "connection_init"})
	expectClose(t, c, graph.WebsocketCloseForbidden, "Forbidden: "+msg)
	if n := e.Tail.Subscribers(); n != 0 {
		t.Fatalf("%d subscribers", n)
	}
}

// TestLogTailStalledClient: a client that stops reading gets dropped counts and
// costs at most the hub's buffer, while another subscriber gets every log as it is
// committed (neither the hub nor the server waits for the stalled one).
func TestLogTailStalledClient(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	read, ingest := e.Tokens[model.RoleRead], e.Tokens[model.RoleIngest]
	// graphql-ws: the stalled client owes no pongs, so the server keeps it. It
	// connects through a second listener of the same server whose sockets, like its
	// own, have small buffers, so that it holds the server back after a few
	// kilobytes (loopback sockets grow to megabytes).
	const sockBuf = 8 << 10
	small := httptest.NewUnstartedServer(e.Srv.Config.Handler)
	small.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		_ = c.(*net.TCPConn).SetWriteBuffer(sockBuf)
		return ctx
	}
	small.Start()
	t.Cleanup(small.Close)
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			_ = c.(*net.TCPConn).SetReadBuffer(sockBuf)
		}
		return c, err
	}
	stalled := subscribeTail(t, e, tailClientOn(dialWSWith(t, small.URL, "graphql-ws", &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: &http.Transport{DialContext: dial}}}), "graphql-ws"), read, nil)
	active := openTail(t, e, read, "graphql-transport-ws", nil)
	// Each batch fills the hub's buffer for a subscriber (1000 logs). The stalled
	// one must drop some (asserted below): with small sockets the server holds about
	// four batches for it (the hub's buffer, the events on their way to the socket),
	// so seven are enough whatever the machine's speed.
	const batches, size = 7, 1000
	pad := strings.Repeat("x", 100)
	total := 0
	for b := range batches {
		var m []string
		for i := range size {
			m = append(m, fmt.Sprintf("%03d-%04d %s", b, i, pad))
		}
		ingestHTTP(t, e, ingest, "app", appBatch("INFO", m...))
		total += size
		logs, dropped := active.take(t, size)
		if dropped != 0 || len(logs) != size || logs[0].Message != m[0] {
			t.Fatalf("active, batch %d: %d logs, dropped %d", b, len(logs), dropped)
		}
		// The hub holds at most a buffer per subscriber, whatever the stalled one does.
		if n := e.Tail.Pending(); n > 2*size {
			t.Fatalf("batch %d: %d logs queued", b, n)
		}
	}
	logs, dropped := stalled.collect(t, total)
	if dropped == 0 || len(logs)+dropped != total {
		t.Fatalf("stalled: %d logs, dropped %d, of %d", len(logs), dropped, total)
	}
	// What arrived is in order, and the newest log is among it.
	if !slices.IsSortedFunc(logs, func(a, b tailLog) int { return strings.Compare(a.Message, b.Message) }) ||
		!strings.HasPrefix(logs[len(logs)-1].Message, fmt.Sprintf("%03d-%04d", batches-1, size-1)) {
		t.Fatalf("stalled: out of order or missing the newest")
	}
	t.Logf("stalled client: %d logs delivered, %d dropped", len(logs), dropped)
}

// TestLogTailListenerKilled: when the listener's connection is killed
// (pg_terminate_backend), the subscription ends with a TAIL_INTERRUPTED error the
// client sees (batches may have been missed while it was down); the hub reconnects
// and a new subscription on the same socket gets the next batch.
func TestLogTailListenerKilled(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	for i, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		tc := openTail(t, e, e.Tokens[model.RoleRead], proto, nil)
		var killed int
		err := e.DB.Pool.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE application_name = $1 AND datname = current_database()`, db.TailApplicationName).Scan(&killed)
		if err != nil || killed != 1 {
			t.Fatalf("terminate listener: %d, %v", killed, err)
		}
		ctx, cancel := testwait.Context(t)
		m, err := tc.read(ctx)
		cancel()
		if err != nil || m.Type != "error" || m.ID != "1" || !strings.Contains(string(m.Payload), `"TAIL_INTERRUPTED"`) ||
			!strings.Contains(string(m.Payload), "the live tail lost its database connection") {
			t.Fatalf("%s: %s %s %v", proto, m.Type, m.Payload, err)
		}
		waitFor(t, "the subscription to end", func() bool { return e.Tail.Subscribers() == 0 })
		tc.subscribe(t, "2", nil) // waits for the hub to reconnect
		waitFor(t, "the new subscription", func() bool { return e.Tail.Subscribers() == 1 })
		ingestHTTP(t, e, e.Tokens[model.RoleIngest], "app", appBatch("INFO", fmt.Sprintf("after %d", i)))
		if logs, _ := tc.collect(t, 1); msgs(logs)[0] != fmt.Sprintf("after %d", i) {
			t.Fatalf("%s: after the reconnect %v", proto, msgs(logs))
		}
		_ = tc.c.Close(websocket.StatusNormalClosure, "")
		waitFor(t, "the disconnect", func() bool { return e.Tail.Subscribers() == 0 })
	}
}

// TestLogTailFreesGoroutines: after unsubscribing (complete, stop) or dropping the
// socket, the server's goroutines return to their baseline and the hub has no
// subscriber. Not parallel: it counts the process's goroutines.
func TestLogTailFreesGoroutines(t *testing.T) {
	e := testserver.New(t, rest.Limits{})
	ingest := e.Tokens[model.RoleIngest]
	ingestHTTP(t, e, ingest, "app", appBatch("INFO", "warm-up")) // the HTTP client's idle connection
	settle := func() int {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
		return runtime.NumGoroutine()
	}
	baseline := settle()
	var clients []*tailClient
	for i := range 6 {
		proto := []string{"graphql-transport-ws", "graphql-ws"}[i%2]
		clients = append(clients, openTail(t, e, e.Tokens[model.RoleRead], proto, nil))
	}
	ingestHTTP(t, e, ingest, "app", appBatch("INFO", "one"))
	for _, tc := range clients {
		if logs, _ := tc.collect(t, 1); msgs(logs)[0] != "one" {
			t.Fatalf("got %v", msgs(logs))
		}
	}
	for i, tc := range clients {
		if i < 2 {
			tc.unsubscribe(t) // complete / stop, socket kept: the server confirms
			ctx, cancel := testwait.Context(t)
			m, err := tc.read(ctx)
			cancel()
			if err != nil || m.Type != "complete" || m.ID != tc.id {
				t.Fatalf("%s unsubscribe: %+v %v", tc.proto, m, err)
			}
		} else {
			_ = tc.c.CloseNow() // the client vanishes
		}
	}
	waitFor(t, "the hub to drop every subscriber", func() bool { return e.Tail.Subscribers() == 0 })
	for _, tc := range clients[:2] {
		_ = tc.c.Close(websocket.StatusNormalClosure, "")
	}
	deadline := time.Now().Add(10 * time.Second)
	n := settle()
	for n > baseline && time.Now().Before(deadline) {
		n = settle()
	}
	if n > baseline {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines, baseline %d:\n%s", n, baseline, buf[:runtime.Stack(buf, true)])
	}
}

// BenchmarkLogTailLatency measures the time from an ingest of 100 logs to their
// receipt by each of 10 or 100 websocket subscribers. Run with
// go test ./graph/ -run '^$' -bench LogTailLatency -benchtime 200x.
func BenchmarkLogTailLatency(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) { benchmarkTailLatency(b, n) })
	}
}

func benchmarkTailLatency(b *testing.B, subscribers int) {
	e := testserver.New(b, rest.Limits{})
	var tcs []*tailClient
	for range subscribers {
		tc := &tailClient{proto: "graphql-transport-ws", msgs: make(chan wsMsg), err: make(chan error, 1)}
		c, _, err := websocket.Dial(context.Background(), strings.Replace(e.Srv.URL, "http", "ws", 1)+"/graphql",
			&websocket.DialOptions{Subprotocols: []string{tc.proto}})
		if err != nil {
			b.Fatal(err)
		}
		c.SetReadLimit(1 << 24)
		tc.c = c
		_ = wsjson.Write(context.Background(), c, wsMsg{Type: "connection_init", Payload: json2(map[string]string{"authToken": e.Tokens[model.RoleRead]})})
		var ack wsMsg
		_ = wsjson.Read(context.Background(), c, &ack)
		_ = wsjson.Write(context.Background(), c, wsMsg{ID: "1", Type: "subscribe", Payload: json2(map[string]any{"query": tailQuery})})
		tcs = append(tcs, tc)
	}
	for e.Tail.Subscribers() < subscribers {
		time.Sleep(time.Millisecond)
	}
	receipts := make(chan time.Time, subscribers)
	var wg sync.WaitGroup
	for _, tc := range tcs {
		wg.Go(func() {
			for {
				m, err := tc.read(context.Background())
				if err != nil {
					return
				}
				if m.Type == "next" {
					receipts <- time.Now()
				}
			}
		})
	}
	body := appBatch("INFO", strings.Split(strings.Repeat("m,", 100), ",")[:100]...)
	// sent: from sending the ingest request (an upper bound of commit to receipt);
	// acked: from its acknowledgement, after the commit (a lower bound; the
	// notification may even beat the HTTP response).
	var sent, acked []time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		resp, reply := e.Ingest("app", e.Tokens[model.RoleIngest], body)
		if resp.StatusCode != http.StatusOK {
			b.Fatal(reply)
		}
		ack := time.Now()
		for range subscribers {
			select {
			case at := <-receipts:
				sent, acked = append(sent, at.Sub(start)), append(acked, at.Sub(ack))
			case <-time.After(10 * time.Second):
				b.Fatal("a subscriber got no event in 10 s")
			}
		}
	}
	b.StopTimer()
	for _, tc := range tcs {
		_ = tc.c.CloseNow()
	}
	wg.Wait()
	pct := func(d []time.Duration, p int) float64 {
		slices.Sort(d)
		return float64(d[(len(d)-1)*p/100].Microseconds()) / 1000
	}
	b.ReportMetric(pct(sent, 50), "sent-p50-ms")
	b.ReportMetric(pct(sent, 99), "sent-p99-ms")
	b.ReportMetric(pct(acked, 50), "acked-p50-ms")
	b.ReportMetric(pct(acked, 99), "acked-p99-ms")
}

// TestLogTailSeesOTLPAndLoki: logs ingested through OTLP/HTTP and the Loki push API
// reach the live tail like NDJSON ones (the same store, one NOTIFY per batch).
func TestLogTailSeesOTLPAndLoki(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	ingest := e.Tokens[model.RoleIngest]
	tc := openTail(t, e, e.Tokens[model.RoleRead], "graphql-transport-ws", nil)
	now := time.Now().UnixNano()
	otlp := fmt.Sprintf(`{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},
		"scopeLogs":[{"logRecords":[{"timeUnixNano":"%d","severityNumber":17,"body":{"stringValue":"from otlp"}}]}]}]}`, now)
	if resp, reply := e.Do(http.MethodPost, "/v1/logs", strings.NewReader(otlp),
		"Authorization", "Bearer "+ingest, "Content-Type", "application/json"); resp.StatusCode != http.StatusOK {
		t.Fatalf("otlp: %d %s", resp.StatusCode, reply)
	}
	loki := fmt.Sprintf(`{"streams":[{"stream":{"service":"checkout","level":"warn"},"values":[["%d","from loki"]]}]}`, now+1)
	if resp, reply := e.Do(http.MethodPost, "/loki/api/v1/push", strings.NewReader(loki),
		"Authorization", "Bearer "+ingest, "Content-Type", "application/json"); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("loki: %d %s", resp.StatusCode, reply)
	}
	logs, dropped := tc.collect(t, 2)
	if got := msgs(logs); !slices.Equal(got, []string{"from otlp", "from loki"}) || dropped != 0 {
		t.Fatalf("tail: %v dropped %d", got, dropped)
	}
	if logs[0].Severity != "ERROR" || logs[1].Severity != "WARN" || *logs[0].Source != "checkout" {
		t.Fatalf("tail: %+v %+v", logs[0], logs[1])
	}
}
