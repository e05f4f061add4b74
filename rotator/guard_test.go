package rotator

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"
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
	if !strings.Contains(errs, "target b panicked: a panic that is not a runtime error") || !strings.Contains(errs, "health panicked") {
		t.Fatalf("errors %q, want target b and health named as panicked", errs)
	}
	if strings.Contains(errs, "LEAKCANARY") || strings.Contains(errs, "errors.") {
		t.Fatalf("the panic's value or its Go type reached the errors: %q", errs)
	}
	if len(rep.Tokens) != 1 {
		t.Fatalf("tokens %+v, want the one listed", rep.Tokens)
	}
}

// hangingRotator has targets a (answers), b (never answers, even once its
// context ends, like a call without a timeout) and c (answers). Call it
// inside a synctest bubble: b's call then stays durably blocked until the
// test ends.
func hangingRotator(t *testing.T) *Rotator {
	t.Helper()
	w := newWorld()
	w.seed(w.now.AddDate(0, -2, 0))
	a, b, c := w.addTarget("a"), w.addTarget("b"), w.addTarget("c")
	r := newHarness(w).rotator()
	never := make(chan struct{})
	t.Cleanup(func() { close(never) })
	r.Targets = []Target{inspectingTarget{fakeTarget: a},
		inspectingTarget{fakeTarget: b, check: func(context.Context) []CheckResult { <-never; return nil },
			status: func(context.Context) (SystemStatus, error) { <-never; return SystemStatus{}, nil }},
		inspectingTarget{fakeTarget: c}}
	return r
}

var errTimedOut = errors.New("timed out after 2m0s")

// withDeadline is the command's context as --timeout 2m makes it. In a
// synctest bubble its clock is the bubble's (virtual): it ends once every
// other goroutine is blocked, so the systems that answer have answered by
// then, without a sleep.
func withDeadline(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeoutCause(t.Context(), 2*time.Minute, errTimedOut)
	t.Cleanup(cancel)
	return ctx
}

// A system that never answers is the only one that reports "timed out",
// named as configured, at the deadline; every other one answers (each is
// asked in a goroutine of its own) and the results keep the configured order.
func TestCheckDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := hangingRotator(t)
		res := r.Check(withDeadline(t))
		var order []string
		for _, c := range res {
			order = append(order, c.System+" "+c.Target+" "+string(c.Level))
		}
		want := "fake a OK,target b FAIL,fake c OK,rotation  WARN,rotation  WARN,rotation  OK"
		if got := strings.Join(order, ","); got != want {
			t.Fatalf("results %s, want %s (all: %+v)", got, want, res)
		}
		b := findCheck(res, "target", "b")
		if b.Detail != "target b: timed out after 2m0s" || !strings.Contains(b.Fix, "--timeout") {
			t.Fatalf("target b: %+v, want it named as configured, timed out, with a fix", b)
		}
	})
}

func TestStatusDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := hangingRotator(t)
		rep := r.Status(withDeadline(t))
		if len(rep.Systems) != 2 || rep.Systems[0].Target != "a" || rep.Systems[1].Target != "c" {
			t.Fatalf("systems %+v, want a then c (they answered in time)", rep.Systems)
		}
		if got := strings.Join(rep.Errors, "\n"); got != "target b: timed out after 2m0s" {
			t.Fatalf("errors %q, want only target b, named as configured, timed out", got)
		}
		if len(rep.Tokens) != 1 || rep.Next.Action != ActionNone {
			t.Fatalf("tokens %+v, next %+v: want the token and the plan despite b", rep.Tokens, rep.Next)
		}
	})
}

// The results keep the configured order whatever order the systems answer
// in: here c answers first and a only once c has.
func TestStatusAndCheckKeepTheConfiguredOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		w.seed(w.now.AddDate(0, -2, 0))
		a, c := w.addTarget("a"), w.addTarget("c")
		r := newHarness(w).rotator()
		var cCheck, cStatus = make(chan struct{}), make(chan struct{})
		r.Targets = []Target{
			inspectingTarget{fakeTarget: a,
				check: func(context.Context) []CheckResult {
					<-cCheck
					return []CheckResult{{System: "fake", Target: "a", Name: "read", Level: LevelOK}}
				},
				status: func(context.Context) (SystemStatus, error) {
					<-cStatus
					return SystemStatus{System: "fake", Target: "a"}, nil
				}},
			inspectingTarget{fakeTarget: c,
				check: func(context.Context) []CheckResult {
					defer close(cCheck)
					return []CheckResult{{System: "fake", Target: "c", Name: "read", Level: LevelOK}}
				},
				status: func(context.Context) (SystemStatus, error) {
					defer close(cStatus)
					return SystemStatus{System: "fake", Target: "c"}, nil
				}}}
		res := r.Check(withDeadline(t))
		if len(res) < 2 || res[0].Target != "a" || res[1].Target != "c" {
			t.Fatalf("check %+v, want a then c", res)
		}
		rep := r.Status(withDeadline(t))
		if len(rep.Systems) != 2 || rep.Systems[0].Target != "a" || rep.Systems[1].Target != "c" || len(rep.Errors) != 0 {
			t.Fatalf("status systems %+v, errors %q: want a then c, no error", rep.Systems, rep.Errors)
		}
	})
}

// hangingUsage is a CloudTrail that never answers (a busy directory's day of
// events, read page by page past --timeout).
type hangingUsage struct{ never <-chan struct{} }

func (h hangingUsage) Uses(context.Context, time.Time, time.Time) ([]Use, error) {
	<-h.never
	return nil, nil
}

func (h hangingUsage) Latest(context.Context, UsageQuery) (UsageRead, error) {
	<-h.never
	return UsageRead{}, nil
}

func (h hangingUsage) Check(context.Context) []CheckResult {
	<-h.never
	return nil
}

func (h hangingUsage) Status(context.Context) (SystemStatus, error) {
	<-h.never
	return SystemStatus{}, nil
}

// cloudTrailHangs is a rotator with targets a and c and a CloudTrail that
// never answers.
func cloudTrailHangs(t *testing.T, w *world) *Rotator {
	a, c := w.addTarget("a"), w.addTarget("c")
	r := newHarness(w).rotator()
	never := make(chan struct{})
	t.Cleanup(func() { close(never) })
	r.Usage = hangingUsage{never}
	r.Targets = []Target{inspectingTarget{fakeTarget: a}, inspectingTarget{fakeTarget: c}}
	return r
}

// A CloudTrail that does not answer in time costs only what it reads: every
// other system is reported, the tokens and the plan are shown, and the
// tokens' use is "not known", never "unused".
func TestStatusWithAHangingCloudTrail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		w.seed(w.now.AddDate(0, -2, 0))
		r := cloudTrailHangs(t, w)
		rep := r.Status(withDeadline(t))
		if len(rep.Systems) != 2 || rep.Systems[0].Target != "a" || rep.Systems[1].Target != "c" {
			t.Fatalf("systems %+v, want a then c", rep.Systems)
		}
		want := "look up token use: timed out after 2m0s\nusage: timed out after 2m0s"
		if got := strings.Join(rep.Errors, "\n"); got != want {
			t.Fatalf("errors %q, want %q", got, want)
		}
		if len(rep.Tokens) != 1 || !rep.Tokens[0].Live || rep.Tokens[0].Use != nil || !rep.Tokens[0].UseUnknown {
			t.Fatalf("tokens %+v, want the live token with its use not known", rep.Tokens)
		}
		if rep.Next.Action != ActionNone {
			t.Fatalf("next %+v, want the plan", rep.Next)
		}

		res := r.Check(withDeadline(t))
		var order []string
		for _, c := range res {
			order = append(order, c.System+" "+c.Target+" "+string(c.Level))
		}
		if got := strings.Join(order, ","); got != "usage  FAIL,fake a OK,fake c OK,rotation  WARN,rotation  OK" {
			t.Fatalf("check %s (all: %+v)", got, res)
		}
		if u := findCheck(res, "usage", ""); u.Detail != "usage: timed out after 2m0s" {
			t.Fatalf("usage: %+v", u)
		}
	})
}

// With two unrecorded tokens the plan needs CloudTrail's look-back: when it
// does not answer, the tokens are still shown and the plan is blocked, as
// after a failed lookup, saying why.
func TestStatusLookbackWithAHangingCloudTrail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		w.seed(w.now.AddDate(-1, 0, 14))
		w.seed(w.now.AddDate(0, -2, 0))
		r := cloudTrailHangs(t, w)
		rep := r.Status(withDeadline(t))
		if len(rep.Tokens) != 2 || len(rep.Systems) != 2 {
			t.Fatalf("tokens %+v, systems %+v: want both tokens and targets a and c", rep.Tokens, rep.Systems)
		}
		if len(rep.Errors) == 0 || rep.Errors[0] != "look up token use to tell the two unrecorded tokens apart: timed out after 2m0s" {
			t.Fatalf("errors %q", rep.Errors)
		}
		if rep.Next.Action != ActionBlocked {
			t.Fatalf("next %+v, want blocked", rep.Next)
		}
		res := r.Check(withDeadline(t))
		plan := res[len(res)-1]
		if plan.Level != LevelFail || !strings.Contains(plan.Detail, "(look up token use to tell the two unrecorded tokens apart: timed out after 2m0s)") {
			t.Fatalf("plan %+v", plan)
		}
	})
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

// A call that fails because the command's deadline passed (an SDK's own
// "context deadline exceeded") is reported as the deadline, whichever of the
// two Guard sees first; a call that answered in time keeps its own error.
func TestGuardDeadlineIsTheCause(t *testing.T) {
	cause := errors.New("timed out after 5s (--timeout)")
	ctx, cancel := context.WithCancelCause(t.Context())
	_, err := Guard(ctx, nil, "usage", func() (int, error) {
		cancel(cause)
		return 0, errors.New("operation error CloudTrail: LookupEvents, canceled, context deadline exceeded")
	})
	if err != cause {
		t.Fatalf("got %v, want the deadline's cause", err)
	}
	_, err = Guard(t.Context(), nil, "usage", func() (int, error) { return 0, errors.New("AccessDenied") })
	if err == nil || err.Error() != "AccessDenied" {
		t.Fatalf("an answer in time: %v", err)
	}
}
