package safehttptest

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// Fake AWS keys Production puts in the environment.
const (
	AccessKeyID     = "AKIAPRODUCTIONPATH01"
	SecretAccessKey = "production-path-secret-key"
)

// Production starts a TLS server answering with h and configures the test
// process as a user's shell would, with nothing injected: the server's
// certificate only in AWS_CA_BUNDLE (so a client that ignores the shared
// trust store fails with an x509 error), fake AWS keys in the environment,
// no shared AWS files, no profile, no instance metadata. The server and the
// environment end with the test (t.Setenv: not for parallel tests).
func Production(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	TrustOnlyViaAWSBundle(t, srv)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":                      AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":                  SecretAccessKey,
		"AWS_SESSION_TOKEN":                      "",
		"AWS_PROFILE":                            "",
		"AWS_CONFIG_FILE":                        empty,
		"AWS_SHARED_CREDENTIALS_FILE":            empty,
		"AWS_EC2_METADATA_DISABLED":              "true",
		"AWS_ROLE_ARN":                           "",
		"AWS_WEB_IDENTITY_TOKEN_FILE":            "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		"AWS_REGION":                             "",
		"AWS_DEFAULT_REGION":                     "",
	} {
		t.Setenv(k, v)
	}
	return srv
}

// TrustOnlyViaAWSBundle writes srv's certificate to a file and names it in
// AWS_CA_BUNDLE for the rest of the test.
func TrustOnlyViaAWSBundle(t testing.TB, srv *httptest.Server) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CA_BUNDLE", p)
}

// Hanging starts a server (trusted as Production's) that accepts every
// request and never answers it until the test ends: a client without a
// timeout blocks on it for ever.
func Hanging(t testing.TB) *httptest.Server {
	t.Helper()
	done := make(chan struct{})
	srv := Production(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-done:
		case <-r.Context().Done():
		}
	}))
	// Registered after Production's Close, so it runs first and Close does
	// not wait on the blocked handlers.
	t.Cleanup(func() { close(done) })
	return srv
}
