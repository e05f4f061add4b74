package rotator

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
)

// An emergency rotation (`rotate --now --revoke-old`, a suspected leak) is
// the same rotation with R2 replaced: once every target is confirmed on the
// new token and CloudTrail shows it in use (R1, before promotion), the old
// token is deleted at once, without waiting for quietPeriod. Whoever still
// uses it at that moment (by anything but the product, after the last
// target switched: not a target) is named as a probable user of the leak;
// the deletion happens anyway, that is the point.
//
// The rotation is marked in its progress (RevokeOld, RequestedBy) before
// anything is deleted, so a run that is stopped and resumed by a later one
// stays a revoke-old rotation. After the deletion the progress keeps a
// Revocation: every run with nothing else to do looks for SCIM calls made
// with the deleted token since (RevokedTokenUsed), each alerted once at the
// cost of one store write per alert.
//
// A call with a deleted token is refused. It is matched by its token id
// (INFERRED: that CloudTrail still records a deleted token's id as
// accessKeyId on refused calls; AWS documents no refused SCIM event) or,
// when the event carries no id, by the client that used the token when it
// was deleted (its user agent and address): a probable, not a certain, use.

// maxSuspects bounds the clients a revocation records.
const maxSuspects = 5

// revokedLookback bounds how far back a run looks for calls with a deleted
// token: a lookup reads every SCIM event of the window, and runs come every
// few hours. Calls older than this that no run saw are not reported.
const revokedLookback = 24 * time.Hour

// suspects is who still used a revoke-old rotation's old token when it was
// deleted, or why that could not be looked up.
type suspects struct {
	clients []ClientUse
	err     error
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
		return x.awaitOldQuiet(ctx, rot)
	}
	x.suspects = x.leakSuspects(ctx, rot)
	return nil, nil
}

// leakSuspects looks up who still uses the old token: the clients (user
// agent and address) that used it from quietPeriod before the first target
// was switched and have not been seen with the new token since, which every
// target's client has been (its confirmation, or proof of use). That is a
// forgotten consumer or whoever holds the leak. Calls of the last
// deliveryDelay may not be visible yet; they are reported after the
// deletion as RevokedTokenUsed.
func (x *exec) leakSuspects(ctx context.Context, rot *rotation) suspects {
	r := x.r
	if r.Usage == nil {
		return suspects{}
	}
	first, _ := switchTimes(rot)
	from := first.Add(-r.UsagePolicy.orDefaults().QuietPeriod)
	var out suspects
	_ = r.step(ctx, "suspects", "", "look up who still uses the old token "+rot.oldID+" (it is deleted anyway)", func() error {
		uses, err := r.Usage.Uses(ctx, from, r.Clock.Now())
		if err != nil {
			out.err = err
			return err
		}
		sum := summarize(uses, from)
		moved := func(c ClientUse) bool {
			n := sum[rot.newRec.ID]
			return n != nil && slices.ContainsFunc(n.Clients, func(m ClientUse) bool { return m.UserAgent == c.UserAgent && m.SourceIP == c.SourceIP })
		}
		if u := sum[rot.oldID]; u != nil {
			for _, c := range u.Clients { // the latest first
				if !moved(c) && len(out.clients) < maxSuspects {
					out.clients = append(out.clients, c)
				}
			}
		}
		return nil
	})
	return out
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

// maxRecent bounds the calls a revocation remembers as alerted; past it a
// call may be alerted twice, never missed.
const maxRecent = 20

// notIn is calls less those in seen, counted as a multiset (CloudTrail's
// times are seconds: two calls may look alike).
func notIn(calls, seen []Use) []Use {
	left := map[Use]int{}
	for _, u := range seen {
		left[u]++
	}
	var out []Use
	for _, u := range calls {
		if left[u] > 0 {
			left[u]--
			continue
		}
		out = append(out, u)
	}
	return out
}

// revokedCalls picks, of uses (oldest first), the calls made with the
// revoked token after its deletion: its id, or a refused call without an
// id from a client that used it when it was deleted.
func revokedCalls(uses []Use, rev Revocation) []Use {
	at := rev.DeletedAt.Truncate(time.Second)
	var out []Use
	for _, u := range uses {
		if strings.HasPrefix(u.UserAgent, UserAgentPrefix) || u.Time.Before(at) {
			continue
		}
		switch {
		case u.TokenID == rev.TokenID:
			if u.ErrorCode == "" && !u.Time.After(at) {
				continue // accepted in the second of the deletion: before it
			}
		case u.TokenID == "" && u.ErrorCode != "" && slices.ContainsFunc(rev.Suspects, func(c ClientUse) bool {
			return c.UserAgent == u.UserAgent && c.SourceIP == u.SourceIP
		}):
		default:
			continue
		}
		out = append(out, u)
	}
	return out
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// markEmergency says in every alert of a revoke-old rotation that it is one
// and who asked for it.
func markEmergency(ev *Event, res Result) {
	pr := res.Progress
	if pr == nil || !pr.RevokeOld {
		return
	}
	switch res.Outcome {
	case ReasonNotDue, ReasonDryRun, ReasonRevokedTokenUsed, ReasonBusy:
		return
	}
	ev.Message = fmt.Sprintf("Emergency rotation (rotate --now --revoke-old) requested by %s. %s", orUnknown(pr.RequestedBy), ev.Message)
}

func clientWords(cs []ClientUse) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%q from %s, last at %s (%d calls)", c.UserAgent, orUnknown(c.SourceIP), stamp(c.Last), c.Calls)
	}
	return strings.Join(parts, "; ")
}

func msgRevokedUsed(rev Revocation, calls []Use, requestedBy string) string {
	// One line per client (user agent, address, how it was matched), in the
	// order they first called.
	type group struct {
		ua, ip, how, answer string
		n                   int
		last                time.Time
	}
	var groups []*group
	for _, u := range calls {
		how := "its token id"
		if u.TokenID == "" {
			how = "the client that used it when it was deleted (CloudTrail records no token id)"
		}
		answer := "accepted"
		if u.ErrorCode != "" {
			answer = "refused: " + u.ErrorCode
		}
		i := slices.IndexFunc(groups, func(g *group) bool { return g.ua == u.UserAgent && g.ip == u.SourceIP && g.how == how })
		if i < 0 {
			groups = append(groups, &group{ua: u.UserAgent, ip: u.SourceIP, how: how})
			i = len(groups) - 1
		}
		g := groups[i]
		g.n++
		g.last, g.answer = u.Time, answer
	}
	parts := make([]string, len(groups))
	for i, g := range groups {
		parts[i] = fmt.Sprintf("%q from %s, %d call(s), the last at %s (%s; matched by %s)", g.ua, orUnknown(g.ip), g.n, stamp(g.last), g.answer, g.how)
	}
	return fmt.Sprintf("%d SCIM call(s) with the token %s that an emergency rotation (requested by %s) deleted at %s: %s. Whoever made them still holds the deleted token: a forgotten consumer, or the leak",
		len(calls), rev.TokenID, orUnknown(requestedBy), stamp(rev.DeletedAt), strings.Join(parts, "; "))
}

// RevokedStatus is a token deleted by a revoke-old rotation, as `status`
// shows it.
type RevokedStatus struct {
	TokenID     string    `json:"tokenId"`
	DeletedAt   time.Time `json:"deletedAt"`
	RequestedBy string    `json:"requestedBy,omitempty"`
	// Suspects still used it when it was deleted.
	Suspects []ClientUse `json:"suspects"`
	// Calls are the SCIM calls made with it after its deletion in the last
	// 24 hours, oldest first (RevokedTokenUsed).
	Calls []Use `json:"calls"`
	// Alerted counts the calls alerted so far.
	Alerted int `json:"alerted"`
}

// revokedStatus describes the last rotation's revocation; uses are the SCIM
// calls of the last 24 hours (nil: not looked up).
func revokedStatus(pr *Progress, uses []Use) *RevokedStatus {
	if pr == nil || pr.Revoked == nil {
		return nil
	}
	rev := *pr.Revoked
	st := &RevokedStatus{TokenID: rev.TokenID, DeletedAt: rev.DeletedAt, RequestedBy: pr.RequestedBy,
		Suspects: append([]ClientUse{}, rev.Suspects...), Alerted: rev.Calls, Calls: []Use{}}
	st.Calls = append(st.Calls, revokedCalls(uses, rev)...)
	return st
}
