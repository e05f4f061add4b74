package rotator

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"
)

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
