package graph

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/google/uuid"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// DefaultTokenRecheckInterval is RevocationOptions.RecheckInterval's default: how
// often the tokens of open websockets are checked again, in case a revocation's
// notice was lost (it is also checked every time the listener reconnects).
const DefaultTokenRecheckInterval = 30 * time.Second

// revokedMemory is how many revoked token ids a server remembers from notices, so
// that a socket whose token was revoked between its authentication and its
// registration is still ended. Revocations are rare: a few thousand cover minutes.
const revokedMemory = 4096

// revokedCloseReason is the close reason of a socket whose token was revoked; the
// same words as the refusal of a revoked token at connection_init.
var revokedCloseReason = "Unauthorized: " + db.ErrRevokedToken.Error()

// RevocationOptions tune Revocations; zero fields take the defaults.
type RevocationOptions struct {
	// RecheckInterval is how often the tokens of the open websockets are checked
	// again (one statement for all of them). Default DefaultTokenRecheckInterval.
	RecheckInterval time.Duration
}

// Revocations ends the websockets of revoked tokens: each socket is registered by
// the token that authenticated it; a revocation heard from any server (NOTIFY on
// db.TokenNotifyChannel) closes that token's sockets with code 4401. Notices sent
// while the listener is reconnecting are lost, so the tokens of all open sockets
// are checked again after each reconnection and every RecheckInterval.
type Revocations struct {
	tokens  *db.TokenStore
	log     *slog.Logger
	opts    RevocationOptions
	recheck chan struct{} // capacity 1: "check now"

	mu     sync.Mutex
	open   map[uuid.UUID]map[*wsSocket]struct{} // by token id
	recent map[uuid.UUID]struct{}               // revoked ids heard lately
	ring   []uuid.UUID                          // recent, in the order heard
	next   int
}

// NewRevocations returns a registry whose re-checks read tokens; start its listener
// with Start.
func NewRevocations(tokens *db.TokenStore, log *slog.Logger, opts RevocationOptions) *Revocations {
	if log == nil {
		log = slog.Default()
	}
	if opts.RecheckInterval <= 0 {
		opts.RecheckInterval = DefaultTokenRecheckInterval
	}
	return &Revocations{tokens: tokens, log: log, opts: opts, recheck: make(chan struct{}, 1),
		open: map[uuid.UUID]map[*wsSocket]struct{}{}, recent: map[uuid.UUID]struct{}{}}
}

// Start listens for revocations on d and re-checks periodically, until stop is
// called (it waits for both goroutines) or ctx ends. Without Start the principal
// cache of the registry's token store stays off.
func (r *Revocations) Start(ctx context.Context, d *db.DB) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// The listener also keeps the store's principal cache (if any) safe: on only
	// while it listens, told of every revocation.
	l := &db.RevocationListener{DB: d, Tokens: r.tokens, Log: r.log, OnRevoked: r.Revoked, OnListening: r.checkSoon}
	wg.Add(2)
	go func() { defer wg.Done(); l.Run(ctx) }()
	go func() { defer wg.Done(); r.recheckLoop(ctx) }()
	return func() { cancel(); wg.Wait() }
}

func (r *Revocations) checkSoon() {
	select {
	case r.recheck <- struct{}{}:
	default: // a check is already due
	}
}

func (r *Revocations) recheckLoop(ctx context.Context) {
	t := time.NewTicker(r.opts.RecheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.recheck:
		}
		if err := r.Recheck(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("re-check the tokens of open websockets", "err", err)
		}
	}
}

// Recheck ends the sockets whose token no longer authenticates (revoked or
// deleted), with one statement for all open sockets.
func (r *Revocations) Recheck(ctx context.Context) error {
	r.mu.Lock()
	refs := make([]db.TokenRef, 0, len(r.open))
	for _, set := range r.open {
		for s := range set { // every socket of a token has the same ref
			refs = append(refs, s.token)
			break
		}
	}
	r.mu.Unlock()
	gone, err := r.tokens.NotValid(ctx, refs)
	if err != nil {
		return err
	}
	for _, id := range gone {
		r.Revoked(id)
	}
	return nil
}

// Revoked closes every socket of token id with 4401, and remembers id for sockets
// that register after this (authenticated just before the revocation committed).
func (r *Revocations) Revoked(id uuid.UUID) {
	r.mu.Lock()
	if _, ok := r.recent[id]; !ok {
		if len(r.ring) < revokedMemory {
			r.ring = append(r.ring, id)
		} else {
			delete(r.recent, r.ring[r.next])
			r.ring[r.next] = id
			r.next = (r.next + 1) % revokedMemory
		}
		r.recent[id] = struct{}{}
	}
	set := r.open[id]
	delete(r.open, id)
	r.mu.Unlock()
	for s := range set {
		s.end()
	}
}

// Open returns how many websockets are registered (metrics, tests).
func (r *Revocations) Open() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, set := range r.open {
		n += len(set)
	}
	return n
}

func (r *Revocations) add(s *wsSocket) {
	r.mu.Lock()
	_, revoked := r.recent[s.token.ID]
	if !revoked {
		if r.open[s.token.ID] == nil {
			r.open[s.token.ID] = map[*wsSocket]struct{}{}
		}
		r.open[s.token.ID][s] = struct{}{}
	}
	r.mu.Unlock()
	if revoked {
		s.end()
	}
}

func (r *Revocations) remove(s *wsSocket) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if set := r.open[s.token.ID]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(r.open, s.token.ID)
		}
	}
}

// wsSocket is one websocket as the registry knows it. The HTTP middleware (track)
// makes it before the upgrade, so that both the connection (which writes the close
// frame) and connection_init (which learns the token) find it in the request's
// context.
type wsSocket struct {
	reg     *Revocations
	token   db.TokenRef
	revoked atomic.Bool
	cancel  context.CancelFunc
}

// end marks the socket revoked and cancels its context: gqlgen's transport then
// closes it (its code, 1000, is replaced by 4401 in revocableConn.WriteClose) and
// ends its subscriptions.
func (s *wsSocket) end() {
	s.revoked.Store(true)
	s.cancel()
}

type socketKey struct{}

// track gives each websocket upgrade request a wsSocket in its context. A nil
// registry tracks nothing.
func (r *Revocations) track(next http.Handler) http.Handler {
	if r == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("Upgrade") != "" {
			req = req.WithContext(context.WithValue(req.Context(), socketKey{}, &wsSocket{reg: r}))
		}
		next.ServeHTTP(w, req)
	})
}

// watchRevocation registers an authenticated socket under its token and returns
// the context its connection runs in, which ends when the token is revoked. Without
// a registry (no track middleware) it returns ctx.
func watchRevocation(ctx context.Context, p *model.Principal) context.Context {
	s, _ := ctx.Value(socketKey{}).(*wsSocket)
	if s == nil || s.cancel != nil {
		return ctx
	}
	ctx, cancel := context.WithCancel(ctx)
	s.token, s.cancel = db.TokenRef{WorkspaceID: p.Workspace.ID, ID: p.TokenID}, cancel
	// The request's context ends when the connection's handler returns.
	context.AfterFunc(ctx, func() { s.reg.remove(s) })
	s.reg.add(s)
	return ctx
}

// revocableWebsockets is gqlgen's default websocket implementation whose
// connections close with 4401 once their token is revoked: gqlgen closes a
// connection whose context ends with 1000 "terminated", whatever the cause.
type revocableWebsockets struct {
	transport.CoderWebsocketImplementation
}

func (i revocableWebsockets) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	conn, err := i.CoderWebsocketImplementation.Accept(w, r, opts)
	if err != nil {
		return nil, err
	}
	s, _ := r.Context().Value(socketKey{}).(*wsSocket)
	if s == nil {
		return conn, nil
	}
	return &revocableConn{WebsocketConn: conn, s: s}, nil
}

// revocableConn passes everything through, the optional read limit and deadline
// included, and turns the close of a revoked socket into 4401.
type revocableConn struct {
	transport.WebsocketConn
	s *wsSocket
}

func (c *revocableConn) WriteClose(code int, msg string) error {
	if c.s.revoked.Load() {
		code, msg = WebsocketCloseUnauthorized, closeReason(revokedCloseReason)
	}
	return c.WebsocketConn.WriteClose(code, msg)
}

func (c *revocableConn) SetReadLimit(limit int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

func (c *revocableConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}
