package entra

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/internal/safehttp/safehttptest"
)

// pointAt aims the target's login and Graph at srv (which serves both, as
// the sandbox's Graph does).
func (e *env) pointAt(url string) {
	e.cfg.GraphEndpoint = url + "/v1.0"
	e.cfg.AuthorityHost = url + "/"
}

// The production path: no HTTP client, clock or logger injected; the CA of
// the login authority and Graph only in AWS_CA_BUNDLE (the one trust store
// every client shares). Status logs in and reads the job.
func TestProductionPathZeroOptions(t *testing.T) {
	e := newEnv(t)
	e.pointAt(safehttptest.Production(t, e.graph).URL)
	tg, err := New(t.Context(), "entra", e.cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := tg.Status(t.Context())
	if err != nil {
		t.Fatalf("status over the production path: %v", err)
	}
	if len(st.Fields) == 0 {
		t.Fatalf("status has no fields: %+v", st)
	}
	e.noLeak(errText(err), statusText(st))
}

// A login authority, then a Graph, that accept the connection and never
// answer: each call ends with its own timeout.
func TestHangTimesOut(t *testing.T) {
	defer func(l, g time.Duration) { loginTimeout, graphTimeout = l, g }(loginTimeout, graphTimeout)
	loginTimeout, graphTimeout = 500*time.Millisecond, 500*time.Millisecond
	for _, c := range []struct {
		name string
		hang func(*http.Request) bool
		want string // what the error names: the call that hung
	}{
		{"login", func(*http.Request) bool { return true }, "ClientSecretCredential"},
		{"graph", func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/v1.0/") }, "/v1.0/servicePrincipals/"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			hung := make(chan struct{})
			t.Cleanup(func() { close(hung) })
			srv := safehttptest.Production(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !c.hang(r) {
					e.graph.ServeHTTP(w, r)
					return
				}
				select {
				case <-hung:
				case <-r.Context().Done():
				}
			}))
			e.pointAt(srv.URL)
			tg, err := New(t.Context(), "entra", e.cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = tg.Status(t.Context())
			if err == nil || !strings.Contains(err.Error(), c.want) ||
				!strings.Contains(err.Error(), "Timeout") && !strings.Contains(err.Error(), "deadline exceeded") {
				t.Fatalf("a hanging %s: %v, want a timeout naming %q", c.name, err, c.want)
			}
			e.noLeak(errText(err))
		})
	}
}
