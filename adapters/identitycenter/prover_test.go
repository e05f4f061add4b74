package identitycenter

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/scim-rotator/scim-rotator/adapters/internal/safehttp/safehttptest"
	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

func TestProver(t *testing.T) {
	tests := []struct {
		name string
		// token returns the value to prove, given the env.
		token         func(e *env) string
		fault         *sandbox.Fault
		wantRejected  bool
		wantTransient bool
	}{
		{name: "valid token", token: func(e *env) string { _, v := e.seed(epoch.AddDate(0, -1, 0)); return v }},
		{name: "unknown token", token: func(*env) string { return canary }, wantRejected: true},
		{name: "expired token", token: func(e *env) string { _, v := e.seed(epoch.AddDate(-1, 0, -1)); return v }, wantRejected: true},
		{
			name:          "endpoint failing",
			token:         func(e *env) string { _, v := e.seed(epoch); return v },
			fault:         &sandbox.Fault{Status: 503},
			wantTransient: true,
		},
		{
			name:          "answer lost after a valid check",
			token:         func(e *env) string { _, v := e.seed(epoch); return v },
			fault:         &sandbox.Fault{Status: 502, After: true},
			wantTransient: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			value := tt.token(e)
			if tt.fault != nil {
				e.faults.Inject("scim:ServiceProviderConfig", *tt.fault)
			}
			p := NewProver(e.opts)
			err := p.ProveToken(t.Context(), rotator.Credential{
				SCIMEndpoint: e.ic.SCIMEndpoint(),
				TokenID:      "tok-under-test",
				Token:        rotator.NewSecret(value),
			})
			e.record(err)
			switch {
			case tt.wantRejected:
				if !errors.Is(err, rotator.ErrTokenRejected) || rotator.IsTransient(err) {
					t.Fatalf("ProveToken = %v, want ErrTokenRejected (not transient)", err)
				}
			case tt.wantTransient:
				if err == nil || !rotator.IsTransient(err) || errors.Is(err, rotator.ErrTokenRejected) {
					t.Fatalf("ProveToken = %v, want a transient error", err)
				}
			default:
				if err != nil {
					t.Fatalf("ProveToken: %v", err)
				}
			}
			if n := e.faults.Count("scim:ServiceProviderConfig"); n != 1 {
				t.Fatalf("ServiceProviderConfig called %d times, want 1", n)
			}
			e.assertNoLeak(value)
		})
	}
}

// TestProverEndpointWithoutSlash: the endpoint may lack its trailing slash.
func TestProverEndpointWithoutSlash(t *testing.T) {
	e := newEnv(t)
	_, v := e.seed(epoch)
	err := NewProver(e.opts).ProveToken(t.Context(), rotator.Credential{
		SCIMEndpoint: e.ic.SCIMEndpoint()[:len(e.ic.SCIMEndpoint())-1],
		Token:        rotator.NewSecret(v),
	})
	if err != nil {
		t.Fatalf("ProveToken: %v", err)
	}
}

// TestProverUserAgent: the SCIM endpoint (and so CloudTrail) sees the
// product's own User-Agent, which the core excludes from proof of use.
func TestProverUserAgent(t *testing.T) {
	for _, tt := range []struct{ version, want string }{{"", "scim-rotator/dev"}, {"1.4.2", "scim-rotator/1.4.2"}} {
		e := newEnv(t)
		var got []string
		e.ic.OnSCIMCall(func(c sandbox.SCIMCall) { got = append(got, c.UserAgent) })
		_, v := e.seed(epoch)
		e.opts.Version = tt.version
		err := NewProver(e.opts).ProveToken(t.Context(), rotator.Credential{SCIMEndpoint: e.ic.SCIMEndpoint(), TokenID: "t", Token: rotator.NewSecret(v)})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0] != tt.want || !strings.HasPrefix(got[0], rotator.UserAgentPrefix) {
			t.Errorf("version %q: the SCIM endpoint saw User-Agent %q, want %q", tt.version, got, tt.want)
		}
	}
}

// TestNoRedirectWithToken: neither the prover nor the token API client
// follows a redirect (the bearer token or the signed request would go
// along); for the proof a 3xx is a failure.
func TestNoRedirectWithToken(t *testing.T) {
	srv := safehttptest.New(t, http.StatusTemporaryRedirect, true)
	opts := Options{HTTPClient: srv.Client(), Clock: &fakeClock{now: epoch}, AWSCredentials: sandbox.AWSCredentials(), MaxAttempts: 1}

	err := NewProver(opts).ProveToken(t.Context(), rotator.Credential{
		SCIMEndpoint: srv.URL + "/t-1/scim/v2/", TokenID: "tok", Token: rotator.NewSecret(canary),
	})
	if err == nil || !strings.Contains(err.Error(), "HTTP 307 redirect refused") || rotator.IsTransient(err) || errors.Is(err, rotator.ErrTokenRejected) {
		t.Errorf("ProveToken = %v, want a permanent redirect failure", err)
	}

	iss, err := New(t.Context(), config.IdentityCenter{Region: testRegion, IdentityStoreID: testStoreID, Endpoint: srv.URL + "/identitystore/"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Tenant(t.Context()); err == nil {
		t.Error("the token API client accepted a redirect")
	}
	if n := srv.Followed(); n != 0 {
		t.Errorf("%d redirects followed", n)
	}
}
