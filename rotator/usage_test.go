package rotator

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// runWaiting runs the rotator while moving the fake clock (yielding, never
// sleeping), as the waits for CloudTrail need: only while someone waits on
// it, straight to the first timer due, so that a run starved of CPU never
// finds hours gone by.
func (h *harness) runWaiting(t *testing.T, opts RunOptions) Result {
	t.Helper()
	done := make(chan Result, 1)
	go func() { res, _ := h.run(opts); done <- res }()
	for i := 0; i < 2000000; i++ {
		select {
		case res := <-done:
			return res
		default:
		}
		h.w.advanceToTimer()
		runtime.Gosched()
	}
	t.Fatal("the run never ended while the clock moved")
	return Result{}
}

func usageWorld(t *testing.T) (*world, *harness, string, string) {
	t.Helper()
	w, h, oldID, old := recorded(t)
	h.usage = &fakeUsage{w: w, delivery: 2 * time.Minute}
	return w, h, oldID, old
}

func TestProofOfUseRotates(t *testing.T) {
	w, h, oldID, _ := usageWorld(t)
	start := w.now
	res := h.runWaiting(t, RunOptions{})
	if res.Outcome != ReasonRotated || w.tokens[oldID] != nil {
		t.Fatalf("%s: %s", res.Outcome, res.Message)
	}
	h.assertRotated(t)
	// The old token went only after a quiet period plus the delivery delay.
	if w.now.Sub(start) < 17*time.Minute {
		t.Fatalf("deleted after %s: no quiet period was waited out", w.now.Sub(start))
	}
}

func TestProofOfUseNeedsANonProductCall(t *testing.T) {
	// The targets confirm without a SCIM call Identity Center could log
	// (their "syncs" send a value that is no token); only the product's own
	// proof calls are logged, and they never count.
	w, h, oldID, _ := usageWorld(t)
	w.targets[0].sendsOld, w.targets[1].sendsOld = "none", "none"
	res := h.runWaiting(t, RunOptions{})
	if res.Outcome != ReasonFailed || res.FailedStep != "prove use" || !errors.Is(res.Err, errUsageTimeout) {
		t.Fatalf("%s at %q: %v", res.Outcome, res.FailedStep, res.Err)
	}
	if w.tokens[oldID] == nil || len(w.tokens) != 2 || w.store.stages[StagePending] == "" {
		t.Fatal("without proof of use nothing may be promoted or deleted")
	}
}

func TestOldTokenInUseThenQuiet(t *testing.T) {
	w, h, oldID, old := usageWorld(t)
	w.forgotten, w.forgottenNext = old, w.now
	res := h.runWaiting(t, RunOptions{})
	if res.Outcome != ReasonOldTokenInUse || res.ExitCode() != 1 {
		t.Fatalf("%s: %s", res.Outcome, res.Message)
	}
	if w.tokens[oldID] == nil || h.current().ID == oldID {
		t.Fatal("want the new token promoted and the old one kept")
	}
	if !strings.Contains(res.Message, "forgotten-job/1.0") || h.alertsOf(ReasonOldTokenInUse) != 1 {
		t.Fatalf("the alert must name the client: %s", res.Message)
	}
	// The client is fixed; a later run finds the old token quiet.
	w.forgotten = ""
	w.advance(30 * time.Minute)
	res = h.runWaiting(t, RunOptions{})
	if res.Outcome != ReasonRotated || w.tokens[oldID] != nil || res.Plan.Action != ActionFinish {
		t.Fatalf("later run: %s %s: %s", res.Outcome, res.Plan.Action, res.Message)
	}
	h.assertRotated(t)
}

func TestCanarySendingTheOldTokenStopsTheRotation(t *testing.T) {
	w, h, oldID, old := usageWorld(t)
	b := w.targets[1]
	b.canary, b.sendsOld = true, old // b's IdP did not save the new token
	res := h.runWaiting(t, RunOptions{})
	if res.Outcome != ReasonOldTokenInUse || res.FailedStep != "prove use b" || !strings.Contains(res.Message, "idp-b") {
		t.Fatalf("%s at %q: %s", res.Outcome, res.FailedStep, res.Message)
	}
	if w.tokens[oldID] == nil || h.current().ID != oldID || w.store.progress.Targets[1].State != TargetPushing {
		t.Fatalf("nothing may be promoted or deleted and b must be pushed again: %s", w.state())
	}
	b.sendsOld = ""
	if res := h.runWaiting(t, RunOptions{}); res.Outcome != ReasonRotated {
		t.Fatalf("next run: %s: %s", res.Outcome, res.Message)
	}
	h.assertRotated(t)
}

func TestCanaryWindowIgnoresOtherClients(t *testing.T) {
	// a is confirmed after b's canary: a's syncs with the old token before
	// its switch are outside b's canary window.
	w, h, _, old := usageWorld(t)
	w.targets[0], w.targets[1] = w.targets[1], w.targets[0]
	w.targets[0].canary = true
	w.targets[1].onConfirm = func(context.Context) error {
		w.advance(5 * time.Second) // later than b's canary, at CloudTrail's precision
		w.mu.Lock()
		w.logUse(old, "idp-a-before-switch")
		w.mu.Unlock()
		return nil
	}
	if res := h.runWaiting(t, RunOptions{}); res.Outcome != ReasonRotated {
		t.Fatalf("%s: %s", res.Outcome, res.Message)
	}
	h.assertRotated(t)
}

func TestUsageLookupDenied(t *testing.T) {
	w, h, oldID, _ := usageWorld(t)
	w.fail = func(call string) error {
		if call == "usage.Uses" {
			return errors.New("AccessDeniedException: not authorized to perform cloudtrail:LookupEvents")
		}
		return nil
	}
	res := h.runWaiting(t, RunOptions{})
	if res.Outcome != ReasonFailed || w.created != 0 || len(w.tokens) != 1 || w.tokens[oldID] == nil {
		t.Fatalf("a denied lookup must stop the run before anything is created: %s, %d created", res.Outcome, w.created)
	}
}

func TestUsageLookupFailingNeverMeansUnused(t *testing.T) {
	w, h, oldID, _ := usageWorld(t)
	var promoted bool
	w.fail = func(call string) error {
		if call == "store.Promote" {
			promoted = true
		}
		if call == "usage.Uses" && promoted {
			return Transient(errors.New("ThrottlingException"))
		}
		return nil
	}
	res := h.runWaiting(t, RunOptions{})
	if res.Outcome != ReasonInterrupted || w.tokens[oldID] == nil {
		t.Fatalf("%s: the old token must be kept while use cannot be looked up", res.Outcome)
	}
}

func TestTwoUnrecordedTokensDecidedByUse(t *testing.T) {
	w := newWorld()
	unused, _ := w.seed(w.now.AddDate(0, -6, 0))
	used, usedVal := w.seed(w.now.AddDate(0, -11, -15))
	w.addTarget("a").held = usedVal
	h := newHarness(w)
	h.usage = &fakeUsage{w: w, delivery: 2 * time.Minute}
	w.mu.Lock()
	w.logUse(usedVal, "idp-a")
	w.mu.Unlock()
	w.advance(10 * time.Minute)
	res := h.runWaiting(t, RunOptions{})
	if res.Outcome != ReasonRotated || w.tokens[unused] != nil || w.tokens[used] != nil {
		t.Fatalf("%s: %s (%s)", res.Outcome, res.Message, w.state())
	}
	h.assertRotated(t)
}
