package db

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/loggraph/loggraph/model"
)

// Token errors. Both are answered 401; the messages differ so that an operator can
// tell a typo from a revoked key.
var (
	ErrInvalidToken = errors.New("invalid API token")
	ErrRevokedToken = errors.New("API token has been revoked")
)

// tokenPrefix makes loggraph tokens recognisable (secret scanners, logs).
const tokenPrefix = "lg_"

// lastUsedGranularity bounds how often last_used_at is written: at most once per
// token per minute, never on every request.
const lastUsedGranularity = time.Minute

var wsEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// TokenStore creates, lists, revokes and checks API tokens.
type TokenStore struct {
	db    bun.IDB
	cache *principalCache // nil: every Authenticate looks the token up
}

// NewTokenStore returns a token store over db whose every Authenticate runs its
// lookup (the CLI, tools).
func NewTokenStore(db bun.IDB) *TokenStore { return &TokenStore{db: db} }

// NewCachedTokenStore returns a token store over db that reuses the principals of
// successful lookups for opts.TTL (a server's store). The cache answers only while a
// RevocationListener with this store in its Tokens listens: until its first LISTEN,
// and from a lost connection until it listens again, every Authenticate looks the
// token up.
func NewCachedTokenStore(db bun.IDB, opts TokenCacheOptions) *TokenStore {
	return &TokenStore{db: db, cache: newPrincipalCache(opts)}
}

// CacheStats counts the principal cache's answers (all zero without a cache).
func (s *TokenStore) CacheStats() TokenCacheStats { return s.cache.stats() }

// newTokenText makes `lg_<workspace id, base32>_<32 random bytes, base64url>`. The
// workspace part lets the lookup use the workspace-first index.
func newTokenText(ws uuid.UUID) (string, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", fmt.Errorf("token entropy: %w", err)
	}
	return tokenPrefix + strings.ToLower(wsEncoding.EncodeToString(ws[:])) + "_" +
		base64.RawURLEncoding.EncodeToString(secret), nil
}

func parseTokenText(tok string) (uuid.UUID, bool) {
	rest, ok := strings.CutPrefix(tok, tokenPrefix)
	if !ok {
		return uuid.Nil, false
	}
	wsPart, secret, ok := strings.Cut(rest, "_")
	if !ok || len(secret) != 43 {
		return uuid.Nil, false
	}
	raw, err := wsEncoding.DecodeString(strings.ToUpper(wsPart))
	if err != nil || len(raw) != 16 {
		return uuid.Nil, false
	}
	return uuid.UUID(raw), true
}

func hashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// Create stores a new token and returns it with its text, which is never stored.
func (s *TokenStore) Create(ctx context.Context, ws uuid.UUID, name string, role model.Role) (*model.APIToken, string, error) {
	if err := model.CheckText("name", name); err != nil {
		return nil, "", err
	}
	text, err := newTokenText(ws)
	if err != nil {
		return nil, "", err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, "", fmt.Errorf("token id: %w", err)
	}
	t := &model.APIToken{WorkspaceID: ws, ID: id, Name: name, Role: role, Hash: hashToken(text),
		Hint: text[:len(text)-39] + "…" + text[len(text)-4:]}
	// A workspace being deleted takes no new token: the share lock waits for a
	// deletion marking it meanwhile (which then revokes every token it finds) and is
	// refused by one already marked.
	var created []time.Time
	err = s.db.NewRaw(`INSERT INTO api_tokens (workspace_id, id, name, role, token_hash, token_hint)
		SELECT ?, ?, ?, ?, ?, ?
		WHERE EXISTS (SELECT 1 FROM workspaces WHERE id = ? AND deleting_since IS NULL FOR SHARE)
		RETURNING created_at`, ws, id, name, role, t.Hash, t.Hint, ws).Scan(ctx, &created)
	if err != nil {
		return nil, "", fmt.Errorf("create token: %w", err)
	}
	if len(created) == 0 {
		return nil, "", ErrWorkspaceDeleting
	}
	t.CreatedAt = created[0]
	return t, text, nil
}

// ErrWorkspaceDeleting refuses a new token for a workspace that is being deleted (or
// does not exist): an input error, which every surface answers with its 4xx.
var ErrWorkspaceDeleting = model.InputErrorf("the workspace is being deleted; it takes no new token")

// List returns the workspace's tokens, newest first.
func (s *TokenStore) List(ctx context.Context, ws uuid.UUID) ([]model.APIToken, error) {
	var out []model.APIToken
	err := s.db.NewSelect().Model(&out).Where("workspace_id = ?", ws).Order("created_at DESC", "id DESC").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// Revoke marks a token revoked; it stops working on the next request to this
// store, and on other servers' stores once they hear the notice. Revoking an
// already revoked token keeps its first revocation time. In the same transaction it
// notifies TokenNotifyChannel with the token's id, so that every server forgets the
// token's cached principal and ends the websockets the token opened (see
// RevocationListener): the notice goes out only if the revocation commits, and again
// on a repeated revocation (a server that missed the first one hears it then). This
// store's cache forgets the token as soon as the revocation commits.
func (s *TokenStore) Revoke(ctx context.Context, ws, id uuid.UUID) (*model.APIToken, error) {
	t := new(model.APIToken)
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		err := tx.NewUpdate().Model(t).
			Set("revoked_at = coalesce(revoked_at, now())").
			Where("workspace_id = ? AND id = ?", ws, id).
			Returning("*").Scan(ctx)
		if err != nil {
			return noRows(err)
		}
		_, err = tx.NewRaw("SELECT pg_notify(?, ?)", TokenNotifyChannel, id.String()).Exec(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("revoke token: %w", err)
	}
	s.cache.forget(id)
	return t, nil
}

// Authenticate resolves a token's text to its principal: from the cache (no
// statement) or by a lookup, whose success alone is cached. A lookup writes
// last_used_at only when the stored value is older than lastUsedGranularity, so
// with the cache last_used_at trails the token's last use by less than
// lastUsedGranularity plus the cache's TTL.
func (s *TokenStore) Authenticate(ctx context.Context, text string) (*model.Principal, error) {
	ws, ok := parseTokenText(text)
	if !ok {
		return nil, ErrInvalidToken
	}
	hash := sha256.Sum256([]byte(text))
	p, ticket, fill := s.cache.get(hash)
	if p != nil {
		return p, nil
	}
	p, err := s.lookup(ctx, ws, hash[:])
	if err != nil {
		return nil, err
	}
	if fill {
		s.cache.put(hash, ticket, p)
	}
	return p, nil
}

// lookup reads the principal of the token whose hash is hash, and touches
// last_used_at.
func (s *TokenStore) lookup(ctx context.Context, ws uuid.UUID, hash []byte) (*model.Principal, error) {
	var row struct {
		TokenID    uuid.UUID  `bun:"token_id"`
		Role       model.Role `bun:"role"`
		RevokedAt  *time.Time `bun:"revoked_at"`
		LastUsedAt *time.Time `bun:"last_used_at"`
		Slug       string     `bun:"slug"`
		Name       string     `bun:"name"`
		CreatedAt  time.Time  `bun:"created_at"`
	}
	err := s.db.NewRaw(`
		SELECT t.id AS token_id, t.role, t.revoked_at, t.last_used_at, w.slug, w.name, w.created_at
		FROM api_tokens t JOIN workspaces w ON w.id = t.workspace_id
		WHERE t.workspace_id = ? AND t.token_hash = ?`, ws, hash).Scan(ctx, &row)
	if err != nil {
		if errors.Is(noRows(err), ErrNotFound) {
			return nil, ErrInvalidToken
		}
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if row.RevokedAt != nil {
		return nil, ErrRevokedToken
	}
	if row.LastUsedAt == nil || time.Since(*row.LastUsedAt) > lastUsedGranularity {
		_, err := s.db.NewRaw(`UPDATE api_tokens SET last_used_at = now()
			WHERE workspace_id = ? AND id = ? AND (last_used_at IS NULL OR last_used_at < now() - ?::interval)`,
			ws, row.TokenID, lastUsedGranularity.String()).Exec(ctx)
		if err != nil {
			return nil, fmt.Errorf("touch token: %w", err)
		}
	}
	return &model.Principal{
		Workspace: model.Workspace{ID: ws, Slug: row.Slug, Name: row.Name, CreatedAt: row.CreatedAt},
		TokenID:   row.TokenID,
		Role:      row.Role,
	}, nil
}
