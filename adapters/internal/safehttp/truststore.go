package safehttp

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"sync"
)

// CABundleEnv is the variable AWS's own tools read for a private CA. The
// product adds it to Go's roots (SSL_CERT_FILE, SSL_CERT_DIR) for every
// client it has, AWS or not: one trust store, whichever variable a team set.
const CABundleEnv = "AWS_CA_BUNDLE"

// RootCAs is the one trust store: Go's system roots (which honour
// SSL_CERT_FILE and SSL_CERT_DIR) plus, when AWS_CA_BUNDLE is set, every
// certificate in that file. An unreadable or empty bundle is an error naming
// the variable and the file (never silently ignored: behind a TLS-inspecting
// proxy it would fail later with an unexplained x509 error).
func RootCAs() (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	path := os.Getenv(CABundleEnv)
	if path == "" {
		return pool, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", CABundleEnv, err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: %s holds no PEM certificate", CABundleEnv, path)
	}
	return pool, nil
}

// TLSConfig is the TLS configuration every client of the product uses.
func TLSConfig() (*tls.Config, error) {
	pool, err := RootCAs()
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

var transports struct {
	sync.Mutex
	byBundle map[string]http.RoundTripper
}

// Transport is the process's transport over the trust store (Go's default
// transport's settings: proxies from the environment, keep-alives, HTTP/2).
// One is shared per AWS_CA_BUNDLE value, so the clients of an instance share
// their connections. When the trust store cannot be built, every request
// fails with that error.
func Transport() http.RoundTripper {
	key := os.Getenv(CABundleEnv)
	transports.Lock()
	defer transports.Unlock()
	if rt, ok := transports.byBundle[key]; ok {
		return rt
	}
	var rt http.RoundTripper
	if cfg, err := TLSConfig(); err != nil {
		rt = failing{err}
	} else {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = cfg
		rt = t
	}
	if transports.byBundle == nil {
		transports.byBundle = map[string]http.RoundTripper{}
	}
	transports.byBundle[key] = rt
	return rt
}

// failing is a transport whose every request fails with err.
type failing struct{ err error }

func (f failing) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body.Close()
	}
	return nil, f.err
}
