package rotator

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// Bounded runs (deadline.go): scheduled every 15 minutes (the Lambda
// recipe's schedule), each may last 10 minutes.
const (
	runEvery = 15 * time.Minute
	runFor   = 10 * time.Minute
)

// boundedRuns is a sequence of bounded runs, each started on the next tick of
// the schedule: what each ended with, and what it did.
type boundedRuns struct {
	t     *testing.T
	h     *harness
	start time.Time
	// n counts the runs; results, their results; reads, the CloudTrail
	// lookups each made.
	n       int
	results []Result
	reads   []int
	lookups int
	// deleted is when the old token was deleted (zero: not yet).
	deleted time.Time
	oldID   string
}

func newBoundedRuns(t *testing.T, h *harness, oldID string) *boundedRuns {
	b := &boundedRuns{t: t, h: h, start: h.w.now, oldID: oldID}
	clock := fakeClock{h.w}
	h.w.fail = func(call string) error {
		switch {
		case call == "usage.Uses":
			b.lookups++
		case call == "issuer.DeleteToken" && b.deleted.IsZero():
			b.deleted = clock.Now()
		}
		return nil
	}
	return b
}

// run runs once on the next tick, bounded to runFor (or by deadline, when
// set: relative to the tick), and checks that it never passed its deadline.
func (b *boundedRuns) run(opts RunOptions, deadline ...time.Duration) Result {
	b.t.Helper()
	w := b.h.w
	tick := b.start.Add(time.Duration(b.n) * runEvery)
	if w.now.After(tick) {
		b.t.Fatalf("run %d starts at %s, after its tick %s", b.n+1, w.now, tick)
	}
	w.advance(tick.Sub(w.now))
	d := runFor
	if len(deadline) > 0 {
		d = deadline[0]
	}
	opts.Deadline = tick.Add(d)
	before := b.lookups
	res := b.h.runWaiting(b.t, opts)
	b.n++
	b.results = append(b.results, res)
	b.reads = append(b.reads, b.lookups-before)
	if res.Outcome == ReasonWaiting && d > 0 && w.now.After(opts.Deadline) {
		b.t.Fatalf("run %d ended Waiting at %s, past its deadline %s", b.n, w.now, opts.Deadline)
	}
	return res
}

// more runs again while the last run (res) ended Waiting, up to max runs
// in all, and wants the runs' outcomes and exit codes to be want.
func (b *boundedRuns) more(res Result, max int, want string, deadline ...time.Duration) Result {
	b.t.Helper()
	for res.Outcome == ReasonWaiting && b.n < max {
		res = b.run(RunOptions{}, deadline...)
	}
	var got []string
	for _, r := range b.results {
		got = append(got, string(r.Outcome)+"/"+string(rune('0'+r.ExitCode())))
	}
	if strings.Join(got, " ") != want {
		b.t.Fatalf("outcomes %s, want %s (last: %s)", strings.Join(got, " "), want, res.Message)
	}
	return res
}

// The test: a rotation through a 40-minute quiet period carried by
// four runs of at most 10 minutes ends with one new token, the old one
// deleted after its quiet period, and no more store versions than one
// unbounded run writes (within the store budget).
func TestBoundedRunsCarryAFortyMinuteQuietPeriod(t *testing.T) {
	w, h, oldID, _ := usageWorld(t)
	h.configure = func(r *Rotator) { r.UsagePolicy.QuietPeriod = 40 * time.Minute }
	b := newBoundedRuns(t, h, oldID)
	writes := w.writes

	res := b.run(RunOptions{Now: true})
	for _, want := range []string{"waits for the old token " + oldID + " to go unused for quietPeriod (40m0s) plus deliveryDelay (5m0s)",
		"at the earliest, past this run's deadline " + stamp(b.start.Add(runFor)), "the next run resumes the wait"} {
		if !strings.Contains(res.Message, want) {
			t.Fatalf("run 1's message does not say %q: %s", want, res.Message)
		}
	}
	if h.current().ID == oldID || w.tokens[oldID] == nil || w.store.lock.Owner != "" {
		t.Fatalf("run 1: want the new token promoted, the old one kept and the lease given up: %s", w.state())
	}
	b.more(res, 8, "Waiting/0 Waiting/0 Waiting/0 Rotated/0")
	h.assertRotated(t)
	if w.created != 1 {
		t.Fatalf("%d tokens created, want 1", w.created)
	}
	// Deleted only once quiet for 40 minutes after the last switch (as
	// recorded), plus CloudTrail's delivery delay.
	_, lastSwitch := switchTimes(&rotation{progress: *w.store.progress})
	if quiet := lastSwitch.Add(45 * time.Minute); b.deleted.Before(quiet) {
		t.Fatalf("the old token was deleted at %s, before its quiet period ended at %s", b.deleted, quiet)
	}
	// The quiet period's runs could not finish it: they did not even read
	// CloudTrail, nor write.
	if b.reads[1] != 0 || b.reads[2] != 0 {
		t.Fatalf("CloudTrail lookups per run: %v; want none from the runs that could not end the quiet period", b.reads)
	}
	// start, the pending token, a's and b's Pushing, the lease at promote
	// (after proof of use waited), the lease before the deletion, the end:
	// what one unbounded run writes.
	if n := w.writes - writes; n != 7 || n > h.rotator().writeBudget() {
		t.Fatalf("%d store versions written, want 7 (budget %d)", n, h.rotator().writeBudget())
	}
	if h.alertsOf(ReasonWaiting) != 3 {
		t.Fatalf("%d Waiting events to the notifier, want 3 (notifyOn decides)", h.alertsOf(ReasonWaiting))
	}
	h.assertNoLeak(t, b.results...)
}

// Proof of use that has not come by the deadline is left to the next run:
// the targets are recorded Confirmed (never pushed again), the wait once
// with its start; later runs that find no proof either write nothing.
func TestBoundedRunsSplitProofOfUse(t *testing.T) {
	w, h, oldID, _ := usageWorld(t)
	a, bt := w.targets[0], w.targets[1]
	a.sendsOld, bt.sendsOld = "none", "none" // their syncs log no SCIM call yet
	b := newBoundedRuns(t, h, oldID)
	writes := w.writes

	res := b.run(RunOptions{Now: true})
	if res.Outcome != ReasonWaiting || !strings.Contains(res.Message, "waits for CloudTrail to show the new token") {
		t.Fatalf("run 1: %s: %s", res.Outcome, res.Message)
	}
	rec := w.store.progress
	if rec.Wait == nil || rec.Wait.Step != waitProveUse || rec.Targets[0].State != TargetConfirmed || rec.Targets[1].State != TargetConfirmed {
		t.Fatalf("run 1 recorded %+v", rec)
	}
	since := rec.Wait.Since
	if !strings.Contains(res.Message, "for at most until "+stamp(since.Add(90*time.Minute))) {
		t.Fatalf("the message does not say when the wait gives up: %s", res.Message)
	}
	afterFirst := w.writes
	if res := b.run(RunOptions{}); res.Outcome != ReasonWaiting || w.writes != afterFirst {
		t.Fatalf("run 2: %s (%d writes): %s", res.Outcome, w.writes-afterFirst, res.Message)
	}
	// The IdP syncs with the new token.
	w.mu.Lock()
	for _, tok := range w.tokens {
		if tok.ID != oldID {
			w.logUse(tok.value, "idp-a")
		}
	}
	w.mu.Unlock()
	if res := b.run(RunOptions{}); res.Outcome != ReasonRotated {
		t.Fatalf("run 3: %s: %s", res.Outcome, res.Message)
	}
	h.assertRotated(t)
	if a.pushes != 1 || bt.pushes != 1 {
		t.Fatalf("pushes a %d, b %d: a confirmed target is never pushed again", a.pushes, bt.pushes)
	}
	// start, the pending token, a's and b's Pushing, the wait (once), the
	// lease at promote, the end: the quiet period was over when proof came,
	// so the deletion needed no lease of its own.
	if n := w.writes - writes; n != 7 || n > h.rotator().writeBudget() {
		t.Fatalf("%d store versions written, want 7 (budget %d)", n, h.rotator().writeBudget())
	}
	if w.store.progress.Wait != nil {
		t.Fatalf("the finished rotation still records a wait: %+v", w.store.progress.Wait)
	}
}

// A resumed wait keeps its own bound: proof of use that never comes fails
// confirmTimeout after its first look, not after the last run's start.
func TestBoundedProofOfUseGivesUpFromItsStart(t *testing.T) {
	w, h, oldID, _ := usageWorld(t)
	w.targets[0].sendsOld, w.targets[1].sendsOld = "none", "none"
	b := newBoundedRuns(t, h, oldID)
	res := b.run(RunOptions{Now: true})
	since := w.store.progress.Wait.Since
	res = b.more(res, 12, strings.Repeat("Waiting/0 ", 6)+"Failed/1")
	if res.FailedStep != "prove use" || !errors.Is(res.Err, errUsageTimeout) || !w.now.Equal(since.Add(90*time.Minute)) {
		t.Fatalf("%s at %q (%v), ended %s: want prove use to give up at %s", res.Outcome, res.FailedStep, res.Err, w.now, since.Add(90*time.Minute))
	}
	if w.tokens[oldID] == nil || h.current().ID != oldID {
		t.Fatal("without proof of use nothing may be promoted or deleted")
	}
}

// A confirmation that has not come by the deadline (an Entra cycle) is
// left to the next run: the target is recorded Tested and asked again by
// each later run, never pushed again, within confirmTimeout from its first
// ask.
func TestBoundedRunsSplitAConfirmation(t *testing.T) {
	w, h, oldID, _ := recorded(t)
	a, bt := w.targets[0], w.targets[1]
	bt.syncAt = w.now.Add(27 * time.Minute)
	b := newBoundedRuns(t, h, oldID)
	writes := w.writes

	res := b.run(RunOptions{Now: true})
	if res.Outcome != ReasonWaiting || res.ExitCode() != 0 || !strings.Contains(res.Message, "waits for target b to confirm a sync with the new token: for at most until") {
		t.Fatalf("run 1: %s: %s", res.Outcome, res.Message)
	}
	rec := w.store.progress
	if rec.Targets[1].State != TargetTested || rec.Wait == nil || rec.Wait.Step != waitConfirm || rec.Wait.Target != "b" || w.store.lock.Owner != "" {
		t.Fatalf("run 1 recorded %+v (lock %+v)", rec, w.store.lock)
	}
	afterFirst := w.writes
	if res := b.run(RunOptions{}); res.Outcome != ReasonWaiting || w.writes != afterFirst {
		t.Fatalf("run 2: %s (%d writes): %s", res.Outcome, w.writes-afterFirst, res.Message)
	}
	if res := b.run(RunOptions{}); res.Outcome != ReasonRotated {
		t.Fatalf("run 3: %s: %s", res.Outcome, res.Message)
	}
	h.assertRotated(t)
	if a.pushes != 1 || bt.pushes != 1 || len(bt.asks) != 3 {
		t.Fatalf("pushes a %d, b %d, b asked %d times: want b asked again, never pushed again", a.pushes, bt.pushes, len(bt.asks))
	}
	for i, ask := range bt.asks {
		if want := b.start.Add(time.Duration(i)*runEvery + runFor); !ask.Deadline.Equal(want) || !ask.Since.Equal(bt.asks[0].Since) {
			t.Fatalf("ask %d: since %s, deadline %s; want since %s, deadline %s (the run's)", i+1, ask.Since, ask.Deadline, bt.asks[0].Since, want)
		}
	}
	// An unbounded rotation's 6 (TestNoWriteWhileWaiting) and the wait, once.
	if n := w.writes - writes; n != 7 || n > h.rotator().writeBudget() {
		t.Fatalf("%d store versions written, want 7 (budget %d)", n, h.rotator().writeBudget())
	}
}

// A confirmation that never comes times out confirmTimeout after its first
// ask, however many runs asked: rolled back, as in an unbounded run.
func TestBoundedConfirmationGivesUpFromItsFirstAsk(t *testing.T) {
	w, h, oldID, old := recorded(t)
	bt := w.targets[1]
	bt.syncAt = w.now.AddDate(1, 0, 0)
	b := newBoundedRuns(t, h, oldID)
	res := b.run(RunOptions{Now: true})
	since := w.store.progress.Wait.Since
	b.more(res, 12, strings.Repeat("Waiting/0 ", 6)+"RolledBack/1")
	// Pushed twice: the new token once, the old one back.
	if last := bt.asks[len(bt.asks)-1]; !last.Deadline.Equal(since.Add(90*time.Minute)) || bt.pushes != 2 || len(bt.asks) != 7 {
		t.Fatalf("the last ask's deadline %s, want %s (confirmTimeout from the first ask); b pushed %d times, asked %d", last.Deadline, since.Add(90*time.Minute), bt.pushes, len(bt.asks))
	}
	if w.tokens[oldID] == nil || len(w.tokens) != 1 || bt.held != old {
		t.Fatalf("rolled back: want only the old token, held again by b: %s", w.state())
	}
}

// A deadline already past when the run starts (shorter than observing
// took) bounds only waiting: the run carries the rotation to its first wait
// that one look does not finish, each later run one wait further, and the
// rotation ends as an unbounded one does.
func TestDeadlinePastBeforeTheFirstWait(t *testing.T) {
	w, h, oldID, _ := usageWorld(t)
	b := newBoundedRuns(t, h, oldID)
	res := b.run(RunOptions{Now: true}, -time.Second)
	if res.Outcome != ReasonWaiting || w.created != 1 || w.store.progress.Wait == nil || w.store.progress.Wait.Step != waitProveUse {
		t.Fatalf("run 1: %s (%d created): %s", res.Outcome, w.created, res.Message)
	}
	if w.targets[0].pushes != 1 || len(w.targets[0].asks) != 1 || len(w.targets[1].asks) != 1 {
		t.Fatal("each target must be pushed and asked once")
	}
	b.more(res, 6, "Waiting/0 Waiting/0 Rotated/0", -time.Second)
	h.assertRotated(t)
}

func TestDeadlineWithin(t *testing.T) {
	if d := DeadlineWithin(context.Background(), time.Minute); !d.IsZero() {
		t.Fatalf("no deadline: %s", d)
	}
	at := time.Now().Add(15 * time.Minute)
	ctx, cancel := context.WithDeadline(context.Background(), at)
	defer cancel()
	if d := DeadlineWithin(ctx, time.Minute); !d.Equal(at.Add(-time.Minute)) {
		t.Fatalf("deadline %s, want %s", d, at.Add(-time.Minute))
	}
}

// A canary's proof of use cannot come before its window has been delivered
// (deliveryDelay after the canary synced): a run whose deadline comes first
// ends at its first look rather than poll to the deadline, and the next run
// judges the canary's window as recorded.
func TestBoundedProofOfUseOfACanary(t *testing.T) {
	w, h, oldID, _ := usageWorld(t)
	w.targets[1].canary = true
	b := newBoundedRuns(t, h, oldID)
	res := b.run(RunOptions{Now: true}, 2*time.Minute)
	if res.Outcome != ReasonWaiting || !strings.Contains(res.Message, "at the earliest") || !w.now.Before(b.start.Add(time.Minute)) {
		t.Fatalf("run 1 ended at %s: %s: %s", w.now, res.Outcome, res.Message)
	}
	tp := w.store.progress.Targets[1]
	if tp.State != TargetConfirmed || tp.CanaryAt.IsZero() || tp.CanaryDone.IsZero() {
		t.Fatalf("the canary's window must be recorded: %+v", tp)
	}
	b.more(res, 6, "Waiting/0 Waiting/0 Rotated/0", 2*time.Minute)
	h.assertRotated(t)
	if w.targets[1].pushes != 1 || len(w.targets[1].asks) != 1 {
		t.Fatal("the canary target must be pushed and asked once")
	}
}
