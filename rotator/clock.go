package rotator

import "time"

// Clock is the source of time for every timing decision (when to rotate, how
// long to wait for a sync). Tests pass a fake one; nothing here sleeps on the
// wall clock directly.
type Clock interface {
	Now() time.Time
	// After delivers the time once d has passed, like time.After.
	After(d time.Duration) <-chan time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

func (RealClock) Now() time.Time                         { return time.Now() }
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
