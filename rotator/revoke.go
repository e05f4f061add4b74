package rotator

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
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

// leakSuspects looks up who still uses the old token: the clients (user
// agent and address) that used it from quietPeriod before the first target
// was switched and have not been seen with the new token since, which every
// target's client has been (its confirmation, or proof of use). That is a
// forgotten consumer or whoever holds the leak. Calls of the last
// deliveryDelay may not be visible yet; they are reported after the
// deletion as RevokedTokenUsed. src is the run's reader (nil: no usage
// source).
func (r *Rotator) leakSuspects(ctx context.Context, src *usageReader, rot *rotation) suspects {
	if src == nil {
		return suspects{}
	}
	first, _ := switchTimes(rot)
	from := first.Add(-r.UsagePolicy.orDefaults().QuietPeriod)
	var out suspects
	_ = r.step(ctx, "suspects", "", "look up who still uses the old token "+rot.oldID+" (it is deleted anyway)", func() error {
		uses, err := src.Uses(ctx, from, r.Clock.Now())
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
		parts[i] = fmt.Sprintf("%q from %s, last at %s (%s)", c.UserAgent, orUnknown(c.SourceIP), stamp(c.Last), callCount(c.Calls))
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
