package rotator

import (
	"context"
	"slices"
	"sync"
	"testing"
)

// gate is an Issuer whose ListTokens (a pass's first call to the issuer)
// waits to be let through, or for its context to end, and records how many
// passes of the fleet wait in it at once.
type gate struct {
	Issuer
	entered chan struct{}
	release chan struct{}
	shared  *inFlight
}

// inFlight counts the passes inside gates, and the most at once.
type inFlight struct {
	mu       sync.Mutex
	now, max int
}

func (g gate) Tokens() TokenAPI { return listVia{g.Issuer, g.ListTokens} }

func (g gate) ListTokens(ctx context.Context) ([]TokenInfo, error) {
	g.shared.mu.Lock()
	g.shared.now++
	g.shared.max = max(g.shared.max, g.shared.now)
	g.shared.mu.Unlock()
	defer func() {
		g.shared.mu.Lock()
		g.shared.now--
		g.shared.mu.Unlock()
	}()
	g.entered <- struct{}{}
	select {
	case <-g.release:
		return g.Issuer.Tokens().ListTokens(ctx)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fleetMember is one instance of a test fleet: a live token not due, one
// target, and its harness (its own logs and alerts).
func fleetMember(t *testing.T, name string) (*Daemon, *harness) {
	t.Helper()
	w := newWorld()
	w.seed(w.now.AddDate(0, -1, 0))
	w.addTarget("a")
	h := newHarness(w)
	return &Daemon{Name: name, Rotator: h.rotator()}, h
}

// gated makes d's passes wait at a gate.
func gated(d *Daemon, shared *inFlight) gate {
	g := gate{Issuer: d.Rotator.Issuer, entered: make(chan struct{}, 1), release: make(chan struct{}), shared: shared}
	d.Rotator.Issuer = g
	return g
}

func skipped(h *harness) int {
	return h.logs.FilterMessage("tick skipped: a rotation pass is still running").Len()
}

// A slow instance skips the ticks that come while its pass runs; the other
// instances' passes go on every tick, and the fleet is ready once each
// instance has had a pass.
func TestFleetSlowInstanceDelaysOnlyItself(t *testing.T) {
	slow, hs := fleetMember(t, "slow")
	fast, hf := fleetMember(t, "fast")
	g := gated(slow, &inFlight{})
	f := &Fleet{Daemons: []*Daemon{slow, fast}, Parallelism: 2}

	first := f.Tick(t.Context())
	<-g.entered
	<-first[1]
	second := f.Tick(t.Context())
	if second[0] != nil || second[1] == nil {
		t.Fatalf("second tick started slow %v, fast %v: want fast only", second[0] != nil, second[1] != nil)
	}
	<-second[1]
	if skipped(hs) != 1 || skipped(hf) != 0 {
		t.Fatalf("skips logged: slow %d, fast %d; want 1, 0", skipped(hs), skipped(hf))
	}
	if !fast.Ready() || f.Ready() || !slices.Equal(f.NotReady(), []string{"slow"}) {
		t.Fatalf("fast ready %v, fleet ready %v, not ready %v", fast.Ready(), f.Ready(), f.NotReady())
	}
	g.release <- struct{}{}
	<-first[0]
	if !f.Ready() || !f.Healthy() {
		t.Fatalf("after every pass: ready %v healthy %v", f.Ready(), f.Healthy())
	}
	// The slow instance takes the next tick again.
	third := f.Tick(t.Context())
	<-g.entered
	g.release <- struct{}{}
	<-third[0]
	<-third[1]
}

// No more than Parallelism passes run at once; each waiting instance runs
// when a slot frees.
func TestFleetParallelismBound(t *testing.T) {
	shared := &inFlight{}
	var ds []*Daemon
	var gs []gate
	for _, name := range []string{"a", "b", "c"} {
		d, _ := fleetMember(t, name)
		ds = append(ds, d)
		gs = append(gs, gated(d, shared))
	}
	f := &Fleet{Daemons: ds, Parallelism: 2}
	done := f.Tick(t.Context())
	// Two passes enter and are held; the third can enter only once one of
	// them is let through.
	entered := make(chan int, len(gs))
	for i, g := range gs {
		go func() {
			<-g.entered
			entered <- i
		}()
	}
	first, second := <-entered, <-entered
	gs[first].release <- struct{}{}
	third := <-entered
	gs[second].release <- struct{}{}
	gs[third].release <- struct{}{}
	for _, ch := range done {
		<-ch
	}
	if shared.max != 2 {
		t.Fatalf("at most %d passes at once, want 2", shared.max)
	}
	if !f.Ready() {
		t.Fatalf("not ready: %v", f.NotReady())
	}
}

// An instance whose state cannot be read, or whose pass panics, leaves
// the others' passes and readiness alone.
func TestFleetFailureStaysWithItsInstance(t *testing.T) {
	broken, _ := fleetMember(t, "broken")
	broken.Rotator.Store.(fakeStore).w.fail = func(call string) error {
		if call == "store.Load" {
			return context.DeadlineExceeded
		}
		return nil
	}
	panics, hp := fleetMember(t, "panics")
	panics.Rotator.Issuer = panicIssuer{panics.Rotator.Issuer}
	ok, _ := fleetMember(t, "ok")
	f := &Fleet{Daemons: []*Daemon{broken, panics, ok}, Parallelism: 1}
	for _, ch := range f.Tick(t.Context()) {
		<-ch
	}
	if got := f.NotReady(); !slices.Equal(got, []string{"broken", "panics"}) || !ok.Ready() {
		t.Fatalf("not ready %v, ok ready %v", got, ok.Ready())
	}
	if hp.logs.FilterMessage("rotation pass panicked; the other instances go on").Len() != 1 {
		t.Fatal("the panic was not logged")
	}
	// The panicked instance's next pass runs again.
	if done := f.Tick(t.Context()); done[1] == nil {
		t.Fatal("the instance whose pass panicked skipped the next tick")
	}
}

type panicIssuer struct{ Issuer }

func (p panicIssuer) Tokens() TokenAPI {
	return listVia{p.Issuer, func(context.Context) ([]TokenInfo, error) { panic("boom") }}
}

// Cancelling Run (SIGTERM) takes no more ticks and waits for every running
// pass to stop; passes waiting for a slot do not start.
func TestFleetRunStopsEveryPass(t *testing.T) {
	shared := &inFlight{}
	a, _ := fleetMember(t, "a")
	b, _ := fleetMember(t, "b")
	ga, gb := gated(a, shared), gated(b, shared)
	f := &Fleet{Daemons: []*Daemon{a, b}, Schedule: "@every 1h", Parser: testParser, Parallelism: 1}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- f.Run(ctx) }()
	// One of the two passes holds the only slot; the other waits.
	select {
	case <-ga.entered:
	case <-gb.entered:
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if a.running.Load() || b.running.Load() || shared.max != 1 || shared.now != 0 {
		t.Fatalf("after Run: running %v %v, max %d, in flight %d", a.running.Load(), b.running.Load(), shared.max, shared.now)
	}
}
