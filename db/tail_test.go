package db_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/db/dbtest"
	"github.com/loggraph/loggraph/model"
)

// tailEnv is a database with one workspace, an ingest store and a running hub.
type tailEnv struct {
	d     *db.DB
	ws    uuid.UUID
	store *db.IngestStore
	hub   *db.TailHub
}

func newTailEnv(t *testing.T, opts db.TailOptions, readHook ...func(batches int)) *tailEnv {
	t.Helper()
	d := dbtest.New(t)
	ws, err := db.NewWorkspaceStore(d.Bun).Create(context.Background(), "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	hub := db.NewTailHub(d, slog.New(slog.DiscardHandler), opts)
	for _, f := range readHook {
		db.SetTailReadHook(hub, f)
	}
	t.Cleanup(hub.Start(context.Background()))
	return &tailEnv{d: d, ws: ws.ID, store: db.NewIngestStore(d, db.NewPartitions(d)), hub: hub}
}

func (e *tailEnv) ingest(t *testing.T, kind model.LogKind, body string) {
	t.Helper()
	if _, err := e.store.Ingest(context.Background(), e.ws, decode(t, kind, body)); err != nil {
		t.Fatalf("ingest: %v", err)
	}
}

func (e *tailEnv) subscribe(t *testing.T, f *model.LogFilter) *db.TailSub {
	t.Helper()
	s, err := e.hub.Subscribe(context.Background(), e.ws, db.LogMatcher(f))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// appLines makes NDJSON app logs, one per message, at base plus the given seconds.
func appLines(base time.Time, msgs []string, secs []int) string {
	var b strings.Builder
	for i, m := range msgs {
		fmt.Fprintf(&b, `{"timestamp":%q,"level":"INFO","service":"s","message":%q}`+"\n",
			base.Add(time.Duration(secs[i])*time.Second).Format(time.RFC3339Nano), m)
	}
	return b.String()
}

func messages(logs []model.Log) []string {
	out := make([]string, len(logs))
	for i, l := range logs {
		switch x := l.(type) {
		case *model.AppLog:
			out[i] = x.Message
		default:
			out[i] = model.LogID(l)
		}
	}
	return out
}

// collect reads from s until n logs arrived (failing after 5 s), then checks that
// nothing more comes for a moment.
func collect(t *testing.T, s *db.TailSub, n int) (logs []model.Log, dropped int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for len(logs)+dropped < n {
		l, d, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("after %d logs: %v", len(logs), err)
		}
		logs, dropped = append(logs, l...), dropped+d
	}
	quiet, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if l, d, err := s.Next(quiet); err == nil {
		t.Fatalf("unexpected extra logs %v (dropped %d)", messages(l), d)
	}
	return logs, dropped
}

// TestTailHubOnceInCommitOrder: a subscriber gets each log of the batches committed
// after it subscribed exactly once, in commit order, even when batches' time ranges
// overlap each other and a batch committed before the subscription; nothing of that
// earlier batch arrives.
func TestTailHubOnceInCommitOrder(t *testing.T) {
	t.Parallel()
	e := newTailEnv(t, db.TailOptions{})
	base := time.Now().UTC().Truncate(time.Second)
	e.ingest(t, model.KindApp, appLines(base, []string{"before-0", "before-2"}, []int{0, 2}))
	s := e.subscribe(t, nil)
	other := e.subscribe(t, nil)
	e.ingest(t, model.KindApp, appLines(base, []string{"a-1", "a-3"}, []int{1, 3}))   // overlaps the earlier batch
	e.ingest(t, model.KindApp, appLines(base, []string{"b-2"}, []int{2}))             // inside a's range: a late arrival
	e.ingest(t, model.KindApp, appLines(base, []string{"c-0", "c-10"}, []int{0, 10})) // covers everything
	want := []string{"a-1", "a-3", "b-2", "c-0", "c-10"}
	for _, sub := range []*db.TailSub{s, other} {
		logs, dropped := collect(t, sub, len(want))
		if got := messages(logs); !slices.Equal(got, want) || dropped != 0 {
			t.Fatalf("got %v dropped %d, want %v", got, dropped, want)
		}
	}
	// Closing frees the subscription in the hub.
	s.Close()
	other.Close()
	if n := e.hub.Subscribers(); n != 0 {
		t.Fatalf("%d subscribers after close", n)
	}
}

// TestTailHubWorkspaces: a subscriber sees only its workspace's batches.
func TestTailHubWorkspaces(t *testing.T) {
	t.Parallel()
	e := newTailEnv(t, db.TailOptions{})
	other, err := db.NewWorkspaceStore(e.d.Bun).Create(context.Background(), "other", "")
	if err != nil {
		t.Fatal(err)
	}
	sB, err := e.hub.Subscribe(context.Background(), other.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sB.Close()
	sA := e.subscribe(t, nil)
	base := time.Now().UTC()
	e.ingest(t, model.KindApp, appLines(base, []string{"for-a"}, []int{0}))
	if _, err := e.store.Ingest(context.Background(), other.ID, decode(t, model.KindApp, appLines(base, []string{"for-b"}, []int{0}))); err != nil {
		t.Fatal(err)
	}
	if logs, _ := collect(t, sA, 1); messages(logs)[0] != "for-a" {
		t.Fatalf("a got %v", messages(logs))
	}
	if logs, _ := collect(t, sB, 1); messages(logs)[0] != "for-b" {
		t.Fatalf("b got %v", messages(logs))
	}
}

// TestTailHubDropsWhenFull: a subscriber that does not read keeps at most Buffer
// logs (the newest) and counts the rest as dropped; a reading subscriber gets every
// log and the hub never waits for the slow one.
func TestTailHubDropsWhenFull(t *testing.T) {
	t.Parallel()
	e := newTailEnv(t, db.TailOptions{Buffer: 5})
	slow := e.subscribe(t, nil)
	fast := e.subscribe(t, nil)
	base := time.Now().UTC()
	var want []string
	for b := range 4 {
		msgs := []string{fmt.Sprintf("m%02d", 3*b), fmt.Sprintf("m%02d", 3*b+1), fmt.Sprintf("m%02d", 3*b+2)}
		want = append(want, msgs...)
		e.ingest(t, model.KindApp, appLines(base, msgs, []int{3 * b, 3*b + 1, 3*b + 2}))
		// The fast one reads each batch while the slow one reads nothing.
		if logs, dropped := collect(t, fast, 3); !slices.Equal(messages(logs), msgs) || dropped != 0 {
			t.Fatalf("fast got %v dropped %d, want %v", messages(logs), dropped, msgs)
		}
	}
	if n := e.hub.Pending(); n > 5 {
		t.Fatalf("%d logs queued, the bound is 5", n)
	}
	var logs []model.Log
	var dropped int
	logs, dropped = collect(t, slow, len(want))
	if got := messages(logs); !slices.Equal(got, want[7:]) || dropped != 7 {
		t.Fatalf("slow got %v dropped %d, want %v and 7", got, dropped, want[7:])
	}
}

// TestTailHubReconnects: when the listening connection is killed, open
// subscriptions end with ErrTailInterrupted (they may have missed batches), the hub
// reconnects, and a new subscription gets the batches committed after it.
func TestTailHubReconnects(t *testing.T) {
	t.Parallel()
	e := newTailEnv(t, db.TailOptions{MinBackoff: 20 * time.Millisecond})
	s := e.subscribe(t, nil)
	var killed int
	err := e.d.Pool.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1 AND datname = current_database()`, db.TailApplicationName).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminate listener: %d, %v", killed, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := s.Next(ctx); !errors.Is(err, db.ErrTailInterrupted) {
		t.Fatalf("after the kill: %v", err)
	}
	s2 := e.subscribe(t, nil) // waits for the reconnection
	e.ingest(t, model.KindApp, appLines(time.Now(), []string{"after"}, []int{0}))
	if logs, _ := collect(t, s2, 1); messages(logs)[0] != "after" {
		t.Fatalf("after reconnect: %v", messages(logs))
	}
}

// TestTailMatcherAgreesWithSQL: for each filter, the logs a subscriber receives are
// exactly those the cross-kind list (filterCommon in SQL) returns for the same
// filter, across every kind.
func TestTailMatcherAgreesWithSQL(t *testing.T) {
	t.Parallel()
	e := newTailEnv(t, db.TailOptions{})
	sev := func(s model.Severity) *model.Severity { return &s }
	str := func(s string) *string { return &s }
	filters := []*model.LogFilter{
		nil,
		{Kinds: []model.LogKind{model.KindApp, model.KindAction}},
		{MinSeverity: sev(model.SeverityWarn)},
		{Severities: []model.Severity{model.SeverityError, model.SeverityDebug}},
		{Sources: []string{"orders", "user-service", "hook A", "oms.worker", "Petstore"}},
		{Search: str("TIMEOUT")},
		{Search: str("50%")},
		{Kinds: []model.LogKind{model.KindAPIRequest}, MinSeverity: sev(model.SeverityWarn), Search: str("orders")},
	}
	subs := make([]*db.TailSub, len(filters))
	for i, f := range filters {
		subs[i] = e.subscribe(t, f)
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	e.ingest(t, model.KindApp, strings.ReplaceAll(`{"timestamp":"NOW","level":"ERROR","service":"user-service","message":"DB timeout after 5s"}
{"timestamp":"NOW","level":"DEBUG","service":"billing","message":"cache 50% full"}
{"timestamp":"NOW","level":"INFO","service":"billing","message":"ok"}`, "NOW", now))
	e.ingest(t, model.KindAPIRequest, strings.ReplaceAll(`{"received_at":"NOW","code":503,"status_details":"upstream Timeout","ip":"10.0.0.1","timing_ms":12,"delay_ms":1,"collection":"orders","collection_type":"proxy","endpoint":"GET /orders"}
{"received_at":"NOW","code":404,"ip":"10.0.0.1","timing_ms":12,"delay_ms":1,"collection":"users","collection_type":"recipe","endpoint":"GET /orders/1"}
{"received_at":"NOW","code":200,"ip":"10.0.0.1","timing_ms":12,"delay_ms":1,"collection":"users","collection_type":"recipe","endpoint":"GET /users"}`, "NOW", now))
	e.ingest(t, model.KindIntegration, strings.ReplaceAll(`{"integration_id":"ff8634a8-a89e-4eac-baab-9b7b8c4f8720","integration_name":"hook A","succeeded":false,"attempt":1,"error_detail":"read timeout","status_code":504,"created_at":"NOW"}
{"integration_id":"ee8634a8-a89e-4eac-baab-9b7b8c4f8720","succeeded":true,"attempt":2,"body":"accepted","status_code":200,"created_at":"NOW"}`, "NOW", now))
	e.ingest(t, model.KindAction, strings.ReplaceAll(`{"level":10,"logger_name":"oms.worker","message":"tick","app_name":"oms","created_at":"NOW"}
{"level":50,"logger_name":"oms.api","message":"fatal: Timeout","app_name":"oms","created_at":"NOW"}`, "NOW", now))
	e.ingest(t, model.KindAPIReference, strings.ReplaceAll(`{"api_reference_id":"ref-1","api_reference_name":"Petstore","user_id":"u1","user_name":"Peter","title":"Import failed","modified_at":"NOW","error_count":1,"alerts_count":0,"errors":[{"message":"bad","pointer":"/paths"}]}
{"api_reference_id":"ref-2","user_id":"u1","user_name":"Peter","title":"Import ok, 50% faster","modified_at":"NOW","error_count":0,"alerts_count":2}`, "NOW", now))

	logs := db.NewLogStore(e.d.Bun)
	for i, f := range filters {
		rows, _, err := logs.Logs(context.Background(), e.ws, f, model.Page{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, l := range rows {
			want = append(want, string(l.Kind())+"/"+model.LogID(l))
		}
		if len(want) == 0 {
			t.Fatalf("filter %d matches nothing: a useless case", i)
		}
		got, _ := collect(t, subs[i], len(want))
		var ids []string
		for _, l := range got {
			ids = append(ids, string(l.Kind())+"/"+model.LogID(l))
		}
		slices.Sort(want)
		slices.Sort(ids)
		if !slices.Equal(ids, want) {
			t.Fatalf("filter %d %+v: tail %v, SQL %v", i, f, ids, want)
		}
	}
}

// TestTailHubManySubscribersOneFetch: many subscribers cost one read per batch, and
// concurrent subscribe/close while batches flow neither races nor leaks.
func TestTailHubManySubscribersOneFetch(t *testing.T) {
	t.Parallel()
	e := newTailEnv(t, db.TailOptions{})
	const n = 50
	subs := make([]*db.TailSub, n)
	for i := range subs {
		subs[i] = e.subscribe(t, nil)
	}
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			s, err := e.hub.Subscribe(context.Background(), e.ws, nil)
			if err == nil {
				time.Sleep(time.Duration(i) * time.Millisecond)
				s.Close()
			}
		})
	}
	e.ingest(t, model.KindApp, appLines(time.Now(), []string{"x", "y"}, []int{0, 1}))
	wg.Wait()
	for _, s := range subs {
		if logs, _ := collect(t, s, 2); !slices.Equal(messages(logs), []string{"x", "y"}) {
			t.Fatalf("got %v", messages(logs))
		}
	}
	if n := e.hub.Fetches(); n != 1 {
		t.Fatalf("%d fetches for one batch and %d subscribers", n, len(subs))
	}
	for _, s := range subs {
		s.Close()
	}
	if e.hub.Subscribers() != 0 {
		t.Fatalf("%d subscribers left", e.hub.Subscribers())
	}
}

// TestTailHubReadsExactlyTheBatch: a notice names its batch by id: rows another
// transaction wrote in the same time range without a notice are not delivered, and
// a notice without its transaction id (from a server of an earlier version) reaches
// the subscribers open when it is handled.
func TestTailHubReadsExactlyTheBatch(t *testing.T) {
	t.Parallel()
	e := newTailEnv(t, db.TailOptions{})
	s := e.subscribe(t, nil)
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Second)
	if err := db.NewPartitions(e.d).Ensure(ctx, model.KindApp, []time.Time{at}); err != nil {
		t.Fatal(err)
	}
	insert := `INSERT INTO app_logs (workspace_id, id, "timestamp", level, service, message, batch_id)
		SELECT $1, gen_random_uuid(), $2, 2, 's', m, $4 FROM unnest($3::text[]) AS m`
	if _, err := e.d.Pool.Exec(ctx, insert, e.ws, at, []string{"silent-1", "silent-2"}, nil); err != nil {
		t.Fatal(err)
	}
	tx, err := e.d.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, insert, e.ws, at, []string{"notified-1", "notified-2"}, 42); err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec(ctx, `SELECT pg_notify($1, json_build_object('workspace_id', $2::uuid, 'kind', 'APP', 'count', 2,
		'from', $3::timestamptz, 'to', $3::timestamptz, 'batch', 42)::text)`, db.NotifyChannel, e.ws, at)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	logs, _ := collect(t, s, 2)
	if got := messages(logs); !slices.Equal(got, []string{"notified-1", "notified-2"}) &&
		!slices.Equal(got, []string{"notified-2", "notified-1"}) {
		t.Fatalf("got %v", got)
	}
}

// waitFor polls cond until it holds, failing the test after 30 s (callable from
// any goroutine: it does not stop the test).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Errorf("timed out waiting for %s", what)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// TestTailHubCatchesUpInOneRead: batches notified while the hub is busy are read
// together, with one statement, and delivered in commit order: a hub that fell
// behind catches up with fewer reads instead of one read per batch.
func TestTailHubCatchesUpInOneRead(t *testing.T) {
	t.Parallel()
	const batches = 20
	var e *tailEnv
	var first sync.Once
	e = newTailEnv(t, db.TailOptions{}, func(n int) {
		// The first read waits until every other batch's notice is queued.
		first.Do(func() { waitFor(t, "the notices to queue", func() bool { return int(e.hub.Backlog()) == batches-n }) })
	})
	s := e.subscribe(t, nil)
	base := time.Now().UTC()
	var want []string
	for b := range batches {
		msgs := []string{fmt.Sprintf("b%02d-0", b), fmt.Sprintf("b%02d-1", b)}
		want = append(want, msgs...)
		// Later batches are older: commit order, not time order, is the delivery order.
		e.ingest(t, model.KindApp, appLines(base.Add(-time.Duration(b)*time.Minute), msgs, []int{0, 1}))
	}
	logs, dropped := collect(t, s, len(want))
	if got := messages(logs); !slices.Equal(got, want) || dropped != 0 {
		t.Fatalf("got %v dropped %d, want %v", got, dropped, want)
	}
	if n := e.hub.Fetches(); n != 2 {
		t.Fatalf("%d reads for %d batches, want 2 (the first batch, then all the queued ones)", n, batches)
	}
}

// TestTailHubBacklogBound: a hub that falls more than TailOptions.Backlog notices
// behind ends every subscription with ErrTailInterrupted (they would miss logs), and
// a new subscription works.
func TestTailHubBacklogBound(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	var first sync.Once
	e := newTailEnv(t, db.TailOptions{Backlog: 3}, func(int) {
		first.Do(func() { close(entered); <-release })
	})
	s := e.subscribe(t, nil)
	base := time.Now().UTC()
	e.ingest(t, model.KindApp, appLines(base, []string{"first"}, []int{0}))
	<-entered // the hub is reading the first batch; the next ones queue
	for b := range 4 {
		e.ingest(t, model.KindApp, appLines(base, []string{fmt.Sprint("queued-", b)}, []int{b + 1}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, _, err := s.Next(ctx)
		if errors.Is(err, db.ErrTailInterrupted) {
			break
		}
		if err != nil {
			t.Fatalf("want ErrTailInterrupted, got %v", err)
		}
	}
	close(release)
	s2 := e.subscribe(t, nil)
	e.ingest(t, model.KindApp, appLines(base, []string{"after"}, []int{9}))
	if logs, _ := collect(t, s2, 1); !slices.Equal(messages(logs), []string{"after"}) {
		t.Fatalf("after the bound: %v", messages(logs))
	}
}

// TestTailReadPlanIgnoresStaleStatistics: the hub's read stays one index range scan
// per batch even when the statistics were taken before the workspace's rows
// arrived (here: analyzed with another workspace's rows, then 30,000 app logs of a
// new workspace; in production a new workspace, a new day's partition, or
// autovacuum behind). Flattened, the read hashed the workspace's whole partition
// for every batch and fell seconds behind under load.
func TestTailReadPlanIgnoresStaleStatistics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, fresh, store := newIngestEnv(t)
	old, err := db.NewWorkspaceStore(d.Bun).Create(ctx, "old", "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	// Seed analyzes what it loaded: the statistics know old's rows, not fresh's.
	if _, err := db.Seed(ctx, d, db.NewPartitions(d), old.ID, db.SeedOptions{Rows: 500, Days: 2, Now: now}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		appRows(t, store, fresh, 10_000)
	}
	for _, kind := range model.AllKinds {
		t.Run(string(kind), func(t *testing.T) {
			n := 64
			idx, batches, lo, hi := make([]int32, n), make([]int64, n), make([]time.Time, n), make([]time.Time, n)
			for i := range n {
				idx[i], batches[i] = int32(i), int64(1000+i)
				lo[i], hi[i] = now.Add(-time.Duration(i+1)*time.Minute), now.Add(-time.Duration(i)*time.Minute)
			}
			plan := db.ExplainTailRead(t, d, kind, fresh.ID, idx, batches, lo, hi)
			top := plan[0]["Plan"].(map[string]any)
			if top["Node Type"] != "Nested Loop" {
				t.Errorf("top node %v, want a Nested Loop over the batches", top["Node Type"])
			}
			scans := 0
			var walk func(n map[string]any)
			walk = func(n map[string]any) {
				if rel, _ := n["Relation Name"].(string); strings.HasPrefix(rel, kind.Table()+"_p") {
					scans++
					cond, _ := n["Index Cond"].(string)
					if n["Node Type"] != "Index Scan" || !strings.Contains(cond, kind.TimeColumn()) {
						t.Errorf("%s: %v with index condition %q, want an index range scan on the time column", rel, n["Node Type"], cond)
					}
				}
				children, _ := n["Plans"].([]any)
				for _, c := range children {
					walk(c.(map[string]any))
				}
			}
			walk(top)
			if scans == 0 {
				t.Errorf("no scan of %s's partitions in the plan", kind.Table())
			}
		})
	}
}

// TestTailFiltersByTrace: a tail with traceIds gets the logs of those traces only,
// read back with their trace and span ids, whatever case the producer wrote them in.
func TestTailFiltersByTrace(t *testing.T) {
	t.Parallel()
	e := newTailEnv(t, db.TailOptions{})
	const trace = "4bf92f3577b34da6a3ce929d0e0e4736"
	s := e.subscribe(t, &model.LogFilter{TraceIDs: []string{strings.ToUpper(trace)}})
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	e.ingest(t, model.KindApp, fmt.Sprintf(`{"timestamp":%q,"level":"INFO","service":"s","message":"in trace","trace_id":%q,"span_id":"00f067aa0ba902b7"}
{"timestamp":%q,"level":"INFO","service":"s","message":"other trace","trace_id":"0af7651916cd43dd8448eb211c80319c"}
{"timestamp":%q,"level":"INFO","service":"s","message":"no trace"}
`, ts, trace, ts, ts))
	e.ingest(t, model.KindAction, fmt.Sprintf(`{"level":10,"logger_name":"l","message":"action","app_name":"a","created_at":%q}`+"\n", ts))
	logs, _ := collect(t, s, 1)
	l, ok := logs[0].(*model.AppLog)
	if !ok || l.Message != "in trace" || l.TraceID == nil || l.TraceID.String() != trace || l.SpanID == nil || l.SpanID.String() != "00f067aa0ba902b7" {
		t.Fatalf("got %+v", logs[0])
	}
}
