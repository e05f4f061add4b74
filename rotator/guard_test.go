package rotator

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// inspectingTarget is a fake target with a read-only side: check and status
// answer what its funcs say (nil: OK).
type inspectingTarget struct {
	*fakeTarget
	check  func(ctx context.Context) []CheckResult
	status func(ctx context.Context) (SystemStatus, error)
}

func (t inspectingTarget) Check(ctx context.Context) []CheckResult {
	if t.check != nil {
		return t.check(ctx)
	}
	return []CheckResult{{System: "fake", Target: t.name, Name: "read", Level: LevelOK}}
}

func (t inspectingTarget) Status(ctx context.Context) (SystemStatus, error) {
	if t.status != nil {
		return t.status(ctx)
	}
	return SystemStatus{System: "fake", Target: t.name, Fields: []Field{{Key: "ok", Value: true}}}, nil
}

// nilDeref panics as a nil HTTP client does: a runtime error.
func nilDeref() {
	var p *struct{ n int }
	_ = p.n
}

// panickingWatch is an expiry watch whose every call panics.
type panickingWatch struct{}

func (panickingWatch) Notices(context.Context) ([]ExpiryNotice, error) {
	nilDeref()
	return nil, nil
}

func (panickingWatch) Check(context.Context) []CheckResult {
	nilDeref()
	return nil
}

// guardedRotator has targets a (answers), b (panics, its value holding a
// canary) and c (answers), and an expiry watch that panics.
func guardedRotator(t *testing.T) (*harness, *Rotator) {
	t.Helper()
	w := newWorld()
	w.seed(w.now.AddDate(0, -2, 0))
	a, b, c := w.addTarget("a"), w.addTarget("b"), w.addTarget("c")
	h := newHarness(w)
	r := h.rotator()
	boom := func() { panic(errors.New("LEAKCANARY-panic-value")) }
	r.Targets = []Target{inspectingTarget{fakeTarget: a},
		inspectingTarget{fakeTarget: b, check: func(context.Context) []CheckResult { boom(); return nil },
			status: func(context.Context) (SystemStatus, error) { boom(); return SystemStatus{}, nil }},
		inspectingTarget{fakeTarget: c}}
	r.Health = panickingWatch{}
	return h, r
}

func findCheck(res []CheckResult, system, target string) *CheckResult {
	for i := range res {
		if res[i].System == system && res[i].Target == target {
			return &res[i]
		}
	}
	return nil
}

// A system whose check panics is that system's FAIL, named, without its
// panic value or a stack; every other system still reports.
func TestCheckPanicIsThatSystemsFail(t *testing.T) {
	h, r := guardedRotator(t)
	res := r.Check(t.Context())
	for _, name := range []string{"a", "c"} {
		if c := findCheck(res, "fake", name); c == nil || c.Level != LevelOK {
			t.Errorf("target %s: %+v, want its own OK (all: %+v)", name, c, res)
		}
	}
	b := findCheck(res, "target", "b")
	if b == nil || b.Level != LevelFail || !strings.Contains(b.Detail, "target b") || !strings.Contains(b.Detail, "panicked") || b.Fix == "" {
		t.Fatalf("target b: %+v, want a FAIL naming it as panicked, with a fix", b)
	}
	hc := findCheck(res, "health", "")
	if hc == nil || hc.Level != LevelFail || !strings.Contains(hc.Detail, "health panicked: runtime error: invalid memory address") {
		t.Fatalf("health: %+v, want a FAIL with the runtime error", hc)
	}
	if plan := findCheck(res, "rotation", ""); plan == nil {
		t.Fatalf("no plan after the panics: %+v", res)
	}
	for _, c := range res {
		if strings.Contains(c.Detail+c.Fix, "LEAKCANARY") || strings.Contains(c.Detail, "goroutine") {
			t.Fatalf("a panic's value or stack reached the output: %+v", c)
		}
	}
	if logged := h.logs.FilterMessageSnippet("panicked").Len(); logged != 2 {
		t.Fatalf("%d panics logged, want 2 (target b, health)", logged)
	}
	for _, e := range h.logs.All() {
		for _, f := range e.Context {
			if strings.Contains(f.String, "LEAKCANARY") {
				t.Fatalf("the panic's value reached the log: %v", e.Context)
			}
		}
	}
}

// The same in status: the panic is an error naming the system; the other
// systems are shown.
func TestStatusPanicIsThatSystemsError(t *testing.T) {
	_, r := guardedRotator(t)
	rep := r.Status(t.Context())
	var shown []string
	for _, s := range rep.Systems {
		shown = append(shown, strings.TrimSpace(s.System+" "+s.Target))
	}
	if got := strings.Join(shown, ","); got != "fake a,fake c,health" {
		t.Fatalf("systems shown %q, want fake a, fake c and health", got)
	}
	errs := strings.Join(rep.Errors, "\n")
	if !strings.Contains(errs, "target b panicked") || !strings.Contains(errs, "health panicked") {
		t.Fatalf("errors %q, want target b and health named as panicked", errs)
	}
	if strings.Contains(errs, "LEAKCANARY") {
		t.Fatalf("the panic's value reached the errors: %q", errs)
	}
	if len(rep.Tokens) != 1 {
		t.Fatalf("tokens %+v, want the one listed", rep.Tokens)
	}
}

// hangingRotator has targets a (answers), b (never answers, even once its
// context ends, like a call without a timeout) and c; entered is closed
// when b's call begins.
func hangingRotator(t *testing.T) (r *Rotator, entered <-chan struct{}) {
	t.Helper()
	w := newWorld()
	w.seed(w.now.AddDate(0, -2, 0))
	a, b, c := w.addTarget("a"), w.addTarget("b"), w.addTarget("c")
	r = newHarness(w).rotator()
	in, never := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(never) })
	hang := func() { close(in); <-never }
	r.Targets = []Target{inspectingTarget{fakeTarget: a},
		inspectingTarget{fakeTarget: b, check: func(context.Context) []CheckResult { hang(); return nil },
			status: func(context.Context) (SystemStatus, error) { hang(); return SystemStatus{}, nil }},
		inspectingTarget{fakeTarget: c}}
	return r, in
}

var errTimedOut = errors.New("timed out after 2m0s")

// cancelWhen ends a context with errTimedOut, as --timeout does, once
// entered is closed.
func cancelWhen(t *testing.T, entered <-chan struct{}) context.Context {
	ctx, cancel := context.WithCancelCause(t.Context())
	t.Cleanup(func() { cancel(nil) })
	go func() {
		<-entered
		cancel(errTimedOut)
	}()
	return ctx
}

// When the deadline passes, the system still asked and every one not yet
// asked report FAIL "timed out after ..."; the ones that answered keep their
// results.
func TestCheckDeadline(t *testing.T) {
	r, entered := hangingRotator(t)
	res := r.Check(cancelWhen(t, entered))
	if a := findCheck(res, "fake", "a"); a == nil || a.Level != LevelOK {
		t.Fatalf("target a answered before the deadline: %+v", res)
	}
	for _, c := range []*CheckResult{findCheck(res, "target", "b"), findCheck(res, "target", "c"), findCheck(res, "rotation", "")} {
		if c == nil || c.Level != LevelFail || !strings.Contains(c.Detail, "timed out after 2m0s") {
			t.Fatalf("%+v, want FAIL timed out (all: %+v)", c, res)
		}
	}
	if b := findCheck(res, "target", "b"); !strings.Contains(b.Detail, "target b") || !strings.Contains(b.Fix, "--timeout") {
		t.Fatalf("target b: %+v, want it named, with a fix", b)
	}
}

func TestStatusDeadline(t *testing.T) {
	r, entered := hangingRotator(t)
	rep := r.Status(cancelWhen(t, entered))
	if len(rep.Systems) != 1 || rep.Systems[0].Target != "a" {
		t.Fatalf("systems %+v, want only a (it answered in time)", rep.Systems)
	}
	errs := strings.Join(rep.Errors, "\n")
	for _, name := range []string{"target b: timed out after 2m0s", "target c: timed out after 2m0s"} {
		if !strings.Contains(errs, name) {
			t.Fatalf("errors %q, want %q", errs, name)
		}
	}
}

// A daemon whose expiry watch (or notifier) panics on every tick stays
// ready: Health is not a system rotations need, and its failure is logged.
func TestDaemonReadyWhenHealthPanics(t *testing.T) {
	w := newWorld()
	w.seed(w.now.AddDate(0, -2, 0))
	w.addTarget("a")
	h := newHarness(w)
	r := h.rotator()
	r.Health = panickingWatch{}
	r.Notifier = panickingNotifier{}
	d := &Daemon{Rotator: r}
	f := &Fleet{Daemons: []*Daemon{d}}
	for range 2 {
		for _, ch := range f.Tick(t.Context()) {
			<-ch
		}
		if !d.Ready() {
			t.Fatal("a panicking Health watch made the daemon not ready")
		}
	}
	if n := h.logs.FilterMessage("expiry watch").Len(); n != 2 {
		t.Fatalf("%d expiry watch failures logged, want one per tick", n)
	}
	if n := h.logs.FilterMessage("rotation pass panicked; the other instances go on").Len(); n != 0 {
		t.Fatal("the pass itself panicked")
	}
}

type panickingNotifier struct{}

func (panickingNotifier) Notify(context.Context, Event) error {
	nilDeref()
	return nil
}

// A call that ends with runtime.Goexit still answers (an error), and one
// that returns answers with its result even when ctx ends.
func TestGuardAnswers(t *testing.T) {
	_, err := Guard(t.Context(), nil, "x", func() (int, error) { runtime.Goexit(); return 0, nil })
	if !errors.Is(err, ErrPanicked) {
		t.Fatalf("Goexit: %v", err)
	}
	v, err := Guard(t.Context(), nil, "x", func() (int, error) { return 7, nil })
	if v != 7 || err != nil {
		t.Fatalf("got %d, %v", v, err)
	}
	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(errTimedOut)
	called := false
	if _, err := Guard(ctx, nil, "x", func() (int, error) { called = true; return 0, nil }); !errors.Is(err, errTimedOut) || called {
		t.Fatalf("after the deadline: %v, called %v", err, called)
	}
}
