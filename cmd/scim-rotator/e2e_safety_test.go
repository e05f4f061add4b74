package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
)

// The promise under races, faults and a hostile store (issue 8), with the
// real binary: two runs at once, a killed run's lock, a planted pending
// record, a failed progress save, a transient push failure, a persistent
// delete failure. Each test pauses or faults the sandbox's fakes at one call;
// the tests run in parallel, since a rotation mostly waits (proof of use).

// maxWait bounds every wait for a process or a pause.
const maxWait = 90 * time.Second

// proc is a run of the binary in the background.
type proc struct {
	e              *env
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
	code           int
}

func (e *env) start(args ...string) *proc {
	e.t.Helper()
	p := &proc{e: e, cmd: e.command(args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() {
		err := p.cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			p.code = ee.ExitCode()
		} else if err != nil {
			p.code = -1
		}
		close(p.done)
	}()
	e.t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// wait waits for the run to end and returns its exit code and output.
func (p *proc) wait() (int, string, string) {
	p.e.t.Helper()
	select {
	case <-p.done:
	case <-time.After(maxWait):
		_ = p.cmd.Process.Kill()
		<-p.done
		p.e.record(p.stdout.String(), p.stderr.String())
		p.e.t.Fatalf("the run did not end within %s:\n%s\n%s", maxWait, p.stdout.String(), p.stderr.String())
	}
	p.e.record(p.stdout.String(), p.stderr.String())
	return p.code, p.stdout.String(), p.stderr.String()
}

// kill stops the run with SIGKILL: no deferred release, no last save.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.e.record(p.stdout.String(), p.stderr.String())
}

// pause holds one call until released: the process making it is stuck
// inside that step, holding the store's lock.
type pause struct {
	op      string
	reached chan struct{}
	hold    chan struct{}
	once    sync.Once
}

// pauseAt holds the next call of op that match accepts (nil: any call of
// op). Queue faults for earlier calls of op before it.
func (e *env) pauseAt(op string, match func(*http.Request, []byte) bool) *pause {
	pa := &pause{op: op, reached: make(chan struct{}), hold: make(chan struct{})}
	var reached sync.Once
	e.sb.Faults.Inject(op, sandbox.Fault{Pass: true, Hold: pa.hold, Match: match, Hook: func() { reached.Do(func() { close(pa.reached) }) }})
	e.t.Cleanup(pa.release) // a held call would keep the sandbox from closing
	return pa
}

func (pa *pause) release() { pa.once.Do(func() { close(pa.hold) }) }

// await waits until p is held at the pause.
func (pa *pause) await(p *proc) {
	p.e.t.Helper()
	select {
	case <-pa.reached:
	case <-p.done:
		p.e.record(p.stdout.String(), p.stderr.String())
		p.e.t.Fatalf("the run ended (exit %d) before it reached %s:\n%s\n%s", p.code, pa.op, p.stdout.String(), p.stderr.String())
	case <-time.After(maxWait):
		p.e.t.Fatalf("the run never reached %s:\n%s", pa.op, p.stdout.String())
	}
}

// smPut matches a Secrets Manager PutSecretValue on secret whose value and
// stages pred accepts (nil: any).
func smPut(secret string, pred func(value string, stages []string) bool) func(*http.Request, []byte) bool {
	return func(_ *http.Request, body []byte) bool {
		var in struct {
			SecretID      string   `json:"SecretId"`
			SecretString  string   `json:"SecretString"`
			VersionStages []string `json:"VersionStages"`
		}
		if json.Unmarshal(body, &in) != nil || in.SecretID != secret {
			return false
		}
		return pred == nil || pred(in.SecretString, in.VersionStages)
	}
}

// fp names a value in failure messages without showing it.
func fp(v string) string {
	if v == "" {
		return ""
	}
	s := sha256.Sum256([]byte(v))
	return "sha256:" + hex.EncodeToString(s[:6])
}

// world is what a run may change, values as fingerprints.
type world struct {
	Tokens []string
	// Records: store label -> the value it is on, for the labels that hold
	// the rotation's records (tokens, and the state record with the lease).
	Records map[string]string
	// Store is every label of the store secret and its version count.
	Store    map[string][]string
	Versions int
	// Targets: what each target holds (entra: its token and BaseAddress).
	Targets map[string]string
	Alerts  int
}

func (e *env) world() world {
	w := world{Records: map[string]string{}, Targets: map[string]string{}}
	for _, t := range e.sb.IC.Tokens() {
		w.Tokens = append(w.Tokens, t.ID)
	}
	for _, l := range []string{"AWSCURRENT", "AWSPENDING", "AWSPREVIOUS", "SCIMROTATOR_STATE"} {
		v, _ := e.sb.SM.Value(sandbox.StoreSecret, l)
		w.Records[l] = fp(v)
	}
	w.Store, w.Versions = e.sb.SM.Stages(sandbox.StoreSecret), e.sb.SM.VersionCount(sandbox.StoreSecret)
	v, _ := e.sb.SM.Value(sandbox.SSOSyncSecret, "AWSCURRENT")
	w.Targets["ssosync"] = fp(v)
	if e.sb.Graph != nil {
		w.Targets["entra"] = fp(e.sb.Graph.SavedToken(sandbox.EntraSP)) + " at " + e.sb.Graph.SavedBaseAddress(sandbox.EntraSP)
	}
	if e.sb.Okta != nil {
		app, _ := e.sb.OktaApp()
		w.Targets["okta"] = fp(e.sb.Okta.HeldToken(app))
	}
	w.Alerts = len(e.sb.Slack.Received())
	return w
}

// lock reads the store's lock as a separate process would.
func (e *env) lock() (owner string, expires time.Time) {
	e.t.Helper()
	v, ok := e.sb.SM.Value(sandbox.StoreSecret, "SCIMROTATOR_STATE")
	if !ok {
		e.t.Fatal("no version carries SCIMROTATOR_STATE")
	}
	var rec struct {
		Lease struct {
			Owner   string    `json:"owner"`
			Expires time.Time `json:"expires"`
		} `json:"lease"`
	}
	if err := json.Unmarshal([]byte(v), &rec); err != nil || rec.Lease.Owner == "" {
		e.t.Fatalf("state record names no lease holder: %v", err)
	}
	return rec.Lease.Owner, rec.Lease.Expires
}

// assertBusy runs B while a holds the store's lock: a scheduled `rotate`
// ends Busy with exit 0, `rotate --now` Busy with exit 1; both say who holds
// the lock and until when, and change nothing at all.
func (e *env) assertBusy(a *proc) {
	e.t.Helper()
	owner, until := e.lock()
	if !strings.Contains(owner, fmt.Sprintf("/pid-%d/", a.cmd.Process.Pid)) {
		e.t.Fatalf("the lock is held by %q, not by run A (pid %d)", owner, a.cmd.Process.Pid)
	}
	before := e.world()
	for _, tc := range []struct {
		args []string
		code int
	}{{[]string{"rotate"}, 0}, {[]string{"rotate", "--now"}, 1}} {
		code, out, errOut := e.run(tc.args...)
		if code != tc.code || !strings.HasPrefix(out, "Busy: ") || !strings.Contains(out, owner) || !strings.Contains(out, until.UTC().Format(time.RFC3339)) {
			e.t.Fatalf("%q while A holds the lock (%s until %s): exit %d, want %d Busy naming the holder and the expiry:\n%s\n%s",
				tc.args, owner, until.Format(time.RFC3339), code, tc.code, out, errOut)
		}
	}
	if after := e.world(); !reflect.DeepEqual(before, after) {
		e.t.Fatalf("a Busy run changed something:\nbefore %+v\nafter  %+v", before, after)
	}
	e.assertTargetsWork()
}

// assertSafe: Identity Center never held zero tokens, and every target holds
// a token the SCIM endpoint accepts (so none holds a deleted one).
func (e *env) assertSafe() {
	e.t.Helper()
	e.assertTargetsWork()
	if n := e.sb.IC.MinHeld(); n < 1 {
		e.t.Errorf("Identity Center was left with %d tokens (deleted: %v)", n, e.sb.IC.DeletedIDs())
	}
}

// recordLive seeds the live token (in the window: plain `rotate` rotates)
// and records it as current, as a deployment does with `stage --current`.
func (e *env) recordLive() (id, value string) {
	e.t.Helper()
	id, value = e.sb.SeedLiveToken(340 * 24 * time.Hour)
	f := filepath.Join(e.files.Dir, "live-token")
	if err := os.WriteFile(f, []byte(value), 0o600); err != nil {
		e.t.Fatal(err)
	}
	if code, out, errOut := e.run("stage", "--current", "--token-id", id, "--token-file", f); code != 0 {
		e.t.Fatalf("stage --current exit %d: %s %s", code, out, errOut)
	}
	return id, value
}

// assertNextRunFinishes: the next plain `rotate` finishes the rotation an
// earlier run left (no token created, no rollback): Rotated, exit 0, and the
// old token is the only one ever deleted.
func (e *env) assertNextRunFinishes(oldID string) {
	e.t.Helper()
	code, out, errOut := e.run("rotate")
	if code != 0 || !strings.HasPrefix(out, "Rotated: ") {
		e.t.Fatalf("next run: exit %d, want 0 Rotated:\n%s\n%s", code, out, errOut)
	}
	if del := e.sb.IC.DeletedIDs(); !slices.Equal(del, []string{oldID}) || e.sb.IC.CreatedCount() != 1 || len(e.sb.IC.Tokens()) != 1 {
		e.t.Fatalf("the next run must finish the same rotation: deleted %v (old %s), %d created, tokens %+v", del, oldID, e.sb.IC.CreatedCount(), e.sb.IC.Tokens())
	}
	e.assertSafe()
}

func (e *env) alerted(outcome string) bool {
	for _, m := range e.sb.Slack.Received() {
		if strings.Contains(m.Text, outcome) {
			return true
		}
	}
	return false
}

// Two `rotate` processes at once: A is paused inside a step while B runs.
// B ends Busy and changes nothing; A, released, finishes; Identity Center
// never holds zero tokens and no target is ever on a refused or deleted token.
func TestE2ERaces(t *testing.T) {
	for _, tc := range []struct {
		name string
		// pause sets up the sandbox and returns where A stops.
		pause func(e *env) *pause
		want  string
		code  int
	}{
		{"create", func(e *env) *pause { return e.pauseAt("identitycenter:CreateBearerToken", nil) }, "Rotated", 0},
		// The first target's push: the record says Pushing.
		{"push", func(e *env) *pause {
			return e.pauseAt("secretsmanager:PutSecretValue", smPut(sandbox.SSOSyncSecret, nil))
		}, "Rotated", 0},
		// Entra's confirmation fails for good after ssosync switched: A rolls
		// back and pauses pushing the old token back to ssosync, while the
		// pending version B would resume is still in the store.
		{"rollback vs resume", func(e *env) *pause {
			e.sb.Faults.Inject("graph:GetJob", sandbox.Fault{Pass: true}, sandbox.Fault{Status: 403})
			e.sb.Faults.Inject("secretsmanager:PutSecretValue", sandbox.Fault{Pass: true, Match: smPut(sandbox.SSOSyncSecret, nil)})
			return e.pauseAt("secretsmanager:PutSecretValue", smPut(sandbox.SSOSyncSecret, nil))
		}, "RolledBack", 1},
		{"delete", func(e *env) *pause { return e.pauseAt("identitycenter:DeleteBearerToken", nil) }, "Rotated", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, sandbox.Options{Entra: true})
			oldID, oldValue := e.recordLive()
			pa := tc.pause(e)
			a := e.start("rotate")
			pa.await(a)
			e.assertBusy(a)
			pa.release()
			code, out, errOut := a.wait()
			if code != tc.code || !strings.HasPrefix(out, tc.want+": ") {
				t.Fatalf("A: exit %d, want %d %s:\n%s\n%s", code, tc.code, tc.want, out, errOut)
			}
			e.assertSafe()
			toks := e.sb.IC.Tokens()
			switch tc.want {
			case "Rotated":
				if len(toks) != 1 || toks[0].ID == oldID || e.sb.IC.CreatedCount() != 1 {
					t.Fatalf("want only A's new token, have %+v (%d created)", toks, e.sb.IC.CreatedCount())
				}
			case "RolledBack":
				if len(toks) != 1 || toks[0].ID != oldID {
					t.Fatalf("want only the old token, have %+v", toks)
				}
				w := e.world()
				if w.Targets["ssosync"] != fp(oldValue) || !strings.HasPrefix(w.Targets["entra"], fp(oldValue)+" ") {
					t.Fatalf("targets not back on the old token: %+v", w.Targets)
				}
				if !e.alerted("RolledBack") {
					t.Fatal("no RolledBack alert")
				}
			}
		})
	}
}

// A run killed while it holds the lock blocks others until lockTimeout
// after its last renewal, then the next run takes the lock over and
// finishes the rotation it left.
func TestE2EKilledRunLockExpires(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	e.editConfig("lockTimeout: 10s\n")
	e.recordLive()
	pa := e.pauseAt("secretsmanager:PutSecretValue", smPut(sandbox.SSOSyncSecret, nil))
	a := e.start("rotate")
	pa.await(a)
	owner, until := e.lock()
	// The held push is never released: its caller is gone, so the fake
	// drops it (released now, it could still land after the kill).
	a.kill()

	// Right after: Busy, naming the dead run, nothing changed.
	before := e.world()
	code, out, _ := e.run("rotate")
	if code != 0 || !strings.HasPrefix(out, "Busy: ") || !strings.Contains(out, owner) {
		t.Fatalf("rotate right after the kill: exit %d, want 0 Busy naming %s:\n%s", code, owner, out)
	}
	if after := e.world(); !reflect.DeepEqual(before, after) {
		t.Fatalf("a Busy run changed something:\nbefore %+v\nafter  %+v", before, after)
	}
	e.assertTargetsWork()

	// Busy until the lease ends (stored to the second), then a takeover.
	deadline := until.Add(20 * time.Second)
	for {
		started := time.Now()
		code, out, errOut := e.run("rotate")
		if strings.HasPrefix(out, "Busy: ") {
			if started.After(until.Add(2 * time.Second)) {
				t.Fatalf("still Busy at %s, the killed run's lease ended %s:\n%s", started.Format(time.RFC3339Nano), until.Format(time.RFC3339), out)
			}
			if time.Now().After(deadline) {
				t.Fatalf("never taken over:\n%s", out)
			}
			time.Sleep(250 * time.Millisecond)
			continue
		}
		if started.Before(until.Add(-time.Second)) {
			t.Fatalf("the lock was taken over at %s, before the killed run's lease ended %s:\n%s", started.Format(time.RFC3339Nano), until.Format(time.RFC3339), out)
		}
		if code != 0 || !strings.HasPrefix(out, "Rotated: ") {
			t.Fatalf("takeover run: exit %d:\n%s\n%s", code, out, errOut)
		}
		break
	}
	if toks := e.sb.IC.Tokens(); len(toks) != 1 || e.sb.IC.CreatedCount() != 1 {
		t.Fatalf("the takeover must finish the killed run's rotation: tokens %+v, %d created", toks, e.sb.IC.CreatedCount())
	}
	e.assertSafe()
}

// A principal that can write the store secret but not read it plants an
// AWSPENDING version in scim-rotator's format, with a matching progress
// record. `rotate` must not carry it out: Blocked, exit 1, an alert, nothing
// pushed, nothing deleted, and `status` reports it.
func TestE2EPlantedPendingRecord(t *testing.T) {
	for _, tc := range []struct {
		name string
		// plant returns the planted token's id, value and SCIM endpoint.
		plant func(e *env, liveID string) (id, value, endpoint string)
	}{
		{"foreign token and endpoint", func(*env, string) (string, string, string) {
			return "f0f0f0f0f0f0f0f0f0f0f0f0-0666", tokenPrefix + "planted-foreign-token-value-000000000", "https://attacker.example/00000000-0000-0000-0000-000000000000/scim/v2/"
		}},
		{"the live token's id with a made-up value", func(e *env, liveID string) (string, string, string) {
			return liveID, tokenPrefix + "planted-made-up-value-00000000000000000", e.sb.IC.SCIMEndpoint()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, sandbox.Options{Entra: true, Okta: "api"})
			liveID, _ := e.recordLive()
			id, value, endpoint := tc.plant(e, liveID)
			now := time.Now().UTC().Truncate(time.Second)
			rec, _ := json.Marshal(struct {
				Kind         string    `json:"kind"`
				TokenID      string    `json:"tokenId"`
				Token        string    `json:"token"`
				Created      time.Time `json:"created"`
				Expires      time.Time `json:"expires"`
				SCIMEndpoint string    `json:"scimEndpoint"`
				Recorded     time.Time `json:"recorded"`
			}{"scim-rotator/token", id, value, now, now.AddDate(1, 0, 0), endpoint, now})
			// PutSecretValue needs no read permission; its VersionId becomes
			// the rotation id the progress record names.
			rotationID := e.sb.SM.Put(sandbox.StoreSecret, string(rec), "AWSPENDING")
			state, _ := json.Marshal(map[string]any{"kind": "scim-rotator/state", "rotation": map[string]any{
				"rotationId": rotationID, "phase": "Created",
				"startedAt": now.Add(-time.Minute), "updatedAt": now, "oldTokenId": liveID, "newTokenId": id,
				"targets": []map[string]string{{"name": "ssosync", "state": "Untouched"}, {"name": "entra", "state": "Untouched"}, {"name": "okta", "state": "Untouched"}},
			}})
			e.sb.SM.Put(sandbox.StoreSecret, string(state), "SCIMROTATOR_STATE")
			before := e.world()
			calls := len(e.sb.Faults.Calls())

			code, out, errOut := e.run("rotate")
			if code != 1 || !strings.HasPrefix(out, "Blocked: ") {
				t.Fatalf("exit %d, want 1 Blocked:\n%s\n%s", code, out, errOut)
			}
			after := e.world()
			if !e.alerted("Blocked") || after.Alerts != before.Alerts+1 {
				t.Fatalf("want one Blocked alert, have %d: %+v", after.Alerts-before.Alerts, e.sb.Slack.Received())
			}
			// The lock's own versions aside, nothing changed: no push, no
			// delete, the planted record kept for a human to see.
			before.Store, after.Store, before.Versions, after.Versions, after.Alerts = nil, nil, 0, 0, before.Alerts
			if !reflect.DeepEqual(before, after) {
				t.Fatalf("a planted record changed something:\nbefore %+v\nafter  %+v", before, after)
			}
			for _, c := range e.sb.Faults.Calls()[calls:] {
				switch c {
				case "identitycenter:CreateBearerToken", "identitycenter:DeleteBearerToken", "graph:PutSecrets", "okta:SetConnection", "lambda:Invoke":
					t.Fatalf("a planted record made the run call %s", c)
				}
				if strings.HasPrefix(c, "scim:") {
					t.Fatalf("a planted record made the run call the SCIM endpoint (%s): the planted value was tried", c)
				}
			}

			code, out, _ = e.run("status", "-o", "json")
			var st struct {
				Next struct {
					Action, Reason, Message string
				} `json:"next"`
			}
			if err := json.Unmarshal(only(t, out), &st); err != nil || code != 0 {
				t.Fatalf("status -o json exit %d: %v\n%s", code, err, out)
			}
			if st.Next.Action != "Blocked" || st.Next.Reason != "Blocked" {
				t.Fatalf("status does not report the planted record: %+v", st.Next)
			}
			if after := e.world(); after.Targets["ssosync"] != before.Targets["ssosync"] || !slices.Equal(after.Tokens, before.Tokens) {
				t.Fatal("status changed something")
			}
			e.assertSafe()
		})
	}
}

// The progress write that records the first target as Pushing fails: the
// run stops before the push (Interrupted, exit 1, no target touched), and
// the next plain `rotate` resumes the same rotation and finishes it.
func TestE2EFailedProgressSaveBeforePush(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{Entra: true})
	oldID, _ := e.recordLive()
	var fired int
	var mu sync.Mutex
	pushing := smPut(sandbox.StoreSecret, func(value string, stages []string) bool {
		var rec struct {
			Rotation struct {
				Targets []struct{ State string } `json:"targets"`
			} `json:"rotation"`
		}
		return slices.Contains(stages, "SCIMROTATOR_STATE") && json.Unmarshal([]byte(value), &rec) == nil &&
			len(rec.Rotation.Targets) > 0 && rec.Rotation.Targets[0].State == "Pushing"
	})
	e.sb.Faults.Inject("secretsmanager:PutSecretValue", sandbox.Fault{Match: pushing, Status: 400,
		Body: `{"__type":"AccessDeniedException","message":"injected: not authorized to perform secretsmanager:PutSecretValue"}`,
		Hook: func() { mu.Lock(); fired++; mu.Unlock() }})
	before := e.world()
	ssosyncVersions := e.sb.SM.VersionCount(sandbox.SSOSyncSecret)

	code, out, errOut := e.run("rotate")
	if code != 1 || !strings.HasPrefix(out, "Interrupted: ") {
		t.Fatalf("exit %d, want 1 Interrupted:\n%s\n%s", code, out, errOut)
	}
	mu.Lock()
	if fired != 1 {
		t.Fatalf("the fault on the Pushing save fired %d times", fired)
	}
	mu.Unlock()
	after := e.world()
	if !reflect.DeepEqual(before.Targets, after.Targets) || e.sb.SM.VersionCount(sandbox.SSOSyncSecret) != ssosyncVersions ||
		e.sb.Faults.Count("graph:PutSecrets") != 0 || e.sb.Faults.Count("lambda:Invoke") != 0 {
		t.Fatalf("a target was pushed although its Pushing state was not saved: %+v -> %+v", before.Targets, after.Targets)
	}
	if len(e.sb.IC.Tokens()) != 2 || after.Records["AWSPENDING"] == "" {
		t.Fatal("an interrupted run keeps both tokens and the pending version")
	}
	if n := len(e.sb.Slack.Received()); n != 0 {
		t.Fatalf("a first interruption pages nobody; %d alerts", n)
	}
	e.assertSafe()

	e.assertNextRunFinishes(oldID)
}

// Graph answers 503 to the push more often than its SDK retries: the run
// ends Interrupted (exit 1) with nothing rolled back and nobody paged; the
// next run finishes the same rotation without a rollback.
func TestE2ETransientPushFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{Entra: true})
	oldID, oldValue := e.recordLive()
	for range 10 {
		// Retry-After: 0 keeps the SDK's retries quick.
		e.sb.Faults.Inject("graph:PutSecrets", sandbox.Fault{Status: 503, Header: http.Header{"Retry-After": {"0"}}})
	}
	code, out, errOut := e.run("rotate")
	e.sb.Faults.Clear()
	if code != 1 || !strings.HasPrefix(out, "Interrupted: ") || !strings.Contains(out, "push entra") {
		t.Fatalf("exit %d, want 1 Interrupted at push entra:\n%s\n%s", code, out, errOut)
	}
	if n := e.sb.Faults.Count("graph:PutSecrets"); n < 2 {
		t.Fatalf("PutSecrets sent %d times: the SDK's retries were not exhausted", n)
	}
	w := e.world()
	if len(w.Tokens) != 2 || len(e.sb.IC.DeletedIDs()) != 0 {
		t.Fatalf("a transient failure keeps both tokens: %v, deleted %v", w.Tokens, e.sb.IC.DeletedIDs())
	}
	// Not rolled back: ssosync keeps the new token, entra never left the old.
	if w.Targets["ssosync"] != fp(e.pendingValue()) || !strings.HasPrefix(w.Targets["entra"], fp(oldValue)+" ") {
		t.Fatalf("targets after a transient failure: %+v (pending %s, old %s)", w.Targets, fp(e.pendingValue()), fp(oldValue))
	}
	if n := len(e.sb.Slack.Received()); n != 0 {
		t.Fatalf("a first transient failure pages nobody; %d alerts", n)
	}
	e.assertSafe()

	e.assertNextRunFinishes(oldID)
	if e.alerted("RolledBack") {
		t.Fatal("a RolledBack alert after a transient failure")
	}
}

// DeleteBearerToken is refused for good after the promotion: exit 1,
// Failed at step "delete old", an alert, the old token kept; the next run
// deletes it first.
func TestE2EPersistentDeleteFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	oldID, _ := e.recordLive()
	for range 3 {
		e.sb.Faults.Inject("identitycenter:DeleteBearerToken", sandbox.Fault{Status: 403,
			Body: `{"__type":"com.amazonaws.identitystore#AccessDeniedException","message":"injected: not authorized to delete bearer tokens"}`})
	}
	code, out, errOut := e.run("rotate", "--log-format", "json")
	e.sb.Faults.Clear()
	if code != 1 || !strings.HasPrefix(out, "Failed: ") {
		t.Fatalf("exit %d, want 1 Failed:\n%s\n%s", code, out, errOut)
	}
	var step bool
	for _, line := range strings.Split(strings.TrimSpace(errOut), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["outcome"] == "Failed" && m["step"] == "delete old" {
			step = true
		}
	}
	if !step {
		t.Fatalf("no log line reports outcome Failed at step \"delete old\":\n%s", errOut)
	}
	if !e.alerted("Failed") {
		t.Fatalf("no Failed alert: %+v", e.sb.Slack.Received())
	}
	toks := e.sb.IC.Tokens()
	if len(toks) != 2 || !slices.ContainsFunc(toks, func(t sandbox.IdentityCenterToken) bool { return t.ID == oldID }) {
		t.Fatalf("the old token must stay: %+v", toks)
	}
	e.assertSafe()

	e.assertNextRunFinishes(oldID)
}
