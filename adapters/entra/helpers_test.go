package entra

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/rotator"
)

const (
	tenantID     = "11111111-1111-1111-1111-111111111111"
	clientID     = "22222222-2222-2222-2222-222222222222"
	clientSecret = "LEAKCANARY-client-secret"
	spID         = "33333333-3333-3333-3333-333333333333"
	jobID        = "aWSSingleSignOn.0f0f0f0f0f0f4f0f0f0f0f0f0f0f0f0f.11111111-1111-1111-1111-111111111111"
	canaryID     = "44444444-4444-4444-4444-444444444444"
	// Token values: recognizable so a leak anywhere is caught.
	oldToken = "LEAKCANARY-old-token-0001"
	newToken = "LEAKCANARY-new-token-0002"
)

// The tests use the sandbox's virtual clock: After moves time on at once.

// scimFake is a SCIM endpoint that accepts the tokens it holds, like the
// Identity Center tenant's.
type scimFake struct {
	mu    sync.Mutex
	valid map[string]bool
	calls int
}

func (s *scimFake) set(token string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.valid[token] = ok
}

func (s *scimFake) accepts(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.valid[token]
}

func (s *scimFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls++
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	ok := s.valid[tok]
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/scim+json")
	if !strings.HasSuffix(r.URL.Path, "/scim/v2/ServiceProviderConfig") {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"401","detail":"Unauthorized"}`))
		return
	}
	_, _ = w.Write([]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],"patch":{"supported":true}}`))
}

// env is a fake Entra (Graph + login) and a SCIM endpoint, with a target
// built by New against them.
type env struct {
	t       *testing.T
	clock   *sandbox.Clock
	faults  *sandbox.Faults
	graph   *sandbox.Graph
	scim    *scimFake
	scimURL string
	cfg     Config
	logs    *observer.ObservedLogs
	opts    Options

	mu        sync.Mutex
	encodings map[string][]string // "METHOD path" -> Content-Encoding seen
}

type envOption func(*env)

func withCanary(e *env) {
	e.cfg.Canary = &Canary{ObjectID: canaryID, ObjectType: "User"}
}

func withoutJobID(e *env) { e.cfg.JobID = "" }

func newEnv(t *testing.T, options ...envOption) *env {
	t.Helper()
	e := &env{
		t:         t,
		clock:     sandbox.NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), true),
		faults:    &sandbox.Faults{},
		scim:      &scimFake{valid: map[string]bool{oldToken: true, newToken: true}},
		encodings: map[string][]string{},
	}
	scimSrv := httptest.NewTLSServer(e.scim)
	t.Cleanup(scimSrv.Close)
	e.scimURL = scimSrv.URL + "/tenant-1/scim/v2/"

	e.graph = sandbox.NewGraph(e.faults, e.clock.Now, scimSrv.Client())
	e.graph.AddServicePrincipal(spID, jobID)
	e.graph.SetSecrets(spID, e.scimURL, oldToken)
	e.graph.LoginClient(tenantID, clientID, clientSecret)
	e.graph.AddCanary(spID, canaryID, "User")
	graphSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		k := r.Method + " " + r.URL.Path
		e.encodings[k] = append(e.encodings[k], r.Header.Get("Content-Encoding"))
		e.mu.Unlock()
		e.graph.ServeHTTP(w, r)
	}))
	t.Cleanup(graphSrv.Close)

	secretFile := filepath.Join(t.TempDir(), "client-secret")
	if err := os.WriteFile(secretFile, []byte(clientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.cfg = Config{
		TenantID:           tenantID,
		ClientID:           clientID,
		ClientSecretFile:   secretFile,
		ServicePrincipalID: spID,
		JobID:              jobID,
		Cloud:              CloudPublic,
		GraphEndpoint:      graphSrv.URL + "/v1.0",
		AuthorityHost:      graphSrv.URL + "/",
	}
	core, logs := observer.New(zap.DebugLevel)
	e.logs = logs
	e.opts = Options{Logger: zap.New(core), HTTPClient: graphSrv.Client(), Clock: e.clock, PollInterval: 5 * time.Minute}
	for _, o := range options {
		o(e)
	}
	return e
}

func (e *env) target() *Target {
	e.t.Helper()
	tg, err := New(e.t.Context(), "entra", e.cfg, e.opts)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	return tg
}

func (e *env) cred(token string) rotator.Credential {
	return rotator.Credential{SCIMEndpoint: e.scimURL, TokenID: "tok-" + token[len(token)-4:], Token: rotator.NewSecret(token)}
}

func (e *env) encodingsOf(method, path string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.encodings[method+" "+path]...)
}

// noLeak fails if a token or the client secret appears in any of texts or in
// any log line (message or field).
func (e *env) noLeak(texts ...string) {
	e.t.Helper()
	for _, entry := range e.logs.All() {
		b, _ := json.Marshal(entry.ContextMap())
		texts = append(texts, entry.Message+" "+string(b))
	}
	for _, s := range texts {
		for _, secret := range []string{oldToken, newToken, clientSecret, "LEAKCANARY"} {
			if strings.Contains(s, secret) {
				e.t.Errorf("secret %q leaked into %q", secret, s)
			}
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error() + fmt.Sprintf(" %+v %#v", err, err)
}

func statusText(st rotator.SystemStatus) string {
	b, _ := json.Marshal(st)
	return string(b)
}

func checkText(rs []rotator.CheckResult) string {
	b, _ := json.Marshal(rs)
	return string(b)
}

// configWithJob is a minimal config for targets built around a stub graphAPI.
func configWithJob() Config {
	return Config{TenantID: tenantID, ClientID: clientID, ServicePrincipalID: spID, JobID: jobID}
}
