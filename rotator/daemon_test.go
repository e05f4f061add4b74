package rotator

import (
	"context"
	"testing"
	"time"
)

func TestExpiryWatchAlertsOncePerDayWhileBlocked(t *testing.T) {
	w := newWorld()
	w.seed(w.now.AddDate(0, -11, -20)) // expires in ~10 days
	w.seed(w.now.AddDate(0, -6, 0))
	w.addTarget("a")
	h := newHarness(w)
	d := &Daemon{Rotator: h.rotator()}
	expiring := func() int {
		n := 0
		for _, e := range h.alerts.events {
			if e.Outcome == ReasonExpiringSoon {
				n++
				if e.DaysLeft < 7 || e.DaysLeft > 11 {
					t.Fatalf("days left %d", e.DaysLeft)
				}
			}
		}
		return n
	}
	if res := d.Tick(t.Context()); res.Outcome != ReasonBlocked {
		t.Fatalf("outcome %s", res.Outcome)
	}
	d.Tick(t.Context())
	if n := expiring(); n != 1 {
		t.Fatalf("want one expiry alert on the first day, got %d", n)
	}
	w.now = w.now.Add(25 * time.Hour)
	d.Tick(t.Context())
	if n := expiring(); n != 2 {
		t.Fatalf("want a second expiry alert a day later, got %d", n)
	}
	if !d.Ready() {
		t.Fatal("a blocked rotation still reads every system: the daemon is ready")
	}
}

func TestExpiryWatchQuietWhenNotDue(t *testing.T) {
	w := newWorld()
	w.seed(w.now.AddDate(0, -1, 0))
	w.seed(w.now.AddDate(0, -2, 0))
	w.addTarget("a")
	h := newHarness(w)
	d := &Daemon{Rotator: h.rotator()}
	d.Tick(t.Context())
	for _, e := range h.alerts.events {
		if e.Outcome == ReasonExpiringSoon {
			t.Fatal("no expiry alert outside the rotation window")
		}
	}
}

func TestDaemonNotReadyWhenStateUnreadable(t *testing.T) {
	w := newWorld()
	w.addTarget("a")
	w.fail = func(call string) error {
		if call == "store.Load" {
			return context.DeadlineExceeded
		}
		return nil
	}
	d := &Daemon{Rotator: newHarness(w).rotator()}
	if res := d.Tick(t.Context()); res.Outcome != ReasonInterrupted || d.Ready() {
		t.Fatalf("outcome %s ready %v", res.Outcome, d.Ready())
	}
}

func TestDaemonStopsOnCancel(t *testing.T) {
	w := newWorld()
	w.seed(w.now.AddDate(0, -1, 0))
	w.addTarget("a")
	d := &Daemon{Rotator: newHarness(w).rotator(), Schedule: "@every 1h", Parser: testParser}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestInterruptedRunResumesWithoutRollback(t *testing.T) {
	w := newWorld()
	_, old := w.seed(w.now.AddDate(0, -11, -10))
	a := w.addTarget("a")
	a.held = old
	h := newHarness(w)
	ctx, cancel := context.WithCancel(t.Context())
	w.fail = func(call string) error {
		if call == "target.a.Confirm" {
			cancel() // SIGTERM arrives while confirming
			return context.Canceled
		}
		return nil
	}
	res := h.rotator().Run(ctx, RunOptions{})
	if res.Outcome != ReasonInterrupted || len(w.tokens) != 2 {
		t.Fatalf("outcome %s, %d tokens", res.Outcome, len(w.tokens))
	}
	w.fail = nil
	res, _ = h.run(RunOptions{})
	if res.Outcome != ReasonRotated {
		t.Fatalf("resume: %s %s", res.Outcome, res.Message)
	}
	h.assertRotated(t)
}

func TestTickBound(t *testing.T) {
	tests := []struct {
		confirm time.Duration
		targets int
		want    time.Duration
	}{
		{90 * time.Minute, 1, 2 * time.Hour},
		{90 * time.Minute, 3, 5 * time.Hour},
		{45 * time.Minute, 0, 75 * time.Minute},
	}
	for _, tt := range tests {
		if got := TickBound(tt.confirm, tt.targets); got != tt.want {
			t.Errorf("TickBound(%s, %d) = %s, want %s", tt.confirm, tt.targets, got, tt.want)
		}
	}
}

// hangingIssuer blocks ListTokens until its context ends, as a call
// stuck on a dead connection does until its deadline.
type hangingIssuer struct {
	Issuer
	entered  chan struct{}
	deadline chan time.Time
}

func (h hangingIssuer) Tokens() TokenAPI { return listVia{h.Issuer, h.ListTokens} }

func (h hangingIssuer) ListTokens(ctx context.Context) ([]TokenInfo, error) {
	dl, _ := ctx.Deadline()
	h.deadline <- dl
	close(h.entered)
	<-ctx.Done()
	return nil, ctx.Err()
}

// A tick runs under a deadline of TickTimeout; while it overruns the bound
// (on the rotator's clock) the daemon is not healthy, and it is again once
// the tick ends.
func TestTickBoundedAndHealth(t *testing.T) {
	w := newWorld()
	w.seed(w.now.AddDate(0, -1, 0))
	w.addTarget("a")
	r := newHarness(w).rotator()
	hang := hangingIssuer{Issuer: r.Issuer, entered: make(chan struct{}), deadline: make(chan time.Time, 1)}
	r.Issuer = hang
	d := &Daemon{Rotator: r, TickTimeout: 2 * time.Hour}
	if !d.Healthy() {
		t.Fatal("unhealthy before any tick")
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan Result)
	before := time.Now()
	go func() { done <- d.Tick(ctx) }()
	<-hang.entered
	if dl := <-hang.deadline; dl.IsZero() || dl.Before(before.Add(2*time.Hour)) || dl.After(time.Now().Add(2*time.Hour)) {
		t.Errorf("tick deadline %v, want now + 2h", dl)
	}
	if !d.Healthy() {
		t.Error("unhealthy within the bound")
	}
	w.mu.Lock()
	w.now = w.now.Add(2*time.Hour + time.Second)
	w.mu.Unlock()
	if d.Healthy() {
		t.Error("healthy while the tick overruns its bound")
	}
	cancel() // the stuck call ends at last
	<-done
	if !d.Healthy() {
		t.Error("unhealthy after the tick ended")
	}
}
