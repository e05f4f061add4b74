package safehttp

import (
	"net/http"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/internal/safehttp/safehttptest"
)

func TestClientRefusesRedirects(t *testing.T) {
	srv := safehttptest.New(t, http.StatusTemporaryRedirect, false)
	shared := srv.Client()
	c := Client(shared, time.Minute)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/", nil)
	req.Header.Set("Authorization", "Bearer LEAKCANARY")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || srv.Followed() != 0 {
		t.Errorf("status %d, followed %d: want the 307 itself", resp.StatusCode, srv.Followed())
	}
	if shared.CheckRedirect != nil || shared.Timeout != 0 {
		t.Error("the client passed in was changed")
	}
	if c.Transport != shared.Transport {
		t.Error("the transport (and its TLS trust) was not kept")
	}
}

func TestClientTimeout(t *testing.T) {
	tests := []struct {
		in   *http.Client
		want time.Duration
	}{
		{nil, 30 * time.Second},
		{&http.Client{}, 30 * time.Second},
		{&http.Client{Timeout: 5 * time.Second}, 5 * time.Second},
	}
	for _, tt := range tests {
		if got := Client(tt.in, 30*time.Second).Timeout; got != tt.want {
			t.Errorf("Client(%v).Timeout = %s, want %s", tt.in, got, tt.want)
		}
	}
}
