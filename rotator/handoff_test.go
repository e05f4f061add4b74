package rotator

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// watcherTarget is a hand-off target that proves the paste on its own, as
// the handoff target does from CloudTrail: the calls its client makes
// (paste, then sync) carry the token pasted into it.
type watcherTarget struct {
	*fakeTarget
	usage *fakeUsage
}

func (t watcherTarget) Abilities() Abilities {
	a := t.fakeTarget.Abilities()
	a.WatchesHandoff = true
	return a
}

// Confirm: a call by the client with the new token and none with the old
// one after it, the window ending a delivery delay ago. A deadline that is
// not after now looks once.
func (t watcherTarget) Confirm(ctx context.Context, req ConfirmRequest) error {
	clock := fakeClock{t.w}
	for {
		now := clock.Now()
		uses, err := t.usage.Uses(ctx, req.Since, now)
		if err != nil {
			return err
		}
		var newAt time.Time
		oldAfter := false
		for _, u := range uses {
			switch {
			case u.UserAgent != "idp-"+t.name:
			case u.TokenID == req.Credential.TokenID && newAt.IsZero():
				newAt = u.Time
			case u.TokenID == req.OldTokenID && !newAt.IsZero():
				oldAfter = true
			}
		}
		if !newAt.IsZero() && !oldAfter && now.Sub(newAt) > t.usage.delivery {
			return nil
		}
		if !req.Deadline.After(now) {
			return fmt.Errorf("no call by idp-%s with the new token yet: %w", t.name, ErrConfirmTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-clock.After(30 * time.Second):
		}
	}
}

// paste is the human pasting the pending token into t's console; its
// client then syncs with it.
func (h *harness) paste(t *fakeTarget) {
	st, _ := newFakeStore(h.w).Load(context.Background())
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	t.held = st.Pending.Value.Reveal()
	h.w.logUse(t.held, "idp-"+t.name)
}

func watcherWorld(t *testing.T) (*world, *harness, string, *fakeTarget) {
	t.Helper()
	w, h, oldID, _ := usageWorld(t)
	b := w.targets[1]
	b.handoff, b.watcher = true, true
	return w, h, oldID, b
}

func TestHandoffWatcherProvenByALaterRun(t *testing.T) {
	w, h, oldID, b := watcherWorld(t)
	res := h.runWaiting(t, RunOptions{})
	if res.Outcome != ReasonAwaitingHandoff || res.ExitCode() != 0 {
		t.Fatalf("%s: %s", res.Outcome, res.Message)
	}
	steps := strings.Join(res.NextActions, "\n")
	for _, want := range []string{"fake-cli get --stage AWSPENDING", "https://console.example/b", "every later run", "CloudTrail"} {
		if !strings.Contains(steps, want) {
			t.Fatalf("the announcement lacks %q:\n%s", want, steps)
		}
	}

	// Before the paste, a scheduled run and --continue both look once,
	// keep waiting and write nothing.
	for _, opts := range []RunOptions{{}, {Continue: true}} {
		w.advance(time.Minute)
		before, writes := w.state(), w.mutations
		res = h.runWaiting(t, opts)
		if res.Outcome != ReasonAwaitingHandoff || res.ExitCode() != 0 || w.state() != before || w.mutations != writes || len(w.tokens) != 2 {
			t.Fatalf("%+v before the paste: %s, %d writes (%s -> %s)", opts, res.Outcome, w.mutations-writes, before, w.state())
		}
		if !strings.Contains(res.Message, "no proof yet") || !strings.Contains(strings.Join(res.NextActions, "\n"), "AWSPENDING") {
			t.Fatalf("the reminder must say why and repeat the steps: %s %v", res.Message, res.NextActions)
		}
	}

	// The client syncs with the old token until the human pastes; then
	// CloudTrail has not delivered its call with the new one yet.
	w.mu.Lock()
	w.logUse(b.held, "idp-b")
	w.mu.Unlock()
	w.advance(time.Minute)
	h.paste(b)
	pastedAt := w.now
	before := w.state()
	if res = h.runWaiting(t, RunOptions{}); res.Outcome != ReasonAwaitingHandoff || w.state() != before {
		t.Fatalf("undelivered call: %s", res.Outcome)
	}
	w.advance(10 * time.Minute)
	res = h.runWaiting(t, RunOptions{})
	if res.Outcome != ReasonRotated || w.tokens[oldID] != nil {
		t.Fatalf("after the paste: %s: %s", res.Outcome, res.Message)
	}
	tp := w.store.progress.Targets[1]
	if tp.State != TargetConfirmed || !tp.SwitchedAt.Equal(pastedAt.Truncate(time.Second)) {
		t.Fatalf("b: %s, switched %s, want the first call with the new token at %s", tp.State, tp.SwitchedAt, pastedAt)
	}
	// The old token went once it had been quiet for quietPeriod (15m) plus
	// the delivery delay (5m) after the client's switch, not before.
	if d := w.now.Sub(pastedAt); d < 20*time.Minute {
		t.Fatalf("the old token was deleted %s after the paste", d)
	}
	h.assertRotated(t)
	h.assertNoLeak(t, res)
}

// The client used the new token once (a "Test connection") and went on
// syncing with the old one: not proven.
func TestHandoffWatcherNotProvenWhileTheOldTokenFollows(t *testing.T) {
	w, h, _, b := watcherWorld(t)
	h.runWaiting(t, RunOptions{})
	old := b.held
	h.paste(b)
	w.advance(time.Minute)
	w.mu.Lock()
	b.held = old // not saved
	w.logUse(old, "idp-b")
	w.mu.Unlock()
	w.advance(10 * time.Minute)
	if res := h.runWaiting(t, RunOptions{Continue: true}); res.Outcome != ReasonAwaitingHandoff || len(w.tokens) != 2 {
		t.Fatalf("%s: %s", res.Outcome, res.Message)
	}
}

func TestHandoffWatcherOverdueAlertsWithoutDeleting(t *testing.T) {
	w, h, _, _ := watcherWorld(t)
	h.runWaiting(t, RunOptions{})
	w.advance(2 * time.Hour)
	res := h.runWaiting(t, RunOptions{})
	if res.Outcome != ReasonFailed || res.ExitCode() != 1 || len(w.tokens) != 2 || h.alertsOf(ReasonFailed) != 1 {
		t.Fatalf("overdue: %s, %d tokens", res.Outcome, len(w.tokens))
	}
	if !strings.Contains(res.Message, "confirmTimeout") || !strings.Contains(res.Message, "no proof yet") {
		t.Fatalf("message: %s", res.Message)
	}
}

// A lookup that fails is no proof, and no reason to act.
func TestHandoffWatcherLookupFailingKeepsWaiting(t *testing.T) {
	w, h, _, b := watcherWorld(t)
	h.runWaiting(t, RunOptions{})
	h.paste(b)
	w.advance(10 * time.Minute)
	w.fail = func(call string) error {
		if call == "usage.Uses" {
			return Transient(fmt.Errorf("ThrottlingException"))
		}
		return nil
	}
	before := w.state()
	res := h.runWaiting(t, RunOptions{})
	if res.Outcome != ReasonAwaitingHandoff || w.state() != before || !strings.Contains(res.Message, "could not be read") {
		t.Fatalf("%s: %s", res.Outcome, res.Message)
	}
	w.fail = nil
	if res := h.runWaiting(t, RunOptions{}); res.Outcome != ReasonRotated {
		t.Fatalf("%s: %s", res.Outcome, res.Message)
	}
	h.assertRotated(t)
}
