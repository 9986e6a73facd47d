package limits

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/loggraph/loggraph/internal/guard"
	"github.com/loggraph/loggraph/model"
)

// clock is a settable clock: tests move time instead of sleeping.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)} }
func ws(slug string) model.Workspace { return model.Workspace{ID: uuid.New(), Slug: slug} }
func ptr(n int64) *int64             { return &n }
func cfgWith(c *clock, v Values) Config {
	return Config{Workspace: v, Now: c.now, Burst: 2 * time.Second}
}
func newLimiter(c *clock, v Values) *Limiter { return New(cfgWith(c, v), nil) }

func TestRequestsBucketRefusesPastTheBurstAndRefills(t *testing.T) {
	c := newClock()
	l := newLimiter(c, Values{RequestsPerSecond: 10}) // burst 20
	a, b := ws("a"), ws("b")
	for i := 0; i < 20; i++ {
		if ref := l.AdmitRequest(a); ref != nil {
			t.Fatalf("request %d refused: %v", i, ref)
		}
	}
	ref := l.AdmitRequest(a)
	if ref == nil {
		t.Fatal("request 21 admitted")
	}
	if ref.Status != http.StatusTooManyRequests || ref.Limit != guard.LimitRequestsPerSecond || ref.RetryAfter != 100*time.Millisecond {
		t.Fatalf("refusal %+v", ref)
	}
	want := "workspace a is over its limit of 10 requests per second (bursts up to 20); retry after 1 s"
	if ref.Message != want {
		t.Fatalf("message %q, want %q", ref.Message, want)
	}
	if ref := l.AdmitRequest(b); ref != nil {
		t.Fatalf("another workspace refused: %v", ref)
	}
	c.add(100 * time.Millisecond)
	if ref := l.AdmitRequest(a); ref != nil {
		t.Fatalf("after the refill: %v", ref)
	}
	if ref := l.AdmitRequest(a); ref == nil {
		t.Fatal("one token earned, two taken")
	}
}

func TestIngestRowsAndBytesAreChargedTogether(t *testing.T) {
	c := newClock()
	l := newLimiter(c, Values{IngestRowsPerSecond: 100, IngestBytesPerSecond: 1000}) // bursts 200 rows, 2000 bytes
	a := ws("a")
	if ref := l.ChargeIngest(a, 150, 500); ref != nil {
		t.Fatal(ref)
	}
	// 50 rows and 1500 bytes left: the bytes would pass, the rows not; neither is taken.
	ref := l.ChargeIngest(a, 100, 100)
	if ref == nil || ref.Limit != guard.LimitIngestRowsPerSecond || ref.RetryAfter != 500*time.Millisecond {
		t.Fatalf("refusal %+v", ref)
	}
	want := "workspace a is over its limit of 100 ingest rows per second (bursts up to 200); this batch has 100 ingest rows: " +
		"retry after 1 s, or send fewer ingest rows per second"
	if ref.Message != want {
		t.Fatalf("message %q", ref.Message)
	}
	if ref := l.ChargeIngest(a, 50, 1500); ref != nil {
		t.Fatalf("the refused batch took tokens: %v", ref)
	}
	ref = l.ChargeIngest(a, 0, 1500) // bytes only: 3 s of them missing... at 1000/s: 1.5 s
	if ref == nil || ref.Limit != guard.LimitIngestBytesPerSecond || ref.RetryAfter != 1500*time.Millisecond || ref.RetryAfterSeconds() != 2 {
		t.Fatalf("bytes refusal %+v", ref)
	}
}

func TestBatchLargerThanTheBurstPassesOnlyWhenTheBucketIsFull(t *testing.T) {
	c := newClock()
	l := newLimiter(c, Values{IngestRowsPerSecond: 10}) // burst 20
	a := ws("a")
	if ref := l.ChargeIngest(a, 1, 0); ref != nil {
		t.Fatal(ref)
	}
	ref := l.ChargeIngest(a, 50, 0)
	if ref == nil || ref.RetryAfter != 100*time.Millisecond {
		t.Fatalf("oversized batch on a bucket not full: %+v", ref)
	}
	want := "this batch of 50 ingest rows is larger than workspace a's burst of 20 ingest rows (limit 10 ingest rows per second), " +
		"so it is accepted only when the workspace has sent none for a while; retry after 1 s, or split the batch"
	if ref.Message != want {
		t.Fatalf("message %q", ref.Message)
	}
	c.add(100 * time.Millisecond)
	if ref := l.ChargeIngest(a, 50, 0); ref != nil {
		t.Fatalf("oversized batch on a full bucket: %v", ref)
	}
	// The debt: 20 - 50 = -30 tokens; one row needs 31 more, 3.1 s.
	if ref := l.ChargeIngest(a, 1, 0); ref == nil || ref.RetryAfter != 3100*time.Millisecond {
		t.Fatalf("after the debt: %+v", ref)
	}
}

func TestZeroMeansNoLimit(t *testing.T) {
	c := newClock()
	l := newLimiter(c, Values{})
	a := ws("a")
	for i := 0; i < 10000; i++ {
		if ref := l.AdmitRequest(a); ref != nil {
			t.Fatal(ref)
		}
	}
	if ref := l.ChargeIngest(a, 1<<40, 1<<50); ref != nil {
		t.Fatal(ref)
	}
	r, ref := l.AdmitIngest(a, 1<<40)
	if ref != nil {
		t.Fatal(ref)
	}
	r.Release()
	var nilLimiter *Limiter
	if ref := nilLimiter.AdmitRequest(a); ref != nil {
		t.Fatal(ref)
	}
	if r, ref := nilLimiter.AdmitIngest(a, 10); ref != nil || r != nil {
		t.Fatal(ref)
	}
}

type fakeSource struct{ rows []model.WorkspaceLimits }

func (f *fakeSource) AllWorkspaceLimits(context.Context) ([]model.WorkspaceLimits, error) {
	return f.rows, nil
}

func TestOverridesApplyOnReload(t *testing.T) {
	c := newClock()
	src := &fakeSource{}
	l := New(cfgWith(c, Values{RequestsPerSecond: 1}), src) // burst 2
	a, b := ws("a"), ws("b")
	l.AdmitRequest(a)
	l.AdmitRequest(a)
	if l.AdmitRequest(a) == nil {
		t.Fatal("default not applied")
	}
	src.rows = []model.WorkspaceLimits{{WorkspaceID: a.ID, RequestsPerSecond: ptr(0)}, {WorkspaceID: b.ID, RequestsPerSecond: ptr(100)}}
	if err := l.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		if ref := l.AdmitRequest(a); ref != nil {
			t.Fatalf("unlimited override: %v", ref)
		}
	}
	if got := l.Effective(b.ID); got.RequestsPerSecond != 100 {
		t.Fatalf("effective %+v", got)
	}
	for i := 0; i < 200; i++ {
		if ref := l.AdmitRequest(b); ref != nil {
			t.Fatalf("request %d under the raised limit: %v", i, ref)
		}
	}
	if ref := l.AdmitRequest(b); ref == nil || !strings.Contains(ref.Message, "limit of 100 requests per second (bursts up to 200)") {
		t.Fatalf("raised limit: %+v", ref)
	}
	// Back to the default: the unlimited bucket restarts full under it.
	src.rows = nil
	_ = l.Reload(context.Background())
	l.AdmitRequest(a)
	l.AdmitRequest(a)
	if l.AdmitRequest(a) == nil {
		t.Fatal("default not restored")
	}
}

func TestIdleWorkspacesAreForgotten(t *testing.T) {
	c := newClock()
	l := newLimiter(c, Values{RequestsPerSecond: 10, IngestConcurrentBytes: 1 << 20})
	held := ws("held")
	r, ref := l.AdmitIngest(held, 1000)
	if ref != nil {
		t.Fatal(ref)
	}
	for i := 0; i < 100; i++ {
		l.AdmitRequest(ws("w"))
	}
	if n := l.tracked(); n != 101 {
		t.Fatalf("tracked %d", n)
	}
	c.add(sweepEvery)
	l.AdmitRequest(ws("new")) // sweeps
	if n := l.tracked(); n != 2 {
		t.Fatalf("after the sweep %d workspaces are tracked, want 2 (one holding memory, the new one)", n)
	}
	r.Release()
	c.add(sweepEvery)
	l.AdmitRequest(ws("newer"))
	if n := l.tracked(); n != 1 {
		t.Fatalf("after the release %d tracked", n)
	}
}

func TestIngestMemorySemaphore(t *testing.T) {
	c := newClock()
	cfg := cfgWith(c, Values{IngestConcurrentBytes: 3000})
	cfg.ServerIngestConcurrentBytes = 5000
	cfg.IngestMemoryFactor = 3
	l := New(cfg, nil)
	a, b := ws("a"), ws("b")
	r1, ref := l.AdmitIngest(a, 800) // 2400
	if ref != nil {
		t.Fatal(ref)
	}
	_, ref = l.AdmitIngest(a, 400) // 1200 more: 3600 > 3000
	if ref == nil || ref.Status != http.StatusTooManyRequests || ref.Limit != guard.LimitIngestConcurrentBytes || ref.RetryAfter != SemaphoreRetryAfter {
		t.Fatalf("refusal %+v", ref)
	}
	want := "workspace a already has 2.3 KiB of ingest batches in memory and this one needs 1.2 KiB more " +
		"(3 bytes of memory per body byte); its limit is 2.9 KiB: retry after 1 s, or send smaller batches"
	if ref.Message != want {
		t.Fatalf("message %q", ref.Message)
	}
	r2, ref := l.AdmitIngest(b, 800) // 2400: server 4800
	if ref != nil {
		t.Fatalf("another workspace: %v", ref)
	}
	_, ref = l.AdmitIngest(ws("c"), 100) // 300 more: 5100 > 5000
	if ref == nil || ref.Status != http.StatusServiceUnavailable || ref.Limit != LimitServerIngestConcurrentBytes {
		t.Fatalf("server cap: %+v", ref)
	}
	if got := l.IngestMemoryInUse(); got != 4800 {
		t.Fatalf("in use %d", got)
	}
	r1.Release()
	r1.Release() // twice is harmless
	r2.Release()
	if got := l.IngestMemoryInUse(); got != 0 {
		t.Fatalf("in use after release %d", got)
	}
	// A body larger than the quota reserves the whole quota and runs alone.
	big, ref := l.AdmitIngest(a, 1_000_000)
	if ref != nil {
		t.Fatalf("oversized body on an idle workspace: %v", ref)
	}
	if got := l.IngestMemoryInUse(); got != 3000 {
		t.Fatalf("oversized body holds %d, want the quota", got)
	}
	if _, ref := l.AdmitIngest(a, 1); ref == nil {
		t.Fatal("admitted beside a batch holding the whole quota")
	}
	big.Release()
}

func TestReservationGrowsWhileReading(t *testing.T) {
	c := newClock()
	cfg := cfgWith(c, Values{IngestConcurrentBytes: 10 << 20})
	cfg.IngestMemoryFactor = 2
	var events []int64
	cfg.IngestMemory = func(_ model.Workspace, w, _ int64) { events = append(events, w) }
	l := New(cfg, nil)
	a := ws("a")
	r, ref := l.AdmitIngest(a, -1) // unknown length
	if ref != nil {
		t.Fatal(ref)
	}
	if got := l.IngestMemoryInUse(); got != 2*initialReservation {
		t.Fatalf("initial reservation %d", got)
	}
	n, err := io.Copy(io.Discard, r.Reader(strings.NewReader(strings.Repeat("x", 3<<20))))
	if err != nil || n != 3<<20 || r.BodyBytes() != 3<<20 {
		t.Fatalf("read %d, %v", n, err)
	}
	if got := l.IngestMemoryInUse(); got < 2*(3<<20) {
		t.Fatalf("reservation %d does not cover the %d bytes read", got, 3<<20)
	}
	// A second body that outgrows the quota fails while reading, with the refusal.
	r2, ref := l.AdmitIngest(a, -1)
	if ref != nil {
		t.Fatal(ref)
	}
	_, err = io.Copy(io.Discard, r2.Reader(strings.NewReader(strings.Repeat("x", 4<<20))))
	if got := guard.As(err); got == nil || got.Limit != guard.LimitIngestConcurrentBytes {
		t.Fatalf("read error %v", err)
	}
	r.Release()
	r2.Release()
	if got := l.IngestMemoryInUse(); got != 0 || events[len(events)-1] != 0 {
		t.Fatalf("in use %d, events %v", got, events)
	}
}

func TestAdmitIngestRefusesBeforeTheBodyWhenBucketsAreEmpty(t *testing.T) {
	c := newClock()
	l := newLimiter(c, Values{IngestRowsPerSecond: 10, IngestBytesPerSecond: 1000})
	a := ws("a")
	if ref := l.ChargeIngest(a, 25, 1500); ref != nil { // the whole row burst and 5 more: debt
		t.Fatal(ref)
	}
	if _, ref := l.AdmitIngest(a, 10); ref == nil || ref.Limit != guard.LimitIngestRowsPerSecond || ref.RetryAfter != 600*time.Millisecond {
		t.Fatalf("rows in debt: %+v", ref)
	}
	c.add(700 * time.Millisecond) // rows: 2 tokens; bytes: 1200 of 2000
	if _, ref := l.AdmitIngest(a, 3000); ref == nil || ref.Limit != guard.LimitIngestBytesPerSecond || ref.RetryAfter != 800*time.Millisecond {
		t.Fatalf("declared body over the bytes burst is refused only when the bucket is not full: %+v", ref)
	}
}
