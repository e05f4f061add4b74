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
// (cmd/scim-rotator/status.schema.json): every list is [] when empty.
type StatusReport struct {
	GeneratedAt time.Time     `json:"generatedAt"`
	Manual      bool          `json:"manualIssuer"`
	Tokens      []TokenStatus `json:"tokens"`
	// Next is what `rotate` would do now.
	Next     NextRun       `json:"next"`
	DueAt    time.Time     `json:"dueAt,omitzero"`
	Versions []VersionInfo `json:"storeVersions"`
	Rotation *Progress     `json:"rotation,omitempty"`
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
// in the report, not returned, so that the rest still shows.
func (r *Rotator) Status(ctx context.Context) StatusReport {
	now := r.Clock.Now()
	rep := StatusReport{GeneratedAt: now, Manual: r.manual(), Tokens: []TokenStatus{}, Versions: []VersionInfo{},
		Systems: []SystemStatus{}, Errors: []string{}}
	obs, err := r.observeGuarded(ctx)
	if err != nil {
		rep.Errors = append(rep.Errors, err.Error())
	}
	plan := Decide(obs, r.policy(RunOptions{}), now)
	if p := obs.Store.Pending; plan.Action == ActionResume && p != nil {
		// The one check of a pending record Decide cannot make: its value.
		cred := Credential{SCIMEndpoint: obs.Tenant.SCIMEndpoint, TokenID: p.ID, Token: p.Value}
		_, err := Guard(ctx, r.Log, "the SCIM endpoint", func() (struct{}, error) { return struct{}{}, r.Prover.ProveToken(ctx, cred) })
		if errors.Is(err, ErrTokenRejected) {
			plan.Action, plan.Reason, plan.Message = ActionBlocked, ReasonBlocked, msgRefusedPending(p.ID, p.VersionID, err)
		}
	}
	rep.Next, rep.DueAt = NextRun{Action: plan.Action, Reason: plan.Reason, Message: plan.Message}, plan.DueAt
	uses := r.tokensStatus(ctx, obs, plan, now, &rep)
	if vl, ok := r.Store.(VersionLister); ok {
		vs, err := Guard(ctx, r.Log, "store", func() ([]VersionInfo, error) { return vl.ListVersions(ctx) })
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
	rep.Rotation = obs.Store.Progress
	rep.Revoked = revokedStatus(obs.Store.Progress, uses)
	if l := obs.Store.Lock; l.Held(now) {
		rep.Lock = &l
	}
	r.systemsStatus(ctx, &rep)
	if r.Health != nil {
		k := r.knowledge(obs, plan, now)
		s, err := Guard(ctx, r.Log, healthPart.label(), func() (SystemStatus, error) { return r.healthStatus(ctx, k) })
		if err != nil {
			rep.Errors = append(rep.Errors, healthPart.failure(err))
			s = SystemStatus{System: "health", Fields: []Field{}}
		}
		rep.Systems = append(rep.Systems, s)
	}
	return rep
}

// Check runs every read-only preflight and ends with what the plan would be.
func (r *Rotator) Check(ctx context.Context) []CheckResult {
	var out []CheckResult
	check := func(p part, call func() []CheckResult) {
		res, err := Guard(ctx, r.Log, p.label(), func() ([]CheckResult, error) { return call(), nil })
		if err != nil {
			res = []CheckResult{p.failed(err)}
		}
		out = append(out, res...)
	}
	for _, p := range r.parts() {
		check(p, func() []CheckResult { return p.in.Check(ctx) })
	}
	if c, ok := r.Health.(interface {
		Check(context.Context) []CheckResult
	}); ok {
		check(healthPart, func() []CheckResult { return c.Check(ctx) })
	}
	obs, err := r.observeGuarded(ctx)
	if err != nil {
		return append(out, CheckResult{System: "rotation", Name: "plan", Level: LevelFail, Detail: err.Error(),
			Fix: "fix the failing checks above"})
	}
	plan := Decide(obs, r.policy(RunOptions{}), r.Clock.Now())
	c := CheckResult{System: "rotation", Name: "plan", Level: LevelOK, Detail: plan.Message}
	if plan.Action == ActionBlocked {
		c.Level = LevelFail
		c.Fix = "record the live token with `scim-rotator stage --current --token-id ID --token-file FILE`"
	}
	if r.Usage == nil {
		out = append(out, CheckResult{System: "rotation", Name: "proof of use", Level: LevelWarn,
			Detail: "usage.source is none: the old token is deleted on the targets' own confirmations, which cannot see which token a sync used",
			Fix:    "set usage.source: cloudtrail (allow cloudtrail:LookupEvents) so the old token is deleted only once CloudTrail shows the new one in use and the old one quiet"})
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
	// impl names the implementation for a bug report (its Go type).
	impl string
	in   Inspector
}

// healthPart is the expiry watch, which check and status ask on their own.
var healthPart = part{role: "health"}

// label names the part for humans: "issuer (*identitycenter.Issuer)".
func (p part) label() string {
	l := strings.TrimSpace(p.role + " " + p.target)
	if p.impl != "" {
		l += " (" + p.impl + ")"
	}
	return l
}

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
			ps = append(ps, part{role: role, target: target, impl: fmt.Sprintf("%T", x), in: in})
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

// observeGuarded is Observe for check and status: a panic or the end of ctx
// is an error, as any system's failure to answer is.
func (r *Rotator) observeGuarded(ctx context.Context) (Observed, error) {
	obs, err := Guard(ctx, r.Log, "observing the tokens and the store", func() (Observed, error) { return r.Observe(ctx) })
	return obs, err
}

// recentUses reads the SCIM calls of the last 24 hours newest first until
// every token in ids has been seen in use and, after a revoke-old rotation,
// back to the deletion, at most UsagePages pages (the whole window with
// UsagePolicy.StatusWindow). Nil without a usage source; a failed lookup is
// reported in the report's errors.
func (r *Rotator) recentUses(ctx context.Context, obs Observed, ids []string, now time.Time, rep *StatusReport) []Use {
	if r.Usage == nil {
		return nil
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
		rep.Errors = append(rep.Errors, "look up token use: "+err.Error())
		return nil
	}
	rep.Usage = &UsageReport{Window: window.String(), Events: read.Events, Pages: read.Pages, Since: read.Since,
		Complete: read.Complete, PageBudget: pages}
	if read.Uses == nil {
		return []Use{}
	}
	return read.Uses
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

// systemsStatus adds every system's status to rep (an error beside it, or
// alone when the system had nothing to show).
func (r *Rotator) systemsStatus(ctx context.Context, rep *StatusReport) {
	for _, p := range r.parts() {
		s, err := Guard(ctx, r.Log, p.label(), func() (SystemStatus, error) { return p.in.Status(ctx) })
		switch {
		case err == nil:
		case s.System != "":
			rep.Errors = append(rep.Errors, fmt.Sprintf("%s: %v", strings.TrimSpace(s.System+" "+s.Target), err))
		case errors.Is(err, ErrPanicked) || ctx.Err() != nil:
			rep.Errors = append(rep.Errors, p.failure(err))
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

// tokensStatus adds every known token to rep with its role and last use,
// and returns the recent SCIM calls it read (nil without a usage source).
func (r *Rotator) tokensStatus(ctx context.Context, obs Observed, plan Plan, now time.Time, rep *StatusReport) []Use {
	toks := r.knownTokens(obs)
	ids := make([]string, len(toks))
	for i, t := range toks {
		ids[i] = t.ID
	}
	uses := r.recentUses(ctx, obs, ids, now, rep)
	var use map[string]*TokenUse
	if uses != nil {
		use = summarize(uses, time.Time{})
	}
	roles := map[string]string{}
	for _, t := range toks {
		ts := TokenStatus{TokenInfo: t, DaysLeft: DaysLeft(t.Expires, now), Use: use[t.ID]}
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
	return uses
}
