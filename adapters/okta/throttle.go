package okta

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/internal/safehttp"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// The SDK retries a 429 itself by sleeping on the wall clock and, after its
// last retry, returns "too many requests" without the answer's headers. The
// target turns the SDK's retries off and watches answers at the transport
// instead: a 429 is recorded, with its X-Rate-Limit-Reset, in the call state
// carried by the request's context (the SDK derives every request's context
// from the caller's).

type callStateKey struct{}

// callState records what the transport saw during one SDK call.
type callState struct {
	mu        sync.Mutex
	throttled bool
	reset     time.Time
}

func (s *callState) saw429(h http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttled = true
	s.reset = time.Time{}
	if v, err := strconv.ParseInt(h.Get("X-Rate-Limit-Reset"), 10, 64); err == nil && v > 0 {
		s.reset = time.Unix(v, 0)
	}
}

func (s *callState) get() (bool, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled, s.reset
}

type rateLimitObserver struct{ next http.RoundTripper }

func (o rateLimitObserver) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := o.next.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		if st, ok := req.Context().Value(callStateKey{}).(*callState); ok {
			st.saw429(resp.Header)
		}
	}
	return resp, err
}

// observeRateLimits returns a copy of c (nil: a default client) whose
// transport records 429 answers, with a timeout and no redirects.
func observeRateLimits(c *http.Client) *http.Client {
	// No redirect is followed: the request carries the API token.
	out := safehttp.Client(c, 60*time.Second)
	next := out.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	out.Transport = rateLimitObserver{next: next}
	return out
}

// call runs fn, which makes one SDK call, and when Okta throttled it waits
// until the limit resets (capped, on the target's clock) and tries again, up
// to retries times. A call still throttled returns a transient
// *ThrottledError. fn's own error is returned otherwise.
func (t *Target) call(ctx context.Context, op string, retries int, fn func(ctx context.Context) error) error {
	for attempt := 0; ; attempt++ {
		st := &callState{}
		err := fn(context.WithValue(ctx, callStateKey{}, st))
		throttled, reset := st.get()
		if err == nil || !throttled {
			return err
		}
		if attempt >= retries {
			return rotator.Transient(&ThrottledError{Op: op, Reset: reset})
		}
		wait := t.backoff(reset)
		t.log.Info("okta rate limit reached; waiting for it to reset",
			zap.String("op", op), zap.Duration("wait", wait), zap.Int("attempt", attempt+1))
		select {
		case <-t.clock.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// backoff is how long to wait for a rate limit that resets at reset: until
// then plus a second (Okta's clock may be ahead of ours), at least a second
// and at most maxBackoff.
func (t *Target) backoff(reset time.Time) time.Duration {
	d := time.Second
	if !reset.IsZero() {
		d = reset.Sub(t.clock.Now()) + time.Second
	}
	return min(max(d, time.Second), maxBackoff)
}
