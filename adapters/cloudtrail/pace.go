package cloudtrail

import (
	"context"
	"sync"
	"time"

	"github.com/aws/smithy-go/middleware"
	"golang.org/x/time/rate"

	"github.com/scim-rotator/scim-rotator/adapters/internal/awsbase"
	"github.com/scim-rotator/scim-rotator/adapters/internal/retry"
	"github.com/scim-rotator/scim-rotator/rotator"
)

const (
	// lookupInterval paces page requests: LookupEvents allows about two per
	// second per account and region, shared with every other caller.
	lookupInterval = 600 * time.Millisecond
	// slowestInterval is as slow as throttling makes the pacer.
	slowestInterval = 10 * time.Second
)

// pacer spaces LookupEvents requests on the injected clock. It sits in the
// SDK's middleware stack after the retry middleware, so every attempt, the
// SDK's own retries of a throttled request included, waits its turn (a pacer
// around the API call is bypassed by those retries). A ThrottlingException
// halves its rate (down to one request every slowestInterval): others use
// the account's rate too; each success wins a quarter back, up to the
// documented rate.
type pacer struct {
	clock   rotator.Clock
	mu      sync.Mutex
	limiter *rate.Limiter
}

var _ middleware.FinalizeMiddleware = (*pacer)(nil)

func newPacer(clock rotator.Clock) *pacer {
	return &pacer{clock: clock, limiter: rate.NewLimiter(rate.Every(lookupInterval), 1)}
}

// install puts the pacer after the retry middleware (so inside each
// attempt) and before signing (a request signed after its wait).
func (p *pacer) install(stack *middleware.Stack) error {
	if err := stack.Finalize.Insert(p, "Retry", middleware.After); err == nil {
		return nil
	}
	return stack.Finalize.Add(p, middleware.After)
}

// ID names the middleware.
func (p *pacer) ID() string { return "scim-rotator/PaceLookupEvents" }

// HandleFinalize waits for the request's turn, sends it, and adjusts the
// rate to the answer.
func (p *pacer) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	if err := p.wait(ctx); err != nil {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, err
	}
	out, md, err := next.HandleFinalize(ctx, in)
	p.answered(err)
	return out, md, err
}

// wait waits until the next request fits the rate.
func (p *pacer) wait(ctx context.Context) error {
	p.mu.Lock()
	now := p.clock.Now()
	r := p.limiter.ReserveN(now, 1)
	d := r.DelayFrom(now)
	p.mu.Unlock()
	if d <= 0 {
		return nil
	}
	if err := retry.Sleep(ctx, p.clock, d); err != nil {
		p.mu.Lock()
		r.CancelAt(p.clock.Now())
		p.mu.Unlock()
		return err
	}
	return nil
}

// answered slows down after a throttled request, and speeds back up after
// a successful one.
func (p *pacer) answered(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now, l := p.clock.Now(), p.limiter.Limit()
	switch {
	case awsbase.Throttled(err):
		p.limiter.SetLimitAt(now, max(l/2, rate.Every(slowestInterval)))
	case err == nil && l < rate.Every(lookupInterval):
		p.limiter.SetLimitAt(now, min(l*5/4, rate.Every(lookupInterval)))
	}
}

// interval is the pacer's current spacing (tests).
func (p *pacer) interval() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return time.Duration(float64(time.Second) / float64(p.limiter.Limit()))
}
