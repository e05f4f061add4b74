package entra

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// rotate drives the target the way the core does: Validate, Push, Test,
// Confirm with the push time as Since. A second passes after the push, as
// it would; waited is how long Confirm waited on the clock.
func rotate(e *env, tg *Target, token string, timeout time.Duration) (waited time.Duration, err error) {
	ctx := e.t.Context()
	cred := e.cred(token)
	if err := tg.Validate(ctx, cred); err != nil {
		return 0, err
	}
	if _, err := tg.Push(ctx, cred); err != nil {
		return 0, err
	}
	since := e.clock.Now()
	e.clock.Advance(time.Second)
	if err := tg.Test(ctx, cred); err != nil {
		return 0, err
	}
	start := e.clock.Now()
	err = tg.Confirm(ctx, rotator.ConfirmRequest{Credential: cred, Since: since, Deadline: since.Add(timeout)})
	return e.clock.Now().Sub(start), err
}

func TestHappyPath(t *testing.T) {
	tests := []struct {
		name string
		opts []envOption
		// auto-cycle settings of the fake for the no-canary case
		cycleAfterReads int
		wantCalls       []string
		wantWaited      time.Duration
	}{
		{
			name:       "canary provisioned on demand",
			opts:       []envOption{withCanary},
			wantCalls:  []string{"graph:GetSchema", "graph:ProvisionOnDemand"},
			wantWaited: 0,
		},
		{
			name:       "no canary: waits for the next scheduled cycle",
			wantCalls:  []string{"graph:GetJob"},
			wantWaited: 40 * time.Minute, // the fake's cycle interval, in 5-minute polls
		},
		{
			name:            "no canary, jobId discovered: a cycle on the second read",
			opts:            []envOption{withoutJobID},
			cycleAfterReads: 2,
			wantCalls:       []string{"graph:GetJobs", "graph:GetJob"},
			wantWaited:      5 * time.Minute, // the read in Push ran the pre-push cycle
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.opts...)
			e.graph.CycleAfterReads = tt.cycleAfterReads
			tg := e.target()

			waited, err := rotate(e, tg, newToken, 2*time.Hour)
			if err != nil {
				t.Fatalf("rotate: %v", err)
			}
			if got := e.graph.SavedToken(spID); got != newToken {
				t.Errorf("saved token is not the new one")
			}
			if got := e.graph.SavedBaseAddress(spID); got != e.scimURL {
				t.Errorf("saved BaseAddress = %q, want %q", got, e.scimURL)
			}
			calls := e.faults.Calls()
			for _, want := range append([]string{"entra:OpenIDConfiguration", "entra:Token", "graph:ValidateCredentials", "graph:PutSecrets"}, tt.wantCalls...) {
				if !slices.Contains(calls, want) {
					t.Errorf("calls %v lack %s", calls, want)
				}
			}
			if slices.Contains(calls, "entra:InstanceDiscovery") {
				t.Errorf("instance discovery attempted against a custom authority")
			}
			if n := e.faults.Count("graph:Start"); n != 0 {
				t.Errorf("start called %d times on an active job", n)
			}
			// Validate explicit, validate saved in Push, and Test.
			if n := e.faults.Count("graph:ValidateCredentials"); n != 3 {
				t.Errorf("validateCredentials called %d times, want 3", n)
			}
			if waited != tt.wantWaited {
				t.Errorf("confirmation waited %s, want %s", waited, tt.wantWaited)
			}
			// The SDK gzips request bodies; the fake decoded them.
			if enc := e.encodingsOf(http.MethodPut, "/v1.0/servicePrincipals/"+spID+"/synchronization/secrets"); len(enc) != 1 || enc[0] != "gzip" {
				t.Errorf("PUT secrets Content-Encoding = %q, want one gzip body", enc)
			}
			st, err := tg.Status(t.Context())
			if err != nil {
				t.Fatalf("Status: %v", err)
			}
			e.noLeak(statusText(st))
		})
	}
}

func TestCanaryConfirmedTwiceIsSkippedRedundantExport(t *testing.T) {
	e := newEnv(t, withCanary)
	tg := e.target()
	ctx := t.Context()
	if _, err := rotate(e, tg, newToken, time.Hour); err != nil {
		t.Fatal(err)
	}
	// A second proof of the same canary is Skipped (RedundantExport): the
	// engine still matched it in the SCIM endpoint, so it proves the token.
	req := rotator.ConfirmRequest{Credential: e.cred(newToken), Since: e.clock.Now(), Deadline: e.clock.Now().Add(time.Hour)}
	if err := tg.Confirm(ctx, req); err != nil {
		t.Fatalf("second Confirm: %v", err)
	}
	var skipped bool
	for _, l := range e.logs.All() {
		if d, _ := l.ContextMap()["detail"].(string); strings.Contains(d, "RedundantExport") {
			skipped = true
		}
	}
	if !skipped {
		t.Errorf("no confirmation logged as Skipped RedundantExport")
	}
	e.noLeak()
}

func TestCanaryFailures(t *testing.T) {
	tests := []struct {
		name         string
		setup        func(e *env)
		wantRejected bool
		wantText     string
	}{
		{
			name:         "the saved token is refused by SCIM",
			setup:        func(e *env) { e.scim.set(newToken, false) },
			wantRejected: true,
			wantText:     "Matching",
		},
		{
			name:     "canary not assigned: skipped before SCIM was contacted",
			setup:    func(e *env) { e.cfg.Canary.ObjectID = "55555555-5555-5555-5555-555555555555" },
			wantText: "NotEffectivelyEntitled",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, withCanary)
			tt.setup(e)
			tg := e.target()
			ctx := t.Context()
			if _, err := tg.Push(ctx, e.cred(newToken)); err != nil && !tt.wantRejected {
				t.Fatal(err)
			}
			now := e.clock.Now()
			err := tg.Confirm(ctx, rotator.ConfirmRequest{Credential: e.cred(newToken), Since: now, Deadline: now.Add(time.Hour)})
			if err == nil {
				t.Fatal("Confirm succeeded")
			}
			if got := errors.Is(err, rotator.ErrTokenRejected); got != tt.wantRejected {
				t.Errorf("errors.Is(ErrTokenRejected) = %v, want %v: %v", got, tt.wantRejected, err)
			}
			if errors.Is(err, rotator.ErrConfirmTimeout) {
				t.Errorf("a definite failure waited for the deadline: %v", err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not mention %q", err, tt.wantText)
			}
			e.noLeak(errText(err))
		})
	}
}

func TestInvalidTokenRejectedBeforeAnythingIsSaved(t *testing.T) {
	e := newEnv(t)
	e.scim.set(newToken, false)
	tg := e.target()

	err := tg.Validate(t.Context(), e.cred(newToken))
	if !errors.Is(err, rotator.ErrTokenRejected) {
		t.Fatalf("Validate = %v, want ErrTokenRejected", err)
	}
	var ge *GraphError
	if !errors.As(err, &ge) || ge.Code != sandbox.GraphCredentialFailure || ge.Status != http.StatusBadRequest {
		t.Errorf("error %v does not carry Graph's code %s", err, sandbox.GraphCredentialFailure)
	}
	if !strings.Contains(err.Error(), sandbox.GraphCredentialFailure) || !strings.Contains(err.Error(), "401") {
		t.Errorf("error %q names neither the Graph code nor the SCIM answer", err)
	}
	if got := e.graph.SavedToken(spID); got != oldToken {
		t.Errorf("saved token changed by a failed validation")
	}
	if n := e.faults.Count("graph:PutSecrets"); n != 0 {
		t.Errorf("PutSecrets called %d times", n)
	}
	e.noLeak(errText(err))
}

func TestFailureAfterPutThenRollback(t *testing.T) {
	tests := []struct {
		name string
		// fail makes the rotation fail after the new token was saved.
		fail func(e *env, tg *Target) error
		// cycleAfterReads 2 lets job reads run cycles with the saved token.
		cycleAfterReads int
		wantStart       int
	}{
		{
			name: "saved-credentials test refused (token revoked between Validate and Push)",
			fail: func(e *env, tg *Target) error {
				ctx := e.t.Context()
				if err := tg.Validate(ctx, e.cred(newToken)); err != nil {
					e.t.Fatal(err)
				}
				e.scim.set(newToken, false)
				_, err := tg.Push(ctx, e.cred(newToken))
				return err
			},
		},
		{
			name: "sync cycle refused the new token and quarantined the job",
			fail: func(e *env, tg *Target) error {
				ctx := e.t.Context()
				if _, err := tg.Push(ctx, e.cred(newToken)); err != nil {
					e.t.Fatal(err)
				}
				e.scim.set(newToken, false)
				since := e.clock.Now()
				e.clock.Advance(time.Second)
				err := tg.Confirm(ctx, rotator.ConfirmRequest{Credential: e.cred(newToken), Since: since, Deadline: since.Add(2 * time.Hour)})
				if !errors.Is(err, rotator.ErrTokenRejected) || errors.Is(err, rotator.ErrConfirmTimeout) {
					e.t.Errorf("Confirm = %v, want a token rejection without waiting for the deadline", err)
				}
				return err
			},
			cycleAfterReads: 2,
			wantStart:       1,
		},
		{
			name: "saved-credentials test refused, and a cycle with the saved token quarantined the job before the rollback",
			fail: func(e *env, tg *Target) error {
				e.scim.set(newToken, false)
				_, err := tg.Push(e.t.Context(), e.cred(newToken))
				return err
			},
			cycleAfterReads: 2, // the rollback's job read is the second: a cycle fails on the saved token
			wantStart:       1,
		},
		{
			name: "answer to the saved-credentials test lost (503s beyond the SDK's retries)",
			fail: func(e *env, tg *Target) error {
				e.faults.Inject("graph:ValidateCredentials",
					sandbox.Fault{Status: 503, After: false, Header: http.Header{"Retry-After": {"0"}}},
					sandbox.Fault{Status: 503, Header: http.Header{"Retry-After": {"0"}}},
					sandbox.Fault{Status: 503, Header: http.Header{"Retry-After": {"0"}}},
					sandbox.Fault{Status: 503, Header: http.Header{"Retry-After": {"0"}}})
				_, err := tg.Push(e.t.Context(), e.cred(newToken))
				if !rotator.IsTransient(err) {
					e.t.Errorf("503 after retries is not transient: %v", err)
				}
				return err
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.graph.CycleAfterReads = tt.cycleAfterReads
			tg := e.target()
			err := tt.fail(e, tg)
			if err == nil {
				t.Fatal("the rotation did not fail")
			}
			if e.graph.SavedToken(spID) != newToken {
				t.Fatalf("the failure happened before the PUT")
			}
			e.faults.ResetCalls()

			// Rollback as the core drives it.
			ctx := t.Context()
			if _, err := tg.Push(ctx, e.cred(oldToken)); err != nil {
				t.Fatalf("rollback Push: %v", err)
			}
			if err := tg.Test(ctx, e.cred(oldToken)); err != nil {
				t.Fatalf("rollback Test: %v", err)
			}
			saved := e.graph.SavedToken(spID)
			if saved != oldToken || !e.scim.accepts(saved) {
				t.Errorf("after rollback the fake does not hold a token SCIM accepts")
			}
			if n := e.faults.Count("graph:Start"); n != tt.wantStart {
				t.Errorf("start called %d times during rollback, want %d", n, tt.wantStart)
			}
			// The next cycle runs with the old token and succeeds.
			e.graph.RunCycle()
			if st := e.graph.JobStatus(spID); st.Code != sandbox.GraphJobActive || st.LastState != "Succeeded" {
				t.Errorf("job after rollback = %+v, want Active/Succeeded", st)
			}
			e.noLeak(errText(err))
		})
	}
}

func TestQuarantineAtStart(t *testing.T) {
	tests := []struct {
		name      string
		reason    string
		wantStart int
		wantErr   bool
	}{
		{name: "quarantined because of credentials: the rotation cures it", reason: sandbox.GraphQuarantineException, wantStart: 1},
		{name: "quarantined for too many deletes: left for a human", reason: "TooManyDeletes", wantStart: 0, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.graph.CycleAfterReads = 0
			e.scim.set(oldToken, false) // the old token is why the job is quarantined
			e.graph.Quarantine(spID, tt.reason)
			tg := e.target()

			_, err := rotate(e, tg, newToken, 2*time.Hour)
			if n := e.faults.Count("graph:Start"); n != tt.wantStart {
				t.Errorf("start called %d times, want %d", n, tt.wantStart)
			}
			if tt.wantErr {
				if !errors.Is(err, rotator.ErrConfirmTimeout) {
					t.Errorf("rotate = %v, want a confirmation timeout", err)
				}
				e.noLeak(errText(err))
				return
			}
			if err != nil {
				t.Fatalf("rotate: %v", err)
			}
			calls := e.faults.Calls()
			if i, j := slices.Index(calls, "graph:PutSecrets"), slices.Index(calls, "graph:Start"); i < 0 || j < i {
				t.Errorf("start was not called after the PUT: %v", calls)
			}
			if st := e.graph.JobStatus(spID); st.Code != sandbox.GraphJobActive || st.QuarantineReason != "" {
				t.Errorf("job = %+v, want Active without quarantine", st)
			}
			e.noLeak()
		})
	}
}

func TestConfirmTimeout(t *testing.T) {
	e := newEnv(t)
	e.graph.CycleAfterReads = 0
	e.graph.CycleEvery = 0 // no cycle ever runs
	tg := e.target()
	ctx := t.Context()
	if _, err := tg.Push(ctx, e.cred(newToken)); err != nil {
		t.Fatal(err)
	}
	since := e.clock.Now()
	deadline := since.Add(30 * time.Minute)
	// Every look that proved nothing, and a beat a minute between looks 5
	// minutes apart, is reported with what was seen and the next look.
	var at []time.Time
	report := func(p rotator.ConfirmPoll) {
		now := e.clock.Now()
		if !strings.Contains(p.Seen, "no sync cycle has begun since the push") || !p.NextCheck.After(now) || p.NextCheck.Sub(now) > 5*time.Minute {
			t.Errorf("report at %s: %+v", now, p)
		}
		at = append(at, now)
	}
	err := tg.Confirm(ctx, rotator.ConfirmRequest{Credential: e.cred(newToken), Since: since, Deadline: deadline, Progress: report})
	if len(at) < 30 || at[0].Sub(since) > time.Minute {
		t.Errorf("%d reports, the first at %s: want one a minute from the first look", len(at), at)
	}
	for i := 1; i < len(at); i++ {
		if at[i].Sub(at[i-1]) > rotator.WaitBeat {
			t.Errorf("silent from %s to %s", at[i-1], at[i])
		}
	}
	if !errors.Is(err, rotator.ErrConfirmTimeout) {
		t.Fatalf("Confirm = %v, want ErrConfirmTimeout", err)
	}
	if !e.clock.Now().Equal(deadline) {
		t.Errorf("gave up at %s, want the deadline %s", e.clock.Now(), deadline)
	}
	// One read now and one per 5-minute poll up to the deadline.
	if n := e.faults.Count("graph:GetJob"); n != 1+1+6 {
		t.Errorf("job read %d times, want 8 (Push, then polls every 5m for 30m)", n)
	}
	if !strings.Contains(err.Error(), "no sync cycle has begun since the push") {
		t.Errorf("timeout error %q does not say what was missing", err)
	}
	e.noLeak(errText(err))
}

func TestThrottling(t *testing.T) {
	e := newEnv(t)
	tg := e.target()
	ctx := t.Context()
	retry0 := sandbox.Fault{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"0"}}}

	// The SDK retries a throttled PUT itself, honouring Retry-After.
	e.faults.Inject("graph:PutSecrets", retry0, retry0)
	if _, err := tg.Push(ctx, e.cred(newToken)); err != nil {
		t.Fatalf("Push through two 429s: %v", err)
	}
	if n := e.faults.Count("graph:PutSecrets"); n != 3 {
		t.Errorf("PUT sent %d times, want 3 (two throttled, one accepted)", n)
	}
	if e.graph.SavedToken(spID) != newToken {
		t.Errorf("token not saved after throttling")
	}

	// Throttled beyond the SDK's retries while confirming: the target waits
	// (on its clock) and polls again instead of failing.
	e.graph.CycleAfterReads = 1
	e.faults.Inject("graph:GetJob", retry0, retry0, retry0, retry0)
	since := e.clock.Now()
	err := tg.Confirm(ctx, rotator.ConfirmRequest{Credential: e.cred(newToken), Since: since, Deadline: since.Add(time.Hour)})
	if err != nil {
		t.Fatalf("Confirm through throttling: %v", err)
	}
	if got := e.clock.Now().Sub(since); got != 5*time.Minute {
		t.Errorf("waited %s after exhausted retries, want one poll interval (5m)", got)
	}
	e.noLeak(errText(err))
}

// stubGraph is a graphAPI whose job reads are throttled with a long
// Retry-After, to check the poll honours it (the SDK itself would sleep).
type stubGraph struct {
	graphAPI
	reads int
	since time.Time
}

func (s *stubGraph) GetJob(context.Context, string) (job, error) {
	s.reads++
	if s.reads == 1 {
		return job{}, rotator.Transient(&GraphError{Op: "read", Status: 429, Code: "TooManyRequests", RetryAfter: 20 * time.Minute})
	}
	return job{ID: jobID, Code: "Active", Last: &execution{State: "Succeeded", Began: s.since.Add(time.Second)}}, nil
}

func TestPollHonoursRetryAfter(t *testing.T) {
	clock := sandbox.NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), true)
	stub := &stubGraph{since: clock.Now()}
	tg := newTarget("entra", configWithJob(), stub, Options{Clock: clock, PollInterval: time.Minute})
	err := tg.Confirm(t.Context(), rotator.ConfirmRequest{Since: clock.Now(), Deadline: clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if got := clock.Now().Sub(stub.since); got != 20*time.Minute {
		t.Errorf("waited %s, want Graph's Retry-After (20m) rather than the 1m poll interval", got)
	}
}

func TestJobDiscovery(t *testing.T) {
	e := newEnv(t, withoutJobID)
	second := "aWSSingleSignOn.second"
	e.graph.AddServicePrincipal(spID, second)
	tg := e.target()
	err := tg.Validate(t.Context(), e.cred(newToken))
	if err == nil {
		t.Fatal("Validate with two jobs and no jobId succeeded")
	}
	for _, id := range []string{jobID, second, "jobId"} {
		if !strings.Contains(err.Error(), id) {
			t.Errorf("error %q does not name %s", err, id)
		}
	}
	if e.faults.Count("graph:ValidateCredentials") != 0 {
		t.Errorf("validated against a guessed job")
	}
	e.noLeak(errText(err))
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(e *env)
		wantOK   map[string]bool
		wantFix  string
		wantText string
	}{
		{
			name:   "all good",
			setup:  withCanary,
			wantOK: map[string]bool{"token": true, "job": true, "canary": true},
		},
		{
			name:     "wrong client secret",
			setup:    func(e *env) { e.graph.LoginClient(tenantID, clientID, "another-secret") },
			wantOK:   map[string]bool{"token": false},
			wantText: "AADSTS7000215",
		},
		{
			name: "graph refuses: permissions explained",
			setup: func(e *env) {
				e.faults.Inject("graph:GetJob", sandbox.Fault{Status: http.StatusForbidden})
			},
			wantOK:   map[string]bool{"token": true, "job": false},
			wantFix:  "Application.ReadWrite.OwnedBy",
			wantText: "Authorization_RequestDenied",
		},
		{
			name: "canary not assigned",
			setup: func(e *env) {
				withCanary(e)
				e.cfg.Canary.ObjectID = "55555555-5555-5555-5555-555555555555"
			},
			wantOK:  map[string]bool{"token": true, "job": true, "canary": false},
			wantFix: "Users and groups",
		},
		{
			name:     "job quarantined because of credentials is fine: the rotation cures it",
			setup:    func(e *env) { e.graph.Quarantine(spID, sandbox.GraphQuarantineException) },
			wantOK:   map[string]bool{"token": true, "job": true},
			wantText: "quarantined because of its credentials",
		},
		{
			name:    "paused job",
			setup:   func(e *env) { e.graph.SetJobStatus(spID, sandbox.GraphJobPaused) },
			wantOK:  map[string]bool{"token": true, "job": false},
			wantFix: "Provisioning Status: On",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tt.setup(e)
			rs := e.target().Check(t.Context())
			got := map[string]bool{}
			for _, r := range rs {
				got[r.Name] = !r.Failed()
				if r.Failed() && r.Fix == "" {
					t.Errorf("failed check %s has no fix", r.Name)
				}
			}
			if len(got) != len(tt.wantOK) {
				t.Errorf("checks = %v, want %v", got, tt.wantOK)
			}
			for k, v := range tt.wantOK {
				if got[k] != v {
					t.Errorf("check %s ok = %v, want %v (%s)", k, got[k], v, checkText(rs))
				}
			}
			text := checkText(rs)
			if !strings.Contains(text, tt.wantFix) || !strings.Contains(text, tt.wantText) {
				t.Errorf("checks %s lack %q / %q", text, tt.wantFix, tt.wantText)
			}
			if e.faults.Count("graph:PutSecrets")+e.faults.Count("graph:Start")+e.faults.Count("graph:ProvisionOnDemand") != 0 {
				t.Errorf("check changed something: %v", e.faults.Calls())
			}
			e.noLeak(text)
		})
	}
}

func TestStatus(t *testing.T) {
	e := newEnv(t)
	e.scim.set(oldToken, false)
	e.graph.RunCycle() // the old token is refused: quarantine
	st, err := e.target().Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, f := range st.Fields {
		fields[f.Key] = f.Text()
	}
	want := map[string]string{
		"job":                jobID,
		"code":               "Quarantine",
		"lastExecution":      "Failed",
		"lastExecutionBegan": "2025-03-01T12:00:00Z",
		"quarantineReason":   sandbox.GraphQuarantineException,
		"interval":           "40m0s",
	}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("status %s = %q, want %q", k, fields[k], v)
		}
	}
	if !strings.HasPrefix(fields["quarantineError"], sandbox.GraphSCIMUnauthorized) {
		t.Errorf("quarantineError = %q", fields["quarantineError"])
	}
	e.noLeak(statusText(st))
}

func TestRefusesEmptyValues(t *testing.T) {
	e := newEnv(t)
	tg := e.target()
	for _, cred := range []rotator.Credential{
		{SCIMEndpoint: e.scimURL},
		{Token: rotator.NewSecret(newToken)},
	} {
		if _, err := tg.Push(t.Context(), cred); err == nil {
			t.Errorf("Push accepted an empty value")
		}
	}
	if e.faults.Count("graph:PutSecrets") != 0 || e.graph.SavedToken(spID) != oldToken {
		t.Errorf("an empty value reached Graph")
	}
}
