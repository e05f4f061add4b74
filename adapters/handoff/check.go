package handoff

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/scim-rotator/scim-rotator/rotator"
)

// recent is the window check and status read from CloudTrail, newest
// first, at most rotator.UsagePages pages: they stop once they have seen
// what they report on.
const recent = 24 * time.Hour

// clientSeen is one user agent's last successful SCIM call.
type clientSeen struct {
	last  rotator.Use
	calls int
}

// counts reports whether u is a successful call by this target's client:
// the configured user agent's, or any but the product's.
func (t *Target) counts(u rotator.Use) bool {
	return u.ErrorCode == "" && !strings.HasPrefix(u.UserAgent, rotator.UserAgentPrefix) &&
		(t.cfg.UserAgent == "" || strings.Contains(u.UserAgent, t.cfg.UserAgent))
}

// lastClients reads the SCIM calls of the last 24 hours newest first and
// returns, latest first, each user agent's last successful call (this
// client's only, when userAgent is set), every user agent seen, and what
// was read ("the last 24 hours", or "the last N events, since T"). It stops
// once it has seen this client (with userAgent) or two clients (without:
// enough to warn that several call), or at rotator.UsagePages pages.
func (t *Target) lastClients(ctx context.Context) (mine []clientSeen, agents []string, span string, err error) {
	now := t.clock.Now()
	by := map[string]*clientSeen{}
	seen := map[string]bool{} // the read's stop: clients seen so far
	read, err := t.usage.Latest(ctx, rotator.UsageQuery{From: now.Add(-recent), To: now, Pages: rotator.UsagePages,
		Enough: func(page []rotator.Use) bool {
			for _, u := range page {
				if t.counts(u) {
					seen[u.UserAgent] = true
				}
			}
			return len(seen) > 1 || t.cfg.UserAgent != "" && len(seen) > 0
		}})
	if err != nil {
		return nil, nil, "", err
	}
	add := func(u rotator.Use) {
		if u.ErrorCode != "" || strings.HasPrefix(u.UserAgent, rotator.UserAgentPrefix) {
			return
		}
		if !slices.Contains(agents, u.UserAgent) {
			agents = append(agents, u.UserAgent)
		}
		if t.cfg.UserAgent != "" && !strings.Contains(u.UserAgent, t.cfg.UserAgent) {
			return
		}
		c := by[u.UserAgent]
		if c == nil {
			c = &clientSeen{}
			by[u.UserAgent] = c
		}
		c.calls++
		if !u.Time.Before(c.last.Time) {
			c.last = u
		}
	}
	for _, u := range read.Uses {
		add(u)
	}
	for _, c := range by {
		mine = append(mine, *c)
	}
	slices.SortFunc(mine, func(a, b clientSeen) int { return b.last.Time.Compare(a.last.Time) })
	slices.Sort(agents)
	span = "the last 24 hours"
	if !read.Complete {
		span = fmt.Sprintf("the last %d events, since %s", read.Events, stamp(read.Since))
	}
	return mine, agents, span, nil
}

func (c clientSeen) words() string {
	return fmt.Sprintf("%q from %s at %s with token %s (%d calls read)", c.last.UserAgent, orUnknown(c.last.SourceIP), stamp(c.last.Time), c.last.TokenID, c.calls)
}

// Check says how the target is confirmed and shows the client CloudTrail
// saw last (user agent, address, time).
func (t *Target) Check(ctx context.Context) []rotator.CheckResult {
	res := func(name string, level rotator.Level, detail, fix string) rotator.CheckResult {
		return rotator.CheckResult{System: System, Target: t.name, Name: name, Level: level, Detail: detail, Fix: fix}
	}
	who := "any client but scim-rotator (no userAgent set)"
	if t.cfg.UserAgent != "" {
		who = fmt.Sprintf("the client whose user agent contains %q", t.cfg.UserAgent)
	}
	out := []rotator.CheckResult{res("hand-off", rotator.LevelOK,
		fmt.Sprintf("each rotation asks a human to paste the token (%s); every later run confirms it once CloudTrail shows %s calling with the new token and no longer with the old one", t.cfg.Instructions, who), "")}
	mine, agents, span, err := t.lastClients(ctx)
	switch {
	case err != nil:
		return append(out, res("last seen client", rotator.LevelFail, "cannot read CloudTrail: "+err.Error(),
			"fix the cloudtrail checks: without CloudTrail a handoff target is never confirmed"))
	case len(mine) == 0 && t.cfg.UserAgent != "":
		seen := "none"
		if len(agents) > 0 {
			seen = quoteAll(agents)
		}
		return append(out, res("last seen client", rotator.LevelWarn,
			fmt.Sprintf("no successful SCIM call from a user agent containing %q in %s (user agents seen: %s)", t.cfg.UserAgent, span, seen),
			"set userAgent to a part of the client's user agent as listed, or make the client sync; until it calls, a rotation waits for it"))
	case len(mine) == 0:
		return append(out, res("last seen client", rotator.LevelWarn, "no successful SCIM call by any client in "+span,
			"make the client sync, then run check again: it shows the client's user agent, to set as userAgent"))
	}
	parts := make([]string, 0, min(len(mine), 5))
	for _, c := range mine[:min(len(mine), 5)] {
		parts = append(parts, c.words())
	}
	if t.cfg.UserAgent == "" && len(mine) > 1 {
		return append(out, res("last seen client", rotator.LevelWarn, "several clients call the SCIM endpoint: "+strings.Join(parts, "; "),
			"set userAgent to a part of this client's user agent, so that only its calls can confirm this target"))
	}
	return append(out, res("last seen client", rotator.LevelOK, "last seen: "+strings.Join(parts, "; "), ""))
}

// Status shows the configuration and the client CloudTrail saw last.
func (t *Target) Status(ctx context.Context) (rotator.SystemStatus, error) {
	st := rotator.SystemStatus{System: System, Target: t.name}
	add := func(k string, v any) { st.Fields = append(st.Fields, rotator.Field{Key: k, Value: v}) }
	add("instructions", t.cfg.Instructions)
	add("consoleUrl", nilIfEmpty(t.cfg.ConsoleURL))
	add("userAgent", nilIfEmpty(t.cfg.UserAgent))
	mine, _, _, err := t.lastClients(ctx)
	if err != nil {
		return st, err
	}
	var last clientSeen
	if len(mine) > 0 {
		last = mine[0]
	}
	add("lastClientUserAgent", nilIfEmpty(last.last.UserAgent))
	add("lastClientAddress", nilIfEmpty(last.last.SourceIP))
	add("lastClientSeen", last.last.Time)
	add("lastClientTokenId", nilIfEmpty(last.last.TokenID))
	return st, nil
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
