package db

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// TokenNotifyChannel is the channel TokenStore.Revoke notifies, in the revoking
// transaction, with the revoked token's id as the payload.
const TokenNotifyChannel = "loggraph_tokens"

// RevocationApplicationName is the application_name of a RevocationListener's
// connection, so that operators (and tests) can find it in pg_stat_activity.
const RevocationApplicationName = "loggraph token listener"

// TokenRef names a token: its workspace (the first column of the key) and its id.
type TokenRef struct {
	WorkspaceID uuid.UUID
	ID          uuid.UUID
}

// NotValid returns those of refs that no longer authenticate: revoked, or deleted
// (with their workspace). One statement whatever the number of refs.
func (s *TokenStore) NotValid(ctx context.Context, refs []TokenRef) ([]uuid.UUID, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	wss, ids := make([]uuid.UUID, len(refs)), make([]uuid.UUID, len(refs))
	for i, r := range refs {
		wss[i], ids[i] = r.WorkspaceID, r.ID
	}
	var out []uuid.UUID
	err := s.db.NewRaw(`
		SELECT r.id FROM unnest(?::uuid[], ?::uuid[]) AS r(workspace_id, id)
		WHERE NOT EXISTS (SELECT 1 FROM api_tokens t
			WHERE t.workspace_id = r.workspace_id AND t.id = r.id AND t.revoked_at IS NULL)`,
		pgdialect.Array(wss), pgdialect.Array(ids)).Scan(ctx, &out)
	if err != nil {
		return nil, fmt.Errorf("check tokens: %w", err)
	}
	return out, nil
}

// RevocationListener hears token revocations from every server: it LISTENs on
// TokenNotifyChannel over one dedicated connection (a pooled one would lose its
// LISTEN when handed to other queries), reconnecting with backoff when the
// connection is lost.
type RevocationListener struct {
	// DB is the database whose revocations are heard.
	DB *DB
	// Tokens, if not nil, is the store whose principal cache this listener keeps
	// safe: the cache answers only while LISTEN is in effect, is flushed each time
	// it takes effect (notices sent while the listener was down are lost), and
	// forgets each revoked token before OnRevoked is called. One listener per store.
	Tokens *TokenStore
	// Log receives connection losses; nil: slog.Default().
	Log *slog.Logger
	// OnRevoked is called, on the listening goroutine, with each revoked token's id.
	OnRevoked func(id uuid.UUID)
	// OnListening is called, on the listening goroutine, each time LISTEN is in
	// effect (first connection and every reconnection): revocations sent while the
	// listener was down are lost, so the caller re-checks what it holds.
	OnListening func()
	// MinBackoff and MaxBackoff bound the wait between reconnection attempts
	// (defaults 100 ms and 5 s).
	MinBackoff, MaxBackoff time.Duration
}

// Run listens until ctx is done.
func (l *RevocationListener) Run(ctx context.Context) {
	log := l.Log
	if log == nil {
		log = slog.Default()
	}
	minB, maxB := l.MinBackoff, l.MaxBackoff
	if minB <= 0 {
		minB = 100 * time.Millisecond
	}
	if maxB < minB {
		maxB = max(5*time.Second, minB)
	}
	backoff := minB
	for {
		start := time.Now()
		err := l.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > maxB {
			backoff = minB // it was up for a while: this is a new outage
		}
		log.Warn("token revocation listener lost its connection; reconnecting", "err", err, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxB)
	}
}

func (l *RevocationListener) listen(ctx context.Context) error {
	cfg := l.DB.Pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = RevocationApplicationName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // the connection may already be dead
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{TokenNotifyChannel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if l.Tokens != nil {
		l.Tokens.cache.setListening(true)
		defer l.Tokens.cache.setListening(false)
	}
	if l.OnListening != nil {
		l.OnListening()
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		id, err := uuid.Parse(n.Payload)
		if err != nil {
			continue // not ours
		}
		if l.Tokens != nil {
			l.Tokens.cache.forget(id)
		}
		if l.OnRevoked != nil {
			l.OnRevoked(id)
		}
	}
}
