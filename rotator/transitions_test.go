package rotator

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestTransitions is the table of transitions.go, row by row: every state
// (those with a step, those without, and one nobody defined) on every event.
func TestTransitions(t *testing.T) {
	states := []TargetState{TargetUntouched, TargetPushing, TargetAwaitingHandoff, TargetPushed, TargetTested,
		TargetConfirmed, TargetFailed, TargetRestored, "", "Bogus"}
	events := []targetEvent{evOK, evHandoff, evContinued, evWaiting, evProven, evTransient, evFailed}
	row := func(next TargetState, write bool, end runEnd) string {
		return fmt.Sprintf("%s write=%v end=%d", next, write, end)
	}
	want := map[transitionKey]string{
		{TargetUntouched, evOK}:              row(TargetPushing, true, goOn),
		{TargetPushing, evOK}:                row(TargetPushed, false, goOn),
		{TargetPushing, evHandoff}:           row(TargetAwaitingHandoff, true, endHandoff),
		{TargetAwaitingHandoff, evContinued}: row(TargetPushed, false, goOn),
		{TargetAwaitingHandoff, evWaiting}:   row(TargetAwaitingHandoff, false, endHandoff),
		{TargetAwaitingHandoff, evProven}:    row(TargetConfirmed, false, goOn),
		{TargetPushed, evOK}:                 row(TargetTested, false, goOn),
		{TargetTested, evOK}:                 row(TargetConfirmed, false, goOn),
	}
	stepped := map[TargetState]targetStep{
		TargetUntouched: stepBegin, TargetPushing: stepPush, TargetAwaitingHandoff: stepWait,
		TargetPushed: stepTest, TargetTested: stepConfirm, TargetConfirmed: stepDone,
	}
	for s := range stepped {
		want[transitionKey{s, evTransient}] = row(s, false, endInterrupt)
		want[transitionKey{s, evFailed}] = row(TargetFailed, false, endRollback)
	}
	for _, s := range states {
		step, hasStep := stepOf[s]
		if step != stepped[s] || hasStep != (stepped[s] != "") {
			t.Errorf("state %q: step %q (listed %v), want %q", s, step, hasStep, stepped[s])
		}
		for _, ev := range events {
			got, ok := next(s, ev)
			w, wok := want[transitionKey{s, ev}]
			if ok != wok || ok && row(got.next, got.writeFirst, got.end) != w {
				t.Errorf("%q on %s: %v %s, want %v %s", s, ev, ok, row(got.next, got.writeFirst, got.end), wok, w)
			}
		}
	}
}

// TestTransitionPaths: the happy path from Untouched reaches Confirmed, each
// state after the push counting as possibly switched, and a hand-off ends
// the run only after the record says so.
func TestTransitionPaths(t *testing.T) {
	forward := map[targetStep]targetEvent{stepBegin: evOK, stepPush: evOK, stepTest: evOK, stepConfirm: evOK}
	s := TargetUntouched
	for n := 0; s != TargetConfirmed; n++ {
		row, ok := next(s, forward[stepOf[s]])
		if !ok || n > 10 {
			t.Fatalf("no way from %s to Confirmed", s)
		}
		if row.end != goOn {
			t.Fatalf("the happy path ends the run in %s", s)
		}
		s = row.next
		if !possiblySwitched(TargetProgress{State: s}) {
			t.Errorf("%s after a push must count as possibly switched", s)
		}
	}
	if row, _ := next(TargetPushing, evHandoff); !row.writeFirst || row.end != endHandoff {
		t.Errorf("a hand-off must be written before the run ends: %+v", row)
	}
	if _, ok := next(TargetUntouched, evHandoff); ok {
		t.Error("an Untouched target cannot be handed off before a push")
	}
}

// A record naming a target state the table does not know (tampered with,
// or written by another version) stops the run before that target: it is
// not taken for confirmed, so nothing is promoted or deleted.
func TestUnknownTargetStateStopsTheRun(t *testing.T) {
	w, h, oldID, _ := recorded(t)
	w.fail = failOn("target.b.Push", 1, Transient(errors.New("graph answered 503")))
	if res, _ := h.run(RunOptions{}); res.Outcome != ReasonInterrupted {
		t.Fatalf("first run: %s %s", res.Outcome, res.Message)
	}
	w.fail = nil
	w.mu.Lock()
	w.store.progress.Targets[1].State = "Bogus"
	pushes := w.targets[1].pushes
	w.mu.Unlock()
	res, _ := h.run(RunOptions{})
	if res.Outcome != ReasonInterrupted || !strings.Contains(res.Err.Error(), `state "Bogus", which has no step`) {
		t.Fatalf("outcome %s (%v): %s", res.Outcome, res.Err, res.Message)
	}
	if w.targets[1].pushes != pushes || w.tokens[oldID] == nil || w.store.stages[StagePending] == "" {
		t.Fatalf("a target in an unknown state was acted on: %s", w.state())
	}
	h.assertNoLeak(t, res)
}
