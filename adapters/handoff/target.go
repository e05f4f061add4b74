package handoff

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/internal/retry"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// System is how this adapter names itself in check and status output.
const System = "handoff"

// Options are the target's dependencies.
type Options struct {
	Logger *zap.Logger
	// Clock times the waits (nil: the wall clock).
	Clock rotator.Clock
	// Usage is the instance's usage source (CloudTrail): required, it is
	// how the paste is proven.
	Usage rotator.UsageSource
	// DeliveryDelay is how late CloudTrail may deliver an event and
	// PollInterval how often to look (usage.deliveryDelay, usage.pollInterval;
	// zero: the config's defaults).
	DeliveryDelay, PollInterval time.Duration
	// ConfigKey is the block's config path for errors ("targets[2].handoff").
	ConfigKey string
}

// Target is a SCIM client configured by hand.
type Target struct {
	name  string
	cfg   Config
	usage rotator.UsageSource
	clock rotator.Clock
	log   *zap.Logger
	delay time.Duration
	poll  time.Duration
}

var (
	_ rotator.Target           = (*Target)(nil)
	_ rotator.HandoffDescriber = (*Target)(nil)
	_ rotator.Inspector        = (*Target)(nil)
	// Not a rotator.Holder: what a client holds is only seen in what it sends.
)

// New builds the target. Its only remote system is CloudTrail, through the
// instance's usage source.
func New(name string, cfg Config, opts Options) (*Target, error) {
	key := opts.ConfigKey
	if key == "" {
		key = "targets[" + name + "]." + TargetType.Name
	}
	if opts.Usage == nil {
		return nil, &config.Error{Key: strings.TrimSuffix(key, "."+TargetType.Name) + ".type", Msg: "handoff needs usage.source: cloudtrail: only CloudTrail can show that the pasted token is in use"}
	}
	t := &Target{name: name, cfg: cfg, usage: opts.Usage, clock: opts.Clock, log: opts.Logger, delay: opts.DeliveryDelay, poll: opts.PollInterval}
	if t.clock == nil {
		t.clock = rotator.RealClock{}
	}
	if t.log == nil {
		t.log = zap.NewNop()
	}
	if t.delay <= 0 {
		t.delay = config.DefaultDeliveryDelay
	}
	if t.poll <= 0 {
		t.poll = config.DefaultPollInterval
	}
	t.log = t.log.With(zap.String("target", name))
	return t, nil
}

// Name is the target's configured name.
func (t *Target) Name() string { return t.name }

// Abilities: the target proves the paste from CloudTrail, so every run
// checks it; alerts link the client's console.
func (t *Target) Abilities() rotator.Abilities {
	link := t.consoleLink()
	return rotator.Abilities{WatchesHandoff: true, Console: &link}
}

// Validate returns nil: nothing can test the token in the client before a
// human pastes it.
func (t *Target) Validate(context.Context, rotator.Credential) error { return nil }

// Push hands the change to a human: it returns what to do, never the token
// (the core adds the command that prints it).
func (t *Target) Push(_ context.Context, cred rotator.Credential) (rotator.PushResult, error) {
	t.log.Info("token change handed to a human", zap.String("token_id", cred.TokenID))
	return rotator.PushResult{Handoff: t.handoff(cred)}, nil
}

// Test returns nil: nothing can be read from the client; Confirm proves.
func (t *Target) Test(context.Context, rotator.Credential) error { return nil }

// DescribeHandoff describes the hand-off again for reminders.
func (t *Target) DescribeHandoff(context.Context) (*rotator.Handoff, error) {
	return t.handoff(rotator.Credential{}), nil
}

func (t *Target) handoff(cred rotator.Credential) *rotator.Handoff {
	// The instructions are the operator's words for the paste and the save:
	// the steps around them say neither again.
	return rotator.Paste{
		ConsoleURL: t.cfg.ConsoleURL, Where: "the SCIM client's admin console",
		SCIMEndpoint: cred.SCIMEndpoint, TokenID: cred.TokenID, Instructions: t.cfg.Instructions,
		After: []string{"Let the client sync (or start a sync if it offers one): its SCIM calls with the new token are the proof"},
	}.Handoff()
}

// consoleLink is the configured console page (none when not configured).
func (t *Target) consoleLink() rotator.Link {
	return rotator.Link{Text: "SCIM client console (" + t.name + ")", URL: t.cfg.ConsoleURL}
}

// otherTargetsLookback is how far before the hand-off a target without
// userAgent looks for the clients it must not take for its own: whoever
// used the new token before the hand-off was announced was given it by
// the product (the targets before this one), not by the human.
const otherTargetsLookback = 24 * time.Hour

// errNotYet is a look that found no proof: look again.
var errNotYet = errors.New("no proof yet")

// Confirm waits until CloudTrail proves the paste (judge), looking every
// pollInterval until req.Deadline; a deadline that is not after now (or
// none) looks once. Without proof it returns an error wrapping
// rotator.ErrConfirmTimeout that says what CloudTrail shows; a lookup that
// kept failing returns the lookup's error.
func (t *Target) Confirm(ctx context.Context, req rotator.ConfirmRequest) error {
	deadline := req.Deadline
	if deadline.IsZero() {
		deadline = t.clock.Now()
	}
	var v verdict
	var lookErr error
	p := retry.Policy{Clock: t.clock, Deadline: deadline,
		Delay: func(int, error) (time.Duration, bool) { return t.poll, true },
		OnWait: func(_ int, wait time.Duration, _ error) {
			seen := v.why
			if lookErr != nil {
				seen = "CloudTrail could not be read: " + lookErr.Error()
			}
			req.Report(seen, t.clock.Now().Add(wait))
		},
		Beat: rotator.WaitBeat}
	res, _ := p.Do(ctx, func(ctx context.Context) error {
		now := t.clock.Now()
		from := req.Since
		if t.cfg.UserAgent == "" {
			from = from.Add(-otherTargetsLookback)
		}
		src := t.usage
		if req.Usage != nil {
			src = req.Usage // the run's reader: what the run read is not read again
		}
		uses, err := src.Uses(ctx, from, now)
		if err != nil {
			lookErr = err
			return err
		}
		lookErr = nil
		v = judge(uses, req, t.cfg.UserAgent, now, t.delay)
		if v.proven {
			return nil
		}
		return errNotYet
	})
	switch {
	case res.Stop == retry.StopDone:
		t.log.Info("CloudTrail shows the client on the new token", zap.String("token_id", req.Credential.TokenID),
			zap.String("user_agent", v.client.UserAgent), zap.String("source_ip", v.client.SourceIP), zap.Time("since", v.client.Time))
		return nil
	case res.Stop == retry.StopCanceled:
		return fmt.Errorf("confirm %s: %w", t.name, ctx.Err())
	case lookErr != nil:
		return fmt.Errorf("look up %s's SCIM calls in CloudTrail: %w", t.name, lookErr)
	}
	return fmt.Errorf("%s: %s: %w", t.name, v.why, rotator.ErrConfirmTimeout)
}

// verdict is what CloudTrail shows of the client since the hand-off.
type verdict struct {
	proven bool
	// client is the call with the new token that proves it (or the one
	// awaited); why says what is missing.
	client rotator.Use
	why    string
}

// judge is the pure proof of a paste, from the SCIM calls since the
// hand-off was announced (oldest first) at time now.
//
// A client is a user agent (IdPs call from pools of addresses): one
// containing agent when set, else any but the product's own and those that
// used the new token before the hand-off (another target's). It is proven
// on the new token when, after its last successful call with the old token
// (if any), it made a successful call with the new one, and a window from
// that call to deliveryDelay before now has passed with no call with the
// old token: CloudTrail delivers late, so the old token's absence holds
// only for a window that ended deliveryDelay ago.
//
//	| the client's calls since the hand-off         | verdict                          |
//	|-----------------------------------------------|----------------------------------|
//	| none with the new token                        | not yet                          |
//	| new, then old (a test that was not saved)      | not yet, until new again         |
//	| new, none with old after it, < delay ago       | not yet: the window is not over  |
//	| new, none with old after it, > delay ago       | proven                           |
func judge(uses []rotator.Use, req rotator.ConfirmRequest, agent string, now time.Time, delay time.Duration) verdict {
	from := req.Since.Truncate(time.Second)
	newID, oldID := req.Credential.TokenID, req.OldTokenID
	type client struct {
		lastOld, firstNew rotator.Use // firstNew: the first after lastOld
		newBefore         bool        // used the new token before lastOld
	}
	clients := map[string]*client{}
	var order, others []string
	given := map[string]bool{} // user agents the product gave the new token
	for _, u := range uses {
		// The product's own calls (its proof of the new token) are neither
		// a client nor another target's: they are left out, and unnamed.
		if agent == "" && u.ErrorCode == "" && u.TokenID == newID && u.Time.Before(from) && !strings.HasPrefix(u.UserAgent, rotator.UserAgentPrefix) {
			given[u.UserAgent] = true
		}
	}
	for _, u := range uses {
		if u.ErrorCode != "" || strings.HasPrefix(u.UserAgent, rotator.UserAgentPrefix) || u.Time.Before(from) || given[u.UserAgent] {
			continue
		}
		if agent != "" && !strings.Contains(u.UserAgent, agent) {
			if u.TokenID == newID && !slices.Contains(others, u.UserAgent) {
				others = append(others, u.UserAgent)
			}
			continue
		}
		c := clients[u.UserAgent]
		if c == nil {
			c = &client{}
			clients[u.UserAgent] = c
			order = append(order, u.UserAgent)
		}
		switch {
		case oldID != "" && u.TokenID == oldID:
			if !c.firstNew.Time.IsZero() {
				c.newBefore = true
			}
			c.lastOld, c.firstNew = u, rotator.Use{}
		case u.TokenID == newID && !u.Time.After(c.lastOld.Time):
			c.newBefore = true // both tokens in one second: which came last is unknown
		case u.TokenID == newID && c.firstNew.Time.IsZero():
			c.firstNew = u
		}
	}
	var waiting, unsaved *client
	for _, ua := range order {
		c := clients[ua]
		switch {
		case !c.firstNew.Time.IsZero() && now.Add(-delay).After(c.firstNew.Time):
			return verdict{proven: true, client: c.firstNew}
		case !c.firstNew.Time.IsZero() && waiting == nil:
			waiting = c
		case c.newBefore && unsaved == nil:
			unsaved = c
		}
	}
	who := "a client other than scim-rotator"
	if agent != "" {
		who = fmt.Sprintf("a client whose user agent contains %q", agent)
	}
	switch {
	case waiting != nil:
		u := waiting.firstNew
		return verdict{client: u, why: fmt.Sprintf("%q (from %s) has called with the new token %s since %s; CloudTrail delivers calls up to %s late, so it proves the client no longer sends the old token only from %s",
			u.UserAgent, orUnknown(u.SourceIP), newID, stamp(u.Time), delay, stamp(u.Time.Add(delay).Add(time.Second)))}
	case unsaved != nil:
		u := unsaved.lastOld
		return verdict{client: u, why: fmt.Sprintf("%q called with the new token %s but then again with the old token %s, at %s: was the new token saved, not only tested?",
			u.UserAgent, newID, oldID, stamp(u.Time))}
	}
	why := fmt.Sprintf("CloudTrail shows no successful SCIM call with the new token %s from %s since the hand-off at %s (it delivers calls up to %s late)", newID, who, stamp(req.Since), delay)
	if len(others) > 0 {
		why += fmt.Sprintf("; calls with it came from %s, which userAgent does not match", quoteAll(others))
	}
	if len(given) > 0 {
		ids := make([]string, 0, len(given))
		for ua := range given {
			ids = append(ids, ua)
		}
		slices.Sort(ids)
		why += fmt.Sprintf("; %s used it before the hand-off (another target's client), which does not count", quoteAll(ids))
	}
	return verdict{why: why}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func orUnknown(s string) string {
	if s == "" {
		return "an unknown address"
	}
	return s
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
