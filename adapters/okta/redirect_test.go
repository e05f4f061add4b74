package okta

import (
	"net/http"
	"testing"

	"github.com/scim-rotator/scim-rotator/adapters/internal/safehttp/safehttptest"
)

// The client carrying the API token follows no redirect and has a timeout.
func TestClientRefusesRedirects(t *testing.T) {
	srv := safehttptest.New(t, http.StatusFound, true)
	if c := observeRateLimits(nil); c.Timeout <= 0 || c.CheckRedirect == nil {
		t.Errorf("default client: timeout %s, redirects refused %v", c.Timeout, c.CheckRedirect != nil)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/api/v1/apps", nil)
	req.Header.Set("Authorization", "SSWS LEAKCANARY")
	resp, err := observeRateLimits(srv.Client()).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if srv.Followed() != 0 || resp.StatusCode != http.StatusFound {
		t.Errorf("status %d, followed %d: want the 302 itself", resp.StatusCode, srv.Followed())
	}
}
