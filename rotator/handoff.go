package rotator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Hand-offs: a target whose change a human finishes (Okta's Admin Console,
// a SCIM client the product cannot configure). This file is the one place
// a hand-off is announced and watched for every target type.
//
// The run that pushes announces it (awaitHandoff): the command that prints
// the pending token (never the token), the console page, the target's own
// steps and how the change will be confirmed; the run ends AwaitingHandoff
// with both tokens kept. The target then waits in AwaitingHandoff
// (transitions.go, step "wait") until:
//
//	| target             | run                   | wait step's event                          |
//	|--------------------|-----------------------|--------------------------------------------|
//	| not a watcher      | rotate --continue     | continued: Pushed, then test and confirm   |
//	| not a watcher      | any other run         | waiting: the reminder, nothing written     |
//	| watches hand-off   | any run (--continue   | proven: Confirmed, when its Confirm, asked |
//	|                    | or scheduled)         | once (deadline now), finds proof; else     |
//	|                    |                       | waiting: the reminder, nothing written     |
//
// A watcher's proof is its own (the handoff target: CloudTrail shows the
// client on the new token and off the old one), so it needs no test or
// second confirmation: it goes straight to Confirmed, switched when
// CloudTrail showed the new token in use once the old one had stopped
// (switchedAt). After confirmTimeout
// without proof a scheduled run reports the hand-off overdue (Failed, as
// for any hand-off), still deleting nothing.

// handoffWatch is what one run learned from a target that watches its hand-off.
type handoffWatch struct {
	// proven names the target whose change this run proved, and provenAt
	// is when CloudTrail first showed the new token in use (its switch).
	proven   string
	provenAt time.Time
	// note says why a look found no proof yet (for the reminder).
	note string
}

// watches reports whether t proves its own hand-off.
func watches(t Target) bool {
	return t.Abilities().WatchesHandoff
}

// handoffSince is when a target's hand-off was announced: only evidence
// after it counts.
func handoffSince(rot *rotation, tp TargetProgress) time.Time {
	if !tp.PushedAt.IsZero() {
		return tp.PushedAt
	}
	return rot.progress.HandoffSince
}

// waitStep is the step of a target in AwaitingHandoff (see the table above).
func (x *exec) waitStep(ctx context.Context, rot *rotation, tp *TargetProgress, t Target, cred Credential) targetEvent {
	if !watches(t) {
		if x.opts.Continue {
			return evContinued
		}
		return evWaiting
	}
	if x.watch.proven != t.Name() && !x.lookHandoff(ctx, rot, *tp, t, cred) {
		return evWaiting
	}
	tp.SwitchedAt = x.watch.provenAt
	return evProven
}

// watchHandoff is a run whose plan is to wait for a hand-off (ActionWait):
// when the waiting target watches its hand-off it is asked once; proven,
// the rotation is carried on at once; otherwise the run ends with the
// reminder, writing nothing. done is false when no watcher waits.
func (x *exec) watchHandoff(ctx context.Context, obs Observed) (Result, bool) {
	pr := obs.Store.Progress
	if obs.Store.Pending == nil || pr == nil || pr.Phase != PhaseAwaitingHandoff ||
		x.plan.Cause != CauseHandoff && x.plan.Cause != CauseHandoffOverdue {
		return Result{}, false
	}
	rot := x.resume(obs)
	for i, t := range x.r.Targets {
		tp := rot.progress.Targets[i]
		if tp.State != TargetAwaitingHandoff || !watches(t) {
			continue
		}
		if err := x.markRevoke(ctx, rot); err != nil {
			return x.interrupted(ctx, rot, "save progress", err), true
		}
		if x.lookHandoff(ctx, rot, tp, t, x.cred(rot.newRec)) {
			return x.carry(ctx, rot, true), true
		}
		msg := fmt.Sprintf("rotation %s waits for a human to paste the new token into %s; every run looks for it in CloudTrail, no --continue needed (both tokens are kept)", rot.id(), t.Name())
		if x.plan.Cause == CauseHandoffOverdue {
			msg = x.plan.Message
		}
		res := Result{Outcome: x.plan.Reason, Plan: x.plan, Progress: &rot.progress,
			Message: msg + " (" + x.watch.note + ")", NextActions: x.r.handoffActions(ctx, &rot.progress)}
		if res.Outcome == ReasonFailed {
			res.FailedStep, res.Err = "watch "+t.Name(), errors.New(x.watch.note)
		}
		return res, true
	}
	return Result{}, false
}

// lookHandoff asks a target that watches its hand-off once whether its change is proven. A
// lookup that fails is no proof: the rotation keeps waiting.
func (x *exec) lookHandoff(ctx context.Context, rot *rotation, tp TargetProgress, t Target, cred Credential) bool {
	r := x.r
	now := r.Clock.Now()
	req := ConfirmRequest{Credential: cred, Since: handoffSince(rot, tp), Deadline: now, OldTokenID: rot.oldID}
	detail := "look in CloudTrail for " + t.Name() + "'s SCIM calls with the new token " + rot.newRec.ID
	if r.OnStep != nil {
		r.OnStep(StepEvent{Step: "watch", Target: t.Name(), Detail: detail})
	}
	err := t.Confirm(ctx, req)
	if r.Observer != nil {
		r.Observer.StepDone("watch", t.Name(), r.Clock.Now().Sub(now))
	}
	done := StepEvent{Step: "watch", Target: t.Name(), Done: true, Detail: detail + ": proven"}
	switch {
	case err == nil:
		x.watch.proven, x.watch.provenAt = t.Name(), x.switchedAt(ctx, rot, req.Since, now)
		r.Log.Info("hand-off proven by CloudTrail", zap.String("target", t.Name()), zap.String("token_id", rot.newRec.ID), zap.Time("switched_at", x.watch.provenAt))
	case errors.Is(err, ErrConfirmTimeout):
		x.watch.note = "no proof yet: " + strings.TrimSuffix(err.Error(), ": "+ErrConfirmTimeout.Error())
		done.Detail = detail + ": not yet"
		r.Log.Info("hand-off not proven yet", zap.String("target", t.Name()), zap.String("reason", err.Error()))
	default:
		x.watch.note = "CloudTrail could not be read, so the hand-off is not proven: " + err.Error()
		done.Err = err
		r.Log.Warn("hand-off look failed; waiting", zap.String("target", t.Name()), zap.Bool("transient", isTransient(err)), zap.Error(err))
	}
	if r.OnStep != nil {
		r.OnStep(done)
	}
	return err == nil
}

// switchedAt estimates when a proven target's client switched to the new
// token: the first call with it (by anything but the product) after the
// last call with the old token since the hand-off. That lies after the
// client's last call with the old token and no later than its first with
// the new one, so proof of use finds the call it needs and the quiet
// period counts from the client's switch. With the old token still in use
// (a client nobody gave the new token) there is no such call: now, which
// only makes proof of use wait for a later call.
func (x *exec) switchedAt(ctx context.Context, rot *rotation, since, now time.Time) time.Time {
	if x.r.Usage == nil {
		return now
	}
	uses, err := x.r.Usage.Uses(ctx, since, now)
	if err != nil {
		return now
	}
	from := since.Truncate(time.Second)
	var at time.Time
	for _, u := range uses { // oldest first
		switch {
		case !counts(u) || u.Time.Before(from):
		case u.TokenID == rot.oldID:
			at = time.Time{}
		case u.TokenID == rot.newRec.ID && at.IsZero():
			at = u.Time
		}
	}
	if at.IsZero() {
		return now
	}
	return at
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

// handoffSteps turns a target's hand-off into the operator's instructions,
// adding how to read the token from the store (never the token itself) and
// how the change will be confirmed.
func (r *Rotator) handoffSteps(t Target, h *Handoff) []string {
	steps := []string{"Print the new token (it is stored as AWSPENDING): " + r.Store.RevealHint(StagePending)}
	if h.ConsoleURL != "" {
		steps = append(steps, "Open "+h.ConsoleURL)
	}
	steps = append(steps, h.Steps...)
	if watches(t) {
		return append(steps, fmt.Sprintf("Then nothing more: every later run (or `scim-rotator rotate --continue`, to look at once) confirms %s as soon as CloudTrail shows its SCIM calls with the new token and none with the old one (CloudTrail delivers them up to usage.deliveryDelay late), and finishes the rotation", t.Name()))
	}
	return append(steps, "Then run `scim-rotator rotate --continue` to confirm the sync and finish the rotation")
}

// handoffActions rebuilds the reminder on later runs from the waiting
// target's description of its hand-off (read-only).
func (r *Rotator) handoffActions(ctx context.Context, pr *Progress) []string {
	for i, t := range r.Targets {
		if i < len(pr.Targets) && pr.Targets[i].State == TargetAwaitingHandoff {
			if d, ok := t.(HandoffDescriber); ok {
				if h, err := d.DescribeHandoff(ctx); err == nil && h != nil {
					return r.handoffSteps(t, h)
				}
			}
		}
	}
	return []string{"Finish the hand-off, then run `scim-rotator rotate --continue`"}
}
