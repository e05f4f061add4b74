package secretsmanager

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

func sameRecord(t *testing.T, what string, got *rotator.Record, want rotator.Record, versionID string) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: nil, want token %s", what, want.ID)
	}
	if got.ID != want.ID || !got.Value.Equal(want.Value) || got.SCIMEndpoint != want.SCIMEndpoint ||
		!got.Created.Equal(want.Created) || !got.Expires.Equal(want.Expires) || !got.Recorded.Equal(want.Recorded) {
		t.Fatalf("%s: got token %s (%v %v %v), want %s", what, got.ID, got.Created, got.Expires, got.Recorded, want.ID)
	}
	if versionID != "" && got.VersionID != versionID {
		t.Fatalf("%s: version %s, want %s", what, got.VersionID, versionID)
	}
}

func TestStoreRotation(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.fake.CreateSecret(testSecret)
	s := e.store()

	st, err := s.Load(ctx)
	e.must(err)
	if st.Current != nil || st.Pending != nil || st.Progress != nil || st.Lock != (rotator.LockInfo{}) {
		t.Fatalf("empty secret: %+v, want zero", st)
	}

	old, next := record("tok-old", "old"), record("tok-new", "new")
	e.must(s.PutCurrent(ctx, old))
	e.must(s.PutCurrent(ctx, old)) // idempotent
	if n := e.fake.VersionCount(testSecret); n != 1 {
		t.Fatalf("PutCurrent twice: %d versions, want 1", n)
	}
	st, err = s.Load(ctx)
	e.must(err)
	sameRecord(t, "current", st.Current, old, "")
	oldVersion := st.Current.VersionID

	// PutPending twice with the same id is one version; AWSCURRENT stays.
	e.must(s.PutPending(ctx, rot1, next))
	e.must(s.PutPending(ctx, rot1, next))
	if n := e.fake.VersionCount(testSecret); n != 2 {
		t.Fatalf("PutPending twice: %d versions, want 2", n)
	}
	if got := e.fake.Stages(testSecret); !slices.Equal(got[rot1], []string{rotator.StagePending}) || !slices.Equal(got[oldVersion], []string{rotator.StageCurrent}) {
		t.Fatalf("stages after PutPending: %v", got)
	}
	// Same id, another value: refused, and no value in the error.
	err = s.PutPending(ctx, rot1, record("tok-other", "other"))
	e.note(err)
	if err == nil || !strings.Contains(err.Error(), "ResourceExistsException") {
		t.Fatalf("PutPending same id, other value: %v", err)
	}

	// A new process resumes: Load sees the pending version.
	fresh := e.store()
	st, err = fresh.Load(ctx)
	e.must(err)
	sameRecord(t, "current", st.Current, old, oldVersion)
	sameRecord(t, "pending", st.Pending, next, rot1)
	vs, err := fresh.ListVersions(ctx)
	e.must(err)
	if len(vs) != 2 {
		t.Fatalf("versions: %+v", vs)
	}
	for _, v := range vs {
		if v.TokenID == "" || v.Created.IsZero() || len(v.Stages) == 0 {
			t.Fatalf("version info incomplete: %+v", v)
		}
	}

	e.must(s.Promote(ctx, rot1))
	moves := e.faults.Count("secretsmanager:UpdateSecretVersionStage")
	e.must(s.Promote(ctx, rot1)) // idempotent: nothing left to do
	if n := e.faults.Count("secretsmanager:UpdateSecretVersionStage"); n != moves {
		t.Fatalf("second Promote moved labels (%d calls, was %d)", n, moves)
	}
	// AWSPENDING stays on the promoted version (the tail of the promotion)
	// until the next rotation's pending token takes it: one call less.
	want := map[string][]string{rot1: {rotator.StageCurrent, rotator.StagePending}, oldVersion: {rotator.StagePrevious}}
	if got := e.fake.Stages(testSecret); !equalLabels(got, want) {
		t.Fatalf("stages after Promote: %v, want %v", got, want)
	}
	st, err = e.store().Load(ctx)
	e.must(err)
	sameRecord(t, "current", st.Current, next, rot1)
	if st.Pending != nil {
		t.Fatalf("pending after Promote: %s", st.Pending.ID)
	}
	// PutPending after promotion (a retry of a finished step) is harmless.
	e.must(s.PutPending(ctx, rot1, next))
	if got := e.fake.Stages(testSecret); !equalLabels(got, want) {
		t.Fatalf("stages after late PutPending: %v", got)
	}
}

func equalLabels(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		x, y := slices.Sorted(slices.Values(v)), slices.Sorted(slices.Values(b[k]))
		if !slices.Equal(x, y) {
			return false
		}
	}
	return true
}

func TestStoreDiscard(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.fake.CreateSecret(testSecret)
	s := e.store()
	old := record("tok-old", "old")
	e.must(s.PutCurrent(ctx, old))
	e.must(s.PutPending(ctx, rot1, record("tok-new", "new")))
	e.must(s.DiscardPending(ctx, rot1))
	e.must(s.DiscardPending(ctx, rot1))
	st, err := s.Load(ctx)
	e.must(err)
	if st.Pending != nil {
		t.Fatalf("pending after discard: %s", st.Pending.ID)
	}
	sameRecord(t, "current", st.Current, old, "")
	if _, ok := e.fake.Stages(testSecret)[rot1]; ok {
		t.Fatalf("discarded version still labelled: %v", e.fake.Stages(testSecret))
	}
	// Promoting a discarded rotation is refused, not silently done.
	err = s.Promote(ctx, rot1)
	e.note(err)
	if err == nil {
		t.Fatal("Promote of a discarded rotation succeeded")
	}
	// A second rotation takes AWSPENDING.
	e.must(s.PutPending(ctx, rot2, record("tok-2", "two")))
	st, err = s.Load(ctx)
	e.must(err)
	if st.Pending == nil || st.Pending.VersionID != rot2 {
		t.Fatalf("pending = %+v", st.Pending)
	}
}

// On a secret with no version, Secrets Manager makes the first version
// current whatever its stages: a rotation's first write is its state record,
// so that is what becomes current (read as no token), never a pending one.
func TestStoreFirstRotationOnEmptySecret(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.fake.CreateSecret(testSecret)
	s := e.store()
	e.load(s)
	p := rotator.Progress{RotationID: rot1, Phase: rotator.PhaseCreating, StartedAt: time.Unix(1700000000, 0).UTC(), UpdatedAt: time.Unix(1700000000, 0).UTC()}
	req := lockReq("run-a", 0)
	req.Progress = &p
	e.must(s.Hold(ctx, req))
	next := record("tok-new", "new")
	e.must(s.PutPending(ctx, rot1, next))

	st := e.load(nil)
	if st.Current != nil {
		t.Fatalf("current = %s, want none", st.Current.ID)
	}
	sameRecord(t, "pending", st.Pending, next, rot1)
	if st.Progress == nil || st.Progress.RotationID != rot1 {
		t.Fatalf("progress = %+v", st.Progress)
	}
	if h := e.holders(rotator.StageCurrent, StageState); h[rotator.StageCurrent] != h[StageState] {
		t.Fatalf("AWSCURRENT is not on the first state record: %v", e.fake.Stages(testSecret))
	}

	e.must(s.Promote(ctx, rot1))
	st = e.load(nil)
	sameRecord(t, "current", st.Current, next, rot1)
	if st.Pending != nil {
		t.Fatalf("pending after first promotion: %+v", st.Pending)
	}
}

// A pending token written by a store that has read nothing yet never takes
// AWSCURRENT off a recorded token (no placeholder over it).
func TestStorePendingWithoutLoad(t *testing.T) {
	e := newSecretEnv(t)
	ctx := t.Context()
	e.must(e.store().PutCurrent(ctx, record("tok-old", "old")))
	e.must(e.store().PutPending(ctx, rot1, record("tok-new", "new")))
	st := e.load(nil)
	sameRecord(t, "current", st.Current, record("tok-old", "old"), "")
	sameRecord(t, "pending", st.Pending, record("tok-new", "new"), rot1)
	if n := e.fake.VersionCount(testSecret); n != 2 {
		t.Fatalf("%d versions, want 2", n)
	}
}

// The state record carries the progress: read back as written, a version
// per write, one label.
func TestStoreProgressInTheRecord(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.fake.CreateSecret(testSecret)
	s := e.store()
	e.must(s.PutCurrent(ctx, record("tok-old", "old")))
	e.load(s)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	p := rotator.Progress{RotationID: rot1, Phase: rotator.PhasePushing, StartedAt: t0, UpdatedAt: t0.Add(time.Minute), OldTokenID: "tok-old",
		Targets: []rotator.TargetProgress{{Name: "entra", State: rotator.TargetPushing, PushedAt: t0.Add(time.Minute)}}}
	req := lockReq("run-a", 0)
	req.Progress = &p
	e.must(s.Hold(ctx, req))
	// Nil progress keeps what is recorded; releasing with a write names no
	// holder.
	e.must(s.Hold(ctx, rotator.LockRequest{Owner: "run-a", Now: lockT0, Release: true}))
	if n := e.fake.VersionCount(testSecret); n != 3 {
		t.Fatalf("%d versions, want 3", n)
	}
	holders := 0
	for _, labels := range e.fake.Stages(testSecret) {
		if slices.Contains(labels, StageState) {
			holders++
		}
	}
	if holders != 1 {
		t.Fatalf("%d versions carry %s: %v", holders, StageState, e.fake.Stages(testSecret))
	}
	st := e.load(nil)
	if st.Progress == nil || st.Progress.Phase != rotator.PhasePushing || len(st.Progress.Targets) != 1 || !st.Progress.UpdatedAt.Equal(p.UpdatedAt) || st.Lock.Owner != "" {
		t.Fatalf("progress = %+v, lock %+v", st.Progress, st.Lock)
	}
	sameRecord(t, "current", st.Current, record("tok-old", "old"), "")

	status, err := s.Status(ctx)
	e.must(err)
	e.note(status)
	if !hasField(status, "labelledVersions", "2") || !hasField(status, "currentIsRecord", "yes") || !hasField(status, "lock", "free") {
		t.Fatalf("status = %+v", status)
	}
}

// hasField: the status has the field key and its text contains value.
func hasField(st rotator.SystemStatus, key, value string) bool {
	for _, f := range st.Fields {
		if f.Key == key && strings.Contains(f.Text(), value) {
			return true
		}
	}
	return false
}

func TestStoreForeignCurrentValue(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.fake.CreateSecret(testSecret)
	e.fake.Put(testSecret, canary+"-raw-token-set-by-hand")
	s := e.store()

	_, err := s.Load(ctx)
	e.note(err)
	if !errors.Is(err, ErrNotRecord) || !strings.Contains(err.Error(), "scim-rotator stage --current --token-id ID --token-file FILE") {
		t.Fatalf("Load of a foreign value: %v", err)
	}
	checks := s.Check(ctx)
	e.note(checks)
	if len(checks) != 2 || checks[0].Level != rotator.LevelOK || !checks[1].Failed() || !strings.Contains(checks[1].Fix, "stage --current") {
		t.Fatalf("checks = %+v", checks)
	}
	status, err := s.Status(ctx)
	e.must(err)
	e.note(status)

	rec := record("tok-live", "live")
	e.must(s.PutCurrent(ctx, rec))
	st, err := s.Load(ctx)
	e.must(err)
	sameRecord(t, "current", st.Current, rec, "")
}

func TestStoreCheck(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	_, err := e.store().Load(ctx)
	e.note(err)
	if err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") || rotator.IsTransient(err) {
		t.Fatalf("Load of a missing secret: %v", err)
	}
	checks := e.store().Check(ctx)
	e.note(checks)
	if len(checks) != 1 || !checks[0].Failed() || !strings.HasSuffix(checks[0].Fix, ": aws secretsmanager create-secret --name "+testSecret+" --region "+testRegion+" --endpoint-url "+e.srv.URL) {
		// The command is pasted as printed: it names the configured endpoint.
		t.Fatalf("missing secret: %+v", checks)
	}
	e.fake.CreateSecret(testSecret)
	s := e.store()
	checks = s.Check(ctx)
	if len(checks) != 2 || checks[0].Level != rotator.LevelOK || checks[1].Level != rotator.LevelOK {
		t.Fatalf("empty secret: %+v", checks)
	}
	e.must(s.PutCurrent(ctx, record("tok-1", "one")))
	checks = s.Check(ctx)
	e.note(checks)
	if len(checks) != 2 || checks[1].Level != rotator.LevelOK || !strings.Contains(checks[1].Detail, "tok-1") {
		t.Fatalf("recorded secret: %+v", checks)
	}
}

func TestStoreRevealHint(t *testing.T) {
	e := newEnv(t)
	s := newStore(nil, config.Store{SecretID: testSecret, Region: testRegion}, zap.NewNop())
	want := "aws secretsmanager get-secret-value --secret-id scim-rotator/token --version-stage AWSPENDING --region eu-west-1 --query SecretString --output text | jq -r .token"
	if got := s.RevealHint(rotator.StagePending); got != want {
		t.Fatalf("RevealHint = %q\nwant        %q", got, want)
	}
	if got := e.store().RevealHint(rotator.StageCurrent); !strings.Contains(got, "--endpoint-url "+e.srv.URL) {
		t.Fatalf("RevealHint with endpoint = %q", got)
	}
}

func TestStoreValidatesRotationID(t *testing.T) {
	e := newEnv(t)
	e.fake.CreateSecret(testSecret)
	err := e.store().PutPending(t.Context(), "short", record("tok", "x"))
	e.note(err)
	if err == nil || !strings.Contains(err.Error(), "32 to 64") {
		t.Fatalf("short rotation id: %v", err)
	}
}

func TestStoreWireFailures(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(e *env)
		extra     []func(*sm.Options)
		call      func(s *Store, e *env) error
		wantErr   string // "" = must succeed
		transient bool
		after     func(t *testing.T, e *env)
	}{
		{
			name: "500 then throttle are retried by the SDK",
			setup: func(e *env) {
				e.faults.Inject("secretsmanager:ListSecretVersionIds", sandbox.Fault{Status: 500}, sandbox.Fault{Status: 429})
				e.faults.Inject("secretsmanager:PutSecretValue", sandbox.Fault{Status: 503})
			},
			call: func(s *Store, e *env) error { return s.PutPending(e.t.Context(), rot1, record("tok-new", "new")) },
			after: func(t *testing.T, e *env) {
				if n := e.fake.VersionCount(testSecret); n != 2 {
					t.Fatalf("versions = %d, want 2", n)
				}
			},
		},
		{
			name: "answer lost after PutPending wrote the version",
			setup: func(e *env) {
				e.faults.Inject("secretsmanager:PutSecretValue", sandbox.Fault{Status: 500, After: true})
			},
			call: func(s *Store, e *env) error { return s.PutPending(e.t.Context(), rot1, record("tok-new", "new")) },
			after: func(t *testing.T, e *env) {
				if n := e.fake.VersionCount(testSecret); n != 2 {
					t.Fatalf("versions = %d, want 2", n)
				}
			},
		},
		{
			name: "answer lost after the AWSCURRENT move",
			setup: func(e *env) {
				if err := e.store().PutPending(e.t.Context(), rot1, record("tok-new", "new")); err != nil {
					e.t.Fatal(err)
				}
				e.faults.Inject("secretsmanager:UpdateSecretVersionStage", sandbox.Fault{Status: 500, After: true})
			},
			call: func(s *Store, e *env) error { return s.Promote(e.t.Context(), rot1) },
			after: func(t *testing.T, e *env) {
				if got := e.fake.Stages(testSecret)[rot1]; !slices.Contains(got, rotator.StageCurrent) {
					t.Fatalf("stages of the promoted version: %v", got)
				}
				if !strings.Contains(e.logs.String(), "reported an error but is done") {
					t.Fatal("the lost answer was not recovered by reading the labels again")
				}
			},
		},
		{
			name: "persistent 500 is a transient error",
			setup: func(e *env) {
				e.faults.Inject("secretsmanager:ListSecretVersionIds", sandbox.Fault{Status: 500}, sandbox.Fault{Status: 500}, sandbox.Fault{Status: 500})
			},
			call:      func(s *Store, e *env) error { _, err := s.Load(e.t.Context()); return err },
			wantErr:   "InternalServiceError",
			transient: true,
		},
		{
			name:    "wrong SigV4 signing name is refused",
			extra:   []func(*sm.Options){sm.WithSigV4SigningName("secretmanager")},
			call:    func(s *Store, e *env) error { _, err := s.Load(e.t.Context()); return err },
			wantErr: "InvalidSignatureException",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.fake.CreateSecret(testSecret)
			if err := e.store().PutCurrent(t.Context(), record("tok-old", "old")); err != nil {
				t.Fatal(err)
			}
			if tc.setup != nil {
				tc.setup(e)
			}
			err := tc.call(e.store(tc.extra...), e)
			e.note(err)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("err = %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err = %v, want %s", err, tc.wantErr)
			case tc.wantErr != "" && rotator.IsTransient(err) != tc.transient:
				t.Fatalf("transient = %v, want %v (%v)", rotator.IsTransient(err), tc.transient, err)
			}
			if tc.after != nil {
				tc.after(t, e)
			}
		})
	}
}

// The store's check gives an IAM hint only for a denial: a 500 names the
// service error.
func TestStoreCheckHints(t *testing.T) {
	for _, tc := range []struct {
		status int
		allow  bool
	}{{500, false}, {403, true}} {
		e := newEnv(t)
		s := e.store()
		e.faults.Inject("secretsmanager:DescribeSecret", sandbox.Fault{Status: tc.status, Repeat: true})
		checks := s.Check(t.Context())
		e.note(checks)
		if len(checks) == 0 || checks[0].Level != rotator.LevelFail || strings.HasPrefix(checks[0].Fix, "allow") != tc.allow {
			t.Errorf("HTTP %d: checks %+v; want FAIL, an IAM hint %v", tc.status, checks, tc.allow)
		}
	}
}
