// Package retry is the one retry loop of the adapters: call, classify the
// failure, wait on the injected clock (or until the context ends), call
// again; bounded by a number of calls, a deadline, or both. The adapters
// decide what is transient and how long to wait (Retry-After, a rate
// limit's reset); this package only runs the loop, so that every adapter
// waits, gives up and honours cancellation the same way.
package retry

import (
	"context"
	"time"

	"github.com/scim-rotator/scim-rotator/rotator"
)

// Policy is how Do retries.
type Policy struct {
	Clock rotator.Clock
	// MaxAttempts bounds the calls (0: no bound; then Deadline should).
	MaxAttempts int
	// Deadline, if set, is never waited past: once the clock reaches it a
	// retryable failure ends Do with StopDeadline.
	Deadline time.Time
	// Delay says whether the failure err of call attempt (from 1) is worth
	// another call, and after how long.
	Delay func(attempt int, err error) (wait time.Duration, retry bool)
	// OnWait, if set, is told of each wait before it starts (for a log line).
	OnWait func(attempt int, wait time.Duration, err error)
	// Beat, if set, is the longest piece a wait is slept in: OnWait is told
	// again before each piece, with what is left of the wait (a wait that
	// reports its progress stays silent no longer; rotator.WaitBeat).
	Beat time.Duration
}

// Stop is why Do returned.
type Stop int

// Why Do returned.
const (
	// StopDone: the call succeeded.
	StopDone Stop = iota
	// StopPermanent: Delay refused to retry the failure.
	StopPermanent
	// StopAttempts: MaxAttempts calls failed, the last one retryable.
	StopAttempts
	// StopDeadline: the deadline passed with a retryable failure.
	StopDeadline
	// StopCanceled: the context ended while waiting.
	StopCanceled
)

// Result is how Do ended: why, and after how many calls.
type Result struct {
	Stop     Stop
	Attempts int
}

// Do calls op until it succeeds or the policy stops it, and returns why
// with op's last error (nil when it succeeded). When the context ends
// during a wait the error is still op's last one: ctx.Err() is the cause.
func (p Policy) Do(ctx context.Context, op func(ctx context.Context) error) (Result, error) {
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil {
			return Result{StopDone, attempt}, nil
		}
		wait, retry := p.Delay(attempt, err)
		switch {
		case !retry:
			return Result{StopPermanent, attempt}, err
		case p.MaxAttempts > 0 && attempt >= p.MaxAttempts:
			return Result{StopAttempts, attempt}, err
		}
		if !p.Deadline.IsZero() {
			left := p.Deadline.Sub(p.Clock.Now())
			if left <= 0 {
				return Result{StopDeadline, attempt}, err
			}
			wait = min(wait, left)
		}
		for {
			piece := wait
			if p.Beat > 0 {
				piece = min(wait, p.Beat)
			}
			if p.OnWait != nil {
				p.OnWait(attempt, wait, err)
			}
			if Sleep(ctx, p.Clock, piece) != nil {
				return Result{StopCanceled, attempt}, err
			}
			if wait -= piece; wait <= 0 {
				break
			}
		}
	}
}

// Sleep waits d on clock, or returns ctx.Err() if ctx ends first (or has
// already ended: a clock that fires at once does not win the race).
func Sleep(ctx context.Context, clock rotator.Clock, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-clock.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// UntilReset is how long to wait for a rate limit that resets at reset:
// until then plus a second (the server's clock may be ahead of ours), at
// least floor and at most ceiling. An unknown (zero) reset waits floor.
func UntilReset(now, reset time.Time, floor, ceiling time.Duration) time.Duration {
	if reset.IsZero() {
		return floor
	}
	return min(max(reset.Sub(now)+time.Second, floor), ceiling)
}
