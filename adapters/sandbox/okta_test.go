package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The Okta fake's wire details that the okta adapter's tests do not reach.
func TestOktaWire(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	faults := &Faults{}
	scimCalls := 0
	scim := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scimCalls++
		if r.Header.Get("Authorization") != "Bearer good" || !strings.HasPrefix(r.URL.Query().Get("filter"), "userName eq ") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, `{"Resources":[]}`)
	}))
	defer scim.Close()
	o := NewOkta(faults, func() time.Time { return now }, scim.Client())
	o.AddApp("0oa1", "okta_org2org")
	o.AddAppUser("0oa1", "00u1")
	o.SetSCIMEndpoint("0oa1", scim.URL+"/scim/v2/")
	srv := httptest.NewTLSServer(o)
	defer srv.Close()

	do := func(method, path, auth, body string) (*http.Response, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		b, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(b, &m)
		return resp, m
	}
	ssws := "SSWS " + o.APIToken()

	// Authentication.
	resp, m := do("GET", "/api/v1/apps/0oa1", "SSWS wrong", "")
	if resp.StatusCode != 401 || m["errorCode"] != "E0000011" || m["errorSummary"] == nil || m["errorId"] == nil {
		t.Fatalf("bad token: %d %v", resp.StatusCode, m)
	}
	if resp.Header.Get("Date") != now.Format(http.TimeFormat) {
		t.Fatalf("Date %q does not follow the fake's clock", resp.Header.Get("Date"))
	}

	// Connection: activation needs a token; then lifecycle.
	if resp, m = do("POST", "/api/v1/apps/0oa1/connections/default/lifecycle/activate", ssws, ""); resp.StatusCode != 400 {
		t.Fatalf("activate without token: %d %v", resp.StatusCode, m)
	}
	if resp, m = do("POST", "/api/v1/apps/0oa1/connections/default", ssws, `{"profile":{"authScheme":"TOKEN","token":"good"}}`); resp.StatusCode != 201 || m["status"] != "DISABLED" {
		t.Fatalf("set without activate: %d %v", resp.StatusCode, m)
	}
	if resp, _ = do("POST", "/api/v1/apps/0oa1/connections/default/lifecycle/activate", ssws, ""); resp.StatusCode != 204 {
		t.Fatalf("activate: %d", resp.StatusCode)
	}
	if _, m = do("GET", "/api/v1/apps/0oa1/connections/default", ssws, ""); m["status"] != "ENABLED" || m["authScheme"] != "TOKEN" {
		t.Fatalf("connection %v", m)
	}

	// The push runs on the next app user read, with the held token.
	if _, m = do("GET", "/api/v1/apps/0oa1/users/00u1", ssws, ""); m["syncState"] != "SYNCHRONIZED" || m["lastSync"] != "2026-03-01T12:00:00.000Z" || scimCalls != 1 {
		t.Fatalf("app user %v after %d SCIM calls", m, scimCalls)
	}

	// System Log polling: always a next link; an unsupported filter is a 400.
	resp, _ = do("GET", "/api/v1/logs?filter=target.id+eq+%220oa1%22", ssws, "")
	if !strings.Contains(strings.Join(resp.Header.Values("Link"), ","), `rel="next"`) {
		t.Fatalf("polling answer without a next link: %v", resp.Header.Values("Link"))
	}
	if resp, m = do("GET", "/api/v1/logs?filter=target.id+sw+%220oa%22", ssws, ""); resp.StatusCode != 400 || m["errorCode"] != "E0000031" {
		t.Fatalf("bad filter: %d %v", resp.StatusCode, m)
	}

	// Throttling as Okta sends it.
	faults.Inject("okta:GetApp", OktaRateLimited(now.Add(time.Minute)))
	resp, m = do("GET", "/api/v1/apps/0oa1", ssws, "")
	if resp.StatusCode != 429 || m["errorCode"] != "E0000047" || resp.Header.Get("X-Rate-Limit-Remaining") != "0" || len(resp.Header.Values("X-Rate-Limit-Reset")) != 1 {
		t.Fatalf("429: %d %v %v", resp.StatusCode, m, resp.Header)
	}

	// A read-only admin cannot change apps.
	o.SetAPITokenRole(OktaRoleReadOnlyAdmin)
	if resp, m = do("POST", "/api/v1/apps/0oa1/users/00u1", ssws, `{"profile":{}}`); resp.StatusCode != 403 || m["errorCode"] != "E0000006" {
		t.Fatalf("read-only write: %d %v", resp.StatusCode, m)
	}
}
