package guard

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
)

// DefaultConcurrentReads is how many read requests (GraphQL queries, shim requests,
// exports) one workspace may run at once by default: below the read pool's size, so
// that one workspace cannot hold every read connection.
const DefaultConcurrentReads = 4

// DefaultReadSlotWait is how long a read request beyond its workspace's allowance
// waits for a slot by default before it is refused (429).
const DefaultReadSlotWait = 5 * time.Second

// ReadSlots bounds each workspace's concurrent read requests. A request beyond the
// allowance waits up to the wait for a slot, then is refused with
// LimitConcurrentQueries (429: the workspace's own concurrency). The zero of a
// workspace costs nothing: a workspace's entry exists only while it has requests.
type ReadSlots struct {
	limit int
	wait  time.Duration
	mu    sync.Mutex
	ws    map[uuid.UUID]*wsSlots
}

type wsSlots struct {
	sem   chan struct{}
	users int // requests holding or waiting for a slot; the entry goes at 0
}

// NewReadSlots returns slots of limit per workspace (DefaultConcurrentReads when 0;
// negative: no limit) and wait (DefaultReadSlotWait when 0).
func NewReadSlots(limit int, wait time.Duration) *ReadSlots {
	if limit == 0 {
		limit = DefaultConcurrentReads
	}
	if wait <= 0 {
		wait = DefaultReadSlotWait
	}
	return &ReadSlots{limit: limit, wait: wait, ws: map[uuid.UUID]*wsSlots{}}
}

// Acquire takes one of ws's slots; release gives it back (call it exactly once). It
// returns a *Refusal when none was free within the wait, or ctx's error. A nil
// ReadSlots, or one without a limit, always grants.
func (s *ReadSlots) Acquire(ctx context.Context, ws uuid.UUID) (release func(), err error) {
	if s == nil || s.limit < 0 {
		return func() {}, nil
	}
	s.mu.Lock()
	e := s.ws[ws]
	if e == nil {
		e = &wsSlots{sem: make(chan struct{}, s.limit)}
		s.ws[ws] = e
	}
	e.users++
	s.mu.Unlock()
	done := func() {
		s.mu.Lock()
		if e.users--; e.users == 0 {
			delete(s.ws, ws)
		}
		s.mu.Unlock()
	}
	select {
	case e.sem <- struct{}{}:
	default:
		t := time.NewTimer(s.wait)
		defer t.Stop()
		select {
		case e.sem <- struct{}{}:
		case <-t.C:
			done()
			return nil, &Refusal{Status: http.StatusTooManyRequests, Limit: LimitConcurrentQueries,
				Message:    fmt.Sprintf("this workspace already runs %d read requests at once (the limit); retry when one has finished", s.limit),
				RetryAfter: time.Second}
		case <-ctx.Done():
			done()
			return nil, ctx.Err()
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			<-e.sem
			done()
		})
	}, nil
}

// AcquireForRequest is Acquire whose slot is given back when r's handler returns
// (net/http cancels a request's context then), for handlers that have several
// return paths after authentication.
func (s *ReadSlots) AcquireForRequest(r *http.Request, ws uuid.UUID) error {
	release, err := s.Acquire(r.Context(), ws)
	if err != nil {
		return err
	}
	context.AfterFunc(r.Context(), release)
	return nil
}
