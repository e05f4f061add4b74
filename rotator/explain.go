package rotator

import (
	"fmt"
	"strings"
	"time"
)

// This file holds the words: what a plan means and what a run did, for
// humans (CLI, logs, Slack). Nothing here decides anything.

const stageCurrentCmd = "scim-rotator stage --current --token-id ID --token-file FILE"

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// callCount is n calls in words: "1 call", "3 calls".
func callCount(n int) string {
	if n == 1 {
		return "1 call"
	}
	return fmt.Sprintf("%d calls", n)
}

// inDays says when t is, counted in whole days from now (DaysLeft), the one
// day count used everywhere.
func inDays(t, now time.Time) string {
	switch d := DaysLeft(t, now); {
	case t.Before(now):
		return "already expired"
	case d == 1:
		return "in 1 day"
	default:
		return fmt.Sprintf("in %d days", d)
	}
}

// Message is the plan in one sentence, made from the decision, its evidence
// and the policy it was decided under.
func (p Plan) Message() string {
	m := p.why()
	if p.RevokeOld && (p.Action == ActionStart || p.Action == ActionResume || p.Action == ActionFinish) {
		m += "; emergency rotation (--revoke-old): the old token is deleted as soon as every target is confirmed on the new token and CloudTrail shows the new one in use, without waiting for quietPeriod"
	}
	return m
}

func (p Plan) why() string {
	live := func() string {
		return fmt.Sprintf("the live token %s expires %s (%s)", p.Live.ID, stamp(p.Live.Expires), inDays(p.Live.Expires, p.Now))
	}
	switch p.Cause {
	case CauseUntrustedRecord:
		parts := make([]string, len(p.Distrust))
		for i, d := range p.Distrust {
			parts[i] = d.words()
		}
		return "the store's record cannot be trusted, so nothing was carried out or deleted: " + strings.Join(parts, "; ") +
			". Anyone who can write the store secret can plant such a record: find out who wrote it (CloudTrail PutSecretValue events on the secret), then remove its label or re-record the live token with `" + stageCurrentCmd + "`"
	case CauseRefusedPending:
		return msgRefusedPending(p.NewTokenID, p.RotationID, p.Refused)
	case CauseRefusedBoth:
		return msgRefusedBoth(p.NewTokenID, p.Refused)
	case CauseOldTokenLeft:
		return fmt.Sprintf("rotation %s was promoted; its old token %s is left to delete", p.RotationID, p.OldTokenID)
	case CauseHandoff:
		return fmt.Sprintf("rotation %s waits for a human to finish a hand-off; then run `scim-rotator rotate --continue`", p.RotationID)
	case CauseHandoffOverdue:
		return fmt.Sprintf("rotation %s has waited for a hand-off since %s, longer than confirmTimeout (%s); nothing was deleted: finish the hand-off and run `scim-rotator rotate --continue`",
			p.RotationID, stamp(p.HandoffSince), p.Policy.HandoffTimeout)
	case CauseInProgress:
		return fmt.Sprintf("rotation %s is in progress (new token %s); resuming it", p.RotationID, p.NewTokenID)
	case CauseRetryLater:
		return fmt.Sprintf("rotation %s: step %q has failed %d times in a row; it is tried again at %s (or now with `scim-rotator rotate --now`)",
			p.RotationID, p.FailingStep, alertAfterFailures, stamp(p.RetryAt))
	case CauseTwoUnrecorded:
		return p.twoUnrecorded()
	}
	var why string
	switch p.Cause {
	case CauseRequested:
		why = "rotation requested with --now"
	case CauseCurrentGone:
		why = "the token recorded as current no longer exists in Identity Center"
	case CauseExpiryUnknown:
		why = "no token is recorded as current, so its expiry is unknown"
	case CauseNoToken:
		why = "Identity Center holds no token"
	case CauseInWindow:
		why = fmt.Sprintf("%s, within rotateBefore (%s)", live(), p.Policy.RotateBefore)
	case CauseNotDue:
		return fmt.Sprintf("%s; rotation starts %s", live(), stamp(p.DueAt))
	}
	if p.Action == ActionWait && p.Reason == ReasonAwaitingToken {
		why += "; generate a new token in the IAM Identity Center console and stage it with `scim-rotator stage --token-file FILE`"
	}
	return why
}

// twoUnrecorded words CauseTwoUnrecorded: each candidate with its use.
func (p Plan) twoUnrecorded() string {
	ids := make([]string, len(p.Candidates))
	for i, t := range p.Candidates {
		ids[i] = fmt.Sprintf("%s (expires %s)", t.ID, day(t.Expires))
		if p.CandidateUse != nil {
			if u, ok := p.CandidateUse[t.ID]; ok {
				ids[i] += fmt.Sprintf(", used by %s", u.words())
			} else {
				ids[i] += ", no use in 90 days"
			}
		}
	}
	return fmt.Sprintf("rotation is due but Identity Center already holds two tokens, %s, and the store records neither as the live one, so deleting either could stop provisioning. "+
		"Record the token your IdP uses with `%s` (the other is then deleted to make room), or delete the unused one in the IAM Identity Center console",
		strings.Join(ids, " and "), stageCurrentCmd)
}

// Steps are what a run of the plan does, in order (--dry-run prints them).
func (p Plan) Steps() []string {
	var s []string
	const provesUse = "wait until CloudTrail shows a SCIM call authenticated by the new token (made by anything but scim-rotator)"
	quiet := func() string {
		return fmt.Sprintf("wait until CloudTrail shows the old token %s unused for quietPeriod", p.OldTokenID)
	}
	if p.RevokeOld {
		quiet = func() string {
			return fmt.Sprintf("--revoke-old: no quiet period; name every client still using the old token %s as a probable leak user", p.OldTokenID)
		}
	}
	switch p.Action {
	case ActionFinish:
		if p.Policy.ProofOfUse || p.RevokeOld {
			s = append(s, quiet())
		}
		return append(s, fmt.Sprintf("delete old Identity Center token %s (replaced by current %s)", p.OldTokenID, p.NewTokenID))
	case ActionResume:
		s = append(s,
			fmt.Sprintf("prove pending token %s against the SCIM endpoint", p.NewTokenID),
			"for each target not yet confirmed: validate, push, test, confirm a sync")
		if p.Policy.ProofOfUse {
			s = append(s, provesUse)
		}
		s = append(s, fmt.Sprintf("promote pending version %s to AWSCURRENT", p.RotationID))
	case ActionStart:
		for _, d := range p.Delete {
			s = append(s, fmt.Sprintf("delete Identity Center token %s: %s", d.ID, d.words()))
		}
		s = append(s,
			"create a new Identity Center token and store it as AWSPENDING before anything else",
			"prove the new token against the SCIM endpoint",
			"for each target: validate, push, test, confirm a sync")
		if p.Policy.ProofOfUse {
			s = append(s, provesUse)
		}
		s = append(s, "promote the pending version to AWSCURRENT (AWSPREVIOUS follows the old one)")
	default:
		return nil
	}
	if p.OldTokenID != "" && p.OldTokenID != p.NewTokenID {
		if p.Policy.ProofOfUse || p.RevokeOld {
			s = append(s, quiet())
		}
		s = append(s, fmt.Sprintf("delete old Identity Center token %s", p.OldTokenID))
	}
	return s
}

func (d Deletion) words() string {
	switch d.Why {
	case DeleteExpired:
		return "expired " + stamp(d.Expired)
	case DeleteNotLive:
		return fmt.Sprintf("not the live token (the store records %s as current)", d.CurrentID)
	case DeleteOrphan:
		return "created by a run that was stopped before it stored the value; nobody can hold it"
	case DeleteUnused:
		return fmt.Sprintf("CloudTrail shows no use of it in 90 days, while %s is in use", d.CurrentID)
	}
	return string(d.Why)
}

func (d Distrust) words() string {
	switch d.Check {
	case TrustRotation:
		return fmt.Sprintf("the %s record names %q where the pending version is %q", d.Record, d.Got, d.Want)
	case TrustUnknownToken:
		return fmt.Sprintf("the pending token %s is not one Identity Center lists", d.Got)
	case TrustPreexisting:
		return fmt.Sprintf("the pending token %s existed before its rotation began (or is the live token)", d.Got)
	case TrustEndpoint:
		return fmt.Sprintf("the %s record names the SCIM endpoint %s, but Identity Center's is %s", d.Record, d.Got, d.Want)
	case TrustOrphans:
		return fmt.Sprintf("the progress record of rotation %s would make every Identity Center token one nobody can hold, so deleting them would leave none", d.Got)
	}
	return string(d.Check)
}

// The executor's words.

func msgRotated(rec Record, now time.Time) string {
	return fmt.Sprintf("token %s is live and expires %s (%s)", rec.ID, stamp(rec.Expires), inDays(rec.Expires, now))
}

func msgRefusedPending(tokenID, rotationID string, err error) string {
	return fmt.Sprintf("the SCIM endpoint refuses the value recorded for pending token %s by rotation %s (%v); nothing was carried out or deleted. "+
		"Anyone who can write the store secret can plant such a record: find out who wrote it (CloudTrail PutSecretValue events on the secret), then remove its AWSPENDING label", tokenID, rotationID, err)
}

func msgNoProofOfUse(newID string, err error) string {
	return fmt.Sprintf("every target confirmed, but CloudTrail shows no SCIM call with the new token %s yet (%v); nothing was promoted or deleted, and the next run resumes the wait", newID, err)
}

func msgOldSentByTarget(target, oldID string, u *TokenUse) string {
	return fmt.Sprintf("after %s's canary was triggered, Identity Center received SCIM calls with the OLD token %s: %s. If that is %s, it still sends the old token: "+
		"was the new token saved there (pressing Test is not enough)? Otherwise that client still uses the old token. Nothing was promoted or deleted; the rotation stays in progress",
		target, oldID, u.words(), target)
}

func msgOldInUse(oldID string, u *TokenUse) string {
	if len(u.Clients) == 0 {
		return fmt.Sprintf("the new token is live, but the old token %s has not been quiet long enough to prove nobody uses it; it is kept", oldID)
	}
	return fmt.Sprintf("the new token is live on every target, but the old token %s is still in use: %s. It is kept until it goes quiet", oldID, u.words())
}

func oldInUseActions(oldID, newID string, u *TokenUse, reveal string) []string {
	acts := make([]string, 0, len(u.Clients)+2)
	for _, c := range u.Clients {
		acts = append(acts, fmt.Sprintf("Find the client %q at %s and give it the new token %s (print it with: %s)", c.UserAgent, orUnknown(c.SourceIP), newID, reveal))
	}
	return append(acts, fmt.Sprintf("Later runs check again and delete the old token %s once CloudTrail shows it unused for quietPeriod; delete it by hand only if you are sure nothing uses it", oldID))
}

func msgBusy(l LockInfo) string {
	return fmt.Sprintf("another run (%s) holds the store's lock until %s; nothing was changed", l.Owner, stamp(l.Expires))
}

func msgInterrupted(rotationID, step string, err error) string {
	if err == nil {
		return "stopped at a step boundary; the next run resumes rotation " + rotationID
	}
	return fmt.Sprintf("%s failed with an error worth retrying (%v); nothing was rolled back and the next run resumes rotation %s", step, err, rotationID)
}

func msgRolledBack(step string, cause error) string {
	return fmt.Sprintf("%s failed: %v; rolled back, every target is on the old token, which stays live", step, cause)
}

func msgStuck(step string, err error, targets []TargetProgress) string {
	return fmt.Sprintf("%s failed and rolling back was not safe (%v); both Identity Center tokens and the pending version are kept so that every target still works. Target states: %s",
		step, err, describeTargets(targets))
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
