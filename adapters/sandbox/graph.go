package sandbox

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Graph fakes the part of Microsoft Graph v1.0 that provisions an enterprise
// application (servicePrincipals/{sp}/synchronization/...) together with the
// Entra login endpoint that issues its access tokens (see entralogin.go). One
// handler serves both: Graph under /v1.0/, login under /{tenant}/..., so a
// target is pointed at it with graphEndpoint = {server}/v1.0 and
// authorityHost = {server}/.
//
// What it checks, as Graph does: a Bearer token it issued itself (anything
// else is 401 InvalidAuthenticationToken), request bodies that may be gzipped
// (the SDK gzips them), JSON shapes, known service principals and job ids.
// It answers with 204s, OData error bodies
// {"error":{"code","message","innerError":{...}}}, and sensitive secrets
// masked as "*" on read.
//
// validateCredentials really calls the SCIM endpoint (GET
// {BaseAddress}ServiceProviderConfig with "Authorization: Bearer <token>")
// through the SCIM client, with the explicit credentials or the saved ones,
// and fails with SystemForCrossDomainIdentityManagementCredentialValidationFailure
// when SCIM answers 401 or 403. Sync cycles do the same with the saved token:
// success makes the job Active with a Succeeded execution; a refused token
// puts the job in Quarantine.
//
// When cycles run: RunCycle runs one for every job that is not paused. They
// also run by themselves, just before a job read (GET jobs or GET jobs/{id})
// is answered, for each job that is:
//   - Active or NotRun, and CycleEvery of fake time has passed since its last
//     cycle (or its creation), or CycleAfterReads reads have been answered
//     since its last cycle;
//   - Quarantined, and its quarantine's nextAttempt has come (fake time);
//   - just started or restarted (start/restart make a cycle due at once).
//
// Paused and NotConfigured jobs never cycle.
//
// Operation names for Faults: graph:PutSecrets, graph:GetSecrets,
// graph:GetJobs, graph:GetJob, graph:ValidateCredentials, graph:Start,
// graph:Pause, graph:Restart, graph:GetSchema, graph:ProvisionOnDemand,
// graph:GetAppRoleAssignedTo, and for the login endpoint entra:Token,
// entra:OpenIDConfiguration, entra:InstanceDiscovery.
type Graph struct {
	// SCIM is the client the fake calls the SCIM endpoint with (the sandbox
	// SCIM endpoint serves TLS, so it must trust its certificate).
	SCIM *http.Client
	// CycleEvery is the fake time between automatic cycles of an active job
	// (0: never by time). NewGraph sets Graph's real interval, 40 minutes.
	CycleEvery time.Duration
	// CycleAfterReads makes a cycle run once this many job reads have been
	// answered since the job's last cycle (0: never by reads). NewGraph sets
	// 1: every read of an active job first runs a cycle with the saved token,
	// so a confirmation's first poll after a push sees a cycle that began
	// after it (on a frozen fake clock, the next poll does), and `demo` and
	// end-to-end runs complete without anyone driving the fake.
	CycleAfterReads int
	// Scopes are the token scopes the login endpoint grants (default: the
	// public cloud's https://graph.microsoft.com/.default).
	Scopes []string

	faults *Faults
	now    func() time.Time

	mu      sync.Mutex
	sps     map[string]*graphSP
	clients map[string]string      // tenant + "/" + clientID -> client secret
	tokens  map[string]graphCaller // access token -> who it was issued to
}

// Job status codes, execution states and the quarantine reason a refused
// token causes, as Graph spells them.
const (
	GraphJobNotRun     = "NotRun"
	GraphJobActive     = "Active"
	GraphJobPaused     = "Paused"
	GraphJobQuarantine = "Quarantine"
	// GraphQuarantineException is the quarantine reason Entra reports when the
	// SCIM endpoint refuses the saved credentials.
	GraphQuarantineException = "EncounteredQuarantineException"
	// GraphCredentialFailure is the OData error code of a validateCredentials
	// the SCIM endpoint refused.
	GraphCredentialFailure = "SystemForCrossDomainIdentityManagementCredentialValidationFailure"
	// GraphCredentialUnavailable is the code when the SCIM endpoint could not
	// be reached or answered something other than 2xx/401/403.
	GraphCredentialUnavailable = "SystemForCrossDomainIdentityManagementCredentialValidationUnavailable"
	// GraphSCIMUnauthorized is the error code a sync cycle records when the
	// SCIM endpoint refuses the saved token.
	GraphSCIMUnauthorized = "SystemForCrossDomainIdentityManagementUnauthorized"
)

// GraphJobStatus is a job's state as a test inspects it.
type GraphJobStatus struct {
	Code              string
	LastState         string // "" if never run
	LastBegan         time.Time
	LastErrorCode     string
	QuarantineReason  string
	QuarantineError   string
	SuccessiveFailure int
	Cycles            int
}

type graphCaller struct{ tenant, clientID string }

type graphSP struct {
	secrets    map[string]string
	secretKeys []string // in the order first written
	jobs       []*graphJob
	canaries   map[string]string // object id -> User | Group
	// provisioned remembers objects already exported by provisionOnDemand, so
	// that a second request is Skipped (RedundantExport), as in Entra.
	provisioned map[string]bool
}

type graphJob struct {
	id, templateID string
	ruleID         string
	code           string
	last           *graphExecution
	lastSuccess    *graphExecution
	quarantine     *graphQuarantine
	failures       int
	lastCycle      time.Time
	reads          int
	due            bool
	cycles         int
	steadyFirst    time.Time
	steadyLast     time.Time
}

type graphExecution struct {
	State     string
	TimeBegan time.Time
	TimeEnded time.Time
	ErrCode   string
	ErrMsg    string
}

type graphQuarantine struct {
	CurrentBegan time.Time
	NextAttempt  time.Time
	Reason       string
	SeriesBegan  time.Time
	SeriesCount  int
	ErrCode      string
	ErrMsg       string
}

// NewGraph returns an empty fake Graph. now is the fake's clock (job times,
// cycle timing); scim is the client used to reach the SCIM endpoint (nil:
// http.DefaultClient).
func NewGraph(faults *Faults, now func() time.Time, scim *http.Client) *Graph {
	if now == nil {
		now = time.Now
	}
	if scim == nil {
		scim = http.DefaultClient
	}
	return &Graph{
		SCIM:            scim,
		CycleEvery:      40 * time.Minute,
		CycleAfterReads: 1,
		Scopes:          []string{"https://graph.microsoft.com/.default"},
		faults:          faults,
		now:             now,
		sps:             map[string]*graphSP{},
		clients:         map[string]string{},
		tokens:          map[string]graphCaller{},
	}
}

// AddServicePrincipal adds an enterprise application's service principal
// with one provisioning job (template aWSSingleSignOn), Active and never run,
// and no saved credentials. Adding a second job id to the same service
// principal adds a second job.
func (g *Graph) AddServicePrincipal(spID, jobID string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	sp := g.sps[spID]
	if sp == nil {
		sp = &graphSP{secrets: map[string]string{}, canaries: map[string]string{}, provisioned: map[string]bool{}}
		g.sps[spID] = sp
	}
	sp.jobs = append(sp.jobs, &graphJob{
		id:         jobID,
		templateID: "aWSSingleSignOn",
		ruleID:     fakeUUID(),
		code:       GraphJobActive,
		lastCycle:  g.now(),
	})
}

// SetSecrets saves credentials as an admin does in the portal (no call
// recorded, no validation).
func (g *Graph) SetSecrets(spID, baseAddress, token string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	sp := g.mustSP(spID)
	sp.put("BaseAddress", baseAddress)
	sp.put("SecretToken", token)
}

// SavedToken returns the SecretToken the service principal holds ("" if none).
func (g *Graph) SavedToken(spID string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.mustSP(spID).secrets["SecretToken"]
}

// SavedBaseAddress returns the BaseAddress the service principal holds.
func (g *Graph) SavedBaseAddress(spID string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.mustSP(spID).secrets["BaseAddress"]
}

// SetJobStatus sets the status code of the service principal's first job
// (Active, Paused, NotRun...). Setting anything but Quarantine clears the
// quarantine.
func (g *Graph) SetJobStatus(spID, code string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	j := g.mustSP(spID).jobs[0]
	j.code = code
	if code != GraphJobQuarantine {
		j.quarantine = nil
	}
}

// Quarantine puts the service principal's first job in quarantine for
// reason, a Graph quarantineReason. GraphQuarantineException gets the error
// Entra records when the SCIM endpoint refuses the token; any other reason
// (TooManyDeletes, ...) gets an error whose code is the reason. The next
// automatic attempt is a day away, as for a long-quarantined job.
func (g *Graph) Quarantine(spID, reason string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	j := g.mustSP(spID).jobs[0]
	now := g.now()
	q := &graphQuarantine{CurrentBegan: now, SeriesBegan: now, SeriesCount: 1, NextAttempt: now.Add(24 * time.Hour), Reason: reason}
	if reason == GraphQuarantineException {
		q.ErrCode, q.ErrMsg = GraphSCIMUnauthorized, scimUnauthorizedMessage
	} else {
		q.ErrCode, q.ErrMsg = reason, "The job was quarantined: "+reason
	}
	j.code, j.quarantine = GraphJobQuarantine, q
}

// AddCanary assigns a user or group (objectType User or Group) to the
// application, so provisionOnDemand can provision it and appRoleAssignedTo
// lists it.
func (g *Graph) AddCanary(spID, objectID, objectType string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.mustSP(spID).canaries[objectID] = objectType
}

// JobStatus returns the state of the service principal's first job.
func (g *Graph) JobStatus(spID string) GraphJobStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	j := g.mustSP(spID).jobs[0]
	st := GraphJobStatus{Code: j.code, SuccessiveFailure: j.failures, Cycles: j.cycles}
	if j.last != nil {
		st.LastState, st.LastBegan, st.LastErrorCode = j.last.State, j.last.TimeBegan, j.last.ErrCode
	}
	if j.quarantine != nil {
		st.QuarantineReason, st.QuarantineError = j.quarantine.Reason, j.quarantine.ErrCode
	}
	return st
}

// RunCycle runs one incremental sync cycle, at now(), for every job that is
// not paused, with the saved token against the SCIM endpoint.
func (g *Graph) RunCycle() {
	g.mu.Lock()
	var todo []cycleInput
	for _, sp := range g.sps {
		for _, j := range sp.jobs {
			if j.code != GraphJobPaused && j.code != "NotConfigured" {
				todo = append(todo, cycleInput{sp: sp, job: j, base: sp.secrets["BaseAddress"], token: sp.secrets["SecretToken"]})
			}
		}
	}
	g.mu.Unlock()
	for _, in := range todo {
		g.runCycle(context.Background(), in)
	}
}

func (g *Graph) mustSP(spID string) *graphSP {
	sp := g.sps[spID]
	if sp == nil {
		panic("sandbox: unknown service principal " + spID)
	}
	return sp
}

func (sp *graphSP) put(key, value string) {
	if _, ok := sp.secrets[key]; !ok {
		sp.secretKeys = append(sp.secretKeys, key)
	}
	if value == "" {
		// Entra removes a key written with an empty value.
		delete(sp.secrets, key)
		sp.secretKeys = slices.DeleteFunc(sp.secretKeys, func(k string) bool { return k == key })
		return
	}
	sp.secrets[key] = value
}

func (sp *graphSP) job(id string) *graphJob {
	for _, j := range sp.jobs {
		if j.id == id {
			return j
		}
	}
	return nil
}

// ServeHTTP serves Graph under /v1.0/ and the login endpoint elsewhere.
func (g *Graph) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/v1.0/") {
		g.serveGraph(w, r)
		return
	}
	g.serveLogin(w, r)
}

var graphRoute = regexp.MustCompile(`^/v1\.0/servicePrincipals/([^/]+)/(synchronization/secrets|synchronization/jobs|synchronization/jobs/([^/]+)(/[A-Za-z]+)?|appRoleAssignedTo)$`)

func (g *Graph) serveGraph(w http.ResponseWriter, r *http.Request) {
	m := graphRoute.FindStringSubmatch(r.URL.Path)
	if m == nil {
		writeOData(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", lastSegment(r.URL.Path)))
		return
	}
	spID, what, jobID, action := m[1], m[2], m[3], strings.TrimPrefix(m[4], "/")
	op := graphOp(r.Method, what, jobID, action)
	if op == "" {
		writeOData(w, http.StatusMethodNotAllowed, "Request_BadRequest", fmt.Sprintf("The request method '%s' is not supported for this resource.", r.Method))
		return
	}
	// The body is read before anything is answered, faults included, as a
	// front end does: a client may reuse the same body for a retry.
	body, bodyErr := readGraphBody(r)
	r.Body = io.NopCloser(bytes.NewReader(body)) // decoded, for faults that match on it
	ft := g.faults.BeginRequest(op, r)
	if ft.Before() {
		ft.Write(w, r, odataFaultBody)
		return
	}
	if !g.authorized(r) {
		writeOData(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience or unknown token.")
		return
	}
	if bodyErr != nil {
		writeOData(w, http.StatusBadRequest, "BadRequest", bodyErr.Error())
		return
	}
	g.mu.Lock()
	sp := g.sps[spID]
	var job *graphJob
	if sp != nil && jobID != "" {
		job = sp.job(jobID)
	}
	g.mu.Unlock()
	if sp == nil {
		writeOData(w, http.StatusNotFound, "Request_ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", spID))
		return
	}
	if jobID != "" && job == nil {
		writeOData(w, http.StatusNotFound, "NotFound", fmt.Sprintf("The job '%s' was not found for service principal '%s'.", jobID, spID))
		return
	}
	rec := &answer{w: w}
	switch op {
	case "graph:PutSecrets":
		g.putSecrets(rec, sp, body)
	case "graph:GetSecrets":
		g.getSecrets(rec, sp)
	case "graph:GetJobs":
		g.getJobs(r.Context(), rec, sp, "")
	case "graph:GetJob":
		g.getJobs(r.Context(), rec, sp, jobID)
	case "graph:ValidateCredentials":
		g.validateCredentials(r.Context(), rec, sp, body)
	case "graph:Start", "graph:Restart":
		g.start(rec, job)
	case "graph:Pause":
		g.mu.Lock()
		job.code = GraphJobPaused
		g.mu.Unlock()
		rec.status(http.StatusNoContent)
	case "graph:GetSchema":
		g.getSchema(rec, job)
	case "graph:ProvisionOnDemand":
		g.provisionOnDemand(r.Context(), rec, sp, job, body)
	case "graph:GetAppRoleAssignedTo":
		g.appRoleAssignedTo(rec, spID, sp, r.URL.Query().Get("$filter"))
	}
	if ft.AfterWork() {
		ft.Write(w, r, odataFaultBody)
		return
	}
	rec.flush()
}

// graphOp names the operation a request calls ("" if none).
func graphOp(method, what, jobID, action string) string {
	type route struct{ method, what, action string }
	var r route
	switch {
	case what == "synchronization/secrets", what == "appRoleAssignedTo", what == "synchronization/jobs":
		r = route{method, what, ""}
	default:
		r = route{method, "job", action}
	}
	return map[route]string{
		{http.MethodPut, "synchronization/secrets", ""}: "graph:PutSecrets",
		{http.MethodGet, "synchronization/secrets", ""}: "graph:GetSecrets",
		{http.MethodGet, "appRoleAssignedTo", ""}:       "graph:GetAppRoleAssignedTo",
		{http.MethodGet, "synchronization/jobs", ""}:    "graph:GetJobs",
		{http.MethodGet, "job", ""}:                     "graph:GetJob",
		{http.MethodPost, "job", "validateCredentials"}: "graph:ValidateCredentials",
		{http.MethodPost, "job", "start"}:               "graph:Start",
		{http.MethodPost, "job", "pause"}:               "graph:Pause",
		{http.MethodPost, "job", "restart"}:             "graph:Restart",
		{http.MethodGet, "job", "schema"}:               "graph:GetSchema",
		{http.MethodPost, "job", "provisionOnDemand"}:   "graph:ProvisionOnDemand",
	}[r]
}

// answer buffers a response so that a fault "after the work" can replace it.
type answer struct {
	w    http.ResponseWriter
	code int
	body []byte
	ct   string
}

func (a *answer) status(code int) { a.code = code }
func (a *answer) json(code int, v any) {
	a.code, a.ct = code, "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
	a.body, _ = json.Marshal(v)
}
func (a *answer) odata(code int, errCode, msg string) {
	a.code, a.ct, a.body = code, "application/json", odataBody(errCode, msg)
}
func (a *answer) flush() {
	stamp(a.w)
	if a.ct != "" {
		a.w.Header().Set("Content-Type", a.ct)
	}
	if a.code == 0 {
		a.code = http.StatusNoContent
	}
	a.w.WriteHeader(a.code)
	_, _ = a.w.Write(a.body)
}

// readGraphBody reads a request body, gunzipping it when the client says so.
func readGraphBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	var rd io.Reader = r.Body
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, fmt.Errorf("Content-Encoding is gzip but the body is not: %v", err)
		}
		defer zr.Close()
		rd = zr
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("cannot read the request body: %v", err)
	}
	return b, nil
}

func (g *Graph) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok = g.tokens[tok]
	return ok
}

type keyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func (g *Graph) putSecrets(a *answer, sp *graphSP, body []byte) {
	var in struct {
		Value []keyValue `json:"value"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.Value == nil {
		a.odata(http.StatusBadRequest, "BadRequest", "The request body must be an object with a 'value' array of key/value pairs.")
		return
	}
	for _, kv := range in.Value {
		if kv.Key == "" {
			a.odata(http.StatusBadRequest, "BadRequest", "Every secret needs a key.")
			return
		}
	}
	g.mu.Lock()
	for _, kv := range in.Value {
		sp.put(kv.Key, kv.Value)
	}
	g.mu.Unlock()
	a.status(http.StatusNoContent)
}

// sensitive lists the secret keys Graph masks on read.
var sensitive = []string{"SecretToken", "Password", "ClientSecret", "AppKey", "ConsumerSecret", "TokenKey"}

func (g *Graph) getSecrets(a *answer, sp *graphSP) {
	g.mu.Lock()
	out := []keyValue{}
	for _, k := range sp.secretKeys {
		v := sp.secrets[k]
		if slices.Contains(sensitive, k) {
			v = "*"
		}
		out = append(out, keyValue{Key: k, Value: v})
	}
	g.mu.Unlock()
	a.json(http.StatusOK, map[string]any{"value": out})
}

type cycleInput struct {
	sp          *graphSP
	job         *graphJob
	base, token string
}

func (g *Graph) getJobs(ctx context.Context, a *answer, sp *graphSP, jobID string) {
	// Decide which jobs cycle before this read is answered (see Graph's doc).
	now := g.now()
	g.mu.Lock()
	var todo []cycleInput
	for _, j := range sp.jobs {
		if jobID != "" && j.id != jobID {
			continue
		}
		j.reads++
		if g.cycleDue(j, now) {
			todo = append(todo, cycleInput{sp: sp, job: j, base: sp.secrets["BaseAddress"], token: sp.secrets["SecretToken"]})
		}
	}
	g.mu.Unlock()
	for _, in := range todo {
		g.runCycle(ctx, in)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if jobID != "" {
		a.json(http.StatusOK, jobJSON(sp.job(jobID)))
		return
	}
	var jobs []any
	for _, j := range sp.jobs {
		jobs = append(jobs, jobJSON(j))
	}
	a.json(http.StatusOK, map[string]any{
		"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals('id')/synchronization/jobs",
		"value":          jobs,
	})
}

func (g *Graph) cycleDue(j *graphJob, now time.Time) bool {
	switch j.code {
	case GraphJobPaused, "NotConfigured":
		return false
	case GraphJobQuarantine:
		return j.due || (j.quarantine != nil && !now.Before(j.quarantine.NextAttempt))
	}
	switch {
	case j.due:
		return true
	case g.CycleAfterReads > 0 && j.reads >= g.CycleAfterReads:
		return true
	case g.CycleEvery > 0 && now.Sub(j.lastCycle) >= g.CycleEvery:
		return true
	}
	return false
}

// runCycle runs one incremental cycle of in.job: the saved token is presented
// to the SCIM endpoint, and the outcome recorded as Entra does.
func (g *Graph) runCycle(ctx context.Context, in cycleInput) {
	began := g.now()
	status, err := g.callSCIM(ctx, in.base, in.token)
	ended := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	j := in.job
	j.cycles++
	j.reads, j.due, j.lastCycle = 0, false, ended
	ex := &graphExecution{TimeBegan: began, TimeEnded: ended}
	switch {
	case err == nil && status/100 == 2:
		ex.State = "Succeeded"
		j.last, j.lastSuccess = ex, ex
		j.code, j.quarantine, j.failures = GraphJobActive, nil, 0
		if j.steadyFirst.IsZero() {
			j.steadyFirst = ended
		}
		j.steadyLast = ended
	case err == nil && (status == http.StatusUnauthorized || status == http.StatusForbidden):
		ex.State, ex.ErrCode, ex.ErrMsg = "Failed", GraphSCIMUnauthorized, scimUnauthorizedMessage
		j.last = ex
		j.failures++
		q := j.quarantine
		if q == nil {
			q = &graphQuarantine{SeriesBegan: began}
		}
		q.CurrentBegan, q.Reason = began, GraphQuarantineException
		q.SeriesCount++
		q.ErrCode, q.ErrMsg = ex.ErrCode, ex.ErrMsg
		// Entra backs a quarantined job off, up to once a day.
		backoff := 40 * time.Minute << min(q.SeriesCount, 6)
		q.NextAttempt = ended.Add(min(backoff, 24*time.Hour))
		j.code, j.quarantine = GraphJobQuarantine, q
	default:
		msg := fmt.Sprintf("The SCIM endpoint answered HTTP %d.", status)
		if err != nil {
			msg = "The SCIM endpoint could not be reached: " + err.Error()
		}
		ex.State, ex.ErrCode, ex.ErrMsg = "Failed", "SystemForCrossDomainIdentityManagementServiceUnavailable", msg
		j.last = ex
		j.failures++
	}
}

// GraphSCIMUserAgent is the User-Agent the fake provisioning service sends
// to the SCIM endpoint. GUESS: Microsoft documents none; any non-Go,
// non-scim-rotator value serves the sandbox (who used a token, by name).
const GraphSCIMUserAgent = "Microsoft.Entra.Provisioning.SCIMClient/1.0"

const scimUnauthorizedMessage = "Failed to authenticate to the SCIM endpoint: StatusCode: Unauthorized. The SecretToken was refused; check the credentials in Admin Credentials."

// callSCIM presents token to the SCIM endpoint at base, as the provisioning
// service does to test a connection. It returns the HTTP status.
func (g *Graph) callSCIM(ctx context.Context, base, token string) (int, error) {
	if base == "" {
		return 0, fmt.Errorf("no BaseAddress is saved")
	}
	if token == "" {
		return http.StatusUnauthorized, nil
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"ServiceProviderConfig", nil)
	if err != nil {
		return 0, fmt.Errorf("invalid BaseAddress")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/scim+json")
	req.Header.Set("User-Agent", GraphSCIMUserAgent)
	resp, err := g.SCIM.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s", strings.ReplaceAll(err.Error(), token, "[token]"))
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func (g *Graph) validateCredentials(ctx context.Context, a *answer, sp *graphSP, body []byte) {
	var in struct {
		UseSavedCredentials *bool      `json:"useSavedCredentials"`
		Credentials         []keyValue `json:"credentials"`
		TemplateID          string     `json:"templateId"`
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			a.odata(http.StatusBadRequest, "BadRequest", "The request body is not valid JSON.")
			return
		}
	}
	g.mu.Lock()
	base, token := sp.secrets["BaseAddress"], sp.secrets["SecretToken"]
	g.mu.Unlock()
	if in.UseSavedCredentials == nil || !*in.UseSavedCredentials {
		if len(in.Credentials) == 0 {
			a.odata(http.StatusBadRequest, "BadRequest", "Credentials are required when useSavedCredentials is false.")
			return
		}
		for _, kv := range in.Credentials {
			switch kv.Key {
			case "BaseAddress":
				base = kv.Value
			case "SecretToken":
				token = kv.Value
			}
		}
	}
	status, err := g.callSCIM(ctx, base, token)
	switch {
	case err == nil && status/100 == 2:
		a.status(http.StatusNoContent)
	case err == nil && (status == http.StatusUnauthorized || status == http.StatusForbidden):
		a.odata(http.StatusBadRequest, GraphCredentialFailure,
			fmt.Sprintf("You appear to have entered invalid credentials. We received this unexpected response from your application: An HTTP/%d %s response was returned rather than the expected HTTP/200 OK response.", status, http.StatusText(status)))
	case err != nil:
		a.odata(http.StatusBadRequest, GraphCredentialUnavailable, "The SCIM endpoint could not be reached: "+err.Error())
	default:
		a.odata(http.StatusBadRequest, GraphCredentialUnavailable, fmt.Sprintf("We received this unexpected response from your application: An HTTP/%d %s response was returned.", status, http.StatusText(status)))
	}
}

func (g *Graph) start(a *answer, j *graphJob) {
	g.mu.Lock()
	defer g.mu.Unlock()
	// Start resumes a paused job and clears a quarantine; the next cycle
	// runs right away.
	j.code, j.quarantine, j.due = GraphJobActive, nil, true
	a.status(http.StatusNoContent)
}

func (g *Graph) getSchema(a *answer, j *graphJob) {
	g.mu.Lock()
	defer g.mu.Unlock()
	a.json(http.StatusOK, map[string]any{
		"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals('id')/synchronization/jobs('id')/schema/$entity",
		"id":             j.id,
		"version":        "Date:2024-01-01T00:00:00Z",
		"directories":    []any{},
		"synchronizationRules": []any{map[string]any{
			"id":                  j.ruleID,
			"name":                "USER_OUTBOUND_USER",
			"editable":            true,
			"priority":            1,
			"sourceDirectoryName": "Azure Active Directory",
			"targetDirectoryName": "customappsso",
			"metadata":            []any{},
			"objectMappings":      []any{},
		}},
	})
}

func (g *Graph) provisionOnDemand(ctx context.Context, a *answer, sp *graphSP, j *graphJob, body []byte) {
	var in struct {
		Parameters []struct {
			RuleID   string `json:"ruleId"`
			Subjects []struct {
				ObjectID       string `json:"objectId"`
				ObjectTypeName string `json:"objectTypeName"`
			} `json:"subjects"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal(body, &in); err != nil || len(in.Parameters) != 1 || len(in.Parameters[0].Subjects) != 1 {
		a.odata(http.StatusBadRequest, "BadRequest", "Provide exactly one parameters entry with exactly one subject.")
		return
	}
	p := in.Parameters[0]
	subject := p.Subjects[0]
	g.mu.Lock()
	ruleOK := p.RuleID == j.ruleID
	typ, assigned := sp.canaries[subject.ObjectID]
	already := sp.provisioned[subject.ObjectID]
	base, token := sp.secrets["BaseAddress"], sp.secrets["SecretToken"]
	g.mu.Unlock()
	if !ruleOK {
		a.odata(http.StatusBadRequest, "InvalidRuleId", fmt.Sprintf("The rule '%s' is not defined in the job's schema.", p.RuleID))
		return
	}
	if assigned && !strings.EqualFold(typ, subject.ObjectTypeName) {
		a.odata(http.StatusBadRequest, "BadRequest", fmt.Sprintf("The object '%s' is not of type '%s'.", subject.ObjectID, subject.ObjectTypeName))
		return
	}
	now := g.now().UTC().Format(time.RFC3339Nano)
	step := func(name, typ, status, desc string) map[string]any {
		return map[string]any{"name": name, "type": typ, "status": status, "description": desc, "timestamp": now, "details": map[string]any{}}
	}
	importStep := step("EntryImport", "Import", "Success", fmt.Sprintf("Retrieved %s '%s' from Azure Active Directory", subject.ObjectTypeName, subject.ObjectID))
	var key map[string]any
	var steps []any
	status := "Success"
	if !assigned {
		status = "Skipped"
		key = map[string]any{"result": "Skipped", "details": map[string]any{"errorCode": "NotEffectivelyEntitled", "errorMessage": "The object is not assigned to the application."}}
		steps = []any{importStep, step("EntrySynchronizationScoping", "Scoping", "Skipped", "The object is not assigned to the application and is not in scope.")}
	} else {
		code, err := g.callSCIM(ctx, base, token)
		switch {
		case err == nil && code/100 == 2 && already:
			status = "Skipped"
			key = map[string]any{"result": "Skipped", "details": map[string]any{"errorCode": "RedundantExport", "errorMessage": "The state of the object in both the source and target systems already match."}}
			steps = []any{importStep, step("EntryImport", "Matching", "Success", "Retrieved the object from customappsso"),
				step("EntrySynchronizationScoping", "Scoping", "Success", "Determine if the object is in scope"),
				step("EntrySynchronizationSkip", "Export", "Skipped", "The state of the object in both the source and target systems already match.")}
		case err == nil && code/100 == 2:
			key = map[string]any{"result": "Success", "details": map[string]any{}}
			steps = []any{importStep, step("EntryImport", "Matching", "Success", "Retrieved the object from customappsso"),
				step("EntrySynchronizationScoping", "Scoping", "Success", "Determine if the object is in scope"),
				step("EntryExportAdd", "Export", "Success", "The object was created in customappsso")}
			g.mu.Lock()
			sp.provisioned[subject.ObjectID] = true
			g.mu.Unlock()
		default:
			status = "Failure"
			msg := scimUnauthorizedMessage
			if err != nil || (code != http.StatusUnauthorized && code != http.StatusForbidden) {
				msg = fmt.Sprintf("The SCIM endpoint answered HTTP %d.", code)
			}
			key = map[string]any{"result": "Failure", "details": map[string]any{"errorCode": GraphSCIMUnauthorized, "errorMessage": msg}}
			steps = []any{importStep, step("EntryImport", "Matching", "Failure", "Failed to match the object in customappsso: "+msg)}
		}
	}
	value := map[string]any{
		"provisioningSteps":    steps,
		"reportableIdentifier": subject.ObjectID,
		"statusInfo":           map[string]any{"status": status},
		"sourceIdentity":       map[string]any{"id": subject.ObjectID, "type": subject.ObjectTypeName},
		"targetSystem":         map[string]any{"name": "customappsso"},
	}
	kb, _ := json.Marshal(key)
	vb, _ := json.Marshal(value)
	a.json(http.StatusOK, map[string]any{
		"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.stringKeyStringValuePair",
		"key":            string(kb),
		"value":          string(vb),
	})
}

var principalFilter = regexp.MustCompile(`^principalId eq '?([^' ]+)'?$`)

func (g *Graph) appRoleAssignedTo(a *answer, spID string, sp *graphSP, filter string) {
	want := ""
	if filter != "" {
		m := principalFilter.FindStringSubmatch(strings.TrimSpace(filter))
		if m == nil {
			a.odata(http.StatusBadRequest, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property 'principalId'.")
			return
		}
		want = m[1]
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	out := []any{}
	for id, typ := range sp.canaries {
		if want != "" && id != want {
			continue
		}
		out = append(out, map[string]any{
			"id": "assignment-" + id, "principalId": id, "principalType": typ,
			"principalDisplayName": "Canary " + typ, "resourceId": spID,
			"appRoleId": "00000000-0000-0000-0000-000000000000", "createdDateTime": "2024-01-01T00:00:00Z",
		})
	}
	a.json(http.StatusOK, map[string]any{"value": out})
}

// jobJSON renders a job as Graph does; "never" is 0001-01-01T00:00:00Z.
func jobJSON(j *graphJob) map[string]any {
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	exec := func(e *graphExecution) any {
		if e == nil {
			return nil
		}
		var errv any
		if e.ErrCode != "" {
			errv = map[string]any{"code": e.ErrCode, "message": e.ErrMsg, "tenantActionable": true}
		}
		return map[string]any{
			"activityIdentifier": "sandbox-" + ts(e.TimeBegan), "countEntitled": 1, "countExported": 0,
			"state": e.State, "timeBegan": ts(e.TimeBegan), "timeEnded": ts(e.TimeEnded), "error": errv,
		}
	}
	var q any
	if j.quarantine != nil {
		jq := j.quarantine
		q = map[string]any{
			"currentBegan": ts(jq.CurrentBegan), "nextAttempt": ts(jq.NextAttempt), "reason": jq.Reason,
			"seriesBegan": ts(jq.SeriesBegan), "seriesCount": jq.SeriesCount,
			"error": map[string]any{"code": jq.ErrCode, "message": jq.ErrMsg, "tenantActionable": true},
		}
	}
	schedState := "Active"
	if j.code == GraphJobPaused {
		schedState = "Disabled"
	}
	return map[string]any{
		"id":         j.id,
		"templateId": j.templateID,
		"schedule":   map[string]any{"expiration": nil, "interval": "PT40M", "state": schedState},
		"status": map[string]any{
			"code":                               j.code,
			"countSuccessiveCompleteFailures":    j.failures,
			"escrowsPruned":                      false,
			"lastExecution":                      exec(j.last),
			"lastSuccessfulExecution":            exec(j.lastSuccess),
			"lastSuccessfulExecutionWithExports": exec(j.lastSuccess),
			"progress":                           []any{},
			"quarantine":                         q,
			"steadyStateFirstAchievedTime":       ts(j.steadyFirst),
			"steadyStateLastAchievedTime":        ts(j.steadyLast),
			"synchronizedEntryCountByType":       []any{},
			"troubleshootingUrl":                 nil,
		},
		"synchronizationJobSettings": []any{},
	}
}

// odataBody is Graph's error body.
func odataBody(code, msg string) []byte {
	now := time.Now().UTC().Format("2006-01-02T15:04:05")
	id := fakeUUID()
	b, _ := json.Marshal(map[string]any{"error": map[string]any{
		"code": code, "message": msg,
		"innerError": map[string]any{"date": now, "request-id": id, "client-request-id": id},
	}})
	return b
}

func writeOData(w http.ResponseWriter, status int, code, msg string) {
	stamp(w)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(odataBody(code, msg))
}

// odataFaultBody is the error body of an injected fault.
func odataFaultBody(status int) (string, []byte) {
	code, msg := "UnknownError", http.StatusText(status)
	switch status {
	case http.StatusTooManyRequests:
		code, msg = "TooManyRequests", "Too many requests. Please retry after the time in the Retry-After header."
	case http.StatusServiceUnavailable:
		code, msg = "ServiceUnavailable", "The service is temporarily unavailable."
	case http.StatusForbidden:
		code, msg = "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
	case http.StatusUnauthorized:
		code, msg = "InvalidAuthenticationToken", "Access token validation failure."
	case http.StatusNotFound:
		code, msg = "Request_ResourceNotFound", "Resource does not exist."
	case http.StatusInternalServerError:
		code, msg = "InternalServerError", "An internal server error occurred."
	}
	return "application/json", odataBody(code, msg)
}

func stamp(w http.ResponseWriter) {
	id := fakeUUID()
	w.Header().Set("request-id", id)
	w.Header().Set("client-request-id", id)
}

func lastSegment(p string) string {
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[i+1:]
	}
	return p
}

func fakeUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// graphHostURL is the scheme and host the request came in on.
func graphHostURL(r *http.Request) string {
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return (&url.URL{Scheme: scheme, Host: r.Host}).String()
}
