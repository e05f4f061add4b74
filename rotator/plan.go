package rotator

import (
	"slices"
	"sort"
	"time"
)

// Observed is everything the plan is decided from.
type Observed struct {
	// Tenant is Identity Center's own answer (or the config's): its SCIM
	// endpoint is the only one any credential is ever built with.
	Tenant Tenant
	// Tokens are the issuer's tokens; none for an issuer without a token
	// API (Policy.ByHand).
	Tokens []TokenInfo
	Store  StoreState
	// Usage is each token's use in the last 90 days, looked up only when
	// the plan needs it (two tokens and nothing recorded); nil otherwise.
	Usage map[string]TokenUse
}

// Policy is what the operator asked for.
type Policy struct {
	RotateBefore time.Duration
	// Now rotates whatever the expiry (`rotate --now`).
	Now bool
	// Continue confirms targets that waited for a human (`rotate --continue`).
	Continue bool
	// HandoffTimeout is how long a hand-off may wait before it is reported
	// as failed (confirmTimeout).
	HandoffTimeout time.Duration
	// ProofOfUse: CloudTrail must show the new token used and the old one
	// quiet (usage.source cloudtrail).
	ProofOfUse bool
	// RevokeOld: delete the old token without a quiet period (`--revoke-old`).
	RevokeOld bool
	// ByHand: the issuer has no token API (Issuer.Tokens is nil: issuer
	// manual), so a human creates and deletes tokens in the console; tokens
	// cannot be listed, created or deleted here, and the store's records are
	// all that is known.
	ByHand bool
}

// Action is what a run does.
type Action string

const (
	// ActionNone: nothing to do (not due).
	ActionNone Action = "None"
	// ActionStart: make room if needed, create a token, then carry it through.
	ActionStart Action = "Start"
	// ActionResume: a rotation is in progress; carry it on.
	ActionResume Action = "Resume"
	// ActionFinish: the last rotation was promoted but its old token is left.
	ActionFinish Action = "Finish"
	// ActionWait: a rotation waits for a human (hand-off, or a token to stage).
	ActionWait Action = "Wait"
	// ActionBlocked: acting could stop provisioning; a human decides.
	ActionBlocked Action = "Blocked"
)

// Cause is why the plan is what it is; explain.go turns it into words.
type Cause string

const (
	CauseRequested       Cause = "Requested"           // --now
	CauseCurrentGone     Cause = "CurrentGone"         // the recorded current token no longer exists
	CauseExpiryUnknown   Cause = "ExpiryUnknown"       // manual issuer, nothing recorded
	CauseNoToken         Cause = "NoToken"             // Identity Center holds no token
	CauseInWindow        Cause = "InWindow"            // the live token expires within rotateBefore
	CauseNotDue          Cause = "NotDue"              // the live token is outside the window
	CauseInProgress      Cause = "InProgress"          // a pending version is carried on
	CauseHandoff         Cause = "Handoff"             // a hand-off waits for a human
	CauseHandoffOverdue  Cause = "HandoffOverdue"      // ... for longer than confirmTimeout
	CauseOldTokenLeft    Cause = "OldTokenLeft"        // promoted; the old token is still to delete
	CauseTwoUnrecorded   Cause = "TwoTokensUnrecorded" // two tokens, neither provably unused
	CauseUntrustedRecord Cause = "UntrustedRecord"     // the store says what Identity Center contradicts
	CauseRetryLater      Cause = "RetryLater"          // a step keeps failing: retried at most once an hour
	CauseRefusedPending  Cause = "RefusedPending"      // the SCIM endpoint refuses the pending value (status)
	CauseRefusedBoth     Cause = "RefusedBoth"         // ... and the current one alike: this host is refused (status)
)

// Plan is the decision of one run: data, computed without side effects and
// printed by --dry-run: the decision (Action, Reason, Cause) and its
// evidence. Its words (Message and Steps, explain.go) are made from it when
// they are printed; nothing decides on them.
type Plan struct {
	Action Action
	// Reason is the outcome the plan ends with by itself (Wait, Blocked,
	// None); empty when the run acts.
	Reason Reason
	Cause  Cause
	// Live is the token provisioning depends on now: the one recorded as
	// current or, with no record, the one that expires first.
	Live *TokenInfo
	// LiveKnown is true when Live is recorded as current in the store.
	LiveKnown bool
	// DueAt is when the live token enters the rotation window.
	DueAt time.Time
	// Delete lists tokens to delete to make room, with why each is unused.
	Delete []Deletion
	// OldTokenID is the token the rotation replaces (deleted after promote).
	OldTokenID string
	// Orphans are tokens a killed run created whose value nobody can hold.
	Orphans []string
	// RotationID and NewTokenID name the rotation carried on (Resume,
	// Finish, hand-off waits).
	RotationID string
	NewTokenID string
	// HandoffSince is when a waiting hand-off began.
	HandoffSince time.Time
	// RetryAt is when a step that keeps failing is tried again (RetryLater),
	// and FailingStep that step.
	RetryAt     time.Time
	FailingStep string
	// Candidates are the tokens a Blocked plan could not choose between,
	// with what CloudTrail showed of their use (when it was looked up).
	Candidates   []TokenInfo
	CandidateUse map[string]TokenUse
	// Distrust lists the checks a store record failed (CauseUntrustedRecord).
	Distrust []Distrust
	// Refused is the SCIM endpoint's refusal of the pending token's value
	// (CauseRefusedPending: status proves it, Decide cannot).
	Refused error
	// RevokeOld: asked for, or the rotation carried on is a revoke-old one.
	RevokeOld bool
	// Policy is what the plan was decided under, and Now when: the rules
	// its words quote (Message and Steps, explain.go, made when printed).
	Policy Policy
	Now    time.Time
}

// DeleteReason is why a token may be deleted to make room.
type DeleteReason string

const (
	DeleteExpired DeleteReason = "Expired"
	DeleteNotLive DeleteReason = "NotLive" // the store records another token as current
	DeleteOrphan  DeleteReason = "Orphan"  // created by a run that never stored its value
	DeleteUnused  DeleteReason = "Unused"  // no use in 90 days while the other token is used (R4)
)

// Deletion is a token the plan deletes and the proof that nobody uses it.
type Deletion struct {
	ID      string
	Why     DeleteReason
	Expired time.Time
	// CurrentID is the token recorded as current (DeleteNotLive).
	CurrentID string
}

// Distrust is one check a store record failed.
type Distrust struct {
	// Record is "pending", "current" or "progress".
	Record string
	Check  TrustCheck
	// Got and Want are ids or endpoints (never values) for the words.
	Got, Want string
}

// TrustCheck names a check of a store record against Identity Center.
type TrustCheck string

const (
	// TrustRotation: the progress record names another rotation or token.
	TrustRotation TrustCheck = "RotationMismatch"
	// TrustUnknownToken: Identity Center does not list the pending token.
	TrustUnknownToken TrustCheck = "UnknownToken"
	// TrustPreexisting: the pending token existed before its rotation began,
	// or is the live token itself.
	TrustPreexisting TrustCheck = "Preexisting"
	// TrustEndpoint: the record names another SCIM endpoint than Identity
	// Center's.
	TrustEndpoint TrustCheck = "EndpointMismatch"
	// TrustOrphans: the progress record would make every token an orphan.
	TrustOrphans TrustCheck = "EveryTokenOrphaned"
)

// orphanSkew is how much earlier than its rotation's start (by our clock)
// Identity Center may stamp a token that rotation created.
const orphanSkew = 5 * time.Minute

// Decide is the pure decision of what a run should do, given what was
// observed, what the operator asked and the current time.
//
// Decision table (first match wins):
//
//	| observed                                             | action   | reason / cause                      |
//	|------------------------------------------------------|----------|-------------------------------------|
//	| a store record fails a check against Identity Center | Blocked  | Blocked / UntrustedRecord           |
//	| last rotation promoted, its old token still listed,  | Wait     | Interrupted / RetryLater            |
//	|   a step failed 3 times within 1 h (*)               |          |                                     |
//	| last rotation promoted, its old token still listed   | Finish   | - / OldTokenLeft (retried first)    |
//	| a pending version, a hand-off waits, no --continue   | Wait     | AwaitingHandoff (Failed if overdue) |
//	| a pending version, a step failed 3 times in 1 h (*)  | Wait     | Interrupted / RetryLater            |
//	| a pending version                                    | Resume   | - / InProgress                      |
//	| manual issuer, due or --now                          | Wait     | AwaitingToken                       |
//	| live token not due and no --now                      | None     | NotDue                              |
//	| two tokens and neither provably unused               | Blocked  | Blocked / TwoTokensUnrecorded       |
//	| otherwise                                            | Start    | - (unused tokens deleted first)     |
//
// (*) retryLater, applied to the Finish and Resume rows: never with --now
// or --continue.
//
// A token is provably unused when it has expired, when the store records
// another token as current, or when a killed run created it and never stored
// its value (an orphan). The live token is never deleted.
func Decide(obs Observed, pol Policy, now time.Time) Plan {
	p := decide(obs, pol, now)
	p.Policy, p.Now = pol, now
	p.RevokeOld = pol.RevokeOld || obs.Store.Progress != nil && obs.Store.Progress.RevokeOld && obs.Store.Progress.Phase != PhaseDone
	return p
}

func decide(obs Observed, pol Policy, now time.Time) Plan {
	st := obs.Store
	var p Plan
	p.Live, p.LiveKnown = liveToken(obs, pol)
	if !p.LiveKnown && st.Pending == nil {
		// R4: of two unrecorded tokens, the one in use is the live one.
		if d, i := unusedByUse(obs.Tokens, obs.Usage, now); i >= 0 {
			for _, t := range obs.Tokens {
				if t.ID == d.CurrentID {
					p.Live = &t
				}
			}
		}
	}
	if p.Live != nil {
		p.DueAt = DueAt(p.Live.Expires, pol.RotateBefore)
	}

	if d := distrust(obs, pol); len(d) > 0 {
		p.Action, p.Reason, p.Cause, p.Distrust = ActionBlocked, ReasonBlocked, CauseUntrustedRecord, d
		if st.Pending != nil {
			p.RotationID, p.NewTokenID = st.Pending.VersionID, st.Pending.ID
		}
		return p
	}

	// The last rotation's token is current (promoted, even if the run was
	// stopped before it could record so) but its old token is still there:
	// deleting it is the unfinished part of that rotation, retried first.
	// Identity Center must agree that the old token predates the current one.
	if pr := st.Progress; pr != nil && pr.Phase != PhaseDone && !pol.ByHand && st.Current != nil &&
		st.Current.ID == pr.NewTokenID && pr.OldTokenID != "" && pr.OldTokenID != st.Current.ID &&
		createdBefore(obs.Tokens, pr.OldTokenID, st.Current.ID) {
		p.Action, p.Cause = ActionFinish, CauseOldTokenLeft
		p.OldTokenID, p.RotationID, p.NewTokenID = pr.OldTokenID, pr.RotationID, st.Current.ID
		return retryLater(st.Progress, pol, now, p)
	}

	if st.Pending != nil {
		return retryLater(st.Progress, pol, now, decidePending(obs, pol, now, p))
	}

	due, cause := isDue(obs, pol, now, p)
	p.Cause = cause
	if !due {
		p.Action, p.Reason = ActionNone, ReasonNotDue
		return p
	}
	if pol.ByHand {
		p.Action, p.Reason = ActionWait, ReasonAwaitingToken
		if p.Live != nil {
			p.OldTokenID = p.Live.ID
		}
		return p
	}
	return decideStart(obs, now, p)
}

func decidePending(obs Observed, pol Policy, now time.Time, p Plan) Plan {
	st := obs.Store
	pr := st.Progress // distrust() guarantees it names this rotation
	p.RotationID, p.NewTokenID = st.Pending.VersionID, st.Pending.ID
	p.Action, p.Cause = ActionResume, CauseInProgress
	if pr != nil {
		p.OldTokenID = pr.OldTokenID
	}
	if pr != nil && pr.Phase == PhaseAwaitingHandoff && !pol.Continue {
		p.Action, p.Reason, p.Cause, p.HandoffSince = ActionWait, ReasonAwaitingHandoff, CauseHandoff, pr.HandoffSince
		if !pr.HandoffSince.IsZero() && pol.HandoffTimeout > 0 && now.Sub(pr.HandoffSince) > pol.HandoffTimeout {
			p.Reason, p.Cause = ReasonFailed, CauseHandoffOverdue
		}
	}
	return p
}

// retryLater holds a rotation whose step has failed alertAfterFailures
// times in a row until retryPause after the last attempt was recorded: the
// attempt that failed was alerted, and retrying every few minutes for days
// would write a store version each time. --now and --continue retry at once.
func retryLater(pr *Progress, pol Policy, now time.Time, p Plan) Plan {
	if pr == nil || pol.Now || pol.Continue || (p.Action != ActionResume && p.Action != ActionFinish) ||
		pr.Failures < alertAfterFailures || !now.Before(pr.UpdatedAt.Add(retryPause)) {
		return p
	}
	p.Action, p.Reason, p.Cause = ActionWait, ReasonInterrupted, CauseRetryLater
	p.RetryAt, p.FailingStep = pr.UpdatedAt.Add(retryPause), pr.FailingStep
	return p
}

func decideStart(obs Observed, now time.Time, p Plan) Plan {
	st := obs.Store
	p.Action = ActionStart

	// A token created by a run killed between CreateToken and storing its
	// value: not among the tokens that run recorded, and created after it
	// began (Identity Center's own timestamp; minutes of clock skew allowed).
	// A planted record cannot make every token an orphan: that is refused.
	orphan := map[string]bool{}
	if pr := st.Progress; pr != nil && pr.Phase == PhaseCreating {
		for _, t := range obs.Tokens {
			if !slices.Contains(pr.PreexistingTokenIDs, t.ID) && !t.Created.Before(pr.StartedAt.Add(-orphanSkew)) {
				orphan[t.ID] = true
			}
		}
		if len(orphan) > 0 && len(orphan) == len(obs.Tokens) {
			p.Action, p.Reason, p.Cause = ActionBlocked, ReasonBlocked, CauseUntrustedRecord
			p.Distrust = []Distrust{{Record: "progress", Check: TrustOrphans, Got: pr.RotationID}}
			return p
		}
	}
	// Which tokens may go. Orphans go whatever the count: nobody can hold them.
	var keep []TokenInfo
	for _, t := range obs.Tokens {
		if orphan[t.ID] && !(p.LiveKnown && t.ID == p.Live.ID) {
			p.Orphans = append(p.Orphans, t.ID)
			p.Delete = append(p.Delete, Deletion{ID: t.ID, Why: DeleteOrphan})
			continue
		}
		keep = append(keep, t)
	}
	// Make room: at most two tokens may exist, so at most one may remain.
	for len(keep) >= 2 {
		d, i := unusedToken(keep, st, now)
		if i < 0 {
			d, i = unusedByUse(keep, obs.Usage, now)
		}
		if i < 0 {
			p.Action, p.Reason, p.Cause = ActionBlocked, ReasonBlocked, CauseTwoUnrecorded
			p.Delete, p.Orphans, p.Candidates, p.CandidateUse = nil, nil, keep, obs.Usage
			return p
		}
		p.Delete = append(p.Delete, d)
		keep = slices.Delete(keep, i, i+1)
	}
	if len(keep) == 1 {
		p.OldTokenID = keep[0].ID
	}
	return p
}

// distrust checks what the store says against what Identity Center says.
// A pending version is carried on only when its progress record names the
// same rotation and token, Identity Center lists that token, and it did not
// exist before the rotation began; no record may name another SCIM endpoint
// than the tenant's.
func distrust(obs Observed, pol Policy) []Distrust {
	st := obs.Store
	var out []Distrust
	endpoint := func(name string, rec *Record) {
		if rec != nil && rec.SCIMEndpoint != "" && obs.Tenant.SCIMEndpoint != "" && rec.SCIMEndpoint != obs.Tenant.SCIMEndpoint {
			out = append(out, Distrust{Record: name, Check: TrustEndpoint, Got: rec.SCIMEndpoint, Want: obs.Tenant.SCIMEndpoint})
		}
	}
	endpoint("current", st.Current)
	pend := st.Pending
	if pend == nil {
		return out
	}
	endpoint("pending", pend)
	pr := st.Progress
	switch {
	case pr == nil || pr.RotationID != pend.VersionID:
		got := ""
		if pr != nil {
			got = pr.RotationID
		}
		out = append(out, Distrust{Record: "progress", Check: TrustRotation, Got: got, Want: pend.VersionID})
	case pr.NewTokenID != pend.ID && !(pr.Phase == PhaseCreating && pr.NewTokenID == ""):
		// A run stopped between storing the value and recording its id
		// leaves Creating progress without the id: the checks below decide.
		out = append(out, Distrust{Record: "progress", Check: TrustRotation, Got: pr.NewTokenID, Want: pend.ID})
	}
	if pol.ByHand {
		return out // nothing to list: the staged value is proved against SCIM before use
	}
	if !hasToken(obs.Tokens, pend.ID) {
		out = append(out, Distrust{Record: "pending", Check: TrustUnknownToken, Got: pend.ID})
	}
	if pr != nil && (slices.Contains(pr.PreexistingTokenIDs, pend.ID) || pr.OldTokenID == pend.ID) ||
		st.Current != nil && st.Current.ID == pend.ID {
		out = append(out, Distrust{Record: "pending", Check: TrustPreexisting, Got: pend.ID})
	}
	return out
}

// unusedToken picks a token among keep that provably nobody uses: expired
// first, then one that is not the token recorded as current.
func unusedToken(keep []TokenInfo, st StoreState, now time.Time) (Deletion, int) {
	for i, t := range keep {
		if !t.Expires.After(now) {
			return Deletion{ID: t.ID, Why: DeleteExpired, Expired: t.Expires}, i
		}
	}
	if st.Current != nil && hasToken(keep, st.Current.ID) {
		for i, t := range keep {
			if t.ID != st.Current.ID {
				return Deletion{ID: t.ID, Why: DeleteNotLive, CurrentID: st.Current.ID}, i
			}
		}
	}
	return Deletion{}, -1
}

// unusedByUse (R4) picks, of exactly two tokens and nothing recorded, the
// one CloudTrail shows unused for 90 days while the other is used, provided
// it was created more than a day ago (a human's rotation may be under way).
func unusedByUse(keep []TokenInfo, use map[string]TokenUse, now time.Time) (Deletion, int) {
	if use == nil || len(keep) != 2 {
		return Deletion{}, -1
	}
	_, used0 := use[keep[0].ID]
	_, used1 := use[keep[1].ID]
	if used0 == used1 {
		return Deletion{}, -1
	}
	i := 0
	if used0 {
		i = 1
	}
	if now.Sub(keep[i].Created) <= 24*time.Hour {
		return Deletion{}, -1
	}
	return Deletion{ID: keep[i].ID, Why: DeleteUnused, CurrentID: keep[1-i].ID}, i
}

// liveToken is the token provisioning depends on: the one recorded as
// current if the issuer still has it; with no record, the one that expires
// first (every token counts as possibly live).
func liveToken(obs Observed, pol Policy) (*TokenInfo, bool) {
	st := obs.Store
	if pol.ByHand {
		if st.Current != nil {
			t := st.Current.TokenInfo
			return &t, true
		}
		return nil, false
	}
	if st.Current != nil {
		for _, t := range obs.Tokens {
			if t.ID == st.Current.ID {
				return &t, true
			}
		}
	}
	var pending string
	if st.Pending != nil {
		pending = st.Pending.ID
	}
	cands := make([]TokenInfo, 0, len(obs.Tokens))
	for _, t := range obs.Tokens {
		if t.ID != pending {
			cands = append(cands, t)
		}
	}
	if len(cands) == 0 {
		return nil, false
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].Expires.Before(cands[j].Expires) })
	return &cands[0], false
}

func isDue(obs Observed, pol Policy, now time.Time, p Plan) (bool, Cause) {
	st := obs.Store
	switch {
	case pol.Now:
		return true, CauseRequested
	case !pol.ByHand && st.Current != nil && !hasToken(obs.Tokens, st.Current.ID):
		return true, CauseCurrentGone
	case p.Live == nil && pol.ByHand:
		return true, CauseExpiryUnknown
	case p.Live == nil:
		return true, CauseNoToken
	case !now.Before(p.DueAt):
		return true, CauseInWindow
	}
	return false, CauseNotDue
}

// DueAt is when a token that expires at expires becomes due: the start of
// the rotation window rotateBefore. The token is due from that instant on
// (!now.Before(DueAt(...))). The one place the window is computed: the plan,
// the Health cross-check and the daemon's expiry watch read it.
func DueAt(expires time.Time, rotateBefore time.Duration) time.Time {
	return expires.Add(-rotateBefore)
}

// createdBefore reports whether Identity Center lists both tokens and a was
// created before b.
func createdBefore(ts []TokenInfo, a, b string) bool {
	var ta, tb *TokenInfo
	for i := range ts {
		switch ts[i].ID {
		case a:
			ta = &ts[i]
		case b:
			tb = &ts[i]
		}
	}
	return ta != nil && tb != nil && ta.Created.Before(tb.Created)
}

func hasToken(ts []TokenInfo, id string) bool {
	return slices.ContainsFunc(ts, func(t TokenInfo) bool { return t.ID == id })
}

// DaysLeft is the whole number of days until t.
func DaysLeft(t, now time.Time) int {
	return int(t.Sub(now).Hours() / 24)
}
