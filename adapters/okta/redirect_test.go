package okta

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// The client carrying the API token follows no redirect and has a timeout.
func TestClientRefusesRedirects(t *testing.T) {
	var followed bool
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			followed = true
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer srv.Close()
	for _, in := range []*http.Client{srv.Client(), nil} {
		c := observeRateLimits(in)
		if c.Timeout <= 0 {
			t.Errorf("no timeout")
		}
		if in == nil {
			continue
		}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/api/v1/apps", nil)
		req.Header.Set("Authorization", "SSWS "+"LEAKCANARY")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if followed || resp.StatusCode != http.StatusFound {
			t.Errorf("status %d, followed %v: want the 302 itself", resp.StatusCode, followed)
		}
	}
}
