package rotator

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
)

// events collects a run's progress (Rotator.OnStep).
type events struct {
	mu  sync.Mutex
	all []StepEvent
}

func (e *events) add(ev StepEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

// of is step's events (of target, "" for the run's own steps), in order.
func (e *events) of(step, target string) []StepEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []StepEvent
	for _, ev := range e.all {
		if ev.Step == step && ev.Target == target {
			out = append(out, ev)
		}
	}
	return out
}

// kind names an event: start, wait, poll, done.
func kind(ev StepEvent) string {
	switch {
	case ev.Wait != nil && ev.Wait.Kind == WaitStart:
		return "wait"
	case ev.Wait != nil:
		return "poll"
	case ev.Done:
		return "done"
	}
	return "start"
}

// A rotation through proof of use, a target's confirmation and the quiet
// period reports each wait as it happens: its start (what for, since when,
// the deadline and what then), then every look and, with looks further
// apart than a minute, a beat every minute, each with what was seen and
// when the next look is; all by the run's clock, no secret in any event.
func TestProgressReportsEveryWait(t *testing.T) {
	w, h, oldID, old := usageWorld(t)
	w.targets[0].looks = []string{"no sync cycle since the push", "a cycle is running"}
	var evs events
	h.configure = func(r *Rotator) {
		r.UsagePolicy.PollInterval = 150 * time.Second // beats at 60s and 120s between looks
		r.OnStep = evs.add
	}
	if res := h.runWaiting(t, RunOptions{}); res.Outcome != ReasonRotated {
		t.Fatalf("%s: %s", res.Outcome, res.Message)
	}
	newID := h.current().ID

	for _, c := range []struct{ step, target, waitsFor, seen string }{
		{"confirm", "a", "a sync by a since the change to the new token " + newID, ""},
		{"prove use", "", "using the new token " + newID, ""},
		{"quiet", "", "no use of the old token " + oldID + " for quietPeriod (15m0s) plus deliveryDelay (5m0s)", "the old token " + oldID},
	} {
		got := evs.of(c.step, c.target)
		var kinds []string
		for _, ev := range got {
			kinds = append(kinds, kind(ev))
		}
		if len(got) < 4 || kinds[0] != "start" || kinds[1] != "wait" || kinds[len(kinds)-1] != "done" ||
			slices.Contains(kinds[2:len(kinds)-1], "start") || slices.Contains(kinds[2:len(kinds)-1], "wait") {
			t.Fatalf("%s %s: events %v, want start, wait, polls, done", c.step, c.target, kinds)
		}
		start := got[1].Wait
		if !strings.Contains(start.For, c.waitsFor) || start.Since.IsZero() || start.Deadline.IsZero() || start.Then == "" {
			t.Fatalf("%s: the wait's start must say what for, since when, the deadline and what then: %+v", c.step, *start)
		}
		last := got[1].At
		for _, ev := range got[2:] {
			if gap := ev.At.Sub(last); gap > WaitBeat {
				t.Fatalf("%s: silent for %s, more than a minute", c.step, gap)
			}
			last = ev.At
			if ev.Wait == nil {
				continue
			}
			if !ev.Wait.NextCheck.After(ev.At) || ev.Wait.NextCheck.Sub(ev.At) > 150*time.Second ||
				ev.Wait.Seen == "" || !strings.Contains(ev.Wait.Seen, c.seen) {
				t.Fatalf("%s: a poll at %s must say what it saw and when it looks next: %+v", c.step, ev.At, *ev.Wait)
			}
			if ev.Wait.For != start.For || !ev.Wait.Deadline.Equal(start.Deadline) {
				t.Fatalf("%s: a poll must repeat the wait's words and deadline: %+v", c.step, *ev.Wait)
			}
		}
	}
	quiet := evs.of("quiet", "")
	if d := quiet[1].Wait.Deadline.Sub(quiet[1].Wait.Since); d != 90*time.Minute {
		t.Fatalf("the quiet period's deadline is %s after its start, want confirmTimeout", d)
	}
	if polls := len(quiet) - 3; polls < 20*60/150 {
		t.Fatalf("%d poll events over a 20-minute quiet period, want one a look at least", polls)
	}
	if seen := quiet[len(quiet)-2].Wait.Seen; !strings.Contains(seen, "quiet enough at") {
		t.Fatalf("a quiet poll must say when the old token is quiet enough: %s", seen)
	}
	if c := evs.of("confirm", "a"); c[2].Wait.Seen != "no sync cycle since the push" || c[3].Wait.Seen != "a cycle is running" {
		t.Fatalf("the target's looks: %q, %q", c[2].Wait.Seen, c[3].Wait.Seen)
	}

	secrets := []string{old}
	for _, tok := range w.tokens {
		secrets = append(secrets, tok.value)
	}
	for _, ev := range evs.all {
		text := fmt.Sprintf("%+v", ev)
		if ev.Wait != nil {
			text += fmt.Sprintf("%+v", *ev.Wait)
		}
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Fatalf("an event holds a token value: %s", text)
			}
		}
	}
}

// Without OnStep the progress is the log's, with stable keys.
func TestProgressLogsWithStableKeys(t *testing.T) {
	_, h, _, _ := usageWorld(t)
	if res := h.runWaiting(t, RunOptions{}); res.Outcome != ReasonRotated {
		t.Fatalf("%s: %s", res.Outcome, res.Message)
	}
	for msg, keys := range map[string][]string{
		"step started":  {"step", "detail"},
		"step done":     {"step", "detail"},
		"waiting":       {"step", "waiting_for", "since", "deadline", "on_deadline"},
		"still waiting": {"step", "waiting_for", "since", "deadline", "last_seen", "next_check"},
	} {
		lines := h.logs.FilterMessage(msg).All()
		if len(lines) == 0 {
			t.Fatalf("no %q line", msg)
		}
		for _, l := range lines {
			m := l.ContextMap()
			for _, k := range keys {
				if _, ok := m[k]; !ok {
					t.Fatalf("%q line without %s: %v", msg, k, m)
				}
			}
		}
	}
	quiet := h.logs.FilterMessage("still waiting").FilterField(zap.String("step", "quiet")).Len()
	if quiet == 0 {
		t.Fatal("no poll line of the quiet period")
	}
	h.assertNoLeak(t)
}

// A hand-off watch (one look a run) says what it waits for, until when, and
// that the next run looks again.
func TestProgressOfAHandoffWatch(t *testing.T) {
	w, h, _, _ := watcherWorld(t)
	if res := h.runWaiting(t, RunOptions{}); res.Outcome != ReasonAwaitingHandoff {
		t.Fatalf("%s: %s", res.Outcome, res.Message)
	}
	w.advance(time.Minute)
	var evs events
	h.configure = func(r *Rotator) { r.OnStep = evs.add }
	if res := h.runWaiting(t, RunOptions{}); res.Outcome != ReasonAwaitingHandoff {
		t.Fatalf("%s: %s", res.Outcome, res.Message)
	}
	got := evs.of("watch", "b")
	var kinds []string
	for _, ev := range got {
		kinds = append(kinds, kind(ev))
	}
	if strings.Join(kinds, " ") != "start wait poll done" {
		t.Fatalf("watch events %v", kinds)
	}
	start, poll := got[1].Wait, got[2].Wait
	if !strings.Contains(start.For, "paste the new token") || start.Deadline.Sub(start.Since) > 90*time.Minute || start.Deadline.IsZero() {
		t.Fatalf("the watch's start: %+v", *start)
	}
	if !poll.NextCheck.IsZero() || !strings.Contains(poll.Seen, "no proof yet") {
		t.Fatalf("the watch's look: %+v (want what it saw, and the next run to look again)", *poll)
	}
}
