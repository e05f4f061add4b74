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
// (Notifier, Observer and Usage may be nil).
type Rotator struct {
	// Issuer finds the tenant and, when it has a token API, lists, creates
	// and deletes tokens (tokens, manual).
	Issuer Issuer
	Prover Prover
	// Usage tells which token the SCIM calls used (CloudTrail); nil when
	// usage.source is none. UsagePolicy bounds the waits for its proof.
	Usage       UsageSource
	UsagePolicy UsagePolicy
	Store       Store
	Targets     []Target
	Notifier    Notifier
	Observer    Observer
	Clock       Clock
	Log         *zap.Logger
	// Health is the independent expiry watch (AWS Health); nil when off.
	Health ExpiryWatch
	// OnStep, if set, is told about every step as it starts and ends (demo).
	OnStep func(StepEvent)

	RotateBefore   time.Duration
	ConfirmTimeout time.Duration
	// LockTimeout is how long the store's lock outlives its holder's last
	// renewal (default DefaultLockTimeout).
	LockTimeout time.Duration
	// Instance and Region name the Identity Center instance in alerts.
	Instance string
	Region   string
	// Links are added to every alert (console pages for humans).
	Links []Link

	owner string // this process's name in the store's lock
}

// RunOptions are the flags of `rotate`.
type RunOptions struct {
	Now      bool
	DryRun   bool
	Continue bool
	// RevokeOld (with Now) deletes the old token without a quiet period
	// (revoke.go); RequestedBy is the AWS identity that asked, for alerts.
	RevokeOld   bool
	RequestedBy string
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
	// Lock is who held the store's lock when the outcome is Busy.
	Lock *LockInfo
	// Requested is what the operator asked for.
	Requested RunOptions
	// quiet: a transient interruption not yet worth a human's attention.
	quiet bool
	// stale: another run changed the store's record under this one; Run
	// observes again.
	stale bool
}

// ExitCode maps an outcome to the CLI's exit code: 0 rotated, not due,
// waiting on a hand-off as designed, or busy on a scheduled run; 1 failed,
// rolled back, blocked, interrupted, or busy when a human asked for this run
// (--now, --continue).
func (r Result) ExitCode() int {
	switch r.Outcome {
	case ReasonRotated, ReasonNotDue, ReasonDryRun, ReasonAwaitingHandoff:
		return 0
	case ReasonBusy:
		if r.Requested.Now || r.Requested.Continue {
			return 1
		}
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

// maxRounds bounds how often one run observes again after another run
// changed the store's record under it.
const maxRounds = 3

// Run observes, decides and acts once: the whole of `rotate`. It reads
// before it locks: a run with nothing to do writes nothing, and the lease is
// taken by the first write (see lease). When another run changed the record
// meanwhile, it observes and decides again.
func (r *Rotator) Run(ctx context.Context, opts RunOptions) Result {
	if opts.DryRun {
		obs, err := r.Observe(ctx)
		if err != nil {
			return Result{Outcome: ReasonFailed, FailedStep: "observe", Err: err, Requested: opts,
				Message: "cannot read the current state; nothing was changed"}
		}
		plan := Decide(obs, r.policy(opts), r.Clock.Now())
		return Result{Outcome: ReasonDryRun, Plan: plan, Message: plan.Message, Requested: opts}
	}
	var res Result
	for round := 1; ; round++ {
		res = r.run(ctx, opts)
		if !res.stale || round == maxRounds {
			break
		}
		r.Log.Info("another run changed the store's record since this run read it: observing again")
	}
	if res.stale {
		res.Outcome, res.quiet = ReasonInterrupted, true
		res.Message = fmt.Sprintf("other runs kept changing the store's record (%d times); nothing more was done, and the next run goes on", maxRounds)
	}
	res.Requested = opts
	return r.finish(ctx, res, nil)
}

// run is one round: observe, decide, act under the lease its first write takes.
func (r *Rotator) run(ctx context.Context, opts RunOptions) Result {
	obs, err := r.Observe(ctx)
	if err != nil {
		return r.observeFailed(err, opts)
	}
	now := r.Clock.Now()
	if l := r.busy(obs.Store, now); l != nil {
		return Result{Outcome: ReasonBusy, Lock: l, Message: msgBusy(*l)}
	}
	plan := Decide(obs, r.policy(opts), now)
	if plan.Live != nil && r.Observer != nil {
		r.Observer.LiveTokenExpiry(plan.Live.Expires)
	}
	r.Log.Info("plan", zap.String("action", string(plan.Action)), zap.String("cause", string(plan.Cause)), zap.String("message", plan.Message))

	l := r.newLease()
	defer l.release(ctx)
	x := &exec{r: r, lease: l, plan: plan, tenant: obs.Tenant, opts: opts}
	switch plan.Action {
	case ActionNone:
		if res, found := x.revokedTokenUsed(ctx, obs); found {
			return res
		}
		return Result{Outcome: ReasonNotDue, Plan: plan, Message: plan.Message, Progress: obs.Store.Progress}
	case ActionBlocked:
		return Result{Outcome: ReasonBlocked, Plan: plan, Message: plan.Message, Err: errors.New(plan.Message), Progress: obs.Store.Progress}
	case ActionWait:
		if res, done := x.watchHandoff(ctx, obs); done {
			return res
		}
		res := Result{Outcome: plan.Reason, Plan: plan, Message: plan.Message, Progress: obs.Store.Progress, quiet: plan.Reason == ReasonInterrupted}
		if pr := obs.Store.Progress; plan.Reason != ReasonAwaitingToken && plan.Reason != ReasonInterrupted && pr != nil {
			res.NextActions = r.handoffActions(ctx, pr)
		}
		return res
	case ActionFinish:
		rot := &rotation{progress: *obs.Store.Progress, newRec: *obs.Store.Current, oldID: plan.OldTokenID}
		return x.finishOld(ctx, rot)
	case ActionStart:
		rot, res := x.start(ctx, obs)
		if rot == nil {
			return res
		}
		return x.carry(ctx, rot, false)
	default: // ActionResume
		return x.carry(ctx, x.resume(obs), true)
	}
}

func (r *Rotator) observeFailed(err error, opts RunOptions) Result {
	res := Result{Outcome: ReasonFailed, FailedStep: "observe", Err: err, Requested: opts,
		Message: "cannot read the current state; nothing was changed"}
	if isTransient(err) {
		res.Outcome, res.quiet = ReasonInterrupted, true
		res.Message = fmt.Sprintf("reading the current state failed with an error worth retrying (%v); nothing was changed", err)
	}
	return res
}

// tokens is the issuer's token API; manual is true when it has none. The
// plan never creates or deletes a token for an issuer without one, and the
// steps check manual; were one to call anyway, it gets ErrManual.
func (r *Rotator) tokens() TokenAPI { return TokensOf(r.Issuer) }
func (r *Rotator) manual() bool     { return r.Issuer.Tokens() == nil }

// TokensOf is iss's token API or, for an issuer without one (a human acts
// in the console), one that answers ErrManual to every call.
func TokensOf(iss Issuer) TokenAPI {
	if api := iss.Tokens(); api != nil {
		return api
	}
	return noTokenAPI{}
}

type noTokenAPI struct{}

func (noTokenAPI) ListTokens(context.Context) ([]TokenInfo, error) {
	return nil, fmt.Errorf("list tokens: %w", ErrManual)
}

func (noTokenAPI) CreateToken(context.Context) (Token, error) {
	return Token{}, fmt.Errorf("create token: %w", ErrManual)
}

func (noTokenAPI) DeleteToken(_ context.Context, id string) error {
	return fmt.Errorf("delete token %s: %w", id, ErrManual)
}

func (r *Rotator) policy(opts RunOptions) Policy {
	return Policy{RotateBefore: r.RotateBefore, Now: opts.Now, Continue: opts.Continue, HandoffTimeout: r.ConfirmTimeout,
		ProofOfUse: r.Usage != nil, RevokeOld: opts.RevokeOld, ByHand: r.manual()}
}

// Observe reads the tenant, the issuer's tokens and the store's record.
func (r *Rotator) Observe(ctx context.Context) (Observed, error) {
	obs := Observed{}
	st, err := r.Store.Load(ctx)
	if err != nil {
		return obs, fmt.Errorf("read store: %w", err)
	}
	obs.Store = st
	obs.Store.Progress = promoted(st)
	if obs.Tenant, err = r.Issuer.Tenant(ctx); err != nil {
		return obs, fmt.Errorf("find provisioning tenant: %w", err)
	}
	if api := r.Issuer.Tokens(); api != nil {
		if obs.Tokens, err = api.ListTokens(ctx); err != nil {
			return obs, fmt.Errorf("list identity center tokens: %w", err)
		}
	}
	r.observeUsage(ctx, &obs)
	return obs, nil
}

// promoted is the recorded progress as it stands: a rotation whose new
// token is current was promoted, which happens only once every target is
// confirmed, even though the promotion itself is not written (the label
// says it).
func promoted(st StoreState) *Progress {
	pr := st.Progress
	if pr == nil || st.Current == nil || pr.NewTokenID == "" || st.Current.ID != pr.NewTokenID ||
		pr.Phase == PhaseDone || pr.Phase == PhaseStuck || pr.Phase == PhasePromoted {
		return pr
	}
	p := *pr
	p.Phase = PhasePromoted
	p.Targets = slices.Clone(pr.Targets)
	for i := range p.Targets {
		p.Targets[i].State, p.Targets[i].Message = TargetConfirmed, ""
	}
	return &p
}

// rotation is one rotation in memory.
type rotation struct {
	newRec   Record
	old      *Record // the token the targets used before, with its value if recorded
	oldID    string
	progress Progress
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
}

// cred builds a credential for rec. The SCIM endpoint is always Identity
// Center's (or the config's), never one read from the store.
func (x *exec) cred(rec Record) Credential {
	return Credential{SCIMEndpoint: x.tenant.SCIMEndpoint, TokenID: rec.ID, Token: rec.Value}
}

// start makes room, creates the token and stores it as pending before
// anything else. It returns nil and a result when the run ends here.
//
// Its writes are the rotation's first two: the record of its start (which
// takes the lease) and the pending token. Created is not written: a run
// stopped after storing the token resumes it from the pending version.
func (x *exec) start(ctx context.Context, obs Observed) (*rotation, Result) {
	r, plan := x.r, x.plan
	// Nothing is recorded of a failure before the token is stored.
	fail := func(step string, err error, msg string) (*rotation, Result) {
		return nil, x.end(ctx, failure{step: step, err: err, message: msg})
	}
	if slices.ContainsFunc(plan.Delete, func(d Deletion) bool { return d.Why == DeleteNotLive }) {
		// The current record decides which token is unused: its value must
		// work before the other token goes.
		cur := obs.Store.Current
		if err := r.step(ctx, "make room", "", "prove the recorded live token "+cur.ID+" before deleting the other", func() error {
			return r.Prover.ProveToken(ctx, x.cred(*cur))
		}); err != nil {
			msg := "nothing was changed"
			if kindOf(ctx, err) == failPermanent {
				msg = fmt.Sprintf("the SCIM endpoint refuses the value recorded for the live token %s (%v), so the other token is not deleted and nothing was changed: re-record the live token with `%s`", cur.ID, err, stageCurrentCmd)
			}
			return nil, x.end(ctx, failure{step: "make room", err: err, outcome: ReasonBlocked, message: msg})
		}
	}
	if err := x.preflightUsage(ctx); err != nil {
		return fail("create", err, "proof of use is not possible, so no token was created")
	}

	now := r.Clock.Now()
	rot := &rotation{oldID: plan.OldTokenID}
	if c := obs.Store.Current; c != nil && c.ID == plan.OldTokenID {
		rot.old = c
	}
	rot.progress = Progress{RotationID: newID(), Phase: PhaseCreating, StartedAt: now, OldTokenID: plan.OldTokenID,
		RevokeOld: x.opts.RevokeOld, RequestedBy: x.opts.RequestedBy}
	for _, t := range obs.Tokens {
		rot.progress.PreexistingTokenIDs = append(rot.progress.PreexistingTokenIDs, t.ID)
	}
	rot.progress.Targets = r.targetProgress(nil)
	// Write-ahead: record which tokens exist before deleting or creating
	// any, so that a token created by a run killed before it stored the
	// value is recognised as an orphan nobody can hold. This write takes
	// the lease, against the record the plan was made from.
	if err := x.save(ctx, rot, false); err != nil {
		return fail("create", err, "could not record the rotation's start; nothing was created")
	}
	for _, d := range plan.Delete {
		if plan.Live != nil && plan.LiveKnown && d.ID == plan.Live.ID {
			// Decide never plans this; refuse loudly if it ever does.
			return fail("make room", fmt.Errorf("refusing to delete live token %s", d.ID), "internal error: the plan named the live token for deletion")
		}
		err := r.step(ctx, "make room", "", "delete token "+d.ID+": "+d.words(), func() error {
			if err := x.lease.guard(ctx, &rot.progress); err != nil {
				return err
			}
			return r.tokens().DeleteToken(ctx, d.ID)
		})
		if err != nil {
			return fail("make room", err, "could not delete unused token "+d.ID+"; nothing else was changed")
		}
	}
	if err := x.lease.guard(ctx, &rot.progress); err != nil {
		return fail("create", err, "nothing was created")
	}

	// From creating the token to storing its value nothing may interrupt:
	// the value exists only in this process until it is stored.
	ctx = context.WithoutCancel(ctx)
	var tok Token
	err := r.step(ctx, "create", "", "create a new Identity Center token", func() error {
		var err error
		tok, err = r.tokens().CreateToken(ctx)
		return err
	})
	if err != nil {
		r.reconcileCreate(ctx, rot)
		return fail("create", err, "could not create a token; no target was changed")
	}
	rot.newRec = Record{Token: tok, SCIMEndpoint: x.tenant.SCIMEndpoint, VersionID: rot.id(), Recorded: now}

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
		if derr := r.tokens().DeleteToken(ctx, tok.ID); derr != nil {
			r.Log.Error("delete unstored token; the next run deletes it as an orphan", zap.String("token_id", tok.ID), zap.Error(derr))
		}
		return nil, Result{Outcome: ReasonFailed, Plan: plan, FailedStep: "store pending", Err: err,
			Message: "could not store the new token, so it was deleted again; no target was changed"}
	}
	// Not written: the pending version, named by the rotation id the record
	// holds, is what the next run resumes from.
	rot.progress.Phase = PhaseCreated
	rot.progress.NewTokenID, rot.progress.NewTokenExpires = tok.ID, tok.Expires
	return rot, Result{}
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
// then promotes it and deletes the old token.
func (x *exec) carry(ctx context.Context, rot *rotation, resumed bool) Result {
	r := x.r
	if r.Observer != nil {
		r.Observer.InProgress(true)
		defer r.Observer.InProgress(false)
	}
	cred := x.cred(rot.newRec)
	if err := x.markRevoke(ctx, rot); err != nil {
		return x.interrupted(ctx, rot, "save progress", err)
	}

	if err := r.step(ctx, "prove", "", "prove token "+rot.newRec.ID+" against the SCIM endpoint", func() error {
		return r.Prover.ProveToken(ctx, cred)
	}); err != nil {
		// A recorded value Identity Center refuses is not ours to act on or
		// delete: report it. Our own new token is rolled back.
		return x.end(ctx, failure{step: "prove", err: err, rot: rot, rollBack: !resumed,
			outcome: ReasonBlocked, message: msgRefusedPending(rot.newRec.ID, rot.id(), err)})
	}

	// Every target's own test before switching any, so that no target is
	// ever switched to a token some target refuses.
	for i, t := range r.Targets {
		if rot.progress.Targets[i].State != TargetUntouched {
			continue
		}
		if err := r.step(ctx, "validate", t.Name(), "validate the new token with "+t.Name()+" without saving it", func() error {
			return t.Validate(ctx, cred)
		}); err != nil {
			if kindOf(ctx, err) == failPermanent {
				rot.progress.Targets[i].State, rot.progress.Targets[i].Message = TargetFailed, err.Error()
			}
			return x.end(ctx, failure{step: "validate", target: t.Name(), err: err, rot: rot, rollBack: true})
		}
	}

	rot.progress.Phase = PhasePushing
	if err := x.alignSecond(ctx); err != nil {
		return x.interrupted(ctx, rot, "push", err)
	}
	for i, t := range r.Targets {
		if res, done := x.walk(ctx, rot, i, t, cred); done {
			return res
		}
	}

	// R1: the targets say they synced; CloudTrail must say with which token.
	found, err := x.proveNewInUse(ctx, rot)
	switch {
	case err != nil:
		if kindOf(ctx, err) == failPermanent {
			// Not written: the run's result says it, and the next run waits again.
			rot.progress.LastError = err.Error()
		}
		return x.end(ctx, failure{step: "prove use", err: err, rot: rot, message: msgNoProofOfUse(rot.newRec.ID, err),
			next: []string{"Make the IdP sync (or trigger the sync job), then run `scim-rotator rotate` to resume the wait"}})
	case found != nil:
		return x.oldTokenSent(ctx, rot, found)
	}
	rot.succeeded("prove use")

	// After the waits the lease has lapsed: the guard takes it again,
	// writing how far the targets came, and fails if another run acted.
	if err := r.step(ctx, "promote", "", "promote version "+rot.id()+" to AWSCURRENT", func() error {
		if err := x.lease.guard(ctx, &rot.progress); err != nil {
			return err
		}
		return r.Store.Promote(ctx, rot.id())
	}); err != nil {
		// Every target holds the new token and the old one still works:
		// nothing is broken; the next run promotes.
		return x.interrupted(ctx, rot, "promote", err)
	}
	// Not written: Decide recognises a promoted rotation from the store's
	// labels (its token is current, the record names it).
	rot.progress.Phase = PhasePromoted
	rot.succeeded("promote")
	r.Log.Info("promoted", zap.String("rotation_id", rot.id()), zap.String("old_token_id", rot.oldID))
	return x.finishOld(ctx, rot)
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
		if t.Abilities().Canary {
			if err := x.alignSecond(ctx); err != nil {
				return evTransient, nil, err
			}
			tp.CanaryAt = r.Clock.Now()
		}
		since := tp.PushedAt
		if since.IsZero() {
			since = rot.progress.HandoffSince
		}
		req := ConfirmRequest{Credential: cred, Since: since, Deadline: r.Clock.Now().Add(r.ConfirmTimeout)}
		// A wait: the lease is not renewed while it lasts (see lease).
		err = r.step(ctx, "confirm", t.Name(), "confirm "+t.Name()+" synced with the new token", func() error {
			return t.Confirm(ctx, req)
		})
		if err == nil && !tp.CanaryAt.IsZero() {
			tp.CanaryDone = r.Clock.Now()
		}
	}
	switch {
	case err == nil:
		return evOK, nil, nil
	case kindOf(ctx, err) != failPermanent:
		return evTransient, nil, err
	}
	return evFailed, nil, err
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

// Transient failures of one step are recorded until they are worth a
// human's attention (alertAfterFailures runs in a row, or an hour); after
// that, nothing more is written for them, and a run retries the step at
// most once every retryPause (plan.go): a step failing for days must not
// fill the store's version quota.
const (
	alertAfterFailures = 3
	retryPause         = time.Hour
)

// interrupted ends a run whose work is not done with the state kept; the
// next run resumes. Humans hear of it only when the same step keeps failing
// (3 runs or an hour).
func (x *exec) interrupted(ctx context.Context, rot *rotation, step string, cause error) Result {
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
		Message: msgInterrupted(rot.id(), step, cause)}
	// A full store cannot record the failures: it says how long it has been full.
	d, full := fullFor(cause, now)
	res.quiet = cause == nil || pr.Failures < alertAfterFailures && now.Sub(pr.FailingSince) < time.Hour && (!full || d < time.Hour)
	if !res.quiet {
		res.Message += fmt.Sprintf(" (this step has failed %d times in a row since %s; it is retried at most once an hour)", pr.Failures, stamp(pr.FailingSince))
	}
	return res
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
			// The token we keep must work before the other one goes.
			if err := r.Prover.ProveToken(ctx, x.cred(rot.newRec)); err != nil {
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
		r.Log.Warn("step failed", append(fields, zap.Bool("transient", isTransient(err)), zap.Error(err))...)
	} else {
		r.Log.Info("step done", fields...)
	}
	if r.OnStep != nil {
		r.OnStep(StepEvent{Step: name, Target: target, Done: true, Err: err, Detail: detail})
	}
	return err
}

// finish reports an outcome: log, metrics, alert. A notifier failure is
// logged and changes nothing. Busy runs and transient interruptions that
// have not yet lasted are not alerted.
func (r *Rotator) finish(ctx context.Context, res Result, pr *Progress) Result {
	if res.Progress == nil {
		res.Progress = pr
	}
	fields := []zap.Field{zap.String("outcome", string(res.Outcome)), zap.String("message", res.Message)}
	if res.Err != nil {
		fields = append(fields, zap.String("step", res.FailedStep), zap.Error(res.Err))
	}
	if res.ExitCode() == 0 || res.quiet {
		r.Log.Info("run finished", fields...)
	} else {
		r.Log.Error("run finished", fields...)
	}
	if r.Observer != nil {
		r.Observer.RotationDone(res.Outcome)
	}
	if r.Notifier != nil && !res.quiet && res.Outcome != ReasonBusy {
		if err := r.notify(context.WithoutCancel(ctx), r.event(res)); err != nil {
			r.Log.Warn("alert not sent", zap.Error(err))
		}
	}
	return res
}

// notify sends ev; a notifier that panics is a notifier failure like any
// other, logged by the caller, and never ends the run or the daemon's tick.
func (r *Rotator) notify(ctx context.Context, ev Event) error {
	_, err := Guard(ctx, r.Log, "notifier", func() (struct{}, error) { return struct{}{}, r.Notifier.Notify(ctx, ev) })
	return err
}

func (r *Rotator) event(res Result) Event {
	ev := Event{Outcome: res.Outcome, Message: res.Message, Instance: r.Instance, Region: r.Region,
		FailedStep: res.FailedStep, NextActions: res.NextActions, Links: append([]Link(nil), r.Links...)}
	for _, t := range r.Targets {
		if l := t.Abilities().Console; l != nil {
			ev.Links = append(ev.Links, *l)
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
	markEmergency(&ev, res)
	if res.Outcome == ReasonRotated && !ev.NewExpiry.IsZero() {
		// After a rotation the days that matter are the new token's.
		ev.DaysLeft = DaysLeft(ev.NewExpiry, r.Clock.Now())
	}
	return ev
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
