package guard

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestReadSlots: a workspace beyond its allowance is refused after the wait, another
// workspace is not affected, a released slot is reusable, and idle workspaces leave
// no entry behind.
func TestReadSlots(t *testing.T) {
	s := NewReadSlots(1, 10*time.Millisecond)
	a, b := uuid.New(), uuid.New()
	ctx := context.Background()
	releaseA, err := s.Acquire(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Acquire(ctx, a)
	ref := As(err)
	if ref == nil || ref.Status != http.StatusTooManyRequests || ref.Limit != LimitConcurrentQueries ||
		ref.Message != "this workspace already runs 1 read requests at once (the limit); retry when one has finished" {
		t.Fatalf("second read of A: %v", err)
	}
	releaseB, err := s.Acquire(ctx, b)
	if err != nil {
		t.Fatalf("B: %v", err)
	}
	releaseB()
	releaseA()
	releaseA() // a second call is harmless
	release, err := s.Acquire(ctx, a)
	if err != nil {
		t.Fatalf("A after release: %v", err)
	}
	release()
	if n := len(s.ws); n != 0 {
		t.Fatalf("%d workspace entries left", n)
	}
	// A waiting read gets the slot released while it waits.
	s = NewReadSlots(1, time.Hour)
	releaseA, _ = s.Acquire(ctx, a)
	got := make(chan error, 1)
	go func() {
		r, err := s.Acquire(ctx, a)
		if err == nil {
			r()
		}
		got <- err
	}()
	releaseA()
	if err := <-got; err != nil {
		t.Fatalf("waiting read: %v", err)
	}
	if NewReadSlots(-1, 0).limit != -1 {
		t.Fatal("negative limit is no limit")
	}
}
