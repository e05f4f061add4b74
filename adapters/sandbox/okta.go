package sandbox

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Okta fakes the parts of an Okta org's management API that the okta target
// uses, with Okta's wire formats: API-token (SSWS) or OAuth (private-key JWT
// client credentials) authentication, error bodies
// {"errorCode","errorSummary","errorLink","errorId","errorCauses"}, the
// Applications API (app, default provisioning connection and its lifecycle,
// app users) and the System Log with Link-header paging.
//
// Which apps take a token through the connections API follows Okta's
// documentation: okta_org2org and zscalerbyz do (authScheme TOKEN); every
// other app, amazon_aws_sso included, answers {authScheme:"UNKNOWN",
// status:"UNKNOWN"} and refuses a POST with 400 E0000001, so its token can
// only be set in the Admin Console (SetTokenInAdminConsole).
//
// Provisioning is real: a push calls the app's SCIM endpoint (SetSCIMEndpoint)
// with GET {scim}Users?filter=userName eq "..." and "Authorization: Bearer
// <the token the app holds>" through SCIMClient. A 2xx answer makes the app
// user SYNCHRONIZED with lastSync and logs application.provision.user.push
// SUCCESS; a 401/403 makes it ERROR and logs
// application.integration.authentication_failure FAILURE; anything else
// makes it ERROR and logs application.provision.user.push FAILURE.
//
// When pushes run (the sandbox's rule, standing in for Okta's background
// jobs): a token change (SetConnection, SetTokenInAdminConsole) queues a push
// of every user assigned to the app; a user profile update (POST
// /api/v1/users/{userId}, a partial update) that changes a value copies it to
// the user's app user profiles and queues a push of that user to each of
// their apps; an app user profile update (POST
// /api/v1/apps/{appId}/users/{userId}) that changes a value queues a push of
// that user. As in Okta, which pushes profile changes, an update that changes
// nothing pushes nothing.
// Queued pushes run at the start of the next GET /api/v1/logs (all apps) or
// GET /api/v1/apps/{appId}/users/{userId} (that app), so a caller that polls
// sees them happen without a test driving them. They run only while the app
// holds a token, its connection is enabled, it has a SCIM endpoint and its
// provisioning is not paused (SetProvisioningPaused).
//
// System Log events can be made late (SetLogLag): published when the push
// ran, visible only after further log reads and/or once the fake's clock has
// moved on.
//
// Operation names for Faults:
//
//	okta:GetApp               GET  /api/v1/apps/{appId}
//	okta:GetConnection        GET  /api/v1/apps/{appId}/connections/default
//	okta:SetConnection        POST /api/v1/apps/{appId}/connections/default
//	okta:ActivateConnection   POST /api/v1/apps/{appId}/connections/default/lifecycle/activate
//	okta:DeactivateConnection POST /api/v1/apps/{appId}/connections/default/lifecycle/deactivate
//	okta:GetAppUser           GET  /api/v1/apps/{appId}/users/{userId}
//	okta:UpdateAppUser        POST /api/v1/apps/{appId}/users/{userId}
//	okta:GetUser              GET  /api/v1/users/{userId}
//	okta:UpdateUser           POST /api/v1/users/{userId} (partial update)
//	okta:GetLogs              GET  /api/v1/logs
//	okta:Token                POST /oauth2/v1/token
//
// Throttling is injected as a Fault with Status 429 (see OktaRateLimited);
// the fake answers it with E0000047. Every answer carries a Date header from
// the fake's clock, as the SDK computes its 429 back-off from Date and
// X-Rate-Limit-Reset.
type Okta struct {
	// SCIMClient makes the provisioning calls to SCIM endpoints (nil:
	// http.DefaultClient). The sandbox passes one that trusts its TLS cert.
	SCIMClient *http.Client

	faults *Faults
	now    func() time.Time

	mu          sync.Mutex
	apiToken    string
	role        string
	apps        map[string]*oktaApp
	users       map[string]*oktaUser
	services    map[string]*oktaServiceApp
	bearer      map[string]oktaAccess
	events      []*oktaEvent
	logReads    int
	lagReads    int
	lagDelay    time.Duration
	seq         int
	connections int // successful SetConnection calls
}

// Okta admin roles the fake knows for the API token's owner.
const (
	OktaRoleSuperAdmin    = "SUPER_ADMIN"
	OktaRoleAppAdmin      = "APP_ADMIN"
	OktaRoleReadOnlyAdmin = "READ_ONLY_ADMIN"
)

// oktaTokenApps are the apps whose provisioning connection takes a token
// through the API, as Okta documents it.
var oktaTokenApps = []string{"okta_org2org", "zscalerbyz"}

type oktaApp struct {
	id, name, label string
	scim            string
	token           string
	enabled         bool // the provisioning connection is active
	paused          bool
	pushAll         bool
	users           map[string]*oktaAppUser
	order           []string
	created         time.Time
}

type oktaAppUser struct {
	id, userName string
	profile      map[string]any
	syncState    string
	lastSync     time.Time
	lastUpdated  time.Time
	created      time.Time
	queued       bool
}

// oktaUser is an org user (the Users API), whose profile Okta maps to the
// profiles of the app users it is assigned as.
type oktaUser struct {
	id          string
	profile     map[string]any
	created     time.Time
	lastUpdated time.Time
}

type oktaServiceApp struct {
	key    *rsa.PublicKey
	scopes []string
}

type oktaAccess struct {
	scopes  []string
	expires time.Time
}

type oktaEvent struct {
	seq       int
	uuid      string
	eventType string
	result    string
	reason    string
	published time.Time
	appID     string
	appLabel  string
	userID    string
	userName  string
	// visible from this many log reads on, and from this time on.
	fromRead int
	fromTime time.Time
}

// NewOkta returns an empty Okta org. faults may be nil; now is the fake's
// clock (nil: time.Now); scim makes the provisioning calls (nil:
// http.DefaultClient; it is the SCIMClient field).
func NewOkta(faults *Faults, now func() time.Time, scim *http.Client) *Okta {
	if now == nil {
		now = time.Now
	}
	return &Okta{
		SCIMClient: scim,
		faults:     faults,
		now:        now,
		apiToken:   "00sandbox" + oktaRandom(30),
		role:       OktaRoleSuperAdmin,
		apps:       map[string]*oktaApp{},
		users:      map[string]*oktaUser{},
		services:   map[string]*oktaServiceApp{},
		bearer:     map[string]oktaAccess{},
	}
}

// APIToken returns the SSWS API token the fake accepts.
func (o *Okta) APIToken() string { return o.apiToken }

// SetAPITokenRole sets the admin role of the API token's owner:
// OktaRoleSuperAdmin (default) and OktaRoleAppAdmin may read and change apps
// and read the System Log, and only OktaRoleSuperAdmin may change users (an
// application administrator manages apps, not users' profiles);
// OktaRoleReadOnlyAdmin may only read. A change not allowed is answered 403
// E0000006.
func (o *Okta) SetAPITokenRole(role string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.role = role
}

// AddServiceApp registers an OAuth service app (client credentials with a
// private-key JWT) and the scopes granted to it.
func (o *Okta) AddServiceApp(clientID string, key *rsa.PublicKey, scopes ...string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.services[clientID] = &oktaServiceApp{key: key, scopes: scopes}
}

// AddApp adds an active app instance. name is Okta's app name
// (amazon_aws_sso, okta_org2org, ...); it decides whether the connections API
// takes a token. The app holds no token until one is set.
func (o *Okta) AddApp(id, name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	label := map[string]string{
		"amazon_aws_sso": "AWS IAM Identity Center",
		"okta_org2org":   "Okta Org2Org",
		"zscalerbyz":     "Zscaler",
	}[name]
	if label == "" {
		label = name
	}
	o.apps[id] = &oktaApp{id: id, name: name, label: label, users: map[string]*oktaAppUser{}, created: o.now().Add(-90 * 24 * time.Hour)}
}

// AddAppUser assigns user userID to the app, provisioned and in sync a day
// ago, creating the org user if needed. Its login, email and userName are
// "<userID>@example.com".
func (o *Okta) AddAppUser(appID, userID string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	app := o.mustApp(appID)
	now := o.now()
	email := userID + "@example.com"
	if o.users[userID] == nil {
		o.users[userID] = &oktaUser{id: userID, created: now.Add(-60 * 24 * time.Hour), lastUpdated: now.Add(-24 * time.Hour),
			profile: map[string]any{"login": email, "email": email, "firstName": "Sandbox", "lastName": userID, "displayName": "Sandbox user " + userID}}
	}
	u := &oktaAppUser{
		id: userID, userName: email,
		profile:   map[string]any{"email": email, "displayName": "Sandbox user " + userID},
		syncState: "SYNCHRONIZED", lastSync: now.Add(-24 * time.Hour), lastUpdated: now.Add(-24 * time.Hour), created: now.Add(-30 * 24 * time.Hour),
	}
	app.users[userID] = u
	app.order = append(app.order, userID)
}

// SetSCIMEndpoint sets the app's SCIM base URL (ending in "/"), where its
// pushes go.
func (o *Okta) SetSCIMEndpoint(appID, u string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.mustApp(appID).scim = u
}

// SetTokenInAdminConsole does what an admin does in the Admin Console: the
// app's Provisioning > Integration > Edit, paste the token, Save. It works
// for every app and enables provisioning; a push of every assigned user
// follows (see the type's comment).
func (o *Okta) SetTokenInAdminConsole(appID, token string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	app := o.mustApp(appID)
	o.setTokenLocked(app, token)
	app.enabled = true
}

// SetProvisioningPaused stops (true) or resumes pushes for the app: queued
// pushes wait, as when Okta's provisioning jobs lag.
func (o *Okta) SetProvisioningPaused(appID string, paused bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.mustApp(appID).paused = paused
}

// SetLogLag makes System Log events created from now on late: an event is
// published when it happens but is left out of the next reads log reads
// (counting the read that ran the push which logged it), and out of every
// read until the fake's clock has passed its publication by delay.
func (o *Okta) SetLogLag(reads int, delay time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lagReads, o.lagDelay = reads, delay
}

// AddLogEvent appends a System Log event about the app (and user userID if
// not empty) published at published, subject to the log lag. result is
// SUCCESS or FAILURE.
func (o *Okta) AddLogEvent(appID, userID, eventType, result, reason string, published time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	app := o.mustApp(appID)
	userName := ""
	if u := app.users[userID]; u != nil {
		userName = u.userName
	}
	o.logLocked(app, userID, userName, eventType, result, reason, published)
}

// HeldToken returns the token the app's provisioning connection holds ("" if
// none). It is for tests; Okta's API never returns it.
func (o *Okta) HeldToken(appID string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.mustApp(appID).token
}

// ConnectionEnabled reports whether the app's provisioning connection is
// active.
func (o *Okta) ConnectionEnabled(appID string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.mustApp(appID).enabled
}

// UserProfile returns a copy of an org user's profile (nil if none).
func (o *Okta) UserProfile(userID string) map[string]any {
	o.mu.Lock()
	defer o.mu.Unlock()
	u := o.users[userID]
	if u == nil {
		return nil
	}
	return maps.Clone(u.profile)
}

// SyncState returns an app user's sync state and last sync time.
func (o *Okta) SyncState(appID, userID string) (string, time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	u := o.mustApp(appID).users[userID]
	if u == nil {
		return "", time.Time{}
	}
	return u.syncState, u.lastSync
}

// OktaLogEvent is a System Log event as tests inspect it.
type OktaLogEvent struct {
	EventType string
	Result    string
	Reason    string
	Published time.Time
	AppID     string
	UserID    string
}

// LogEvents returns every System Log event, visible or not, in publication
// order.
func (o *Okta) LogEvents() []OktaLogEvent {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]OktaLogEvent, 0, len(o.events))
	for _, e := range o.sortedEventsLocked() {
		out = append(out, OktaLogEvent{EventType: e.eventType, Result: e.result, Reason: e.reason, Published: e.published, AppID: e.appID, UserID: e.userID})
	}
	return out
}

// RunPushes runs every queued push now, as the next log read would.
func (o *Okta) RunPushes() { o.runPushes("") }

// OktaRateLimited returns a 429 fault as Okta sends it when a rate limit is
// exhausted: X-Rate-Limit-Limit, -Remaining 0 and -Reset (the Unix time when
// the limit resets).
func OktaRateLimited(reset time.Time) Fault {
	return Fault{Status: http.StatusTooManyRequests, Header: http.Header{
		"X-Rate-Limit-Limit":     {"600"},
		"X-Rate-Limit-Remaining": {"0"},
		"X-Rate-Limit-Reset":     {strconv.FormatInt(reset.Unix(), 10)},
	}}
}

func (o *Okta) mustApp(id string) *oktaApp {
	app := o.apps[id]
	if app == nil {
		panic("sandbox okta: no app " + id + " (call AddApp first)")
	}
	return app
}

func (o *Okta) setTokenLocked(app *oktaApp, token string) {
	if token != app.token {
		app.token = token
		app.pushAll = true
	}
}

// ---- HTTP ----

// oktaError is Okta's error body.
type oktaError struct {
	ErrorCode    string              `json:"errorCode"`
	ErrorSummary string              `json:"errorSummary"`
	ErrorLink    string              `json:"errorLink"`
	ErrorID      string              `json:"errorId"`
	ErrorCauses  []map[string]string `json:"errorCauses"`
}

func oktaErrorBody(code, summary string, causes ...string) []byte {
	e := oktaError{ErrorCode: code, ErrorSummary: summary, ErrorLink: code, ErrorID: "oae" + oktaRandom(15), ErrorCauses: []map[string]string{}}
	for _, c := range causes {
		e.ErrorCauses = append(e.ErrorCauses, map[string]string{"errorSummary": c})
	}
	b, _ := json.Marshal(e)
	return b
}

func oktaWriteError(w http.ResponseWriter, status int, code, summary string, causes ...string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(oktaErrorBody(code, summary, causes...))
}

// oktaFaultBody is the fake's own body for an injected status.
func oktaFaultBody(status int) (string, []byte) {
	switch status {
	case http.StatusTooManyRequests:
		return "application/json", oktaErrorBody("E0000047", "API call exceeded rate limit due to too many requests.")
	case http.StatusUnauthorized:
		return "application/json", oktaErrorBody("E0000011", "Invalid token provided")
	case http.StatusForbidden:
		return "application/json", oktaErrorBody("E0000006", "You do not have permission to perform the requested action")
	case http.StatusNotFound:
		return "application/json", oktaErrorBody("E0000007", "Not found: Resource not found")
	case http.StatusBadRequest:
		return "application/json", oktaErrorBody("E0000001", "Api validation failed")
	}
	return "application/json", oktaErrorBody("E0000009", "Internal Server Error")
}

func oktaWriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ServeHTTP routes the Okta API.
func (o *Okta) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := o.now()
	w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
	w.Header().Set("X-Okta-Request-Id", "req"+oktaRandom(12))

	if r.URL.Path == "/oauth2/v1/token" {
		o.serveToken(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/admin/") && r.Method == http.MethodGet {
		// The admin console's pages the hand-off links to: a page, so the
		// link works (the sandbox pastes with SetTokenInAdminConsole).
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "sandbox Okta admin console: the app's Provisioning > Integration page, where an admin pastes the token and saves\n"+
			"(in the sandbox, Okta.SetTokenInAdminConsole plays the admin)\n")
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	get, post := r.Method == http.MethodGet, r.Method == http.MethodPost
	isConn := len(parts) >= 6 && parts[2] == "apps" && parts[4] == "connections" && parts[5] == "default"
	var (
		op    string
		scope string
		do    func(w http.ResponseWriter) // the work, run after auth
	)
	switch {
	case len(parts) < 3 || parts[0] != "api" || parts[1] != "v1":
	case len(parts) == 3 && parts[2] == "logs" && get:
		op, scope, do = "okta:GetLogs", "okta.logs.read", func(w http.ResponseWriter) { o.getLogs(w, r) }
	case len(parts) == 4 && parts[2] == "apps" && get:
		op, scope, do = "okta:GetApp", "okta.apps.read", func(w http.ResponseWriter) { o.getApp(w, parts[3]) }
	case len(parts) == 6 && isConn && get:
		op, scope, do = "okta:GetConnection", "okta.apps.read", func(w http.ResponseWriter) { o.getConnection(w, parts[3]) }
	case len(parts) == 6 && isConn && post:
		op, scope, do = "okta:SetConnection", "okta.apps.manage", func(w http.ResponseWriter) { o.setConnection(w, r, parts[3]) }
	case len(parts) == 8 && isConn && parts[6] == "lifecycle" && parts[7] == "activate" && post:
		op, scope, do = "okta:ActivateConnection", "okta.apps.manage", func(w http.ResponseWriter) { o.connectionLifecycle(w, parts[3], true) }
	case len(parts) == 8 && isConn && parts[6] == "lifecycle" && parts[7] == "deactivate" && post:
		op, scope, do = "okta:DeactivateConnection", "okta.apps.manage", func(w http.ResponseWriter) { o.connectionLifecycle(w, parts[3], false) }
	case len(parts) == 6 && parts[2] == "apps" && parts[4] == "users" && get:
		op, scope, do = "okta:GetAppUser", "okta.apps.read", func(w http.ResponseWriter) { o.getAppUser(w, parts[3], parts[5]) }
	case len(parts) == 6 && parts[2] == "apps" && parts[4] == "users" && post:
		op, scope, do = "okta:UpdateAppUser", "okta.apps.manage", func(w http.ResponseWriter) { o.updateAppUser(w, r, parts[3], parts[5]) }
	case len(parts) == 4 && parts[2] == "users" && get:
		op, scope, do = "okta:GetUser", "okta.users.read", func(w http.ResponseWriter) { o.getUser(w, parts[3]) }
	case len(parts) == 4 && parts[2] == "users" && post:
		op, scope, do = "okta:UpdateUser", "okta.users.manage", func(w http.ResponseWriter) { o.updateUser(w, r, parts[3]) }
	}
	if op == "" {
		oktaWriteError(w, http.StatusNotFound, "E0000022", "The endpoint does not support the provided HTTP method")
		return
	}

	ft := o.faults.Begin(op)
	if ft.Before() {
		ft.Write(w, r, oktaFaultBody)
		return
	}
	w.Header().Set("X-Rate-Limit-Limit", "600")
	w.Header().Set("X-Rate-Limit-Remaining", "599")
	w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(now.Add(time.Minute).Unix(), 10))
	if !o.authorize(w, r, scope, post) {
		return
	}
	if ft.AfterWork() {
		// Do the work, then answer with the fault: the caller cannot tell.
		do(&discardWriter{h: http.Header{}})
		for _, k := range []string{"X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"} {
			if ft.Header.Get(k) != "" {
				w.Header().Del(k)
			}
		}
		ft.Write(w, r, oktaFaultBody)
		return
	}
	do(w)
}

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// authorize checks the Authorization header as Okta does: an SSWS API token
// (whose admin role decides what it may do) or a Bearer access token from
// the fake's OAuth endpoint (whose scopes decide).
func (o *Okta) authorize(w http.ResponseWriter, r *http.Request, scope string, write bool) bool {
	auth := r.Header.Get("Authorization")
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case strings.HasPrefix(auth, "SSWS "):
		if strings.TrimPrefix(auth, "SSWS ") != o.apiToken {
			oktaWriteError(w, http.StatusUnauthorized, "E0000011", "Invalid token provided")
			return false
		}
		if write && (o.role == OktaRoleReadOnlyAdmin || (o.role == OktaRoleAppAdmin && strings.HasPrefix(scope, "okta.users."))) {
			oktaWriteError(w, http.StatusForbidden, "E0000006", "You do not have permission to perform the requested action")
			return false
		}
		return true
	case strings.HasPrefix(auth, "Bearer "):
		acc, ok := o.bearer[strings.TrimPrefix(auth, "Bearer ")]
		if !ok || !o.now().Before(acc.expires) {
			w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="`+"https://"+r.Host+`/oauth2/v1/authorize", realm="IdpMyAccountAPI", error="invalid_token", error_description="The token is not valid as it was issued for a different audience or has expired."`)
			oktaWriteError(w, http.StatusUnauthorized, "E0000011", "Invalid token provided")
			return false
		}
		// A manage scope includes reading.
		if !slices.Contains(acc.scopes, scope) && !slices.Contains(acc.scopes, strings.TrimSuffix(scope, ".read")+".manage") {
			w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="`+"https://"+r.Host+`/oauth2/v1/authorize", realm="IdpMyAccountAPI", scope="`+scope+`", error="insufficient_scope", error_description="The access token provided does not contain the required scopes.", resource="`+r.URL.Path+`"`)
			oktaWriteError(w, http.StatusForbidden, "E0000006", "You do not have permission to perform the requested action")
			return false
		}
		return true
	}
	oktaWriteError(w, http.StatusUnauthorized, "E0000011", "Invalid token provided")
	return false
}

// serveToken is the org authorization server's token endpoint for a service
// app: client_credentials with a private_key_jwt client assertion (RS256).
func (o *Okta) serveToken(w http.ResponseWriter, r *http.Request) {
	ft := o.faults.Begin("okta:Token")
	if ft.Before() {
		ft.Write(w, r, oktaFaultBody)
		return
	}
	_ = r.ParseForm() // the SDK sends the parameters in the query string
	oauthErr := func(status int, code, desc string) {
		oktaWriteJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	if r.Method != http.MethodPost {
		oauthErr(http.StatusMethodNotAllowed, "invalid_request", "POST required")
		return
	}
	if r.Form.Get("grant_type") != "client_credentials" {
		oauthErr(http.StatusBadRequest, "unsupported_grant_type", "The authorization grant type is not supported.")
		return
	}
	if r.Form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		oauthErr(http.StatusUnauthorized, "invalid_client", "Client authentication failed.")
		return
	}
	claims, refused := o.verifyAssertion(r.Form.Get("client_assertion"), "https://"+r.Host+"/oauth2/v1/token")
	if refused != "" {
		oauthErr(http.StatusUnauthorized, "invalid_client", refused)
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	svc := o.services[claims.Sub]
	scopes := strings.Fields(r.Form.Get("scope"))
	var denied []string
	for _, s := range scopes {
		if !slices.Contains(svc.scopes, s) {
			denied = append(denied, s)
		}
	}
	if len(denied) > 0 || len(scopes) == 0 {
		oauthErr(http.StatusBadRequest, "invalid_scope", "The following scopes are not allowed: "+strings.Join(denied, " "))
		return
	}
	tok := "eyJsandbox." + oktaRandom(32)
	o.bearer[tok] = oktaAccess{scopes: scopes, expires: o.now().Add(time.Hour)}
	if ft.AfterWork() {
		ft.Write(w, r, oktaFaultBody)
		return
	}
	oktaWriteJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3600, "access_token": tok, "scope": strings.Join(scopes, " ")})
}

type assertionClaims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	Exp int64  `json:"exp"`
}

// verifyAssertion checks an RS256 client assertion against the registered
// service app's public key. Its iat/exp are not compared with the fake's
// clock: the SDK stamps them with the wall clock, tests run on a fake one. It returns
// Okta's error_description when it refuses the assertion, "" when it accepts it.
func (o *Okta) verifyAssertion(jwt, audience string) (assertionClaims, string) {
	var c assertionClaims
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return c, "The client_assertion is not a valid JWT."
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	pb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return c, "The client_assertion is not a valid JWT."
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(hb, &h) != nil || h.Alg != "RS256" || json.Unmarshal(pb, &c) != nil {
		return c, "The client_assertion token has an unsupported signing algorithm or malformed claims."
	}
	o.mu.Lock()
	svc := o.services[c.Sub]
	o.mu.Unlock()
	if svc == nil || c.Iss != c.Sub {
		return c, "The client_assertion token's sub claim does not name a registered client."
	}
	if c.Aud != audience {
		return c, "The audience claim for client_assertion must be the endpoint invoked for the request."
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(svc.key, crypto.SHA256, sum[:], sig) != nil {
		return c, "The client_assertion signature is invalid."
	}
	return c, ""
}

func (o *Okta) appOr404(w http.ResponseWriter, id string) *oktaApp {
	app := o.apps[id]
	if app == nil {
		oktaWriteError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+id+" (AppInstance)")
	}
	return app
}

func oktaTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (o *Okta) getApp(w http.ResponseWriter, id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	app := o.appOr404(w, id)
	if app == nil {
		return
	}
	oktaWriteJSON(w, http.StatusOK, map[string]any{
		"id": app.id, "name": app.name, "label": app.label, "status": "ACTIVE",
		"signOnMode": "SAML_2_0", "created": oktaTime(app.created), "lastUpdated": oktaTime(app.created),
		"features": []string{"PUSH_NEW_USERS", "PUSH_PROFILE_UPDATES"},
	})
}

func (o *Okta) connectionLocked(app *oktaApp) map[string]any {
	if !slices.Contains(oktaTokenApps, app.name) {
		return map[string]any{"authScheme": "UNKNOWN", "status": "UNKNOWN"}
	}
	status := "DISABLED"
	if app.enabled {
		status = "ENABLED"
	}
	base := "/api/v1/apps/" + app.id + "/connections/default/lifecycle/"
	links := map[string]any{"self": map[string]string{"href": "/api/v1/apps/" + app.id + "/connections/default"}}
	if app.enabled {
		links["deactivate"] = map[string]any{"href": base + "deactivate", "hints": map[string][]string{"allow": {"POST"}}}
	} else {
		links["activate"] = map[string]any{"href": base + "activate", "hints": map[string][]string{"allow": {"POST"}}}
	}
	return map[string]any{"authScheme": "TOKEN", "status": status, "_links": links}
}

func (o *Okta) getConnection(w http.ResponseWriter, id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	app := o.appOr404(w, id)
	if app == nil {
		return
	}
	oktaWriteJSON(w, http.StatusOK, o.connectionLocked(app))
}

func (o *Okta) setConnection(w http.ResponseWriter, r *http.Request, id string) {
	var body struct {
		Profile *struct {
			AuthScheme string `json:"authScheme"`
			Token      string `json:"token"`
		} `json:"profile"`
	}
	raw, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		oktaWriteError(w, http.StatusBadRequest, "E0000003", "The request body was not well-formed.")
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	app := o.appOr404(w, id)
	if app == nil {
		return
	}
	if !slices.Contains(oktaTokenApps, app.name) {
		// Not documented for this app: what a live org answers is unknown;
		// the fake refuses, as the adapter must expect.
		oktaWriteError(w, http.StatusBadRequest, "E0000001", "Api validation failed: connection",
			"connection: Provisioning connection is not supported for this application.")
		return
	}
	switch {
	case body.Profile == nil:
		oktaWriteError(w, http.StatusBadRequest, "E0000001", "Api validation failed: profile", "profile: The field cannot be left blank.")
		return
	case body.Profile.AuthScheme != "TOKEN":
		oktaWriteError(w, http.StatusBadRequest, "E0000001", "Api validation failed: authScheme",
			"authScheme: The authentication scheme is not supported for this application.")
		return
	case body.Profile.Token == "":
		oktaWriteError(w, http.StatusBadRequest, "E0000001", "Api validation failed: token", "token: The field cannot be left blank.")
		return
	}
	status := http.StatusOK
	if app.token == "" {
		status = http.StatusCreated
	}
	o.setTokenLocked(app, body.Profile.Token)
	if r.URL.Query().Get("activate") == "true" {
		app.enabled = true
	}
	o.connections++
	oktaWriteJSON(w, status, o.connectionLocked(app))
}

func (o *Okta) connectionLifecycle(w http.ResponseWriter, id string, activate bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	app := o.appOr404(w, id)
	if app == nil {
		return
	}
	if !slices.Contains(oktaTokenApps, app.name) {
		oktaWriteError(w, http.StatusBadRequest, "E0000001", "Api validation failed: connection",
			"connection: Provisioning connection is not supported for this application.")
		return
	}
	if activate && app.token == "" {
		oktaWriteError(w, http.StatusBadRequest, "E0000001", "Api validation failed: token", "token: A token must be set before the connection is activated.")
		return
	}
	if activate && !app.enabled {
		app.pushAll = true
	}
	app.enabled = activate
	w.WriteHeader(http.StatusNoContent)
}

func (o *Okta) appUserJSON(app *oktaApp, u *oktaAppUser) map[string]any {
	m := map[string]any{
		"id": u.id, "externalId": "ext-" + u.id, "scope": "USER", "status": "PROVISIONED",
		"syncState": u.syncState, "created": oktaTime(u.created), "lastUpdated": oktaTime(u.lastUpdated),
		"statusChanged": oktaTime(u.created), "credentials": map[string]string{"userName": u.userName},
		"profile": u.profile,
		"_links":  map[string]any{"app": map[string]string{"href": "/api/v1/apps/" + app.id}, "user": map[string]string{"href": "/api/v1/users/" + u.id}},
	}
	if !u.lastSync.IsZero() {
		m["lastSync"] = oktaTime(u.lastSync)
	}
	return m
}

func (o *Okta) getAppUser(w http.ResponseWriter, appID, userID string) {
	o.runPushes(appID)
	o.mu.Lock()
	defer o.mu.Unlock()
	app := o.appOr404(w, appID)
	if app == nil {
		return
	}
	u := app.users[userID]
	if u == nil {
		oktaWriteError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+userID+" (AppUser)")
		return
	}
	oktaWriteJSON(w, http.StatusOK, o.appUserJSON(app, u))
}

func (o *Okta) updateAppUser(w http.ResponseWriter, r *http.Request, appID, userID string) {
	profile, ok := oktaReadProfile(w, r)
	if !ok {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	app := o.appOr404(w, appID)
	if app == nil {
		return
	}
	u := app.users[userID]
	if u == nil {
		oktaWriteError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+userID+" (AppUser)")
		return
	}
	if mergeProfile(u.profile, profile) {
		o.appUserChangedLocked(u)
	}
	oktaWriteJSON(w, http.StatusOK, o.appUserJSON(app, u))
}

// oktaReadProfile decodes a {"profile":{...}} body, answering 400 if it is
// not well-formed.
func oktaReadProfile(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	var body struct {
		Profile map[string]any `json:"profile"`
	}
	raw, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		oktaWriteError(w, http.StatusBadRequest, "E0000003", "The request body was not well-formed.")
		return nil, false
	}
	return body.Profile, true
}

// mergeProfile sets the attributes of update in profile (a partial update)
// and reports whether any value changed.
func mergeProfile(profile, update map[string]any) bool {
	changed := false
	for k, v := range update {
		if old, had := profile[k]; !had || !reflect.DeepEqual(old, v) {
			changed = true
		}
		profile[k] = v
	}
	return changed
}

// appUserChangedLocked queues the push of an app user whose profile changed.
func (o *Okta) appUserChangedLocked(u *oktaAppUser) {
	u.lastUpdated = o.now()
	u.queued = true
	if u.syncState == "SYNCHRONIZED" {
		u.syncState = "OUT_OF_SYNC"
	}
}

func (o *Okta) userJSON(u *oktaUser) map[string]any {
	return map[string]any{
		"id": u.id, "status": "ACTIVE", "created": oktaTime(u.created), "activated": oktaTime(u.created),
		"statusChanged": oktaTime(u.created), "lastLogin": nil, "lastUpdated": oktaTime(u.lastUpdated), "passwordChanged": nil,
		"type":        map[string]string{"id": "otysandboxdefault000"},
		"profile":     u.profile,
		"credentials": map[string]any{"provider": map[string]string{"type": "OKTA", "name": "OKTA"}},
		"_links":      map[string]any{"self": map[string]string{"href": "/api/v1/users/" + u.id}},
	}
}

func (o *Okta) userOr404(w http.ResponseWriter, id string) *oktaUser {
	u := o.users[id]
	if u == nil {
		oktaWriteError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+id+" (User)")
	}
	return u
}

func (o *Okta) getUser(w http.ResponseWriter, userID string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	u := o.userOr404(w, userID)
	if u == nil {
		return
	}
	oktaWriteJSON(w, http.StatusOK, o.userJSON(u))
}

// updateUser is the Users API's partial update (POST): the profile's
// attributes given are set, the others kept. A changed value is mapped to
// the user's app user profiles and pushed to each app; an update that
// changes nothing pushes nothing.
func (o *Okta) updateUser(w http.ResponseWriter, r *http.Request, userID string) {
	profile, ok := oktaReadProfile(w, r)
	if !ok {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	u := o.userOr404(w, userID)
	if u == nil {
		return
	}
	for _, k := range []string{"login", "email"} {
		if v, ok := profile[k]; ok && (v == nil || v == "") {
			oktaWriteError(w, http.StatusBadRequest, "E0000001", "Api validation failed: "+k, k+": The field cannot be left blank")
			return
		}
	}
	if mergeProfile(u.profile, profile) {
		u.lastUpdated = o.now()
		for _, app := range o.apps {
			if au := app.users[userID]; au != nil {
				mergeProfile(au.profile, profile)
				o.appUserChangedLocked(au)
			}
		}
	}
	oktaWriteJSON(w, http.StatusOK, o.userJSON(u))
}

// ---- provisioning ----

type oktaPush struct {
	app             *oktaApp
	token, scim     string
	userID, userNam string
}

// runPushes runs the queued pushes of app appID ("" for every app): the
// SCIM calls happen outside the lock, their results are applied under it.
func (o *Okta) runPushes(appID string) {
	o.mu.Lock()
	var work []oktaPush
	for _, app := range o.apps {
		if appID != "" && app.id != appID {
			continue
		}
		if app.token == "" || !app.enabled || app.scim == "" || app.paused {
			continue
		}
		for _, id := range app.order {
			u := app.users[id]
			if app.pushAll || u.queued {
				u.queued = false
				u.syncState = "SYNCING"
				work = append(work, oktaPush{app: app, token: app.token, scim: app.scim, userID: u.id, userNam: u.userName})
			}
		}
		app.pushAll = false
	}
	o.mu.Unlock()

	for _, p := range work {
		status, err := o.scimCall(p)
		o.mu.Lock()
		u := p.app.users[p.userID]
		now := o.now()
		u.lastSync = now
		switch {
		case err == nil && status/100 == 2:
			u.syncState = "SYNCHRONIZED"
			o.logLocked(p.app, p.userID, p.userNam, "application.provision.user.push", "SUCCESS", "", now)
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			u.syncState = "ERROR"
			o.logLocked(p.app, p.userID, p.userNam, "application.integration.authentication_failure", "FAILURE",
				fmt.Sprintf("Error while verifying if user %s exists: Unauthorized", p.userNam), now)
		default:
			u.syncState = "ERROR"
			reason := fmt.Sprintf("Error while verifying if user %s exists: HTTP %d", p.userNam, status)
			if err != nil {
				reason = fmt.Sprintf("Error while verifying if user %s exists: %v", p.userNam, err)
			}
			o.logLocked(p.app, p.userID, p.userNam, "application.provision.user.push", "FAILURE", reason, now)
		}
		o.mu.Unlock()
	}
}

// OktaSCIMUserAgent is the User-Agent the fake Okta's provisioning sends to
// the SCIM endpoint (Okta's SCIM client as seen in public reports; not
// documented).
const OktaSCIMUserAgent = "Okta SCIM Client 1.0.0"

func (o *Okta) scimCall(p oktaPush) (int, error) {
	c := o.SCIMClient
	if c == nil {
		c = http.DefaultClient
	}
	u := strings.TrimSuffix(p.scim, "/") + "/Users?filter=" + url.QueryEscape(`userName eq "`+p.userNam+`"`)
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	req.Header.Set("Accept", "application/scim+json")
	req.Header.Set("User-Agent", OktaSCIMUserAgent)
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("connection failed")
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}

func (o *Okta) logLocked(app *oktaApp, userID, userName, eventType, result, reason string, published time.Time) {
	o.seq++
	o.events = append(o.events, &oktaEvent{
		seq: o.seq, uuid: fmt.Sprintf("%08x-%04x-11ee-8000-%012x", o.seq, o.seq%0xffff, o.seq),
		eventType: eventType, result: result, reason: reason, published: published.UTC().Truncate(time.Millisecond),
		appID: app.id, appLabel: app.label, userID: userID, userName: userName,
		fromRead: o.logReads + o.lagReads, fromTime: published.Add(o.lagDelay),
	})
}

func (o *Okta) sortedEventsLocked() []*oktaEvent {
	evs := append([]*oktaEvent(nil), o.events...)
	sort.SliceStable(evs, func(i, j int) bool {
		if !evs[i].published.Equal(evs[j].published) {
			return evs[i].published.Before(evs[j].published)
		}
		return evs[i].seq < evs[j].seq
	})
	return evs
}

func (e *oktaEvent) json() map[string]any {
	targets := []map[string]any{{"id": e.appID, "type": "AppInstance", "alternateId": e.appLabel, "displayName": e.appLabel}}
	if e.userID != "" {
		targets = append(targets, map[string]any{"id": e.userID, "type": "AppUser", "alternateId": e.userName, "displayName": e.userName})
	}
	severity := "INFO"
	if e.result != "SUCCESS" {
		severity = "WARN"
	}
	var reason any
	if e.reason != "" {
		reason = e.reason
	}
	return map[string]any{
		"uuid": e.uuid, "published": oktaTime(e.published), "eventType": e.eventType, "version": "0",
		"severity": severity, "legacyEventType": "app.provisioning", "displayMessage": e.eventType,
		"actor":       map[string]any{"id": e.appID, "type": "PublicClientApp", "alternateId": e.appLabel, "displayName": e.appLabel},
		"outcome":     map[string]any{"result": e.result, "reason": reason},
		"target":      targets,
		"transaction": map[string]any{"type": "JOB", "id": fmt.Sprintf("job%08d", e.seq)},
	}
}

// getLogs answers GET /api/v1/logs: since/until (ISO 8601), filter (clauses
// `field eq "value"` joined by `and`, for target.id, eventType, outcome.result,
// actor.id), sortOrder, limit (max 1000), after (the cursor of Link rel=next).
// As in Okta, a request without until is a polling request whose answer
// always has a next link; a bounded one has a next link while results remain.
func (o *Okta) getLogs(w http.ResponseWriter, r *http.Request) {
	o.runPushes("")
	q := r.URL.Query()
	now := o.now()
	since, until := now.Add(-7*24*time.Hour), time.Time{}
	bounded := q.Get("until") != ""
	for _, p := range []struct {
		key string
		t   *time.Time
	}{{"since", &since}, {"until", &until}} {
		if v := q.Get(p.key); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				oktaWriteError(w, http.StatusBadRequest, "E0000001", "Api validation failed: "+p.key, p.key+": The date format is not valid; use ISO 8601.")
				return
			}
			*p.t = t
		}
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			oktaWriteError(w, http.StatusBadRequest, "E0000001", "Api validation failed: limit", "limit: must be between 1 and 1000")
			return
		}
		limit = n
	}
	desc := false
	switch q.Get("sortOrder") {
	case "", "ASCENDING":
	case "DESCENDING":
		desc = true
	default:
		oktaWriteError(w, http.StatusBadRequest, "E0000001", "Api validation failed: sortOrder", "sortOrder: must be ASCENDING or DESCENDING")
		return
	}
	match, err := oktaLogFilter(q.Get("filter"))
	if err != nil {
		oktaWriteError(w, http.StatusBadRequest, "E0000031", "Invalid search criteria.", err.Error())
		return
	}
	after := 0
	if v := q.Get("after"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			oktaWriteError(w, http.StatusBadRequest, "E0000001", "Api validation failed: after", "after: invalid cursor")
			return
		}
		after = n
	}

	o.mu.Lock()
	o.logReads++
	var hits []*oktaEvent
	for _, e := range o.sortedEventsLocked() {
		if o.logReads <= e.fromRead || now.Before(e.fromTime) {
			continue // not visible yet
		}
		if e.published.Before(since) || (bounded && !e.published.Before(until)) || !match(e) {
			continue
		}
		hits = append(hits, e)
	}
	o.mu.Unlock()
	if desc {
		slices.Reverse(hits)
	}
	// The cursor is the position in this ordering: stable enough for the
	// fake, where events are appended in publication order.
	if after > len(hits) {
		after = len(hits)
	}
	page := hits[after:]
	more := len(page) > limit
	if more {
		page = page[:limit]
	}
	out := make([]map[string]any, 0, len(page))
	for _, e := range page {
		out = append(out, e.json())
	}
	self := *r.URL
	self.Scheme, self.Host = "https", r.Host
	w.Header().Add("Link", "<"+self.String()+`>; rel="self"`)
	if more || !bounded {
		next := self
		nq := next.Query()
		nq.Set("after", strconv.Itoa(after+len(page)))
		next.RawQuery = nq.Encode()
		w.Header().Add("Link", "<"+next.String()+`>; rel="next"`)
	}
	oktaWriteJSON(w, http.StatusOK, out)
}

// oktaLogFilter parses the subset of the System Log filter syntax the fake
// supports.
func oktaLogFilter(f string) (func(*oktaEvent) bool, error) {
	if strings.TrimSpace(f) == "" {
		return func(*oktaEvent) bool { return true }, nil
	}
	type clause struct{ field, value string }
	var cs []clause
	for _, part := range strings.Split(f, " and ") {
		fields := strings.SplitN(strings.TrimSpace(part), " ", 3)
		if len(fields) != 3 || fields[1] != "eq" {
			return nil, fmt.Errorf("filter: unsupported expression %q (the sandbox supports `field eq \"value\"` joined by and)", part)
		}
		v, err := strconv.Unquote(fields[2])
		if err != nil {
			return nil, fmt.Errorf("filter: value must be a double-quoted string in %q", part)
		}
		switch fields[0] {
		case "target.id", "eventType", "outcome.result", "actor.id":
		default:
			return nil, fmt.Errorf("filter: unsupported field %q", fields[0])
		}
		cs = append(cs, clause{fields[0], v})
	}
	return func(e *oktaEvent) bool {
		for _, c := range cs {
			var ok bool
			switch c.field {
			case "target.id":
				ok = e.appID == c.value || (e.userID != "" && e.userID == c.value)
			case "eventType":
				ok = e.eventType == c.value
			case "outcome.result":
				ok = e.result == c.value
			case "actor.id":
				ok = e.appID == c.value
			}
			if !ok {
				return false
			}
		}
		return true
	}, nil
}

func oktaRandom(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
