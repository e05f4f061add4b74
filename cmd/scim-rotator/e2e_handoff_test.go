package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// Issue 16 end to end: the real binary against the sandbox over TLS, in
// real time (quietPeriod 3s, deliveryDelay 1s, pollInterval 250ms).

// callLog records every SCIM call the Identity Center fake answers, as
// CloudTrail will show it, and still feeds CloudTrail.
type callLog struct {
	mu    sync.Mutex
	calls []sandbox.SCIMCall
}

func (e *env) logCalls() *callLog {
	l := &callLog{}
	e.sb.IC.OnSCIMCall(func(c sandbox.SCIMCall) {
		l.mu.Lock()
		l.calls = append(l.calls, c)
		l.mu.Unlock()
		e.sb.CloudTrail.RecordSCIM(c)
	})
	return l
}

// first is the earliest call that match accepts (zero if none).
func (l *callLog) first(match func(sandbox.SCIMCall) bool) sandbox.SCIMCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.calls {
		if match(c) {
			return c
		}
	}
	return sandbox.SCIMCall{}
}

// last is the latest call that match accepts (zero if none).
func (l *callLog) last(match func(sandbox.SCIMCall) bool) sandbox.SCIMCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out sandbox.SCIMCall
	for _, c := range l.calls {
		if match(c) {
			out = c
		}
	}
	return out
}

func (e *env) slackCount(outcome string) int {
	n := 0
	for _, m := range e.sb.Slack.Received() {
		if strings.Contains(m.Text, outcome) {
			n++
		}
	}
	return n
}

// A handoff target rotated end to end: announced, --continue before the
// paste keeps both tokens, the sandbox's admin pastes, the next scheduled
// run finds the client's calls in CloudTrail, and the old token goes only
// after the quiet period.
func TestE2EHandoffTarget(t *testing.T) {
	e := newEnv(t, sandbox.Options{Handoff: true})
	calls := e.logCalls()
	oldID, oldValue := e.sb.SeedLiveToken(340 * 24 * time.Hour)
	e.stageLive(oldID, oldValue)
	e.sb.CloudTrail.SetPageSize(50)
	stop := e.sb.SCIM.KeepSyncing(200 * time.Millisecond) // with the old token until the paste
	defer stop()

	code, out, errOut := e.run("rotate", "--now")
	if code != 0 || !strings.HasPrefix(out, "AwaitingHandoff") {
		t.Fatalf("rotate --now: exit %d\n%s\n%s", code, out, errOut)
	}
	containsAll(t, "the announcement", out, "aws secretsmanager get-secret-value", "AWSPENDING", sandbox.HandoffInstructions,
		e.sb.URL("handoff"), "never into chat", "every later run", "CloudTrail")
	containsAll(t, "the Slack announcement", e.slackText(), "AwaitingHandoff", "Auto-provisioning: paste the token into Access token, Save", "get-secret-value", e.sb.URL("handoff"))
	newID := e.storeTokenID("AWSPENDING")

	// Before the paste: --continue and a scheduled run look, keep waiting.
	for _, args := range [][]string{{"rotate", "--continue"}, {"rotate"}} {
		code, out, _ := e.run(args...)
		if code != 0 || !strings.HasPrefix(out, "AwaitingHandoff") || !strings.Contains(out, "no proof yet") {
			t.Fatalf("%q before the paste: exit %d\n%s", args, code, out)
		}
		if ids := e.tokenIDs(); len(ids) != 2 || e.storeTokenID("AWSPENDING") != newID || e.storeTokenID("AWSCURRENT") != oldID {
			t.Fatalf("%q before the paste changed the tokens: %v", args, ids)
		}
	}

	// The admin pastes the token the printed command shows.
	e.sb.SCIM.Paste(e.pendingValue())
	pastedAt := time.Now()
	waitFor(t, 10*time.Second, "the client's calls with the new token to be a delivery delay old", func() bool {
		c := calls.first(func(c sandbox.SCIMCall) bool { return c.TokenID == newID && c.UserAgent == sandbox.HandoffUserAgent })
		return !c.Time.IsZero() && time.Since(c.Time) > 2*time.Second
	})
	e.finishes(newID, "rotate")
	lastOld := calls.last(func(c sandbox.SCIMCall) bool {
		return c.TokenID == oldID && c.ErrorCode == "" && !strings.HasPrefix(c.UserAgent, rotator.UserAgentPrefix)
	})
	deleted := e.sb.IC.DeletedAt(oldID)
	if lastOld.Time.IsZero() || deleted.Sub(lastOld.Time) < 3*time.Second || deleted.Before(pastedAt) {
		t.Fatalf("the old token was deleted at %s, %s after its last use: before the quiet period (3s)", deleted, deleted.Sub(lastOld.Time))
	}

	// check and status show the client CloudTrail saw last.
	code, out, _ = e.run("check")
	if code != 0 {
		t.Fatalf("check exit %d:\n%s", code, out)
	}
	containsAll(t, "check", out, "last seen client", sandbox.HandoffUserAgent, sandbox.HandoffAddr, newID)
	code, out, _ = e.run("status", "-o", "json")
	var rep rotator.StatusReport
	if code != 0 || json.Unmarshal(only(t, out), &rep) != nil {
		t.Fatalf("status exit %d: %s", code, out)
	}
	found := false
	for _, s := range rep.Systems {
		if s.System == "handoff" && s.Target == sandbox.HandoffTarget {
			b, _ := json.Marshal(s)
			containsAll(t, "status's handoff facts", string(b), "lastClientAddress", sandbox.HandoffAddr, sandbox.HandoffUserAgent)
			found = true
		}
	}
	if !found {
		t.Fatalf("status has no handoff system: %s", out)
	}
}

// Without CloudTrail nothing could prove the paste: a configuration error
// (exit 2) naming the key, in both forms of the file.
func TestE2EHandoffNeedsCloudTrail(t *testing.T) {
	e := newEnv(t, sandbox.Options{Handoff: true})
	e.setConfig("source: cloudtrail", "source: none")
	for _, args := range [][]string{{"rotate"}, {"check"}, {"status"}} {
		code, _, errOut := e.run(args...)
		if code != 2 || !strings.Contains(errOut, "targets[1].type: handoff needs usage.source: cloudtrail") {
			t.Fatalf("%q: exit %d, want 2 naming the key:\n%s", args, code, errOut)
		}
	}
	fleet := filepath.Join(t.TempDir(), "fleet.yaml")
	if err := os.WriteFile(fleet, []byte(`usage: {source: none}
instances:
  - name: prod
    identityCenter: {region: us-east-1, identityStoreId: d-1111111111}
    store: {secretId: scim-rotator/prod}
    targets:
      - name: google
        type: handoff
        handoff: {instructions: "Apps > Amazon Web Services > Auto-provisioning: paste the token, Save"}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := e.run("rotate", "--config", fleet)
	if code != 2 || !strings.Contains(errOut, "instances[0].targets[0].type: handoff needs usage.source: cloudtrail") {
		t.Fatalf("fleet: exit %d:\n%s", code, errOut)
	}
	if code, _, errOut := e.run("rotate", "--revoke-old"); code != 2 || !strings.Contains(errOut, "--revoke-old goes with --now") {
		t.Fatalf("--revoke-old without --now: exit %d: %s", code, errOut)
	}
}

// A leaked token: --now --revoke-old deletes the old token before any
// quiet period while a forgotten consumer still uses it, names the
// consumer, and reports its later calls (and another client's) as
// RevokedTokenUsed, each alerted once, in status too.
func TestE2ERevokeOld(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	calls := e.logCalls()
	oldID, oldValue := e.sb.SeedLiveToken(100 * 24 * time.Hour)
	e.stageLive(oldID, oldValue)
	e.sb.CloudTrail.SetPageSize(50)
	const forgotten = "forgotten-job/2.0"
	stop := e.sb.KeepCallingSCIM(oldValue, forgotten, 200*time.Millisecond)
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	waitFor(t, 10*time.Second, "the forgotten consumer's calls to be delivered", func() bool {
		return e.sb.CloudTrail.Delivered() > 3
	})

	code, out, _ := e.run("rotate", "--now", "--revoke-old", "--dry-run")
	if code != 0 || !strings.Contains(out, "no quiet period") || !strings.Contains(out, "--revoke-old") || len(e.tokenIDs()) != 1 {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}

	code, out, errOut := e.run("rotate", "--now", "--revoke-old")
	if code != 0 || !strings.HasPrefix(out, "Rotated") {
		t.Fatalf("rotate --now --revoke-old: exit %d\n%s\n%s", code, out, errOut)
	}
	newID := e.storeTokenID("AWSCURRENT")
	if ids := e.tokenIDs(); len(ids) != 1 || ids[0] != newID || newID == oldID {
		t.Fatalf("want only the new token, have %v", ids)
	}
	deleted := e.sb.IC.DeletedAt(oldID)
	lastOK := calls.last(func(c sandbox.SCIMCall) bool {
		return c.TokenID == oldID && c.ErrorCode == "" && c.UserAgent == forgotten
	})
	if gap := deleted.Sub(lastOK.Time); lastOK.Time.IsZero() || gap >= 3*time.Second {
		t.Fatalf("the old token was used %s before its deletion: want it deleted while in use, before any quiet period (3s)", gap)
	}
	containsAll(t, "the output", out, "emergency", oldID, forgotten, "127.0.0.1", "probable user of the leak")
	slack := e.slackText()
	containsAll(t, "the Slack alert", slack, "Emergency rotation (rotate --now --revoke-old) requested by arn:aws:", forgotten, "127.0.0.1")
	e.assertTargetsWork()

	// The consumer goes on with the deleted token: refused, and (the
	// sandbox's default) recorded without a token id, so it is matched as
	// the client that used the token when it was deleted.
	deliveredAfter := func(at time.Time) {
		t.Helper()
		waitFor(t, 10*time.Second, "the calls since "+at.Format(time.RFC3339Nano)+" to be delivered", func() bool {
			return time.Since(at) > 1500*time.Millisecond
		})
	}
	deliveredAfter(deleted)
	code, out, _ = e.run("rotate")
	if code != 1 || !strings.HasPrefix(out, "RevokedTokenUsed") {
		t.Fatalf("a run after the deletion: exit %d, want 1 and RevokedTokenUsed:\n%s", code, out)
	}
	containsAll(t, "the RevokedTokenUsed result", out, oldID, forgotten, "matched by the client that used it when it was deleted")
	if n := e.slackCount("RevokedTokenUsed"); n != 1 {
		t.Fatalf("%d RevokedTokenUsed alerts, want 1", n)
	}

	// Another client with the leaked token, recorded with its id this time
	// (the inference the product relies on first): the next run alerts it,
	// and only the calls not alerted before.
	e.sb.IC.SetDeletedTokenIDs(true)
	if code, err := e.sb.CallSCIM(t.Context(), oldValue, "leak/1.0"); err != nil || code != 401 {
		t.Fatalf("a call with the deleted token: %d %v", code, err)
	}
	deliveredAfter(time.Now())
	code, out, _ = e.run("rotate")
	if code != 1 || !strings.HasPrefix(out, "RevokedTokenUsed") || e.slackCount("RevokedTokenUsed") != 2 {
		t.Fatalf("the leak's call: exit %d, %d alerts:\n%s", code, e.slackCount("RevokedTokenUsed"), out)
	}
	containsAll(t, "the second RevokedTokenUsed result", out, "leak/1.0", "matched by its token id")

	code, out, _ = e.run("status")
	if code != 0 {
		t.Fatalf("status exit %d", code)
	}
	containsAll(t, "status", out, "Revoked token "+oldID, forgotten, "leak/1.0", "refused")
	code, out, _ = e.run("status", "-o", "json")
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	schema, err := c.Compile("schemas/status.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(out)))
	if err != nil || schema.Validate(inst) != nil {
		t.Fatalf("status -o json (exit %d) does not match the schema: %v %v\n%s", code, err, schema.Validate(inst), out)
	}
	var rep rotator.StatusReport
	if err := json.Unmarshal(only(t, out), &rep); err != nil || rep.Revoked == nil || rep.Revoked.TokenID != oldID || len(rep.Revoked.Calls) == 0 || rep.Revoked.Alerted == 0 {
		t.Fatalf("status -o json revoked = %+v (%v)", rep.Revoked, err)
	}

	// The consumer is fixed: once the last calls are reported, runs are
	// quiet and alert nothing again.
	stop()
	stopped = true
	deliveredAfter(time.Now())
	e.run("rotate") // reports the calls made since the last alert, if any
	n := e.slackCount("RevokedTokenUsed")
	code, out, _ = e.run("rotate")
	if code != 0 || !strings.HasPrefix(out, "NotDue") || e.slackCount("RevokedTokenUsed") != n {
		t.Fatalf("with nothing new: exit %d, %d alerts (was %d)\n%s", code, e.slackCount("RevokedTokenUsed"), n, out)
	}
}

// demo --handoff shows the journey: the announcement, --continue before
// the paste, the sandbox's admin pasting, the next run proving it.
func TestE2EDemoHandoff(t *testing.T) {
	out, err := exec.Command(binary, "demo", "--handoff").CombinedOutput()
	s := string(out)
	if err != nil {
		t.Fatalf("demo --handoff: %v\n%s", err, s)
	}
	containsAll(t, "demo --handoff", s, "AwaitingHandoff", "$ scim-rotator rotate --continue", "no proof yet", "sandbox plays the admin",
		"watch         [google]", ": proven", "Rotated:", "last seen client", sandbox.HandoffAddr,
		"accepts: entra, google, ssosync; on one it refuses: none")
	if strings.Contains(s, tokenPrefix) {
		t.Fatalf("demo printed a token value:\n%s", s)
	}
}
