package db

import (
	"cmp"
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
	// Remember is how many delivered log ids the hub keeps to avoid delivering a log
	// twice when batches' time ranges overlap (default 100,000).
	Remember int
	// MinBackoff and MaxBackoff bound the wait between reconnection attempts
	// (defaults 100 ms and 5 s).
	MinBackoff, MaxBackoff time.Duration
	// SubscribeWait is how long Subscribe waits for a listener that is reconnecting
	// (default 5 s).
	SubscribeWait time.Duration
	// FetchTimeout bounds the one fetch per batch (default 10 s).
	FetchTimeout time.Duration
}

func (o TailOptions) withDefaults() TailOptions {
	if o.Buffer <= 0 {
		o.Buffer = 1000
	}
	if o.Remember <= 0 {
		o.Remember = 100_000
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
// other queries and lose its LISTEN) that LISTENs on NotifyChannel, and reads each
// notified batch once, whatever the number of subscribers, then filters per
// subscriber in Go. Notifications are handled one at a time, in the order
// PostgreSQL delivers them, which is commit order.
//
// The notice carries no ids, so a batch is read back by (workspace, kind, time
// range) and narrowed by transaction ids: see fetch for what that can miss or
// repeat.
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

	// Used by the listening goroutine only.
	seen     *recentSet[string] // delivered logs, by kind, id and time
	doneXids *recentSet[uint64] // transactions whose batch was handled
}

// NewTailHub returns a hub over d's database; call Run (or Start) to listen.
func NewTailHub(d *DB, log *slog.Logger, opts TailOptions) *TailHub {
	if log == nil {
		log = slog.Default()
	}
	opts = opts.withDefaults()
	return &TailHub{d: d, log: log, opts: opts, subs: map[uuid.UUID]map[*TailSub]struct{}{},
		ready: make(chan struct{}), seen: newRecentSet[string](opts.Remember), doneXids: newRecentSet[uint64](opts.Remember / 10)}
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
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var notice tailNotice
		if err := json.Unmarshal([]byte(n.Payload), &notice); err != nil || !notice.Kind.IsValid() {
			h.log.Error("live tail: unreadable notification", "payload", n.Payload, "err", err)
			continue
		}
		h.handle(ctx, notice)
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

// Fetches returns how many batches the hub has read (metrics, tests): one per
// notified batch that has subscribers in its workspace.
func (h *TailHub) Fetches() int64 { return h.fetches.Load() }

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

// handle reads one notified batch (if anyone in its workspace listens) and gives
// each subscriber its matching logs.
func (h *TailHub) handle(ctx context.Context, n tailNotice) {
	h.mu.Lock()
	var subs []*TailSub
	var snaps []*snapshot // nil: a subscriber's snapshot is not known yet
	pending := false
	for s := range h.subs[n.WorkspaceID] {
		subs = append(subs, s)
		s.mu.Lock()
		if s.snap == nil {
			pending = true
		}
		snaps = append(snaps, s.snap)
		s.mu.Unlock()
	}
	if pending {
		snaps = nil // such a subscriber may want any committed row: filter nothing out
	}
	h.mu.Unlock()
	if len(subs) == 0 {
		return // nobody to tell: no fetch
	}
	logs, err := h.fetch(ctx, n, snaps)
	if err != nil {
		if ctx.Err() != nil {
			return // shutting down or the connection went: Run reports it
		}
		// These subscribers would silently miss the batch: end their subscriptions.
		h.log.Error("live tail: read batch", "workspace_id", n.WorkspaceID, "kind", n.Kind, "err", err)
		for _, s := range subs {
			h.remove(s)
			s.fail(ErrTailInterrupted)
		}
		return
	}
	for _, s := range subs {
		s.offer(logs)
	}
}

// tailNotice is a BatchNotice, plus the batch's transaction id (64-bit,
// pg_current_xact_id()) that ingest may send: with it the hub reads exactly the
// batch's rows (xmin) instead of guessing the batch by its count.
type tailNotice struct {
	BatchNotice
	Xid uint64 `json:"xid"`
}

// TailLog is one log read by the hub, with what subscribers filter on that the log
// itself does not carry.
type TailLog struct {
	Log model.Log
	// Source is the name filterCommon's sources match: the service, collection,
	// integration, logger or API reference name (nil when the entity has none).
	Source *string
	xid    uint64 // the inserting transaction (64-bit, with epoch)
}

// tailSource is the SQL for a kind's source name and the join it needs.
func tailSource(k model.LogKind) (expr, join string) {
	switch k {
	case model.KindApp:
		return "t.service", ""
	case model.KindAPIRequest:
		return "e.name", "LEFT JOIN api_collections e ON e.workspace_id = t.workspace_id AND e.id = t.collection_id"
	case model.KindIntegration:
		return "e.name", "LEFT JOIN integrations e ON e.workspace_id = t.workspace_id AND e.id = t.integration_id"
	case model.KindAction:
		return "t.logger_name", ""
	case model.KindAPIReference:
		return "e.name", "LEFT JOIN api_references e ON e.workspace_id = t.workspace_id AND e.id = t.api_reference_id"
	}
	return "NULL", ""
}

// fullXid widens a row's 32-bit xmin to the 64-bit transaction id (with epoch) that
// pg_current_snapshot() speaks: a row's xmin is below the next xid, so an xmin above
// the next xid's low 32 bits belongs to the previous epoch.
const fullXid = `greatest((cur.nx >> 32 << 32) + t.xmin::text::bigint -
	CASE WHEN t.xmin::text::bigint >= (cur.nx & 4294967295) THEN 4294967296 ELSE 0 END, 0)`

// fetch reads the rows of a notified batch. The notice names no rows, so the batch
// is found as the transaction with exactly the notice's count of rows among the
// workspace's rows of the kind in the notice's time range (a batch is one
// transaction, and all its rows are in its range), leaving out transactions that
// were handled already and rows every subscriber's snapshot already sees. Logs
// already delivered (TailOptions.Remember of them) are not delivered again.
//
// What this can get wrong, until the notice names its rows (see the report's
// proposed ingest change):
//   - two batches of the same size with rows in each other's range, the later one
//     committed (not yet notified) when the earlier one is read: both are
//     delivered then, by transaction id (which is assignment, not commit, order),
//     and the later one is skipped at its own notice: early, not lost, not twice;
//   - a batch is read back by time range: a batch that mixes a late log (old
//     timestamp) with current ones scans everything in between (bounded by
//     FetchTimeout; past it the workspace's subscriptions end with
//     ErrTailInterrupted rather than miss the batch silently);
//   - the 32-bit xmin of a row is widened to 64 bits against the current epoch: a
//     row more than 2^32 transactions old can look recent and, if it has the
//     notice's count of siblings in the range, be taken for the batch;
//   - rows written without a notification (db.Seed) are never delivered unless they
//     are taken for a batch as above.
func (h *TailHub) fetch(ctx context.Context, n tailNotice, snaps []*snapshot) ([]TailLog, error) {
	// Rows older than every snapshot's xmin are visible to every subscriber.
	var minXmin uint64
	for i, s := range snaps {
		if i == 0 || s.xmin < minXmin {
			minXmin = s.xmin
		}
	}
	h.fetches.Add(1)
	ctx, cancel := context.WithTimeout(ctx, h.opts.FetchTimeout)
	defer cancel()
	k := n.Kind
	src, join := tailSource(k)
	col := pgx.Identifier{k.TimeColumn()}.Sanitize()
	q := fmt.Sprintf(`
		WITH cur AS MATERIALIZED (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS nx)
		SELECT to_jsonb(t.*)::text, %[3]s, x.xid
		FROM %[1]s t %[4]s CROSS JOIN cur CROSS JOIN LATERAL (SELECT %[5]s AS xid) x
		WHERE t.workspace_id = $1 AND t.%[2]s BETWEEN $2 AND $3 AND x.xid >= $4
			AND ($5::bigint = 0 OR x.xid = $5::bigint) AND x.xid <> ALL($6::bigint[])
			AND ($7::bigint = 0 OR t.batch_id = $7::bigint)
		ORDER BY t.%[2]s, t.id`,
		pgx.Identifier{k.Table()}.Sanitize(), col, src, join, fullXid)
	// Handled batches are left out in SQL: clients that send coarse timestamps make
	// many batches share one range, and each would otherwise be read again and again.
	done := []int64{} // not nil: pgx sends a nil slice as NULL, and <> ALL(NULL) is never true
	for _, x := range h.doneXids.ring {
		if x >= minXmin {
			done = append(done, int64(x))
		}
	}
	// Ingest stores each batch's id on its rows and sends it in the notice: with it the
	// read is exactly the batch (the count-matching below is for notices without one).
	rows, err := h.d.Pool.Query(ctx, q, n.WorkspaceID, n.From, n.To, int64(minXmin), int64(n.Xid), done, n.Batch)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var all []TailLog
	for rows.Next() {
		var raw string // text: decoded below, once, not validated by the driver first
		var source *string
		var xid int64
		if err := rows.Scan(&raw, &source, &xid); err != nil {
			return nil, err
		}
		if h.doneXids.has(uint64(xid)) {
			continue // an earlier batch, handled already
		}
		l, err := decodeLog(k, json.RawMessage(raw))
		if err != nil {
			return nil, err
		}
		all = append(all, TailLog{Log: l, Source: source, xid: uint64(xid)})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// The batch is the transaction with exactly the notice's count of rows in its
	// range. Rows every subscriber's snapshot already sees are nobody's news: with
	// them set aside, no match means the batch is old to everyone. Several matches
	// (later batches of the same size, committed but not yet notified) are all taken,
	// by transaction: delivered early, never lost.
	perXid := map[uint64]int{}
	for _, l := range all {
		if snaps != nil && !slices.ContainsFunc(snaps, func(s *snapshot) bool { return !s.visible(l.xid) }) {
			continue
		}
		perXid[l.xid]++
	}
	var exact []uint64
	for x, c := range perXid {
		if c == n.Count || n.Xid != 0 || n.Batch != 0 { // with the batch's xid or id, the SQL read only its rows
			exact = append(exact, x)
			h.doneXids.add(x)
		}
	}
	all = slices.DeleteFunc(all, func(l TailLog) bool { return !slices.Contains(exact, l.xid) })
	slices.SortStableFunc(all, func(a, b TailLog) int { return cmp.Compare(a.xid, b.xid) })
	out := all[:0]
	for _, l := range all {
		key := string(k) + "\x00" + model.LogID(l.Log) + "\x00" + strconv.FormatInt(l.Log.Time().UnixNano(), 10)
		if h.seen.add(key) {
			out = append(out, l)
		}
	}
	return out, nil
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
		if s.snap.visible(l.xid) || (s.match != nil && !s.match(l)) {
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

// recentSet remembers the last n items added, in insertion order.
type recentSet[T comparable] struct {
	n     int
	ring  []T
	next  int
	index map[T]struct{}
}

func newRecentSet[T comparable](n int) *recentSet[T] {
	return &recentSet[T]{n: max(n, 1), index: map[T]struct{}{}}
}

// add remembers v and reports whether it was new.
func (r *recentSet[T]) add(v T) bool {
	if _, ok := r.index[v]; ok {
		return false
	}
	if len(r.ring) < r.n {
		r.ring = append(r.ring, v)
	} else {
		delete(r.index, r.ring[r.next])
		r.ring[r.next] = v
		r.next = (r.next + 1) % r.n
	}
	r.index[v] = struct{}{}
	return true
}

func (r *recentSet[T]) has(v T) bool {
	_, ok := r.index[v]
	return ok
}

// LogMatcher returns the Go twin of filterCommon (without the time range, which a
// tail ignores): kinds, severities, minimum severity, sources, and search as a
// case-insensitive substring of the same columns per kind. Keep the two in step.
func LogMatcher(f *model.LogFilter) func(TailLog) bool {
	if f == nil {
		return func(TailLog) bool { return true }
	}
	kinds := logKinds(f)
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
