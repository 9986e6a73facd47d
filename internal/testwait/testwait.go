// Package testwait lets tests wait for what is sure to happen (a subscription to
// start, a handler to return, a message to arrive) by waiting on the condition
// itself. Its deadline is a safety net that fails a hung test; it is generous, so
// that a loaded machine, however slow, never fails a test that would pass.
package testwait

import (
	"context"
	"testing"
	"time"
)

// Safety is how long a test waits for something that is sure to happen before it
// gives up and fails as hung.
const Safety = 2 * time.Minute

// Until polls cond until it holds; after Safety it fails t, naming what it waited for.
func Until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Safety)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("hung: waited %s for %s", Safety, what)
		}
		time.Sleep(pause)
		pause = min(2*pause, 20*time.Millisecond)
	}
}

// Context is a context that ends after Safety, for reads of what is sure to come.
func Context(t testing.TB) (context.Context, context.CancelFunc) {
	t.Helper()
	return context.WithTimeout(context.Background(), Safety)
}
