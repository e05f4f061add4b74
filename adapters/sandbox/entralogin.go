package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The Entra login endpoint, as the identity library (azidentity over MSAL)
// uses it for the client-secret flow: it reads the tenant's OpenID
// configuration, then posts client_credentials to the token endpoint. Instance
// discovery (/common/discovery/instance) is answered too, for a client that
// does not disable it. Tokens are opaque, do not expire, and are the only
// Bearer tokens the fake Graph accepts.

// LoginClient registers an app registration that may sign in to tenant with
// clientID and secret.
func (g *Graph) LoginClient(tenant, clientID, secret string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.clients[tenant+"/"+clientID] = secret
}

// IssueToken returns a Graph access token for clientID in tenant without a
// login round trip, for tests that use a fixed-token credential.
func (g *Graph) IssueToken(tenant, clientID string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.issue(tenant, clientID)
}

func (g *Graph) issue(tenant, clientID string) string {
	tok := "sandbox-graph-token-" + strings.ReplaceAll(fakeUUID(), "-", "")
	g.tokens[tok] = graphCaller{tenant: tenant, clientID: clientID}
	return tok
}

var loginRoute = regexp.MustCompile(`^/([^/]+)/(v2\.0/\.well-known/openid-configuration|oauth2/v2\.0/token|discovery/instance)$`)

func (g *Graph) serveLogin(w http.ResponseWriter, r *http.Request) {
	m := loginRoute.FindStringSubmatch(r.URL.Path)
	if m == nil {
		loginError(w, http.StatusNotFound, "invalid_request", 90002, "AADSTS90002: The requested endpoint was not found.")
		return
	}
	tenant, what := m[1], m[2]
	switch {
	case what == "discovery/instance" && r.Method == http.MethodGet:
		g.instanceDiscovery(w, r)
	case strings.HasSuffix(what, "openid-configuration") && r.Method == http.MethodGet:
		g.openIDConfiguration(w, r, tenant)
	case what == "oauth2/v2.0/token" && r.Method == http.MethodPost:
		g.token(w, r, tenant)
	default:
		loginError(w, http.StatusMethodNotAllowed, "invalid_request", 900561, "AADSTS900561: The endpoint only accepts POST requests.")
	}
}

func (g *Graph) instanceDiscovery(w http.ResponseWriter, r *http.Request) {
	ft := g.faults.Begin("entra:InstanceDiscovery")
	if ft.Before() {
		ft.Write(w, r, loginFaultBody)
		return
	}
	host := r.Host
	writeLoginJSON(w, map[string]any{
		"tenant_discovery_endpoint": graphHostURL(r) + "/common/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata":                  []any{map[string]any{"preferred_network": host, "preferred_cache": host, "aliases": []string{host}}},
	})
}

func (g *Graph) openIDConfiguration(w http.ResponseWriter, r *http.Request, tenant string) {
	ft := g.faults.Begin("entra:OpenIDConfiguration")
	if ft.Before() {
		ft.Write(w, r, loginFaultBody)
		return
	}
	base := graphHostURL(r) + "/" + tenant
	writeLoginJSON(w, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"issuer":                                base + "/v2.0",
		"jwks_uri":                              graphHostURL(r) + "/" + tenant + "/discovery/v2.0/keys",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"tenant_region_scope":                   "NA",
	})
}

func (g *Graph) token(w http.ResponseWriter, r *http.Request, tenant string) {
	ft := g.faults.Begin("entra:Token")
	if ft.Before() {
		ft.Write(w, r, loginFaultBody)
		return
	}
	if err := r.ParseForm(); err != nil {
		loginError(w, http.StatusBadRequest, "invalid_request", 900144, "AADSTS900144: The request body must contain the following parameter: 'grant_type'.")
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != "client_credentials" {
		loginError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "AADSTS70003: The app requested an unsupported grant type.")
		return
	}
	clientID := f.Get("client_id")
	g.mu.Lock()
	secret, known := g.clients[tenant+"/"+clientID]
	scopes := slices.Clone(g.Scopes)
	g.mu.Unlock()
	switch {
	case !known:
		loginError(w, http.StatusBadRequest, "unauthorized_client", 700016,
			fmt.Sprintf("AADSTS700016: Application with identifier '%s' was not found in the directory '%s'.", clientID, tenant))
		return
	case f.Get("client_assertion") != "":
		loginError(w, http.StatusUnauthorized, "invalid_client", 700027,
			"AADSTS700027: The sandbox login endpoint accepts client secrets only, not client assertions (certificate or federated credentials).")
		return
	case f.Get("client_secret") != secret:
		loginError(w, http.StatusUnauthorized, "invalid_client", 7000215,
			fmt.Sprintf("AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID))
		return
	}
	granted := false
	for _, s := range strings.Fields(f.Get("scope")) {
		if slices.Contains(scopes, s) {
			granted = true
		}
	}
	if !granted {
		loginError(w, http.StatusBadRequest, "invalid_scope", 1002012,
			fmt.Sprintf("AADSTS1002012: The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", f.Get("scope")))
		return
	}
	g.mu.Lock()
	tok := g.issue(tenant, clientID)
	g.mu.Unlock()
	if ft.AfterWork() {
		ft.Write(w, r, loginFaultBody)
		return
	}
	writeLoginJSON(w, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok})
}

func writeLoginJSON(w http.ResponseWriter, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	_, _ = w.Write(b)
}

// loginError writes an OAuth 2.0 error as Entra does.
func loginError(w http.ResponseWriter, status int, code string, aadsts int, desc string) {
	id := fakeUUID()
	b, _ := json.Marshal(map[string]any{
		"error": code, "error_description": desc, "error_codes": []int{aadsts},
		"timestamp": time.Now().UTC().Format("2006-01-02 15:04:05Z"), "trace_id": id, "correlation_id": id,
	})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func loginFaultBody(status int) (string, []byte) {
	id := fakeUUID()
	b, _ := json.Marshal(map[string]any{
		"error": "temporarily_unavailable", "error_description": fmt.Sprintf("AADSTS90033: A transient error has occurred (HTTP %d).", status),
		"error_codes": []int{90033}, "trace_id": id, "correlation_id": id,
	})
	return "application/json; charset=utf-8", b
}
