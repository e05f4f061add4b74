package secretsmanager

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/rotator"
)

var lockT0 = time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)

func lockReq(owner string, now time.Duration) rotator.LockRequest {
	return rotator.LockRequest{Owner: owner, Now: lockT0.Add(now), Until: lockT0.Add(now + 2*time.Minute)}
}

// newSecretEnv is an env whose store secret exists, with no version.
func newSecretEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	e.fake.CreateSecret(testSecret)
	return e
}

// busy asserts err is Busy naming owner until the given time.
func (e *env) busy(err error, owner string, until time.Time) {
	t := e.t
	t.Helper()
	e.note(err)
	var be *rotator.BusyError
	if !errors.As(err, &be) || !errors.Is(err, rotator.ErrBusy) {
		t.Fatalf("want Busy by %s, got %v", owner, err)
	}
	if be.Lock.Owner != owner || !be.Lock.Expires.Equal(until) || be.Lock.VersionID == "" {
		t.Fatalf("Busy names %+v, want %s until %s", be.Lock, owner, until)
	}
}

func (e *env) lost(what string, err error) {
	t := e.t
	t.Helper()
	e.note(err)
	if !errors.Is(err, rotator.ErrLockLost) || errors.Is(err, rotator.ErrBusy) {
		t.Fatalf("%s: want ErrLockLost, got %v", what, err)
	}
}

// holders returns which version carries each of the given labels.
func (e *env) holders(labels ...string) map[string]string {
	m := map[string]string{}
	for id, ls := range e.fake.Stages(testSecret) {
		for _, l := range ls {
			if slices.Contains(labels, l) {
				m[l] = id
			}
		}
	}
	return m
}

// load reads the store as a fresh process would.
func (e *env) load(s *Store) rotator.StoreState {
	e.t.Helper()
	if s == nil {
		s = e.store()
	}
	st, err := s.Load(e.t.Context())
	e.must(err)
	return st
}

func TestStateOnEmptySecret(t *testing.T) {
	e := newSecretEnv(t)
	ctx := t.Context()
	a := e.store()
	if st := e.load(a); st.Lock != (rotator.LockInfo{}) || st.Progress != nil || st.Current != nil {
		t.Fatalf("empty secret: %+v", st)
	}
	p := rotator.Progress{RotationID: rot1, Phase: rotator.PhaseCreating, StartedAt: lockT0, UpdatedAt: lockT0, PreexistingTokenIDs: []string{"tok-0"}}
	req := lockReq("run-a", 0)
	req.Progress = &p
	e.must(a.Hold(ctx, req))

	// One version, which Secrets Manager made current as the secret's first:
	// read as no current token.
	if n := e.fake.VersionCount(testSecret); n != 1 {
		t.Fatalf("%d versions, want 1", n)
	}
	st := e.load(nil)
	if st.Current != nil || st.Pending != nil || st.Progress == nil || st.Progress.RotationID != rot1 {
		t.Fatalf("after the first write: %+v", st)
	}
	if l := st.Lock; l.Owner != "run-a" || !l.Acquired.Equal(lockT0) || !l.Expires.Equal(lockT0.Add(2*time.Minute)) || l.VersionID == "" {
		t.Fatalf("lease: %+v", l)
	}
	// The documented schema.
	v, _ := e.fake.Value(testSecret, StageState)
	var rec map[string]json.RawMessage
	if err := json.Unmarshal([]byte(v), &rec); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range rec {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"kind", "lease", "rotation"}) || string(rec["kind"]) != `"scim-rotator/state"` ||
		string(rec["lease"]) != `{"owner":"run-a","acquired":"2026-03-04T05:06:00Z","expires":"2026-03-04T05:08:00Z"}` {
		t.Fatalf("state record: %s", v)
	}
	// The first rotation on it works as on an empty secret.
	e.must(a.PutPending(ctx, rot1, record("tok-1", "one")))
	e.must(a.Promote(ctx, rot1))
	sameRecord(t, "current", e.load(nil).Current, record("tok-1", "one"), rot1)
}

func TestStateBusyTakeoverRelease(t *testing.T) {
	e := newSecretEnv(t)
	ctx := t.Context()
	a, b := e.store(), e.store()
	e.load(a)
	e.must(a.Hold(ctx, lockReq("run-a", 0)))

	// Another owner while the lease runs: Busy naming the holder, nothing
	// written.
	if l := e.load(b).Lock; l.Owner != "run-a" {
		t.Fatalf("b sees %+v", l)
	}
	n := e.fake.VersionCount(testSecret)
	e.busy(b.Hold(ctx, lockReq("run-b", time.Minute)), "run-a", lockT0.Add(2*time.Minute))
	if e.fake.VersionCount(testSecret) != n {
		t.Fatal("a Busy write changed the secret")
	}
	// The holder writes again: the lease moves, the acquired time stays.
	e.must(a.Hold(ctx, lockReq("run-a", 90*time.Second)))
	if l := e.load(b).Lock; l.Owner != "run-a" || !l.Acquired.Equal(lockT0) || !l.Expires.Equal(lockT0.Add(210*time.Second)) {
		t.Fatalf("after renewal: %+v", l)
	}
	e.busy(b.Hold(ctx, lockReq("run-b", 200*time.Second)), "run-a", lockT0.Add(210*time.Second))

	// Once the lease ended, b takes over; a finds its record gone.
	e.must(b.Hold(ctx, lockReq("run-b", 210*time.Second)))
	if l := e.load(nil).Lock; l.Owner != "run-b" || !l.Acquired.Equal(lockT0.Add(210*time.Second)) {
		t.Fatalf("after takeover: %+v", l)
	}
	e.busy(a.Hold(ctx, lockReq("run-a", 215*time.Second)), "run-b", lockT0.Add(330*time.Second))
	// a releasing a lease it lost changes nothing.
	e.must(a.Release(ctx, "run-a"))
	if l := e.load(nil).Lock; l.Owner != "run-b" {
		t.Fatalf("a's release dropped b's lease: %+v", l)
	}
	// Released: no new version, and free at once.
	n = e.fake.VersionCount(testSecret)
	e.must(b.Release(ctx, "run-b"))
	e.must(b.Release(ctx, "run-b")) // twice: nothing to do
	if e.fake.VersionCount(testSecret) != n {
		t.Fatal("a release wrote a version")
	}
	if l := e.load(a).Lock; l != (rotator.LockInfo{}) {
		t.Fatalf("after release: %+v", l)
	}
	e.must(a.Hold(ctx, lockReq("run-a", 220*time.Second)))
	if l := e.load(nil).Lock; l.Owner != "run-a" {
		t.Fatalf("taken after release: %+v", l)
	}
}

// The compare-and-swap: a run that decided on a record another run has
// written since (and given up) cannot write.
func TestStateStaleDecision(t *testing.T) {
	e := newSecretEnv(t)
	ctx := t.Context()
	a, b := e.store(), e.store()
	e.load(a)
	e.load(b)
	e.must(a.Hold(ctx, lockReq("run-a", 0)))
	e.must(a.Release(ctx, "run-a"))
	at := e.holders(StageState)
	e.lost("b's write on what it read before a's", b.Hold(ctx, lockReq("run-b", time.Second)))
	if got := e.holders(StageState); fmt.Sprint(got) != fmt.Sprint(at) {
		t.Fatalf("a stale write moved the record: %v -> %v", at, got)
	}
	e.load(b) // observed again, it may write
	e.must(b.Hold(ctx, lockReq("run-b", time.Second)))
}

// Calls per operation, the labels and versions known from the process's
// own read and writes.
func TestStateCallCounts(t *testing.T) {
	e := newSecretEnv(t)
	ctx := t.Context()
	e.must(e.store().PutCurrent(ctx, record("tok-1", "one")))
	a, b := e.store(), e.store()
	calls := func(what string, want int, fn func() error) {
		t.Helper()
		e.faults.ResetCalls()
		e.must(fn())
		if got := e.faults.Calls(); len(got) != want {
			t.Fatalf("%s: %d calls %v, want %d", what, len(got), got, want)
		}
	}
	calls("load (cold)", 2, func() error { _, err := a.Load(ctx); return err }) // describe, current
	calls("take the lease", 1, func() error { return a.Hold(ctx, lockReq("run-a", 0)) })
	calls("write again", 1, func() error { return a.Hold(ctx, lockReq("run-a", time.Minute)) })
	calls("load (warm)", 1, func() error { _, err := a.Load(ctx); return err })
	calls("release", 1, func() error { return a.Release(ctx, "run-a") })
	calls("load (another process)", 3, func() error { _, err := b.Load(ctx); return err }) // describe, current, state
	calls("take a released lease", 1, func() error { return b.Hold(ctx, lockReq("run-b", time.Hour)) })
	e.load(a)
	e.faults.ResetCalls()
	e.busy(a.Hold(ctx, lockReq("run-a", time.Hour)), "run-b", lockT0.Add(time.Hour+2*time.Minute))
	if got := e.faults.Calls(); len(got) != 0 {
		t.Fatalf("busy: %d calls %v, want none", len(got), got)
	}
}

// Runs racing for the record, each its own process having read the same
// one: exactly one writes each round; every loser is told who won.
func TestStateRace(t *testing.T) {
	e := newSecretEnv(t)
	ctx := t.Context()
	const racers, rounds = 6, 12 // 72 versions: within the version quota
	for round := range rounds {
		now := time.Duration(round) * 3 * time.Minute // the last lease has ended
		stores := make([]*Store, racers)
		for i := range stores {
			stores[i] = e.store()
			e.load(stores[i])
		}
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i, s := range stores {
			wg.Go(func() { errs[i] = s.Hold(ctx, lockReq(fmt.Sprintf("run-%d-%d", round, i), now)) })
		}
		wg.Wait()
		winner := ""
		for i, err := range errs {
			e.note(err)
			if err == nil {
				if winner != "" {
					t.Fatalf("round %d: %s and run-%d-%d both won", round, winner, round, i)
				}
				winner = fmt.Sprintf("run-%d-%d", round, i)
			}
		}
		if winner == "" {
			t.Fatalf("round %d: nobody won: %v", round, errs)
		}
		for _, err := range errs {
			if err != nil {
				e.busy(err, winner, lockT0.Add(now+2*time.Minute))
			}
		}
		if l := e.load(nil).Lock; l.Owner != winner {
			t.Fatalf("round %d: lease of %q, winner %s", round, l.Owner, winner)
		}
	}
}

// Writing the record never moves AWSCURRENT, AWSPENDING or AWSPREVIOUS, and
// status reads around it.
func TestStateBesideTheTokens(t *testing.T) {
	e := newSecretEnv(t)
	ctx := t.Context()
	s := e.store()
	e.must(s.PutCurrent(ctx, record("tok-old", "old")))
	e.must(s.PutPending(ctx, rot1, record("tok-cur", "cur")))
	e.must(s.Promote(ctx, rot1))
	e.must(s.PutPending(ctx, rot2, record("tok-new", "new")))
	before := e.holders(rotator.StageCurrent, rotator.StagePending, rotator.StagePrevious)

	e.load(s)
	e.must(s.Hold(ctx, lockReq("run-a", 0)))
	e.must(s.Hold(ctx, lockReq("run-a", time.Minute)))
	o := e.store()
	e.load(o)
	e.must(o.Hold(ctx, lockReq("run-b", time.Hour)))
	if after := e.holders(rotator.StageCurrent, rotator.StagePending, rotator.StagePrevious); fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("the record moved a label: before %v, after %v", before, after)
	}
	st := e.load(nil)
	sameRecord(t, "current", st.Current, record("tok-cur", "cur"), rot1)
	sameRecord(t, "pending", st.Pending, record("tok-new", "new"), rot2)
	recordVersion := st.Lock.VersionID
	vs, err := e.store().ListVersions(ctx)
	e.must(err)
	found := false
	for _, v := range vs {
		if v.ID == recordVersion {
			found = v.TokenID == ""
		}
	}
	if !found {
		t.Fatalf("state version %s not listed without a token: %+v", recordVersion, vs)
	}
	status, err := e.store().Status(ctx)
	e.must(err)
	e.note(status)
	if want := "held by run-b since 2026-03-04T06:06:00Z until 2026-03-04T06:08:00Z (version " + recordVersion + ")"; !hasField(status, "lock", want) {
		t.Fatalf("status = %+v, want lock %q", status, want)
	}
	e.must(o.Release(ctx, "run-b"))
	status, err = e.store().Status(ctx)
	e.must(err)
	if !hasField(status, "lock", "free") {
		t.Fatalf("status after release: %+v", status)
	}
}

// A state record is never read as a token: as pending it is an error, as
// current (the secret's first version) it means "no token yet".
func TestStateVersionIsNoToken(t *testing.T) {
	body := `{"kind":"scim-rotator/state","lease":{"owner":"run-a","acquired":"2026-03-04T05:06:00Z","expires":"2026-03-04T05:08:00Z"}}`
	v, err := decode("v1", &body)
	if err != nil || v.kind != kindState || v.record != nil || v.state == nil || v.state.lock("v1", false).Owner != "run-a" {
		t.Fatalf("decode state: %+v, %v", v, err)
	}
	e := newEnv(t)
	ctx := t.Context()
	e.fake.Put(testSecret, body, StageState) // first version: AWSCURRENT too
	if st := e.load(nil); st.Current != nil || st.Lock.Owner != "run-a" {
		t.Fatalf("a state record read as the current token: %+v", st)
	}
	e.fake.Put(testSecret, body, rotator.StagePending)
	_, err = e.store().Load(ctx)
	e.note(err)
	if !errors.Is(err, ErrNotRecord) {
		t.Fatalf("a state record as pending: %v", err)
	}
	res := e.store().Check(ctx)
	e.note(res)
	if len(res) != 2 || res[1].Failed() {
		t.Fatalf("check with a state record as current: %+v", res)
	}
}

// A secret written by an earlier version keeps its progress and lock in
// versions of their own: Load reads them until the first state record, a
// live lock of an older run is Busy, and the first write carries the
// progress over.
func TestStateFromEarlierVersions(t *testing.T) {
	e := newSecretEnv(t)
	ctx := t.Context()
	e.must(e.store().PutCurrent(ctx, record("tok-1", "one")))
	e.fake.Put(testSecret, `{"kind":"scim-rotator/progress","rotationId":"`+rot1+`","phase":"Pushing","startedAt":"2026-03-04T05:00:00Z","updatedAt":"2026-03-04T05:01:00Z","newTokenId":"tok-2"}`, legacyProgress)
	e.fake.Put(testSecret, `{"kind":"scim-rotator/lock","owner":"old-run","acquired":"2026-03-04T05:00:00Z","expires":"2026-03-04T05:08:00Z"}`, legacyLock)
	s := e.store()
	st := e.load(s)
	if st.Progress == nil || st.Progress.RotationID != rot1 || st.Progress.Phase != rotator.PhasePushing || st.Lock.Owner != "old-run" {
		t.Fatalf("earlier records: %+v %+v", st.Progress, st.Lock)
	}
	e.busy(s.Hold(ctx, lockReq("run-a", 0)), "old-run", time.Date(2026, 3, 4, 5, 8, 0, 0, time.UTC))
	e.must(s.Hold(ctx, lockReq("run-a", 3*time.Minute)))
	st = e.load(nil)
	if st.Progress == nil || st.Progress.RotationID != rot1 || st.Progress.NewTokenID != "tok-2" || st.Lock.Owner != "run-a" {
		t.Fatalf("first state record: %+v %+v", st.Progress, st.Lock)
	}
}

// The answer of a label move is lost after Secrets Manager did it: the run
// finds out it wrote, instead of reporting itself as the holder.
func TestStateLostAnswers(t *testing.T) {
	for _, status := range []int{500, 400} { // retried by the SDK, or not
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			e := newSecretEnv(t)
			ctx := t.Context()
			a, b := e.store(), e.store()
			lostMove := func() {
				e.faults.Inject("secretsmanager:UpdateSecretVersionStage", sandbox.Fault{Status: status, After: true})
			}
			lostPut := func() {
				e.faults.Inject("secretsmanager:PutSecretValue", sandbox.Fault{Status: status, After: true})
			}
			e.load(a)
			lostPut() // no record yet
			e.must(a.Hold(ctx, lockReq("run-a", 0)))
			lostPut()
			e.must(a.Hold(ctx, lockReq("run-a", time.Minute)))
			e.load(b)
			lostPut() // taking over: the successor of a's record
			e.must(b.Hold(ctx, lockReq("run-b", time.Hour)))
			if l := e.load(nil).Lock; l.Owner != "run-b" {
				t.Fatalf("lease: %+v", l)
			}
			lostMove()
			e.must(b.Release(ctx, "run-b"))
			if l := e.load(nil).Lock; l.Owner != "" {
				t.Fatalf("after release: %+v", l)
			}
		})
	}
}

// A failure that is not a lost race is reported as it is: transient when
// Secrets Manager is throttling or failing; the record stays as it was.
func TestStateFailures(t *testing.T) {
	e := newSecretEnv(t)
	ctx := t.Context()
	a := e.store()
	e.load(a)
	fail := sandbox.Fault{Status: 503}
	e.faults.Inject("secretsmanager:PutSecretValue", fail, fail, fail, fail, fail, fail) // the SDK's 3 attempts, twice

	err := a.Hold(ctx, lockReq("run-a", 0))
	e.note(err)
	if !rotator.IsTransient(err) || errors.Is(err, rotator.ErrBusy) || errors.Is(err, rotator.ErrLockLost) {
		t.Fatalf("write on 503s: %v", err)
	}
	e.must(a.Hold(ctx, lockReq("run-a", 0)))
	held := e.load(nil).Lock

	throttled := sandbox.Fault{Status: 429}
	e.faults.Inject("secretsmanager:PutSecretValue", throttled, throttled, throttled, throttled, throttled, throttled)
	err = a.Hold(ctx, lockReq("run-a", time.Minute))
	e.note(err)
	if !rotator.IsTransient(err) || errors.Is(err, rotator.ErrLockLost) {
		t.Fatalf("write on throttling: %v", err)
	}
	e.faults.Inject("secretsmanager:PutSecretValue", sandbox.Fault{Status: 403})
	b := e.store()
	e.load(b)
	err = b.Hold(ctx, lockReq("run-b", time.Hour))
	e.note(err)
	if err == nil || errors.Is(err, rotator.ErrBusy) || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("write refused by IAM: %v", err)
	}
	if l := e.load(nil).Lock; l != held {
		t.Fatalf("failed calls changed the lease: %+v, want %+v", l, held)
	}
	// Bad requests are refused before any call.
	e.faults.ResetCalls()
	for _, req := range []rotator.LockRequest{{Owner: "", Now: lockT0, Until: lockT0.Add(time.Minute)}, {Owner: "x", Now: lockT0, Until: lockT0}} {
		if err := a.Hold(ctx, req); err == nil {
			t.Fatalf("hold %+v: no error", req)
		}
	}
	if n := len(e.faults.Calls()); n != 0 {
		t.Fatalf("bad requests made %d calls", n)
	}
}

// Another writer filled the secret: Secrets Manager takes no new version.
// The write fails as transient, saying which secret is full, why, and since
// when, and changes nothing.
func TestStateStoreFull(t *testing.T) {
	e := newSecretEnv(t)
	ctx := t.Context()
	e.must(e.store().PutCurrent(ctx, record("tok-1", "one")))
	for range 99 {
		e.fake.Put(testSecret, `{"other":"writer"}`, "OTHER")
	}
	s := e.store()
	e.load(s)
	n := e.fake.VersionCount(testSecret)
	err := s.Hold(ctx, lockReq("run-a", 0))
	e.note(err)
	var full *rotator.StoreFullError
	if !errors.As(err, &full) || !rotator.IsTransient(err) || full.Since.IsZero() ||
		!strings.Contains(err.Error(), "secret "+testSecret+" is full") || !strings.Contains(err.Error(), "100 of its versions were created in the last 24 hours") {
		t.Fatalf("write to a full secret: %v", err)
	}
	// The SDK reads LimitExceededException as throttling and retries it.
	if e.fake.VersionCount(testSecret) != n || e.fake.Refused(testSecret) == 0 {
		t.Fatalf("a refused write changed the secret (%d versions, %d refused)", e.fake.VersionCount(testSecret), e.fake.Refused(testSecret))
	}
}
