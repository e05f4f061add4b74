package okta

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/internal/retry"
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
	out := safehttp.Client(c, requestTimeout)
	// safehttp.Client gives a nil transport the trust store's.
	out.Transport = rateLimitObserver{next: out.Transport}
	return out
}

// call runs fn, which makes one SDK call, and when Okta throttled it waits
// until the limit resets (capped, on the target's clock) and tries again, up
// to retries times. A call still throttled returns a transient
// *ThrottledError. fn's own error is returned otherwise.
func (t *Target) call(ctx context.Context, op string, retries int, fn func(ctx context.Context) error) error {
	p := retry.Policy{Clock: t.clock, MaxAttempts: retries + 1,
		Delay: func(_ int, err error) (time.Duration, bool) {
			var te *ThrottledError
			if !errors.As(err, &te) {
				return 0, false
			}
			return retry.UntilReset(t.clock.Now(), te.Reset, time.Second, maxBackoff), true
		},
		OnWait: func(attempt int, wait time.Duration, _ error) {
			t.log.Info("okta rate limit reached; waiting for it to reset",
				zap.String("op", op), zap.Duration("wait", wait), zap.Int("attempt", attempt))
		},
	}
	res, err := p.Do(ctx, func(ctx context.Context) error {
		st := &callState{}
		err := fn(context.WithValue(ctx, callStateKey{}, st))
		if throttled, reset := st.get(); err != nil && throttled {
			return rotator.Transient(&ThrottledError{Op: op, Reset: reset})
		}
		return err
	})
	if res.Stop == retry.StopCanceled {
		return ctx.Err()
	}
	return err
}
