package rotator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// How a failed step ends the run: the one place that tells a superseded run,
// a transient failure and a permanent one apart.
//
//	| the error                                        | the run ends                                  |
//	|--------------------------------------------------|-----------------------------------------------|
//	| another run wrote the record (busy, lock lost)   | Busy, or observed again (superseded)          |
//	| transient, or the process is being stopped       | Interrupted, everything kept, next run resumes |
//	| a wait a bounded run leaves to the next          | Waiting, the wait recorded (waiting, below)   |
//	| permanent, after a target may have been switched | rolled back (rollback, below)                 |
//	| permanent, otherwise                             | Failed, or Blocked, with its words; nothing undone |
//
// A transient failure before the rotation is recorded (failure.rot nil)
// records nothing; after, interrupted counts it until it is worth an alert.

// failKind is how a step's error is classified.
type failKind int

const (
	failSuperseded failKind = iota
	failTransient
	failPermanent
)

// kindOf classifies a step's error; ctx is the run's (a run being stopped
// is not a failure of the step).
func kindOf(ctx context.Context, err error) failKind {
	if lost, busy := lostOrBusy(err); lost || busy != nil {
		return failSuperseded
	}
	if ctx.Err() != nil || isTransient(err) {
		return failTransient
	}
	return failPermanent
}

// failure is a failed step and what a permanent failure of it means.
type failure struct {
	step, target string
	err          error
	// rot is the rotation (nil before it is recorded).
	rot *rotation
	// rollBack: a permanent failure rolls the rotation back. Otherwise it
	// ends the run with outcome (default Failed), message and next, and
	// nothing is undone.
	rollBack bool
	outcome  Reason
	message  string
	next     []string
}

func (f failure) name() string {
	if f.target == "" {
		return f.step
	}
	return f.step + " " + f.target
}

// end turns a failed step into the run's result.
func (x *exec) end(ctx context.Context, f failure) Result {
	if isLeft(f.err) && f.rot != nil {
		return x.waiting(ctx, f.rot, f.err)
	}
	switch kindOf(ctx, f.err) {
	case failSuperseded:
		res, _ := x.superseded(f.err, f.rot)
		return res
	case failTransient:
		if f.rot == nil {
			return x.notStarted(f)
		}
		return x.interrupted(ctx, f.rot, f.name(), f.err)
	}
	if f.rollBack {
		return x.rollback(ctx, f.rot, f.step, f.target, f.err)
	}
	res := Result{Outcome: f.outcome, Plan: x.plan, FailedStep: f.name(), Err: f.err, Message: f.message, NextActions: f.next}
	if res.Outcome == "" {
		res.Outcome = ReasonFailed
	}
	if f.rot != nil {
		res.Progress = &f.rot.progress
	}
	return res
}

// notStarted ends a run interrupted before its rotation was recorded:
// nothing is written, and a full store says itself how long it has been full.
func (x *exec) notStarted(f failure) Result {
	d, full := fullFor(f.err, x.r.Clock.Now())
	return Result{Outcome: ReasonInterrupted, Plan: x.plan, FailedStep: f.name(), Err: f.err, quiet: !full || d < time.Hour,
		Message: f.message + "; the error is worth retrying and the next run does"}
}

// awaitHandoff ends a run at a target that waits for a human: the
// announcement on the run that pushed (h set), the reminder otherwise.
func (x *exec) awaitHandoff(ctx context.Context, rot *rotation, t Target, h *Handoff) Result {
	r := x.r
	rot.progress.Phase = PhaseAwaitingHandoff // as recorded: a wait writes nothing
	res := Result{Outcome: ReasonAwaitingHandoff, Plan: x.plan, Progress: &rot.progress,
		Message: fmt.Sprintf("target %s needs a human to finish the change; the rotation waits (both tokens are kept)", t.Name())}
	if x.watch.note != "" {
		res.Message += " (" + x.watch.note + ")"
	}
	if h != nil {
		res.NextActions = r.handoffSteps(t, h)
	} else {
		res.NextActions = r.handoffActions(ctx, &rot.progress)
	}
	return res
}

// waiting ends a bounded run at a wait that would pass its deadline
// (deadline.go): the wait is recorded unless the record says so already,
// with the write that gives the lease up, and the next run resumes it.
func (x *exec) waiting(ctx context.Context, rot *rotation, err error) Result {
	var left *waitLeft
	if !errors.As(err, &left) {
		return x.interrupted(ctx, rot, "wait", err)
	}
	rot.progress.Wait = left.record
	if !recordedAlready(x.lease.record, rot.progress) {
		if err := x.save(ctx, rot, true); err != nil {
			return x.interrupted(ctx, rot, "save progress", err)
		}
	}
	return Result{Outcome: ReasonWaiting, Plan: x.plan, Progress: &rot.progress,
		Message: msgWaiting(rot.id(), left), NextActions: waitingActions()}
}

// rollback undoes a rotation after a step failed for good, keeping the
// invariant that every target ends on a token the SCIM endpoint accepts:
//
//   - a target that was never pushed, or that shows it does not hold the
//     new token (Holder), needs nothing;
//   - the others get the old token back when its value is recorded (and
//     still accepted), and are tested;
//   - when every target is thus on the old token, the new token is deleted
//     and the pending version dropped (RolledBack);
//   - otherwise (old value unknown, or restoring failed) nothing is deleted:
//     both tokens and the pending version are kept, the rotation is marked
//     Stuck, and the alert says what each target holds. The next run resumes.
func (x *exec) rollback(ctx context.Context, rot *rotation, step, target string, cause error) Result {
	r := x.r
	// The rollback must run even if the run's context was cancelled mid-step.
	ctx = context.WithoutCancel(ctx)
	log := r.Log.With(zap.String("rotation_id", rot.id()), zap.String("step", step))
	res := Result{Plan: x.plan, FailedStep: step, Err: cause, Progress: &rot.progress}
	if target != "" {
		res.FailedStep = step + " " + target
	}
	rot.progress.LastError = cause.Error()
	if errors.Is(cause, ErrConfirmTimeout) {
		res.Message = "confirmation timed out; "
	}

	// Undoing is acting: the lease first (a long confirmation may have let
	// it lapse, and another run may have carried the rotation on).
	if err := x.lease.guard(ctx, &rot.progress); err != nil {
		return x.interrupted(ctx, rot, "rollback", err)
	}
	manual, err := x.restore(ctx, rot)
	if err != nil {
		rot.progress.Phase = PhaseStuck
		_ = x.save(ctx, rot, true)
		res.Outcome = ReasonFailed
		res.Message += msgStuck(res.FailedStep, err, rot.progress.Targets)
		res.NextActions = append(manual, r.stuckActions(rot)...)
		log.Error("rollback incomplete", zap.Error(err))
		return res
	}

	// No target holds the new token any more: drop it.
	if r.manual() {
		res.NextActions = append(res.NextActions, fmt.Sprintf("Delete the unused new token %s in the IAM Identity Center console", rot.newRec.ID))
	} else if err := x.deleteNew(ctx, rot); err != nil {
		log.Warn("delete new token; it is unused and will be deleted when room is needed", zap.Error(err))
	}
	if err := r.step(ctx, "rollback", "", "drop pending version "+rot.id(), func() error {
		if err := x.lease.guard(ctx, &rot.progress); err != nil {
			return err
		}
		return r.Store.DiscardPending(ctx, rot.id())
	}); err != nil {
		log.Warn("drop pending version", zap.Error(err))
	}
	rot.progress.Phase, rot.progress.Outcome = PhaseDone, ReasonRolledBack
	_ = x.save(ctx, rot, true)
	res.Outcome = ReasonRolledBack
	res.Message += msgRolledBack(res.FailedStep, cause)
	return res
}

// deleteNew deletes the rotation's new token once no target holds it. It
// never deletes a token the plan or the store treats as live or old, and
// only while this run holds the lock.
func (x *exec) deleteNew(ctx context.Context, rot *rotation) error {
	r, id := x.r, rot.newRec.ID
	if id == "" || id == rot.oldID || x.plan.Live != nil && id == x.plan.Live.ID {
		return fmt.Errorf("refusing to delete token %s: it is not this rotation's new token", id)
	}
	return r.step(ctx, "rollback", "", "delete new token "+id, func() error {
		if err := x.lease.guard(ctx, &rot.progress); err != nil {
			return err
		}
		return r.tokens().DeleteToken(ctx, id)
	})
}

// restore leaves every target on the old token: targets that provably never
// left it are marked so; the others get the old token pushed back. It fails,
// having changed what it could, when a target may still hold the new token.
func (x *exec) restore(ctx context.Context, rot *rotation) (manual []string, err error) {
	r := x.r
	newCred := x.cred(rot.newRec)
	var need []int
	for i, tp := range rot.progress.Targets {
		if !possiblySwitched(tp) {
			continue
		}
		if h, ok := r.Targets[i].(Holder); ok {
			holds, herr := h.Holds(ctx, newCred)
			if herr == nil && !holds {
				rot.progress.Targets[i].State, rot.progress.Targets[i].Message = TargetRestored, "never switched: it does not hold the new token"
				continue
			}
		}
		need = append(need, i)
	}
	if len(need) == 0 {
		return nil, nil
	}
	if rot.old == nil || rot.old.Value.IsZero() {
		return nil, errors.New("the old token's value was never recorded (record it with `scim-rotator stage --current`)")
	}
	old := x.cred(*rot.old)
	if err := r.step(ctx, "rollback", "", "prove old token "+old.TokenID+" still works", func() error { return r.Prover.ProveToken(ctx, old) }); err != nil {
		return nil, fmt.Errorf("the old token %s is no longer accepted: %w", old.TokenID, err)
	}
	var errs []error
	for _, i := range need {
		t, tp := r.Targets[i], &rot.progress.Targets[i]
		var res PushResult
		err := r.step(ctx, "rollback", t.Name(), "push old token "+old.TokenID+" back to "+t.Name(), func() error {
			if err := x.lease.guard(ctx, &rot.progress); err != nil {
				return err
			}
			var err error
			res, err = t.Push(ctx, old)
			return err
		})
		if err == nil && res.Handoff != nil {
			manual = append(manual, fmt.Sprintf("Put the old token back on %s by hand: %s (print it with %s)", t.Name(), res.Handoff.ConsoleURL, r.Store.RevealHint(StageCurrent)))
			err = fmt.Errorf("%s needs a human to put the old token back", t.Name())
		}
		if err == nil {
			err = r.step(ctx, "rollback", t.Name(), "test old token on "+t.Name(), func() error { return t.Test(ctx, old) })
		}
		if err != nil {
			tp.Message = "restoring the old token failed: " + err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", t.Name(), err))
			continue
		}
		tp.State, tp.Message = TargetRestored, "old token restored"
	}
	return manual, errors.Join(errs...)
}

// stuckActions are the manual steps when a rotation could not be undone.
func (r *Rotator) stuckActions(rot *rotation) []string {
	acts := []string{
		fmt.Sprintf("Do not delete either Identity Center token: new %s and old %s may both be in use", rot.newRec.ID, orUnknown(rot.oldID)),
	}
	for _, tp := range rot.progress.Targets {
		if possiblySwitched(tp) && tp.State != TargetRestored {
			acts = append(acts, fmt.Sprintf("Target %s (%s) may hold the new token %s; it works. Fix the cause (%s) and run `scim-rotator rotate` to finish the rotation", tp.Name, tp.State, rot.newRec.ID, orUnknown(tp.Message)))
		}
	}
	return append(acts, "The new token is readable with: "+r.Store.RevealHint(StagePending))
}

// oldTokenSent ends a run whose canary showed an IdP still sending the old
// token (R1, R3): nothing is promoted or deleted; the target goes back to
// waiting for its hand-off (or is pushed again) and the rotation stays in
// progress.
func (x *exec) oldTokenSent(ctx context.Context, rot *rotation, o *oldUse) Result {
	r := x.r
	for i := range rot.progress.Targets {
		tp := &rot.progress.Targets[i]
		if tp.Name != o.target {
			continue
		}
		tp.CanaryAt, tp.CanaryDone, tp.SwitchedAt = time.Time{}, time.Time{}, time.Time{}
		if tp.Handoff {
			tp.State, rot.progress.Phase = TargetAwaitingHandoff, PhaseAwaitingHandoff
			tp.Message = "its canary was provisioned with the old token: the new token was not saved"
		} else {
			tp.State, tp.Message = TargetPushing, "its canary was provisioned with the old token"
		}
	}
	// Written (the record may call the target Confirmed), and the run ends.
	if err := x.save(ctx, rot, true); err != nil {
		r.Log.Warn("record the target's state; the next run re-reads it", zap.Error(err))
	}
	res := Result{Outcome: ReasonOldTokenInUse, Plan: x.plan, FailedStep: "prove use " + o.target, Progress: &rot.progress,
		Message: msgOldSentByTarget(o.target, rot.oldID, &o.use)}
	for i, t := range r.Targets {
		if t.Name() == o.target && rot.progress.Targets[i].Handoff {
			res.NextActions = r.handoffActions(ctx, &rot.progress)
		}
	}
	return res
}

// interrupted ends a run whose work is not done with the state kept; the
// next run resumes. Humans hear of it only when the same step keeps failing
// (3 runs or an hour).
func (x *exec) interrupted(ctx context.Context, rot *rotation, step string, cause error) Result {
	return x.interruptedWith(ctx, rot, step, cause, msgInterrupted(rot.id(), step, cause), nil)
}

// interruptedWith is interrupted with the run's own message and next actions.
func (x *exec) interruptedWith(ctx context.Context, rot *rotation, step string, cause error, msg string, next []string) Result {
	if res, ok := x.superseded(cause, rot); ok {
		return res
	}
	r := x.r
	if ctx.Err() != nil {
		cause = nil // the process is being stopped: not a failure
	}
	ctx = context.WithoutCancel(ctx)
	now := r.Clock.Now()
	pr := &rot.progress
	if cause != nil {
		if pr.FailingStep != step {
			pr.FailingStep, pr.FailingSince, pr.Failures = step, now, 0
		}
		pr.LastError = cause.Error()
		if pr.Failures < alertAfterFailures {
			pr.Failures++
			// The run ends here: the write gives the lease up too.
			if err := x.save(ctx, rot, true); err != nil {
				r.Log.Warn("record the interruption; the next run resumes from the last record", zap.Error(err))
			}
		}
	}
	res := Result{Outcome: ReasonInterrupted, Plan: x.plan, Progress: pr, FailedStep: step, Err: cause,
		Message: msg, NextActions: next}
	// A full store cannot record the failures: it says how long it has been full.
	d, full := fullFor(cause, now)
	res.quiet = cause == nil || pr.Failures < alertAfterFailures && now.Sub(pr.FailingSince) < time.Hour && (!full || d < time.Hour)
	if !res.quiet {
		res.Message += fmt.Sprintf(" (this step has failed %d times in a row since %s; it is retried at most once an hour)", pr.Failures, stamp(pr.FailingSince))
	}
	return res
}

// keepBoth ends a run whose refused proof is not the new token's fault:
// Interrupted, nothing rolled back or deleted, the network rules named when
// they could be read (rerr otherwise).
func (x *exec) keepBoth(ctx context.Context, rot *rotation, step string, cause error, rules NetworkRules, rerr error) *Result {
	msg := fmt.Sprintf("%v. The likely cause is not the new token but this host's access to the SCIM endpoint (the identity store's network rules, or an outage): "+
		"both tokens and the pending version are kept, nothing was rolled back, and the next run proves them again. ", cause)
	var next []string
	if rerr != nil {
		msg += fmt.Sprintf("The identity store's network rules could not be read (%v)", rerr)
		next = append(next, "Check the identity store's network rules (IAM Identity Center console, or identitystore:DescribeIdentityStore, which the rotator may be allowed to call): SCIM calls from this host must be allowed")
	} else {
		msg += "The identity store's network rules: " + rules.SCIMWords()
		next = append(next, networkActions(rules)...)
	}
	next = append(next, fmt.Sprintf("Do not delete either Identity Center token: the current one %s still serves every target", orUnknown(rot.oldID)))
	res := x.interruptedWith(ctx, rot, step, cause, msg, next)
	return &res
}

// superseded ends a round whose write found the store's record changed by
// another run: observed again (stale), or Busy when that run holds it now.
// Nothing is written.
func (x *exec) superseded(err error, rot *rotation) (Result, bool) {
	lost, busy := lostOrBusy(err)
	switch {
	case busy != nil:
		return Result{Outcome: ReasonBusy, Lock: &busy.Lock, Message: msgBusy(busy.Lock), Plan: x.plan}, true
	case lost:
		res := Result{Outcome: ReasonInterrupted, Plan: x.plan, Err: err, stale: true,
			Message: "another run changed the store's record while this one waited"}
		if rot != nil {
			res.Progress = &rot.progress
		}
		return res, true
	}
	return Result{}, false
}
