package rotator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Bounded runs (RunOptions.Deadline: `rotate --deadline`, or a Lambda
// invocation's own deadline less a margin). A rotation can wait longer than
// a run may last: a target's confirmation (an Entra cycle), proof of use
// (R1), the quiet period (R2). A bounded run never waits past its
// deadline: it leaves the wait to the next run, records where it is when
// the record does not say so already, gives the lease up and ends Waiting
// (exit 0, alerted only when notifyOn names it). The next run (scheduled,
// or any `rotate`) resumes the wait from the record:
//
//	| wait          | its own bound              | earliest end known    | the record the next run resumes from    |
//	|---------------|----------------------------|-----------------------|-----------------------------------------|
//	| confirm       | confirmTimeout from its    | no                    | the target Tested: asked again, never   |
//	|               | first ask (Wait.Since)     |                       | pushed again (its canary anew)          |
//	| prove use R1  | confirmTimeout from its    | a canary's window end | every target Confirmed, with its canary |
//	|               | first look (Wait.Since)    | plus deliveryDelay    | window                                  |
//	| quiet R2      | confirmTimeout from the    | the last switch (or   | promoted (the store's label), with the  |
//	|               | last switch (recorded)     | old-token use) plus   | targets' switch times                   |
//	|               |                            | quiet + deliveryDelay |                                         |
//
//   - A wait whose own bound comes before the deadline runs as in an
//     unbounded run, to the same outcome (proof, or its timeout's).
//   - Otherwise it makes its first look (a confirmation asked, CloudTrail
//     read: it may find proof at once) and goes on only while it can still
//     end before the deadline. A wait whose earliest end is past it ends the
//     run at once; the quiet period does not even read CloudTrail then,
//     since nothing it could read would end it sooner.
//   - A resumed wait keeps its bounds: the quiet period counts from the
//     recorded switches and the last use CloudTrail shows, a confirmation
//     and proof of use give up confirmTimeout after the recorded Since,
//     never a new run's start.
//   - A hand-off watch never waits (one look a run): a deadline does not
//     touch it.
//   - The deadline bounds waiting only: the steps between waits (seconds
//     each) always run, and every wait makes its first look. A deadline
//     that has passed before the first wait (shorter than observing took)
//     still carries the rotation to the first wait that its first look does
//     not finish. Give it a margin for the steps after the last wait
//     (deleting the old token, the last write).
//   - Writes: leaving a wait writes the record (the run's last write, which
//     gives the lease up) only when it does not already say what the next
//     run resumes from (recordedAlready). So a wait carried by any number of
//     runs costs one version at most: one per target's confirmation, one
//     for proof of use, none for the quiet period beyond the lease taken at
//     promotion (headroom.go counts them).

// DeadlineWithin is RunOptions.Deadline for a run that must end margin
// before ctx's own deadline (a Lambda invocation's); zero, no bound, when
// ctx has none. ctx's deadline is the wall clock's: the Rotator's Clock
// must be too.
func DeadlineWithin(ctx context.Context, margin time.Duration) time.Time {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Time{}
	}
	return d.Add(-margin)
}

// bounded is where a wait whose own bound is own ends in a run with
// deadline (zero: none): own, or the deadline when it comes first (cut:
// reaching it leaves the wait to the next run).
func bounded(own, deadline time.Time) (end time.Time, cut bool) {
	if !deadline.IsZero() && deadline.Before(own) {
		return deadline, true
	}
	return own, false
}

// Wait steps: the waits a bounded run records.
const (
	waitConfirm  = "confirm"
	waitProveUse = "prove use"
)

// waitBegan is when the wait step (and target) began: as recorded by the
// bounded run that left it, else now.
func (p *Progress) waitBegan(step, target string, now time.Time) time.Time {
	if w := p.Wait; w != nil && w.Step == step && w.Target == target && !w.Since.IsZero() {
		return w.Since
	}
	return now
}

// waitDone forgets a recorded wait that has ended.
func (p *Progress) waitDone(step, target string) {
	if w := p.Wait; w != nil && w.Step == step && w.Target == target {
		p.Wait = nil
	}
}

// waitLeft ends a wait that a bounded run leaves to the next run: what it
// waits for, when it can end at the earliest (zero: unknown, as for a
// confirmation) and at the latest (its own bound, when it gives up), and
// the wait to record (nil: the record says enough without one).
// LeftToNextRun reports whether err is a wait a bounded run left to the
// next one (a step's end that is not a failure).
func LeftToNextRun(err error) bool {
	var w *waitLeft
	return errors.As(err, &w)
}

type waitLeft struct {
	record           *PendingWait
	what             string
	earliest, latest time.Time
	deadline         time.Time
	note             string
}

func (w *waitLeft) Error() string {
	s := "waits for " + w.what
	if w.note != "" {
		s += " (" + w.note + ")"
	}
	if !w.earliest.IsZero() {
		s += fmt.Sprintf(": until %s at the earliest, past this run's deadline %s (it gives up at %s)", stamp(w.earliest), stamp(w.deadline), stamp(w.latest))
	} else {
		s += fmt.Sprintf(": for at most until %s, past this run's deadline %s", stamp(w.latest), stamp(w.deadline))
	}
	return s
}

// isLeft reports whether err is a wait left to the next run.
func isLeft(err error) bool {
	var w *waitLeft
	return errors.As(err, &w)
}

// leftConfirm is a target's confirmation that did not come by the
// deadline: the next run asks again (began: its first ask).
func leftConfirm(t string, began, latest, deadline time.Time) *waitLeft {
	return &waitLeft{record: &PendingWait{Step: waitConfirm, Target: t, Since: began},
		what: "target " + t + " to confirm a sync with the new token", latest: latest, deadline: deadline}
}

// leftProof is proof of use (R1) that did not come by the deadline, or
// cannot before earliest (a canary's window not yet delivered).
func leftProof(newID string, began, earliest, latest, deadline time.Time) *waitLeft {
	return &waitLeft{record: &PendingWait{Step: waitProveUse, Since: began},
		what: "CloudTrail to show the new token " + newID + " in use", earliest: earliest, latest: latest, deadline: deadline}
}

// leftQuiet is the quiet period (R2) that cannot end before earliest. No
// wait is recorded: the next run decides to finish from the promoted
// record, and counts from its switch times and CloudTrail.
func leftQuiet(oldID string, pol UsagePolicy, inUse *TokenUse, earliest, latest, deadline time.Time) *waitLeft {
	w := &waitLeft{earliest: earliest, latest: latest, deadline: deadline,
		what: fmt.Sprintf("the old token %s to go unused for quietPeriod (%s) plus deliveryDelay (%s)", oldID, pol.QuietPeriod, pol.DeliveryDelay)}
	if inUse != nil {
		w.note = fmt.Sprintf("last used at %s by %s", stamp(inUse.Last), inUse.words())
	}
	return w
}

// msgWaiting is a Waiting run's message.
func msgWaiting(rotationID string, w *waitLeft) string {
	return fmt.Sprintf("rotation %s %s; where it stands is recorded, and the next run resumes the wait", rotationID, w.Error())
}

// waitingActions are a Waiting run's next actions.
func waitingActions() []string {
	return []string{"Nothing: the next scheduled run resumes the wait (`scim-rotator rotate` resumes it now)"}
}

// recordedAlready reports whether rec, the rotation's record as this run
// read or last wrote it (JSON), already says all that p says, as the next
// run will read it (a promoted rotation as promoted shows it): leaving a
// wait then writes nothing.
func recordedAlready(rec []byte, p Progress) bool {
	if rec == nil {
		return false
	}
	var r Progress
	if err := json.Unmarshal(rec, &r); err != nil {
		return false
	}
	view := &r
	if p.Phase == PhasePromoted {
		view = promoted(StoreState{Current: &Record{Token: Token{TokenInfo: TokenInfo{ID: p.NewTokenID}}}, Progress: &r})
	}
	a := *view
	a.UpdatedAt, p.UpdatedAt = time.Time{}, time.Time{}
	ja, err := json.Marshal(a)
	if err != nil {
		return false
	}
	jb, err := json.Marshal(p)
	return err == nil && bytes.Equal(ja, jb)
}
