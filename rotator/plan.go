package rotator

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Observed is everything the plan is decided from.
type Observed struct {
	// Tokens are the issuer's tokens; ignored when Manual.
	Tokens []TokenInfo
	// Manual is true for the manual issuer: tokens cannot be listed, created
	// or deleted here, and the store's records are all that is known.
	Manual bool
	Store  StoreState
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
	// ActionBlocked: rotating now could delete a live token; a human decides.
	ActionBlocked Action = "Blocked"
)

// Plan is the decision of one run. It is computed without side effects and
// printed by --dry-run.
type Plan struct {
	Action  Action
	Reason  Reason
	Message string
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
	// Steps describe what the run will do, for humans.
	Steps []string
}

// Deletion is a token the plan deletes and the proof that nobody uses it.
type Deletion struct {
	ID  string
	Why string
}

// Decide is the pure decision of what a run should do, given what was
// observed, what the operator asked and the current time.
//
// Decision table (first match wins):
//
//	store has a pending version          -> Resume (or Wait while a hand-off waits without --continue)
//	last rotation promoted, old token left -> Finish: delete the old token
//	manual issuer, due or --now          -> Wait: a human generates and stages a token
//	live token not due and no --now      -> None (NotDue)
//	two tokens and neither provably unused -> Blocked (names both)
//	otherwise                            -> Start (delete unused tokens to make room first)
//
// A token is provably unused when it has expired, when the store records
// another token as current, or when a killed run created it and never stored
// its value (an orphan). The live token is never deleted.
func Decide(obs Observed, pol Policy, now time.Time) Plan {
	st := obs.Store
	p := Plan{}
	p.Live, p.LiveKnown = liveToken(obs, now)
	if p.Live != nil {
		p.DueAt = p.Live.Expires.Add(-pol.RotateBefore)
	}

	if st.Pending != nil {
		return decidePending(obs, pol, now, p)
	}

	// The last rotation's token is current (promoted, even if the run was
	// stopped before it could record so) but its old token is still there.
	if pr := st.Progress; pr != nil && pr.Phase != PhaseDone && !obs.Manual && st.Current != nil &&
		st.Current.ID == pr.NewTokenID && pr.OldTokenID != "" && pr.OldTokenID != st.Current.ID && hasToken(obs.Tokens, pr.OldTokenID) {
		p.Action, p.Reason = ActionFinish, ReasonRotated
		p.OldTokenID = pr.OldTokenID
		p.Message = fmt.Sprintf("rotation %s was promoted; its old token %s is left to delete", pr.RotationID, pr.OldTokenID)
		p.Steps = []string{fmt.Sprintf("delete old Identity Center token %s (replaced by current %s)", pr.OldTokenID, st.Current.ID)}
		return p
	}

	due, why := isDue(obs, pol, now, p)
	if !due {
		p.Action, p.Reason = ActionNone, ReasonNotDue
		p.Message = why
		return p
	}

	if obs.Manual {
		p.Action, p.Reason = ActionWait, ReasonAwaitingToken
		p.Message = why + "; generate a new token in the IAM Identity Center console and stage it with `scim-rotator stage --token-file FILE`"
		if p.Live != nil {
			p.OldTokenID = p.Live.ID
		}
		return p
	}

	return decideStart(obs, now, p, why)
}

func decidePending(obs Observed, pol Policy, now time.Time, p Plan) Plan {
	st := obs.Store
	pr := st.Progress
	p.Action, p.Reason = ActionResume, ""
	if pr != nil {
		p.OldTokenID = pr.OldTokenID
	}
	if pr != nil && pr.Phase == PhaseAwaitingHandoff && !pol.Continue {
		p.Action, p.Reason = ActionWait, ReasonAwaitingHandoff
		p.Message = "rotation " + pr.RotationID + " waits for a human to finish a hand-off; then run `scim-rotator rotate --continue`"
		if !pr.HandoffSince.IsZero() && pol.HandoffTimeout > 0 && now.Sub(pr.HandoffSince) > pol.HandoffTimeout {
			p.Reason = ReasonFailed
			p.Message = fmt.Sprintf("rotation %s has waited for a hand-off since %s, longer than confirmTimeout (%s); nothing was deleted: finish the hand-off and run `scim-rotator rotate --continue`",
				pr.RotationID, pr.HandoffSince.UTC().Format(time.RFC3339), pol.HandoffTimeout)
		}
		return p
	}
	id := st.Pending.VersionID
	p.Message = fmt.Sprintf("rotation %s is in progress (new token %s); resuming it", id, st.Pending.ID)
	p.Steps = append(p.Steps,
		fmt.Sprintf("prove pending token %s against the SCIM endpoint", st.Pending.ID),
		"for each target not yet confirmed: validate, push, test, confirm a sync",
		fmt.Sprintf("promote pending version %s to AWSCURRENT", id))
	if p.OldTokenID != "" && p.OldTokenID != st.Pending.ID {
		p.Steps = append(p.Steps, deleteStep(obs.Manual, p.OldTokenID))
	}
	return p
}

func decideStart(obs Observed, now time.Time, p Plan, why string) Plan {
	st := obs.Store
	p.Action, p.Reason = ActionStart, ""
	p.Message = why

	var orphanSet map[string]bool
	if pr := st.Progress; pr != nil && pr.Phase == PhaseCreating {
		orphanSet = map[string]bool{}
		for _, t := range obs.Tokens {
			if !slices.Contains(pr.PreexistingTokenIDs, t.ID) {
				orphanSet[t.ID] = true
				p.Orphans = append(p.Orphans, t.ID)
			}
		}
	}

	// Which tokens may go. Orphans go whatever the count: nobody can hold them.
	var keep []TokenInfo
	for _, t := range obs.Tokens {
		switch {
		case orphanSet[t.ID]:
			p.Delete = append(p.Delete, Deletion{ID: t.ID, Why: "created by a run that was stopped before it stored the value; nobody can hold it"})
		default:
			keep = append(keep, t)
		}
	}
	// Make room: at most two tokens may exist, so at most one may remain.
	for len(keep) >= 2 {
		i, why := unusedToken(keep, st, now)
		if i < 0 {
			ids := make([]string, len(keep))
			for j, t := range keep {
				ids[j] = fmt.Sprintf("%s (expires %s)", t.ID, t.Expires.UTC().Format("2006-01-02"))
			}
			p.Action, p.Reason = ActionBlocked, ReasonBlocked
			p.Delete = nil
			p.Message = fmt.Sprintf("rotation is due but Identity Center already holds two tokens, %s, and the store records neither as the live one, so deleting either could stop provisioning. "+
				"Record the token your IdP uses with `scim-rotator stage --current --token-id ID --token-file FILE` (the other is then deleted to make room), "+
				"or delete the unused one in the IAM Identity Center console", strings.Join(ids, " and "))
			return p
		}
		p.Delete = append(p.Delete, Deletion{ID: keep[i].ID, Why: why})
		keep = slices.Delete(keep, i, i+1)
	}
	if len(keep) == 1 {
		p.OldTokenID = keep[0].ID
	}

	for _, d := range p.Delete {
		p.Steps = append(p.Steps, fmt.Sprintf("delete Identity Center token %s: %s", d.ID, d.Why))
	}
	p.Steps = append(p.Steps,
		"create a new Identity Center token and store it as AWSPENDING before anything else",
		"prove the new token against the SCIM endpoint",
		"for each target: validate, push, test, confirm a sync",
		"promote the pending version to AWSCURRENT (AWSPREVIOUS follows the old one)")
	if p.OldTokenID != "" {
		p.Steps = append(p.Steps, deleteStep(false, p.OldTokenID))
	}
	return p
}

func deleteStep(manual bool, id string) string {
	if manual {
		return fmt.Sprintf("tell the operator to delete old token %s in the console", id)
	}
	return fmt.Sprintf("delete old Identity Center token %s", id)
}

// unusedToken picks a token among keep that provably nobody uses: expired
// first, then one that is not the token recorded as current.
func unusedToken(keep []TokenInfo, st StoreState, now time.Time) (int, string) {
	for i, t := range keep {
		if !t.Expires.After(now) {
			return i, "expired " + t.Expires.UTC().Format(time.RFC3339)
		}
	}
	if st.Current != nil && hasToken(keep, st.Current.ID) {
		for i, t := range keep {
			if t.ID != st.Current.ID {
				return i, fmt.Sprintf("not the live token (the store records %s as current)", st.Current.ID)
			}
		}
	}
	return -1, ""
}

// liveToken is the token provisioning depends on: the one recorded as
// current if the issuer still has it; with no record, the one that expires
// first (every token counts as possibly live).
func liveToken(obs Observed, now time.Time) (*TokenInfo, bool) {
	st := obs.Store
	if obs.Manual {
		if st.Current != nil {
			t := st.Current.TokenInfo
			return &t, true
		}
		return nil, false
	}
	if st.Current != nil {
		for _, t := range obs.Tokens {
			if t.ID == st.Current.ID {
				t := t
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

func isDue(obs Observed, pol Policy, now time.Time, p Plan) (bool, string) {
	st := obs.Store
	switch {
	case pol.Now:
		return true, "rotation requested with --now"
	case !obs.Manual && st.Current != nil && !hasToken(obs.Tokens, st.Current.ID):
		return true, fmt.Sprintf("the token recorded as current (%s) no longer exists in Identity Center", st.Current.ID)
	case p.Live == nil && obs.Manual:
		return true, "no token is recorded as current, so its expiry is unknown"
	case p.Live == nil:
		return true, "Identity Center holds no token"
	case !now.Before(p.DueAt):
		return true, fmt.Sprintf("the live token %s expires %s (in %s), within rotateBefore (%s)",
			p.Live.ID, p.Live.Expires.UTC().Format(time.RFC3339), HumanDuration(p.Live.Expires.Sub(now)), pol.RotateBefore)
	}
	return false, fmt.Sprintf("not due: the live token %s expires %s (in %s); rotation starts %s",
		p.Live.ID, p.Live.Expires.UTC().Format(time.RFC3339), HumanDuration(p.Live.Expires.Sub(now)), p.DueAt.UTC().Format(time.RFC3339))
}

func hasToken(ts []TokenInfo, id string) bool {
	for _, t := range ts {
		if t.ID == id {
			return true
		}
	}
	return false
}

// HumanDuration prints a duration in days (or hours under two days).
func HumanDuration(d time.Duration) string {
	if d < 0 {
		return "expired " + HumanDuration(-d) + " ago"
	}
	if d < 48*time.Hour {
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// DaysLeft is the whole number of days until t.
func DaysLeft(t, now time.Time) int {
	return int(t.Sub(now).Hours() / 24)
}
