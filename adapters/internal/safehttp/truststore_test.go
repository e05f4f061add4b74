package safehttp_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/internal/safehttp"
	"github.com/scim-rotator/scim-rotator/adapters/internal/safehttp/safehttptest"
)

// A server whose CA is given only as AWS_CA_BUNDLE is trusted by a client
// built with nothing injected, and the system roots are kept beside it.
func TestTrustStoreAddsAWSBundle(t *testing.T) {
	srv := safehttptest.Production(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	resp, err := safehttp.Client(nil, 5*time.Second).Get(srv.URL)
	if err != nil {
		t.Fatalf("a server trusted via AWS_CA_BUNDLE: %v", err)
	}
	resp.Body.Close()

	pool, err := safehttp.RootCAs()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CA_BUNDLE", "")
	system, err := safehttp.RootCAs()
	if err != nil {
		t.Fatal(err)
	}
	//lint:ignore SA1019 Subjects is the only way to count a pool's certificates
	if got, min := len(pool.Subjects()), len(system.Subjects())+1; got < min {
		t.Errorf("trust store holds %d certificates, want the system's %d plus the bundle", got, min-1)
	}
}

func TestTrustStoreWithoutBundle(t *testing.T) {
	srv := safehttptest.Production(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Setenv("AWS_CA_BUNDLE", "")
	_, err := safehttp.Client(nil, 5*time.Second).Get(srv.URL)
	if err == nil || !strings.Contains(err.Error(), "x509") {
		t.Fatalf("a private CA in no trust store: err %v, want an x509 failure", err)
	}
}

func TestTrustStoreBadBundle(t *testing.T) {
	for name, content := range map[string]*string{"missing": nil, "not PEM": ptr("hello")} {
		p := filepath.Join(t.TempDir(), "bundle.pem")
		if content != nil {
			if err := os.WriteFile(p, []byte(*content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		t.Setenv("AWS_CA_BUNDLE", p)
		_, err := safehttp.RootCAs()
		if err == nil || !strings.Contains(err.Error(), "AWS_CA_BUNDLE") {
			t.Errorf("%s bundle: err %v, want one naming AWS_CA_BUNDLE", name, err)
		}
		req, _ := http.NewRequest(http.MethodGet, "https://127.0.0.1:1/", nil)
		if _, err := safehttp.Client(nil, time.Second).Do(req); err == nil || !strings.Contains(err.Error(), "AWS_CA_BUNDLE") {
			t.Errorf("%s bundle: a request answered %v, want the bundle's error", name, err)
		}
	}
}

func ptr(s string) *string { return &s }
