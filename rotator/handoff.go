package rotator

import (
	"context"
	"fmt"
	"time"
)

// Hand-offs: a target whose change a human finishes (Okta's Admin Console,
// a SCIM client the product cannot configure). This file is the one place
// a hand-off is announced and watched for every target type.
//
// The run that pushes announces it (awaitHandoff): the command that prints
// the pending token (never the token), the console page, the target's own
// steps and how the change will be confirmed; the run ends AwaitingHandoff
// with both tokens kept. The target then waits in AwaitingHandoff
// (transitions.go, step "wait") until:
//
//	| target             | run                   | wait step's event                          |
//	|--------------------|-----------------------|--------------------------------------------|
//	| not a watcher      | rotate --continue     | continued: Pushed, then test and confirm   |
//	| not a watcher      | any other run         | waiting: the reminder, nothing written     |
//	| watches hand-off   | any run (--continue   | proven: Confirmed, when its Confirm, asked |
//	|                    | or scheduled)         | once (deadline now), finds proof; else     |
//	|                    |                       | waiting: the reminder, nothing written     |
//
// A watcher's proof is its own (the handoff target: CloudTrail shows the
// client on the new token and off the old one), so it needs no test or
// second confirmation: it goes straight to Confirmed, switched when
// CloudTrail showed the new token in use once the old one had stopped
// (switchedAt). After confirmTimeout
// without proof a scheduled run reports the hand-off overdue (Failed, as
// for any hand-off), still deleting nothing.

// handoffWatch is what one run learned from a target that watches its hand-off.
type handoffWatch struct {
	// proven names the target whose change this run proved, and provenAt
	// is when CloudTrail first showed the new token in use (its switch).
	proven   string
	provenAt time.Time
	// note says why a look found no proof yet (for the reminder).
	note string
}

// watches reports whether t proves its own hand-off.
func watches(t Target) bool {
	return t.Abilities().WatchesHandoff
}

// handoffSince is when a target's hand-off was announced: only evidence
// after it counts.
func handoffSince(rot *rotation, tp TargetProgress) time.Time {
	if !tp.PushedAt.IsZero() {
		return tp.PushedAt
	}
	return rot.progress.HandoffSince
}

// switchedAt estimates when a proven target's client switched to the new
// token: the first call with it (by anything but the product) after the
// last call with the old token since the hand-off. That lies after the
// client's last call with the old token and no later than its first with
// the new one, so proof of use finds the call it needs and the quiet
// period counts from the client's switch. With the old token still in use
// (a client nobody gave the new token) there is no such call: now, which
// only makes proof of use wait for a later call. src is the run's reader
// (nil: no usage source).
func (r *Rotator) switchedAt(ctx context.Context, src UsageSource, rot *rotation, since, now time.Time) time.Time {
	if src == nil {
		return now
	}
	uses, err := src.Uses(ctx, since, now)
	if err != nil {
		return now
	}
	from := since.Truncate(time.Second)
	var at time.Time
	for _, u := range uses { // oldest first
		switch {
		case !counts(u) || u.Time.Before(from):
		case u.TokenID == rot.oldID:
			at = time.Time{}
		case u.TokenID == rot.newRec.ID && at.IsZero():
			at = u.Time
		}
	}
	if at.IsZero() {
		return now
	}
	return at
}

// handoffSteps turns a target's hand-off into the operator's instructions,
// adding how to read the token from the store (never the token itself) and
// how the change will be confirmed.
func (r *Rotator) handoffSteps(t Target, h *Handoff) []string {
	steps := []string{"Print the new token (it is stored as AWSPENDING): " + r.Store.RevealHint(StagePending)}
	switch {
	case h.ConsoleURL != "" && h.Where != "":
		steps = append(steps, "Open "+h.ConsoleURL+" ("+h.Where+")")
	case h.ConsoleURL != "":
		steps = append(steps, "Open "+h.ConsoleURL)
	case h.Where != "":
		steps = append(steps, "Open "+h.Where)
	}
	steps = append(steps, h.Steps...)
	if watches(t) {
		return append(steps, fmt.Sprintf("Then nothing more: every later run (or `scim-rotator rotate --continue`, to look at once) confirms %s as soon as CloudTrail shows its SCIM calls with the new token and none with the old one (CloudTrail delivers them up to usage.deliveryDelay late), and finishes the rotation", t.Name()))
	}
	return append(steps, "Then run `scim-rotator rotate --continue` to confirm the sync and finish the rotation")
}

// handoffActions rebuilds the reminder on later runs from the waiting
// target's description of its hand-off (read-only).
func (r *Rotator) handoffActions(ctx context.Context, pr *Progress) []string {
	for i, t := range r.Targets {
		if i < len(pr.Targets) && pr.Targets[i].State == TargetAwaitingHandoff {
			if d, ok := t.(HandoffDescriber); ok {
				if h, err := d.DescribeHandoff(ctx); err == nil && h != nil {
					return r.handoffSteps(t, h)
				}
			}
		}
	}
	return []string{"Finish the hand-off, then run `scim-rotator rotate --continue`"}
}
