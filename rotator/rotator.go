package rotator

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"
)

// Rotator carries rotations out. Build one per process with every field set
// (Notifier and Observer may be nil).
type Rotator struct {
	Issuer Issuer
	// Manual is true when Issuer is the manual issuer: a human creates and
	// deletes tokens in the console.
	Manual bool
	Prover Prover
	// Usage tells which token the SCIM calls used (CloudTrail); nil when
	// usage.source is none.
	Usage    UsageSource
	Store    Store
	Targets  []Target
	Notifier Notifier
	Observer Observer
	Clock    Clock
	Log      *zap.Logger
	// OnStep, if set, is told about every step as it starts and ends (demo).
	OnStep func(StepEvent)

	RotateBefore   time.Duration
	ConfirmTimeout time.Duration
	// Instance and Region name the Identity Center instance in alerts.
	Instance string
	Region   string
	// Links are added to every alert (console pages for humans).
	Links []Link
}

// RunOptions are the flags of `rotate`.
type RunOptions struct {
	Now      bool
	DryRun   bool
	Continue bool
}

// Result is the outcome of one run.
type Result struct {
	Outcome    Reason
	Message    string
	Plan       Plan
	Progress   *Progress
	FailedStep string
	Err        error
	// NextActions are what a human should do next.
	NextActions []string
}

// ExitCode maps an outcome to the CLI's exit code: 0 rotated, not due,
// nothing to do or waiting on a hand-off as designed; 1 failed, rolled back or
// blocked.
func (r Result) ExitCode() int {
	switch r.Outcome {
	case ReasonRotated, ReasonNotDue, ReasonDryRun, ReasonAwaitingHandoff:
		return 0
	}
	return 1
}

// StepEvent is one step starting or ending.
type StepEvent struct {
	Step   string
	Target string
	Done   bool
	Err    error
	Detail string
}

// Run observes, decides and acts once: the whole of `rotate`.
func (r *Rotator) Run(ctx context.Context, opts RunOptions) Result {
	obs, err := r.Observe(ctx)
	if err != nil {
		return r.finish(ctx, Result{Outcome: ReasonFailed, FailedStep: "observe", Err: err,
			Message: "cannot read the current state; nothing was changed"}, nil)
	}
	plan := Decide(obs, r.policy(opts), r.Clock.Now())
	if plan.Live != nil && r.Observer != nil {
		r.Observer.LiveTokenExpiry(plan.Live.Expires)
	}
	r.Log.Info("plan", zap.String("action", string(plan.Action)), zap.String("message", plan.Message))
	if opts.DryRun {
		return Result{Outcome: ReasonDryRun, Plan: plan, Message: plan.Message}
	}

	switch plan.Action {
	case ActionNone:
		return r.finish(ctx, Result{Outcome: ReasonNotDue, Plan: plan, Message: plan.Message}, obs.Store.Progress)
	case ActionBlocked:
		return r.finish(ctx, Result{Outcome: ReasonBlocked, Plan: plan, Message: plan.Message, Err: errors.New(plan.Message)}, nil)
	case ActionWait:
		res := Result{Outcome: plan.Reason, Plan: plan, Message: plan.Message}
		if pr := obs.Store.Progress; plan.Reason != ReasonAwaitingToken && pr != nil {
			res.NextActions = r.handoffActions(ctx, pr)
		}
		return r.finish(ctx, res, obs.Store.Progress)
	case ActionFinish:
		rot := &rotation{progress: *obs.Store.Progress, oldID: plan.OldTokenID}
		rot.newRec = *obs.Store.Current
		return r.finish(ctx, r.deleteOld(ctx, rot, plan), &rot.progress)
	case ActionStart:
		rot, res := r.start(ctx, obs, plan)
		if rot == nil {
			return r.finish(ctx, res, nil)
		}
		return r.carry(ctx, rot, plan, opts)
	default: // ActionResume
		return r.carry(ctx, r.resume(obs, plan), plan, opts)
	}
}

func (r *Rotator) policy(opts RunOptions) Policy {
	return Policy{RotateBefore: r.RotateBefore, Now: opts.Now, Continue: opts.Continue, HandoffTimeout: r.ConfirmTimeout}
}

// Observe reads the issuer's tokens and the store's record.
func (r *Rotator) Observe(ctx context.Context) (Observed, error) {
	obs := Observed{Manual: r.Manual}
	st, err := r.Store.Load(ctx)
	if err != nil {
		return obs, fmt.Errorf("read store: %w", err)
	}
	obs.Store = st
	if !r.Manual {
		toks, err := r.Issuer.ListTokens(ctx)
		if err != nil {
			return obs, fmt.Errorf("list identity center tokens: %w", err)
		}
		obs.Tokens = toks
	}
	return obs, nil
}

// rotation is one rotation in memory.
type rotation struct {
	newRec   Record
	old      *Record // the token the targets used before, with its value if recorded
	oldID    string
	progress Progress
}

func (rot *rotation) id() string { return rot.progress.RotationID }

func (rot *rotation) newCred() Credential {
	return Credential{SCIMEndpoint: rot.newRec.SCIMEndpoint, TokenID: rot.newRec.ID, Token: rot.newRec.Value}
}

// start makes room, creates the token and stores it as pending before
// anything else. It returns nil and a result when the run ends here.
func (r *Rotator) start(ctx context.Context, obs Observed, plan Plan) (*rotation, Result) {
	fail := func(step string, err error, msg string) (*rotation, Result) {
		return nil, Result{Outcome: ReasonFailed, Plan: plan, FailedStep: step, Err: err, Message: msg}
	}
	for _, d := range plan.Delete {
		if plan.Live != nil && plan.LiveKnown && d.ID == plan.Live.ID {
			// Decide never plans this; refuse loudly if it ever does.
			return fail("make room", fmt.Errorf("refusing to delete live token %s", d.ID), "internal error: the plan named the live token for deletion")
		}
		err := r.step(ctx, "make room", "", "delete token "+d.ID+": "+d.Why, func() error { return r.Issuer.DeleteToken(ctx, d.ID) })
		if err != nil {
			return fail("make room", err, "could not delete unused token "+d.ID+"; nothing else was changed")
		}
	}
	tenant, err := r.Issuer.Tenant(ctx)
	if err != nil {
		return fail("tenant", fmt.Errorf("find provisioning tenant: %w", err), "nothing was changed")
	}

	now := r.Clock.Now()
	rot := &rotation{oldID: plan.OldTokenID}
	if c := obs.Store.Current; c != nil && c.ID == plan.OldTokenID {
		rot.old = c
	}
	rot.progress = Progress{RotationID: newID(), Phase: PhaseCreating, StartedAt: now, OldTokenID: plan.OldTokenID}
	for _, t := range obs.Tokens {
		if !containsDeletion(plan.Delete, t.ID) {
			rot.progress.PreexistingTokenIDs = append(rot.progress.PreexistingTokenIDs, t.ID)
		}
	}
	rot.progress.Targets = r.targetProgress(nil)
	// Record which tokens exist before creating one: a run killed between
	// CreateToken and PutPending leaves a token nobody can hold, and the next
	// run must recognise it.
	if err := r.save(ctx, rot); err != nil {
		return fail("create", err, "could not record the rotation's start; nothing was created")
	}

	// From creating the token to storing its value nothing may interrupt:
	// the value exists only in this process until it is stored.
	ctx = context.WithoutCancel(ctx)
	var tok Token
	err = r.step(ctx, "create", "", "create a new Identity Center token", func() error {
		var err error
		tok, err = r.Issuer.CreateToken(ctx)
		return err
	})
	if err != nil {
		r.reconcileCreate(ctx, rot)
		return fail("create", err, "could not create a token; no target was changed")
	}
	rot.newRec = Record{Token: tok, SCIMEndpoint: tenant.SCIMEndpoint, VersionID: rot.id(), Recorded: now}
	rot.progress.NewTokenID, rot.progress.NewTokenExpires = tok.ID, tok.Expires

	// The value is shown once: store it before anything else. Retry a few
	// times in-process, since losing it here means deleting the token again.
	err = r.step(ctx, "store pending", "", "store token "+tok.ID+" as AWSPENDING (version "+rot.id()+")", func() error {
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
		if derr := r.Issuer.DeleteToken(ctx, tok.ID); derr != nil {
			r.Log.Error("delete unstored token", zap.String("token_id", tok.ID), zap.Error(derr))
		}
		return fail("store pending", err, "could not store the new token, so it was deleted again; no target was changed")
	}
	rot.progress.Phase = PhaseCreated
	if err := r.save(ctx, rot); err != nil {
		r.Log.Warn("save progress", zap.Error(err))
	}
	return rot, Result{}
}

// reconcileCreate runs after CreateToken failed: the call is not idempotent
// and its answer was lost, so a token may exist whose value nobody has.
// Any token that did not exist before is such a token: delete it.
func (r *Rotator) reconcileCreate(ctx context.Context, rot *rotation) {
	toks, err := r.Issuer.ListTokens(ctx)
	if err != nil {
		r.Log.Warn("list tokens after a failed create; the next run reconciles", zap.Error(err))
		return
	}
	for _, t := range toks {
		if slices.Contains(rot.progress.PreexistingTokenIDs, t.ID) {
			continue
		}
		r.Log.Warn("deleting token created by a create call whose answer was lost", zap.String("token_id", t.ID))
		if err := r.Issuer.DeleteToken(ctx, t.ID); err != nil {
			r.Log.Warn("delete orphan token; the next run retries", zap.String("token_id", t.ID), zap.Error(err))
		}
	}
}

// resume rebuilds a rotation in progress from the store.
func (r *Rotator) resume(obs Observed, plan Plan) *rotation {
	st := obs.Store
	rot := &rotation{newRec: *st.Pending}
	if st.Progress != nil && st.Progress.RotationID == st.Pending.VersionID {
		rot.progress = *st.Progress
	} else {
		// A pending version without progress (staged by hand, or progress
		// lost): start its progress now; every target counts as possibly
		// switched only once we push it.
		rot.progress = Progress{RotationID: st.Pending.VersionID, Phase: PhaseCreated, StartedAt: r.Clock.Now(),
			NewTokenID: st.Pending.ID, NewTokenExpires: st.Pending.Expires}
		if st.Current != nil {
			rot.progress.OldTokenID = st.Current.ID
		}
	}
	rot.progress.Targets = r.targetProgress(rot.progress.Targets)
	rot.oldID = rot.progress.OldTokenID
	if st.Current != nil && st.Current.ID == rot.oldID {
		rot.old = st.Current
	}
	return rot
}

// carry takes a stored pending token through every target, then promotes it.
func (r *Rotator) carry(ctx context.Context, rot *rotation, plan Plan, opts RunOptions) Result {
	if r.Observer != nil {
		r.Observer.InProgress(true)
		defer r.Observer.InProgress(false)
	}
	log := r.Log.With(zap.String("rotation_id", rot.id()), zap.String("token_id", rot.newRec.ID))
	cred := rot.newCred()

	if err := r.step(ctx, "prove", "", "prove token "+rot.newRec.ID+" against the SCIM endpoint", func() error {
		return r.Prover.ProveToken(ctx, cred)
	}); err != nil {
		return r.failed(ctx, rot, plan, "prove", "", err)
	}

	// Prove the token with every target's own test before switching any, so
	// that no target is ever switched to a token some target refuses.
	for i, t := range r.Targets {
		if st := rot.progress.Targets[i].State; st != TargetUntouched {
			continue
		}
		if err := r.step(ctx, "validate", t.Name(), "validate the new token with "+t.Name()+" without saving it", func() error {
			return t.Validate(ctx, cred)
		}); err != nil {
			rot.progress.Targets[i].State, rot.progress.Targets[i].Message = TargetFailed, err.Error()
			return r.failed(ctx, rot, plan, "validate", t.Name(), err)
		}
	}

	rot.progress.Phase = PhasePushing
	for i, t := range r.Targets {
		tp := &rot.progress.Targets[i]
		if tp.State == TargetConfirmed {
			continue
		}
		if tp.State == TargetAwaitingHandoff && !opts.Continue {
			return r.awaitHandoffWith(ctx, rot, plan, t, nil)
		}
		if tp.State != TargetAwaitingHandoff && tp.State != TargetTested {
			// Record the push before making it: a run killed during it must
			// treat the target as possibly switched.
			tp.State, tp.PushedAt, tp.Message = TargetPushing, r.Clock.Now(), ""
			_ = r.save(ctx, rot)
			var res PushResult
			if err := r.step(ctx, "push", t.Name(), "push token "+rot.newRec.ID+" to "+t.Name(), func() error {
				var err error
				res, err = t.Push(ctx, cred)
				return err
			}); err != nil {
				tp.State, tp.Message = TargetFailed, err.Error()
				return r.failed(ctx, rot, plan, "push", t.Name(), err)
			}
			if res.Handoff != nil {
				tp.State, tp.Message = TargetAwaitingHandoff, "waiting for a human to paste the token in "+res.Handoff.ConsoleURL
				if rot.progress.HandoffSince.IsZero() {
					rot.progress.HandoffSince = r.Clock.Now()
				}
				rot.progress.Phase = PhaseAwaitingHandoff
				_ = r.save(ctx, rot)
				return r.awaitHandoffWith(ctx, rot, plan, t, res.Handoff)
			}
			tp.State = TargetPushed
			_ = r.save(ctx, rot)
		}
		if tp.State != TargetTested {
			if err := r.step(ctx, "test", t.Name(), "test connection of "+t.Name(), func() error { return t.Test(ctx, cred) }); err != nil {
				tp.State, tp.Message = TargetFailed, err.Error()
				return r.failed(ctx, rot, plan, "test", t.Name(), err)
			}
			tp.State = TargetTested
			rot.progress.Phase = PhasePushing
			_ = r.save(ctx, rot)
		}
		since := tp.PushedAt
		if since.IsZero() {
			since = rot.progress.HandoffSince
		}
		req := ConfirmRequest{Credential: cred, Since: since, Deadline: r.Clock.Now().Add(r.ConfirmTimeout)}
		if err := r.step(ctx, "confirm", t.Name(), "confirm "+t.Name()+" synced with the new token", func() error { return t.Confirm(ctx, req) }); err != nil {
			tp.State, tp.Message = TargetFailed, err.Error()
			return r.failed(ctx, rot, plan, "confirm", t.Name(), err)
		}
		tp.State, tp.Message = TargetConfirmed, ""
		_ = r.save(ctx, rot)
	}

	if ctx.Err() != nil {
		return r.interrupted(ctx, rot, plan)
	}
	if err := r.step(ctx, "promote", "", "promote version "+rot.id()+" to AWSCURRENT", func() error {
		return r.Store.Promote(ctx, rot.id())
	}); err != nil {
		// Every target holds the new token and the old one still works:
		// nothing is broken; the next run promotes.
		rot.progress.LastError = err.Error()
		_ = r.save(ctx, rot)
		return Result{Outcome: ReasonFailed, Plan: plan, FailedStep: "promote", Err: err, Progress: &rot.progress,
			Message: "every target uses the new token but promoting it failed; the next run finishes the rotation"}
	}
	rot.progress.Phase = PhasePromoted
	_ = r.save(ctx, rot)
	log.Info("promoted", zap.String("old_token_id", rot.oldID))
	return r.finish(ctx, r.deleteOld(ctx, rot, plan), &rot.progress)
}

// failed handles a failed step: a step cut short because the process is
// stopping is not a failure (every step is idempotent and the next run
// resumes); anything else rolls back.
func (r *Rotator) failed(ctx context.Context, rot *rotation, plan Plan, step, target string, err error) Result {
	if ctx.Err() != nil {
		return r.interrupted(ctx, rot, plan)
	}
	return r.rollback(ctx, rot, plan, step, target, err)
}

func (r *Rotator) interrupted(ctx context.Context, rot *rotation, plan Plan) Result {
	ctx = context.WithoutCancel(ctx)
	for i := range rot.progress.Targets {
		if tp := &rot.progress.Targets[i]; tp.State == TargetFailed && !tp.PushedAt.IsZero() {
			tp.State = TargetPushing // unknown: the push may have taken effect
		} else if tp.State == TargetFailed {
			tp.State = TargetUntouched
		}
	}
	_ = r.save(ctx, rot)
	return r.finish(ctx, Result{Outcome: ReasonInterrupted, Plan: plan, Progress: &rot.progress,
		Message: "stopped at a step boundary; the next run resumes rotation " + rot.id()}, nil)
}

// deleteOld deletes the replaced token, the last step of a rotation.
func (r *Rotator) deleteOld(ctx context.Context, rot *rotation, plan Plan) Result {
	res := Result{Outcome: ReasonRotated, Plan: plan, Progress: &rot.progress,
		Message: fmt.Sprintf("rotated: token %s is live, expires %s", rot.newRec.ID, rot.newRec.Expires.UTC().Format(time.RFC3339))}
	if rot.oldID != "" && rot.oldID != rot.newRec.ID {
		if r.Manual {
			res.NextActions = append(res.NextActions, fmt.Sprintf("Delete the old token %s in the IAM Identity Center console (Settings > Automatic provisioning > Manage access tokens)", rot.oldID))
		} else if err := r.step(ctx, "delete old", "", "delete old Identity Center token "+rot.oldID, func() error {
			return r.Issuer.DeleteToken(ctx, rot.oldID)
		}); err != nil {
			res.Message += fmt.Sprintf("; deleting old token %s failed (the next run retries): %v", rot.oldID, err)
			rot.progress.LastError = err.Error()
			_ = r.save(ctx, rot)
			return res
		}
	}
	rot.progress.Phase, rot.progress.Outcome, rot.progress.LastError = PhaseDone, ReasonRotated, ""
	_ = r.save(ctx, rot)
	return res
}

func (r *Rotator) awaitHandoffWith(ctx context.Context, rot *rotation, plan Plan, t Target, h *Handoff) Result {
	res := Result{Outcome: ReasonAwaitingHandoff, Plan: plan, Progress: &rot.progress,
		Message: fmt.Sprintf("target %s needs a human to finish the change; the rotation waits (both tokens are kept)", t.Name())}
	if h != nil {
		res.NextActions = r.handoffSteps(h)
	} else {
		res.NextActions = r.handoffActions(ctx, &rot.progress)
	}
	return r.finish(ctx, res, &rot.progress)
}

// handoffSteps turns a target's hand-off into the operator's instructions,
// adding how to read the token from the store: never the token itself.
func (r *Rotator) handoffSteps(h *Handoff) []string {
	steps := []string{"Print the new token (it is stored as AWSPENDING): " + r.Store.RevealHint(StagePending)}
	if h.ConsoleURL != "" {
		steps = append(steps, "Open "+h.ConsoleURL)
	}
	steps = append(steps, h.Steps...)
	return append(steps, "Then run `scim-rotator rotate --continue` to confirm the sync and finish the rotation")
}

// handoffActions rebuilds the reminder on later runs from the waiting
// target's description of its hand-off (read-only).
func (r *Rotator) handoffActions(ctx context.Context, pr *Progress) []string {
	for i, t := range r.Targets {
		if i < len(pr.Targets) && pr.Targets[i].State == TargetAwaitingHandoff {
			if d, ok := t.(HandoffDescriber); ok {
				if h, err := d.DescribeHandoff(ctx); err == nil && h != nil {
					return r.handoffSteps(h)
				}
			}
		}
	}
	return []string{"Finish the hand-off, then run `scim-rotator rotate --continue`"}
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

func (r *Rotator) save(ctx context.Context, rot *rotation) error {
	rot.progress.UpdatedAt = r.Clock.Now()
	if err := r.Store.SaveProgress(ctx, rot.progress); err != nil {
		r.Log.Warn("save progress", zap.String("rotation_id", rot.id()), zap.Error(err))
		return fmt.Errorf("save progress: %w", err)
	}
	return nil
}

// step runs one named step with logging, timing and the step hook.
func (r *Rotator) step(ctx context.Context, name, target, detail string, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.OnStep != nil {
		r.OnStep(StepEvent{Step: name, Target: target, Detail: detail})
	}
	start := r.Clock.Now()
	err := fn()
	if r.Observer != nil {
		r.Observer.StepDone(name, target, r.Clock.Now().Sub(start))
	}
	fields := []zap.Field{zap.String("step", name), zap.String("detail", detail)}
	if target != "" {
		fields = append(fields, zap.String("target", target))
	}
	if err != nil {
		r.Log.Warn("step failed", append(fields, zap.Error(err))...)
	} else {
		r.Log.Info("step done", fields...)
	}
	if r.OnStep != nil {
		r.OnStep(StepEvent{Step: name, Target: target, Done: true, Err: err, Detail: detail})
	}
	return err
}

// finish reports an outcome: log, metrics, alert. A notifier failure is
// logged and changes nothing.
func (r *Rotator) finish(ctx context.Context, res Result, pr *Progress) Result {
	if res.Progress == nil {
		res.Progress = pr
	}
	fields := []zap.Field{zap.String("outcome", string(res.Outcome)), zap.String("message", res.Message)}
	if res.Err != nil {
		fields = append(fields, zap.String("step", res.FailedStep), zap.Error(res.Err))
	}
	if res.ExitCode() == 0 {
		r.Log.Info("run finished", fields...)
	} else {
		r.Log.Error("run finished", fields...)
	}
	if r.Observer != nil {
		r.Observer.RotationDone(res.Outcome)
	}
	if r.Notifier != nil {
		if err := r.Notifier.Notify(ctx, r.event(res)); err != nil {
			r.Log.Warn("alert not sent", zap.Error(err))
		}
	}
	return res
}

func (r *Rotator) event(res Result) Event {
	ev := Event{Outcome: res.Outcome, Message: res.Message, Instance: r.Instance, Region: r.Region,
		FailedStep: res.FailedStep, NextActions: res.NextActions, Links: append([]Link(nil), r.Links...)}
	for _, t := range r.Targets {
		if l, ok := t.(Linker); ok {
			ev.Links = append(ev.Links, l.ConsoleLink())
		}
	}
	if res.Err != nil {
		ev.Error = res.Err.Error()
	}
	if pr := res.Progress; pr != nil {
		ev.RotationID, ev.OldTokenID, ev.NewTokenID = pr.RotationID, pr.OldTokenID, pr.NewTokenID
		ev.Targets, ev.NewExpiry = pr.Targets, pr.NewTokenExpires
	}
	if l := res.Plan.Live; l != nil {
		ev.DaysLeft = DaysLeft(l.Expires, r.Clock.Now())
		if ev.OldTokenID == "" {
			ev.OldTokenID = l.ID
		}
	}
	if res.Outcome == ReasonRotated && !ev.NewExpiry.IsZero() {
		// After a rotation the days that matter are the new token's.
		ev.DaysLeft = DaysLeft(ev.NewExpiry, r.Clock.Now())
	}
	return ev
}

func containsDeletion(ds []Deletion, id string) bool {
	for _, d := range ds {
		if d.ID == id {
			return true
		}
	}
	return false
}

// newID returns a random UUID (version 4): a rotation id, used as the
// store's ClientRequestToken so that storing the pending token is idempotent.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
