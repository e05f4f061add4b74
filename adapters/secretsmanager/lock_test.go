package secretsmanager

import (
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
	if !errors.Is(err, rotator.ErrLockLost) {
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

func (e *env) lockState(s *Store) rotator.LockInfo {
	e.t.Helper()
	l, err := s.LockState(e.t.Context())
	e.must(err)
	return l
}

func TestLockOnEmptySecret(t *testing.T) {
	e := newSecretEnv(t)
	ctx := t.Context()
	a := e.store()

	if l := e.lockState(a); l != (rotator.LockInfo{}) {
		t.Fatalf("free lock: %+v", l)
	}
	e.must(a.Acquire(ctx, lockReq("run-a", 0)))
	l := e.lockState(a)
	if l.Owner != "run-a" || !l.Acquired.Equal(lockT0) || !l.Expires.Equal(lockT0.Add(2*time.Minute)) || l.VersionID == "" {
		t.Fatalf("lock state: %+v", l)
	}
	// The lock version is not current: a placeholder is.
	h := e.holders(rotator.StageCurrent, StageLock)
	if h[StageLock] != l.VersionID || h[rotator.StageCurrent] == l.VersionID {
		t.Fatalf("labels: %v", e.fake.Stages(testSecret))
	}
	if v, _ := e.fake.Value(testSecret, rotator.StageCurrent); v != placeholderValue {
		t.Fatalf("current value: %s", v)
	}
	st, err := a.Load(ctx)
	e.must(err)
	if st.Current != nil || st.Pending != nil || st.Previous != nil || st.Progress != nil {
		t.Fatalf("Load with only a lock: %+v", st)
	}
	// The first rotation on it works as on an empty secret.
	e.must(a.PutPending(ctx, rot1, record("tok-1", "one")))
	e.must(a.Promote(ctx, rot1))
	st, err = a.Load(ctx)
	e.must(err)
	sameRecord(t, "current", st.Current, record("tok-1", "one"), rot1)
	e.must(a.Verify(ctx, "run-a"))
}

func TestLockBusyTakeoverRelease(t *testing.T) {
	e := newSecretEnv(t)
	ctx := t.Context()
	a, b := e.store(), e.store()

	e.must(a.Acquire(ctx, lockReq("run-a", 0)))
	aVersion := e.lockState(a).VersionID
	// Another owner while the lease runs: Busy naming the holder, nothing
	// written.
	n := e.fake.VersionCount(testSecret)
	err := b.Acquire(ctx, lockReq("run-b", time.Minute))
	e.busy(err, "run-a", lockT0.Add(2*time.Minute))
	if e.fake.VersionCount(testSecret) != n || e.lockState(b).VersionID != aVersion {
		t.Fatal("a Busy acquire changed the secret")
	}
	// Renewing moves the lease and keeps the acquired time; Acquire by the
	// holder renews too.
	e.must(a.Renew(ctx, lockReq("run-a", time.Minute)))
	e.must(a.Acquire(ctx, lockReq("run-a", 90*time.Second)))
	if l := e.lockState(b); l.Owner != "run-a" || !l.Acquired.Equal(lockT0) || !l.Expires.Equal(lockT0.Add(210*time.Second)) {
		t.Fatalf("after renewals: %+v", l)
	}
	err = b.Acquire(ctx, lockReq("run-b", 200*time.Second))
	e.busy(err, "run-a", lockT0.Add(210*time.Second))

	// Once the lease ended, b takes over.
	e.must(b.Acquire(ctx, lockReq("run-b", 210*time.Second)))
	if l := e.lockState(a); l.Owner != "run-b" || !l.Acquired.Equal(lockT0.Add(210*time.Second)) {
		t.Fatalf("after takeover: %+v", l)
	}
	err = a.Verify(ctx, "run-a")
	e.lost("verify after takeover", err)
	err = a.Renew(ctx, lockReq("run-a", 220*time.Second))
	e.lost("renew after takeover", err)
	e.must(b.Verify(ctx, "run-b"))
	// a releasing a lock it lost changes nothing.
	e.must(a.Release(ctx, "run-a"))
	if l := e.lockState(a); l.Owner != "run-b" {
		t.Fatalf("a's release dropped b's lock: %+v", l)
	}
	e.must(b.Release(ctx, "run-b"))
	e.must(b.Release(ctx, "run-b")) // twice: nothing to do
	if l := e.lockState(a); l != (rotator.LockInfo{}) {
		t.Fatalf("after release: %+v", l)
	}
	err = b.Verify(ctx, "run-b")
	e.lost("verify after release", err)
	err = b.Renew(ctx, lockReq("run-b", 230*time.Second))
	e.lost("renew after release", err)
	// Released: taken at once, before b's old lease would have ended.
	e.must(a.Acquire(ctx, lockReq("run-a", 230*time.Second)))
	if l := e.lockState(b); l.Owner != "run-a" {
		t.Fatalf("re-acquire: %+v", l)
	}
}

// A Store that never took the lock (no memory of it) reads the holder.
func TestLockWithoutMemory(t *testing.T) {
	e := newSecretEnv(t)
	ctx := t.Context()
	e.must(e.store().Acquire(ctx, lockReq("run-a", 0)))

	e.must(e.store().Verify(ctx, "run-a"))
	e.must(e.store().Renew(ctx, lockReq("run-a", time.Minute)))
	err := e.store().Verify(ctx, "run-b")
	e.lost("verify by another owner", err)
	e.must(e.store().Release(ctx, "run-b"))
	if l := e.lockState(e.store()); l.Owner != "run-a" || !l.Expires.Equal(lockT0.Add(3*time.Minute)) {
		t.Fatalf("lock: %+v", l)
	}
	e.must(e.store().Release(ctx, "run-a"))
	if l := e.lockState(e.store()); l.Owner != "" {
		t.Fatalf("lock after release: %+v", l)
	}
}

// The number of Secrets Manager calls of each lock operation.
func TestLockCallCounts(t *testing.T) {
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
	calls("acquire a free lock", 3, func() error { return a.Acquire(ctx, lockReq("run-a", 0)) })
	calls("verify", 1, func() error { return a.Verify(ctx, "run-a") })
	calls("renew", 2, func() error { return a.Renew(ctx, lockReq("run-a", time.Minute)) })
	calls("acquire as holder", 3, func() error { return a.Acquire(ctx, lockReq("run-a", 90*time.Second)) })
	calls("lock state", 2, func() error { _, err := b.LockState(ctx); return err })
	calls("take over an expired lease", 4, func() error { return b.Acquire(ctx, lockReq("run-b", time.Hour)) })
	calls("release", 1, func() error { return b.Release(ctx, "run-b") })
	calls("release a lost lock", 2, func() error { return a.Release(ctx, "run-a") })
	e.faults.ResetCalls()
	err := a.Acquire(ctx, lockReq("run-a", time.Hour))
	e.must(err)
	e.faults.ResetCalls()
	err = b.Acquire(ctx, lockReq("run-b", time.Hour))
	e.busy(err, "run-a", lockT0.Add(time.Hour+2*time.Minute))
	if got := e.faults.Calls(); len(got) != 2 {
		t.Fatalf("busy: %d calls %v, want 2", len(got), got)
	}
}

// Runs racing for the lock, each its own process: exactly one wins each
// round, on a free lock, on an empty secret and on an expired lease; every
// loser is told who won.
func TestLockRace(t *testing.T) {
	e := newSecretEnv(t)
	ctx := t.Context()
	const racers, rounds = 6, 25
	for round := range rounds {
		now := time.Duration(round) * 3 * time.Minute // the last lease has ended
		if round%5 == 4 {
			// Every fifth round the lock was released.
			l := e.lockState(e.store())
			e.must(e.store().Release(ctx, l.Owner))
		}
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			s := e.store()
			wg.Go(func() { errs[i] = s.Acquire(ctx, lockReq(fmt.Sprintf("run-%d-%d", round, i), now)) })
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
		if l := e.lockState(e.store()); l.Owner != winner {
			t.Fatalf("round %d: lock held by %q, winner %s", round, l.Owner, winner)
		}
		if h := e.holders(rotator.StageCurrent, rotator.StagePending, StageProgress); len(h) != 1 {
			t.Fatalf("round %d: labels %v", round, e.fake.Stages(testSecret))
		}
	}
}

// The lock never moves AWSCURRENT, AWSPENDING or SCIMROTATOR_PROGRESS, and
// Load and Status read around it.
func TestLockBesideTheRecord(t *testing.T) {
	e := newSecretEnv(t)
	ctx := t.Context()
	s := e.store()
	e.must(s.PutCurrent(ctx, record("tok-old", "old")))
	e.must(s.PutPending(ctx, rot1, record("tok-cur", "cur")))
	e.must(s.Promote(ctx, rot1))
	e.must(s.PutPending(ctx, rot2, record("tok-new", "new")))
	e.must(s.SaveProgress(ctx, rotator.Progress{RotationID: rot2, Phase: rotator.PhaseCreated}))
	before := e.holders(rotator.StageCurrent, rotator.StagePending, rotator.StagePrevious, StageProgress)

	e.must(s.Acquire(ctx, lockReq("run-a", 0)))
	e.must(s.Renew(ctx, lockReq("run-a", time.Minute)))
	o := e.store()
	e.must(o.Acquire(ctx, lockReq("run-b", time.Hour)))
	after := e.holders(rotator.StageCurrent, rotator.StagePending, rotator.StagePrevious, StageProgress)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("the lock moved a label: before %v, after %v", before, after)
	}

	st, err := e.store().Load(ctx)
	e.must(err)
	sameRecord(t, "current", st.Current, record("tok-cur", "cur"), rot1)
	sameRecord(t, "pending", st.Pending, record("tok-new", "new"), rot2)
	sameRecord(t, "previous", st.Previous, record("tok-old", "old"), "")
	if st.Progress == nil || st.Progress.RotationID != rot2 {
		t.Fatalf("progress: %+v", st.Progress)
	}
	lockVersion := e.lockState(s).VersionID
	found := false
	for _, v := range st.Versions {
		if v.ID == lockVersion {
			found = true
			if v.TokenID != "" {
				t.Fatalf("lock version listed with a token: %+v", v)
			}
		}
	}
	if !found {
		t.Fatalf("lock version %s not in %+v", lockVersion, st.Versions)
	}

	status, err := e.store().Status(ctx)
	e.must(err)
	e.note(status)
	var lockField string
	for _, f := range status.Fields {
		if f.Key == "lock" {
			lockField = fmt.Sprint(f.Value)
		}
	}
	if want := "held by run-b since 2026-03-04T06:06:00Z until 2026-03-04T06:08:00Z (version " + lockVersion + ")"; lockField != want {
		t.Fatalf("status lock = %q, want %q", lockField, want)
	}
	e.must(o.Release(ctx, "run-b"))
	status, err = e.store().Status(ctx)
	e.must(err)
	if f := status.Fields[len(status.Fields)-1]; f.Key != "lock" || f.Value != "free" {
		t.Fatalf("status after release: %+v", f)
	}
	if got := e.holders(rotator.StageCurrent, rotator.StagePending, rotator.StagePrevious, StageProgress); fmt.Sprint(before) != fmt.Sprint(got) {
		t.Fatalf("release moved a label: %v", got)
	}
}

// A lock version is never read as a token: not as pending, and as current
// (the secret's first version) it means "no token yet".
func TestLockVersionIsNoToken(t *testing.T) {
	body := `{"kind":"scim-rotator/lock","owner":"run-a","acquired":"2026-03-04T05:06:00Z","expires":"2026-03-04T05:08:00Z"}`
	v, err := decode("v1", &body)
	if err != nil || v.kind != kindLock || v.record != nil || v.lock == nil || v.lock.Owner != "run-a" {
		t.Fatalf("decode lock: %+v, %v", v, err)
	}

	e := newEnv(t)
	ctx := t.Context()
	e.fake.Put(testSecret, body, StageLock) // first version: AWSCURRENT too
	st, err := e.store().Load(ctx)
	e.must(err)
	if st.Current != nil {
		t.Fatalf("a lock read as the current token: %+v", st.Current)
	}
	e.fake.Put(testSecret, body, rotator.StagePending)
	_, err = e.store().Load(ctx)
	e.note(err)
	if !errors.Is(err, ErrNotRecord) {
		t.Fatalf("a lock as pending: %v", err)
	}
	res := e.store().Check(ctx)
	e.note(res)
	if len(res) != 2 || res[1].Failed() {
		t.Fatalf("check with a lock as current: %+v", res)
	}
}

// A label on a value that is not a lock record holds nobody.
func TestLockMalformedHolder(t *testing.T) {
	e := newSecretEnv(t)
	ctx := t.Context()
	e.must(e.store().PutCurrent(ctx, record("tok-1", "one")))
	junk := e.fake.Put(testSecret, `{"kind":"scim-rotator/lock","owner":""}`, StageLock)
	if l := e.lockState(e.store()); l.Owner != "" {
		t.Fatalf("malformed lock: %+v", l)
	}
	e.must(e.store().Acquire(ctx, lockReq("run-a", 0)))
	if l := e.lockState(e.store()); l.Owner != "run-a" || l.VersionID == junk {
		t.Fatalf("after taking over a malformed lock: %+v", l)
	}
}

// The answer of a label move is lost after Secrets Manager did it: the run
// finds out it won instead of reporting itself as the holder that blocks it.
func TestLockLostAnswers(t *testing.T) {
	for _, status := range []int{500, 400} { // retried by the SDK, or not
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			e := newSecretEnv(t)
			ctx := t.Context()
			a, b := e.store(), e.store()
			lostMove := func() {
				e.faults.Inject("secretsmanager:UpdateSecretVersionStage", sandbox.Fault{Status: status, After: true})
			}

			lostMove() // a free lock: no RemoveFromVersionId
			e.must(a.Acquire(ctx, lockReq("run-a", 0)))
			lostMove()
			e.must(a.Renew(ctx, lockReq("run-a", time.Minute)))
			e.must(a.Verify(ctx, "run-a"))
			lostMove() // taking over: RemoveFromVersionId names a's version
			e.must(b.Acquire(ctx, lockReq("run-b", time.Hour)))
			e.must(b.Verify(ctx, "run-b"))
			if l := e.lockState(a); l.Owner != "run-b" {
				t.Fatalf("lock: %+v", l)
			}
			lostMove()
			e.must(b.Release(ctx, "run-b"))
			if l := e.lockState(a); l.Owner != "" {
				t.Fatalf("after release: %+v", l)
			}
		})
	}
}

// A failure that is not a lost race is reported as it is: transient when
// Secrets Manager is throttling or failing, and the lock stays as it was.
func TestLockFailures(t *testing.T) {
	e := newSecretEnv(t)
	ctx := t.Context()
	a := e.store()
	fail := sandbox.Fault{Status: 503}
	e.faults.Inject("secretsmanager:DescribeSecret", fail, fail, fail)
	err := a.Acquire(ctx, lockReq("run-a", 0))
	e.note(err)
	if !rotator.IsTransient(err) || errors.Is(err, rotator.ErrBusy) {
		t.Fatalf("acquire on 503s: %v", err)
	}
	e.must(a.Acquire(ctx, lockReq("run-a", 0)))
	held := e.lockState(a)

	e.faults.Inject("secretsmanager:UpdateSecretVersionStage", sandbox.Fault{Status: 429}, sandbox.Fault{Status: 429}, sandbox.Fault{Status: 429})
	err = a.Renew(ctx, lockReq("run-a", time.Minute))
	e.note(err)
	if !rotator.IsTransient(err) || errors.Is(err, rotator.ErrLockLost) {
		t.Fatalf("renew on throttling: %v", err)
	}
	e.faults.Inject("secretsmanager:UpdateSecretVersionStage", sandbox.Fault{Status: 403})
	err = e.store().Acquire(ctx, lockReq("run-b", time.Hour))
	e.note(err)
	if err == nil || errors.Is(err, rotator.ErrBusy) || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("acquire refused by IAM: %v", err)
	}
	if l := e.lockState(a); l != held {
		t.Fatalf("failed calls changed the lock: %+v, want %+v", l, held)
	}
	e.must(a.Verify(ctx, "run-a"))
	// Bad requests are refused before any call.
	e.faults.ResetCalls()
	for _, req := range []rotator.LockRequest{{Owner: "", Now: lockT0, Until: lockT0.Add(time.Minute)}, {Owner: "x", Now: lockT0, Until: lockT0}} {
		if err := a.Acquire(ctx, req); err == nil {
			t.Fatalf("acquire %+v: no error", req)
		}
	}
	if n := len(e.faults.Calls()); n != 0 {
		t.Fatalf("bad requests made %d calls", n)
	}
}
