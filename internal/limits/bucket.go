package limits

import (
	"math"
	"time"
)

// bucket is a token bucket: it holds up to burst tokens and gains rate tokens per
// second. Hand-written rather than golang.org/x/time/rate because a batch may be
// larger than the burst (see take) and because eviction needs to know when a bucket
// is full again; both are a few lines here and awkward there.
type bucket struct {
	rate   float64 // tokens per second; 0: no limit
	burst  float64 // capacity
	tokens float64 // may be negative after an oversized batch: a debt paid off at rate
	last   time.Time
}

// newBucket returns a full bucket.
func newBucket(rate, burst float64, now time.Time) *bucket {
	return &bucket{rate: rate, burst: burst, tokens: burst, last: now}
}

// advance adds the tokens earned since the last call.
func (b *bucket) advance(now time.Time) {
	if now.After(b.last) {
		b.tokens = math.Min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		b.last = now
	}
}

// configure changes the rate and burst (an operator's override), keeping what the
// bucket already earned or owes under the old rate.
func (b *bucket) configure(rate, burst float64, now time.Time) {
	if b.rate == rate && b.burst == burst {
		return
	}
	b.advance(now)
	if b.rate == 0 { // was unlimited: start full under the new limit
		b.tokens = burst
	}
	b.rate, b.burst = rate, burst
	b.tokens = math.Min(b.tokens, burst)
}

// need is how many tokens n requires in the bucket: n itself, or a full bucket when n
// is larger than the burst. The oversized batch then leaves a debt, so the rate still
// holds on average, and no batch within the body limit is refused for ever.
func (b *bucket) need(n float64) float64 { return math.Min(n, b.burst) }

// epsilon absorbs float rounding in token arithmetic (a bucket refilled over many
// small steps may fall a hair short of a whole token).
const epsilon = 1e-9

// wait is how long until the bucket can take n (0: now).
func (b *bucket) wait(n float64, now time.Time) time.Duration {
	if b.rate == 0 {
		return 0
	}
	b.advance(now)
	short := b.need(n) - b.tokens
	if short <= epsilon {
		return 0
	}
	return time.Duration(math.Ceil(short / b.rate * float64(time.Second)))
}

// take removes n tokens if the bucket can take them now (see need).
func (b *bucket) take(n float64, now time.Time) bool {
	if b.rate == 0 {
		return true
	}
	if b.wait(n, now) > 0 {
		return false
	}
	b.tokens -= n
	return true
}

// full tells whether the bucket is back at its burst, i.e. indistinguishable from a
// new one (so it can be forgotten).
func (b *bucket) full(now time.Time) bool {
	if b.rate == 0 {
		return true
	}
	b.advance(now)
	return b.tokens >= b.burst-epsilon
}
