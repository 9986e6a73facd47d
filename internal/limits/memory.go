package limits

import (
	"fmt"
	"io"
	"math"
	"net/http"

	"github.com/loggraph/loggraph/internal/guard"
	"github.com/loggraph/loggraph/model"
)

// Reservation is the ingest memory held by one in-flight batch: taken before its body
// is read, grown while it is read (a body of unknown length), given back by Release.
// A nil *Reservation (from a nil Limiter) holds nothing.
type Reservation struct {
	l    *Limiter
	ws   model.Workspace
	st   *state
	held int64 // estimated memory bytes reserved
	body int64 // body bytes read so far
}

// AdmitIngest admits an ingest batch of ws before its body is read: it refuses at
// once when the workspace's ingest buckets are empty (so a body that would be refused
// anyway is not read), then reserves the batch's memory, IngestMemoryFactor times
// bodyBytes (the body's length as sent; negative: unknown). The reservation grows
// as Reader reads past it (a chunked or compressed body). A batch larger than the workspace's or
// the server's quota reserves the whole quota: it runs, but alone. Release the
// reservation when the batch is done.
func (l *Limiter) AdmitIngest(ws model.Workspace, bodyBytes int64) (*Reservation, *guard.Refusal) {
	if l == nil {
		return nil, nil
	}
	now := l.cfg.Now()
	l.mu.Lock()
	st, v := l.state(ws.ID, now)
	if wait := st.rows.wait(1, now); wait > 0 {
		burst := int64(st.rows.burst)
		l.mu.Unlock()
		return nil, l.refused(ws, rateRefusal(guard.LimitIngestRowsPerSecond, "ingest rows", ws, v.IngestRowsPerSecond, burst, 1, wait))
	}
	if wait := st.bytes.wait(float64(max(bodyBytes, 1)), now); wait > 0 {
		burst := int64(st.bytes.burst)
		l.mu.Unlock()
		return nil, l.refused(ws, rateRefusal(guard.LimitIngestBytesPerSecond, "ingest bytes", ws, v.IngestBytesPerSecond, burst, max(bodyBytes, 1), wait))
	}
	r := &Reservation{l: l, ws: ws, st: st}
	if bodyBytes < 0 {
		bodyBytes = initialReservation
	}
	ref := r.reserve(bodyBytes, v)
	inUse, server := st.inUse, l.inUse
	l.mu.Unlock()
	if ref != nil {
		return nil, l.refused(ws, ref)
	}
	l.memoryChanged(ws, inUse, server)
	return r, nil
}

// ceiling is the most one reservation may hold: the smaller quota. l.mu is held.
func (l *Limiter) ceiling(v Values) int64 {
	c := int64(math.MaxInt64)
	if v.IngestConcurrentBytes > 0 {
		c = v.IngestConcurrentBytes
	}
	if s := l.cfg.ServerIngestConcurrentBytes; s > 0 {
		c = min(c, s)
	}
	return c
}

// memoryFor is the estimated memory of a body of n bytes, saturating.
func (l *Limiter) memoryFor(n int64) int64 {
	if n > math.MaxInt64/l.cfg.IngestMemoryFactor {
		return math.MaxInt64
	}
	return n * l.cfg.IngestMemoryFactor
}

// reserve grows the reservation to cover a body of bodyBytes (at most the ceiling),
// or refuses without changing it. l.mu is held.
func (r *Reservation) reserve(bodyBytes int64, v Values) *guard.Refusal {
	l := r.l
	want := min(l.memoryFor(bodyBytes), l.ceiling(v))
	add := want - r.held
	if add <= 0 {
		return nil
	}
	if q := v.IngestConcurrentBytes; q > 0 && r.st.inUse+add > q {
		return &guard.Refusal{Status: http.StatusTooManyRequests, Limit: guard.LimitIngestConcurrentBytes, RetryAfter: SemaphoreRetryAfter,
			Message: fmt.Sprintf("workspace %s already has %s of ingest batches in memory and this one needs %s more "+
				"(%d bytes of memory per body byte); its limit is %s: retry after %d s, or send smaller batches",
				r.ws.Slug, humanBytes(r.st.inUse), humanBytes(add), l.cfg.IngestMemoryFactor, humanBytes(q),
				int(SemaphoreRetryAfter.Seconds()))}
	}
	if q := l.cfg.ServerIngestConcurrentBytes; q > 0 && l.inUse+add > q {
		return &guard.Refusal{Status: http.StatusServiceUnavailable, Limit: LimitServerIngestConcurrentBytes, RetryAfter: SemaphoreRetryAfter,
			Message: fmt.Sprintf("the server's ingest memory (%s for all workspaces) is taken by other batches; retry after %d s",
				humanBytes(q), int(SemaphoreRetryAfter.Seconds()))}
	}
	r.held += add
	r.st.inUse += add
	l.inUse += add
	return nil
}

// Reader counts the body bytes read through it (after decompression) and grows the
// reservation to cover them; when it cannot, the read fails with the *guard.Refusal.
func (r *Reservation) Reader(rd io.Reader) io.Reader {
	if r == nil {
		return rd
	}
	return &reservedReader{r: r, rd: rd}
}

// BodyBytes is how many body bytes were read through Reader.
func (r *Reservation) BodyBytes() int64 {
	if r == nil {
		return 0
	}
	return r.body
}

type reservedReader struct {
	r  *Reservation
	rd io.Reader
}

func (rr *reservedReader) Read(p []byte) (int, error) {
	n, err := rr.rd.Read(p)
	r := rr.r
	r.body += int64(n)
	if r.l.memoryFor(r.body) > r.held {
		if ref := r.grow(); ref != nil {
			return n, ref
		}
	}
	return n, err
}

// grow extends the reservation past the bytes read, by growStep of body at a time.
func (r *Reservation) grow() *guard.Refusal {
	l := r.l
	l.mu.Lock()
	v := l.Effective(r.ws.ID)
	ref := r.reserve(r.body+growStep, v)
	if ref != nil {
		ref = r.reserve(r.body, v) // near the quota: just what was read
	}
	inUse, server := r.st.inUse, l.inUse
	l.mu.Unlock()
	if ref != nil {
		return l.refused(r.ws, ref)
	}
	l.memoryChanged(r.ws, inUse, server)
	return nil
}

// Release gives the reservation back; it may be called more than once.
func (r *Reservation) Release() {
	if r == nil {
		return
	}
	l := r.l
	l.mu.Lock()
	if r.held == 0 {
		l.mu.Unlock()
		return
	}
	r.st.inUse -= r.held
	l.inUse -= r.held
	r.held = 0
	inUse, server := r.st.inUse, l.inUse
	l.mu.Unlock()
	l.memoryChanged(r.ws, inUse, server)
}

func (l *Limiter) memoryChanged(ws model.Workspace, inUse, server int64) {
	if l.cfg.IngestMemory != nil {
		l.cfg.IngestMemory(ws, inUse, server)
	}
}

// IngestMemoryInUse is the ingest memory reserved by every workspace.
func (l *Limiter) IngestMemoryInUse() int64 {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inUse
}

// humanBytes writes a size the way the flags' help does: bytes, KiB, MiB or GiB.
func humanBytes(n int64) string {
	units := []string{"bytes", "KiB", "MiB", "GiB", "TiB"}
	f, i := float64(n), 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d bytes", n)
	}
	if f == math.Trunc(f) {
		return fmt.Sprintf("%.0f %s", f, units[i])
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}
