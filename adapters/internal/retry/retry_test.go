package retry

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

// fakeClock fires every After at once and moves its time forward by the
// wait, recording it: no test sleeps.
type fakeClock struct {
	now   time.Time
	waits []time.Duration
	// cancel, if set, is called on the first wait instead of firing it.
	cancel context.CancelFunc
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	if c.cancel != nil {
		c.cancel()
		return ch // never fires: the context ends first
	}
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	ch <- c.now
	return ch
}

var (
	errTransient = errors.New("transient")
	errPermanent = errors.New("permanent")
)

func TestDo(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// delay retries errTransient after 2s<<(attempt-1).
	delay := func(attempt int, err error) (time.Duration, bool) {
		return 2 * time.Second << (attempt - 1), errors.Is(err, errTransient)
	}
	cases := []struct {
		name     string
		results  []error // op's answer per call; past the end: errTransient
		max      int
		deadline time.Duration // from t0; 0: none
		cancel   bool
		want     Result
		wantErr  error
		waits    []time.Duration
	}{
		{name: "first call succeeds", results: []error{nil}, max: 3, want: Result{StopDone, 1}},
		{name: "transient then success", results: []error{errTransient, errTransient, nil}, max: 5,
			want: Result{StopDone, 3}, waits: []time.Duration{2 * time.Second, 4 * time.Second}},
		{name: "permanent stops at once", results: []error{errTransient, errPermanent}, max: 5,
			want: Result{StopPermanent, 2}, wantErr: errPermanent, waits: []time.Duration{2 * time.Second}},
		{name: "attempts run out", max: 3, want: Result{StopAttempts, 3}, wantErr: errTransient,
			waits: []time.Duration{2 * time.Second, 4 * time.Second}},
		{name: "one attempt never waits", max: 1, want: Result{StopAttempts, 1}, wantErr: errTransient},
		{name: "the last wait is cut at the deadline", deadline: 5 * time.Second, want: Result{StopDeadline, 3},
			wantErr: errTransient, waits: []time.Duration{2 * time.Second, 3 * time.Second}},
		{name: "canceled while waiting", cancel: true, max: 5, want: Result{StopCanceled, 1}, wantErr: errTransient},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			clock := &fakeClock{now: t0}
			if tc.cancel {
				clock.cancel = cancel
			}
			p := Policy{Clock: clock, MaxAttempts: tc.max, Delay: delay}
			if tc.deadline > 0 {
				p.Deadline = t0.Add(tc.deadline)
			}
			var told []time.Duration
			p.OnWait = func(_ int, wait time.Duration, _ error) { told = append(told, wait) }
			calls := 0
			res, err := p.Do(ctx, func(context.Context) error {
				calls++
				if calls <= len(tc.results) {
					return tc.results[calls-1]
				}
				return errTransient
			})
			if res != tc.want || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Errorf("Do = %+v, %v; want %+v, %v", res, err, tc.want, tc.wantErr)
			}
			if calls != tc.want.Attempts {
				t.Errorf("%d calls, result says %d", calls, tc.want.Attempts)
			}
			if !reflect.DeepEqual(clock.waits, tc.waits) {
				t.Errorf("waited %v, want %v", clock.waits, tc.waits)
			}
			if tc.cancel && ctx.Err() == nil {
				t.Error("canceled case: the context did not end")
			}
			if !tc.cancel && !reflect.DeepEqual(told, tc.waits) {
				t.Errorf("OnWait told %v, want %v", told, tc.waits)
			}
		})
	}
}

// With Beat, a long wait is slept in pieces, OnWait told before each with
// what is left of it: a waiting caller reports at least every Beat.
func TestBeat(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var told []time.Duration
	p := Policy{Clock: clock, MaxAttempts: 2, Beat: time.Minute,
		Delay:  func(int, error) (time.Duration, bool) { return 150 * time.Second, true },
		OnWait: func(_ int, wait time.Duration, _ error) { told = append(told, wait) }}
	res, _ := p.Do(t.Context(), func(context.Context) error { return errTransient })
	if res != (Result{StopAttempts, 2}) {
		t.Fatalf("Do = %+v", res)
	}
	if want := []time.Duration{time.Minute, time.Minute, 30 * time.Second}; !reflect.DeepEqual(clock.waits, want) {
		t.Errorf("waited %v, want %v", clock.waits, want)
	}
	if want := []time.Duration{150 * time.Second, 90 * time.Second, 30 * time.Second}; !reflect.DeepEqual(told, want) {
		t.Errorf("OnWait told %v, want %v", told, want)
	}
}

func TestUntilReset(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		reset time.Time
		want  time.Duration
	}{
		{"unknown reset waits the floor", time.Time{}, time.Second},
		{"reset in 10s waits 11s", now.Add(10 * time.Second), 11 * time.Second},
		{"reset in the past waits the floor", now.Add(-time.Minute), time.Second},
		{"a far reset waits the ceiling", now.Add(time.Hour), time.Minute},
	}
	for _, tc := range cases {
		if got := UntilReset(now, tc.reset, time.Second, time.Minute); got != tc.want {
			t.Errorf("%s: UntilReset = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestSleepEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	clock := &fakeClock{cancel: cancel}
	if err := Sleep(ctx, clock, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep = %v, want context.Canceled", err)
	}
}

// A context already ended wins over a clock that fires at once.
func TestSleepAfterTheContextEnded(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	clock := &fakeClock{}
	if err := Sleep(ctx, clock, 0); !errors.Is(err, context.Canceled) || len(clock.waits) != 0 {
		t.Errorf("Sleep = %v after %v; want context.Canceled without waiting", err, clock.waits)
	}
}
