package identitycenter

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/internal/safehttp/safehttptest"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// tokenWire answers the token API's two list calls (api.go's wire format)
// and the SCIM endpoint's ServiceProviderConfig, recording each call.
type tokenWire struct {
	mu    sync.Mutex
	calls []string
}

func (h *tokenWire) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	target := r.Header.Get("X-Amz-Target")
	signed := strings.Contains(r.Header.Get("Authorization"), "Credential="+safehttptest.AccessKeyID+"/")
	switch {
	case target == "AWSIdentityStoreService.ListProvisioningTenants" && signed:
		h.calls = append(h.calls, "ListProvisioningTenants")
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fmt.Fprintf(w, `{"ProvisioningTenants":[{"TenantId":"t-1","ScimEndpoint":%q,"CreationTime":1713363979.436}]}`, SCIMEndpointFor(testRegion, "t-1"))
	case target == "AWSIdentityStoreService.ListBearerTokens" && signed:
		h.calls = append(h.calls, "ListBearerTokens")
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fmt.Fprint(w, `{"BearerTokens":[{"TokenId":"tok-1","CreationTime":1713363979.436,"ExpirationTime":1744899979.436}]}`)
	case r.Method == http.MethodGet && r.URL.Path == "/t-1/scim/v2/ServiceProviderConfig" && r.Header.Get("Authorization") == "Bearer "+canary:
		h.calls = append(h.calls, "ServiceProviderConfig")
		w.Header().Set("Content-Type", "application/scim+json")
		fmt.Fprint(w, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]}`)
	default:
		h.calls = append(h.calls, "unexpected "+r.Method+" "+r.URL.Path+" "+target)
		w.WriteHeader(http.StatusBadRequest)
	}
}

// The production path: no HTTP client, credentials or CA injected; the CA
// only in AWS_CA_BUNDLE (before the one trust store, the token API and the
// proof failed there with "x509: certificate signed by unknown
// authority"), keys in the environment.
func TestProductionPathZeroOptions(t *testing.T) {
	h := &tokenWire{}
	srv := safehttptest.Production(t, h)
	iss, err := New(t.Context(), config.IdentityCenter{Region: testRegion, IdentityStoreID: testStoreID, Endpoint: srv.URL + "/identitystore/"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := iss.ListTokens(t.Context())
	if err != nil {
		t.Fatalf("ListTokens over the production path: %v", err)
	}
	if len(tokens) != 1 || tokens[0].ID != "tok-1" {
		t.Fatalf("tokens %+v", tokens)
	}
	cred := rotator.Credential{SCIMEndpoint: srv.URL + "/t-1/scim/v2/", TokenID: "tok-1", Token: rotator.NewSecret(canary)}
	if err := NewProver(Options{}).ProveToken(t.Context(), cred); err != nil {
		t.Fatalf("proof over the production path: %v", err)
	}
	want := "ListProvisioningTenants; ListBearerTokens; ServiceProviderConfig"
	if got := strings.Join(h.calls, "; "); got != want {
		t.Fatalf("calls %q, want %q", got, want)
	}
}

// A token API and a SCIM endpoint that never answer: each call ends with
// its timeout.
func TestHangTimesOut(t *testing.T) {
	defer func(r, p time.Duration) { requestTimeout, proveTimeout = r, p }(requestTimeout, proveTimeout)
	requestTimeout, proveTimeout = 200*time.Millisecond, 200*time.Millisecond
	srv := safehttptest.Hanging(t)
	iss, err := New(t.Context(), config.IdentityCenter{Region: testRegion, IdentityStoreID: testStoreID, Endpoint: srv.URL + "/identitystore/"},
		Options{MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = iss.ListTokens(t.Context())
	assertTimeout(t, "ListTokens", err)
	cred := rotator.Credential{SCIMEndpoint: srv.URL + "/t-1/scim/v2/", TokenID: "tok-1", Token: rotator.NewSecret(canary)}
	assertTimeout(t, "ProveToken", NewProver(Options{}).ProveToken(t.Context(), cred))
}

func assertTimeout(t *testing.T, what string, err error) {
	t.Helper()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("%s on a hanging endpoint: %v, want a timeout", what, err)
	}
}
