package db

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/loggraph/loggraph/model"
)

// SetTailReadHook makes h call f before each read of notified batches, with the
// number of batches the read covers (tests block the hub with it to let notices
// queue up). Set it before the hub starts.
func SetTailReadHook(h *TailHub, f func(batches int)) { h.beforeRead = f }

// ExplainTailRead returns the plan (EXPLAIN (FORMAT JSON)) of the hub's read of
// the given batches, with the settings the hub reads with.
func ExplainTailRead(t testing.TB, d *DB, k model.LogKind, args ...any) []map[string]any {
	t.Helper()
	var plan []map[string]any
	err := pgx.BeginFunc(context.Background(), d.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(context.Background(), tailReadSettings); err != nil {
			return err
		}
		return tx.QueryRow(context.Background(), "EXPLAIN (FORMAT JSON) "+tailReadSQL(k), args...).Scan(&plan)
	})
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// TurnTokenCacheOn turns s's principal cache on as its revocation listener does
// when its LISTEN takes effect, without a listener (tests of the store alone).
func TurnTokenCacheOn(s *TokenStore) { s.cache.setListening(true) }
