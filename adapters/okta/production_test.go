package okta

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/internal/safehttp/safehttptest"
	"github.com/scim-rotator/scim-rotator/config"
)

// The production path: no HTTP client, clock or logger injected; the org's
// CA only in AWS_CA_BUNDLE (the one trust store every client shares).
func TestProductionPathZeroOptions(t *testing.T) {
	e := newEnv(t)
	srv := safehttptest.Production(t, e.okta)
	cfg := e.cfg(org2orgApp, ModeAPI, canaryUser)
	cfg.OrgURL = srv.URL
	tg, err := New(t.Context(), "okta", cfg, Options{ConfigKey: "targets[0].okta"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tg.Status(t.Context()); err != nil {
		t.Fatalf("status over the production path: %v", err)
	}
}

// An org that accepts the connection and never answers: the call ends with
// the request timeout.
func TestHangTimesOut(t *testing.T) {
	defer func(d time.Duration) { requestTimeout = d }(requestTimeout)
	requestTimeout = time.Second
	e := newEnv(t)
	srv := safehttptest.Hanging(t)
	cfg := e.cfg(org2orgApp, ModeAPI, canaryUser)
	cfg.OrgURL = srv.URL
	tg, err := New(t.Context(), "okta", cfg, Options{ConfigKey: "targets[0].okta"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tg.Status(t.Context())
	if err == nil || !strings.Contains(err.Error(), "Timeout") && !strings.Contains(err.Error(), "deadline exceeded") {
		t.Fatalf("a hanging org: %v, want a timeout", err)
	}
}

// The SDK reads OKTA_CLIENT_* variables before any option and prints "error
// parsing" to standard output when one does not parse, which would corrupt
// `-o json`: New refuses the variable by name instead, and a well-formed one
// prints nothing either.
func TestMalformedSDKEnvironmentPrintsNothing(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ name, value, wantKey string }{
		{"OKTA_CLIENT_REQUEST_TIMEOUT", "30s", "OKTA_CLIENT_REQUEST_TIMEOUT"},
		{"OKTA_CLIENT_CACHE_ENABLED", "yes please", "OKTA_CLIENT_CACHE_ENABLED"},
		{"OKTA_OKTA_CLIENT_PROXY_OKTA_CLIENT_PROXY_PORT", "x", "OKTA_OKTA_CLIENT_PROXY_OKTA_CLIENT_PROXY_PORT"},
		{"OKTA_CLIENT_REQUEST_TIMEOUT", "30", ""},
		{"OKTA_CLIENT_ORGURL", "not checked: a string", ""},
	} {
		t.Run(c.name+"="+c.value, func(t *testing.T) {
			t.Setenv(c.name, c.value)
			var err error
			out := captureStdout(t, func() {
				_, err = New(t.Context(), "okta", e.cfg(org2orgApp, ModeAPI, canaryUser), Options{HTTPClient: e.srv.Client(), ConfigKey: "targets[0].okta"})
			})
			if out != "" {
				t.Errorf("standard output %q, want nothing", out)
			}
			var ce *config.Error
			switch {
			case c.wantKey == "" && err != nil:
				t.Fatalf("New: %v", err)
			case c.wantKey != "" && (!errors.As(err, &ce) || ce.Key != c.wantKey):
				t.Fatalf("New = %v; want a config error on %s", err, c.wantKey)
			case c.wantKey != "" && strings.Contains(err.Error(), c.value):
				t.Fatalf("the error %q repeats the value", err)
			}
		})
	}
}

func captureStdout(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	func() {
		defer func() { os.Stdout = old }()
		fn()
	}()
	w.Close()
	return <-done
}
