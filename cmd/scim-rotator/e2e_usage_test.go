package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// Proof of use (issue 10) end to end: the real binary against the sandbox,
// whose CloudTrail fake records every SCIM call. The sandbox's config has
// quietPeriod 3s, deliveryDelay 1s and pollInterval 250ms; these tests run
// in real time, so they wait on conditions with deadlines.

// stageLive records the live token in the store (AWSCURRENT), as an
// operator does once with `stage --current`.
func (e *env) stageLive(id, value string) {
	e.t.Helper()
	f := filepath.Join(e.files.Dir, "live-token")
	if err := os.WriteFile(f, []byte(value), 0o600); err != nil {
		e.t.Fatal(err)
	}
	if code, out, errOut := e.run("stage", "--current", "--token-id", id, "--token-file", f); code != 0 {
		e.t.Fatalf("stage --current exit %d: %s %s", code, out, errOut)
	}
}

// setConfig replaces old with new in the sandbox's config (a key the
// sandbox already writes cannot be appended twice).
func (e *env) setConfig(old, new string) {
	e.t.Helper()
	b, err := os.ReadFile(e.files.Config)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := strings.Replace(string(b), old, new, 1)
	if cfg == string(b) {
		e.t.Fatalf("the config has no %q", old)
	}
	if err := os.WriteFile(e.files.Config, []byte(cfg), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// storeTokenID is the token id of the store's version at stage ("" when none).
func (e *env) storeTokenID(stage string) string {
	e.t.Helper()
	v, ok := e.sb.SM.Value(sandbox.StoreSecret, stage)
	if !ok {
		return ""
	}
	var rec struct {
		TokenID string `json:"tokenId"`
	}
	if err := json.Unmarshal([]byte(v), &rec); err != nil {
		e.t.Fatalf("store %s: %v", stage, err)
	}
	return rec.TokenID
}

// pendingValue is the pending token's value, as the hand-off's AWS CLI
// command prints it to the operator.
func (e *env) pendingValue() string {
	e.t.Helper()
	v, _ := e.sb.SM.Value(sandbox.StoreSecret, "AWSPENDING")
	var rec struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(v), &rec); err != nil || rec.Token == "" {
		e.t.Fatalf("pending record: %v", err)
	}
	return rec.Token
}

func (e *env) tokenIDs() []string {
	var ids []string
	for _, t := range e.sb.IC.Tokens() {
		ids = append(ids, t.ID)
	}
	return ids
}

// slackText is every string of every Slack message (text and blocks).
func (e *env) slackText() string {
	var b strings.Builder
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			b.WriteString(v + "\n")
		case []any:
			for _, x := range v {
				walk(x)
			}
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	for _, raw := range e.sb.Slack.Messages() {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			e.t.Fatalf("slack payload: %v", err)
		}
		walk(v)
	}
	return b.String()
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitDelivered waits until CloudTrail shows every call made so far.
func (e *env) waitDelivered() {
	e.t.Helper()
	waitFor(e.t, 10*time.Second, "CloudTrail to deliver the SCIM calls", func() bool {
		return e.sb.CloudTrail.Delivered() == e.sb.CloudTrail.EventCount()
	})
}

func containsAll(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Fatalf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

// finishes runs the binary with args and wants the rotation finished:
// Rotated, only the new token left, every target working.
func (e *env) finishes(newID string, args ...string) {
	e.t.Helper()
	code, out, errOut := e.run(args...)
	if code != 0 || !strings.HasPrefix(out, "Rotated") {
		e.t.Fatalf("%q: exit %d, want Rotated:\n%s\n%s", args, code, out, errOut)
	}
	if ids := e.tokenIDs(); len(ids) != 1 || ids[0] != newID {
		e.t.Fatalf("want only the new token %s, have %v", newID, ids)
	}
	e.assertTargetsWork()
}

// R1, R3: `rotate --continue` before the operator saved the token in Okta.
// The canary's push carries the old token: nothing is promoted or deleted,
// OldTokenInUse (exit 1), and the output and Slack ask whether the token
// was saved in Okta. After the paste, the next --continue rotates.
func TestE2EUsageOktaContinueBeforeSave(t *testing.T) {
	e := newEnv(t, sandbox.Options{Okta: "handoff"})
	oldID, oldValue := e.sb.SeedLiveToken(340 * 24 * time.Hour)
	e.stageLive(oldID, oldValue)
	code, out, errOut := e.run("rotate", "--now")
	if code != 0 || !strings.HasPrefix(out, "AwaitingHandoff") {
		t.Fatalf("rotate --now exit %d:\n%s\n%s", code, out, errOut)
	}
	newID := e.storeTokenID("AWSPENDING")

	// The operator pressed "Test API Credentials" but not Save: Okta holds
	// the old token still.
	code, out, errOut = e.run("rotate", "--continue")
	if code != 1 || !strings.HasPrefix(out, "OldTokenInUse") {
		t.Fatalf("continue before save: exit %d, want 1 and OldTokenInUse:\n%s\n%s", code, out, errOut)
	}
	// It names Okta's calls with the old token, asks whether the token was
	// saved, and repeats the hand-off (the command printing the token).
	containsAll(t, "the output", out, "okta", oldID, "saved", sandbox.OktaSCIMUserAgent, "get-secret-value", "rotate --continue")
	if ids := e.tokenIDs(); len(ids) != 2 {
		t.Fatalf("both Identity Center tokens must be kept, have %v", ids)
	}
	if cur := e.storeTokenID("AWSCURRENT"); cur != oldID {
		t.Fatalf("AWSCURRENT is %q, want the old token %s (nothing promoted)", cur, oldID)
	}
	if e.storeTokenID("AWSPENDING") != newID {
		t.Fatal("the pending version must be kept for the next --continue")
	}
	slack := e.slackText()
	containsAll(t, "the Slack alert", slack, "OldTokenInUse", "okta", oldID, "saved")
	e.assertTargetsWork()

	// The rotation waits for the hand-off again.
	if code, out, _ := e.run("rotate"); code != 0 || !strings.HasPrefix(out, "AwaitingHandoff") {
		t.Fatalf("after OldTokenInUse a plain run must remind of the hand-off: exit %d\n%s", code, out)
	}

	// The operator pastes the pending token and presses Save.
	e.sb.Okta.SetTokenInAdminConsole(sandbox.OktaHandoffApp, e.pendingValue())
	e.finishes(newID, "rotate", "--continue")
}

// R2: a forgotten consumer keeps using the old token. The new token is
// promoted, the old one kept; OldTokenInUse (exit 1) names the consumer;
// once it stops and the old token stays quiet, the next run deletes it.
func TestE2EUsageForgottenConsumer(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	oldID, oldValue := e.sb.SeedLiveToken(340 * 24 * time.Hour)
	e.stageLive(oldID, oldValue)
	e.setConfig("confirmTimeout: 90m", "confirmTimeout: 8s")
	// A client calling every 200ms: pages of 50, as the service's, keep the
	// paced lookups short.
	e.sb.CloudTrail.SetPageSize(50)
	stop := e.sb.KeepCallingSCIM(oldValue, "forgotten-job/2.0", 200*time.Millisecond)
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()

	code, out, errOut := e.run("rotate", "--now")
	if code != 1 || !strings.HasPrefix(out, "OldTokenInUse") {
		t.Fatalf("rotate --now exit %d, want 1 and OldTokenInUse:\n%s\n%s", code, out, errOut)
	}
	containsAll(t, "the output", out, "forgotten-job/2.0", "127.0.0.1", oldID)
	ids := e.tokenIDs()
	if len(ids) != 2 {
		t.Fatalf("the old token must be kept while in use, have %v", ids)
	}
	newID := e.storeTokenID("AWSCURRENT")
	if newID == oldID || newID == "" || e.storeTokenID("AWSPREVIOUS") != oldID {
		t.Fatalf("the new token must be promoted: AWSCURRENT %q, AWSPREVIOUS %q", newID, e.storeTokenID("AWSPREVIOUS"))
	}
	containsAll(t, "the Slack alert", e.slackText(), "OldTokenInUse", "forgotten-job/2.0", "127.0.0.1", oldID, "give it the new token "+newID, "get-secret-value")
	e.assertTargetsWork()

	// Still in use: a run now changes nothing.
	if code, out, _ := e.run("rotate"); code != 1 || !strings.HasPrefix(out, "OldTokenInUse") || len(e.tokenIDs()) != 2 {
		t.Fatalf("while still in use: exit %d, %d tokens\n%s", code, len(e.tokenIDs()), out)
	}

	stop()
	stopped = true
	lastCall := time.Now()
	e.waitDelivered()
	// quietPeriod (3s) and deliveryDelay (1s) after the second after the
	// last call (CloudTrail's times are whole seconds), the old token is
	// provably quiet; the last call is no later than lastCall.
	time.Sleep(time.Until(lastCall.Truncate(time.Second).Add(5*time.Second + 500*time.Millisecond)))
	e.finishes(newID, "rotate")
}

// R4: a first run finds two Identity Center tokens and nothing recorded.
func TestE2EUsageTwoUnrecordedTokens(t *testing.T) {
	t.Run("one used", func(t *testing.T) {
		e := newEnv(t, sandbox.Options{})
		usedID, usedValue := e.sb.SeedLiveToken(340 * 24 * time.Hour)
		unusedID, _ := e.sb.IC.SeedToken(e.sb.Clock.Now().Add(-48 * time.Hour))
		if code, err := e.sb.CallSCIM(t.Context(), usedValue, sandbox.LambdaUserAgent); err != nil || code != 200 {
			t.Fatalf("SCIM call: %d %v", code, err)
		}
		e.waitDelivered()
		code, out, errOut := e.run("rotate", "--now")
		if code != 0 || !strings.HasPrefix(out, "Rotated") {
			t.Fatalf("rotate --now exit %d:\n%s\n%s", code, out, errOut)
		}
		deleted := e.sb.IC.DeletedIDs()
		if len(deleted) != 2 || deleted[0] != unusedID || deleted[1] != usedID {
			t.Fatalf("want the unused token %s deleted to make room, then the replaced %s; deleted %v", unusedID, usedID, deleted)
		}
		if ids := e.tokenIDs(); len(ids) != 1 || ids[0] == usedID || ids[0] == unusedID {
			t.Fatalf("want only the new token, have %v", ids)
		}
		e.assertTargetsWork()
	})
	t.Run("both used", func(t *testing.T) {
		e := newEnv(t, sandbox.Options{})
		aID, aValue := e.sb.SeedLiveToken(340 * 24 * time.Hour)
		bID, bValue := e.sb.IC.SeedToken(e.sb.Clock.Now().Add(-48 * time.Hour))
		for _, c := range []struct{ token, agent string }{{aValue, "sync-a/1.0"}, {bValue, "sync-b/1.0"}} {
			if code, err := e.sb.CallSCIM(t.Context(), c.token, c.agent); err != nil || code != 200 {
				t.Fatalf("SCIM call: %d %v", code, err)
			}
		}
		e.waitDelivered()
		code, out, errOut := e.run("rotate", "--now")
		if code != 1 || !strings.HasPrefix(out, "Blocked") {
			t.Fatalf("rotate --now exit %d, want 1 and Blocked:\n%s\n%s", code, out, errOut)
		}
		containsAll(t, "the output", out, aID, bID, "sync-a/1.0", "sync-b/1.0")
		if ids := e.tokenIDs(); len(ids) != 2 || len(e.sb.IC.DeletedIDs()) != 0 || e.sb.IC.CreatedCount() != 0 {
			t.Fatalf("a blocked run changes nothing: tokens %v, deleted %v", ids, e.sb.IC.DeletedIDs())
		}
	})
}

// R5: check FAILs naming usage.source when the recent SCIM events carry an
// accessKeyId that matches none of the listed tokens.
func TestE2EUsageCheckMismatchedAccessKeyID(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	_, value := e.sb.SeedLiveToken(340 * 24 * time.Hour)
	e.sb.CloudTrail.SetAccessKeyID(func(string) string { return "ASIAEXAMPLESESSION01" })
	if code, err := e.sb.CallSCIM(t.Context(), value, sandbox.LambdaUserAgent); err != nil || code != 200 {
		t.Fatalf("SCIM call: %d %v", code, err)
	}
	e.waitDelivered()
	code, out, errOut := e.run("check")
	if code != 1 {
		t.Fatalf("check exit %d, want 1:\n%s\n%s", code, out, errOut)
	}
	var fail string
	for _, l := range strings.Split(checkRows(out), "\n") {
		if strings.HasPrefix(l, "FAIL") {
			fail += l + "\n"
		}
	}
	containsAll(t, "check's FAIL", fail, "cloudtrail", "ASIAEXAMPLESESSION01")
	containsAll(t, "check's output", out, "usage.source: none")
}

// A LookupEvents denial: check FAILs with the IAM statement; rotate creates
// nothing (its preflight lookup comes before the token) and exits 1.
func TestE2EUsageLookupDenied(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	oldID, _ := e.sb.SeedLiveToken(340 * 24 * time.Hour)
	e.sb.CloudTrail.SetAccessDenied(true)
	code, out, errOut := e.run("check")
	if code != 1 {
		t.Fatalf("check exit %d, want 1:\n%s\n%s", code, out, errOut)
	}
	containsAll(t, "check", checkRows(out), "FAIL", "cloudtrail", "LookupEvents", `{"Effect": "Allow", "Action": "cloudtrail:LookupEvents", "Resource": "*"}`)

	code, out, errOut = e.run("rotate", "--now")
	if code != 1 || !strings.HasPrefix(out, "Failed") {
		t.Fatalf("rotate --now exit %d, want 1 and Failed (a denial is not worth retrying):\n%s\n%s", code, out, errOut)
	}
	containsAll(t, "rotate's output", out, "cloudtrail:LookupEvents", "no token was created")
	if ids := e.tokenIDs(); e.sb.IC.CreatedCount() != 0 || len(ids) != 1 || ids[0] != oldID {
		t.Fatalf("nothing may be created: %d created, tokens %v", e.sb.IC.CreatedCount(), ids)
	}
	if v, ok := e.sb.SM.Value(sandbox.StoreSecret, "AWSPENDING"); ok {
		t.Fatalf("no pending version may be stored, have %d bytes", len(v))
	}
	e.assertTargetsWork()

	// With the permission granted, the next run rotates.
	e.sb.CloudTrail.SetAccessDenied(false)
	if code, out, errOut := e.run("rotate", "--now"); code != 0 || !strings.HasPrefix(out, "Rotated") {
		t.Fatalf("rotate --now once allowed: exit %d:\n%s\n%s", code, out, errOut)
	}
	if e.sb.IC.CreatedCount() != 1 || len(e.tokenIDs()) != 1 {
		t.Fatalf("want one token created and only it left: %d created, tokens %v", e.sb.IC.CreatedCount(), e.tokenIDs())
	}
}

// R5: status shows each token's last use, in JSON (field use) and in the
// table (LAST USED).
func TestE2EUsageStatusLastUse(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	e.sb.SeedLiveToken(340 * 24 * time.Hour)
	if code, out, errOut := e.run("rotate", "--now"); code != 0 || !strings.HasPrefix(out, "Rotated") {
		t.Fatalf("rotate --now exit %d:\n%s\n%s", code, out, errOut)
	}
	e.waitDelivered()
	code, out, errOut := e.run("status", "-o", "json")
	var st struct {
		Tokens []struct {
			ID   string `json:"id"`
			Live bool   `json:"live"`
			Use  *struct {
				Last      time.Time `json:"lastUsed"`
				UserAgent string    `json:"userAgent"`
				SourceIP  string    `json:"sourceIp"`
				Calls     int       `json:"calls"`
			} `json:"use"`
		} `json:"tokens"`
	}
	if err := json.Unmarshal(only(t, out), &st); err != nil || code != 0 {
		t.Fatalf("status -o json exit %d: %v\n%s\n%s", code, err, out, errOut)
	}
	if len(st.Tokens) != 1 || !st.Tokens[0].Live || st.Tokens[0].Use == nil {
		t.Fatalf("want the live token with its use:\n%s", out)
	}
	u := st.Tokens[0].Use
	if u.UserAgent != sandbox.LambdaUserAgent || u.Calls < 1 || u.SourceIP == "" || time.Since(u.Last) > time.Minute {
		t.Fatalf("use of the live token: %+v", *u)
	}

	code, out, _ = e.run("status")
	if code != 0 {
		t.Fatalf("status exit %d", code)
	}
	header, row, _ := strings.Cut(out, "\n")
	row, _, _ = strings.Cut(row, "\n")
	containsAll(t, "status's table", header, "LAST USED")
	containsAll(t, "the live token's row", row, st.Tokens[0].ID, "live", u.Last.UTC().Format(time.RFC3339), sandbox.LambdaUserAgent)
}

// The demo shows proof of use (the new token seen in use) and the quiet
// period (the old token unused) before the old token's deletion.
func TestE2EUsageDemo(t *testing.T) {
	out, err := execOutput(binary, "demo")
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	prove := strings.Index(out, "ok   prove use")
	quiet := strings.Index(out, "ok   quiet")
	del := strings.Index(out, "ok   delete old")
	if prove < 0 || quiet < 0 || del < 0 || !(prove < quiet && quiet < del) {
		t.Fatalf("the demo must prove use, then wait for quiet, then delete:\n%s", out)
	}
	containsAll(t, "the demo", out, "Proof of use:", "usage.quietPeriod (3s here")
}

func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// The issue's own reproduction: `demo --serve --okta handoff`, then
// `rotate --now` and `rotate --continue` without pasting the token in Okta:
// OldTokenInUse, both tokens kept (status shows two).
func TestE2EUsageServeHandoffContinueWithoutPaste(t *testing.T) {
	dir := t.TempDir()
	serve := exec.Command(binary, "demo", "--serve", "--okta", "handoff", "--dir", dir)
	var serveOut bytes.Buffer
	serve.Stdout, serve.Stderr = &serveOut, &serveOut
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = serve.Process.Signal(syscall.SIGINT)
		_ = serve.Wait()
	}()
	envFile := filepath.Join(dir, "env.sh")
	waitFor(t, 30*time.Second, "demo --serve to write env.sh", func() bool {
		_, err := os.Stat(envFile)
		return err == nil
	})
	run := func(args string) (int, string) {
		t.Helper()
		cmd := exec.Command("sh", "-c", ". '"+envFile+"' && exec '"+binary+"' "+args)
		cmd.Env = cleanEnv(dir)
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), tokenPrefix) {
			t.Fatalf("%s printed a token value", args)
		}
		return code, string(out)
	}
	if code, out := run("rotate --now"); code != 0 || !strings.HasPrefix(out, "AwaitingHandoff") {
		t.Fatalf("rotate --now exit %d:\n%s", code, out)
	}
	code, out := run("rotate --continue")
	if code != 1 || !strings.HasPrefix(out, "OldTokenInUse") || !strings.Contains(out, "okta") {
		t.Fatalf("rotate --continue without pasting: exit %d, want 1 and OldTokenInUse:\n%s", code, out)
	}
	code, out = run("status -o json")
	var st struct {
		Tokens []struct {
			ID string `json:"id"`
		} `json:"tokens"`
	}
	if err := json.Unmarshal(only(t, out), &st); err != nil || code != 0 {
		t.Fatalf("status -o json exit %d: %v\n%s", code, err, out)
	}
	if len(st.Tokens) != 2 {
		t.Fatalf("nothing may be deleted: status lists %d tokens\n%s", len(st.Tokens), out)
	}
}

// A directory making 100k SCIM calls a day: status finds the live token's
// last use on the first pages (CloudTrail answers newest first) and stays
// within its budget; check too; --usage-window reads the whole window only
// when asked, and refuses a window CloudTrail does not keep.
func TestE2EUsageStatusBusyDirectory(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	e.sb.SeedLiveToken(340 * 24 * time.Hour)
	now := e.sb.Clock.Now()
	e.sb.BusyDirectory(100_000, now.Add(-24*time.Hour), now.Add(-time.Minute))
	pages := e.sb.CloudTrail.Pages()
	code, out, errOut := e.run("status", "-o", "json")
	if code != 0 {
		t.Fatalf("status exit %d:\n%s\n%s", code, out, errOut)
	}
	if n := e.sb.CloudTrail.Pages() - pages; n > 5 {
		t.Fatalf("status made %d LookupEvents calls on a day of 100k events: want at most 5", n)
	}
	var st struct {
		Tokens []struct {
			Use *struct {
				Calls int `json:"calls"`
			} `json:"use"`
		} `json:"tokens"`
		Usage *rotator.UsageReport `json:"usage"`
	}
	if err := json.Unmarshal(only(t, out), &st); err != nil || len(st.Tokens) != 1 || st.Tokens[0].Use == nil || st.Usage == nil ||
		st.Usage.Complete || st.Usage.PageBudget != rotator.UsagePages || st.Usage.Events == 0 || time.Since(st.Usage.Since) > time.Hour {
		t.Fatalf("status -o json: %v\n%s", err, out)
	}

	pages = e.sb.CloudTrail.Pages()
	if code, out, _ := e.run("check"); code != 0 || !strings.Contains(out, "(the latest ") {
		t.Fatalf("check exit %d:\n%s", code, out)
	}
	if n := e.sb.CloudTrail.Pages() - pages; n > rotator.UsagePages {
		t.Fatalf("check made %d LookupEvents calls: want at most its budget of %d", n, rotator.UsagePages)
	}

	_, out, _ = e.run("status")
	containsAll(t, "status's table", out, "the latest ", "--usage-window 24h")
	if code, _, errOut := e.run("status", "--usage-window", "2400h"); code != exitUsage || !strings.Contains(errOut, "--usage-window") {
		t.Fatalf("--usage-window 2400h: exit %d, %s", code, errOut)
	}
}
