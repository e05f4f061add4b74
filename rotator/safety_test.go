package rotator

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests are the promise under races, faults and a hostile store.

// recorded returns a world with one live token recorded as current and held
// by targets a and b.
func recorded(t *testing.T) (*world, *harness, string, string) {
	t.Helper()
	w := newWorld()
	oldID, old := w.seed(w.now.AddDate(0, -11, -10))
	w.addTarget("a").held = old
	w.addTarget("b").held = old
	h := newHarness(w)
	if err := h.rotator().StageCurrent(context.Background(), oldID, NewSecret(old), time.Time{}); err != nil {
		t.Fatal(err)
	}
	return w, h, oldID, old
}

func (h *harness) alertsOf(r Reason) int {
	h.alerts.mu.Lock()
	defer h.alerts.mu.Unlock()
	n := 0
	for _, e := range h.alerts.events {
		if e.Outcome == r {
			n++
		}
	}
	return n
}

func TestPlantedPendingRecord(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plant func(w *world, oldID string)
	}{
		{"foreign token and endpoint", func(w *world, oldID string) {
			w.store.versions["rot-evil"] = &Record{Token: Token{TokenInfo: TokenInfo{ID: "evil", Expires: w.now.AddDate(1, 0, 0)}, Value: NewSecret("LEAKCANARY-evil")},
				SCIMEndpoint: "https://attacker.example/scim/v2/", VersionID: "rot-evil"}
			w.store.stages[StagePending] = "rot-evil"
			w.store.progress = &Progress{RotationID: "rot-evil", Phase: PhaseCreated, NewTokenID: "evil", OldTokenID: oldID}
		}},
		{"the live token with a made-up value, no current record", func(w *world, oldID string) {
			delete(w.store.stages, StageCurrent)
			w.store.versions["rot-evil"] = &Record{Token: Token{TokenInfo: TokenInfo{ID: oldID, Expires: w.now.AddDate(1, 0, 0)}, Value: NewSecret("LEAKCANARY-evil")},
				SCIMEndpoint: "https://scim.example/tenant-1/scim/v2/", VersionID: "rot-evil"}
			w.store.stages[StagePending] = "rot-evil"
			w.store.progress = &Progress{RotationID: "rot-evil", Phase: PhaseCreated, NewTokenID: oldID}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, h, oldID, _ := recorded(t)
			w.mu.Lock()
			tc.plant(w, oldID)
			w.mu.Unlock()
			before := w.state()
			res, _ := h.run(RunOptions{})
			if res.Outcome != ReasonBlocked || res.ExitCode() != 1 {
				t.Fatalf("outcome %s: %s", res.Outcome, res.Message)
			}
			if w.state() != before || w.targets[0].pushes+w.targets[1].pushes != 0 || w.tokens[oldID] == nil {
				t.Fatalf("a planted record changed something: %s -> %s", before, w.state())
			}
			if h.alertsOf(ReasonBlocked) != 1 {
				t.Fatalf("no Blocked alert: %+v", h.alerts.events)
			}
			h.assertNoLeak(t, res)
			// Status reports it too.
			if st := h.rotator().Status(context.Background()); st.Next.Action != ActionBlocked || st.Next.Reason != ReasonBlocked {
				t.Fatalf("status does not report the untrusted record: %s", st.Next)
			}
		})
	}
}

func TestFailedSaveBeforePushPushesNothing(t *testing.T) {
	w, h, _, _ := recorded(t)
	// Writes of the state record: Creating, then Untouched -> Pushing of
	// target a.
	w.fail = failOn("store.Hold", 2, errors.New("AccessDeniedException"))
	res, _ := h.run(RunOptions{})
	if res.Outcome != ReasonInterrupted || res.ExitCode() != 1 {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Message)
	}
	if w.targets[0].pushes != 0 || w.targets[1].pushes != 0 {
		t.Fatal("a target was pushed although its pushing state was not saved")
	}
	w.fail = nil
	if res, _ := h.run(RunOptions{}); res.Outcome != ReasonRotated {
		t.Fatalf("next run: %s %s", res.Outcome, res.Message)
	}
	h.assertRotated(t)
}

func TestTransientPushFailureInterruptsWithoutRollback(t *testing.T) {
	w, h, oldID, _ := recorded(t)
	w.fail = failOn("target.b.Push", 1, Transient(errors.New("graph answered 503")))
	res, _ := h.run(RunOptions{})
	if res.Outcome != ReasonInterrupted || res.ExitCode() != 1 || res.FailedStep != "push b" {
		t.Fatalf("outcome %s step %q: %s", res.Outcome, res.FailedStep, res.Message)
	}
	if len(w.tokens) != 2 || w.tokens[oldID] == nil || w.store.stages[StagePending] == "" {
		t.Fatal("a transient failure must keep both tokens and the pending version")
	}
	if len(h.alerts.events) != 0 {
		t.Fatalf("a first transient failure pages nobody: %+v", h.alerts.events)
	}
	if res.Progress.Targets[1].State != TargetPushing {
		t.Fatalf("target b is recorded %s; after a failed push it may hold either token", res.Progress.Targets[1].State)
	}
	w.fail = nil
	res, _ = h.run(RunOptions{})
	if res.Outcome != ReasonRotated {
		t.Fatalf("next run: %s %s", res.Outcome, res.Message)
	}
	h.assertRotated(t)
	if w.targets[0].pushes != 1 {
		t.Fatalf("the confirmed target was pushed again (%d pushes)", w.targets[0].pushes)
	}
}

func TestTransientFailureAlertsOnlyWhenItLasts(t *testing.T) {
	w, h, _, _ := recorded(t)
	w.fail = func(call string) error {
		if call == "target.b.Push" {
			return Transient(errors.New("graph answered 503"))
		}
		return nil
	}
	for run := 1; run <= 3; run++ {
		res, _ := h.run(RunOptions{})
		if res.Outcome != ReasonInterrupted {
			t.Fatalf("run %d: %s", run, res.Outcome)
		}
		if got, want := h.alertsOf(ReasonInterrupted), map[bool]int{true: 1, false: 0}[run == 3]; got != want {
			t.Fatalf("run %d: %d Interrupted alerts, want %d", run, got, want)
		}
		w.advance(10 * time.Minute)
	}
	if len(w.violations) > 0 {
		t.Fatal(w.violations)
	}
}

func TestPersistentDeleteFailureFailsAndIsRetriedFirst(t *testing.T) {
	w, h, oldID, _ := recorded(t)
	w.fail = func(call string) error {
		if call == "issuer.DeleteToken" {
			return errors.New("AccessDeniedException: not allowed to delete")
		}
		return nil
	}
	res, _ := h.run(RunOptions{})
	if res.Outcome != ReasonFailed || res.ExitCode() != 1 || res.FailedStep != "delete old" {
		t.Fatalf("outcome %s step %q: %s", res.Outcome, res.FailedStep, res.Message)
	}
	if st := h.rotator().Status(context.Background()); h.alertsOf(ReasonFailed) != 1 || w.tokens[oldID] == nil || st.Rotation == nil || st.Rotation.Phase != PhasePromoted {
		t.Fatalf("want an alert, the old token kept and the rotation shown as promoted: %+v", st.Rotation)
	}
	w.fail = nil
	res, _ = h.run(RunOptions{Now: true}) // even --now finishes the old rotation first
	if res.Outcome != ReasonRotated || res.Plan.Action != ActionFinish || w.tokens[oldID] != nil {
		t.Fatalf("next run: %s %s (%s)", res.Outcome, res.Plan.Action, res.Message)
	}
	h.assertRotated(t)
}

func TestExactRollbackWithoutOldValue(t *testing.T) {
	// No old value recorded; target a can show what it holds and its push
	// is refused before it takes effect: it never left the old token.
	w := newWorld()
	oldID, old := w.seed(w.now.AddDate(0, -11, -10))
	a := w.addTarget("a")
	a.held, a.asHolder = old, true
	h := newHarness(w)
	w.fail = failOn("target.a.Push", 1, fmt.Errorf("400 Bad Request: %w", ErrTokenRejected))
	res, _ := h.run(RunOptions{})
	if res.Outcome != ReasonRolledBack {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Message)
	}
	if len(w.tokens) != 1 || w.tokens[oldID] == nil || a.held != old || w.store.stages[StagePending] != "" {
		t.Fatalf("want only the old token, held by a, and no pending version: %s", w.state())
	}

	// A target that cannot show what it holds keeps both tokens instead.
	w = newWorld()
	_, old = w.seed(w.now.AddDate(0, -11, -10))
	b := w.addTarget("b")
	b.held = old
	h = newHarness(w)
	w.fail = failOn("target.b.Push", 1, fmt.Errorf("400 Bad Request: %w", ErrTokenRejected))
	if res, _ := h.run(RunOptions{}); res.Outcome != ReasonFailed || len(w.tokens) != 2 {
		t.Fatalf("without proof both tokens stay: %s, %d tokens", res.Outcome, len(w.tokens))
	}
}

func TestBusy(t *testing.T) {
	w, h, _, _ := recorded(t)
	w.mu.Lock()
	w.store.lock = LockInfo{Owner: "other-host/pid-7/abc", Acquired: w.now, Expires: w.now.Add(time.Minute)}
	w.mu.Unlock()
	before := w.state()
	for _, tc := range []struct {
		opts RunOptions
		exit int
	}{{RunOptions{}, 0}, {RunOptions{Now: true}, 1}, {RunOptions{Continue: true}, 1}} {
		res, _ := h.run(tc.opts)
		if res.Outcome != ReasonBusy || res.ExitCode() != tc.exit {
			t.Fatalf("%+v: %s exit %d", tc.opts, res.Outcome, res.ExitCode())
		}
		if !strings.Contains(res.Message, "other-host/pid-7/abc") || !strings.Contains(res.Message, stamp(w.now.Add(time.Minute))) {
			t.Fatalf("Busy must say who holds the lock and until when: %s", res.Message)
		}
	}
	if w.state() != before || len(h.alerts.events) != 0 {
		t.Fatal("a Busy run changed something or alerted")
	}
	if err := h.rotator().StageCurrent(context.Background(), "tok-1", NewSecret("x"), time.Time{}); !errors.Is(err, ErrBusy) {
		t.Fatalf("stage beside a held lock: %v", err)
	}
	if st := h.rotator().Status(context.Background()); st.Lock == nil || st.Lock.Owner != "other-host/pid-7/abc" {
		t.Fatalf("status does not show the lock: %+v", st.Lock)
	}
	// An expired lock is taken over.
	w.advance(time.Minute + time.Second)
	if res, _ := h.run(RunOptions{}); res.Outcome != ReasonRotated {
		t.Fatalf("after the lock expired: %s %s", res.Outcome, res.Message)
	}
	h.assertRotated(t)
}

// raceAt starts a second run the first time call is made by the first run
// and waits for it: the second run must end Busy and change nothing.
func raceAt(t *testing.T, h *harness, call string, inner func(string) error) (second *Result) {
	var once sync.Once
	second = &Result{}
	h.w.fail = func(c string) error {
		if c == call {
			once.Do(func() {
				before := h.w.state()
				// The second process: its own Rotator, the same systems.
				*second = h.rotator().Run(context.Background(), RunOptions{Now: true})
				if second.Outcome != ReasonBusy || h.w.state() != before {
					t.Errorf("second run at %s: %s, state %s -> %s", call, second.Outcome, before, h.w.state())
				}
			})
		}
		if inner != nil {
			return inner(c)
		}
		return nil
	}
	return second
}

func TestTwoRunsRace(t *testing.T) {
	for _, call := range []string{"issuer.CreateToken", "target.a.Push", "target.b.Confirm", "store.Promote", "issuer.DeleteToken"} {
		t.Run(call, func(t *testing.T) {
			w, h, _, _ := recorded(t)
			second := raceAt(t, h, call, nil)
			res, _ := h.run(RunOptions{})
			if res.Outcome != ReasonRotated || second.Outcome != ReasonBusy {
				t.Fatalf("first %s, second %s", res.Outcome, second.Outcome)
			}
			h.assertRotated(t)
			if w.created != 1 {
				t.Fatalf("created %d tokens", w.created)
			}
		})
	}
	t.Run("rollback vs resume", func(t *testing.T) {
		w, h, oldID, old := recorded(t)
		// b's confirmation proves failure; while the first run pushes the
		// old token back to a, a second run tries to resume the rotation.
		var pushes int
		second := raceAt(t, h, "target.a.Push", func(c string) error {
			switch c {
			case "target.b.Confirm":
				return errors.New("sync failed: 401 from the SCIM endpoint")
			case "target.a.Push":
				pushes++
			}
			return nil
		})
		// Let a's first push happen; race on its second (the rollback's).
		first := h.w.fail
		h.w.fail = func(c string) error {
			if c == "target.a.Push" && pushes == 0 {
				pushes++
				return nil
			}
			return first(c)
		}
		res, _ := h.run(RunOptions{})
		if res.Outcome != ReasonRolledBack || second.Outcome != ReasonBusy {
			t.Fatalf("first %s (%s), second %s", res.Outcome, res.Message, second.Outcome)
		}
		if len(w.tokens) != 1 || w.tokens[oldID] == nil || w.targets[0].held != old || w.targets[1].held != old {
			t.Fatalf("after rollback: %s", w.state())
		}
		if len(w.violations) > 0 {
			t.Fatal(w.violations)
		}
	})
}

// waitWhileAdvancing is a confirmation that waits: it moves the fake clock
// half a lease at a time (yielding, never sleeping) until one of the
// channels is ready. The renewer's timer may be set after any given step,
// so the clock is moved until it fires.
func (w *world) waitWhileAdvancing(a chan struct{}, b <-chan struct{}) error {
	for i := 0; i < 10000; i++ {
		select {
		case <-a:
			return nil
		case <-b:
			return nil
		default:
		}
		w.advance(DefaultLockTimeout/2 + time.Second)
		runtime.Gosched()
	}
	return errors.New("nothing happened while the clock moved")
}

// A confirmation that waits two hours writes nothing while it waits: the
// lease lapses, and the step after the wait takes it again with one write.
// The whole rotation stays within its write budget.
func TestNoWriteWhileWaiting(t *testing.T) {
	w, h, _, _ := recorded(t)
	var during int
	start := w.writes
	w.targets[1].onConfirm = func(context.Context) error {
		w.mu.Lock()
		before := w.writes
		w.mu.Unlock()
		for range 240 {
			w.advance(30 * time.Second)
		}
		w.mu.Lock()
		during = w.writes - before
		w.mu.Unlock()
		return nil
	}
	if res, _ := h.run(RunOptions{}); res.Outcome != ReasonRotated {
		t.Fatalf("%s %s", res.Outcome, res.Message)
	}
	h.assertRotated(t)
	if during != 0 {
		t.Fatalf("%d store writes while a confirmation waited", during)
	}
	// Creating, the pending token, a's Pushing, b's Pushing, the lease
	// taken again after the wait (promote), Done.
	if n := w.writes - start; n != 6 {
		t.Fatalf("%d store writes for one rotation of two targets, want 6", n)
	}
}

// Another run takes the record over while this one waits (its lease
// lapsed): this run stops without promoting or deleting, ends Busy, and
// leaves the other run's lease alone.
func TestRecordTakenOverWhileConfirming(t *testing.T) {
	w, h, oldID, _ := recorded(t)
	w.targets[1].onConfirm = func(ctx context.Context) error {
		w.advance(DefaultLockTimeout + time.Second)
		w.mu.Lock()
		w.store.lock = LockInfo{Owner: "thief", Expires: w.now.Add(time.Hour)}
		w.store.record++
		w.mu.Unlock()
		return nil
	}
	res, _ := h.run(RunOptions{})
	if res.Outcome != ReasonBusy || res.Lock == nil || res.Lock.Owner != "thief" {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Message)
	}
	if w.tokens[oldID] == nil || len(w.tokens) != 2 || w.store.stages[StagePending] == "" || w.store.stages[StageCurrent] == w.store.stages[StagePending] {
		t.Fatalf("a run whose record was taken over must stop without promoting or deleting: %s", w.state())
	}
	if w.store.lock.Owner != "thief" {
		t.Fatal("a run released a lock it no longer held")
	}
}

// The record changed while this run waited, and nobody holds it now: the
// run observes again and carries the rotation on from what is recorded.
func TestRecordChangedWhileWaitingIsObservedAgain(t *testing.T) {
	w, h, _, _ := recorded(t)
	changed := false
	w.targets[1].onConfirm = func(ctx context.Context) error {
		if !changed {
			changed = true
			w.advance(DefaultLockTimeout + time.Second)
			w.mu.Lock()
			w.store.record++ // another run wrote, then gave the lease up
			w.mu.Unlock()
		}
		return nil
	}
	if res, _ := h.run(RunOptions{}); res.Outcome != ReasonRotated {
		t.Fatalf("%s %s", res.Outcome, res.Message)
	}
	h.assertRotated(t)
	if w.created != 1 {
		t.Fatalf("created %d tokens", w.created)
	}
}

// A current record planted with a made-up value for one of two tokens does
// not make the other one (the live one) deletable.
func TestPlantedCurrentRecordDeletesNothing(t *testing.T) {
	w := newWorld()
	_, live := w.seed(w.now.AddDate(0, -11, -10))
	other, _ := w.seed(w.now.AddDate(0, -6, 0))
	w.addTarget("a").held = live
	h := newHarness(w)
	w.mu.Lock()
	w.store.versions["v-evil"] = &Record{Token: Token{TokenInfo: w.tokens[other].TokenInfo, Value: NewSecret("LEAKCANARY-made-up")},
		SCIMEndpoint: "https://scim.example/tenant-1/scim/v2/", VersionID: "v-evil"}
	w.store.stages[StageCurrent] = "v-evil"
	w.mu.Unlock()
	res, _ := h.run(RunOptions{Now: true})
	if res.Outcome != ReasonBlocked || len(w.tokens) != 2 || w.created != 0 {
		t.Fatalf("%s: %s (%d tokens, %d created)", res.Outcome, res.Message, len(w.tokens), w.created)
	}
	h.assertNoLeak(t, res)
}

// A store that takes no new version (its quota reached by another writer)
// stops the run before a token is created: Interrupted, and alerted once
// the store says it has been full for an hour.
func TestStoreFullStopsBeforeCreating(t *testing.T) {
	for _, tc := range []struct {
		fullFor time.Duration
		alerts  int
	}{{10 * time.Minute, 0}, {2 * time.Hour, 1}} {
		t.Run(tc.fullFor.String(), func(t *testing.T) {
			w, h, _, _ := recorded(t)
			full := Transient(&StoreFullError{Err: errors.New("secret s is full"), Since: w.now.Add(-tc.fullFor)})
			w.fail = func(call string) error {
				if call == "store.Hold" {
					return full
				}
				return nil
			}
			res, _ := h.run(RunOptions{})
			if res.Outcome != ReasonInterrupted || res.ExitCode() != 1 || w.created != 0 || !strings.Contains(res.Err.Error(), "is full") {
				t.Fatalf("%s (%v), %d created", res.Outcome, res.Err, w.created)
			}
			if got := h.alertsOf(ReasonInterrupted); got != tc.alerts {
				t.Fatalf("%d alerts, want %d", got, tc.alerts)
			}
		})
	}
}

// A step failing for good keeps failing: after the alert, it is retried at
// most once an hour (no writes in between), and at once with --now.
func TestFailingStepIsRetriedHourly(t *testing.T) {
	w, h, _, _ := recorded(t)
	w.fail = func(call string) error {
		if call == "target.b.Push" {
			return Transient(errors.New("graph answered 503"))
		}
		return nil
	}
	for range 3 {
		h.run(RunOptions{})
		w.advance(10 * time.Minute)
	}
	writes, pushes := w.writes, w.targets[1].pushes
	for range 4 {
		res, _ := h.run(RunOptions{})
		if res.Outcome != ReasonInterrupted || res.Plan.Cause != CauseRetryLater {
			t.Fatalf("%s %s: %s", res.Outcome, res.Plan.Cause, res.Message)
		}
		w.advance(10 * time.Minute)
	}
	if w.writes != writes || w.targets[1].pushes != pushes {
		t.Fatalf("runs within the hour wrote %d versions and pushed %d times", w.writes-writes, w.targets[1].pushes-pushes)
	}
	w.advance(10 * time.Minute)
	if res, _ := h.run(RunOptions{}); res.Plan.Cause == CauseRetryLater {
		t.Fatal("not retried after an hour")
	}
	w.fail = nil
	if res, _ := h.run(RunOptions{Now: true}); res.Outcome != ReasonRotated {
		t.Fatalf("--now: %s %s", res.Outcome, res.Message)
	}
	h.assertRotated(t)
}
