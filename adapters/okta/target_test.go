package okta

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// The api path end to end: push, test, confirm, with and without a canary.
func TestAPIHappyPath(t *testing.T) {
	for _, canary := range []string{canaryUser, ""} {
		t.Run("canary="+canary, func(t *testing.T) {
			e := newEnv(t)
			tg := e.target(t, e.cfg(org2orgApp, ModeAuto, canary))
			cred := e.cred(e.newID, e.newTok)

			res, err := tg.Push(t.Context(), cred)
			if err != nil || res.Handoff != nil {
				t.Fatalf("Push = %+v, %v; want api success", res, err)
			}
			if got := e.okta.HeldToken(org2orgApp); got != e.newTok {
				t.Fatal("the app does not hold the new token")
			}
			if !e.okta.ConnectionEnabled(org2orgApp) {
				t.Fatal("connection not activated")
			}
			if err := tg.Test(t.Context(), cred); err != nil {
				t.Fatalf("Test: %v", err)
			}
			err = tg.Confirm(t.Context(), rotator.ConfirmRequest{Credential: cred, Since: t0, Deadline: t0.Add(90 * time.Minute)})
			if err != nil {
				t.Fatalf("Confirm: %v", err)
			}
			if state, last := e.okta.SyncState(org2orgApp, canaryUser); state != "SYNCHRONIZED" || last.Before(t0) {
				t.Fatalf("canary %s lastSync %s; want SYNCHRONIZED after the change", state, last)
			}
			if n := e.faults.Count("okta:SetConnection"); n != 1 {
				t.Fatalf("SetConnection called %d times, want 1", n)
			}
			if canary != "" && e.faults.Count("okta:UpdateUser") != 1 {
				t.Fatal("the canary's push was not triggered")
			}
			e.assertNoLeak(t)
		})
	}
}

// Where Okta's API does not take the token, auto mode hands the change to
// an operator, says why, and never sends or shows the token.
func TestAutoFallsBackToHandoff(t *testing.T) {
	tests := []struct {
		name        string
		app         string
		setup       func(e *env)
		wantSetCall int
		wantWhy     string
	}{
		{name: "amazon_aws_sso answers UNKNOWN", app: awsApp, wantSetCall: 0, wantWhy: "authScheme UNKNOWN"},
		{name: "POST refused 403 (read-only admin)", app: org2orgApp, wantSetCall: 1, wantWhy: "E0000006",
			setup: func(e *env) { e.okta.SetAPITokenRole(sandbox.OktaRoleReadOnlyAdmin) }},
		{name: "POST refused 400", app: org2orgApp, wantSetCall: 1, wantWhy: "E0000001",
			setup: func(e *env) { e.faults.Inject("okta:SetConnection", sandbox.Fault{Status: http.StatusBadRequest}) }},
		{name: "connection API 404", app: org2orgApp, wantSetCall: 0, wantWhy: "E0000007",
			setup: func(e *env) { e.faults.Inject("okta:GetConnection", sandbox.Fault{Status: http.StatusNotFound}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.setup != nil {
				tc.setup(e)
			}
			tg := e.target(t, e.cfg(tc.app, ModeAuto, ""))
			res, err := tg.Push(t.Context(), e.cred(e.newID, e.newTok))
			if err != nil {
				t.Fatalf("Push: %v", err)
			}
			h := res.Handoff
			if h == nil {
				t.Fatal("no hand-off")
			}
			if e.okta.HeldToken(tc.app) != e.oldTok {
				t.Fatal("the app's token changed without the operator")
			}
			if n := e.faults.Count("okta:SetConnection"); n != tc.wantSetCall {
				t.Fatalf("SetConnection called %d times, want %d", n, tc.wantSetCall)
			}
			txt := handoffText(h)
			for _, want := range []string{"Edit", "Test API Credentials", "Save", e.newID, e.ic.SCIMEndpoint(), tc.wantWhy} {
				if !strings.Contains(txt, want) {
					t.Errorf("hand-off lacks %q:\n%s", want, txt)
				}
			}
			if tc.app == awsApp && !strings.HasSuffix(h.ConsoleURL, "/admin/app/amazon_aws_sso/instance/"+awsApp+"/#tab-user-management/api-credentials") {
				t.Errorf("console URL %s", h.ConsoleURL)
			}
			// Test has nothing to read in a hand-off.
			if err := tg.Test(t.Context(), e.cred(e.newID, e.newTok)); err != nil {
				t.Fatalf("Test: %v", err)
			}
			if tc.wantSetCall > 0 && !e.logged("okta api push rejected; falling back to a hand-off") {
				t.Error("the fallback was not logged")
			}
			e.assertNoLeak(t, txt)
		})
	}
}

// Mode api never falls back: a refusal is a clear error with Okta's code.
func TestAPIModeRefusalIsAnError(t *testing.T) {
	e := newEnv(t)
	tg := e.target(t, e.cfg(awsApp, ModeAPI, ""))
	res, err := tg.Push(t.Context(), e.cred(e.newID, leakToken))
	if err == nil || res.Handoff != nil {
		t.Fatalf("Push = %+v, %v; want an error", res, err)
	}
	for _, want := range []string{"HTTP 400", "E0000001", "not supported for this application"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if rotator.IsTransient(err) {
		t.Error("a refusal is not transient")
	}
	e.assertNoLeak(t, err.Error())
}

// The operator pastes the token; `rotate --continue` then confirms.
func TestHandoffThenContinue(t *testing.T) {
	for _, mode := range []string{ModeHandoff, ModeAuto} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t)
			tg := e.target(t, e.cfg(awsApp, mode, canaryUser))
			cred := e.cred(e.newID, e.newTok)
			res, err := tg.Push(t.Context(), cred)
			if err != nil || res.Handoff == nil {
				t.Fatalf("Push = %+v, %v; want a hand-off", res, err)
			}
			// A later run's reminder describes the same hand-off and changes nothing.
			again, err := tg.DescribeHandoff(t.Context())
			if err != nil || again == nil || again.ConsoleURL != res.Handoff.ConsoleURL {
				t.Fatalf("reminder = %+v, %v", again, err)
			}
			if _, err := tg.Push(t.Context(), rotator.Credential{}); err == nil {
				t.Fatal("Push with an empty token must be refused")
			}

			e.clock.Advance(20 * time.Minute)
			e.okta.SetTokenInAdminConsole(awsApp, e.newTok)

			// --continue, maybe in a new process.
			tg = e.target(t, e.cfg(awsApp, mode, canaryUser))
			if err := tg.Test(t.Context(), cred); err != nil {
				t.Fatalf("Test: %v", err)
			}
			if err := tg.Confirm(t.Context(), rotator.ConfirmRequest{Credential: cred, Since: t0, Deadline: e.clock.Now().Add(time.Hour)}); err != nil {
				t.Fatalf("Confirm: %v", err)
			}
			if e.faults.Count("okta:SetConnection") != 0 {
				t.Fatal("a hand-off must not call the connections API")
			}
			e.assertNoLeak(t, handoffText(res.Handoff), handoffText(again))
		})
	}
}

// In a hand-off, pushes before `--continue` ran with the old token: they
// prove nothing about the new one.
func TestHandoffIgnoresEvidenceBeforeContinue(t *testing.T) {
	e := newEnv(t)
	tg := e.target(t, e.cfg(awsApp, ModeHandoff, ""))
	cred := e.cred(e.newID, e.newTok)
	if _, err := tg.Push(t.Context(), cred); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	e.okta.AddLogEvent(awsApp, otherUser, "application.provision.user.push", "SUCCESS", "", e.clock.Now())
	e.clock.Advance(4 * time.Minute)

	err := tg.Confirm(t.Context(), rotator.ConfirmRequest{Credential: cred, Since: t0, Deadline: e.clock.Now().Add(time.Minute)})
	if !isTimeout(err) {
		t.Fatalf("Confirm = %v; want a timeout (nobody pasted the token)", err)
	}
}

// A token the SCIM endpoint refuses shows up as an authentication failure:
// Confirm fails hard, and the rollback (Push old, Test old) leaves Okta with
// a token the SCIM endpoint accepts.
func TestAuthFailureThenRollback(t *testing.T) {
	for _, canary := range []string{canaryUser, ""} {
		t.Run("canary="+canary, func(t *testing.T) {
			e := newEnv(t)
			tg := e.target(t, e.cfg(org2orgApp, ModeAPI, canary))
			bad := rotator.Credential{SCIMEndpoint: e.ic.SCIMEndpoint(), TokenID: "bad", Token: rotator.NewSecret(leakToken)}
			if _, err := tg.Push(t.Context(), bad); err != nil {
				t.Fatalf("Push: %v", err)
			}
			if err := tg.Test(t.Context(), bad); err != nil {
				t.Fatalf("Test: %v", err)
			}
			err := tg.Confirm(t.Context(), rotator.ConfirmRequest{Credential: bad, Since: t0, Deadline: t0.Add(time.Hour)})
			if !isRejected(err) {
				t.Fatalf("Confirm = %v; want ErrTokenRejected", err)
			}
			if !strings.Contains(err.Error(), "authentication_failure") {
				t.Errorf("error does not name the evidence: %v", err)
			}
			if e.clock.Now().After(t0.Add(time.Minute)) {
				t.Errorf("a rejection should not wait for the deadline (now %s)", e.clock.Now())
			}

			// The core's rollback.
			e.clock.Advance(time.Minute)
			old := e.cred(e.oldID, e.oldTok)
			if res, err := tg.Push(t.Context(), old); err != nil || res.Handoff != nil {
				t.Fatalf("rollback Push = %+v, %v", res, err)
			}
			if err := tg.Test(t.Context(), old); err != nil {
				t.Fatalf("rollback Test: %v", err)
			}
			if held := e.okta.HeldToken(org2orgApp); !e.ic.ValidToken(held) {
				t.Fatal("after the rollback Okta holds a token the SCIM endpoint refuses")
			}
			if err := tg.Confirm(t.Context(), rotator.ConfirmRequest{Credential: old, Since: e.clock.Now(), Deadline: e.clock.Now().Add(time.Hour)}); err != nil {
				t.Fatalf("Confirm after rollback: %v", err)
			}
			e.assertNoLeak(t, errText(err))
		})
	}
}

// No evidence: Confirm polls every 10 s on the clock until the deadline.
func TestConfirmTimeout(t *testing.T) {
	tests := []struct {
		name   string
		canary string
		setup  func(e *env)
		want   string
	}{
		{name: "provisioning paused, canary", canary: canaryUser, want: "canary " + canaryUser + " is OUT_OF_SYNC",
			setup: func(e *env) { e.okta.SetProvisioningPaused(org2orgApp, true) }},
		{name: "no pushes, no canary", want: "set canaryUserId",
			setup: func(e *env) { e.okta.SetProvisioningPaused(org2orgApp, true) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tc.setup(e)
			tg := e.target(t, e.cfg(org2orgApp, ModeAPI, tc.canary))
			cred := e.cred(e.newID, e.newTok)
			if _, err := tg.Push(t.Context(), cred); err != nil {
				t.Fatal(err)
			}
			deadline := t0.Add(3 * time.Minute)
			var seen []string
			report := func(p rotator.ConfirmPoll) {
				if p.NextCheck.Sub(e.clock.Now()) != 10*time.Second && !p.NextCheck.Equal(deadline) {
					t.Errorf("next look at %s, at %s", p.NextCheck, e.clock.Now())
				}
				seen = append(seen, p.Seen)
			}
			err := tg.Confirm(t.Context(), rotator.ConfirmRequest{Credential: cred, Since: t0, Deadline: deadline, Progress: report})
			// Each look but the last (at the deadline) is reported, with
			// what the polls have shown.
			if len(seen) != 18 || !strings.Contains(seen[17], "provisioning events in the System Log") {
				t.Errorf("%d reports, the last %q", len(seen), seen[len(seen)-1])
			}
			if !isTimeout(err) {
				t.Fatalf("Confirm = %v; want ErrConfirmTimeout", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			if !e.clock.Now().Equal(deadline) {
				t.Errorf("gave up at %s, want the deadline %s", e.clock.Now(), deadline)
			}
			// 3 minutes at one poll per 10 s: 19 polls at most.
			if n := e.faults.Count("okta:GetLogs"); n != 19 {
				t.Errorf("%d log reads, want 19 (every 10 s from start to deadline)", n)
			}
			e.assertNoLeak(t, err.Error())
		})
	}
}

// Late System Log events: published when the push ran, visible later.
func TestLateLogEvents(t *testing.T) {
	tests := []struct {
		name      string
		reads     int
		delay     time.Duration
		wantReads int
		wantAt    time.Duration
	}{
		{name: "after 3 more reads", reads: 3, wantReads: 4, wantAt: 30 * time.Second},
		{name: "after 2 minutes", delay: 2 * time.Minute, wantReads: 13, wantAt: 2 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.okta.SetLogLag(tc.reads, tc.delay)
			tg := e.target(t, e.cfg(org2orgApp, ModeAPI, ""))
			cred := e.cred(e.newID, e.newTok)
			if _, err := tg.Push(t.Context(), cred); err != nil {
				t.Fatal(err)
			}
			if err := tg.Confirm(t.Context(), rotator.ConfirmRequest{Credential: cred, Since: t0, Deadline: t0.Add(time.Hour)}); err != nil {
				t.Fatalf("Confirm: %v", err)
			}
			if n := e.faults.Count("okta:GetLogs"); n != tc.wantReads {
				t.Errorf("%d log reads, want %d", n, tc.wantReads)
			}
			if got := e.clock.Now().Sub(t0); got != tc.wantAt {
				t.Errorf("confirmed after %s, want %s", got, tc.wantAt)
			}
		})
	}
}

// A late authentication failure still fails the confirmation.
func TestLateAuthFailure(t *testing.T) {
	e := newEnv(t)
	e.okta.SetLogLag(2, 0)
	tg := e.target(t, e.cfg(org2orgApp, ModeAPI, ""))
	bad := rotator.Credential{TokenID: "bad", Token: rotator.NewSecret(leakToken)}
	if _, err := tg.Push(t.Context(), bad); err != nil {
		t.Fatal(err)
	}
	err := tg.Confirm(t.Context(), rotator.ConfirmRequest{Credential: bad, Since: t0, Deadline: t0.Add(time.Hour)})
	if !isRejected(err) {
		t.Fatalf("Confirm = %v; want ErrTokenRejected", err)
	}
	if n := e.faults.Count("okta:GetLogs"); n != 3 {
		t.Errorf("%d log reads, want 3", n)
	}
	e.assertNoLeak(t, err.Error())
}

// Okta's 429s are waited out on the clock until X-Rate-Limit-Reset.
func TestThrottling(t *testing.T) {
	t.Run("push waits for the reset", func(t *testing.T) {
		e := newEnv(t)
		e.faults.Inject("okta:SetConnection", sandbox.OktaRateLimited(t0.Add(20*time.Second)), sandbox.OktaRateLimited(t0.Add(20*time.Second)))
		tg := e.target(t, e.cfg(org2orgApp, ModeAPI, ""))
		if _, err := tg.Push(t.Context(), e.cred(e.newID, e.newTok)); err != nil {
			t.Fatalf("Push: %v", err)
		}
		if n := e.faults.Count("okta:SetConnection"); n != 3 {
			t.Errorf("SetConnection called %d times, want 3", n)
		}
		// 21 s to the reset (plus a second), then the least back-off of 1 s.
		if got := e.clock.Now().Sub(t0); got != 22*time.Second {
			t.Errorf("waited %s, want 22s", got)
		}
	})
	t.Run("push gives up transiently", func(t *testing.T) {
		e := newEnv(t)
		for range throttleRetries + 1 {
			e.faults.Inject("okta:SetConnection", sandbox.OktaRateLimited(t0.Add(10*time.Minute)))
		}
		tg := e.target(t, e.cfg(org2orgApp, ModeAuto, ""))
		res, err := tg.Push(t.Context(), e.cred(e.newID, e.newTok))
		if err == nil || res.Handoff != nil || !rotator.IsTransient(err) || !strings.Contains(err.Error(), "E0000047") {
			t.Fatalf("Push = %+v, %v; want a transient rate-limit error and no hand-off", res, err)
		}
		if got := e.clock.Now().Sub(t0); got != time.Duration(throttleRetries)*maxBackoff {
			t.Errorf("waited %s, want %d capped back-offs", got, throttleRetries)
		}
		e.assertNoLeak(t, err.Error())
	})
	t.Run("confirm polls after the reset", func(t *testing.T) {
		e := newEnv(t)
		e.faults.Inject("okta:GetLogs", sandbox.OktaRateLimited(t0.Add(45*time.Second)))
		tg := e.target(t, e.cfg(org2orgApp, ModeAPI, ""))
		cred := e.cred(e.newID, e.newTok)
		if _, err := tg.Push(t.Context(), cred); err != nil {
			t.Fatal(err)
		}
		if err := tg.Confirm(t.Context(), rotator.ConfirmRequest{Credential: cred, Since: t0, Deadline: t0.Add(time.Hour)}); err != nil {
			t.Fatalf("Confirm: %v", err)
		}
		if got := e.clock.Now().Sub(t0); got != 46*time.Second {
			t.Errorf("second poll after %s, want 46s (reset + 1 s)", got)
		}
		if n := e.faults.Count("okta:GetLogs"); n != 2 {
			t.Errorf("%d log reads, want 2", n)
		}
	})
}

// Server errors and lost answers: transient, and Push can be repeated.
func TestPushTransientFaults(t *testing.T) {
	tests := []struct {
		name  string
		fault sandbox.Fault
	}{
		{name: "500", fault: sandbox.Fault{Status: http.StatusInternalServerError}},
		{name: "answer lost after the work", fault: sandbox.Fault{Status: http.StatusBadGateway, After: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.faults.Inject("okta:SetConnection", tc.fault)
			tg := e.target(t, e.cfg(org2orgApp, ModeAuto, ""))
			cred := e.cred(e.newID, e.newTok)
			res, err := tg.Push(t.Context(), cred)
			if err == nil || res.Handoff != nil || !rotator.IsTransient(err) {
				t.Fatalf("Push = %+v, %v; want a transient error", res, err)
			}
			if res, err := tg.Push(t.Context(), cred); err != nil || res.Handoff != nil {
				t.Fatalf("second Push = %+v, %v", res, err)
			}
			if e.okta.HeldToken(org2orgApp) != e.newTok {
				t.Fatal("the app does not hold the new token")
			}
		})
	}
}

// The rotator's own Okta credentials refused while confirming: a hard error,
// not a token rejection.
func TestConfirmOwnCredentialsRefused(t *testing.T) {
	e := newEnv(t)
	tg := e.target(t, e.cfg(org2orgApp, ModeAPI, ""))
	e.faults.Inject("okta:GetLogs", sandbox.Fault{Status: http.StatusUnauthorized})
	err := tg.Confirm(t.Context(), rotator.ConfirmRequest{Since: t0, Deadline: t0.Add(time.Hour)})
	if err == nil || isRejected(err) || isTimeout(err) || !strings.Contains(err.Error(), "E0000011") {
		t.Fatalf("Confirm = %v; want the credentials error", err)
	}
}

func TestCheckAndStatus(t *testing.T) {
	tests := []struct {
		name    string
		app     string
		mode    string
		canary  string
		setup   func(e *env)
		wantOK  bool
		wantTxt []string
		// wantLevels are the levels of some checks, by name.
		wantLevels map[string]rotator.Level
		// wantEvent starts the last provisioning event status shows
		// (default: a successful push).
		wantEvent string
	}{
		{name: "org2org auto", app: org2orgApp, mode: ModeAuto, canary: canaryUser, wantOK: true,
			wantTxt: []string{"api: the app's provisioning connection takes a token", "okta.apps.manage", "SYNCHRONIZED",
				`sets its Okta profile attribute displayName to "scim-rotator canary <RFC 3339 time>"`, "dedicated canary user", "not Application Administrator"}},
		{name: "aws auto", app: awsApp, mode: ModeAuto, wantOK: true,
			wantTxt:    []string{"handoff: Okta's connections API answers authScheme UNKNOWN", "/#tab-user-management/api-credentials", "set canaryUserId"},
			wantLevels: map[string]rotator.Level{"canary": rotator.LevelWarn, "provisioning mode": rotator.LevelOK}},
		{name: "canary in ERROR", app: org2orgApp, mode: ModeAuto, canary: canaryUser, wantOK: true,
			// Okta's last push to the canary failed (a wrong token): worth a
			// warning, not a failure; the next rotation pushes a good one.
			setup: func(e *env) {
				e.okta.SetTokenInAdminConsole(org2orgApp, "not-the-scim-token")
				e.okta.RunPushes()
			},
			wantTxt:    []string{"syncState ERROR", "Assignments tab"},
			wantLevels: map[string]rotator.Level{"canary": rotator.LevelWarn},
			wantEvent:  "application.integration.authentication_failure FAILURE"},
		{name: "aws api", app: awsApp, mode: ModeAPI, wantOK: false,
			wantTxt: []string{"set mode: auto or handoff"}},
		{name: "unknown app", app: "0oanothere", mode: ModeAuto, wantOK: false,
			wantTxt: []string{"E0000007", "copy the id from the app's Admin Console URL"}},
		{name: "canary not assigned", app: org2orgApp, mode: ModeAuto, canary: "00unobody", wantOK: false,
			wantTxt: []string{"assign user 00unobody"}},
		{name: "revoked api token", app: org2orgApp, mode: ModeAuto, wantOK: false,
			setup:   func(e *env) { e.faults.Inject("okta:GetApp", sandbox.Fault{Status: http.StatusUnauthorized}) },
			wantTxt: []string{"E0000011", "Security > API > Tokens"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.setup != nil {
				tc.setup(e)
			}
			tg := e.target(t, e.cfg(tc.app, tc.mode, tc.canary))
			res := tg.Check(t.Context())
			txt := checkText(res)
			ok := true
			for _, r := range res {
				ok = ok && !r.Failed()
			}
			if ok != tc.wantOK {
				t.Errorf("all OK = %v, want %v:\n%s", ok, tc.wantOK, txt)
			}
			for _, r := range res {
				if want, ok := tc.wantLevels[r.Name]; ok && r.Level != want {
					t.Errorf("check %s = %s, want %s", r.Name, r.Level, want)
				}
			}
			for _, want := range tc.wantTxt {
				if !strings.Contains(txt, want) {
					t.Errorf("check lacks %q:\n%s", want, txt)
				}
			}
			st, err := tg.Status(t.Context())
			var stTxt strings.Builder
			for _, f := range st.Fields {
				stTxt.WriteString(f.Key + "=" + f.Text() + "\n")
			}
			event := "application.provision.user.push SUCCESS"
			if tc.wantEvent != "" {
				event = tc.wantEvent
			}
			if tc.wantOK && (err != nil || !strings.Contains(stTxt.String(), "lastProvisioningEventDetail="+event)) {
				t.Errorf("Status = %v:\n%s", err, stTxt.String())
			}
			e.assertNoLeak(t, txt, stTxt.String(), errText(err))
		})
	}
}

// Check never changes anything.
func TestCheckIsReadOnly(t *testing.T) {
	e := newEnv(t)
	tg := e.target(t, e.cfg(org2orgApp, ModeAuto, canaryUser))
	e.faults.ResetCalls()
	tg.Check(t.Context())
	for _, c := range e.faults.Calls() {
		switch c {
		case "okta:SetConnection", "okta:UpdateAppUser", "okta:UpdateUser", "okta:ActivateConnection", "okta:DeactivateConnection":
			t.Fatalf("check called %s", c)
		}
	}
	if e.okta.HeldToken(org2orgApp) != e.oldTok {
		t.Fatal("check changed the token")
	}
}

func TestNewConfigErrors(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name    string
		cfg     Config
		wantKey string
	}{
		{name: "no token", cfg: Config{OrgURL: e.srv.URL, AppID: org2orgApp}, wantKey: "targets[0].okta.apiTokenEnv"},
		{name: "unset env", cfg: Config{OrgURL: e.srv.URL, AppID: org2orgApp, APITokenEnv: "OKTA_TEST_UNSET_VARIABLE"}, wantKey: "targets[0].okta.apiTokenEnv"},
		{name: "http org", cfg: Config{OrgURL: "http://example.okta.com", AppID: org2orgApp, APITokenFile: e.tokenFile}, wantKey: "targets[0].okta.orgUrl"},
		{name: "missing key file", cfg: Config{OrgURL: e.srv.URL, AppID: org2orgApp, ClientID: "0oaclient", PrivateKeyFile: "/nonexistent/key.pem"}, wantKey: "targets[0].okta.privateKeyFile"},
		{name: "no app", cfg: Config{OrgURL: e.srv.URL, APITokenFile: e.tokenFile}, wantKey: "targets[0].okta.appId"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(t.Context(), "okta", tc.cfg, Options{ConfigKey: "targets[0].okta"})
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Key != tc.wantKey {
				t.Fatalf("New = %v; want a config error on %s", err, tc.wantKey)
			}
		})
	}
}

// The canary's push is triggered by a real change of its Okta user profile:
// canaryAttribute set to "scim-rotator canary <time>", nothing else touched.
func TestCanaryIsARealChange(t *testing.T) {
	for _, attr := range []string{"", "nickName"} {
		t.Run("attribute="+attr, func(t *testing.T) {
			e := newEnv(t)
			cfg := e.cfg(org2orgApp, ModeAPI, canaryUser)
			cfg.CanaryAttribute = attr
			tg := e.target(t, cfg)
			before := e.okta.UserProfile(canaryUser)
			cred := e.cred(e.newID, e.newTok)
			if _, err := tg.Push(t.Context(), cred); err != nil {
				t.Fatal(err)
			}
			touched := e.clock.Now()
			if err := tg.Confirm(t.Context(), rotator.ConfirmRequest{Credential: cred, Since: t0, Deadline: t0.Add(time.Hour)}); err != nil {
				t.Fatalf("Confirm: %v", err)
			}
			want := maps.Clone(before)
			key := attr
			if key == "" {
				key = "displayName"
			}
			want[key] = "scim-rotator canary " + touched.UTC().Format(time.RFC3339)
			if got := e.okta.UserProfile(canaryUser); !reflect.DeepEqual(got, want) {
				t.Fatalf("canary profile = %v, want %v", got, want)
			}
			if !e.logged("okta canary push triggered: its user profile changed") {
				t.Fatal("the trigger was not logged")
			}
			e.assertNoLeak(t)
		})
	}
}

// The canary confirms only through its own push: after the token change's
// push synced it, its profile change makes it OUT_OF_SYNC until Okta pushes
// that change (a no-op touch would leave the earlier sync standing).
func TestCanaryNeedsItsOwnPush(t *testing.T) {
	for _, paused := range []bool{true, false} {
		t.Run(fmt.Sprintf("provisioning paused=%v", paused), func(t *testing.T) {
			e := newEnv(t)
			tg := e.target(t, e.cfg(org2orgApp, ModeAPI, canaryUser))
			cred := e.cred(e.newID, e.newTok)
			if _, err := tg.Push(t.Context(), cred); err != nil {
				t.Fatal(err)
			}
			e.okta.RunPushes() // the token change's push: the canary syncs now
			e.clock.Advance(time.Second)
			e.okta.SetProvisioningPaused(org2orgApp, paused)
			// Only the canary can confirm.
			e.faults.Inject("okta:GetLogs", sandbox.Fault{Status: http.StatusForbidden})
			err := tg.Confirm(t.Context(), rotator.ConfirmRequest{Credential: cred, Since: t0, Deadline: e.clock.Now().Add(time.Minute)})
			if paused && !isTimeout(err) {
				t.Fatalf("Confirm = %v; want a timeout (the canary's change was never pushed)", err)
			}
			if !paused && err != nil {
				t.Fatalf("Confirm: %v", err)
			}
		})
	}
}

// An admin role that may not edit users: the canary cannot be changed, the
// System Log still confirms, and the warning says why.
func TestCanaryNotEditable(t *testing.T) {
	e := newEnv(t)
	e.okta.SetAPITokenRole(sandbox.OktaRoleAppAdmin)
	tg := e.target(t, e.cfg(org2orgApp, ModeAPI, canaryUser))
	cred := e.cred(e.newID, e.newTok)
	if _, err := tg.Push(t.Context(), cred); err != nil {
		t.Fatal(err)
	}
	if err := tg.Confirm(t.Context(), rotator.ConfirmRequest{Credential: cred, Since: t0, Deadline: t0.Add(time.Hour)}); err != nil {
		t.Fatalf("Confirm: %v", err)
	}
	w := e.logs.FilterMessage("okta confirmation source unusable; confirming without it").All()
	if len(w) != 1 || !strings.Contains(fmt.Sprint(w[0].ContextMap()), "set displayName of canary user "+canaryUser) {
		t.Fatalf("warnings = %v", w)
	}
	e.assertNoLeak(t)
}

// A confirmation's log line says what Okta did and what that proves: after
// the API set the token, that Okta provisions with the new one; after a
// hand-off nobody has finished yet (Okta still holds the old token), only
// that Okta's provisioning works, never "with the new token", since the
// run may then find the old token in use.
func TestConfirmSaysWhatItProves(t *testing.T) {
	for _, tc := range []struct{ app, mode, want string }{
		{org2orgApp, ModeAPI, "Okta's canary was provisioned after the API gave Okta the new token: Okta provisions with it"},
		{awsApp, ModeHandoff, "Okta's canary was provisioned after the hand-off: Okta's provisioning works with the token its admin saved (proof of use shows whether it is the new one)"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			e := newEnv(t)
			tg := e.target(t, e.cfg(tc.app, tc.mode, canaryUser))
			cred := e.cred(e.newID, e.newTok)
			if _, err := tg.Push(t.Context(), cred); err != nil {
				t.Fatal(err)
			}
			if err := tg.Confirm(t.Context(), rotator.ConfirmRequest{Credential: cred, Since: t0, Deadline: e.clock.Now().Add(time.Hour)}); err != nil {
				t.Fatalf("Confirm: %v", err)
			}
			var lines []string
			for _, ent := range e.logs.All() {
				lines = append(lines, ent.Message)
				if strings.Contains(ent.Message, "with the new token") {
					t.Errorf("log line claims more than Okta showed: %q", ent.Message)
				}
			}
			if !slices.Contains(lines, tc.want) {
				t.Errorf("log lines %q lack %q", lines, tc.want)
			}
		})
	}
}
