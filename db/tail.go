package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/loggraph/loggraph/model"
)

// TailApplicationName is the application_name of the hub's listening connection, so
// that operators (and tests) can find it in pg_stat_activity.
const TailApplicationName = "loggraph tail listener"

// Errors that end a tail subscription. Each means the subscriber may have missed
// logs from then on, so the subscription ends rather than going on silently.
var (
	// ErrTailInterrupted: the listening connection was lost (notifications sent while
	// it was down are gone) or a batch could not be read.
	ErrTailInterrupted = errors.New("the live tail lost its database connection; logs may have been missed: subscribe again")
	// ErrTailStopped: the server is shutting down.
	ErrTailStopped = errors.New("the server is shutting down")
	// ErrTailUnavailable: Subscribe waited for the listener to (re)connect in vain.
	ErrTailUnavailable = errors.New("the live tail is not connected to the database; retry shortly")
)

// TailOptions tune a TailHub; zero fields take the defaults below.
type TailOptions struct {
	// Buffer is how many logs a subscriber may have waiting; past it the oldest are
	// dropped and counted (default 1000).
	Buffer int
	// Backlog is how many notices may wait for the hub; past it the hub has fallen
	// too far behind to catch up, and every subscription ends with
	// ErrTailInterrupted (default 100,000).
	Backlog int
	// Parallel is how many reads the hub runs at once, each for one workspace and
	// kind (default 2; it reads on the system pool, shared with token lookups).
	Parallel int
	// MinBackoff and MaxBackoff bound the wait between reconnection attempts
	// (defaults 100 ms and 5 s).
	MinBackoff, MaxBackoff time.Duration
	// SubscribeWait is how long Subscribe waits for a listener that is reconnecting
	// (default 5 s).
	SubscribeWait time.Duration
	// FetchTimeout bounds each read of notified batches (default 10 s).
	FetchTimeout time.Duration
}

func (o TailOptions) withDefaults() TailOptions {
	if o.Buffer <= 0 {
		o.Buffer = 1000
	}
	if o.Backlog <= 0 {
		o.Backlog = 100_000
	}
	if o.Parallel <= 0 {
		o.Parallel = 2
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(5*time.Second, o.MinBackoff)
	}
	if o.SubscribeWait <= 0 {
		o.SubscribeWait = 5 * time.Second
	}
	if o.FetchTimeout <= 0 {
		o.FetchTimeout = 10 * time.Second
	}
	return o
}

// TailHub fans committed ingest batches out to live-tail subscribers. It holds one
// dedicated connection (not from the pool: a pooled connection would be handed to
// other queries and lose its LISTEN) that LISTENs on NotifyChannel. A receiving
// goroutine queues each notice as it arrives; a working goroutine takes every
// queued notice at once, reads the batches that have subscribers with one
// statement per workspace and kind (so a hub that fell behind catches up with
// fewer, larger reads instead of one read per batch), filters per subscriber in Go,
// and hands the logs over in the order PostgreSQL delivered the notices, which is
// commit order.
type TailHub struct {
	d    *DB
	log  *slog.Logger
	opts TailOptions

	mu    sync.Mutex
	subs  map[uuid.UUID]map[*TailSub]struct{}
	up    bool
	ready chan struct{} // closed while the listener is up; replaced when it goes down
	done  bool          // Run returned: Subscribe fails

	fetches atomic.Int64
	backlog atomic.Int64 // notices received and not handled yet

	beforeRead func(batches int) // tests: called before each read with its batch count
}

// NewTailHub returns a hub over d's database; call Run (or Start) to listen.
func NewTailHub(d *DB, log *slog.Logger, opts TailOptions) *TailHub {
	if log == nil {
		log = slog.Default()
	}
	opts = opts.withDefaults()
	return &TailHub{d: d, log: log, opts: opts, subs: map[uuid.UUID]map[*TailSub]struct{}{}, ready: make(chan struct{})}
}

// Start runs the hub in a goroutine; stop cancels it and waits for it to return.
func (h *TailHub) Start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Run(ctx)
	}()
	return func() { cancel(); <-done }
}

// Run listens until ctx is done, reconnecting with exponential backoff after a lost
// connection. Every subscription open when a connection is lost ends with
// ErrTailInterrupted; those open when ctx ends, with ErrTailStopped.
func (h *TailHub) Run(ctx context.Context) {
	backoff := h.opts.MinBackoff
	for {
		start := time.Now()
		err := h.listen(ctx)
		if ctx.Err() != nil {
			h.down(ErrTailStopped, true)
			return
		}
		h.down(ErrTailInterrupted, false)
		if time.Since(start) > h.opts.MaxBackoff {
			backoff = h.opts.MinBackoff // it was up for a while: this is a new outage
		}
		h.log.Warn("live tail listener lost its connection; reconnecting", "err", err, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			h.down(ErrTailStopped, true)
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, h.opts.MaxBackoff)
	}
}

// listen connects, LISTENs and handles notifications until the connection fails.
func (h *TailHub) listen(ctx context.Context) error {
	cfg := h.d.Pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = TailApplicationName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // the connection may already be dead
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{NotifyChannel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// LISTEN is in effect from here: a subscriber that takes its snapshot after this
	// point is told of every batch its snapshot does not see.
	h.mu.Lock()
	h.up = true
	close(h.ready)
	h.mu.Unlock()
	h.log.Info("live tail listening", "channel", NotifyChannel)
	q := &noticeQueue{wake: make(chan struct{}, 1), max: h.opts.Backlog}
	worked := make(chan struct{})
	go func() {
		defer close(worked)
		h.work(ctx, q)
	}()
	// The notices received before the connection failed are handed over before Run
	// ends the subscriptions.
	defer func() { q.close(); <-worked }()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var notice BatchNotice
		if err := json.Unmarshal([]byte(n.Payload), &notice); err != nil || !notice.Kind.IsValid() || notice.Batch == 0 {
			h.log.Error("live tail: unreadable notification", "payload", n.Payload, "err", err)
			continue
		}
		if !q.push(notice) {
			h.log.Error("live tail: fell behind by more than the backlog bound; ending every subscription", "backlog", h.opts.Backlog)
			h.failAll(ErrTailInterrupted)
		}
		h.backlog.Store(int64(q.len()))
	}
}

// noticeQueue holds the notices received and not handled yet, at most max: the
// receiving goroutine never waits for the working one.
type noticeQueue struct {
	mu     sync.Mutex
	items  []BatchNotice
	closed bool
	max    int
	wake   chan struct{} // capacity 1: "something changed"
}

// push queues n; past the bound it empties the queue and reports false (the
// subscribers have missed those batches).
func (q *noticeQueue) push(n BatchNotice) bool {
	q.mu.Lock()
	ok := len(q.items) < q.max
	if ok {
		q.items = append(q.items, n)
	} else {
		q.items = nil
	}
	q.mu.Unlock()
	q.signal()
	return ok
}

func (q *noticeQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

func (q *noticeQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

func (q *noticeQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take waits for notices and returns all of them; false once closed and empty.
func (q *noticeQueue) take() ([]BatchNotice, bool) {
	for {
		q.mu.Lock()
		items, closed := q.items, q.closed
		q.items = nil
		q.mu.Unlock()
		if len(items) > 0 {
			return items, true
		}
		if closed {
			return nil, false
		}
		<-q.wake
	}
}

// work hands over the queued notices until the queue is closed and empty.
func (h *TailHub) work(ctx context.Context, q *noticeQueue) {
	for {
		notices, ok := q.take()
		if !ok {
			return
		}
		h.handle(ctx, notices)
		h.backlog.Store(int64(q.len()))
	}
}

// failAll ends every subscription with err; new ones may be opened at once.
func (h *TailHub) failAll(err error) {
	h.mu.Lock()
	subs := h.subs
	h.subs = map[uuid.UUID]map[*TailSub]struct{}{}
	h.mu.Unlock()
	for _, set := range subs {
		for s := range set {
			s.fail(err)
		}
	}
}

// down ends every subscription with err and marks the listener down, so that new
// subscribers wait for the next connection (final: for ever).
func (h *TailHub) down(err error, final bool) {
	h.mu.Lock()
	subs := h.subs
	h.subs = map[uuid.UUID]map[*TailSub]struct{}{}
	if h.up {
		h.up = false
		h.ready = make(chan struct{})
	}
	h.done = final
	if final {
		close(h.ready) // wake waiting subscribers: they see done
	}
	h.mu.Unlock()
	for _, set := range subs {
		for s := range set {
			s.fail(err)
		}
	}
}

// Subscribe registers a subscriber of workspace ws; match (nil: everything) picks
// its logs. It waits up to TailOptions.SubscribeWait for a reconnecting listener.
// The subscriber receives every matching log of the batches committed after the
// snapshot Subscribe takes (so every batch committed after Subscribe returns, and
// none committed before it was called). Close it when done.
func (h *TailHub) Subscribe(ctx context.Context, ws uuid.UUID, match func(TailLog) bool) (*TailSub, error) {
	s := &TailSub{hub: h, ws: ws, match: match, max: h.opts.Buffer, wake: make(chan struct{}, 1)}
	timer := time.NewTimer(h.opts.SubscribeWait)
	defer timer.Stop()
	for {
		h.mu.Lock()
		if h.done {
			h.mu.Unlock()
			return nil, ErrTailStopped
		}
		if h.up {
			if h.subs[ws] == nil {
				h.subs[ws] = map[*TailSub]struct{}{}
			}
			h.subs[ws][s] = struct{}{}
			h.mu.Unlock()
			break
		}
		ready := h.ready
		h.mu.Unlock()
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
			return nil, ErrTailUnavailable
		}
	}
	// The snapshot is taken after registering: a batch it does not see commits after
	// it, so its notification reaches the hub after the registration. Batches the hub
	// hands over before the snapshot is known wait in early, to be judged by it.
	var text string
	if err := h.d.Pool.QueryRow(ctx, "SELECT pg_current_snapshot()::text").Scan(&text); err != nil {
		s.Close()
		return nil, fmt.Errorf("tail snapshot: %w", err)
	}
	snap, err := parseSnapshot(text)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.mu.Lock()
	s.snap = &snap
	early := s.early
	s.early = nil
	s.mu.Unlock()
	s.offer(early)
	return s, nil
}

// Subscribers returns how many subscriptions are open and receiving (metrics,
// tests): a batch committed after this counts one more has to reach it.
func (h *TailHub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, set := range h.subs {
		for s := range set {
			s.mu.Lock()
			if s.snap != nil {
				n++
			}
			s.mu.Unlock()
		}
	}
	return n
}

// Pending returns how many logs wait in subscribers' queues (metrics, tests): at
// most TailOptions.Buffer per subscriber.
func (h *TailHub) Pending() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, set := range h.subs {
		for s := range set {
			s.mu.Lock()
			n += len(s.pending)
			s.mu.Unlock()
		}
	}
	return n
}

// Fetches returns how many reads the hub has made (metrics, tests): at most one per
// notified batch that has subscribers in its workspace, fewer when batches queue up
// (one read per workspace and kind of the queued batches).
func (h *TailHub) Fetches() int64 { return h.fetches.Load() }

// Backlog returns how many notices wait for the hub (metrics): a hub that keeps up
// holds few; past TailOptions.Backlog every subscription ends.
func (h *TailHub) Backlog() int64 { return h.backlog.Load() }

func (h *TailHub) remove(s *TailSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if set := h.subs[s.ws]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(h.subs, s.ws)
		}
	}
}

// listeners are one workspace's subscribers when a set of notices is handled.
type listeners struct {
	subs  []*TailSub
	snaps []*snapshot
	// unknown: a subscriber's snapshot is not known yet, so it may want any batch.
	unknown bool
}

// oldToAll reports whether every subscriber's snapshot already sees the transaction
// (nobody's news: no read). A notice without its transaction id (sent by a server of
// an earlier version) is news to everyone.
func (l *listeners) oldToAll(xid uint64) bool {
	return xid != 0 && !l.unknown && !slices.ContainsFunc(l.snaps, func(s *snapshot) bool { return !s.visible(xid) })
}

// tailGroup is the notices of one workspace and kind read by one statement.
type tailGroup struct {
	ws      uuid.UUID
	kind    model.LogKind
	notices []int // indexes into the handled notices, in order
}

// maxBatchesPerRead bounds the batches one statement reads (its arrays' length).
const maxBatchesPerRead = 256

// handle reads the notified batches that have subscribers, one statement per
// workspace and kind (TailOptions.Parallel at a time), and hands each subscriber its
// matching logs in notice order.
func (h *TailHub) handle(ctx context.Context, notices []BatchNotice) {
	who := map[uuid.UUID]*listeners{}
	h.mu.Lock()
	for _, n := range notices {
		if _, ok := who[n.WorkspaceID]; ok {
			continue
		}
		var l *listeners
		for s := range h.subs[n.WorkspaceID] {
			if l == nil {
				l = &listeners{}
			}
			l.subs = append(l.subs, s)
			s.mu.Lock()
			if s.snap == nil {
				l.unknown = true
			}
			l.snaps = append(l.snaps, s.snap)
			s.mu.Unlock()
		}
		who[n.WorkspaceID] = l // nil: nobody to tell, no read
	}
	h.mu.Unlock()

	var groups []*tailGroup
	byKey := map[string]*tailGroup{}
	for i, n := range notices {
		l := who[n.WorkspaceID]
		if l == nil || l.oldToAll(n.Xid) {
			continue
		}
		key := n.WorkspaceID.String() + string(n.Kind)
		g := byKey[key]
		if g == nil || len(g.notices) == maxBatchesPerRead {
			g = &tailGroup{ws: n.WorkspaceID, kind: n.Kind}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.notices = append(g.notices, i)
	}
	if len(groups) == 0 {
		return
	}

	read := make([][]TailLog, len(notices))
	var failedMu sync.Mutex
	failed := map[uuid.UUID]error{}
	sem := make(chan struct{}, h.opts.Parallel)
	var wg sync.WaitGroup
	for _, g := range groups {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			// Each goroutine writes only its own notices' slots of read.
			if err := h.fetch(ctx, g, notices, read); err != nil {
				failedMu.Lock()
				failed[g.ws] = err
				failedMu.Unlock()
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return // shutting down: Run ends the subscriptions
	}
	for ws, err := range failed {
		// These subscribers would silently miss batches: end their subscriptions.
		h.log.Error("live tail: read batches", "workspace_id", ws, "err", err)
		for _, s := range who[ws].subs {
			h.remove(s)
			s.fail(ErrTailInterrupted)
		}
	}
	for i, n := range notices {
		if read[i] == nil || failed[n.WorkspaceID] != nil {
			continue
		}
		for _, s := range who[n.WorkspaceID].subs {
			s.offer(read[i])
		}
	}
}

// TailLog is one log read by the hub, with what subscribers filter on that the log
// itself does not carry.
type TailLog struct {
	Log model.Log
	// Source is the name filterCommon's sources match: the service, collection,
	// integration, logger or API reference name (nil when the entity has none).
	Source *string
	xid    uint64 // the inserting transaction (64-bit, with epoch); 0: unknown
}

// fetch reads the rows of a group's batches with one statement: each batch by its
// id, within its time range (so through the list index of the partitions the range
// touches), and stores each notice's logs, in time order, at its index in read.
func (h *TailHub) fetch(ctx context.Context, g *tailGroup, notices []BatchNotice, read [][]TailLog) error {
	h.fetches.Add(1)
	if h.beforeRead != nil {
		h.beforeRead(len(g.notices))
	}
	ctx, cancel := context.WithTimeout(ctx, h.opts.FetchTimeout)
	defer cancel()
	q := tailReadSQL(g.kind)
	idx := make([]int32, len(g.notices))
	batches := make([]int64, len(g.notices))
	from := make([]time.Time, len(g.notices))
	to := make([]time.Time, len(g.notices))
	for j, i := range g.notices {
		idx[j], batches[j], from[j], to[j] = int32(i), notices[i].Batch, notices[i].From, notices[i].To
	}
	return pgx.BeginFunc(ctx, h.d.Pool, func(tx pgx.Tx) error {
		// Never a sequential scan: statistics from when a partition was nearly
		// empty (a new day's, a new workspace's rows) would otherwise have each
		// batch scan the whole partition; the list index always holds the range.
		if _, err := tx.Exec(ctx, tailReadSettings); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, q, g.ws, idx, batches, from, to)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var i int32
			var raw string // text: decoded below, once, not validated by the driver first
			var source *string
			if err := rows.Scan(&i, &raw, &source); err != nil {
				return err
			}
			l, err := decodeLog(g.kind, json.RawMessage(raw))
			if err != nil {
				return err
			}
			read[i] = append(read[i], TailLog{Log: l, Source: source, xid: notices[i].Xid})
		}
		return rows.Err()
	})
}

// tailReadSettings go before tailReadSQL, in its transaction.
const tailReadSettings = "SET LOCAL enable_seqscan = off"

// tailReadSQL reads batches ($2 indexes, $3 batch ids, $4/$5 time ranges) of
// workspace $1. The per-batch subquery is fenced (OFFSET 0) so that it stays a
// nested loop, one index range scan per batch with run-time partition pruning,
// whatever the statistics say: with the flattened join, statistics taken before a
// workspace's rows arrived (a new workspace, a new day's partition, autovacuum
// behind or off) made PostgreSQL hash the workspace's whole partition for every
// read (EXPLAIN: 5 s for 256 batches of 1.4M rows, against 0.6 s fenced); and
// tailReadSettings keep the same statistics from choosing a sequential scan of
// the partition per batch. The
// source is joined inside the fence too, so nothing after it can reorder rows:
// each batch's rows come out contiguous, in (time, id) order, as fetch keeps them.
func tailReadSQL(kind model.LogKind) string {
	src, join := kindOf(kind).sourceSQL()
	return fmt.Sprintf(`
		SELECT b.i, x.doc, x.source
		FROM unnest($2::int[], $3::bigint[], $4::timestamptz[], $5::timestamptz[]) AS b(i, batch, lo, hi)
		CROSS JOIN LATERAL (
			SELECT to_json(t.*)::text AS doc, %[3]s AS source
			FROM %[1]s t %[4]s
			WHERE t.workspace_id = $1 AND t.%[2]s BETWEEN b.lo AND b.hi AND t.batch_id = b.batch
			ORDER BY t.%[2]s, t.id
			OFFSET 0
		) x`,
		pgx.Identifier{kind.Table()}.Sanitize(), pgx.Identifier{kind.TimeColumn()}.Sanitize(), src, join)
}

// TailSub is one live-tail subscription: a bounded queue of matching logs that the
// hub fills without ever blocking, and the subscriber drains with Next.
type TailSub struct {
	hub   *TailHub
	ws    uuid.UUID
	match func(TailLog) bool
	max   int
	wake  chan struct{} // capacity 1: "something changed"

	mu      sync.Mutex
	snap    *snapshot // nil until Subscribe took it; meanwhile logs wait in early
	early   []TailLog
	pending []model.Log
	dropped int
	err     error
	closed  bool
}

// offer queues the logs the subscriber wants; when the queue would pass its bound,
// the oldest are dropped and counted (a live tail values the newest logs).
func (s *TailSub) offer(logs []TailLog) {
	s.mu.Lock()
	if s.closed || s.err != nil {
		s.mu.Unlock()
		return
	}
	if s.snap == nil {
		// Judged by the snapshot when it comes; bounded like the queue.
		s.early = append(s.early, logs...)
		if over := len(s.early) - s.max; over > 0 {
			s.early = slices.Delete(s.early, 0, over)
			s.dropped += over
		}
		s.mu.Unlock()
		return
	}
	added := false
	for _, l := range logs {
		if (l.xid != 0 && s.snap.visible(l.xid)) || (s.match != nil && !s.match(l)) {
			continue
		}
		if len(s.pending) == s.max {
			// Shift rather than reslice, so the backing array stays at max.
			copy(s.pending, s.pending[1:])
			s.pending = s.pending[:s.max-1]
			s.dropped++
		}
		s.pending = append(s.pending, l.Log)
		added = true
	}
	s.mu.Unlock()
	if added {
		s.signal()
	}
}

func (s *TailSub) signal() {
	select {
	case s.wake <- struct{}{}:
	default: // already signalled
	}
}

func (s *TailSub) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.signal()
}

// Next waits for logs and returns them, oldest first, with the count of logs dropped
// since the previous call. After the subscription ends, the logs still queued are
// returned first, then the reason (ErrTailInterrupted, ErrTailStopped); a done ctx
// returns ctx.Err().
func (s *TailSub) Next(ctx context.Context) ([]model.Log, int, error) {
	for {
		s.mu.Lock()
		if len(s.pending) > 0 || s.dropped > 0 {
			logs, dropped := s.pending, s.dropped
			s.pending, s.dropped = make([]model.Log, 0, min(len(logs), s.max)), 0
			s.mu.Unlock()
			return logs, dropped, nil
		}
		err := s.err
		s.mu.Unlock()
		if err != nil {
			return nil, 0, err
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
}

// Close ends the subscription and frees its queue.
func (s *TailSub) Close() {
	s.hub.remove(s)
	s.mu.Lock()
	s.closed, s.pending, s.early = true, nil, nil
	s.mu.Unlock()
}

// snapshot is a parsed pg_snapshot: "xmin:xmax:xip,...".
type snapshot struct {
	xmin, xmax uint64
	xip        []uint64
}

func parseSnapshot(s string) (snapshot, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return snapshot{}, fmt.Errorf("parse snapshot %q", s)
	}
	var snap snapshot
	var err error
	if snap.xmin, err = strconv.ParseUint(parts[0], 10, 64); err != nil {
		return snapshot{}, fmt.Errorf("parse snapshot %q: %w", s, err)
	}
	if snap.xmax, err = strconv.ParseUint(parts[1], 10, 64); err != nil {
		return snapshot{}, fmt.Errorf("parse snapshot %q: %w", s, err)
	}
	if parts[2] != "" {
		for p := range strings.SplitSeq(parts[2], ",") {
			x, err := strconv.ParseUint(p, 10, 64)
			if err != nil {
				return snapshot{}, fmt.Errorf("parse snapshot %q: %w", s, err)
			}
			snap.xip = append(snap.xip, x)
		}
	}
	return snap, nil
}

// visible reports whether the transaction had committed when the snapshot was taken
// (as pg_visible_in_snapshot, for a transaction known to have committed).
func (s *snapshot) visible(xid uint64) bool {
	return xid < s.xmin || (xid < s.xmax && !slices.Contains(s.xip, xid))
}

// LogMatcher returns the Go twin of filterCommon (without the time range, which a
// tail ignores): kinds, severities, minimum severity, sources, trace ids, and search as a
// case-insensitive substring of the same columns per kind. Keep the two in step.
func LogMatcher(f *model.LogFilter) func(TailLog) bool {
	if f == nil {
		return func(TailLog) bool { return true }
	}
	kinds := logKinds(f)
	traces, _ := model.ParseTraceIDs("traceIds", f.TraceIDs) // validated with the filter
	search := ""
	if f.Search != nil {
		search = strings.ToLower(*f.Search)
	}
	return func(t TailLog) bool {
		l := t.Log
		if !slices.Contains(kinds, l.Kind()) {
			return false
		}
		sev := l.Severity()
		if len(f.Severities) > 0 && !slices.Contains(f.Severities, sev) {
			return false
		}
		if f.MinSeverity != nil && sev < *f.MinSeverity {
			return false
		}
		if len(f.Sources) > 0 && (t.Source == nil || !slices.Contains(f.Sources, *t.Source)) {
			return false
		}
		if len(f.TraceIDs) > 0 {
			tl, ok := l.(model.Traced)
			if !ok || tl.Trace() == nil || !slices.Contains(traces, *tl.Trace()) {
				return false
			}
		}
		if search != "" && !slices.ContainsFunc(searchText(l), func(s string) bool {
			return strings.Contains(strings.ToLower(s), search)
		}) {
			return false
		}
		return true
	}
}

// searchText is what filterCommon's search ILIKEs, per kind.
func searchText(l model.Log) []string {
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	switch x := l.(type) {
	case *model.AppLog:
		return []string{x.Message}
	case *model.ActionLog:
		return []string{x.Message}
	case *model.APIRequestLog:
		return []string{x.Endpoint, deref(x.StatusDetails)}
	case *model.IntegrationLog:
		return []string{deref(x.ErrorDetail), deref(x.Body)}
	case *model.APIReferenceLog:
		return []string{x.Title}
	}
	return nil
}
