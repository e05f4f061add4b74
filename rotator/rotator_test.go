package rotator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// notifications records alerts.
type notifications struct {
	mu     sync.Mutex
	events []Event
}

func (n *notifications) Notify(_ context.Context, ev Event) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.events = append(n.events, ev)
	return nil
}

type harness struct {
	w      *world
	core   zapcore.Core
	logs   *observer.ObservedLogs
	alerts *notifications
	manual bool
	// usage, when set, gives the rotator a CloudTrail fake.
	usage *fakeUsage
	// configure, when set, changes each rotator the harness builds.
	configure func(*Rotator)
}

func newHarness(w *world) *harness {
	core, logs := observer.New(zapcore.DebugLevel)
	return &harness{w: w, core: core, logs: logs, alerts: &notifications{}}
}

func (h *harness) rotator() *Rotator {
	log := zap.New(h.core)
	ts := make([]Target, len(h.w.targets))
	for i, t := range h.w.targets {
		ts[i] = t
		if t.asHolder {
			ts[i] = holdingTarget{t}
		}
		if t.watcher {
			ts[i] = watcherTarget{t, h.usage}
		}
	}
	var iss Issuer = fakeIssuer{h.w}
	if h.manual {
		iss = manualIssuer{fakeIssuer{h.w}}
	}
	r := &Rotator{Issuer: iss, Prover: fakeProver{h.w}, Store: newFakeStore(h.w), Targets: ts,
		Notifier: h.alerts, Clock: fakeClock{h.w}, Log: log, RotateBefore: 720 * time.Hour, ConfirmTimeout: 90 * time.Minute,
		Instance: "d-1234567890", Region: "us-east-1"}
	if h.usage != nil {
		r.Usage = *h.usage
		r.UsagePolicy = UsagePolicy{QuietPeriod: 15 * time.Minute, DeliveryDelay: 5 * time.Minute, PollInterval: 30 * time.Second}
	}
	if h.configure != nil {
		h.configure(r)
	}
	return r
}

// run runs the rotator once; a kill (runtime.Goexit in a fake) ends it like a
// dead process, and run reports killed.
func (h *harness) run(opts RunOptions) (res Result, killed bool) {
	done := make(chan struct{})
	killed = true
	h.w.mu.Lock()
	h.w.dying = false
	h.w.mu.Unlock()
	go func() {
		defer close(done)
		res = h.rotator().Run(context.Background(), opts)
		killed = false
	}()
	<-done
	h.w.checkInvariant("after run")
	return res, killed
}

// assertNoLeak scans every log line, result and alert for token values.
func (h *harness) assertNoLeak(t *testing.T, results ...Result) {
	t.Helper()
	var out []string
	for _, e := range h.logs.All() {
		out = append(out, e.Message+" "+fmt.Sprint(e.ContextMap()))
	}
	for _, r := range results {
		out = append(out, fmt.Sprintf("%+v %v %v", r, r.Err, r.Message), strings.Join(r.NextActions, "\n"))
	}
	h.alerts.mu.Lock()
	for _, e := range h.alerts.events {
		out = append(out, fmt.Sprintf("%+v", e))
	}
	h.alerts.mu.Unlock()
	for _, s := range out {
		if strings.Contains(s, "LEAKCANARY") {
			t.Fatalf("token value leaked: %s", s)
		}
	}
}

func (h *harness) current() *Record {
	st := h.w.load()
	return st.Current
}

// assertRotated checks the end state of a finished rotation.
func (h *harness) assertRotated(t *testing.T) {
	t.Helper()
	w := h.w
	if len(w.violations) > 0 {
		t.Fatalf("invariants broken: %v", w.violations)
	}
	cur := h.current()
	if cur == nil {
		t.Fatal("nothing recorded as current")
	}
	if !w.valid(cur.Value.Reveal()) {
		t.Fatal("current token is not accepted by SCIM")
	}
	for _, tg := range w.targets {
		if tg.held != cur.Value.Reveal() {
			t.Fatalf("target %s does not hold the current token", tg.name)
		}
	}
	if len(w.tokens) != 1 {
		t.Fatalf("want only the new token left in Identity Center, have %d", len(w.tokens))
	}
	if w.maxHeld > 2 {
		t.Fatalf("held %d tokens at once", w.maxHeld)
	}
}

func TestFirstRotationWithoutRecord(t *testing.T) {
	w := newWorld()
	oldID, oldVal := w.seed(w.now.AddDate(0, -11, -10))
	a, b := w.addTarget("a"), w.addTarget("b")
	a.held, b.held = oldVal, oldVal
	h := newHarness(w)
	res, _ := h.run(RunOptions{})
	if res.Outcome != ReasonRotated || res.ExitCode() != 0 {
		t.Fatalf("outcome %s (%v): %s", res.Outcome, res.Err, res.Message)
	}
	h.assertRotated(t)
	if _, ok := w.tokens[oldID]; ok {
		t.Fatal("old token not deleted")
	}
	if len(h.alerts.events) != 1 || h.alerts.events[0].Outcome != ReasonRotated || h.alerts.events[0].OldTokenID != oldID {
		t.Fatalf("alerts: %+v", h.alerts.events)
	}
	if ev := h.alerts.events[0]; ev.DaysLeft < 364 || ev.NewTokenID == "" || ev.NewExpiry.IsZero() {
		t.Fatalf("a Rotated alert must give the new token's id, expiry and days left: %+v", ev)
	}
	h.assertNoLeak(t, res)
}

func TestNotDueChangesNothing(t *testing.T) {
	w := newWorld()
	_, val := w.seed(w.now.AddDate(0, -2, 0))
	tg := w.addTarget("a")
	tg.held = val
	h := newHarness(w)
	if err := h.rotator().StageCurrent(context.Background(), "tok-1", NewSecret(val), time.Time{}); err != nil {
		t.Fatal(err)
	}
	before := w.state()
	res, _ := h.run(RunOptions{})
	if res.Outcome != ReasonNotDue || res.ExitCode() != 0 || w.state() != before {
		t.Fatalf("outcome %s, state %s -> %s", res.Outcome, before, w.state())
	}
	if !strings.Contains(res.Message, "tok-1") {
		t.Fatalf("message does not name the live token: %s", res.Message)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	w := newWorld()
	w.seed(w.now.AddDate(0, -2, 0))
	w.addTarget("a")
	h := newHarness(w)
	res, _ := h.run(RunOptions{Now: true, DryRun: true})
	if res.Outcome != ReasonDryRun || w.mutations != 0 || len(res.Plan.Steps()) == 0 {
		t.Fatalf("outcome %s, %d mutations, steps %v", res.Outcome, w.mutations, res.Plan.Steps())
	}
}

func TestTwoTokensWithoutRecordIsBlocked(t *testing.T) {
	w := newWorld()
	w.seed(w.now.AddDate(0, -11, -20))
	w.seed(w.now.AddDate(0, -6, 0))
	w.addTarget("a")
	h := newHarness(w)
	res, _ := h.run(RunOptions{})
	if res.Outcome != ReasonBlocked || res.ExitCode() != 1 {
		t.Fatalf("outcome %s", res.Outcome)
	}
	for _, id := range []string{"tok-1", "tok-2", "stage --current"} {
		if !strings.Contains(res.Message, id) {
			t.Fatalf("blocked message lacks %q: %s", id, res.Message)
		}
	}
	if len(w.tokens) != 2 || w.store.progress != nil || len(w.store.stages) != 0 {
		t.Fatal("a blocked run changed something")
	}
}

func TestMakeRoom(t *testing.T) {
	for _, tc := range []struct {
		name      string
		record    bool // record tok-2 as current
		expireOne bool // tok-1 already expired
	}{
		{"unused token deleted when current is recorded", true, false},
		{"expired token deleted without a record", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			if tc.expireOne {
				w.seed(w.now.AddDate(-1, 0, -3))
			} else {
				w.seed(w.now.AddDate(0, -3, 0))
			}
			_, live := w.seed(w.now.AddDate(0, -11, -15))
			tg := w.addTarget("a")
			tg.held = live
			h := newHarness(w)
			if tc.record {
				if err := h.rotator().StageCurrent(context.Background(), "tok-2", NewSecret(live), time.Time{}); err != nil {
					t.Fatal(err)
				}
			}
			res, _ := h.run(RunOptions{})
			if res.Outcome != ReasonRotated {
				t.Fatalf("outcome %s: %s %v", res.Outcome, res.Message, res.Err)
			}
			h.assertRotated(t)
		})
	}
}

// failOn injects err into the n-th call of name (1-based).
func failOn(name string, n int, err error) func(string) error {
	var mu sync.Mutex
	count := 0
	return func(call string) error {
		if call != name {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		count++
		if count == n {
			return err
		}
		return nil
	}
}

func TestRollbackWithRecordedOldToken(t *testing.T) {
	for _, failing := range []string{"target.b.Confirm", "target.b.Test", "target.b.Push", "target.a.Confirm"} {
		t.Run(failing, func(t *testing.T) {
			w := newWorld()
			oldID, old := w.seed(w.now.AddDate(0, -11, -10))
			a, b := w.addTarget("a"), w.addTarget("b")
			a.held, b.held = old, old
			h := newHarness(w)
			if err := h.rotator().StageCurrent(context.Background(), oldID, NewSecret(old), time.Time{}); err != nil {
				t.Fatal(err)
			}
			w.fail = failOn(failing, 1, errors.New("injected failure"))
			res, _ := h.run(RunOptions{})
			if res.Outcome != ReasonRolledBack || res.ExitCode() != 1 {
				t.Fatalf("outcome %s: %s", res.Outcome, res.Message)
			}
			if a.held != old || b.held != old {
				t.Fatal("targets not back on the old token")
			}
			if len(w.tokens) != 1 || w.tokens[oldID] == nil {
				t.Fatal("want only the old token left")
			}
			if st := w.load(); st.Pending != nil || st.Current.ID != oldID {
				t.Fatal("pending not dropped or current changed")
			}
			if len(w.violations) > 0 {
				t.Fatal(w.violations)
			}
			// The next run starts a fresh rotation and completes it.
			w.fail = nil
			if res, _ := h.run(RunOptions{}); res.Outcome != ReasonRotated {
				t.Fatalf("second run: %s %s", res.Outcome, res.Message)
			}
			h.assertRotated(t)
		})
	}
}

func TestValidateFailureSwitchesNothing(t *testing.T) {
	w := newWorld()
	_, old := w.seed(w.now.AddDate(0, -11, -10))
	a, b := w.addTarget("a"), w.addTarget("b")
	a.held, b.held = old, old
	h := newHarness(w)
	w.fail = failOn("target.b.Validate", 1, fmt.Errorf("b refuses: %w", ErrTokenRejected))
	res, _ := h.run(RunOptions{})
	if res.Outcome != ReasonRolledBack || a.pushes != 0 || b.pushes != 0 {
		t.Fatalf("outcome %s, pushes %d/%d", res.Outcome, a.pushes, b.pushes)
	}
	if len(w.tokens) != 1 {
		t.Fatal("new token not deleted")
	}
}

func TestFailureWithoutOldValueKeepsBothTokens(t *testing.T) {
	w := newWorld()
	_, old := w.seed(w.now.AddDate(0, -11, -10))
	a, b := w.addTarget("a"), w.addTarget("b")
	a.held, b.held = old, old
	h := newHarness(w)
	w.fail = failOn("target.b.Confirm", 1, errors.New("sync failed"))
	res, _ := h.run(RunOptions{})
	if res.Outcome != ReasonFailed || res.ExitCode() != 1 {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Message)
	}
	if len(w.tokens) != 2 {
		t.Fatalf("both tokens must be kept, have %d", len(w.tokens))
	}
	st := w.load()
	if st.Pending == nil || st.Progress.Phase != PhaseStuck {
		t.Fatal("pending version must be kept and the rotation marked stuck")
	}
	if !strings.Contains(res.Message, "a=Confirmed") || !strings.Contains(res.Message, "b=Failed") {
		t.Fatalf("message must give each target's state: %s", res.Message)
	}
	if len(w.violations) > 0 {
		t.Fatal(w.violations)
	}
	// The next run resumes and finishes.
	w.fail = nil
	res, _ = h.run(RunOptions{})
	if res.Outcome != ReasonRotated {
		t.Fatalf("resume: %s %s", res.Outcome, res.Message)
	}
	h.assertRotated(t)
	h.assertNoLeak(t, res)
}

func TestCreateWithLostAnswerIsReconciled(t *testing.T) {
	w := newWorld()
	_, old := w.seed(w.now.AddDate(0, -11, -10))
	tg := w.addTarget("a")
	tg.held = old
	h := newHarness(w)
	// The token is created but the answer is lost.
	w.fail = func(call string) error { return nil }
	w.killAt, w.killAfter = 0, false
	var once sync.Once
	w.fail = func(call string) error {
		if call != "issuer.CreateToken" {
			return nil
		}
		var err error
		once.Do(func() {
			// Create the token behind the rotator's back, then fail.
			w.mu.Lock()
			w.seq++
			w.tokens["tok-lost"] = &fakeToken{TokenInfo{ID: "tok-lost", Created: w.now, Expires: w.now.AddDate(1, 0, 0)}, "LEAKCANARY-lost"}
			w.mu.Unlock()
			err = errors.New("connection reset")
		})
		return err
	}
	res, _ := h.run(RunOptions{})
	if res.Outcome != ReasonFailed {
		t.Fatalf("outcome %s", res.Outcome)
	}
	if _, ok := w.tokens["tok-lost"]; ok {
		t.Fatal("token created by the lost call was not deleted")
	}
	res, _ = h.run(RunOptions{})
	if res.Outcome != ReasonRotated {
		t.Fatalf("next run: %s %s", res.Outcome, res.Message)
	}
	h.assertRotated(t)
}

// TestKillBetweenAnyTwoSteps kills the run at every mutating call, before
// and after the call takes effect, then runs again until done: the next run
// must finish, never hold a third token, never delete a token in use, and
// leave every target on a working token at every stop.
func TestKillBetweenAnyTwoSteps(t *testing.T) {
	for _, record := range []bool{false, true} {
		// Count the mutating calls of an undisturbed rotation.
		w := newWorld()
		_, old := w.seed(w.now.AddDate(0, -11, -10))
		w.addTarget("a").held = old
		w.addTarget("b").held = old
		h := newHarness(w)
		if record {
			_ = h.rotator().StageCurrent(context.Background(), "tok-1", NewSecret(old), time.Time{})
		}
		base := w.mutations
		h.run(RunOptions{})
		total := w.mutations - base
		if total < 8 {
			t.Fatalf("suspiciously few mutating calls: %d", total)
		}
		for at := 1; at <= total; at++ {
			for _, after := range []bool{false, true} {
				t.Run(fmt.Sprintf("record=%v/call%d/after=%v", record, at, after), func(t *testing.T) {
					w := newWorld()
					_, old := w.seed(w.now.AddDate(0, -11, -10))
					w.addTarget("a").held = old
					w.addTarget("b").held = old
					h := newHarness(w)
					if record {
						_ = h.rotator().StageCurrent(context.Background(), "tok-1", NewSecret(old), time.Time{})
					}
					w.killAt, w.killAfter, w.mutations = at, after, 0
					_, killed := h.run(RunOptions{})
					if !killed {
						t.Fatalf("run was not killed at call %d", at)
					}
					w.killAt = 0
					// The dead run's lock holds others off until it expires.
					before := w.state()
					if w.store.lock.Held(w.now) {
						if res, _ := h.run(RunOptions{}); res.Outcome != ReasonBusy || res.ExitCode() != 0 || w.state() != before {
							t.Fatalf("run beside a dead run's live lock: %s, state %s -> %s", res.Outcome, before, w.state())
						}
					}
					w.advance(DefaultLockTimeout + time.Second)
					var res Result
					for i := 0; i < 3; i++ {
						res, _ = h.run(RunOptions{})
						// A run killed after its last change leaves nothing to do.
						if (res.Outcome == ReasonRotated || res.Outcome == ReasonNotDue) && len(w.tokens) == 1 {
							break
						}
					}
					if res.Outcome != ReasonRotated && res.Outcome != ReasonNotDue {
						t.Fatalf("not finished after restarts: %s %s", res.Outcome, res.Message)
					}
					h.assertRotated(t)
					if w.created > 2 {
						t.Fatalf("created %d tokens", w.created)
					}
				})
			}
		}
	}
}

func TestHandoffThenContinue(t *testing.T) {
	w := newWorld()
	_, old := w.seed(w.now.AddDate(0, -11, -10))
	a := w.addTarget("a")
	a.held, a.handoff = old, true
	h := newHarness(w)
	res, _ := h.run(RunOptions{})
	if res.Outcome != ReasonAwaitingHandoff || res.ExitCode() != 0 {
		t.Fatalf("outcome %s", res.Outcome)
	}
	if len(w.tokens) != 2 {
		t.Fatal("both tokens must be kept while waiting")
	}
	steps := strings.Join(res.NextActions, "\n")
	for _, want := range []string{"fake-cli get --stage AWSPENDING", "https://console.example/a", "rotate --continue"} {
		if !strings.Contains(steps, want) {
			t.Fatalf("hand-off steps lack %q:\n%s", want, steps)
		}
	}
	// A later run without --continue reminds and changes nothing.
	before := w.state()
	res, _ = h.run(RunOptions{})
	if res.Outcome != ReasonAwaitingHandoff || w.state() != before || !strings.Contains(strings.Join(res.NextActions, "\n"), "AWSPENDING") {
		t.Fatalf("reminder run: %s, state %s -> %s", res.Outcome, before, w.state())
	}
	// The human pastes the token, then continues.
	st := w.load()
	a.held = st.Pending.Value.Reveal()
	res, _ = h.run(RunOptions{Continue: true})
	if res.Outcome != ReasonRotated {
		t.Fatalf("continue: %s %s", res.Outcome, res.Message)
	}
	h.assertRotated(t)
	h.assertNoLeak(t, res)
}

func TestHandoffTimeoutAlertsWithoutDeleting(t *testing.T) {
	w := newWorld()
	_, old := w.seed(w.now.AddDate(0, -11, -10))
	a := w.addTarget("a")
	a.held, a.handoff = old, true
	h := newHarness(w)
	h.run(RunOptions{})
	w.now = w.now.Add(2 * time.Hour)
	res, _ := h.run(RunOptions{})
	if res.Outcome != ReasonFailed || res.ExitCode() != 1 || len(w.tokens) != 2 {
		t.Fatalf("outcome %s, %d tokens", res.Outcome, len(w.tokens))
	}
}

func TestManualIssuer(t *testing.T) {
	w := newWorld()
	_, old := w.seed(w.now.AddDate(0, -11, -10))
	a := w.addTarget("a")
	a.held = old
	h := newHarness(w)
	h.manual = true
	r := h.rotator()
	if err := r.StageCurrent(context.Background(), "tok-1", NewSecret(old), w.now.AddDate(0, 0, 20)); err != nil {
		t.Fatal(err)
	}
	res, _ := h.run(RunOptions{})
	if res.Outcome != ReasonAwaitingToken || !strings.Contains(res.Message, "stage --token-file") {
		t.Fatalf("due manual rotation: %s %s", res.Outcome, res.Message)
	}
	// The operator generates a token in the console and stages it.
	newID, newVal := w.seed(w.now)
	if _, err := r.StagePending(context.Background(), newID, NewSecret(newVal)); err != nil {
		t.Fatal(err)
	}
	res, _ = h.run(RunOptions{})
	if res.Outcome != ReasonRotated || a.held != newVal {
		t.Fatalf("manual rotation: %s %s", res.Outcome, res.Message)
	}
	if !strings.Contains(strings.Join(res.NextActions, " "), "Delete the old token tok-1") {
		t.Fatalf("operator not told which token to delete: %v", res.NextActions)
	}
	if len(w.tokens) != 2 {
		t.Fatal("the manual issuer must not delete tokens")
	}
	if _, err := r.StagePending(context.Background(), "x", NewSecret("LEAKCANARY-bogus")); err == nil || !errors.Is(err, ErrTokenRejected) {
		t.Fatalf("a token the SCIM endpoint refuses must not be staged: %v", err)
	}
	h.assertNoLeak(t, res)
}

func TestStageCurrentRejectsUnknownAndInvalid(t *testing.T) {
	w := newWorld()
	_, val := w.seed(w.now.AddDate(0, -1, 0))
	h := newHarness(w)
	r := h.rotator()
	if err := r.StageCurrent(context.Background(), "tok-9", NewSecret(val), time.Time{}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("unknown id: %v", err)
	}
	err := r.StageCurrent(context.Background(), "tok-1", NewSecret("LEAKCANARY-wrong"), time.Time{})
	if err == nil || strings.Contains(err.Error(), "LEAKCANARY") {
		t.Fatalf("wrong value: %v", err)
	}
}
