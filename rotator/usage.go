package rotator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Proof of use: which token Identity Center's SCIM calls really carried,
// from its own log (UsageSource, CloudTrail). A target's confirmation can
// say a sync ran; only this says with which token.
//
//	R1 promote only when a successful SCIM call by something other than the
//	   product used the new token at or after the first switch; for a target
//	   with a canary, a call with the new token and none with the old one
//	   after its canary was triggered. Seen old-token use there ends the run
//	   OldTokenInUse at once (an IdP that did not save the new token).
//	R2 delete the old token only after a window of quietPeriod, begun after
//	   the last switch, with no such use of it; until confirmTimeout after
//	   the last switch the run waits, then ends OldTokenInUse.
//
// An event seen is proof at once; the absence of events holds only for a
// window that ended deliveryDelay ago (CloudTrail delivers late). A lookup
// that fails is never read as "unused": the run waits, then gives up
// without deleting anything.

// UsagePolicy bounds proof of use (the config's usage block).
type UsagePolicy struct {
	QuietPeriod   time.Duration
	DeliveryDelay time.Duration
	PollInterval  time.Duration
	// StatusWindow, when set, makes `status` read this whole window for
	// exact counts (`status --usage-window`) instead of the budgeted
	// newest-first read (UsagePages).
	StatusWindow time.Duration
}

func (p UsagePolicy) orDefaults() UsagePolicy {
	if p.QuietPeriod <= 0 {
		p.QuietPeriod = 15 * time.Minute
	}
	if p.DeliveryDelay <= 0 {
		p.DeliveryDelay = 15 * time.Minute
	}
	if p.PollInterval <= 0 {
		p.PollInterval = 30 * time.Second
	}
	return p
}

// counts reports whether u is use: a successful SCIM call made by anything
// but the product itself.
func counts(u Use) bool {
	return u.ErrorCode == "" && !strings.HasPrefix(u.UserAgent, UserAgentPrefix)
}

// TokenUse summarises one token's use, for status, alerts and R4.
type TokenUse struct {
	TokenID   string    `json:"tokenId"`
	Last      time.Time `json:"lastUsed"`
	UserAgent string    `json:"userAgent,omitempty"`
	SourceIP  string    `json:"sourceIp,omitempty"`
	// Calls counts the calls summarised (those in the looked-up window).
	Calls int `json:"calls"`
	// Clients are the distinct callers, each with its last call.
	Clients []ClientUse `json:"clients,omitempty"`
}

// ClientUse is one caller of a token.
type ClientUse struct {
	UserAgent string    `json:"userAgent"`
	SourceIP  string    `json:"sourceIp"`
	Last      time.Time `json:"lastUsed"`
	Calls     int       `json:"calls"`
}

// summarize groups the counted uses at or after from by token. CloudTrail
// records times to the second, so from is too: a call in the same second
// as from counts (for old-token use, the safe side; for new-token use, a
// call in the second of the switch may predate it by under a second).
func summarize(uses []Use, from time.Time) map[string]*TokenUse {
	from = from.Truncate(time.Second)
	out := map[string]*TokenUse{}
	for _, u := range uses {
		if !counts(u) || u.Time.Before(from) || u.TokenID == "" {
			continue
		}
		s := out[u.TokenID]
		if s == nil {
			s = &TokenUse{TokenID: u.TokenID}
			out[u.TokenID] = s
		}
		s.Calls++
		if !u.Time.Before(s.Last) {
			s.Last, s.UserAgent, s.SourceIP = u.Time, u.UserAgent, u.SourceIP
		}
		i := slices.IndexFunc(s.Clients, func(c ClientUse) bool { return c.UserAgent == u.UserAgent && c.SourceIP == u.SourceIP })
		if i < 0 {
			s.Clients = append(s.Clients, ClientUse{UserAgent: u.UserAgent, SourceIP: u.SourceIP})
			i = len(s.Clients) - 1
		}
		s.Clients[i].Calls++
		if u.Time.After(s.Clients[i].Last) {
			s.Clients[i].Last = u.Time
		}
	}
	for _, s := range out {
		sort.Slice(s.Clients, func(i, j int) bool { return s.Clients[i].Last.After(s.Clients[j].Last) })
	}
	return out
}

func (u *TokenUse) words() string { return clientWords(u.Clients) }

// alignSecond waits for the clock's next whole second when proof of use is
// on. CloudTrail records times to the second: a step that starts on a fresh
// second (the first push, a canary's trigger) is then told apart from every
// call made before it.
func (r *Rotator) alignSecond(ctx context.Context) error {
	if r.Usage == nil {
		return nil
	}
	now := r.Clock.Now()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-r.Clock.After(now.Truncate(time.Second).Add(time.Second).Sub(now)):
		return nil
	}
}

// errUsageTimeout ends a wait for proof that did not come.
var errUsageTimeout = errors.New("no proof of use before confirmTimeout")

// usageReader is one run's reader of SCIM calls (exec.usage): it keeps
// what it read, so that every wait and look of the run (proof of use, the
// quiet period, a hand-off watch, --revoke-old's suspects) reads only what
// it has not read yet, and a 30-minute quiet period costs about the events
// of those 30 minutes, not that on every poll. It is a UsageSource itself,
// so that a target's own look (the handoff target's Confirm) shares it.
//
// CloudTrail can only be bounded by event time, and delivers an event up to
// deliveryDelay late with its original time: what was read of the last
// deliveryDelay may still grow. So [lo, final) was read when it was at
// least deliveryDelay old (complete), [final, hi) earlier (what had arrived
// then). A read to now then asks for (see read):
//
//	[final, now - deliveryDelay)  once it is that old: each event is read a
//	                              second time, at most, to be sure of it
//	[hi, now)                     the new events
//	[final, now) in one           when the tail read again holds less than
//	                              a page (a quiet directory: one call a poll)
//	                              or when a wait must be sure now (settle)
//
// so a wait of E events and P polls costs at most about 2 x E/50 + P calls
// (BenchmarkBusyCloudTrail). An event seen is proof at once; the absence of
// events holds only for [lo, final).
type usageReader struct {
	r *Rotator
	// lo, final and hi bound what was read (see above); uses are the calls
	// read in [lo, hi), oldest first.
	lo, final, hi time.Time
	uses          []Use
}

var _ UsageSource = (*usageReader)(nil)

// newUsageReader is a run's reader (nil without a usage source).
func (r *Rotator) newUsageReader() *usageReader {
	if r.Usage == nil {
		return nil
	}
	return &usageReader{r: r}
}

// tailPage is LookupEvents' page: a tail read again that holds less costs
// no more than the page its new events need anyway.
const tailPage = 50

// Uses returns the calls in [from, to), reading only what it has not read
// (to is now: the reader's reads always end at the time asked).
func (u *usageReader) Uses(ctx context.Context, from, to time.Time) ([]Use, error) {
	if _, err := u.read(ctx, from, to, false); err != nil {
		return nil, err
	}
	return between(u.uses, from, to.Add(time.Second)), nil
}

// Latest is the source's: a newest-first read is not a window to keep.
func (u *usageReader) Latest(ctx context.Context, q UsageQuery) (UsageRead, error) {
	return u.r.Usage.Latest(ctx, q)
}

// read brings what was read up to now from from; settle reads the whole
// tail again (the last deliveryDelay), so that nothing delivered by now is
// missing. It reports whether the tail was read again.
func (u *usageReader) read(ctx context.Context, from, now time.Time, settle bool) (bool, error) {
	from = from.Truncate(time.Second)
	old := now.Add(-u.r.UsagePolicy.orDefaults().DeliveryDelay).Truncate(time.Second)
	hi := now.Truncate(time.Second)
	switch {
	case u.hi.IsZero() || from.Before(u.lo) && u.lo.After(old):
		// Nothing read yet, or earlier than read and what was read is all
		// recent: read it all.
		got, err := u.r.Usage.Uses(ctx, from, now)
		if err != nil {
			return false, err
		}
		u.lo, u.final, u.hi, u.uses = from, later(from, old), hi, got
		return true, nil
	case from.Before(u.lo):
		// Earlier than read: that part is old, so complete at once.
		got, err := u.r.Usage.Uses(ctx, from, u.lo)
		if err != nil {
			return false, err
		}
		u.lo, u.uses = from, append(got, u.uses...)
	}
	if !hi.After(u.hi) && !settle && !old.After(u.final) {
		return false, nil
	}
	if settle || u.tailEvents(old) < tailPage {
		if err := u.replace(ctx, u.final, now); err != nil {
			return false, err
		}
		u.final, u.hi = later(u.final, old), hi
		return true, nil
	}
	if old.After(u.final) {
		if err := u.replace(ctx, u.final, old); err != nil {
			return false, err
		}
		u.final = old
	}
	if err := u.replace(ctx, later(u.hi, u.final), now); err != nil {
		return false, err
	}
	u.hi = hi
	return false, nil
}

// tailEvents estimates the calls of [old, hi), the part a read of [final,
// now) would read again: what was read of it, or, since CloudTrail may not
// have delivered it yet, what the same length of complete reading before
// final held, scaled.
func (u *usageReader) tailEvents(old time.Time) int {
	tail := u.hi.Sub(later(u.final, old))
	seen := len(between(u.uses, later(u.final, old), u.hi.Add(time.Second)))
	start := later(u.lo, u.final.Add(-tail))
	if span := u.final.Sub(start); span > 0 && tail > 0 {
		seen = max(seen, int(float64(len(between(u.uses, start, u.final)))*float64(tail)/float64(span)))
	}
	return seen
}

// replace reads [from, to) again and puts what it holds in place of what
// was read of it.
func (u *usageReader) replace(ctx context.Context, from, to time.Time) error {
	got, err := u.r.Usage.Uses(ctx, from, to)
	if err != nil {
		return err
	}
	i := sort.Search(len(u.uses), func(i int) bool { return !u.uses[i].Time.Before(from) })
	j := sort.Search(len(u.uses), func(j int) bool { return !u.uses[j].Time.Before(to) })
	u.uses = slices.Concat(u.uses[:i], got, u.uses[j:])
	return nil
}

// poll reads [from, now) every pollInterval until judge says done or
// deadline passes, each time only what it has not read (read). eager reads
// the tail again on every poll (proof of use: a call CloudTrail delivers
// late is seen on the next poll, not deliveryDelay later; the wait starts
// at the switch, so the tail is short). With settle, a done judged on a
// read that did not read the tail again is judged again after one that
// does: a wait that ends on an absence (the quiet period) sees every call
// delivered by then, as a full read would. It is a wait: it
// writes nothing and lets the lease lapse (see lease), so the step after it
// takes the lease again. Each look that judge does not call done is
// reported to wt with seen's words for it. The last lookup error (or
// errUsageTimeout) is returned on the deadline.
func (u *usageReader) poll(ctx context.Context, from, deadline time.Time, eager, settle bool, judge func(uses []Use, now time.Time) bool,
	wt *waiter, seen func(uses []Use, now time.Time) string) error {
	r := u.r
	pol := r.UsagePolicy.orDefaults()
	var last error
	for {
		now := r.Clock.Now()
		settled, err := u.read(ctx, from, now, eager)
		done := err == nil && judge(between(u.uses, from, now.Add(time.Second)), now)
		if done && settle && !settled {
			_, err = u.read(ctx, from, now, true)
			done = err == nil && judge(between(u.uses, from, now.Add(time.Second)), now)
		}
		if done {
			return nil
		}
		shown := "CloudTrail could not be read; it is never read as unused"
		if err != nil {
			last = fmt.Errorf("look up SCIM calls in CloudTrail: %w", err)
			r.Log.Warn("usage lookup failed; waiting, never reading it as unused")
		} else {
			shown = seen(between(u.uses, from, now.Add(time.Second)), now)
		}
		if !now.Before(deadline) {
			if last == nil {
				last = errUsageTimeout
			}
			return last
		}
		wait := min(pol.PollInterval, max(deadline.Sub(now), time.Millisecond))
		if err := r.sleepReporting(ctx, wait, func(next time.Time) { wt.poll(shown, next) }); err != nil {
			return err
		}
	}
}

// oldUse is an old token's use seen where only the new one may be used.
type oldUse struct {
	target string
	use    TokenUse
}

// proveNewInUse is R1, before promotion. It returns a non-nil *oldUse when
// a canary target's IdP still sends the old token. It gives up
// confirmTimeout after it began (as recorded by a bounded run that left it),
// and leaves the wait to the next run (*waitLeft) rather than pass deadline
// (zero: none; deadline.go).
//
// A canary's own calls fall between its trigger (CanaryAt, on a fresh
// second) and the end of the second in which its confirmation saw it synced
// (CanaryDone): in that window there must be a call with the new token and
// none with the old one. Calls outside it (another target not yet switched,
// a sync job) say nothing about this IdP.
func (u *usageReader) proveNewInUse(ctx context.Context, rot *rotation, deadline time.Time) (*oldUse, error) {
	if u == nil {
		return nil, nil
	}
	r := u.r
	pol := r.UsagePolicy.orDefaults()
	first, _ := switchTimes(rot)
	newID, oldID := rot.newRec.ID, rot.oldID
	var found *oldUse
	var silent []string
	began := rot.progress.waitBegan(waitProveUse, "", r.Clock.Now())
	own := began.Add(r.ConfirmTimeout)
	until, cut := bounded(own, deadline)
	var beyond time.Time // a canary's window ends past the deadline
	err := r.step(ctx, "prove use", "", "wait for CloudTrail to show the new token "+newID+" in use", func() error {
		then := "the run ends with nothing promoted or deleted, both tokens kept; the next run waits again"
		if cut {
			then = "the wait is left to the next run (this run's deadline); nothing is promoted or deleted"
		}
		wt := r.newWait("prove use", "", Wait{For: "CloudTrail to show a client other than scim-rotator using the new token " + newID,
			Since: first, Deadline: until, Then: then})
		seen := func(uses []Use, _ time.Time) string { return useWords(uses, first, newID, oldID) }
		err := u.poll(ctx, first, until, true, false, func(uses []Use, now time.Time) bool {
			var done bool
			found, silent, beyond, done = judgeProof(rot, uses, now, first, pol.DeliveryDelay, cut, deadline)
			return done
		}, wt, seen)
		if !beyond.IsZero() || cut && errors.Is(err, errUsageTimeout) {
			return leftProof(newID, began, beyond, own, deadline)
		}
		return err
	})
	switch {
	case err != nil:
		return nil, err
	case len(silent) > 0:
		return nil, fmt.Errorf("CloudTrail shows no SCIM call with the new token while the canary of %s was being provisioned, although it reported the canary synced", strings.Join(silent, ", "))
	}
	return found, nil
}

// judgeProof is proof of use's judge (proveNewInUse) of the calls seen at
// now: an old token's use in a canary's window (found), canaries whose
// window showed no call with the new token (silent), a canary window whose
// proof would come past a bounded run's deadline (beyond), or the new token
// used since first; done ends the wait.
func judgeProof(rot *rotation, uses []Use, now, first time.Time, delay time.Duration, cut bool, deadline time.Time) (found *oldUse, silent []string, beyond time.Time, done bool) {
	newID, oldID := rot.newRec.ID, rot.oldID
	for _, tp := range rot.progress.Targets {
		if tp.CanaryAt.IsZero() || tp.CanaryDone.IsZero() {
			continue
		}
		end := tp.CanaryDone.Truncate(time.Second).Add(time.Second)
		in := summarize(between(uses, tp.CanaryAt, end), tp.CanaryAt)
		if o := in[oldID]; oldID != "" && o != nil {
			return &oldUse{target: tp.Name, use: *o}, nil, time.Time{}, true
		}
		if proof := end.Add(delay); now.Before(proof) {
			if cut && proof.After(deadline) {
				return nil, nil, proof, true
			}
			return nil, nil, time.Time{}, false // the old token's absence is not yet proof
		}
		if in[newID] == nil {
			silent = append(silent, tp.Name)
		}
	}
	if len(silent) > 0 {
		return nil, silent, time.Time{}, true
	}
	return nil, nil, time.Time{}, summarize(uses, first)[newID] != nil
}

// useWords says what the calls since from show of the new and the old
// token (either may be ""), for a wait's progress: each one's last use, by
// whom and from where.
func useWords(uses []Use, from time.Time, newID, oldID string) string {
	sum := summarize(uses, from)
	var parts []string
	for _, tok := range []struct{ role, id string }{{"new", newID}, {"old", oldID}} {
		if tok.id == "" {
			continue
		}
		if u := sum[tok.id]; u != nil {
			parts = append(parts, fmt.Sprintf("the %s token %s last used at %s by %q from %s (%s since %s)",
				tok.role, tok.id, stamp(u.Last), u.UserAgent, orUnknown(u.SourceIP), callCount(u.Calls), stamp(from)))
		} else {
			parts = append(parts, fmt.Sprintf("the %s token %s not used since %s", tok.role, tok.id, stamp(from)))
		}
	}
	return strings.Join(parts, "; ")
}

// between keeps the uses in [from, to) at CloudTrail's second precision.
func between(uses []Use, from, to time.Time) []Use {
	from, to = from.Truncate(time.Second), to.Truncate(time.Second)
	var out []Use
	for _, u := range uses {
		if !u.Time.Before(from) && u.Time.Before(to) {
			out = append(out, u)
		}
	}
	return out
}

// switchTimes are the first and the last time a target was switched to the
// new token (the rotation's start when none is recorded).
func switchTimes(rot *rotation) (first, last time.Time) {
	for _, tp := range rot.progress.Targets {
		t := tp.SwitchedAt
		if t.IsZero() {
			t = tp.PushedAt
		}
		if t.IsZero() {
			continue
		}
		if first.IsZero() || t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}
	if first.IsZero() {
		first, last = rot.progress.StartedAt, rot.progress.StartedAt
	}
	return first, last
}

// awaitOldQuiet is R2, before the old token's deletion: nil once the old
// token has gone quiet; a *TokenUse naming its callers when it has not by
// confirmTimeout after the last switch. Rather than pass deadline (zero:
// none) it leaves the wait to the next run (*waitLeft; deadline.go), at
// once when the quiet period cannot end before it.
func (u *usageReader) awaitOldQuiet(ctx context.Context, rot *rotation, deadline time.Time) (*TokenUse, error) {
	if u == nil || rot.oldID == "" {
		return nil, nil
	}
	r := u.r
	pol := r.UsagePolicy.orDefaults()
	_, lastSwitch := switchTimes(rot)
	own := lastSwitch.Add(r.ConfirmTimeout)
	until, cut := bounded(own, deadline)
	var inUse *TokenUse
	quietAt := lastSwitch.Add(pol.QuietPeriod + pol.DeliveryDelay) // when it can end, as last seen
	quietFrom := func(uses []Use) time.Time {
		start := lastSwitch
		inUse = summarize(uses, lastSwitch)[rot.oldID]
		if inUse != nil {
			start = inUse.Last.Add(time.Second)
		}
		return start.Add(pol.QuietPeriod + pol.DeliveryDelay)
	}
	err := r.step(ctx, "quiet", "", fmt.Sprintf("wait until CloudTrail shows no use of the old token %s for %s", rot.oldID, pol.QuietPeriod), func() error {
		if cut && quietAt.After(deadline) {
			// Nothing CloudTrail holds could end it sooner: not even read.
			return leftQuiet(rot.oldID, pol, nil, quietAt, own, deadline)
		}
		then := "the old token is kept: the run ends OldTokenInUse naming its callers if it was used, else Interrupted and a later run deletes it"
		if cut {
			then = "the wait is left to the next run (this run's deadline); the old token is kept"
		}
		wt := r.newWait("quiet", "", Wait{
			For:   fmt.Sprintf("CloudTrail to show no use of the old token %s for quietPeriod (%s) plus deliveryDelay (%s)", rot.oldID, pol.QuietPeriod, pol.DeliveryDelay),
			Since: lastSwitch, Deadline: until, Then: then})
		seen := func(uses []Use, _ time.Time) string {
			return fmt.Sprintf("%s; quiet enough at %s at the earliest", useWords(uses, lastSwitch, "", rot.oldID), stamp(quietFrom(uses)))
		}
		stop := false
		err := u.poll(ctx, lastSwitch, until, false, true, func(uses []Use, now time.Time) bool {
			quietAt = quietFrom(uses)
			stop = cut && quietAt.After(deadline)
			return stop || !now.Before(quietAt)
		}, wt, seen)
		if stop || cut && errors.Is(err, errUsageTimeout) {
			return leftQuiet(rot.oldID, pol, inUse, quietAt, own, deadline)
		}
		return err
	})
	switch {
	case err == nil:
		return nil, nil
	case errors.Is(err, errUsageTimeout) && inUse != nil:
		return inUse, nil
	case errors.Is(err, errUsageTimeout):
		// Not seen, but the quiet window has not ended: a later run finishes.
		return nil, Transient(fmt.Errorf("the old token %s has not been quiet for quietPeriod (%s) plus deliveryDelay (%s) yet", rot.oldID, pol.QuietPeriod, pol.DeliveryDelay))
	}
	return nil, err
}

// preflightUsage makes sure proof of use will be possible before a token is
// created: a denied lookup now would strand the rotation later.
func (r *Rotator) preflightUsage(ctx context.Context) error {
	if r.Usage == nil {
		return nil
	}
	now := r.Clock.Now()
	_, err := r.Usage.Uses(ctx, now.Add(-time.Minute), now)
	if err != nil {
		return fmt.Errorf("look up SCIM calls in CloudTrail (needed to prove the new token is used before the old one is deleted): %w", err)
	}
	return nil
}

// observePages is the page budget of the 90-day lookup for two unrecorded
// tokens: 100k events, about 17 minutes at LookupEvents' pace. It stops
// sooner once both tokens are seen in use.
const observePages = 2000

// observeUsage adds the last 90 days of use to obs where the plan needs it
// (R4: two tokens, nothing recorded). It reads newest first and stops once
// both tokens are seen in use; a read that reaches its budget first cannot
// say that one of them was unused for 90 days. A failed or unfinished
// lookup leaves the plan as without it: blocked.
func (r *Rotator) observeUsage(ctx context.Context, obs *Observed) {
	if !r.lookbackNeeded(*obs) {
		return
	}
	now := r.Clock.Now()
	ids := []string{obs.Tokens[0].ID, obs.Tokens[1].ID}
	read, err := latestUses(ctx, r.Usage, UsageQuery{From: now.Add(-90 * 24 * time.Hour), To: now, Pages: observePages}, ids, time.Time{})
	if err != nil {
		r.Log.Warn("look up token use for two unrecorded tokens; staying blocked", zap.Error(err))
		return
	}
	sum := summarize(read.Uses, time.Time{})
	if !read.Complete && (sum[ids[0]] == nil || sum[ids[1]] == nil) {
		r.Log.Warn(fmt.Sprintf("two unrecorded tokens: CloudTrail was read back to %s (%d events, the budget of %d pages) without seeing both in use, so which one has been unused for 90 days is unknown; staying blocked (record the live token with `%s`)",
			stamp(read.Since), read.Events, observePages, stageCurrentCmd))
		return
	}
	obs.Usage = map[string]TokenUse{}
	for id, u := range sum {
		obs.Usage[id] = *u
	}
}

// lookbackNeeded reports whether the plan needs the tokens' use (R4).
func (r *Rotator) lookbackNeeded(obs Observed) bool {
	st := obs.Store
	return r.Usage != nil && !r.manual() && st.Current == nil && st.Pending == nil && len(obs.Tokens) == 2
}

// latestUses reads q newest first until every token in ids has been seen in
// use and the read has reached back before back (zero: anywhere), or q's
// budget.
func latestUses(ctx context.Context, src UsageSource, q UsageQuery, ids []string, back time.Time) (UsageRead, error) {
	seen := map[string]bool{}
	q.Enough = func(page []Use) bool {
		for _, u := range page {
			if counts(u) {
				seen[u.TokenID] = true
			}
		}
		if !back.IsZero() && (len(page) == 0 || !page[len(page)-1].Time.Before(back)) {
			return false
		}
		for _, id := range ids {
			if !seen[id] {
				return false
			}
		}
		return true
	}
	return src.Latest(ctx, q)
}

// reportUsage passes each role's last use to the observer.
func (r *Rotator) reportUsage(sum map[string]*TokenUse, roles map[string]string) {
	if r.Observer == nil {
		return
	}
	for role, id := range roles {
		var t time.Time
		if u := sum[id]; u != nil && id != "" {
			t = u.Last
		}
		r.Observer.TokenLastUsed(role, t)
	}
}

// UsagePages is the page budget of a newest-first read that looks for each
// token's last use (`status`, `check`, the daemon's last-use metrics): 20
// pages of 50 events, about 10 seconds at LookupEvents' pace. Past it they
// say "not seen in the last N events, since T", never "unused".
const UsagePages = 20
