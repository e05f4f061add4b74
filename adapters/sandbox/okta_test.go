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

// oktaTestSCIM is a SCIM endpoint that accepts the token "good" on a user
// lookup, counting calls.
func oktaTestSCIM(t *testing.T, calls *int) *httptest.Server {
	scim := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*calls++
		if r.Header.Get("Authorization") != "Bearer good" || !strings.HasPrefix(r.URL.Query().Get("filter"), "userName eq ") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, `{"Resources":[]}`)
	}))
	t.Cleanup(scim.Close)
	return scim
}

// oktaDo sends one request to the fake and decodes its JSON object answer.
func oktaDo(t *testing.T, srv *httptest.Server, method, path, auth, body string) (*http.Response, map[string]any) {
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

// The Okta fake's wire details that the okta adapter's tests do not reach.
func TestOktaWire(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	faults := &Faults{}
	scimCalls := 0
	scim := oktaTestSCIM(t, &scimCalls)
	o := NewOkta(faults, func() time.Time { return now }, scim.Client())
	o.AddApp("0oa1", "okta_org2org")
	o.AddAppUser("0oa1", "00u1")
	o.SetSCIMEndpoint("0oa1", scim.URL+"/scim/v2/")
	srv := httptest.NewTLSServer(o)
	defer srv.Close()

	do := func(method, path, auth, body string) (*http.Response, map[string]any) {
		t.Helper()
		return oktaDo(t, srv, method, path, auth, body)
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

// Okta pushes profile changes: a user update that changes nothing pushes
// nothing; a real change of the user's profile is pushed to the user's apps.
func TestOktaPushesOnlyOnChange(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	scimCalls := 0
	scim := oktaTestSCIM(t, &scimCalls)
	o := NewOkta(nil, func() time.Time { return now }, scim.Client())
	o.AddApp("0oa1", "okta_org2org")
	o.AddAppUser("0oa1", "00u1")
	o.AddAppUser("0oa1", "00u2")
	o.SetSCIMEndpoint("0oa1", scim.URL+"/scim/v2/")
	o.SetTokenInAdminConsole("0oa1", "good")
	o.RunPushes()
	if scimCalls != 2 {
		t.Fatalf("%d SCIM calls after the token was set, want 2", scimCalls)
	}
	srv := httptest.NewTLSServer(o)
	defer srv.Close()
	post := func(path, body string) (int, map[string]any) {
		t.Helper()
		resp, m := oktaDo(t, srv, http.MethodPost, path, "SSWS "+o.APIToken(), body)
		return resp.StatusCode, m
	}

	// No-op updates: the user's own displayName, the app user's own profile.
	now = now.Add(time.Minute)
	if st, m := post("/api/v1/users/00u1", `{"profile":{"displayName":"Sandbox user 00u1"}}`); st != 200 || m["id"] != "00u1" {
		t.Fatalf("no-op user update: %d %v", st, m)
	}
	if st, _ := post("/api/v1/apps/0oa1/users/00u1", `{"profile":{"email":"00u1@example.com"}}`); st != 200 {
		t.Fatalf("no-op app user update: %d", st)
	}
	o.RunPushes()
	if state, last := o.SyncState("0oa1", "00u1"); scimCalls != 2 || state != "SYNCHRONIZED" || last.After(now.Add(-time.Minute)) {
		t.Fatalf("a no-op update pushed: %d SCIM calls, %s at %s", scimCalls, state, last)
	}

	// A real change: pushed, for that user only, and mapped to the app user.
	st, m := post("/api/v1/users/00u1", `{"profile":{"displayName":"scim-rotator canary 2026-03-01T12:01:00Z"}}`)
	profile, _ := m["profile"].(map[string]any)
	if st != 200 || profile["displayName"] != "scim-rotator canary 2026-03-01T12:01:00Z" || profile["login"] != "00u1@example.com" {
		t.Fatalf("user update: %d %v", st, m)
	}
	if state, _ := o.SyncState("0oa1", "00u1"); state != "OUT_OF_SYNC" {
		t.Fatalf("changed app user is %s, want OUT_OF_SYNC until the push", state)
	}
	o.RunPushes()
	if state, last := o.SyncState("0oa1", "00u1"); scimCalls != 3 || state != "SYNCHRONIZED" || !last.Equal(now) {
		t.Fatalf("the change was not pushed: %d SCIM calls, %s at %s", scimCalls, state, last)
	}
	// The same value again is no change.
	post("/api/v1/users/00u1", `{"profile":{"displayName":"scim-rotator canary 2026-03-01T12:01:00Z"}}`)
	o.RunPushes()
	if scimCalls != 3 {
		t.Fatalf("repeating a value pushed (%d SCIM calls)", scimCalls)
	}

	// Users' profiles are not an app administrator's to change.
	o.SetAPITokenRole(OktaRoleAppAdmin)
	if st, m := post("/api/v1/users/00u1", `{"profile":{"displayName":"x"}}`); st != 403 || m["errorCode"] != "E0000006" {
		t.Fatalf("app admin user update: %d %v", st, m)
	}
}
