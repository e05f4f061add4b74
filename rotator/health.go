package rotator

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
)

// ExpiryWatch reads expiry notices from a source independent of the token
// API (AWS Health): the watch that still works when that API changes shape.
type ExpiryWatch interface {
	// Notices returns the open expiry notices. A notice whose date could not
	// be read has a zero Expires.
	Notices(ctx context.Context) ([]ExpiryNotice, error)
}

// ExpiryNotice is one announcement that a SCIM token expires.
type ExpiryNotice struct {
	// TokenID is the token named by the notice; empty when it names none.
	TokenID string
	// Expires is the announced expiry; zero when unreadable.
	Expires  time.Time
	EventARN string
	Region   string
	// Start is when the notice was raised.
	Start time.Time
}

// ExpiryKnowledge is what the rotator knows to compare notices with.
type ExpiryKnowledge struct {
	// Tokens are the tokens Identity Center lists.
	Tokens []TokenInfo
	// Live is the token provisioning depends on (nil: none known).
	Live *TokenInfo
	// Rotating is true while a rotation is in progress.
	Rotating     bool
	RotateBefore time.Duration
	Now          time.Time
}

// DisagreementKind says how a notice disagrees with the rotator.
type DisagreementKind string

// Kinds of disagreement.
const (
	// UnknownToken: the notice is about a token the rotator does not list.
	UnknownToken DisagreementKind = "UnknownToken"
	// DateMismatch: the notice's date differs by more than a day from the
	// listed token's expiry.
	DateMismatch DisagreementKind = "DateMismatch"
	// DueNotRotating: the notice's expiry is inside rotateBefore and no
	// rotation is in progress.
	DueNotRotating DisagreementKind = "DueNotRotating"
)

// Disagreement is one notice that does not match what the rotator expects.
type Disagreement struct {
	Kind   DisagreementKind
	Notice ExpiryNotice
	// TokenID is the listed token the notice was matched with (if any).
	TokenID string
	Message string
}

// Key identifies a disagreement across runs (for rate-limiting alerts).
func (d Disagreement) Key() string { return string(d.Kind) + " " + d.Notice.EventARN }

// expiryTolerance is how far a notice's date may be from the listed expiry:
// the notice's text gives a day (or a time in another zone).
const expiryTolerance = 24 * time.Hour

// CompareExpiry compares expiry notices with what the rotator knows and
// returns each disagreement. It is pure. Per notice:
//
//	notice names a token                 -> that listed token (none: UnknownToken)
//	notice names none                    -> the listed token expiring closest to its date
//	matched token's expiry > 1 day away  -> DateMismatch
//	no listed token at all               -> UnknownToken
//	expiry inside rotateBefore, not yet
//	passed, no rotation in progress      -> DueNotRotating
//
// A notice that matches no listed token, raised before the live token was
// created and for an earlier date, is about a token rotated away since
// (Health keeps the event open until that token's date): no disagreement.
// A notice without a readable date is only checked for its token id.
func CompareExpiry(notices []ExpiryNotice, k ExpiryKnowledge) []Disagreement {
	var out []Disagreement
	for _, n := range notices {
		d, ok := compareNotice(n, k)
		if ok {
			out = append(out, d)
		}
	}
	return out
}

func compareNotice(n ExpiryNotice, k ExpiryKnowledge) (Disagreement, bool) {
	d := Disagreement{Notice: n}
	date := n.Expires.UTC().Format("2006-01-02")
	var match *TokenInfo
	if n.TokenID != "" {
		for i := range k.Tokens {
			if k.Tokens[i].ID == n.TokenID {
				match = &k.Tokens[i]
			}
		}
		if match == nil && rotatedAway(n, k) {
			return d, false
		}
		if match == nil {
			d.Kind = UnknownToken
			d.Message = fmt.Sprintf("AWS Health announces that SCIM token %s expires %s, but Identity Center does not list it (it lists: %s)",
				n.TokenID, dateOrUnknown(n.Expires), tokenList(k.Tokens))
			return d, true
		}
	}
	if n.Expires.IsZero() {
		return d, false
	}
	if match == nil {
		match = closest(k.Tokens, n.Expires)
	}
	switch {
	case match == nil:
		d.Kind = UnknownToken
		d.Message = fmt.Sprintf("AWS Health announces a SCIM token expiring %s, but Identity Center lists no token", date)
		return d, true
	case absDuration(match.Expires.Sub(n.Expires)) > expiryTolerance:
		if n.TokenID == "" && rotatedAway(n, k) {
			return d, false
		}
		d.Kind, d.TokenID = DateMismatch, match.ID
		if n.TokenID == "" {
			d.Message = fmt.Sprintf("AWS Health announces a SCIM token expiring %s, but no listed token expires within a day of it (listed: %s)",
				date, tokenList(k.Tokens))
		} else {
			d.Message = fmt.Sprintf("AWS Health announces that SCIM token %s expires %s, but Identity Center lists its expiry as %s",
				match.ID, date, match.Expires.UTC().Format("2006-01-02"))
		}
		return d, true
	}
	d.TokenID = match.ID
	if !k.Rotating && n.Expires.After(k.Now) && !k.Now.Before(DueAt(n.Expires, k.RotateBefore)) {
		d.Kind = DueNotRotating
		d.Message = fmt.Sprintf("AWS Health announces that SCIM token %s expires %s (in %d days), inside rotateBefore (%s), and no rotation is in progress",
			match.ID, date, DaysLeft(n.Expires, k.Now), k.RotateBefore)
		return d, true
	}
	return d, false
}

// rotatedAway reports whether a notice that matches no listed token is
// about a token rotated away since: raised before the live token was
// created, for an earlier date (Health keeps it open until that date).
func rotatedAway(n ExpiryNotice, k ExpiryKnowledge) bool {
	return k.Live != nil && !k.Live.Created.IsZero() && n.Start.Before(k.Live.Created) &&
		(n.Expires.IsZero() || n.Expires.Before(k.Live.Expires))
}

// closest is the listed token whose expiry is nearest to t (nil: none).
func closest(tokens []TokenInfo, t time.Time) *TokenInfo {
	var best *TokenInfo
	for i := range tokens {
		if best == nil || absDuration(tokens[i].Expires.Sub(t)) < absDuration(best.Expires.Sub(t)) {
			best = &tokens[i]
		}
	}
	return best
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func dateOrUnknown(t time.Time) string {
	if t.IsZero() {
		return "on a date its text does not give"
	}
	return t.UTC().Format("2006-01-02")
}

func tokenList(tokens []TokenInfo) string {
	parts := make([]string, len(tokens))
	for i, t := range tokens {
		parts[i] = t.ID + " expiring " + t.Expires.UTC().Format("2006-01-02")
	}
	slices.Sort(parts)
	return listOrNone(parts)
}

// HealthDisagreements compares AWS Health's expiry notices with what the
// rotator knows from obs (nil: observed now), logs each disagreement and
// reports them to the Observer, as the daemon's watch does on every tick: a
// one-shot run calls it so that its pushed metrics carry them too. It
// returns an error when Health or the tokens cannot be read (the Observer is
// then left as it was); without a Health watch it does nothing.
func (r *Rotator) HealthDisagreements(ctx context.Context, obs *Observed) ([]Disagreement, error) {
	if r.Health == nil {
		return nil, nil
	}
	_, found, err := r.compareHealth(ctx, obs)
	return found, err
}

// compareHealth is HealthDisagreements with the plan it compared against.
func (r *Rotator) compareHealth(ctx context.Context, obs *Observed) (Plan, []Disagreement, error) {
	// Guarded: a panic reading Health is a failure to read it, which is
	// logged and leaves the daemon ready (it is not a system rotations need).
	notices, err := Guard(ctx, r.Log, healthPart.label(), func() ([]ExpiryNotice, error) { return r.Health.Notices(ctx) })
	if err != nil {
		return Plan{}, nil, fmt.Errorf("cannot read AWS Health: %w", err)
	}
	var plan Plan
	var found []Disagreement
	if len(notices) > 0 {
		if obs == nil {
			o, _, err := r.observeGuarded(ctx)
			if err != nil {
				return Plan{}, nil, fmt.Errorf("cannot observe the tokens to compare with AWS Health: %w", err)
			}
			obs = &o
		}
		now := r.Clock.Now()
		plan = Decide(*obs, r.policy(RunOptions{}), now)
		found = CompareExpiry(notices, r.knowledge(*obs, plan, now))
	}
	for _, dis := range found {
		r.Log.Warn("AWS Health disagrees with the rotator", zap.String("kind", string(dis.Kind)),
			zap.String("event_arn", dis.Notice.EventARN), zap.String("token_id", dis.TokenID), zap.String("detail", dis.Message))
	}
	if r.Observer != nil {
		r.Observer.ExpiryDisagreements(found)
	}
	return plan, found, nil
}

// healthStatus is the `status` entry of the expiry watch: Health's notices
// (parallel lists) and their disagreements with what the rotator knows.
func healthStatus(notices []ExpiryNotice, k ExpiryKnowledge) SystemStatus {
	st := SystemStatus{System: "health", Fields: []Field{}}
	add := func(key string, v any) { st.Fields = append(st.Fields, Field{Key: key, Value: v}) }
	ids, expiries, events := []string{}, []string{}, []string{}
	for _, n := range notices {
		ids = append(ids, n.TokenID)
		exp := ""
		if !n.Expires.IsZero() {
			exp = n.Expires.UTC().Format(time.RFC3339)
		}
		expiries = append(expiries, exp)
		events = append(events, n.EventARN)
	}
	dis := []string{}
	for _, d := range CompareExpiry(notices, k) {
		dis = append(dis, string(d.Kind)+": "+d.Message)
	}
	add("notices", len(notices))
	add("noticeTokenIds", ids)
	add("noticeExpiries", expiries)
	add("noticeEvents", events)
	add("disagreements", dis)
	return st
}

// knowledge is what CompareExpiry needs from an observation and its plan.
func (r *Rotator) knowledge(obs Observed, plan Plan, now time.Time) ExpiryKnowledge {
	return ExpiryKnowledge{Tokens: r.knownTokens(obs), Live: plan.Live, Rotating: obs.Store.Pending != nil,
		RotateBefore: r.RotateBefore, Now: now}
}

// knownTokens are the tokens the rotator knows: those listed or, with the
// manual issuer (which lists none), the store's records.
func (r *Rotator) knownTokens(obs Observed) []TokenInfo {
	toks := obs.Tokens
	if r.manual() {
		for _, rec := range []*Record{obs.Store.Current, obs.Store.Pending} {
			if rec != nil {
				toks = append(toks, rec.TokenInfo)
			}
		}
	}
	return toks
}

// disagreementSummary joins messages for one alert.
func disagreementSummary(ds []Disagreement) string {
	msgs := make([]string, len(ds))
	for i, d := range ds {
		msgs[i] = d.Message
	}
	return strings.Join(msgs, "; ")
}
