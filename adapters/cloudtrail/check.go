package cloudtrail

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/scim-rotator/scim-rotator/rotator"
)

const (
	system = "cloudtrail"
	// recent is the window Check and Status look at, newest first: Check
	// until every listed token is seen or rotator.UsagePages pages,
	// Status a page.
	recent = 24 * time.Hour
)

// tokenUse sums up one token's recent calls.
type tokenUse struct {
	id string
	// last is the last successful call by anything but scim-rotator.
	last rotator.Use
	// calls counts every recorded call; own counts scim-rotator's; failed
	// counts refused ones.
	calls, own, failed int
}

func summarize(uses []rotator.Use) map[string]*tokenUse {
	out := map[string]*tokenUse{}
	for _, u := range uses {
		t := out[u.TokenID]
		if t == nil {
			t = &tokenUse{id: u.TokenID}
			out[u.TokenID] = t
		}
		t.calls++
		switch {
		case u.ErrorCode != "":
			t.failed++
		case strings.HasPrefix(u.UserAgent, rotator.UserAgentPrefix):
			t.own++
		case !u.Time.Before(t.last.Time):
			t.last = u
		}
	}
	return out
}

func (t *tokenUse) describe(span string) string {
	var b strings.Builder
	if t.last.Time.IsZero() {
		b.WriteString("no successful call by anything but scim-rotator")
	} else {
		fmt.Fprintf(&b, "last used %s", t.last.Time.UTC().Format(time.RFC3339))
		if t.last.UserAgent != "" {
			fmt.Fprintf(&b, " by %q", t.last.UserAgent)
		}
		if t.last.SourceIP != "" {
			fmt.Fprintf(&b, " from %s", t.last.SourceIP)
		}
	}
	fmt.Fprintf(&b, "; %d calls %s", t.calls, span)
	if t.own > 0 || t.failed > 0 {
		fmt.Fprintf(&b, " (%d by scim-rotator, %d refused)", t.own, t.failed)
	}
	return b.String()
}

// Check reads the last 24 hours newest first, until every listed token has
// been seen in a successful call or the page budget (rotator.UsagePages),
// and verifies the inference of inferred.go against the listed tokens.
func (s *Source) Check(ctx context.Context) []rotator.CheckResult {
	now := s.clock.Now()
	res := func(name string, level rotator.Level, detail, fix string) rotator.CheckResult {
		return rotator.CheckResult{System: system, Name: name, Level: level, Detail: detail, Fix: fix}
	}
	var tokens []rotator.TokenInfo
	tokensErr := errors.New("no token lister")
	if s.tokens != nil {
		tokens, tokensErr = s.tokens(ctx)
	}
	l, err := s.read(ctx, now.Add(-recent), now, rotator.UsagePages, allSeen(tokens))
	if err != nil {
		fix := "check the network path to CloudTrail in " + s.region + " (usage.endpoint, usage.region) and run check again"
		if errors.Is(err, ErrAccessDenied) {
			fix = "add the IAM statement " + IAMStatement + " to scim-rotator's role"
		}
		return []rotator.CheckResult{res("LookupEvents", rotator.LevelFail, err.Error(), fix)}
	}
	span := spanWords(l)
	out := []rotator.CheckResult{res("LookupEvents", rotator.LevelOK,
		fmt.Sprintf("read %d SCIM calls %s in %s%s", len(l.uses), span, s.region, skippedNote(l)), "")}
	if len(l.uses) == 0 {
		return append(out, res("token ids", rotator.LevelWarn,
			"no SCIM call was recorded "+span+": nothing to verify the token ids against, and proof of use waits until the identity provider syncs",
			"configure a canary for each target (entra.canary, okta.canaryUserId) so that a rotation makes a SCIM call; tokens created before September 2024 must be rotated once before their calls appear"))
	}
	if s.tokens == nil {
		return out
	}
	if tokensErr != nil {
		level, fix := rotator.LevelFail, "fix the identityCenter checks above"
		if errors.Is(tokensErr, rotator.ErrManual) {
			level, fix = rotator.LevelWarn, "compare the token ids in `scim-rotator status` with those in the IAM Identity Center console"
		}
		return append(out, res("token ids", level, "cannot list the tokens to verify CloudTrail's accessKeyId: "+tokensErr.Error(), fix))
	}
	return append(out, verifyIDs(summarize(l.uses), tokens, span, res))
}

// allSeen stops a read once every token has been seen in a successful
// call (never without tokens).
func allSeen(tokens []rotator.TokenInfo) func([]rotator.Use) bool {
	seen := map[string]bool{}
	return func(page []rotator.Use) bool {
		for _, u := range page {
			if u.ErrorCode == "" {
				seen[u.TokenID] = true
			}
		}
		for _, t := range tokens {
			if !seen[t.ID] {
				return false
			}
		}
		return len(tokens) > 0
	}
}

// spanWords says what a read covered: "of the last 24 h", or, when it
// stopped early, "since <the oldest event read> (the latest N events)".
func spanWords(l lookup) string {
	if l.complete {
		return "of the last 24 h"
	}
	return fmt.Sprintf("since %s (the latest %d events)", l.oldest.UTC().Format(time.RFC3339), l.events)
}

// verifyIDs compares the token ids of successful recent calls with the
// listed ones. A successful call must have been authenticated by a token
// that existed then; one that matches no listed token is either a token
// deleted since (possible when others match) or proof that the inference
// is wrong here (when none match).
func verifyIDs(seen map[string]*tokenUse, tokens []rotator.TokenInfo, span string, res func(string, rotator.Level, string, string) rotator.CheckResult) rotator.CheckResult {
	listed := map[string]bool{}
	for _, t := range tokens {
		listed[t.ID] = true
	}
	var matched, unmatched, inUse []string
	for _, id := range sortedIDs(seen) {
		t := seen[id]
		if t.calls == t.failed {
			continue // refused calls only: a deleted or expired token
		}
		if !listed[id] {
			unmatched = append(unmatched, id)
			continue
		}
		matched = append(matched, id)
		if !t.last.Time.IsZero() {
			inUse = append(inUse, id+": "+t.describe(span))
		}
	}
	switch {
	case len(unmatched) > 0 && len(matched) == 0:
		return res("token ids", rotator.LevelFail,
			fmt.Sprintf("successful SCIM calls %s carry accessKeyId %s, which matches none of the tokens Identity Center lists (%s): usage.source cloudtrail cannot prove use in this account", span, strings.Join(unmatched, ", "), idList(tokens)),
			inferenceFix)
	case len(unmatched) > 0:
		return res("token ids", rotator.LevelWarn,
			fmt.Sprintf("successful SCIM calls %s carry accessKeyId %s, which no listed token has (a token deleted since?); the others match", span, strings.Join(unmatched, ", ")),
			"if no token was deleted in the last 24 hours, "+inferenceFix)
	case len(matched) == 0:
		return res("token ids", rotator.LevelWarn, "the SCIM calls read ("+span+") were all refused: nothing to verify the token ids against",
			"configure a canary for each target so that a rotation makes a SCIM call")
	case len(inUse) == 0:
		return res("token ids", rotator.LevelOK,
			"the accessKeyId of every recent SCIM call is a listed token; only scim-rotator's own calls were seen ("+strings.Join(matched, ", ")+")", "")
	}
	return res("token ids", rotator.LevelOK, "seen in use: "+strings.Join(inUse, "; "), "")
}

// Status reads the latest page of SCIM calls (each token's last use is in
// the report's tokens, from the core's own newest-first read): how many
// calls, since when, which tokens. A count over a fixed window would need
// the whole window read: `status --usage-window 24h` asks the core for it.
func (s *Source) Status(ctx context.Context) (rotator.SystemStatus, error) {
	st := rotator.SystemStatus{System: system}
	now := s.clock.Now()
	l, err := s.read(ctx, now.Add(-recent), now, 1, nil)
	if err != nil {
		return st, err
	}
	seen := summarize(l.uses)
	add := func(k string, v any) { st.Fields = append(st.Fields, rotator.Field{Key: k, Value: v}) }
	since := now.Add(-recent)
	if !l.complete {
		since = l.oldest
	}
	add("latestScimCalls", len(l.uses))
	add("latestSince", since.UTC())
	ids := sortedIDs(seen)
	if ids == nil {
		ids = []string{}
	}
	add("latestTokensSeen", ids)
	add("latestUnreadableEvents", l.skipped)
	return st, nil
}

func sortedIDs(m map[string]*tokenUse) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func idList(tokens []rotator.TokenInfo) string {
	if len(tokens) == 0 {
		return "none"
	}
	ids := make([]string, len(tokens))
	for i, t := range tokens {
		ids[i] = t.ID
	}
	return strings.Join(ids, ", ")
}

func skippedNote(l lookup) string {
	if l.skipped == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d unreadable events skipped)", l.skipped)
}
