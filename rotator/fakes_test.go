package rotator

import (
	"context"
	"errors"
	"fmt"
	"github.com/robfig/cron/v3"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// world is a small in-memory universe for core tests: an issuer with the
// two-token limit, a store with stage semantics, targets that hold a token,
// and a SCIM endpoint that accepts only live tokens. It checks the
// invariants the rotator promises on every call.
type world struct {
	mu      sync.Mutex
	now     time.Time
	tokens  map[string]*fakeToken
	seq     int
	created int
	maxHeld int
	// violations are broken invariants seen during the test.
	violations []string

	store   storeData
	targets []*fakeTarget

	// fail returns an error to inject for a call ("issuer.CreateToken", ...).
	fail func(call string) error
	// killAt, when > 0, kills the run (runtime.Goexit) at that mutating call;
	// killAfter makes the call take effect first.
	killAt    int
	killAfter bool
	mutations int
	timers    []fakeTimer
	dying     bool
	releases  int
	// uses are the SCIM calls Identity Center logged; forgotten is a token
	// value some client keeps using at every lookup.
	uses          []Use
	usagePages    int
	forgotten     string
	forgottenNext time.Time
	// writes counts the store versions written (state records and tokens);
	// holds the state-record writes.
	writes, holds int
}

type fakeToken struct {
	TokenInfo
	value string
}

type storeData struct {
	versions map[string]*Record
	stages   map[string]string // stage -> version id
	progress *Progress
	lock     LockInfo
	// record numbers the state record's versions: a write is a
	// compare-and-swap against the one a store last read or wrote.
	record int
}

func newWorld() *world {
	w := &world{now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC), tokens: map[string]*fakeToken{}}
	w.store = storeData{versions: map[string]*Record{}, stages: map[string]string{}}
	return w
}

// seed adds an existing token created at created; returns its id and value.
func (w *world) seed(created time.Time) (string, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	t := &fakeToken{TokenInfo{ID: fmt.Sprintf("tok-%d", w.seq), Created: created, Expires: created.AddDate(1, 0, 0)}, fmt.Sprintf("LEAKCANARY-value-%d", w.seq)}
	w.tokens[t.ID] = t
	w.maxHeld = max(w.maxHeld, len(w.tokens))
	return t.ID, t.value
}

func (w *world) addTarget(name string) *fakeTarget {
	t := &fakeTarget{w: w, name: name}
	w.targets = append(w.targets, t)
	return t
}

// valid reports whether the SCIM endpoint accepts value.
func (w *world) valid(value string) bool {
	for _, t := range w.tokens {
		if t.value == value && t.Expires.After(w.now) {
			return true
		}
	}
	return false
}

// enter is called at the start of every fake call. mutating calls count
// toward killAt.
func (w *world) enter(call string, mutating bool) (after func(), err error) {
	w.mu.Lock()
	kill := false
	if mutating {
		w.mutations++
		kill = w.killAt > 0 && w.mutations == w.killAt
	}
	fail := w.fail
	w.mu.Unlock()
	if kill && !w.killAfter {
		w.die()
	}
	if fail != nil {
		if err := fail(call); err != nil {
			return func() {}, err
		}
	}
	if kill {
		return w.die, nil
	}
	return func() {}, nil
}

// state is everything a run can change, to compare before and after a run
// that must change nothing (lock calls aside).
func (w *world) state() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	ids := make([]string, 0, len(w.tokens))
	for id := range w.tokens {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	fmt.Fprintf(&b, "tokens=%v stages=%v ", ids, w.store.stages)
	if p := w.store.progress; p != nil {
		fmt.Fprintf(&b, "progress=%s/%s/%v/%v ", p.RotationID, p.Phase, p.Targets, p.UpdatedAt)
	}
	for _, t := range w.targets {
		fmt.Fprintf(&b, "%s=%s/%d ", t.name, t.held, t.pushes)
	}
	return b.String()
}

// die ends the run like kill -9: no deferred clean-up reaches the fakes
// (the store's lock stays held until it expires).
func (w *world) die() {
	w.mu.Lock()
	w.dying = true
	w.mu.Unlock()
	runtime.Goexit()
}

// checkInvariant: every target holds a token the SCIM endpoint accepts.
func (w *world) checkInvariant(when string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, t := range w.targets {
		if t.held != "" && !w.valid(t.held) {
			w.violations = append(w.violations, fmt.Sprintf("%s: target %s holds a token the SCIM endpoint refuses", when, t.name))
		}
	}
}

// --- issuer ---

type fakeIssuer struct{ w *world }

func (f fakeIssuer) Tokens() TokenAPI { return f }

// listVia is an issuer whose token API lists with list and does the rest
// through Issuer's: the tests' way to make ListTokens hang, wait or panic.
type listVia struct {
	Issuer
	list func(context.Context) ([]TokenInfo, error)
}

func (l listVia) Tokens() TokenAPI                                    { return l }
func (l listVia) ListTokens(ctx context.Context) ([]TokenInfo, error) { return l.list(ctx) }
func (l listVia) CreateToken(ctx context.Context) (Token, error) {
	return l.Issuer.Tokens().CreateToken(ctx)
}
func (l listVia) DeleteToken(ctx context.Context, id string) error {
	return l.Issuer.Tokens().DeleteToken(ctx, id)
}

// manualIssuer is the fake issuer without its token API (issuer manual).
type manualIssuer struct{ fakeIssuer }

func (manualIssuer) Tokens() TokenAPI { return nil }

func (f fakeIssuer) Tenant(context.Context) (Tenant, error) {
	return Tenant{ID: "tenant-1", SCIMEndpoint: "https://scim.example/tenant-1/scim/v2/"}, nil
}

func (f fakeIssuer) ListTokens(context.Context) ([]TokenInfo, error) {
	w := f.w
	after, err := w.enter("issuer.ListTokens", false)
	defer after()
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []TokenInfo
	for _, t := range w.tokens {
		out = append(out, t.TokenInfo)
	}
	slices.SortFunc(out, func(a, b TokenInfo) int { return a.Created.Compare(b.Created) })
	return out, nil
}

var errQuota = errors.New("ServiceQuotaExceededException: two tokens already exist")

func (f fakeIssuer) CreateToken(context.Context) (Token, error) {
	w := f.w
	after, err := w.enter("issuer.CreateToken", true)
	defer after()
	if err != nil {
		return Token{}, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.tokens) >= 2 {
		w.violations = append(w.violations, "CreateToken called with two tokens held")
		return Token{}, errQuota
	}
	w.seq++
	w.created++
	t := &fakeToken{TokenInfo{ID: fmt.Sprintf("tok-%d", w.seq), Created: w.now, Expires: w.now.AddDate(1, 0, 0)}, fmt.Sprintf("LEAKCANARY-value-%d", w.seq)}
	w.tokens[t.ID] = t
	w.maxHeld = max(w.maxHeld, len(w.tokens))
	return Token{TokenInfo: t.TokenInfo, Value: NewSecret(t.value)}, nil
}

func (f fakeIssuer) DeleteToken(_ context.Context, id string) error {
	w := f.w
	after, err := w.enter("issuer.DeleteToken", true)
	defer after()
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.tokens[id]
	if !ok {
		return nil
	}
	for _, tg := range w.targets {
		if tg.held == t.value && t.Expires.After(w.now) {
			w.violations = append(w.violations, fmt.Sprintf("deleted token %s while target %s uses it", id, tg.name))
		}
	}
	delete(w.tokens, id)
	return nil
}

// --- prover ---

type fakeProver struct{ w *world }

func (f fakeProver) ProveToken(_ context.Context, c Credential) error {
	after, err := f.w.enter("prover.ProveToken", false)
	defer after()
	if err != nil {
		return err
	}
	f.w.mu.Lock()
	defer f.w.mu.Unlock()
	if !f.w.valid(c.Token.Reveal()) {
		return fmt.Errorf("scim answered 401: %w", ErrTokenRejected)
	}
	f.w.logUse(c.Token.Reveal(), UserAgentPrefix+"test") // never counts as use
	return nil
}

// --- store ---

// fakeStore is one process's view of the world's store: base is the state
// record it last read or wrote.
type fakeStore struct {
	w    *world
	base *int
}

func newFakeStore(w *world) fakeStore { return fakeStore{w: w, base: new(int)} }

// load reads the store as a process of its own would.
func (w *world) load() StoreState {
	st, _ := newFakeStore(w).Load(context.Background())
	return st
}

func (f fakeStore) Load(context.Context) (StoreState, error) {
	w := f.w
	after, err := w.enter("store.Load", false)
	defer after()
	if err != nil {
		return StoreState{}, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.store
	var st StoreState
	get := func(stage string) *Record {
		if id, ok := s.stages[stage]; ok {
			r := *s.versions[id]
			return &r
		}
		return nil
	}
	st.Current = get(StageCurrent)
	if p := get(StagePending); p != nil && s.stages[StagePending] != s.stages[StageCurrent] {
		st.Pending = p
	}
	if s.progress != nil {
		p := *s.progress
		p.Targets = slices.Clone(p.Targets)
		st.Progress = &p
	}
	st.Lock = s.lock
	*f.base = s.record
	return st, nil
}

func (f fakeStore) PutPending(_ context.Context, id string, rec Record) error {
	w := f.w
	after, err := w.enter("store.PutPending", true)
	defer after()
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if old, ok := w.store.versions[id]; ok {
		if !old.Value.Equal(rec.Value) {
			return errors.New("ResourceExistsException: same ClientRequestToken, different value")
		}
	}
	rec.VersionID = id
	w.store.versions[id] = &rec
	w.store.stages[StagePending] = id
	w.writes++
	return nil
}

func (f fakeStore) Promote(_ context.Context, id string) error {
	w := f.w
	after, err := w.enter("store.Promote", true)
	defer after()
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.store.stages[StageCurrent] != id {
		if cur, ok := w.store.stages[StageCurrent]; ok {
			w.store.stages[StagePrevious] = cur
		}
		w.store.stages[StageCurrent] = id
	}
	if w.store.stages[StagePending] == id {
		delete(w.store.stages, StagePending)
	}
	return nil
}

func (f fakeStore) DiscardPending(_ context.Context, id string) error {
	w := f.w
	after, err := w.enter("store.DiscardPending", true)
	defer after()
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.store.stages[StagePending] == id {
		delete(w.store.stages, StagePending)
	}
	return nil
}

func (f fakeStore) PutCurrent(_ context.Context, rec Record) error {
	w := f.w
	after, err := w.enter("store.PutCurrent", true)
	defer after()
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	id := newID()
	rec.VersionID = id
	w.store.versions[id] = &rec
	w.writes++
	if cur, ok := w.store.stages[StageCurrent]; ok {
		w.store.stages[StagePrevious] = cur
	}
	w.store.stages[StageCurrent] = id
	return nil
}

func (f fakeStore) RevealHint(stage string) string { return "fake-cli get --stage " + stage }

// Hold is a compare-and-swap on the state record's number, as the label
// move is.
func (f fakeStore) Hold(_ context.Context, req LockRequest) error {
	w := f.w
	after, err := w.enter("store.Hold", true)
	defer after()
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if l := w.store.lock; l.Held(req.Now) && l.Owner != req.Owner {
		return fmt.Errorf("hold lock: %w", &BusyError{Lock: l})
	}
	if w.store.record != *f.base {
		return fmt.Errorf("hold lock: record %d, read %d: %w", w.store.record, *f.base, ErrLockLost)
	}
	acquired := req.Now
	if w.store.lock.Owner == req.Owner {
		acquired = w.store.lock.Acquired
	}
	w.store.lock = LockInfo{Owner: req.Owner, Acquired: acquired, Expires: req.Until}
	if req.Release {
		w.store.lock = LockInfo{}
	}
	if req.Progress != nil {
		p := *req.Progress
		p.Targets = slices.Clone(p.Targets)
		w.store.progress = &p
	}
	w.store.record++
	*f.base = w.store.record
	w.writes++
	w.holds++
	return nil
}

func (f fakeStore) Release(_ context.Context, owner string) error {
	w := f.w
	w.mu.Lock()
	defer w.mu.Unlock()
	w.releases++
	if w.dying {
		return nil // a killed process releases nothing
	}
	if w.store.lock.Owner == owner && w.store.record == *f.base {
		w.store.lock = LockInfo{}
	}
	return nil
}

// --- target ---

type fakeTarget struct {
	w       *world
	name    string
	held    string
	handoff bool
	pushes  int
	// asHolder makes the harness expose the target as a Holder (it can show
	// which token it holds, as the secretsmanager target can).
	asHolder bool
	// onConfirm, if set, runs at the start of Confirm with its context.
	onConfirm func(ctx context.Context) error
	// canary gives it Abilities.Canary; sendsOld, when set, is the token value
	// its syncs really send (an IdP that did not save the new one).
	canary   bool
	sendsOld string
	// watcher makes the harness expose it as watching its hand-off (handoff_test.go).
	watcher bool
	// looks are what Confirm reports of the looks it makes before its sync
	// (ConfirmRequest.Report), a minute apart.
	looks []string
	// syncAt, when set, is when its sync lands: Confirm waits for it on the
	// fake clock until its request's deadline (an Entra cycle). asks are
	// the confirmations it was asked for.
	syncAt time.Time
	asks   []ConfirmRequest
}

// holdingTarget is a fakeTarget that can show what it holds.
type holdingTarget struct{ *fakeTarget }

func (t holdingTarget) Holds(_ context.Context, c Credential) (bool, error) {
	t.w.mu.Lock()
	defer t.w.mu.Unlock()
	return t.held == c.Token.Reveal(), nil
}

func (t *fakeTarget) Name() string { return t.name }

func (t *fakeTarget) Validate(_ context.Context, c Credential) error {
	after, err := t.w.enter("target."+t.name+".Validate", false)
	defer after()
	if err != nil {
		return err
	}
	t.w.mu.Lock()
	defer t.w.mu.Unlock()
	if !t.w.valid(c.Token.Reveal()) {
		return fmt.Errorf("%s test connection: unauthorized: %w", t.name, ErrTokenRejected)
	}
	return nil
}

func (t *fakeTarget) Push(_ context.Context, c Credential) (PushResult, error) {
	if t.handoff {
		return PushResult{Handoff: &Handoff{ConsoleURL: "https://console.example/" + t.name, Steps: []string{"paste it", "save"}}}, nil
	}
	after, err := t.w.enter("target."+t.name+".Push", true)
	defer after()
	if err != nil {
		return PushResult{}, err
	}
	t.w.mu.Lock()
	defer t.w.mu.Unlock()
	t.held = c.Token.Reveal()
	t.pushes++
	return PushResult{}, nil
}

func (t *fakeTarget) DescribeHandoff(context.Context) (*Handoff, error) {
	return &Handoff{ConsoleURL: "https://console.example/" + t.name, Steps: []string{"paste it", "save"}}, nil
}

func (t *fakeTarget) Test(_ context.Context, c Credential) error {
	after, err := t.w.enter("target."+t.name+".Test", true)
	defer after()
	if err != nil {
		return err
	}
	t.w.mu.Lock()
	defer t.w.mu.Unlock()
	if t.held != c.Token.Reveal() || !t.w.valid(t.held) {
		return fmt.Errorf("%s does not hold a working token", t.name)
	}
	return nil
}

func (t *fakeTarget) Confirm(ctx context.Context, req ConfirmRequest) error {
	if t.onConfirm != nil {
		if err := t.onConfirm(ctx); err != nil {
			return err
		}
	}
	t.w.mu.Lock()
	t.asks = append(t.asks, req)
	t.w.mu.Unlock()
	if err := t.awaitSync(ctx, req.Deadline); err != nil {
		return err
	}
	after, err := t.w.enter("target."+t.name+".Confirm", true)
	defer after()
	if err != nil {
		return err
	}
	clock := fakeClock{t.w}
	for _, look := range t.looks {
		req.Report(look, clock.Now().Add(time.Minute))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-clock.After(time.Minute):
		}
	}
	t.w.mu.Lock()
	defer t.w.mu.Unlock()
	if !t.w.valid(t.held) {
		return fmt.Errorf("%s sync failed: %w", t.name, ErrTokenRejected)
	}
	// The sync is a SCIM call Identity Center logs, with the token the
	// target really sends.
	sent := t.held
	if t.sendsOld != "" {
		sent = t.sendsOld
	}
	t.w.logUse(sent, "idp-"+t.name)
	return nil
}

// awaitSync waits on the fake clock for syncAt (when set) until deadline,
// looking at least once, as the targets' confirmations do.
func (t *fakeTarget) awaitSync(ctx context.Context, deadline time.Time) error {
	clock := fakeClock{t.w}
	for !t.syncAt.IsZero() {
		now := clock.Now()
		switch {
		case !now.Before(t.syncAt):
			return nil
		case !now.Before(deadline):
			return fmt.Errorf("%s: no sync yet: %w", t.name, ErrConfirmTimeout)
		}
		wake := t.syncAt
		if deadline.Before(wake) {
			wake = deadline
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-clock.After(wake.Sub(now)):
		}
	}
	return nil
}

func (t *fakeTarget) Abilities() Abilities { return Abilities{Canary: t.canary} }

func (w *world) idOf(v string) string {
	for _, t := range w.tokens {
		if t.value == v {
			return t.ID
		}
	}
	return ""
}

// logUse records a SCIM call authenticated by the token with value v (w.mu held).
func (w *world) logUse(v, agent string) {
	for _, tok := range w.tokens {
		if tok.value == v {
			w.uses = append(w.uses, Use{TokenID: tok.ID, Time: w.now, EventName: "ListUsers", UserAgent: agent, SourceIP: "10.0.0.1"})
		}
	}
}

// fakeUsage is CloudTrail: the world's SCIM calls, each visible once
// delivery has passed.
type fakeUsage struct {
	w        *world
	delivery time.Duration
}

func (f fakeUsage) Uses(_ context.Context, from, to time.Time) ([]Use, error) {
	after, err := f.w.enter("usage.Uses", false)
	defer after()
	if err != nil {
		return nil, err
	}
	f.w.mu.Lock()
	defer f.w.mu.Unlock()
	// The forgotten client calls once a minute.
	for ; f.w.forgotten != "" && !f.w.forgottenNext.After(f.w.now); f.w.forgottenNext = f.w.forgottenNext.Add(time.Minute) {
		u := Use{TokenID: f.w.idOf(f.w.forgotten), Time: f.w.forgottenNext, UserAgent: "forgotten-job/1.0", SourceIP: "10.9.9.9"}
		if u.TokenID == "" {
			// A token Identity Center no longer has: refused, with no id.
			u.ErrorCode = "AccessDeniedException"
		}
		f.w.uses = append(f.w.uses, u)
	}
	var out []Use
	for _, u := range f.w.uses {
		u.Time = u.Time.Truncate(time.Second) // CloudTrail's precision
		if !u.Time.Before(from.Truncate(time.Second)) && u.Time.Before(to) && !f.w.now.Before(u.Time.Add(f.delivery)) {
			out = append(out, u)
		}
	}
	return out, nil
}

// Latest pages the calls Uses returns newest first, 50 a page, as
// CloudTrail does.
func (f fakeUsage) Latest(ctx context.Context, q UsageQuery) (UsageRead, error) {
	uses, err := f.Uses(ctx, q.From, q.To)
	if err != nil {
		return UsageRead{}, err
	}
	read := latestOf(uses, q)
	f.w.mu.Lock()
	f.w.usagePages += read.Pages
	f.w.mu.Unlock()
	return read, nil
}

// latestOf reads uses (oldest first) as LookupEvents would: newest first,
// 50 a page, within q's budget and until q.Enough.
func latestOf(uses []Use, q UsageQuery) UsageRead {
	uses = slices.Clone(uses)
	slices.SortStableFunc(uses, func(a, b Use) int { return a.Time.Compare(b.Time) })
	read := UsageRead{Complete: true, Since: q.From.Truncate(time.Second)}
	for end := len(uses); ; {
		if q.Pages > 0 && read.Pages == q.Pages {
			read.Complete, read.Since = false, uses[end].Time
			break
		}
		start := max(end-50, 0)
		page := slices.Clone(uses[start:end])
		slices.Reverse(page)
		read.Pages++
		read.Events += len(page)
		if start == 0 {
			break
		}
		end = start
		if q.Enough != nil && q.Enough(page) {
			read.Complete, read.Since = false, uses[end].Time
			break
		}
	}
	read.Uses = uses[len(uses)-read.Events:]
	return read
}

// --- clock ---

type fakeClock struct{ w *world }

func (c fakeClock) Now() time.Time {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	return c.w.now
}

// After fires once the test has advanced the clock past d (advance); it
// never moves time by itself, so a background renewal cannot spin.
func (c fakeClock) After(d time.Duration) <-chan time.Time {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.w.timers = append(c.w.timers, fakeTimer{at: c.w.now.Add(d), ch: ch})
	return ch
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

// advanceToTimer moves the clock to the first timer, if any, and fires
// the timers then due.
func (w *world) advanceToTimer() {
	w.mu.Lock()
	var first time.Time
	for _, t := range w.timers {
		if first.IsZero() || t.at.Before(first) {
			first = t.at
		}
	}
	d := first.Sub(w.now)
	w.mu.Unlock()
	if !first.IsZero() {
		w.advance(max(d, 0))
	}
}

// advance moves the clock by d and fires the timers that are due.
func (w *world) advance(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.now = w.now.Add(d)
	kept := w.timers[:0]
	for _, t := range w.timers {
		if !t.at.After(w.now) {
			t.ch <- w.now
			continue
		}
		kept = append(kept, t)
	}
	w.timers = kept
}

var testParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
