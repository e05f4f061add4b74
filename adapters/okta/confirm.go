package okta

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/okta/okta-sdk-golang/v2/okta"
	"github.com/okta/okta-sdk-golang/v2/okta/query"
	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/internal/retry"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// System Log event types Okta documents for app provisioning.
var (
	// successTypes prove a push with outcome SUCCESS.
	successTypes = []string{
		"application.provision.user.push",
		"application.provision.user.push_profile",
		"application.provision.user.sync",
		"application.provision.group_push.pushed",
		"application.provision.group_push.updated",
		"application.provision.group_push.push_memberships",
		"application.provision.group_membership.add",
		"application.provision.group_membership.remove",
	}
	// authFailureType means the SCIM endpoint refused Okta's token.
	authFailureType = "application.integration.authentication_failure"
	// failureTypes are other integration failures: evidence, not proof.
	failureTypes = []string{
		"application.integration.general_failure",
		"application.integration.rate_limit_exceeded",
	}
	// unauthorized matches a failure reason that is a refused token, as
	// AWS's answer reads in Okta ("Error while verifying if user ... exists:
	// Unauthorized").
	unauthorized = regexp.MustCompile(`(?i)\bunauthori[sz]ed\b|\b401\b|invalid (bearer )?token`)
)

type evidenceKind int

const (
	evSuccess evidenceKind = iota
	evAuthFailure
	evFailure
)

// evidence is one observation after the token change.
type evidence struct {
	At     time.Time
	Kind   evidenceKind
	Detail string
	// Canary: the canary app user's sync state, not a System Log event.
	Canary bool
}

// verdict is what the evidence so far says.
type verdict struct {
	Confirmed, Rejected bool
	// Detail describes the deciding evidence (or, undecided, the last failure).
	Detail string
	// Canary: the deciding evidence is the canary's sync.
	Canary bool
}

// judge decides from the evidence since the change: the latest of the last
// success and the last authentication failure wins (a tie counts as a
// failure). Other failures decide nothing; they are reported on timeout.
func judge(evs []evidence) verdict {
	var lastOK, lastAuth, lastFail *evidence
	for i := range evs {
		e := &evs[i]
		switch e.Kind {
		case evSuccess:
			if lastOK == nil || !e.At.Before(lastOK.At) {
				lastOK = e
			}
		case evAuthFailure:
			if lastAuth == nil || !e.At.Before(lastAuth.At) {
				lastAuth = e
			}
		case evFailure:
			if lastFail == nil || !e.At.Before(lastFail.At) {
				lastFail = e
			}
		}
	}
	switch {
	case lastAuth != nil && (lastOK == nil || !lastOK.At.After(lastAuth.At)):
		return verdict{Rejected: true, Detail: lastAuth.Detail}
	case lastOK != nil:
		return verdict{Confirmed: true, Detail: lastOK.Detail, Canary: lastOK.Canary}
	case lastFail != nil:
		return verdict{Detail: lastFail.Detail}
	}
	return verdict{}
}

// logEvidence classifies System Log events published at or after since.
func logEvidence(events []*okta.LogEvent, since time.Time) []evidence {
	var out []evidence
	for _, e := range events {
		if e == nil || e.Published == nil || e.Published.Before(since) {
			continue
		}
		result, reason := "", ""
		if e.Outcome != nil {
			result, reason = e.Outcome.Result, e.Outcome.Reason
		}
		detail := fmt.Sprintf("%s %s at %s", e.EventType, orUnknown(result), e.Published.UTC().Format(time.RFC3339))
		if who := logUser(e); who != "" {
			detail += " for " + who
		}
		if reason != "" {
			detail += ": " + reason
		}
		ev := evidence{At: *e.Published, Detail: detail}
		switch {
		case e.EventType == authFailureType:
			ev.Kind = evAuthFailure
		case slices.Contains(successTypes, e.EventType) && result == "SUCCESS":
			ev.Kind = evSuccess
		case slices.Contains(successTypes, e.EventType) || slices.Contains(failureTypes, e.EventType):
			if result == "SUCCESS" {
				continue
			}
			ev.Kind = evFailure
			if unauthorized.MatchString(reason) {
				ev.Kind = evAuthFailure
			}
		default:
			continue
		}
		out = append(out, ev)
	}
	return out
}

func logUser(e *okta.LogEvent) string {
	for _, tg := range e.Target {
		if tg != nil && tg.Type == "AppUser" {
			return tg.AlternateId
		}
	}
	return ""
}

// canaryEvidence reads the canary app user: SYNCHRONIZED since the change is
// proof; ERROR since the change is a failure (it may have other causes, so
// it decides nothing alone).
func canaryEvidence(u *okta.AppUser, userID string, since time.Time) []evidence {
	if u == nil || u.LastSync == nil || u.LastSync.Before(since) {
		return nil
	}
	detail := fmt.Sprintf("canary app user %s %s at %s", userID, u.SyncState, u.LastSync.UTC().Format(time.RFC3339))
	switch u.SyncState {
	case "SYNCHRONIZED":
		return []evidence{{At: *u.LastSync, Kind: evSuccess, Detail: detail, Canary: true}}
	case "ERROR":
		return []evidence{{At: *u.LastSync, Kind: evFailure, Detail: detail, Canary: true}}
	}
	return nil
}

// Confirm waits until Okta has provably provisioned with the token pushed at
// req.Since: the canary app user (canaryUserId) SYNCHRONIZED after its push
// was triggered (by a real change of its Okta user profile: see
// canaryValue), or a provisioning success in the app's System Log with no
// authentication failure after it. An
// authentication failure after the change is an error wrapping
// rotator.ErrTokenRejected. It polls every 10 s at most, waits out 429s until
// X-Rate-Limit-Reset, and gives up at req.Deadline with an error wrapping
// rotator.ErrConfirmTimeout.
//
// In handoff mode only evidence from Confirm's start counts: until the
// operator saves, Okta still pushes with the old (valid) token.
func (t *Target) Confirm(ctx context.Context, req rotator.ConfirmRequest) error {
	start := t.clock.Now()
	// Okta's timestamps (lastSync, published) have millisecond precision:
	// compare at that precision, or evidence from the same millisecond as
	// the change would count as older than it.
	since := req.Since
	d, err := t.resolve(ctx)
	handoff := err != nil || d.Mode == ModeHandoff
	if handoff {
		if start.After(since) {
			since = start
		}
	}
	since = since.Truncate(time.Millisecond)
	deadline := req.Deadline
	if deadline.IsZero() {
		deadline = start.Add(defaultConfirmTimeout)
	}
	log := t.log.With(zap.String("token_id", req.Credential.TokenID), zap.Time("since", since))
	c := &confirmation{t: t, log: log, since: since, canary: t.cfg.CanaryUserID, useLogs: true}

	p := retry.Policy{Clock: t.clock, Deadline: deadline,
		Delay: func(_ int, err error) (time.Duration, bool) {
			if !errors.Is(err, errNotYet) {
				return 0, false
			}
			if now := t.clock.Now(); c.resetAt.After(now.Add(pollInterval)) {
				return retry.UntilReset(now, c.resetAt, pollInterval, maxBackoff), true
			}
			return pollInterval, true
		},
		OnWait: func(_ int, wait time.Duration, _ error) {
			seen := c.seen()
			if !c.resetAt.IsZero() {
				seen += "; rate limited until " + c.resetAt.UTC().Format(time.RFC3339)
			}
			req.Report(seen, t.clock.Now().Add(wait))
		},
		Beat: rotator.WaitBeat,
	}
	res, err := p.Do(ctx, func(ctx context.Context) error {
		if err := c.poll(ctx); err != nil {
			return err
		}
		v := judge(append(append([]evidence(nil), c.logEv...), c.canaryEv...))
		switch {
		case v.Rejected:
			log.Error("the SCIM endpoint refused Okta's token after the change", zap.String("evidence", v.Detail))
			return fmt.Errorf("okta app %s: the SCIM endpoint refused Okta's token after the change (%s): %w", t.cfg.AppID, v.Detail, rotator.ErrTokenRejected)
		case v.Confirmed:
			log.Info(confirmedWords(v, handoff), zap.String("evidence", v.Detail))
			return nil
		}
		c.lastFailure = v.Detail
		return errNotYet
	})
	switch res.Stop {
	case retry.StopDeadline:
		return c.timeout(deadline)
	case retry.StopCanceled:
		return fmt.Errorf("confirm okta app %s: %w", t.cfg.AppID, ctx.Err())
	}
	return err
}

// confirmedWords is the log line of a confirmation: what Okta did and what
// that proves. Okta's provisioning authenticates with the one token Okta
// holds: after the API set it (api mode), that is the new token; after a
// hand-off, it is whichever token the admin saved, the old one if nobody
// pasted yet, so only proof of use (CloudTrail) can tell.
func confirmedWords(v verdict, handoff bool) string {
	what := "Okta's System Log shows a provisioning success"
	if v.Canary {
		what = "Okta's canary was provisioned"
	}
	if handoff {
		return what + " after the hand-off: Okta's provisioning works with the token its admin saved (proof of use shows whether it is the new one)"
	}
	return what + " after the API gave Okta the new token: Okta provisions with it"
}

// errNotYet is a poll that found no verdict: poll again.
var errNotYet = errors.New("no verdict yet")

// confirmation is the state of one Confirm.
type confirmation struct {
	t     *Target
	log   *zap.Logger
	since time.Time

	canary  string // "" once unusable
	touched bool
	// touchedAt is when the canary's profile changed (Okta's lastUpdated):
	// only a sync after it is the canary's push.
	touchedAt   time.Time
	useLogs     bool
	logEv       []evidence
	canaryEv    []evidence
	canaryState string
	resetAt     time.Time
	polls       int
	lastFailure string
}

// poll reads each source once. It returns an error only when confirming
// has become impossible; transient trouble is logged and polled again.
func (c *confirmation) poll(ctx context.Context) error {
	c.polls++
	c.resetAt = time.Time{}
	t := c.t
	if c.canary != "" {
		if err := c.pollCanary(ctx); err != nil {
			if fatal := c.sourceFailed(ctx, "canary", err); fatal != nil {
				return fatal
			}
		}
	}
	if c.useLogs {
		events, err := t.readLog(ctx, c.since)
		if err != nil {
			if fatal := c.sourceFailed(ctx, "system log", err); fatal != nil {
				return fatal
			}
		} else {
			c.logEv = logEvidence(events, c.since)
		}
	}
	if c.canary == "" && !c.useLogs {
		return fmt.Errorf("confirm okta app %s: neither the canary app user nor the System Log can be read; see `scim-rotator check`", t.cfg.AppID)
	}
	return nil
}

func (c *confirmation) pollCanary(ctx context.Context) error {
	t := c.t
	if !c.touched {
		at, err := t.touchCanary(ctx, c.canary)
		if err != nil {
			return err
		}
		c.touched, c.touchedAt = true, at
		c.log.Info("okta canary push triggered: its user profile changed", zap.String("canary_user_id", c.canary),
			zap.String("attribute", t.cfg.CanaryAttribute), zap.Time("changed_at", at))
	}
	u, err := t.getAppUser(ctx, c.canary)
	if err != nil {
		return err
	}
	c.canaryState = u.SyncState
	c.canaryEv = canaryEvidence(u, c.canary, later(c.since, c.touchedAt))
	return nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// sourceFailed decides what a failed read means: the rotator's own Okta
// credentials refused (fatal), a source it may not read (dropped, fatal if
// none is left), throttling (wait for the reset) or a passing fault.
func (c *confirmation) sourceFailed(ctx context.Context, source string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("confirm okta app %s: %w", c.t.cfg.AppID, ctx.Err())
	}
	var te *ThrottledError
	switch status := statusOf(err); {
	case errors.As(err, &te):
		if te.Reset.After(c.resetAt) {
			c.resetAt = te.Reset
		}
		c.log.Info("okta rate limit reached while confirming; waiting for it to reset", zap.String("source", source), zap.Time("reset", te.Reset))
		return nil
	case status == 401:
		return fmt.Errorf("confirm okta app %s: okta refused the rotator's own credentials: %w", c.t.cfg.AppID, err)
	case status == 403 || status == 404:
		c.log.Warn("okta confirmation source unusable; confirming without it", zap.String("source", source), zap.Error(err))
		if source == "canary" {
			c.canary, c.canaryEv = "", nil
		} else {
			c.useLogs, c.logEv = false, nil
		}
		if c.canary == "" && !c.useLogs {
			return fmt.Errorf("confirm okta app %s: no way left to see a sync (%s: %w)", c.t.cfg.AppID, source, err)
		}
		return nil
	}
	c.log.Warn("okta read failed while confirming; polling again", zap.String("source", source), zap.Error(err))
	return nil
}

// seen says what the polls have shown so far.
func (c *confirmation) seen() string {
	var seen []string
	if c.canaryState != "" {
		seen = append(seen, "canary "+c.canary+" is "+c.canaryState)
	}
	if c.useLogs {
		seen = append(seen, fmt.Sprintf("%d provisioning events in the System Log", len(c.logEv)))
	}
	if c.lastFailure != "" {
		seen = append(seen, "last failure: "+c.lastFailure)
	}
	return strings.Join(seen, "; ")
}

func (c *confirmation) timeout(deadline time.Time) error {
	hint := ""
	if c.t.cfg.CanaryUserID == "" {
		hint = "; set canaryUserId to a user assigned to the app so that each rotation triggers its own push"
	}
	return fmt.Errorf("okta app %s: no provisioning success since %s by %s after %d polls (%s)%s: %w",
		c.t.cfg.AppID, c.since.UTC().Format(time.RFC3339), deadline.UTC().Format(time.RFC3339), c.polls,
		c.seen(), hint, rotator.ErrConfirmTimeout)
}

// touchCanary makes Okta push the canary: it sets the canary attribute of
// the canary's Okta user profile to canaryValue (a partial update, leaving
// the other attributes alone; see inferred.go). It returns when the profile
// changed by Okta's clock (the answer's lastUpdated; ours if absent), which
// is what the canary's lastSync is compared with.
func (t *Target) touchCanary(ctx context.Context, userID string) (time.Time, error) {
	now := t.clock.Now()
	at := now
	attr := t.cfg.CanaryAttribute
	err := t.call(ctx, "update canary user", 0, func(ctx context.Context) error {
		body := okta.User{Profile: &okta.UserProfile{attr: canaryValue(now)}}
		u, resp, err := t.users.PartialUpdateUser(ctx, userID, body, nil)
		if err == nil && u != nil && u.LastUpdated != nil {
			at = *u.LastUpdated
		}
		return wrapErr(fmt.Sprintf("set %s of canary user %s", attr, userID), resp, err, rotator.Secret{})
	})
	return at.Truncate(time.Millisecond), err
}

func (t *Target) getAppUser(ctx context.Context, userID string) (*okta.AppUser, error) {
	var u *okta.AppUser
	err := t.call(ctx, "get app user", 0, func(ctx context.Context) error {
		var resp *okta.Response
		var err error
		u, resp, err = t.apps.GetApplicationUser(ctx, t.cfg.AppID, userID, nil)
		return wrapErr("get app user "+userID, resp, err, rotator.Secret{})
	})
	if err == nil && u == nil {
		u = &okta.AppUser{}
	}
	return u, err
}

// readLog reads the app's System Log events published since since, oldest
// first, following Link rel=next. Without until a query is a polling query
// whose answer always links a next page, so paging stops at a short page.
func (t *Target) readLog(ctx context.Context, since time.Time) ([]*okta.LogEvent, error) {
	const limit = 1000
	qp := query.NewQueryParams(
		query.WithSince(since.UTC().Format("2006-01-02T15:04:05.000Z")),
		query.WithFilter(fmt.Sprintf(`target.id eq %q`, t.cfg.AppID)),
		query.WithSortOrder("ASCENDING"),
		query.WithLimit(limit),
	)
	var all []*okta.LogEvent
	var resp *okta.Response
	err := t.call(ctx, "get logs", 0, func(ctx context.Context) error {
		var page []*okta.LogEvent
		var err error
		page, resp, err = t.logs.GetLogs(ctx, qp)
		all = append(all, page...)
		if err == nil && len(page) < limit {
			resp = nil
		}
		return wrapErr("get system log", resp, err, rotator.Secret{})
	})
	for pages := 1; err == nil && resp != nil && resp.HasNextPage() && pages < maxLogPages; pages++ {
		err = t.call(ctx, "get logs", 0, func(ctx context.Context) error {
			var page []*okta.LogEvent
			next, err := resp.Next(ctx, &page)
			all = append(all, page...)
			resp = next
			if err == nil && len(page) < limit {
				resp = nil
			}
			return wrapErr("get system log (next page)", next, err, rotator.Secret{})
		})
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].Published == nil || all[j].Published == nil {
			return all[j].Published != nil
		}
		return all[i].Published.Before(*all[j].Published)
	})
	return all, err
}
