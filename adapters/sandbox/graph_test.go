package sandbox

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// graphWire is the fake Graph spoken to over plain HTTP, as a wire-format
// check independent of the SDK.
type graphWire struct {
	t      *testing.T
	g      *Graph
	faults *Faults
	srv    *httptest.Server
	token  string
	now    time.Time
}

const wireSP, wireJob = "sp-1", "job-1"

func newGraphWire(t *testing.T) *graphWire {
	t.Helper()
	w := &graphWire{t: t, faults: &Faults{}, now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	scim := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/scim/v2/ServiceProviderConfig" || r.Header.Get("Authorization") != "Bearer good" {
			rw.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = rw.Write([]byte(`{}`))
	}))
	t.Cleanup(scim.Close)
	w.g = NewGraph(w.faults, func() time.Time { return w.now }, scim.Client())
	w.g.AddServicePrincipal(wireSP, wireJob)
	w.g.SetSecrets(wireSP, scim.URL+"/scim/v2/", "good")
	w.g.LoginClient("tenant", "client", "s3cret")
	w.srv = httptest.NewServer(w.g)
	t.Cleanup(w.srv.Close)
	return w
}

func (w *graphWire) login() {
	w.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"client"}, "client_secret": {"s3cret"}, "scope": {"https://graph.microsoft.com/.default"}}
	resp, err := http.PostForm(w.srv.URL+"/tenant/oauth2/v2.0/token", form)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 || out.TokenType != "Bearer" {
		w.t.Fatalf("login: %d %v %+v", resp.StatusCode, err, out)
	}
	w.token = out.AccessToken
}

// do sends a request, gzipping body when gz, and returns status, headers and body.
func (w *graphWire) do(method, path, body string, gz bool) (int, http.Header, string) {
	w.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
		if gz {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			_, _ = zw.Write([]byte(body))
			_ = zw.Close()
			rd = &b
		}
	}
	req, _ := http.NewRequest(method, w.srv.URL+"/v1.0/servicePrincipals/"+path, rd)
	if w.token != "" {
		req.Header.Set("Authorization", "Bearer "+w.token)
	}
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestGraphWire(t *testing.T) {
	w := newGraphWire(t)
	jobs := wireSP + "/synchronization/jobs"

	// No token: 401 with an OData body.
	code, _, body := w.do("GET", jobs, "", false)
	if code != 401 || !strings.Contains(body, `"code":"InvalidAuthenticationToken"`) || !strings.Contains(body, `"innerError"`) {
		t.Fatalf("without a token: %d %s", code, body)
	}
	w.login()

	// A gzipped PUT is decoded; the token comes back masked.
	code, _, body = w.do("PUT", wireSP+"/synchronization/secrets", `{"value":[{"key":"SecretToken","value":"bad"}]}`, true)
	if code != 204 || w.g.SavedToken(wireSP) != "bad" {
		t.Fatalf("gzipped PUT: %d %s, saved token %q", code, body, w.g.SavedToken(wireSP))
	}
	_, _, body = w.do("GET", wireSP+"/synchronization/secrets", "", false)
	if !strings.Contains(body, `{"key":"SecretToken","value":"*"}`) || !strings.Contains(body, `"key":"BaseAddress"`) {
		t.Errorf("GET secrets = %s", body)
	}

	// validateCredentials calls SCIM: the saved "bad" token fails, an
	// explicit good one passes.
	code, _, body = w.do("POST", jobs+"/"+wireJob+"/validateCredentials", `{"useSavedCredentials":true}`, true)
	if code != 400 || !strings.Contains(body, GraphCredentialFailure) {
		t.Errorf("validate saved bad token: %d %s", code, body)
	}
	code, _, body = w.do("POST", jobs+"/"+wireJob+"/validateCredentials", `{"useSavedCredentials":false,"credentials":[{"key":"SecretToken","value":"good"}]}`, false)
	if code != 204 {
		t.Errorf("validate explicit good token: %d %s", code, body)
	}

	// Reads drive cycles: a read runs one with the saved (bad) token, which
	// quarantines the job; a quarantined job does not cycle again on reads.
	w.do("GET", jobs, "", false)
	_, _, body = w.do("GET", jobs+"/"+wireJob, "", false)
	if st := w.g.JobStatus(wireSP); st.Cycles != 1 || st.Code != GraphJobQuarantine || st.LastState != "Failed" {
		t.Fatalf("after two reads: %+v, want one failed cycle and a quarantine", st)
	}
	if !strings.Contains(body, `"reason":"EncounteredQuarantineException"`) || !strings.Contains(body, `"interval":"PT40M"`) {
		t.Errorf("job JSON = %s", body)
	}
	// Saving a good token and starting the job: the next read cycles and
	// the job is Active again.
	w.do("PUT", wireSP+"/synchronization/secrets", `{"value":[{"key":"SecretToken","value":"good"}]}`, true)
	if code, _, _ := w.do("POST", jobs+"/"+wireJob+"/start", "", false); code != 204 {
		t.Errorf("start: %d", code)
	}
	w.now = w.now.Add(time.Minute)
	w.do("GET", jobs, "", false)
	if st := w.g.JobStatus(wireSP); st.Code != GraphJobActive || st.LastState != "Succeeded" || !st.LastBegan.Equal(w.now) {
		t.Errorf("after start: %+v", st)
	}

	// provisionOnDemand: rule id from the schema, key and value as JSON strings.
	w.g.AddCanary(wireSP, "user-1", "User")
	_, _, body = w.do("GET", jobs+"/"+wireJob+"/schema", "", false)
	var schema struct {
		Rules []struct {
			ID string `json:"id"`
		} `json:"synchronizationRules"`
	}
	if err := json.Unmarshal([]byte(body), &schema); err != nil || len(schema.Rules) != 1 {
		t.Fatalf("schema = %s", body)
	}
	pod := `{"parameters":[{"ruleId":"` + schema.Rules[0].ID + `","subjects":[{"objectId":"user-1","objectTypeName":"User"}]}]}`
	for _, want := range []string{"Success", "Skipped"} {
		code, _, body = w.do("POST", jobs+"/"+wireJob+"/provisionOnDemand", pod, true)
		var kv struct{ Key, Value string }
		if err := json.Unmarshal([]byte(body), &kv); err != nil || code != 200 || !strings.Contains(kv.Key, `"result":"`+want+`"`) || !strings.Contains(kv.Value, "provisioningSteps") {
			t.Errorf("provisionOnDemand: %d %s, want %s", code, body, want)
		}
	}

	// Injected throttling: 429 with Retry-After and an OData body.
	w.faults.Inject("graph:GetJobs", Fault{Status: 429, Header: http.Header{"Retry-After": {"7"}}})
	code, hdr, body := w.do("GET", jobs, "", false)
	if code != 429 || hdr.Get("Retry-After") != "7" || !strings.Contains(body, `"code":"TooManyRequests"`) {
		t.Errorf("throttled: %d %v %s", code, hdr, body)
	}
	if n := w.faults.Count("graph:ProvisionOnDemand"); n != 2 {
		t.Errorf("provisionOnDemand recorded %d times", n)
	}
}

func TestGraphLoginRefusals(t *testing.T) {
	w := newGraphWire(t)
	tests := []struct {
		name, tenant string
		form         url.Values
		wantStatus   int
		wantCode     string
	}{
		{"wrong secret", "tenant", url.Values{"client_id": {"client"}, "client_secret": {"nope"}, "scope": {"https://graph.microsoft.com/.default"}}, 401, "AADSTS7000215"},
		{"unknown client", "tenant", url.Values{"client_id": {"other"}, "client_secret": {"s3cret"}, "scope": {"https://graph.microsoft.com/.default"}}, 400, "AADSTS700016"},
		{"wrong tenant", "other", url.Values{"client_id": {"client"}, "client_secret": {"s3cret"}, "scope": {"https://graph.microsoft.com/.default"}}, 400, "AADSTS700016"},
		{"wrong audience", "tenant", url.Values{"client_id": {"client"}, "client_secret": {"s3cret"}, "scope": {"https://graph.microsoft.us/.default"}}, 400, "AADSTS1002012"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.form.Set("grant_type", "client_credentials")
			resp, err := http.PostForm(w.srv.URL+"/"+tt.tenant+"/oauth2/v2.0/token", tt.form)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || !strings.Contains(string(b), tt.wantCode) || strings.Contains(string(b), "access_token") {
				t.Errorf("%d %s", resp.StatusCode, b)
			}
		})
	}
	// The OpenID configuration points at this server's token endpoint.
	resp, err := http.Get(w.srv.URL + "/tenant/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var oc map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&oc)
	if oc["token_endpoint"] != w.srv.URL+"/tenant/oauth2/v2.0/token" || oc["issuer"] != w.srv.URL+"/tenant/v2.0" {
		t.Errorf("openid configuration = %v", oc)
	}
}
