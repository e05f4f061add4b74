package rotator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// StatusReport is the read-only view printed by `status`. It holds ids,
// times and states, never a token value. `status -o json` is a contract
// (`scim-rotator schema status`): every list is [] when empty.
type StatusReport struct {
	GeneratedAt time.Time     `json:"generatedAt"`
	Manual      bool          `json:"manualIssuer"`
	Tokens      []TokenStatus `json:"tokens"`
	// Next is what `rotate` would do now.
	Next     NextRun       `json:"next"`
	DueAt    time.Time     `json:"dueAt,omitzero"`
	Versions []VersionInfo `json:"storeVersions"`
	// Headroom is the store's room for a rotation's writes (nil for a
	// store without a version quota, or when it could not be counted).
	Headroom *Headroom `json:"storeHeadroom,omitempty"`
	Rotation *Progress `json:"rotation,omitempty"`
	// Lock is who holds the store's lease lock (nil when free).
	Lock *LockInfo `json:"lock,omitempty"`
	// Revoked is the token the last (emergency) rotation deleted with
	// --revoke-old and the calls made with it since (nil: none).
	Revoked *RevokedStatus `json:"revoked,omitempty"`
	// Usage is what was read of CloudTrail for the tokens' use (nil
	// without a usage source, or when the lookup failed).
	Usage   *UsageReport   `json:"usage,omitempty"`
	Systems []SystemStatus `json:"systems"`
	Errors  []string       `json:"errors"`
}

// NextRun is what `rotate` would do now: the plan's action and why.
type NextRun struct {
	Action  Action `json:"action"`
	Reason  Reason `json:"reason,omitempty"`
	Message string `json:"message"`
}

// TokenStatus is one Identity Center token as `status` shows it.
type TokenStatus struct {
	TokenInfo
	Live     bool `json:"live"`
	Pending  bool `json:"pending"`
	DaysLeft int  `json:"daysLeft"`
	// Use is the token's use by anything but the product in what was read
	// of CloudTrail (the report's Usage says how far back); nil when none
	// was seen or usage.source is none.
	Use *TokenUse `json:"use"`
	// UseUnknown: CloudTrail could not be read (an error, or not in time),
	// so the token's use is not known; never reported as unused.
	UseUnknown bool `json:"useUnknown,omitempty"`
}

// UsageReport says what `status` read of CloudTrail for the tokens' use:
// newest first, until every token was seen (and, after a revoke-old
// rotation, back to the deletion), at most UsagePages pages; or, when asked
// (`status --usage-window`), the whole window for exact counts.
type UsageReport struct {
	// Window is how far back the read could go ("24h0m0s").
	Window string `json:"window"`
	// Events and Pages count what was read; Since is how far back it
	// reached (the window's start when Complete).
	Events   int       `json:"events"`
	Pages    int       `json:"pages"`
	Since    time.Time `json:"since"`
	Complete bool      `json:"complete"`
	// PageBudget bounds the read (0: the whole window was asked for).
	PageBudget int `json:"pageBudget"`
}

// Status gathers the status report. Errors reading one system are reported
// in the report, not returned, so that the rest still shows. Every system is
// asked at once, each under the command's deadline (ctx), and the report is
// put together in the usual order: a slow system (a busy CloudTrail) never
// makes another one report "timed out".
func (r *Rotator) Status(ctx context.Context) StatusReport {
	now := r.Clock.Now()
	rep := StatusReport{GeneratedAt: now, Manual: r.manual(), Tokens: []TokenStatus{}, Versions: []VersionInfo{},
		Systems: []SystemStatus{}, Errors: []string{}}
	observed := async(func() observation { return r.observation(ctx) })
	versions, systems, health := r.askVersions(ctx), r.askSystems(ctx), r.askHealth(ctx)
	o := observed()
	for _, err := range []error{o.err, o.lookback} {
		if err != nil {
			rep.Errors = append(rep.Errors, err.Error())
		}
	}
	obs := o.obs
	// CloudTrail is read once the tokens are known: until each is seen.
	var ids []string
	for _, t := range r.knownTokens(obs) {
		ids = append(ids, t.ID)
	}
	recent := async(func() recentUse { return r.recentUses(ctx, obs, ids, now) })
	r.headroomStatus(ctx, &rep) // after the observation: the store's own listing answers it
	plan := r.statusPlan(ctx, obs, now)
	rep.Next, rep.DueAt = NextRun{Action: plan.Action, Reason: plan.Reason, Message: plan.Message()}, plan.DueAt
	uses := recent()
	rep.Usage = uses.report
	r.tokensStatus(obs, plan, now, uses, &rep)
	versions(&rep)
	rep.Rotation = obs.Store.Progress
	rep.Revoked = revokedStatus(obs.Store.Progress, uses.uses)
	if l := obs.Store.Lock; l.Held(now) {
		rep.Lock = &l
	}
	systems(&rep)
	health(&rep, r.knowledge(obs, plan, now))
	return rep
}

// headroomStatus adds the store's headroom to rep (nothing for a store
// without a quota).
func (r *Rotator) headroomStatus(ctx context.Context, rep *StatusReport) {
	if _, ok := r.Store.(VersionQuota); !ok {
		return
	}
	h, err := Guard(ctx, r.Log, "store", func() (Headroom, error) { h, _, err := r.headroom(ctx); return h, err })
	if err != nil {
		rep.Errors = append(rep.Errors, "store headroom: "+err.Error())
		return
	}
	rep.Headroom = &h
}

// statusPlan is what `rotate` would do now, with the one check of a pending
// record Decide cannot make: its value.
func (r *Rotator) statusPlan(ctx context.Context, obs Observed, now time.Time) Plan {
	plan := Decide(obs, r.policy(RunOptions{}), now)
	if p := obs.Store.Pending; plan.Action == ActionResume && p != nil {
		cred := Credential{SCIMEndpoint: obs.Tenant.SCIMEndpoint, TokenID: p.ID, Token: p.Value}
		_, err := Guard(ctx, r.Log, "the SCIM endpoint", func() (struct{}, error) { return struct{}{}, r.Prover.ProveToken(ctx, cred) })
		if errors.Is(err, ErrTokenRejected) {
			plan.Action, plan.Reason, plan.Cause, plan.Refused = ActionBlocked, ReasonBlocked, CauseRefusedPending, err
			plan.NewTokenID, plan.RotationID = p.ID, p.VersionID
			if r.refusedToo(ctx, obs) {
				plan.Action, plan.Reason, plan.Cause = ActionResume, "", CauseRefusedBoth
			}
		}
	}
	return plan
}

// askVersions asks the store for its versions; the function it returns
// waits for the answer and adds it to a report.
func (r *Rotator) askVersions(ctx context.Context) func(*StatusReport) {
	vl, ok := r.Store.(VersionLister)
	if !ok {
		return func(*StatusReport) {}
	}
	wait := ask(ctx, r.Log, "store", func() ([]VersionInfo, error) { return vl.ListVersions(ctx) })
	return func(rep *StatusReport) {
		vs, err := wait()
		if err != nil {
			rep.Errors = append(rep.Errors, "list store versions: "+err.Error())
		}
		for _, v := range vs {
			if v.Stages == nil {
				v.Stages = []string{}
			}
			rep.Versions = append(rep.Versions, v)
		}
	}
}

// askHealth asks AWS Health for its expiry notices; the function it returns
// waits for them and adds the watch's entry, compared with k, to a report.
func (r *Rotator) askHealth(ctx context.Context) func(*StatusReport, ExpiryKnowledge) {
	if r.Health == nil {
		return func(*StatusReport, ExpiryKnowledge) {}
	}
	wait := ask(ctx, r.Log, healthPart.label(), func() ([]ExpiryNotice, error) { return r.Health.Notices(ctx) })
	return func(rep *StatusReport, k ExpiryKnowledge) {
		notices, err := wait()
		s := healthStatus(notices, k)
		if err != nil {
			rep.Errors = append(rep.Errors, healthPart.failure(err))
			s = SystemStatus{System: "health", Fields: []Field{}}
		}
		rep.Systems = append(rep.Systems, s)
	}
}

// Check runs every read-only preflight and ends with what the plan would be.
// Every system is asked at once, each under the command's deadline (ctx);
// the results keep the configured order.
func (r *Rotator) Check(ctx context.Context) []CheckResult {
	var waits []func() []CheckResult
	check := func(p part, call func() []CheckResult) {
		wait := ask(ctx, r.Log, p.label(), func() ([]CheckResult, error) { return call(), nil })
		waits = append(waits, func() []CheckResult {
			res, err := wait()
			if err != nil {
				return []CheckResult{p.failed(err)}
			}
			return res
		})
	}
	for _, p := range r.parts() {
		check(p, func() []CheckResult { return p.in.Check(ctx) })
		// The identity store's network rules after the issuer's checks.
		if c, ok := r.Network.(interface {
			Check(context.Context) []CheckResult
		}); ok && p.role == "issuer" {
			check(networkPart, func() []CheckResult { return c.Check(ctx) })
		}
	}
	if c, ok := r.Health.(interface {
		Check(context.Context) []CheckResult
	}); ok {
		check(healthPart, func() []CheckResult { return c.Check(ctx) })
	}
	plan := async(func() []CheckResult { return r.planChecks(ctx) })
	var out []CheckResult
	for _, wait := range waits {
		out = append(out, wait()...)
	}
	return append(out, plan()...)
}

// planChecks are check's last lines: what the plan would be, and what it
// could not rely on.
func (r *Rotator) planChecks(ctx context.Context) []CheckResult {
	o := r.observation(ctx)
	if o.err != nil {
		return []CheckResult{{System: "rotation", Name: "plan", Level: LevelFail, Detail: o.err.Error(),
			Fix: "fix the failing checks above"}}
	}
	obs := o.obs
	plan := Decide(obs, r.policy(RunOptions{}), r.Clock.Now())
	c := CheckResult{System: "rotation", Name: "plan", Level: LevelOK, Detail: plan.Message()}
	if o.lookback != nil {
		c.Detail += " (" + o.lookback.Error() + ")"
	}
	if plan.Action == ActionBlocked {
		c.Level = LevelFail
		c.Fix = "record the live token with `scim-rotator stage --current --token-id ID --token-file FILE`"
	}
	var out []CheckResult
	if r.Usage == nil {
		out = append(out, CheckResult{System: "rotation", Name: "proof of use", Level: LevelWarn,
			Detail: "usage.source is none: the old token is deleted on the targets' own confirmations, which cannot see which token a sync used",
			Fix:    "set usage.source: cloudtrail (allow cloudtrail:LookupEvents) so the old token is deleted only once CloudTrail shows the new one in use and the old one quiet"})
	}
	if c := r.headroomCheck(ctx); c != nil {
		out = append(out, *c)
	}
	if obs.Store.Current == nil {
		out = append(out, CheckResult{System: "rotation", Name: "rollback possible", Level: LevelWarn,
			Detail: "no live token is recorded: a first rotation proves the new token with every target before switching any, but could not switch a target back",
			Fix:    "optional: `scim-rotator stage --current --token-id ID --token-file FILE` records the token your IdP uses today"})
	}
	return append(out, c)
}

// part is one system `check` and `status` ask, by its role in the rotator.
type part struct {
	// role is the system's part: issuer, store, usage, target or health.
	role string
	// target is the target's configured name (targets only).
	target string
	in     Inspector
}

// healthPart is the expiry watch, which check and status ask on their own.
var healthPart = part{role: "health"}

// label names the part for humans as the config does: "issuer", "store",
// "usage", "target entra" (its configured name), "health".
func (p part) label() string { return strings.TrimSpace(p.role + " " + p.target) }

// failure is the error line of a part that panicked or did not answer in time.
func (p part) failure(err error) string {
	if errors.Is(err, ErrPanicked) {
		return err.Error() // it names the part
	}
	return p.label() + ": " + err.Error()
}

// failed is the check result of a part that panicked or did not answer in time.
func (p part) failed(err error) CheckResult {
	c := CheckResult{System: p.role, Target: p.target, Name: "answer", Level: LevelFail, Detail: p.failure(err),
		Fix: "the system did not answer within --timeout: check the network path to it (proxy, firewall, endpoint) or give a longer --timeout"}
	if errors.Is(err, ErrPanicked) {
		c.Fix = "a bug in scim-rotator: report it with the log line that has the stack; the other systems' checks still ran"
	}
	return c
}

func (r *Rotator) parts() []part {
	var ps []part
	add := func(role, target string, x any) {
		if in, ok := x.(Inspector); ok {
			ps = append(ps, part{role: role, target: target, in: in})
		}
	}
	add("issuer", "", r.Issuer)
	add("store", "", r.Store)
	if r.Usage != nil {
		add("usage", "", r.Usage)
	}
	for _, t := range r.Targets {
		add("target", t.Name(), t)
	}
	return ps
}

// observeGuarded is Observe for check, status and the daemon's watch: a
// panic or the end of ctx is an error, as any system's failure to answer is.
// The store and Identity Center are one guarded call, CloudTrail's look-back
// for two unrecorded tokens another: a slow CloudTrail costs only what it
// could not read (the plan goes without it, as after a failed lookup:
// blocked), and lookback says why.
func (r *Rotator) observeGuarded(ctx context.Context) (obs Observed, lookback, err error) {
	obs, err = Guard(ctx, r.Log, "observing the tokens and the store", func() (Observed, error) { return r.observeSystems(ctx) })
	if err != nil || !r.lookbackNeeded(obs) {
		return obs, nil, err
	}
	seen, err := Guard(ctx, r.Log, "usage", func() (Observed, error) {
		o := obs // a copy: a call still running after the deadline writes only to it
		r.observeUsage(ctx, &o)
		return o, nil
	})
	if err != nil {
		return obs, fmt.Errorf("look up token use to tell the two unrecorded tokens apart: %w", err), nil
	}
	return seen, nil, nil
}

// observation is observeGuarded's answer, for a goroutine to hand over.
type observation struct {
	obs           Observed
	lookback, err error
}

func (r *Rotator) observation(ctx context.Context) observation {
	var o observation
	o.obs, o.lookback, o.err = r.observeGuarded(ctx)
	return o
}

// recentUse is what status read of the recent SCIM calls.
type recentUse struct {
	// uses are the calls (nil without a usage source or when err is set).
	uses []Use
	// report says what was read (nil without a usage source or on err).
	report *UsageReport
	// err is why they are not known (nil: they are).
	err error
}

// recentUses reads the SCIM calls of the last 24 hours newest first until
// every token in ids has been seen in use and, after a revoke-old rotation,
// back to the deletion, at most UsagePages pages (the whole window with
// UsagePolicy.StatusWindow). Nil without a usage source; a failed lookup is
// reported in the report's errors.
func (r *Rotator) recentUses(ctx context.Context, obs Observed, ids []string, now time.Time) recentUse {
	if r.Usage == nil {
		return recentUse{}
	}
	window, pages := 24*time.Hour, UsagePages
	if w := r.UsagePolicy.StatusWindow; w > 0 {
		window, pages = w, 0
	}
	var back time.Time
	if pr := obs.Store.Progress; pr != nil && pr.Revoked != nil && pr.Revoked.DeletedAt.After(now.Add(-window)) {
		back = pr.Revoked.DeletedAt // its calls since: all of them
	}
	q := UsageQuery{From: now.Add(-window), To: now, Pages: pages}
	read, err := Guard(ctx, r.Log, "usage", func() (UsageRead, error) { return latestUses(ctx, r.Usage, q, ids, back) })
	if err != nil {
		return recentUse{err: fmt.Errorf("look up token use: %w", err)}
	}
	rep := &UsageReport{Window: window.String(), Events: read.Events, Pages: read.Pages, Since: read.Since,
		Complete: read.Complete, PageBudget: pages}
	if read.Uses == nil {
		read.Uses = []Use{}
	}
	return recentUse{uses: read.Uses, report: rep}
}

// StageCurrent records the token the IdP uses today as current, so that a
// rotation can roll back to it (`stage --current`). The token must be one the
// issuer lists (unless manual) and the SCIM endpoint must accept it.
// expires is only used with the manual issuer, where it cannot be listed.
func (r *Rotator) StageCurrent(ctx context.Context, tokenID string, value Secret, expires time.Time) error {
	if tokenID == "" || value.IsZero() {
		return errors.New("a token id and a token value are required")
	}
	return r.withLease(ctx, func(obs Observed, l *lease) error { return r.stageCurrent(ctx, obs, l, tokenID, value, expires) })
}

func (r *Rotator) stageCurrent(ctx context.Context, obs Observed, l *lease, tokenID string, value Secret, expires time.Time) error {
	if p := obs.Store.Pending; p != nil && obs.Store.Progress != nil && obs.Store.Progress.OldTokenID != tokenID {
		return fmt.Errorf("rotation %s is in progress; only its old token %s may be recorded now", p.VersionID, obs.Store.Progress.OldTokenID)
	}
	info := TokenInfo{ID: tokenID, Expires: expires}
	if !r.manual() {
		found := false
		var ids []string
		for _, t := range obs.Tokens {
			ids = append(ids, t.ID)
			if t.ID == tokenID {
				info, found = t, true
			}
		}
		if !found {
			return fmt.Errorf("token %s does not exist in Identity Center (it has: %s)", tokenID, listOrNone(ids))
		}
	} else if expires.IsZero() {
		return errors.New("with the manual issuer, give the token's expiry (--expires) as the console shows it")
	}
	tenant := obs.Tenant
	cred := Credential{SCIMEndpoint: tenant.SCIMEndpoint, TokenID: tokenID, Token: value}
	if err := r.Prover.ProveToken(ctx, cred); err != nil {
		return fmt.Errorf("the SCIM endpoint does not accept this value for token %s: %w", tokenID, err)
	}
	if c := obs.Store.Current; c != nil && c.ID == tokenID && c.Value.Equal(value) && c.SCIMEndpoint == tenant.SCIMEndpoint {
		return nil
	}
	if err := l.write(ctx, nil, false); err != nil {
		return err
	}
	return r.Store.PutCurrent(ctx, Record{Token: Token{TokenInfo: info, Value: value}, SCIMEndpoint: tenant.SCIMEndpoint, Recorded: r.Clock.Now()})
}

// withLease observes, then runs fn with this run's lease (taken by its
// first write); another run's live lease is an error wrapping ErrBusy that
// names the holder.
func (r *Rotator) withLease(ctx context.Context, fn func(Observed, *lease) error) error {
	obs, err := r.Observe(ctx)
	if err != nil {
		return err
	}
	if b := r.busy(obs.Store, r.Clock.Now()); b != nil {
		return fmt.Errorf("%s: %w", msgBusy(*b), ErrBusy)
	}
	l := r.newLease()
	defer l.release(ctx)
	return fn(obs, l)
}

// StagePending records a token an operator generated in the console as the
// pending token of a new rotation (manual issuer). The next `rotate` pushes,
// tests, confirms and promotes it. It returns the rotation id.
func (r *Rotator) StagePending(ctx context.Context, tokenID string, value Secret) (string, error) {
	if !r.manual() {
		return "", errors.New("identityCenter.issuer is identitycenter: the rotator creates tokens itself; use `stage --current` to record the live token")
	}
	if value.IsZero() {
		return "", errors.New("a token value is required")
	}
	var id string
	err := r.withLease(ctx, func(obs Observed, l *lease) error {
		var err error
		id, err = r.stagePending(ctx, obs, l, tokenID, value)
		return err
	})
	return id, err
}

func (r *Rotator) stagePending(ctx context.Context, obs Observed, l *lease, tokenID string, value Secret) (string, error) {
	if p := obs.Store.Pending; p != nil {
		return "", fmt.Errorf("rotation %s is already in progress with token %s; run `scim-rotator rotate` to finish it", p.VersionID, p.ID)
	}
	tenant := obs.Tenant
	now := r.Clock.Now()
	id := newID()
	if tokenID == "" {
		tokenID = "staged-" + id[:8]
	}
	cred := Credential{SCIMEndpoint: tenant.SCIMEndpoint, TokenID: tokenID, Token: value}
	if err := r.Prover.ProveToken(ctx, cred); err != nil {
		return "", fmt.Errorf("the SCIM endpoint does not accept this token: %w", err)
	}
	// Tokens live one year from creation (documented); the console created
	// this one moments ago.
	rec := Record{Token: Token{TokenInfo: TokenInfo{ID: tokenID, Created: now, Expires: now.AddDate(1, 0, 0)}, Value: value},
		SCIMEndpoint: tenant.SCIMEndpoint, VersionID: id, Recorded: now}
	rot := &rotation{newRec: rec, progress: Progress{RotationID: id, Phase: PhaseCreated, StartedAt: now,
		NewTokenID: tokenID, NewTokenExpires: rec.Expires, Targets: r.targetProgress(nil)}}
	if c := obs.Store.Current; c != nil {
		rot.progress.OldTokenID = c.ID
	}
	// Write-ahead: the progress naming this rotation and token first, so
	// the pending version is never without the record that vouches for it.
	if err := l.write(ctx, &rot.progress, false); err != nil {
		return "", fmt.Errorf("save progress: %w", err)
	}
	if err := r.Store.PutPending(ctx, id, rec); err != nil {
		return "", fmt.Errorf("store the staged token: %w", err)
	}
	return id, nil
}

// listOrNone prints ids for humans: "a, b", or "none".
func listOrNone(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}

// askSystems asks every system for its status; the function it returns
// waits for the answers and adds them to a report in the configured order
// (an error beside a system, or alone when it had nothing to show).
func (r *Rotator) askSystems(ctx context.Context) func(*StatusReport) {
	type answer struct {
		s   SystemStatus
		err error
		// late: ctx had ended when it answered.
		late bool
	}
	parts := r.parts()
	var waits []func() answer
	for _, p := range parts {
		waits = append(waits, async(func() answer {
			s, err := Guard(ctx, r.Log, p.label(), func() (SystemStatus, error) { return p.in.Status(ctx) })
			return answer{s, err, ctx.Err() != nil}
		}))
	}
	return func(rep *StatusReport) {
		for i, wait := range waits {
			a, p := wait(), parts[i]
			s, err := a.s, a.err
			switch {
			case err == nil:
			case errors.Is(err, ErrPanicked) || a.late:
				// Whatever it says past the deadline (the SDK's own
				// "deadline exceeded") is the deadline's: named once, as
				// configured, and nothing half-read is shown.
				rep.Errors = append(rep.Errors, p.failure(err))
				s.System = ""
			case s.System != "":
				rep.Errors = append(rep.Errors, fmt.Sprintf("%s: %v", strings.TrimSpace(s.System+" "+s.Target), err))
			default:
				rep.Errors = append(rep.Errors, err.Error())
			}
			if s.System == "" {
				continue // nothing to show beside the error
			}
			if s.Fields == nil {
				s.Fields = []Field{}
			}
			rep.Systems = append(rep.Systems, s)
		}
	}
}

// tokensStatus adds every known token to rep with its role and last use
// (not known when the lookup failed or did not answer in time).
func (r *Rotator) tokensStatus(obs Observed, plan Plan, now time.Time, recent recentUse, rep *StatusReport) {
	if recent.err != nil {
		rep.Errors = append(rep.Errors, recent.err.Error())
	}
	toks := r.knownTokens(obs)
	var use map[string]*TokenUse
	if recent.uses != nil {
		use = summarize(recent.uses, time.Time{})
	}
	roles := map[string]string{}
	for _, t := range toks {
		ts := TokenStatus{TokenInfo: t, DaysLeft: DaysLeft(t.Expires, now), Use: use[t.ID], UseUnknown: recent.err != nil}
		ts.Live = plan.Live != nil && plan.Live.ID == t.ID
		ts.Pending = obs.Store.Pending != nil && obs.Store.Pending.ID == t.ID
		switch {
		case ts.Live:
			roles["live"] = t.ID
		case ts.Pending:
			roles["pending"] = t.ID
		default:
			roles["old"] = t.ID
		}
		rep.Tokens = append(rep.Tokens, ts)
	}
	r.reportUsage(use, roles)
}
