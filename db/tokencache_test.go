package db_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/db/dbtest"
	"github.com/loggraph/loggraph/internal/testwait"
	"github.com/loggraph/loggraph/model"
)

// cacheEnv is a database with one workspace and an uncached store to make and
// revoke tokens with (as the CLI does).
type cacheEnv struct {
	d      *db.DB
	ws     uuid.UUID
	tokens *db.TokenStore
}

func newCacheEnv(t *testing.T) *cacheEnv {
	t.Helper()
	d := dbtest.New(t)
	ws, err := db.NewWorkspaceStore(d.Bun).Create(context.Background(), "acme", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	return &cacheEnv{d: d, ws: ws.ID, tokens: db.NewTokenStore(d.Bun)}
}

// token makes a read token and returns its id and text.
func (e *cacheEnv) token(t *testing.T, name string) (uuid.UUID, string) {
	t.Helper()
	tok, text, err := e.tokens.Create(context.Background(), e.ws, name, model.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	return tok.ID, text
}

// revokeSilently revokes a token without the NOTIFY, as an UPDATE by hand would.
func (e *cacheEnv) revokeSilently(t *testing.T, id uuid.UUID) {
	t.Helper()
	if _, err := e.d.Pool.Exec(context.Background(), `UPDATE api_tokens SET revoked_at = now() WHERE workspace_id = $1 AND id = $2`, e.ws, id); err != nil {
		t.Fatal(err)
	}
}

// killListeners terminates the revocation listeners' connections to e's database.
func (e *cacheEnv) killListeners(t *testing.T) {
	t.Helper()
	var killed int
	err := e.d.Pool.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1 AND datname = current_database()`, db.RevocationApplicationName).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminate the listener: %d, %v", killed, err)
	}
}

// cacheServer is what one server holds: a cached token store and the revocation
// listener that keeps it safe, with channels that say what the listener did.
type cacheServer struct {
	store     *db.TokenStore
	listening chan struct{}  // a value each time LISTEN takes effect
	revoked   chan uuid.UUID // each notice, after the cache forgot its token
}

// startServer starts a server's store and listener over e's database and waits
// until it listens. backoff is the listener's wait before reconnecting.
func (e *cacheEnv) startServer(t *testing.T, opts db.TokenCacheOptions, backoff time.Duration) *cacheServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &cacheServer{store: db.NewCachedTokenStore(e.d.SystemDB().Bun, opts),
		listening: make(chan struct{}), revoked: make(chan uuid.UUID)}
	l := &db.RevocationListener{DB: e.d, Tokens: s.store, Log: slog.New(slog.DiscardHandler),
		MinBackoff: backoff, MaxBackoff: backoff,
		OnListening: func() {
			select {
			case s.listening <- struct{}{}:
			case <-ctx.Done():
			}
		},
		OnRevoked: func(id uuid.UUID) {
			select {
			case s.revoked <- id:
			case <-ctx.Done():
			}
		}}
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	s.waitListening(t)
	return s
}

func (s *cacheServer) waitListening(t *testing.T) {
	t.Helper()
	ctx, cancel := testwait.Context(t)
	defer cancel()
	select {
	case <-s.listening:
	case <-ctx.Done():
		t.Fatal("hung: the listener never listened")
	}
}

func (s *cacheServer) waitRevoked(t *testing.T, id uuid.UUID) {
	t.Helper()
	ctx, cancel := testwait.Context(t)
	defer cancel()
	for {
		select {
		case got := <-s.revoked:
			if got == id {
				return
			}
		case <-ctx.Done():
			t.Fatalf("hung: no notice of the revocation of %s", id)
		}
	}
}

// auth authenticates text and returns the principal, the number of statements it
// ran and the error.
func auth(s *db.TokenStore, text string) (*model.Principal, int64, error) {
	ctx, c := db.WithStatementCounter(context.Background())
	p, err := s.Authenticate(ctx, text)
	return p, c.Count(), err
}

// mustAuth authenticates text, expecting it to be accepted with statements (a
// lookup) or without (a cache hit).
func mustAuth(t *testing.T, s *db.TokenStore, text string, lookup bool) *model.Principal {
	t.Helper()
	p, n, err := auth(s, text)
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	if (n > 0) != lookup {
		t.Fatalf("authenticate ran %d statements; want a lookup: %v", n, lookup)
	}
	return p
}

// mustRefuse authenticates text, expecting want after a lookup (refusals are never
// cached).
func mustRefuse(t *testing.T, s *db.TokenStore, text string, want error) {
	t.Helper()
	p, n, err := auth(s, text)
	if !errors.Is(err, want) || p != nil {
		t.Fatalf("got %v, %v; want %v", p, err, want)
	}
	if n != 1 {
		t.Fatalf("a refusal ran %d statements, want the lookup", n)
	}
}

func cacheOpts() db.TokenCacheOptions { return db.TokenCacheOptions{TTL: time.Hour} }

// TestTokenCacheHit: the second authentication of a token runs no statement and
// gets the same principal (its own copy).
func TestTokenCacheHit(t *testing.T) {
	t.Parallel()
	e := newCacheEnv(t)
	id, text := e.token(t, "reader")
	s := e.startServer(t, cacheOpts(), time.Hour)
	first := mustAuth(t, s.store, text, true)
	second := mustAuth(t, s.store, text, false)
	if *first != *second || second.TokenID != id || second.Workspace.Slug != "acme" || second.Role != model.RoleRead {
		t.Fatalf("cached %+v, looked up %+v", second, first)
	}
	second.Role = model.RoleAdmin
	if third := mustAuth(t, s.store, text, false); third.Role != model.RoleRead {
		t.Fatalf("a caller's change reached the cache: %+v", third)
	}
	if st := s.store.CacheStats(); st != (db.TokenCacheStats{Hits: 2, Misses: 1, Entries: 1, On: true}) {
		t.Fatalf("stats %+v", st)
	}
}

// TestTokenCacheOnlyWithListener: a cached store with no listener (or before its
// first LISTEN) looks every token up.
func TestTokenCacheOnlyWithListener(t *testing.T) {
	t.Parallel()
	e := newCacheEnv(t)
	_, text := e.token(t, "reader")
	s := db.NewCachedTokenStore(e.d.SystemDB().Bun, cacheOpts())
	mustAuth(t, s, text, true)
	mustAuth(t, s, text, true)
	if st := s.CacheStats(); st != (db.TokenCacheStats{Bypasses: 2}) {
		t.Fatalf("stats %+v", st)
	}
}

// TestTokenCacheNoRefusals: unknown and revoked tokens are looked up every time
// and never take a place in the cache.
func TestTokenCacheNoRefusals(t *testing.T) {
	t.Parallel()
	e := newCacheEnv(t)
	id, revoked := e.token(t, "gone")
	if _, err := e.tokens.Revoke(context.Background(), e.ws, id); err != nil {
		t.Fatal(err)
	}
	_, valid := e.token(t, "valid")
	unknown := valid[:len(valid)-4] + "AAAA"
	s := e.startServer(t, cacheOpts(), time.Hour)
	for _, c := range []struct {
		name, text string
		want       error
	}{
		{"unknown", unknown, db.ErrInvalidToken},
		{"revoked", revoked, db.ErrRevokedToken},
	} {
		t.Run(c.name, func(t *testing.T) {
			mustRefuse(t, s.store, c.text, c.want)
			mustRefuse(t, s.store, c.text, c.want)
		})
	}
	if st := s.store.CacheStats(); st.Entries != 0 || st.Hits != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestTokenCacheRevocation: a token revoked through server a is refused at once on
// a, and on server b (another store and listener over the same database) as soon
// as b hears the notice; b keeps the other tokens it cached.
func TestTokenCacheRevocation(t *testing.T) {
	t.Parallel()
	e := newCacheEnv(t)
	id, doomed := e.token(t, "doomed")
	_, other := e.token(t, "other")
	a := e.startServer(t, cacheOpts(), time.Hour)
	b := e.startServer(t, cacheOpts(), time.Hour)
	for _, s := range []*cacheServer{a, b} {
		for _, text := range []string{doomed, other} {
			mustAuth(t, s.store, text, true)
			mustAuth(t, s.store, text, false)
		}
	}
	if _, err := a.store.Revoke(context.Background(), e.ws, id); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, a.store, doomed, db.ErrRevokedToken)
	b.waitRevoked(t, id)
	mustRefuse(t, b.store, doomed, db.ErrRevokedToken)
	mustAuth(t, b.store, other, false)
}

// TestTokenCacheRevokeForgetsAtOnce: the store that revokes a token forgets it
// when the revocation commits, without waiting for the notice.
func TestTokenCacheRevokeForgetsAtOnce(t *testing.T) {
	t.Parallel()
	e := newCacheEnv(t)
	id, text := e.token(t, "doomed")
	s := db.NewCachedTokenStore(e.d.SystemDB().Bun, cacheOpts())
	db.TurnTokenCacheOn(s) // no listener: no notice can reach this store
	mustAuth(t, s, text, true)
	mustAuth(t, s, text, false)
	if _, err := s.Revoke(context.Background(), e.ws, id); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, s, text, db.ErrRevokedToken)
}

// TestTokenCacheListenerDown: while the listener is disconnected the cache is off
// (a token revoked without a notice is refused at once), and when it listens again
// the cache starts empty, since it may have missed notices.
func TestTokenCacheListenerDown(t *testing.T) {
	t.Parallel()
	t.Run("disconnected", func(t *testing.T) {
		t.Parallel()
		e := newCacheEnv(t)
		id, text := e.token(t, "doomed")
		s := e.startServer(t, cacheOpts(), time.Hour) // it stays down once killed
		mustAuth(t, s.store, text, true)
		e.revokeSilently(t, id)
		mustAuth(t, s.store, text, false) // what the TTL bounds: no notice came
		e.killListeners(t)
		testwait.Until(t, "the cache to turn off", func() bool { return !s.store.CacheStats().On })
		mustRefuse(t, s.store, text, db.ErrRevokedToken)
		if st := s.store.CacheStats(); st.Entries != 0 || st.Bypasses != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("reconnected", func(t *testing.T) {
		t.Parallel()
		e := newCacheEnv(t)
		id, text := e.token(t, "doomed")
		_, other := e.token(t, "other")
		s := e.startServer(t, cacheOpts(), time.Millisecond)
		mustAuth(t, s.store, text, true)
		mustAuth(t, s.store, other, true)
		e.revokeSilently(t, id)
		e.killListeners(t)
		s.waitListening(t)
		mustRefuse(t, s.store, text, db.ErrRevokedToken)
		mustAuth(t, s.store, other, true) // flushed, and cached again
		mustAuth(t, s.store, other, false)
	})
}

// TestTokenCacheTTL: a cached principal is reused until its TTL has passed on the
// cache's clock, then looked up again (and a revocation nobody heard of is found).
func TestTokenCacheTTL(t *testing.T) {
	t.Parallel()
	e := newCacheEnv(t)
	id, text := e.token(t, "doomed")
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var now atomic.Int64
	now.Store(start.UnixNano())
	const ttl = 30 * time.Second
	s := e.startServer(t, db.TokenCacheOptions{TTL: ttl, Now: func() time.Time { return time.Unix(0, now.Load()) }}, time.Hour)
	mustAuth(t, s.store, text, true)
	e.revokeSilently(t, id)
	now.Store(start.Add(ttl - time.Nanosecond).UnixNano())
	mustAuth(t, s.store, text, false)
	now.Store(start.Add(ttl).UnixNano())
	mustRefuse(t, s.store, text, db.ErrRevokedToken)
}

// TestTokenCacheSize: the cache keeps at most Size principals, evicting the least
// recently used.
func TestTokenCacheSize(t *testing.T) {
	t.Parallel()
	e := newCacheEnv(t)
	texts := make([]string, 3)
	for i := range texts {
		_, texts[i] = e.token(t, string(rune('a'+i)))
	}
	s := e.startServer(t, db.TokenCacheOptions{TTL: time.Hour, Size: 2}, time.Hour)
	mustAuth(t, s.store, texts[0], true)
	mustAuth(t, s.store, texts[1], true)
	mustAuth(t, s.store, texts[0], false) // now the most recently used
	mustAuth(t, s.store, texts[2], true)  // evicts texts[1]
	if n := s.store.CacheStats().Entries; n != 2 {
		t.Fatalf("%d entries, want 2", n)
	}
	mustAuth(t, s.store, texts[0], false)
	mustAuth(t, s.store, texts[2], false)
	mustAuth(t, s.store, texts[1], true)
}
