package rotator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
)

// The executor: one run's execution of a plan, a rotation from creating its
// token to deleting the old one. Its phases are start (make room, create,
// store pending), carry (prove, validate, each target through the table of
// transitions.go, prove use, promote) and finishOld (quiet, delete old);
// how a failed step ends the run is end.go's.

// rotation is one rotation in memory.
type rotation struct {
	newRec   Record
	old      *Record // the token the targets used before, with its value if recorded
	oldID    string
	progress Progress
	// resumed: the token was stored by an earlier run.
	resumed bool
}

func (rot *rotation) id() string { return rot.progress.RotationID }

// exec is one run's execution of a plan.
type exec struct {
	r      *Rotator
	lease  *lease
	plan   Plan
	tenant Tenant
	opts   RunOptions
	// watch is what this run learned from a hand-off watcher (handoff.go);
	// suspects who still used the old token of a revoke-old rotation
	// (revoke.go).
	watch    handoffWatch
	suspects suspects
	// proven is the token this run proved against the SCIM endpoint last,
	// and when (see provenNow).
	proven   string
	provenAt time.Time
	// usage is the run's reader of SCIM calls (nil without a usage
	// source): every wait and look of the run reads only what it has not.
	usage *usageReader
}

// provenFresh is how long a proof this run made stands for the next step
// that needs one: within it the SCIM endpoint is not asked again.
const provenFresh = time.Minute

// provenNow proves rec against the SCIM endpoint unless this run did within
// provenFresh (a rotation without waits deletes the old token seconds
// after proving the new one, before any target was switched).
func (x *exec) provenNow(ctx context.Context, rec Record) error {
	r := x.r
	if x.proven == rec.ID && r.Clock.Now().Sub(x.provenAt) < provenFresh {
		return nil
	}
	if err := r.Prover.ProveToken(ctx, x.cred(rec)); err != nil {
		return err
	}
	x.proven, x.provenAt = rec.ID, r.Clock.Now()
	return nil
}

// cred builds a credential for rec. The SCIM endpoint is always Identity
// Center's (or the config's), never one read from the store.
func (x *exec) cred(rec Record) Credential {
	return Credential{SCIMEndpoint: x.tenant.SCIMEndpoint, TokenID: rec.ID, Token: rec.Value}
}

// start makes room, creates the token and stores it as pending before
// anything else: the named steps below, in order, after the checks that
// write nothing (the live token, proof of use, the store's headroom:
// headroom.go). It returns nil and a
// result when the run ends at one of them.
//
// Its writes are the rotation's first two: the record of its start (which
// takes the lease) and the pending token. Created is not written: a run
// stopped after storing the token resumes it from the pending version.
func (x *exec) start(ctx context.Context, obs Observed) (*rotation, Result) {
	for _, check := range []func(context.Context, Observed) *Result{x.proveLive, x.preflight, x.checkHeadroom} {
		if res := check(ctx, obs); res != nil {
			return nil, *res
		}
	}
	rot := x.newRotation(obs)
	if res := x.steps(ctx, rot, x.recordStart, x.makeRoom, x.holdLease); res != nil {
		return nil, *res
	}
	// From creating the token to storing its value nothing may interrupt:
	// the value exists only in this process until it is stored.
	if res := x.steps(context.WithoutCancel(ctx), rot, x.create, x.storePending); res != nil {
		return nil, *res
	}
	return rot, Result{}
}

// steps runs named steps in order until one ends the run (its result).
func (x *exec) steps(ctx context.Context, rot *rotation, steps ...func(context.Context, *rotation) *Result) *Result {
	for _, step := range steps {
		if res := step(ctx, rot); res != nil {
			return res
		}
	}
	return nil
}

// startFailed ends the run at a step of start: nothing is recorded of a
// failure before the token is stored.
func (x *exec) startFailed(ctx context.Context, step string, err error, msg string) *Result {
	res := x.end(ctx, failure{step: step, err: err, message: msg})
	return &res
}

// proveLive: when the plan deletes the token the current record says is not
// live, the record's value must work before the other token goes.
func (x *exec) proveLive(ctx context.Context, obs Observed) *Result {
	r := x.r
	if !slices.ContainsFunc(x.plan.Delete, func(d Deletion) bool { return d.Why == DeleteNotLive }) {
		return nil
	}
	cur := obs.Store.Current
	err := r.step(ctx, "make room", "", "prove the recorded live token "+cur.ID+" before deleting the other", func() error {
		return r.Prover.ProveToken(ctx, x.cred(*cur))
	})
	if err == nil {
		return nil
	}
	msg := "nothing was changed"
	if kindOf(ctx, err) == failPermanent {
		msg = fmt.Sprintf("the SCIM endpoint refuses the value recorded for the live token %s (%v), so the other token is not deleted and nothing was changed: re-record the live token with `%s`", cur.ID, err, stageCurrentCmd)
		if rules, rerr := r.readNetwork(ctx); rerr == nil && rules.RestrictsSCIM() {
			msg += ". The identity store's network rules may be what refuses it, whatever the token: " + rules.SCIMWords()
		}
	}
	res := x.end(ctx, failure{step: "make room", err: err, outcome: ReasonBlocked, message: msg})
	return &res
}

// preflight: proof of use must be possible before a token exists.
func (x *exec) preflight(ctx context.Context, _ Observed) *Result {
	if err := x.r.preflightUsage(ctx); err != nil {
		return x.startFailed(ctx, "create", err, "proof of use is not possible, so no token was created")
	}
	return nil
}

// newRotation is the rotation the plan starts, in memory.
func (x *exec) newRotation(obs Observed) *rotation {
	rot := &rotation{oldID: x.plan.OldTokenID}
	if c := obs.Store.Current; c != nil && c.ID == x.plan.OldTokenID {
		rot.old = c
	}
	rot.progress = Progress{RotationID: newID(), Phase: PhaseCreating, StartedAt: x.r.Clock.Now(), OldTokenID: x.plan.OldTokenID,
		RevokeOld: x.opts.RevokeOld, RequestedBy: x.opts.RequestedBy}
	for _, t := range obs.Tokens {
		rot.progress.PreexistingTokenIDs = append(rot.progress.PreexistingTokenIDs, t.ID)
	}
	rot.progress.Targets = x.r.targetProgress(nil)
	return rot
}

// recordStart is the write-ahead: record which tokens exist before deleting
// or creating any, so that a token created by a run killed before it stored
// the value is recognised as an orphan nobody can hold. This write takes the
// lease, against the record the plan was made from.
func (x *exec) recordStart(ctx context.Context, rot *rotation) *Result {
	if err := x.save(ctx, rot, false); err != nil {
		return x.startFailed(ctx, "create", err, "could not record the rotation's start; nothing was created")
	}
	return nil
}

// makeRoom deletes the unused tokens the plan names.
func (x *exec) makeRoom(ctx context.Context, rot *rotation) *Result {
	r, plan := x.r, x.plan
	for _, d := range plan.Delete {
		if plan.Live != nil && plan.LiveKnown && d.ID == plan.Live.ID {
			// Decide never plans this; refuse loudly if it ever does.
			return x.startFailed(ctx, "make room", fmt.Errorf("refusing to delete live token %s", d.ID), "internal error: the plan named the live token for deletion")
		}
		err := r.step(ctx, "make room", "", "delete token "+d.ID+": "+d.words(), func() error {
			if err := x.lease.guard(ctx, &rot.progress); err != nil {
				return err
			}
			return r.tokens().DeleteToken(ctx, d.ID)
		})
		if err != nil {
			return x.startFailed(ctx, "make room", err, "could not delete unused token "+d.ID+"; nothing else was changed")
		}
	}
	return nil
}

// holdLease: the lease must still be this run's before a token is created.
func (x *exec) holdLease(ctx context.Context, rot *rotation) *Result {
	if err := x.lease.guard(ctx, &rot.progress); err != nil {
		return x.startFailed(ctx, "create", err, "nothing was created")
	}
	return nil
}

// create creates the token. CreateToken is not idempotent: after a failure
// the tokens created by a lost answer are deleted (reconcileCreate).
func (x *exec) create(ctx context.Context, rot *rotation) *Result {
	r := x.r
	var tok Token
	err := r.step(ctx, "create", "", "create a new Identity Center token", func() error {
		var err error
		tok, err = r.tokens().CreateToken(ctx)
		return err
	})
	if err != nil {
		r.reconcileCreate(ctx, rot)
		return x.startFailed(ctx, "create", err, "could not create a token; no target was changed")
	}
	rot.newRec = Record{Token: tok, SCIMEndpoint: x.tenant.SCIMEndpoint, VersionID: rot.id(), Recorded: rot.progress.StartedAt}
	return nil
}

// storePending stores the value, shown once, before anything else; it
// retries a few times in-process, since losing it means deleting the token
// again. Not written: the pending version, named by the rotation id the
// record holds, is what the next run resumes from.
func (x *exec) storePending(ctx context.Context, rot *rotation) *Result {
	r, tok := x.r, rot.newRec.Token
	err := r.step(ctx, "store pending", "", "store token "+tok.ID+" as AWSPENDING (version "+rot.id()+")", func() error {
		var err error
		for attempt := 0; attempt < 3; attempt++ {
			if err = r.Store.PutPending(ctx, rot.id(), rot.newRec); err == nil {
				return nil
			}
		}
		return err
	})
	if err != nil {
		// Nobody can hold a token whose value was never stored: delete it.
		// Failed whatever the error: the token is gone, nothing to resume.
		if derr := r.tokens().DeleteToken(ctx, tok.ID); derr != nil {
			r.Log.Error("delete unstored token; the next run deletes it as an orphan", zap.String("token_id", tok.ID), zap.Error(derr))
		}
		return &Result{Outcome: ReasonFailed, Plan: x.plan, FailedStep: "store pending", Err: err,
			Message: "could not store the new token, so it was deleted again; no target was changed"}
	}
	rot.progress.Phase = PhaseCreated
	rot.progress.NewTokenID, rot.progress.NewTokenExpires = tok.ID, tok.Expires
	return nil
}

// reconcileCreate runs after CreateToken failed: the call is not idempotent
// and its answer was lost, so a token may exist whose value nobody has.
// Any token that did not exist before is such a token: delete it.
func (r *Rotator) reconcileCreate(ctx context.Context, rot *rotation) {
	toks, err := r.tokens().ListTokens(ctx)
	if err != nil {
		r.Log.Warn("list tokens after a failed create; the next run reconciles", zap.Error(err))
		return
	}
	for _, t := range toks {
		if slices.Contains(rot.progress.PreexistingTokenIDs, t.ID) {
			continue
		}
		r.Log.Warn("deleting token created by a create call whose answer was lost", zap.String("token_id", t.ID))
		if err := r.tokens().DeleteToken(ctx, t.ID); err != nil {
			r.Log.Warn("delete orphan token; the next run retries", zap.String("token_id", t.ID), zap.Error(err))
		}
	}
}

// resume rebuilds a rotation in progress from the store. Decide has checked
// the record against Identity Center (same rotation and token, listed now,
// created after the rotation began, same SCIM endpoint).
func (x *exec) resume(obs Observed) *rotation {
	st := obs.Store
	rot := &rotation{newRec: *st.Pending, progress: *st.Progress}
	rot.progress.NewTokenID, rot.progress.NewTokenExpires = st.Pending.ID, st.Pending.Expires
	if rot.progress.Phase == PhaseCreating {
		rot.progress.Phase = PhaseCreated
	}
	rot.progress.Targets = x.r.targetProgress(rot.progress.Targets)
	for i := range rot.progress.Targets {
		rot.progress.Targets[i].State = resumeState(rot.progress.Targets[i])
	}
	rot.oldID = rot.progress.OldTokenID
	if st.Current != nil && st.Current.ID == rot.oldID {
		rot.old = st.Current
	}
	return rot
}

// carry takes a stored pending token through every target (transitions.go),
// then promotes it and deletes the old token: the named steps below, in
// order, then finishOld. resumed: the token was stored by an earlier run.
func (x *exec) carry(ctx context.Context, rot *rotation, resumed bool) Result {
	if o := x.r.Observer; o != nil {
		o.InProgress(true)
		defer o.InProgress(false)
	}
	rot.resumed = resumed
	if res := x.steps(ctx, rot, x.recordRevoke, x.prove, x.validate, x.push, x.proveUse, x.promote); res != nil {
		return *res
	}
	return x.finishOld(ctx, rot)
}

// recordRevoke writes a --revoke-old request before anything acts on it.
func (x *exec) recordRevoke(ctx context.Context, rot *rotation) *Result {
	if err := x.markRevoke(ctx, rot); err != nil {
		res := x.interrupted(ctx, rot, "save progress", err)
		return &res
	}
	return nil
}

// prove proves the new token against the SCIM endpoint.
func (x *exec) prove(ctx context.Context, rot *rotation) *Result {
	r := x.r
	err := r.step(ctx, "prove", "", "prove token "+rot.newRec.ID+" against the SCIM endpoint", func() error {
		return x.provenNow(ctx, rot.newRec)
	})
	if err == nil {
		return nil
	}
	// Refused here as much as the current token is: not the new token's fault.
	if res := x.refusedHere(ctx, rot, "prove", err); res != nil {
		return res
	}
	// A recorded value Identity Center refuses is not ours to act on or
	// delete: report it. Our own new token is rolled back.
	res := x.end(ctx, failure{step: "prove", err: err, rot: rot, rollBack: !rot.resumed,
		outcome: ReasonBlocked, message: msgRefusedPending(rot.newRec.ID, rot.id(), err)})
	return &res
}

// refusedHere applies the differential proof to refusal, the refused proof
// of the rotation's new token at step. It returns nil when the refusal is
// the new token's own (the caller goes on as before), otherwise the run's
// end: Interrupted, both tokens and the pending version kept.
func (x *exec) refusedHere(ctx context.Context, rot *rotation, step string, refusal error) *Result {
	if !errors.Is(refusal, ErrTokenRejected) || kindOf(ctx, refusal) != failPermanent {
		return nil
	}
	r := x.r
	cur := rot.old
	if cur == nil || cur.Value.IsZero() || cur.ID == rot.newRec.ID {
		rules, err := r.readNetwork(ctx)
		// Unreadable rules keep a new token (rolling back deletes it); a
		// resumed one is kept either way (Blocked).
		if err == nil && !rules.RestrictsSCIM() || err != nil && rot.resumed {
			return nil
		}
		cause := fmt.Errorf("the new token %s is refused (%v), and no current token is recorded to tell a bad token from a refused host", rot.newRec.ID, refusal)
		res := x.keepBoth(ctx, rot, step, cause, rules, err)
		res.NextActions = append(res.NextActions, "Record the token your IdP uses today (`"+stageCurrentCmd+"`) so that the next run can tell a bad new token from a refused host")
		return res
	}
	err := r.step(ctx, step, "", "prove the recorded current token "+cur.ID+" the same way, to tell a bad new token from a refused host", func() error {
		return r.Prover.ProveToken(ctx, x.cred(*cur))
	})
	if err == nil {
		return nil
	}
	var cause error
	if errors.Is(err, ErrTokenRejected) {
		cause = fmt.Errorf("%w: the new token %s is refused (%v), and so is the recorded current token %s (%v)", ErrBothRefused, rot.newRec.ID, refusal, cur.ID, err)
	} else {
		cause = fmt.Errorf("the new token %s is refused (%v), and proving the recorded current token %s to compare failed: %w", rot.newRec.ID, refusal, cur.ID, err)
	}
	if ctx.Err() != nil {
		res := x.interrupted(ctx, rot, step, cause)
		return &res
	}
	rules, rerr := r.readNetwork(ctx)
	return x.keepBoth(ctx, rot, step, cause, rules, rerr)
}

// validate runs every untouched target's own test before switching any, so
// that no target is ever switched to a token some target refuses.
func (x *exec) validate(ctx context.Context, rot *rotation) *Result {
	cred := x.cred(rot.newRec)
	for i, t := range x.r.Targets {
		if rot.progress.Targets[i].State != TargetUntouched {
			continue
		}
		err := x.r.step(ctx, "validate", t.Name(), "validate the new token with "+t.Name()+" without saving it", func() error {
			return t.Validate(ctx, cred)
		})
		if err != nil {
			if kindOf(ctx, err) == failPermanent {
				rot.progress.Targets[i].State, rot.progress.Targets[i].Message = TargetFailed, err.Error()
			}
			res := x.end(ctx, failure{step: "validate", target: t.Name(), err: err, rot: rot, rollBack: true})
			return &res
		}
	}
	return nil
}

// push walks each target through the transition table in turn.
func (x *exec) push(ctx context.Context, rot *rotation) *Result {
	rot.progress.Phase = PhasePushing
	if err := x.r.alignSecond(ctx); err != nil {
		res := x.interrupted(ctx, rot, "push", err)
		return &res
	}
	cred := x.cred(rot.newRec)
	for i, t := range x.r.Targets {
		if res, done := x.walk(ctx, rot, i, t, cred); done {
			return &res
		}
	}
	return nil
}

// proveUse (R1): the targets say they synced; CloudTrail must say with
// which token.
func (x *exec) proveUse(ctx context.Context, rot *rotation) *Result {
	found, err := x.usage.proveNewInUse(ctx, rot, x.opts.Deadline)
	switch {
	case isLeft(err):
		res := x.waiting(ctx, rot, err)
		return &res
	case err != nil:
		if kindOf(ctx, err) == failPermanent {
			// Not written: the run's result says it, and the next run waits again.
			rot.progress.LastError = err.Error()
		}
		res := x.end(ctx, failure{step: "prove use", err: err, rot: rot, message: msgNoProofOfUse(rot.newRec.ID, err),
			next: []string{"Make the IdP sync (or trigger the sync job), then run `scim-rotator rotate` to resume the wait"}})
		return &res
	case found != nil:
		res := x.oldTokenSent(ctx, rot, found)
		return &res
	}
	rot.succeeded("prove use")
	rot.progress.waitDone(waitProveUse, "")
	return nil
}

// promote makes the pending version current. After the waits the lease has
// lapsed: the guard takes it again, writing how far the targets came, and
// fails if another run acted. Not written: Decide recognises a promoted
// rotation from the store's labels (its token is current, the record names it).
func (x *exec) promote(ctx context.Context, rot *rotation) *Result {
	r := x.r
	if err := r.step(ctx, "promote", "", "promote version "+rot.id()+" to AWSCURRENT", func() error {
		if err := x.lease.guard(ctx, &rot.progress); err != nil {
			return err
		}
		return r.Store.Promote(ctx, rot.id())
	}); err != nil {
		// Every target holds the new token and the old one still works:
		// nothing is broken; the next run promotes.
		res := x.interrupted(ctx, rot, "promote", err)
		return &res
	}
	rot.progress.Phase = PhasePromoted
	rot.succeeded("promote")
	r.Log.Info("promoted", zap.String("rotation_id", rot.id()), zap.String("old_token_id", rot.oldID))
	return nil
}

// walk takes one target through the transition table until it is
// Confirmed (done=false) or the run ends (done=true, with its result).
func (x *exec) walk(ctx context.Context, rot *rotation, i int, t Target, cred Credential) (Result, bool) {
	tp := &rot.progress.Targets[i]
	for {
		step, ok := stepOf[tp.State]
		if !ok {
			return x.interrupted(ctx, rot, "walk "+t.Name(),
				fmt.Errorf("internal error: target %s is in state %q, which has no step", t.Name(), tp.State)), true
		}
		if step == stepDone {
			return Result{}, false
		}
		name := string(step) + " " + t.Name()
		ev, h, err := x.do(ctx, rot, tp, t, step, cred)
		row, ok := next(tp.State, ev)
		if !ok {
			return x.interrupted(ctx, rot, name, fmt.Errorf("internal error: no transition from %s on %s", tp.State, ev)), true
		}
		switch row.end {
		case endInterrupt:
			return x.interrupted(ctx, rot, name, err), true
		case endWait:
			return x.waiting(ctx, rot, err), true
		case endRollback:
			tp.State, tp.Message = row.next, err.Error()
			return x.end(ctx, failure{step: string(step), target: t.Name(), err: err, rot: rot, rollBack: true}), true
		}
		if row.next != tp.State {
			rot.succeeded(name)
			x.enter(rot, tp, row.next, h)
		}
		if row.writeFirst {
			// The run's last write gives the lease up when the run ends here.
			if err := x.save(ctx, rot, row.end != goOn); err != nil {
				return x.interrupted(ctx, rot, "save progress", err), true
			}
			rot.succeeded("save progress")
		}
		if row.end == endHandoff {
			return x.awaitHandoff(ctx, rot, t, h), true
		}
	}
}

// enter moves a target into state to, with what the record keeps of it.
func (x *exec) enter(rot *rotation, tp *TargetProgress, to TargetState, h *Handoff) {
	now := x.r.Clock.Now()
	tp.State, tp.Message = to, ""
	switch to {
	case TargetPushing:
		tp.PushedAt = now
		rot.progress.Phase = PhasePushing
	case TargetPushed: // the push answered, or the operator continued
		tp.SwitchedAt = now
		rot.progress.Phase = PhasePushing
	case TargetAwaitingHandoff:
		tp.Handoff = true
		tp.Message = "waiting for a human to paste the token in " + h.ConsoleURL
		if rot.progress.HandoffSince.IsZero() {
			rot.progress.HandoffSince = now
		}
		rot.progress.Phase = PhaseAwaitingHandoff
	default:
		rot.progress.Phase = PhasePushing
	}
}

// do runs one target step and classifies how it ended.
func (x *exec) do(ctx context.Context, rot *rotation, tp *TargetProgress, t Target, step targetStep, cred Credential) (targetEvent, *Handoff, error) {
	r := x.r
	var h *Handoff
	var err error
	switch step {
	case stepBegin:
		return evOK, nil, nil
	case stepWait:
		return x.waitStep(ctx, rot, tp, t, cred), nil, nil
	case stepPush:
		err = r.step(ctx, "push", t.Name(), "push token "+rot.newRec.ID+" to "+t.Name(), func() error {
			if err := x.lease.guard(ctx, &rot.progress); err != nil {
				return err
			}
			res, err := t.Push(ctx, cred)
			h = res.Handoff
			return err
		})
		if err == nil && h != nil {
			return evHandoff, h, nil
		}
	case stepTest:
		err = r.step(ctx, "test", t.Name(), "test connection of "+t.Name(), func() error { return t.Test(ctx, cred) })
	case stepConfirm:
		ev, err := x.confirm(ctx, rot, tp, t, cred)
		return ev, nil, err
	}
	switch {
	case err == nil:
		return evOK, nil, nil
	case kindOf(ctx, err) != failPermanent:
		return evTransient, nil, err
	}
	return evFailed, nil, err
}

// confirm is a target's confirmation step: it asks the target to confirm
// a sync since the change, within confirmTimeout of its first ask (as a
// bounded run recorded it), or leaves it to the next run at this run's
// deadline (deadline.go). evOK with a nil error: confirmed.
func (x *exec) confirm(ctx context.Context, rot *rotation, tp *TargetProgress, t Target, cred Credential) (targetEvent, error) {
	r := x.r
	if t.Abilities().Canary {
		if err := x.r.alignSecond(ctx); err != nil {
			return evTransient, err
		}
		tp.CanaryAt = r.Clock.Now()
	}
	since := tp.PushedAt
	if since.IsZero() {
		since = rot.progress.HandoffSince
	}
	// confirmTimeout from the first ask, which a bounded run that left
	// the confirmation recorded (deadline.go).
	began := rot.progress.waitBegan(waitConfirm, t.Name(), r.Clock.Now())
	own := began.Add(r.ConfirmTimeout)
	end, cut := bounded(own, x.opts.Deadline)
	req := ConfirmRequest{Credential: cred, Since: since, Deadline: end}
	// A wait: the lease is not renewed while it lasts (see lease).
	err := r.step(ctx, "confirm", t.Name(), "confirm a sync by "+t.Name()+" since the token change", func() error {
		then := "the rotation is rolled back: the old token goes back on every switched target"
		if cut {
			then = "the wait is left to the next run (this run's deadline); nothing is undone"
		}
		wt := r.newWait("confirm", t.Name(), Wait{For: "a sync by " + t.Name() + " since the change to the new token " + rot.newRec.ID,
			Since: since, Deadline: req.Deadline, Then: then})
		req.Progress = wt.confirmPoll
		err := t.Confirm(ctx, req)
		if cut && errors.Is(err, ErrConfirmTimeout) {
			return leftConfirm(t.Name(), began, own, x.opts.Deadline)
		}
		return err
	})
	switch {
	case err == nil:
		rot.progress.waitDone(waitConfirm, t.Name())
		if !tp.CanaryAt.IsZero() {
			tp.CanaryDone = r.Clock.Now()
		}
	case isLeft(err):
		// Asked again by the next run, which triggers its canary anew.
		tp.CanaryAt, tp.Message = time.Time{}, "its confirmation is left to the next run (this run's deadline)"
		return evDeadline, err
	}
	switch {
	case err == nil:
		return evOK, nil
	case kindOf(ctx, err) != failPermanent:
		return evTransient, err
	}
	return evFailed, err
}

// save writes rot's progress into the store's state record with this run's
// lease (taking it on the run's first write); release gives the lease up
// with the same write, for the run's last one.
func (x *exec) save(ctx context.Context, rot *rotation, release bool) error {
	if err := x.lease.write(ctx, &rot.progress, release); err != nil {
		x.r.Log.Warn("save progress", zap.String("rotation_id", rot.id()), zap.Error(err))
		return fmt.Errorf("save progress: %w", err)
	}
	return nil
}

// succeeded forgets a recorded failure of step once it has worked.
func (rot *rotation) succeeded(step string) {
	if p := &rot.progress; p.FailingStep == step {
		p.FailingStep, p.FailingSince, p.Failures, p.LastError = "", time.Time{}, 0, ""
	}
}

// finishOld deletes the replaced token, the last step of a rotation. A
// persistent failure leaves the rotation Promoted (the store's mark that the
// old token is still to delete); every later run retries it first.
func (x *exec) finishOld(ctx context.Context, rot *rotation) Result {
	r := x.r
	res := Result{Outcome: ReasonRotated, Plan: x.plan, Progress: &rot.progress, Message: msgRotated(rot.newRec, r.Clock.Now())}
	if err := x.markRevoke(ctx, rot); err != nil {
		return x.interrupted(ctx, rot, "save progress", err)
	}
	if rot.oldID != "" && rot.oldID != rot.newRec.ID && !r.manual() {
		// R2: nothing may still use the old token (a revoke-old rotation
		// only names who does).
		inUse, err := x.oldTokenQuiet(ctx, rot)
		switch {
		case isLeft(err):
			return x.waiting(ctx, rot, err)
		case err != nil:
			return x.end(ctx, failure{step: "quiet", err: err, rot: rot,
				message: fmt.Sprintf("token %s is live, but whether the old token %s is still used cannot be looked up (%v); it is kept", rot.newRec.ID, rot.oldID, err)})
		case inUse != nil:
			return Result{Outcome: ReasonOldTokenInUse, Plan: x.plan, FailedStep: "quiet", Progress: &rot.progress,
				Message: msgOldInUse(rot.oldID, inUse), NextActions: oldInUseActions(rot.oldID, rot.newRec.ID, inUse, r.Store.RevealHint(StageCurrent))}
		}
	}
	if rot.oldID != "" && rot.oldID != rot.newRec.ID {
		if r.manual() {
			res.NextActions = append(res.NextActions, fmt.Sprintf("Delete the old token %s in the IAM Identity Center console (Settings > Automatic provisioning > Manage access tokens)", rot.oldID))
		} else if err := r.step(ctx, "delete old", "", "delete old Identity Center token "+rot.oldID, func() error {
			// The token we keep must work before the other one goes (a
			// proof this run made a moment ago stands).
			if err := x.provenNow(ctx, rot.newRec); err != nil {
				return fmt.Errorf("the current token %s does not work, so the old one is kept: %w", rot.newRec.ID, err)
			}
			if err := x.lease.guard(ctx, &rot.progress); err != nil {
				return err
			}
			return r.tokens().DeleteToken(ctx, rot.oldID)
		}); err != nil {
			// A permanent failure is not written: the record names the
			// rotation's tokens, which is all the next run needs to retry.
			rot.progress.LastError = err.Error()
			return x.end(ctx, failure{step: "delete old", err: err, rot: rot,
				message: fmt.Sprintf("token %s is live on every target, but deleting the old token %s failed (%v); it stays until a later run deletes it, which every run tries first",
					rot.newRec.ID, rot.oldID, err),
				next: []string{fmt.Sprintf("Fix the cause, or delete token %s in the IAM Identity Center console", rot.oldID)}})
		}
	}
	x.recordRevocation(rot, &res)
	rot.progress.Phase, rot.progress.Outcome, rot.progress.LastError = PhaseDone, ReasonRotated, ""
	rot.progress.FailingStep, rot.progress.Failures, rot.progress.FailingSince = "", 0, time.Time{}
	// The rotation's last write, which gives the lease up.
	if err := x.save(ctx, rot, true); err != nil {
		if res, ok := x.superseded(err, rot); ok {
			return res
		}
		r.Log.Warn("record the finished rotation", zap.Error(err))
	}
	return res
}

// targetProgress lines progress up with the configured targets, keeping
// what was recorded for each name.
func (r *Rotator) targetProgress(prev []TargetProgress) []TargetProgress {
	out := make([]TargetProgress, len(r.Targets))
	for i, t := range r.Targets {
		out[i] = TargetProgress{Name: t.Name(), State: TargetUntouched}
		for _, p := range prev {
			if p.Name == t.Name() {
				out[i] = p
			}
		}
	}
	return out
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
			msg = x.plan.Message()
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
	if x.usage != nil {
		req.Usage = x.usage
	}
	detail := "look in CloudTrail for " + t.Name() + "'s SCIM calls with the new token " + rot.newRec.ID
	r.emit(StepEvent{Step: "watch", Target: t.Name(), Detail: detail})
	wt := r.newWait("watch", t.Name(), Wait{For: "a human to paste the new token " + rot.newRec.ID + " into " + t.Name() + ", shown by its client's SCIM calls in CloudTrail",
		Since: req.Since, Deadline: r.handoffDeadline(rot), Then: "runs report the hand-off overdue (Failed, alerted); both tokens are kept"})
	err := t.Confirm(ctx, req)
	if r.Observer != nil {
		r.Observer.StepDone("watch", t.Name(), r.Clock.Now().Sub(now))
	}
	done := StepEvent{Step: "watch", Target: t.Name(), Done: true, Detail: detail + ": proven"}
	switch {
	case err == nil:
		x.watch.proven, x.watch.provenAt = t.Name(), x.r.switchedAt(ctx, req.Usage, rot, req.Since, now)
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
	if err != nil {
		wt.poll(x.watch.note, time.Time{}) // the next run looks again
	}
	r.emit(done)
	return err == nil
}

// handoffDeadline is when a rotation's hand-off is overdue (zero: unknown).
func (r *Rotator) handoffDeadline(rot *rotation) time.Time {
	if rot.progress.HandoffSince.IsZero() || r.ConfirmTimeout <= 0 {
		return time.Time{}
	}
	return rot.progress.HandoffSince.Add(r.ConfirmTimeout)
}

// markRevoke records that the rotation carried on is a revoke-old one when
// the operator asked for it now (a rotation already in progress, converted
// by --revoke-old). It is saved at once: a run stopped before the deletion
// must leave a revoke-old rotation behind.
func (x *exec) markRevoke(ctx context.Context, rot *rotation) error {
	if !x.opts.RevokeOld || rot.progress.RevokeOld {
		return nil
	}
	rot.progress.RevokeOld, rot.progress.RequestedBy = true, x.opts.RequestedBy
	return x.save(ctx, rot, false)
}

// oldTokenQuiet is R2 before the old token's deletion, except in a
// revoke-old rotation: there nothing is waited for, and the clients still
// using the old token are only named.
func (x *exec) oldTokenQuiet(ctx context.Context, rot *rotation) (*TokenUse, error) {
	if !rot.progress.RevokeOld {
		return x.usage.awaitOldQuiet(ctx, rot, x.opts.Deadline)
	}
	x.suspects = x.r.leakSuspects(ctx, x.usage, rot)
	return nil, nil
}

// recordRevocation ends a revoke-old rotation whose old token was deleted:
// the progress keeps what was deleted and who still used it, and the result
// says so.
func (x *exec) recordRevocation(rot *rotation, res *Result) {
	r := x.r
	if !rot.progress.RevokeOld || r.manual() || rot.oldID == "" || rot.oldID == rot.newRec.ID {
		return
	}
	rev := &Revocation{TokenID: rot.oldID, DeletedAt: r.Clock.Now(), Suspects: x.suspects.clients}
	rot.progress.Revoked = rev
	res.Message += fmt.Sprintf("; emergency rotation: the old token %s was deleted without waiting for quietPeriod", rot.oldID)
	switch {
	case x.suspects.err != nil:
		res.Message += fmt.Sprintf(", but who still used it could not be looked up (%v)", x.suspects.err)
	case len(rev.Suspects) > 0:
		res.Message += fmt.Sprintf(". It was still in use by a client that is not a target and never used the new token, a probable user of the leak (or a client nobody gave the new token): %s", clientWords(rev.Suspects))
		for _, c := range rev.Suspects {
			res.NextActions = append(res.NextActions, fmt.Sprintf("Find the client %q at %s (last call with the old token at %s): if it is yours, give it the new token %s (print it with: %s); if not, it holds the leaked token: block it and find out how it got it",
				c.UserAgent, orUnknown(c.SourceIP), stamp(c.Last), rot.newRec.ID, r.Store.RevealHint(StageCurrent)))
		}
	default:
		res.Message += ", and CloudTrail showed nobody else still using it"
	}
	res.NextActions = append(res.NextActions, fmt.Sprintf("Every later run reports SCIM calls made with the deleted token %s (outcome RevokedTokenUsed, alerted once each); `scim-rotator status` lists them", rot.oldID))
	r.Log.Warn("old token revoked without a quiet period", zap.String("rotation_id", rot.id()), zap.String("token_id", rot.oldID),
		zap.String("requested_by", rot.progress.RequestedBy), zap.Int("suspects", len(rev.Suspects)))
}

// revokedTokenUsed is a run with nothing else to do after a revoke-old
// rotation: SCIM calls with the deleted token that no earlier run alerted
// end it RevokedTokenUsed (exit 1, alerted), and the revocation records the
// latest of them (one store write).
func (x *exec) revokedTokenUsed(ctx context.Context, obs Observed) (Result, bool) {
	r := x.r
	pr := obs.Store.Progress
	if r.Usage == nil || pr == nil || pr.Revoked == nil {
		return Result{}, false
	}
	rev := pr.Revoked
	now := r.Clock.Now()
	from := later(later(rev.DeletedAt, rev.CheckedUntil), now.Add(-revokedLookback))
	uses, err := r.Usage.Uses(ctx, from, now)
	if err != nil {
		r.Log.Warn("look up calls with the revoked token; the next run looks again", zap.String("token_id", rev.TokenID), zap.Error(err))
		return Result{}, false
	}
	all := revokedCalls(uses, *rev)
	calls := notIn(all, rev.Recent)
	if len(calls) == 0 {
		return Result{}, false
	}
	rot := &rotation{progress: *pr}
	next := *rev
	next.Calls += len(calls)
	next.LastCall = calls[len(calls)-1].Time
	// Everything a delivery delay old has been delivered, so seen.
	next.CheckedUntil = later(rev.CheckedUntil, now.Add(-r.UsagePolicy.orDefaults().DeliveryDelay).Truncate(time.Second))
	next.Recent = nil
	for _, u := range all {
		if !u.Time.Before(next.CheckedUntil) && len(next.Recent) < maxRecent {
			next.Recent = append(next.Recent, u)
		}
	}
	rot.progress.Revoked = &next
	// The run's only write, which gives its lease up at once.
	if err := x.save(ctx, rot, true); err != nil {
		if res, ok := x.superseded(err, rot); ok {
			return res, true
		}
		r.Log.Warn("record the alerted calls; the next run may alert them again", zap.Error(err))
	}
	res := Result{Outcome: ReasonRevokedTokenUsed, Plan: x.plan, Progress: &rot.progress, FailedStep: "revoked token",
		Message: msgRevokedUsed(next, calls, pr.RequestedBy),
		NextActions: []string{
			"If the client is yours (a consumer nobody gave the new token), give it the new token; otherwise it holds the leaked token: block its address and find out how it got the token",
			"`scim-rotator status` lists the calls of the last 24 hours; each call is alerted once",
		}}
	return res, true
}

// checkHeadroom: before a token exists, the store must take every write of
// the rotation. Short of it the run stops as a full store's does
// (notStarted): Interrupted, nothing written, alerted once it has lasted.
func (x *exec) checkHeadroom(ctx context.Context, _ Observed) *Result {
	h, ok, err := x.r.headroom(ctx)
	switch {
	case err != nil:
		return x.startFailed(ctx, "create", err, "the store's room for the rotation's writes could not be counted, so no token was created")
	case !ok || !h.Short():
		return nil
	}
	words := h.Words(x.r.Clock.Now())
	if h.hint != "" {
		words += "; " + h.hint
	}
	full := Transient(&StoreFullError{Since: h.since,
		Err: fmt.Errorf("%s has room for %d more versions, and a rotation writes up to %d", h.Store, h.Room, h.Needed)})
	return x.startFailed(ctx, "create", full, "the store cannot take the rotation's writes, so no token was created: "+words)
}
