package okta

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// The tests use the sandbox's virtual clock: After moves time on at once.

// App ids and users of the sandbox org.
const (
	org2orgApp = "0oaorg2org000000001"
	awsApp     = "0oaawssso000000001"
	canaryUser = "00ucanary000000001"
	otherUser  = "00uother0000000001"
	// leakToken is a token the SCIM endpoint refuses; it must never show.
	leakToken = "LEAKCANARY-okta-scim-token-0123456789"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// env is an Okta org and an Identity Center SCIM endpoint, each behind its
// own TLS server, with the target's logs recorded.
type env struct {
	clock  *sandbox.Clock
	faults *sandbox.Faults
	okta   *sandbox.Okta
	ic     *sandbox.IdentityCenter
	srv    *httptest.Server
	logs   *observer.ObservedLogs
	logger *zap.Logger
	// oldTok is live and held by both apps; newTok is the rotation's.
	oldID, oldTok, newID, newTok string
	tokenFile                    string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	// The org is set up an hour before the rotation starts at t0.
	e := &env{clock: sandbox.NewClock(t0.Add(-time.Hour), true), faults: &sandbox.Faults{}}
	e.ic = sandbox.NewIdentityCenter(e.faults, "us-east-1", "d-1234567890", e.clock.Now)
	icSrv := httptest.NewTLSServer(e.ic)
	t.Cleanup(icSrv.Close)
	e.ic.SetBaseURL(icSrv.URL)
	e.oldID, e.oldTok = e.ic.SeedToken(t0.Add(-300 * 24 * time.Hour))
	e.newID, e.newTok = e.ic.SeedToken(t0.Add(-time.Minute))

	e.okta = sandbox.NewOkta(e.faults, e.clock.Now, icSrv.Client())
	for _, a := range []struct{ id, name string }{{org2orgApp, "okta_org2org"}, {awsApp, "amazon_aws_sso"}} {
		e.okta.AddApp(a.id, a.name)
		e.okta.AddAppUser(a.id, canaryUser)
		e.okta.AddAppUser(a.id, otherUser)
		e.okta.SetSCIMEndpoint(a.id, e.ic.SCIMEndpoint())
		e.okta.SetTokenInAdminConsole(a.id, e.oldTok)
	}
	e.okta.RunPushes() // the org is in sync with the old token
	e.clock.Advance(time.Hour)
	e.srv = httptest.NewTLSServer(e.okta)
	t.Cleanup(e.srv.Close)

	core, logs := observer.New(zap.DebugLevel)
	e.logs, e.logger = logs, zap.New(core)
	e.tokenFile = filepath.Join(t.TempDir(), "okta-api-token")
	if err := os.WriteFile(e.tokenFile, []byte(e.okta.APIToken()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) cfg(appID, mode, canary string) Config {
	return Config{OrgURL: e.srv.URL, AppID: appID, APITokenFile: e.tokenFile, Mode: mode, CanaryUserID: canary}
}

func (e *env) target(t *testing.T, cfg Config) *Target {
	t.Helper()
	tg, err := New(t.Context(), "okta", cfg, Options{Logger: e.logger, HTTPClient: e.srv.Client(), Clock: e.clock, ConfigKey: "targets[0].okta"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tg
}

func (e *env) cred(id, tok string) rotator.Credential {
	return rotator.Credential{SCIMEndpoint: e.ic.SCIMEndpoint(), TokenID: id, Token: rotator.NewSecret(tok)}
}

// secrets are the values that must never show.
func (e *env) secrets() []string {
	return []string{e.oldTok, e.newTok, leakToken, e.okta.APIToken()}
}

// assertNoLeak fails if a secret appears in any log entry or in texts.
func (e *env) assertNoLeak(t *testing.T, texts ...string) {
	t.Helper()
	for _, ent := range e.logs.All() {
		texts = append(texts, ent.Message, fmt.Sprint(ent.ContextMap()))
	}
	for _, s := range e.secrets() {
		for _, txt := range texts {
			if strings.Contains(txt, s) {
				t.Fatalf("a secret leaked into output: %q", txt)
			}
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func handoffText(h *rotator.Handoff) string {
	if h == nil {
		return ""
	}
	return h.ConsoleURL + "\n" + strings.Join(h.Steps, "\n")
}

func checkText(res []rotator.CheckResult) string {
	var b strings.Builder
	for _, r := range res {
		fmt.Fprintf(&b, "%s %s %s %s %s\n", r.System, r.Name, r.Level, r.Detail, r.Fix)
	}
	return b.String()
}

func (e *env) logged(msg string) bool {
	return e.logs.FilterMessage(msg).Len() > 0
}

func isTimeout(err error) bool  { return errors.Is(err, rotator.ErrConfirmTimeout) }
func isRejected(err error) bool { return errors.Is(err, rotator.ErrTokenRejected) }
