package rotator

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"
)

// rollback undoes a rotation after a step failed, keeping the invariant that
// every target ends on a token the SCIM endpoint accepts:
//
//   - no target possibly switched: delete the new token, drop the pending version;
//   - targets switched and the old token's value recorded (and still accepted):
//     push it back to each, test it, then delete the new token and drop pending;
//   - otherwise (old value unknown, or restoring failed): delete nothing, keep
//     both tokens and the pending version, and say exactly what each target
//     holds and what a human must do. The next run resumes the rotation.
func (r *Rotator) rollback(ctx context.Context, rot *rotation, plan Plan, step, target string, cause error) Result {
	// The rollback must run even if the run's context was cancelled mid-step.
	ctx = context.WithoutCancel(ctx)
	log := r.Log.With(zap.String("rotation_id", rot.id()), zap.String("step", step))
	res := Result{Plan: plan, FailedStep: step, Err: cause, Progress: &rot.progress}
	if target != "" {
		res.FailedStep = step + " " + target
	}
	rot.progress.LastError = cause.Error()
	if errors.Is(cause, ErrConfirmTimeout) {
		res.Message = "confirmation timed out; "
	}

	var switched []int
	for i, tp := range rot.progress.Targets {
		if possiblySwitched(tp) {
			switched = append(switched, i)
		}
	}

	if len(switched) > 0 {
		restored, manual, err := r.restore(ctx, rot, switched)
		if err != nil {
			rot.progress.Phase = PhaseStuck
			_ = r.save(ctx, rot)
			res.Outcome = ReasonFailed
			res.Message += fmt.Sprintf("%s failed and the old token could not be put back (%v); both Identity Center tokens and the pending version are kept so that every target still works. Target states: %s",
				res.FailedStep, err, describeTargets(rot.progress.Targets))
			res.NextActions = append(manual, r.stuckActions(rot)...)
			log.Error("rollback incomplete", zap.Error(err))
			return r.finish(ctx, res, nil)
		}
		log.Info("old token restored", zap.Strings("targets", restored))
	}

	// No target holds the new token any more: drop it.
	if r.Manual {
		res.NextActions = append(res.NextActions, fmt.Sprintf("Delete the unused new token %s in the IAM Identity Center console", rot.newRec.ID))
	} else if rot.newRec.ID != "" {
		if err := r.step(ctx, "rollback", "", "delete new token "+rot.newRec.ID, func() error { return r.Issuer.DeleteToken(ctx, rot.newRec.ID) }); err != nil {
			log.Warn("delete new token; it is unused and will be deleted when room is needed", zap.Error(err))
		}
	}
	if err := r.step(ctx, "rollback", "", "drop pending version "+rot.id(), func() error { return r.Store.DiscardPending(ctx, rot.id()) }); err != nil {
		log.Warn("drop pending version", zap.Error(err))
	}
	rot.progress.Phase, rot.progress.Outcome = PhaseDone, ReasonRolledBack
	_ = r.save(ctx, rot)
	res.Outcome = ReasonRolledBack
	res.Message += fmt.Sprintf("%s failed: %v; rolled back, every target is on the old token, which stays live", res.FailedStep, cause)
	return r.finish(ctx, res, nil)
}

// possiblySwitched: a push was attempted, so the target may hold the new token.
func possiblySwitched(tp TargetProgress) bool {
	switch tp.State {
	case TargetPushing, TargetPushed, TargetTested, TargetConfirmed, TargetAwaitingHandoff:
		return true
	case TargetFailed:
		return !tp.PushedAt.IsZero()
	}
	return false
}

// restore puts the old token back on the switched targets. It fails without
// touching anything when the old token's value is unknown or no longer
// accepted by the SCIM endpoint.
func (r *Rotator) restore(ctx context.Context, rot *rotation, idx []int) (restored, manual []string, err error) {
	if rot.old == nil || rot.old.Value.IsZero() {
		return nil, nil, errors.New("the old token's value was never recorded (record it with `scim-rotator stage --current`)")
	}
	old := Credential{SCIMEndpoint: rot.old.SCIMEndpoint, TokenID: rot.old.ID, Token: rot.old.Value}
	if old.SCIMEndpoint == "" {
		old.SCIMEndpoint = rot.newRec.SCIMEndpoint
	}
	if err := r.step(ctx, "rollback", "", "prove old token "+old.TokenID+" still works", func() error { return r.Prover.ProveToken(ctx, old) }); err != nil {
		return nil, nil, fmt.Errorf("the old token %s is no longer accepted: %w", old.TokenID, err)
	}
	var errs []error
	for _, i := range idx {
		t, tp := r.Targets[i], &rot.progress.Targets[i]
		var res PushResult
		err := r.step(ctx, "rollback", t.Name(), "push old token "+old.TokenID+" back to "+t.Name(), func() error {
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
		restored = append(restored, t.Name())
	}
	return restored, manual, errors.Join(errs...)
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
	acts = append(acts, "The new token is readable with: "+r.Store.RevealHint(StagePending))
	return acts
}

func describeTargets(ts []TargetProgress) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.Name + "=" + string(t.State)
	}
	return strings.Join(parts, ", ")
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
