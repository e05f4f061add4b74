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
	// Network reads the identity store's network rules; nil when they
	// cannot be read (then a refused proof is judged on the tokens alone).
	Network NetworkReader
	// OnStep, if set, is told about every step as it starts and ends, and
	// about every wait as it starts and polls, instead of the log (LogStep;
	// see waits.go).
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
	// Deadline, when set, bounds the run's waits (`rotate --deadline`; a
	// Lambda invocation's deadline less a margin: DeadlineWithin): a wait
	// that would pass it is left to the next run, and the run ends Waiting
	// (deadline.go). A time of the Rotator's Clock.
	Deadline time.Time
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
// waiting on a hand-off as designed, a wait left to the next run (Waiting),
// or busy on a scheduled run; 1 failed,
// rolled back, blocked, interrupted, or busy when a human asked for this run
// (--now, --continue).
func (r Result) ExitCode() int {
	switch r.Outcome {
	case ReasonRotated, ReasonNotDue, ReasonDryRun, ReasonAwaitingHandoff, ReasonWaiting:
		return 0
	case ReasonBusy:
		if r.Requested.Now || r.Requested.Continue {
			return 1
		}
		return 0
	}
	return 1
}

// StepEvent is one step starting or ending, or, with Wait, a step's wait
// starting or polling (waits.go).
type StepEvent struct {
	Step   string
	Target string
	Done   bool
	Err    error
	Detail string
	// At is when it happened, by the run's clock.
	At time.Time
	// Wait is set on a wait's events (Done is then false).
	Wait *Wait
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
		return Result{Outcome: ReasonDryRun, Plan: plan, Message: plan.Message(), Requested: opts}
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
		return r.observeFailed(ctx, err, opts)
	}
	now := r.Clock.Now()
	if l := r.busy(obs.Store, now); l != nil {
		return Result{Outcome: ReasonBusy, Lock: l, Message: msgBusy(*l)}
	}
	plan := Decide(obs, r.policy(opts), now)
	if plan.Live != nil && r.Observer != nil {
		r.Observer.LiveTokenExpiry(plan.Live.Expires)
	}
	r.Log.Info("plan", zap.String("action", string(plan.Action)), zap.String("cause", string(plan.Cause)), zap.String("message", plan.Message()))

	l := r.newLease()
	l.saw(obs.Store.Progress)
	defer l.release(ctx)
	x := &exec{r: r, lease: l, plan: plan, tenant: obs.Tenant, opts: opts, usage: r.newUsageReader()}
	switch plan.Action {
	case ActionNone:
		if res, found := x.revokedTokenUsed(ctx, obs); found {
			return res
		}
		return Result{Outcome: ReasonNotDue, Plan: plan, Message: plan.Message(), Progress: obs.Store.Progress}
	case ActionBlocked:
		return Result{Outcome: ReasonBlocked, Plan: plan, Message: plan.Message(), Err: errors.New(plan.Message()), Progress: obs.Store.Progress}
	case ActionWait:
		if res, done := x.watchHandoff(ctx, obs); done {
			return res
		}
		res := Result{Outcome: plan.Reason, Plan: plan, Message: plan.Message(), Progress: obs.Store.Progress, quiet: plan.Reason == ReasonInterrupted}
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

func (r *Rotator) observeFailed(ctx context.Context, err error, opts RunOptions) Result {
	res := Result{Outcome: ReasonFailed, FailedStep: "observe", Err: err, Requested: opts,
		Message: "cannot read the current state; nothing was changed"}
	if kindOf(ctx, err) != failPermanent {
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
	obs, err := r.observeSystems(ctx)
	if err != nil {
		return obs, err
	}
	r.observeUsage(ctx, &obs)
	return obs, nil
}

// observeSystems is Observe without CloudTrail: the store and Identity
// Center (check and status ask CloudTrail under a guard of its own).
func (r *Rotator) observeSystems(ctx context.Context) (Observed, error) {
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

// Transient failures of one step are recorded until they are worth a
// human's attention (alertAfterFailures runs in a row, or an hour); after
// that, nothing more is written for them, and a run retries the step at
// most once every retryPause (plan.go): a step failing for days must not
// fill the store's version quota.
const (
	alertAfterFailures = 3
	retryPause         = time.Hour
)

// step runs one named step with timing, reporting its start and end (emit).
func (r *Rotator) step(ctx context.Context, name, target, detail string, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.emit(StepEvent{Step: name, Target: target, Detail: detail})
	start := r.Clock.Now()
	err := fn()
	if r.Observer != nil {
		r.Observer.StepDone(name, target, r.Clock.Now().Sub(start))
	}
	r.emit(StepEvent{Step: name, Target: target, Done: true, Err: err, Detail: detail})
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
