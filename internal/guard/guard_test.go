package guard

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

func TestRetryAfterRoundsUpToWholeSeconds(t *testing.T) {
	for _, c := range []struct {
		in   time.Duration
		want string
	}{{0, "1"}, {time.Millisecond, "1"}, {time.Second, "1"}, {1500 * time.Millisecond, "2"}, {30 * time.Second, "30"}} {
		t.Run(c.in.String(), func(t *testing.T) {
			h := http.Header{}
			(&Refusal{RetryAfter: c.in}).SetHeader(h)
			if got := h.Get("Retry-After"); got != c.want {
				t.Fatalf("Retry-After for %v = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestAsFindsAWrappedRefusal(t *testing.T) {
	r := &Refusal{Status: http.StatusTooManyRequests, Limit: LimitRequestsPerSecond, Message: "slow down"}
	if got := As(fmt.Errorf("list: %w", r)); got != r {
		t.Fatalf("As(wrapped) = %v, want the refusal", got)
	}
	if got := As(fmt.Errorf("plain")); got != nil {
		t.Fatalf("As(plain) = %v, want nil", got)
	}
}
