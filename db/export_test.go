package db

import "github.com/loggraph/loggraph/model"

// SetTailReadHook makes h call f before each read of notified batches, with the
// number of batches the read covers (tests block the hub with it to let notices
// queue up). Set it before the hub starts.
func SetTailReadHook(h *TailHub, f func(batches int)) { h.beforeRead = f }

// TailReadSQL is the statement the hub reads notified batches with.
func TailReadSQL(k model.LogKind) string { return tailReadSQL(k) }
