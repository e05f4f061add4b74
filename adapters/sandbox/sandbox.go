package sandbox

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// Identifiers of the sandbox's systems.
const (
	Region          = "us-east-1"
	IdentityStoreID = "d-9067000000"
	StoreSecret     = "scim-rotator/identity-center"
	SSOSyncSecret   = "SSOSyncSCIMAccessToken"
	// SSOSyncFunction is the Lambda function that reads SSOSyncSecret.
	SSOSyncFunction = "ssosync"
	EntraTenant     = "11111111-1111-4111-8111-111111111111"
	EntraClient     = "22222222-2222-4222-8222-222222222222"
	EntraSP         = "33333333-3333-4333-8333-333333333333"
	EntraJob        = "AWSIdentityCenter.a1b2c3d4e5f6.00000000000000000000000000000000"
	EntraSecret     = "sandbox-entra-client-secret"
	OktaAPIApp      = "0oasandboxorg2org00"
	OktaHandoffApp  = "0oasandboxawssso000"
	OktaCanaryUser  = "00usandboxcanary000"
)

// Options choose which targets the sandbox holds.
type Options struct {
	// Entra adds an Entra ID target.
	Entra bool
	// Okta adds an Okta target: "api" (an app whose connection takes a token
	// through the API), "handoff" (the AWS IAM Identity Center app, which
	// needs the Admin Console) or "" for none.
	Okta string
	// Handoff adds a handoff target ("google") and the SCIM client it
	// stands for (Sandbox.SCIM), which an admin configures by hand.
	Handoff bool
	// Slack adds a Slack webhook.
	Slack bool
	// Virtual makes time virtual: the clock starts at Start's call and only
	// moves when someone waits on it (After), so waits take no real time.
	Virtual bool
	// Instances hosts a fleet of that many Identity Center instances (0: the
	// single instance of today). Instance 1 ("org-01") is the default
	// instance in the base account; the others each live in an account of
	// their own, reached only by assuming their role (see AddInstance).
	Instances int
	// CloudTrailDelay is how long after a SCIM call its CloudTrail event
	// becomes visible (0: DefaultCloudTrailDelay).
	CloudTrailDelay time.Duration
	// Health turns the configuration's health watch on (the Health fake
	// always runs).
	Health bool
	// Latency delays every answer of every server by this much real time
	// (0: none), as a network round trip and the service's own work would:
	// benchmarks of many instances in parallel then measure waiting, as
	// with the real APIs, rather than the fakes' CPU. The virtual clock
	// does not see it.
	Latency time.Duration
}

// Sandbox is every fake running on its own local TLS server, wired together:
// the Graph and Okta fakes provision against the Identity Center fake's SCIM
// endpoint with the tokens they hold.
type Sandbox struct {
	Faults *Faults
	Clock  *Clock
	IC     *IdentityCenter
	SM     *SecretsManager
	// Lambda runs the sync job that reads SSOSyncSecret (SSOSyncFunction).
	Lambda *Lambda
	Graph  *Graph
	Okta   *Okta
	// SCIM is the SCIM client behind the handoff target (Options.Handoff).
	SCIM  *SCIMClient
	Slack *Slack
	// CloudTrail records every SCIM call the IC fake answers.
	CloudTrail *CloudTrail
	// Health holds AWS Health's SCIM token expiry notices.
	Health *Health
	// IAM knows every credential the sandbox issued and the roles STS
	// lets callers assume; every AWS fake verifies against it.
	IAM *IAM
	// STS issues credentials for those roles (server "sts").
	STS *STS
	// Instances is the fleet (empty unless Options.Instances or AddInstance).
	Instances []*Instance

	// Client trusts the sandbox's TLS certificate.
	Client *http.Client
	// CertPEM is that certificate, for processes that trust it through SSL_CERT_FILE.
	CertPEM []byte

	opts    Options
	servers map[string]*httptest.Server
	routers map[string]*accountRouter
	icByID  *icRouter
	// accounts holds the AWS fakes of each account other than the base.
	accounts map[string]*accountFakes
}

// Start starts the sandbox. Close it when done.
func Start(opts Options) *Sandbox {
	s := &Sandbox{Faults: &Faults{}, Clock: NewClock(time.Now().UTC(), opts.Virtual), opts: opts, servers: map[string]*httptest.Server{}, accounts: map[string]*accountFakes{}}
	now := s.Clock.Now
	s.IAM = NewIAM(s.Clock.Wall)
	s.STS = NewSTS(s.Faults, Region, s.IAM)
	s.serve("sts", s.STS)
	s.IC = NewIdentityCenter(s.Faults, Region, IdentityStoreID, now)
	s.IC.BindAccount(s.IAM, BaseAccount)
	s.icByID = newICRouter(s.IC)
	s.SM = NewSecretsManager(s.Faults, Region, now)
	s.SM.BindAccount(s.IAM, BaseAccount)
	ic := s.serve("identitycenter", s.icByID)
	s.IC.SetBaseURL(ic.URL)
	s.CloudTrail = s.newCloudTrail(BaseAccount, s.Clock)
	s.IC.OnSCIMCall(s.CloudTrail.RecordSCIM)
	s.Health = NewHealth(s.Faults, now)
	s.Health.VerifyWith(s.IAM)
	s.serve("health", s.Health)
	s.Client = ic.Client()
	s.Lambda = NewLambda(s.Faults, Region, s.SM, s.IC.SCIMEndpoint, s.Client)
	s.Lambda.BindAccount(s.IAM, BaseAccount)
	s.Lambda.AddConsumer(SSOSyncFunction, SSOSyncSecret, "")
	s.routers = map[string]*accountRouter{
		"secretsmanager": newAccountRouter(s.IAM, s.SM, smResourceAccount),
		"cloudtrail":     newAccountRouter(s.IAM, s.CloudTrail, nil),
		"lambda":         newAccountRouter(s.IAM, s.Lambda, lambdaResourceAccount),
	}
	for name, rt := range s.routers {
		s.serve(name, rt)
	}
	s.CertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ic.Certificate().Raw})
	if opts.Entra {
		s.Graph = NewGraph(s.Faults, now, s.Client)
		s.Graph.LoginClient(EntraTenant, EntraClient, EntraSecret)
		s.Graph.AddServicePrincipal(EntraSP, EntraJob)
		s.serve("graph", s.Graph)
	}
	if opts.Okta != "" {
		s.Okta = NewOkta(s.Faults, now, s.Client)
		app, name := s.OktaApp()
		s.Okta.AddApp(app, name)
		s.Okta.SetSCIMEndpoint(app, s.IC.SCIMEndpoint())
		s.Okta.AddAppUser(app, OktaCanaryUser)
		s.serve("okta", s.Okta)
	}
	if opts.Handoff {
		s.SCIM = s.NewSCIMClient(HandoffUserAgent, HandoffAddr)
		s.serve("handoff", handoffConsole())
	}
	if opts.Slack {
		s.Slack = NewSlack(s.Faults)
		s.serve("slack", s.Slack)
	}
	s.SM.CreateSecret(StoreSecret)
	s.SM.CreateSecret(SSOSyncSecret)
	if opts.Instances > 0 {
		s.Instances = append(s.Instances, s.defaultInstance(InstanceName(1)))
	}
	for i := 2; i <= opts.Instances; i++ {
		s.AddInstance(InstanceName(i), InstanceAccount(i), true)
	}
	return s
}

func (s *Sandbox) serve(name string, h http.Handler) *httptest.Server {
	if d := s.opts.Latency; d > 0 {
		next := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				next.ServeHTTP(w, r)
			case <-r.Context().Done():
			}
		})
	}
	srv := httptest.NewTLSServer(h)
	s.servers[name] = srv
	return srv
}

// URL is the base URL of one system's server.
func (s *Sandbox) URL(system string) string { return s.servers[system].URL }

// OktaApp is the Okta app id and name the sandbox uses.
func (s *Sandbox) OktaApp() (id, name string) {
	if s.opts.Okta == "handoff" {
		return OktaHandoffApp, "amazon_aws_sso"
	}
	return OktaAPIApp, "okta_org2org"
}

// Close stops every server.
func (s *Sandbox) Close() {
	for _, srv := range s.servers {
		srv.Close()
	}
}

// SeedLiveToken creates the token provisioning uses today, created age ago,
// and gives it to every target, as an admin would have by hand.
func (s *Sandbox) SeedLiveToken(age time.Duration) (id, value string) {
	id, value = s.IC.SeedToken(s.Clock.Now().Add(-age))
	s.SM.Put(SSOSyncSecret, value)
	if s.Graph != nil {
		s.Graph.SetSecrets(EntraSP, s.IC.SCIMEndpoint(), value)
	}
	if s.Okta != nil {
		app, _ := s.OktaApp()
		s.Okta.SetTokenInAdminConsole(app, value)
	}
	if s.SCIM != nil {
		s.SCIM.Paste(value)
	}
	return id, value
}

// TargetsHold reports, for each target, whether it holds a token the SCIM
// endpoint accepts: the invariant every run must keep.
func (s *Sandbox) TargetsHold() map[string]bool {
	out := map[string]bool{}
	v, _ := s.SM.Value(SSOSyncSecret, "AWSCURRENT")
	out["ssosync"] = s.IC.ValidToken(v)
	if s.Graph != nil {
		out["entra"] = s.IC.ValidToken(s.Graph.SavedToken(EntraSP))
	}
	if s.Okta != nil {
		app, _ := s.OktaApp()
		out["okta"] = s.IC.ValidToken(s.Okta.HeldToken(app))
	}
	if s.SCIM != nil {
		out[HandoffTarget] = s.SCIM.Holds()
	}
	return out
}

// Files are what a separate process needs to use the sandbox.
type Files struct {
	Dir    string
	Config string
	// Env is the environment to run scim-rotator with (credentials files,
	// the certificate to trust, the config path).
	Env []string
}

// WriteFiles writes a configuration for the sandbox and the credentials it
// names into dir. The secrets are the sandbox's own fake ones, in files.
func (s *Sandbox) WriteFiles(dir string) (Files, error) {
	f := Files{Dir: dir, Config: filepath.Join(dir, "scim-rotator.yaml")}
	write := func(name, content string) (string, error) {
		p := filepath.Join(dir, name)
		return p, os.WriteFile(p, []byte(content), 0o600)
	}
	ca, err := write("sandbox-ca.pem", string(s.CertPEM))
	if err != nil {
		return f, err
	}
	creds, err := write("aws-credentials", fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", AccessKeyID, SecretAccessKey))
	if err != nil {
		return f, err
	}
	awsConfig, err := write("aws-config", "[default]\nregion = "+Region+"\n")
	if err != nil {
		return f, err
	}
	secrets := map[string]string{"entra-client-secret": EntraSecret}
	if s.Okta != nil {
		secrets["okta-api-token"] = s.Okta.APIToken()
	}
	if s.Slack != nil {
		secrets["slack-webhook-url"] = s.URL("slack") + s.Slack.Path()
	}
	paths := map[string]string{}
	for name, v := range secrets {
		if paths[name], err = write(name, v+"\n"); err != nil {
			return f, err
		}
	}
	cm := s.ConfigMap(paths)
	if len(s.Instances) > 0 {
		cm = s.FleetConfigMap(paths)
	}
	var doc yaml.Node
	if err := doc.Encode(cm); err != nil {
		return f, err
	}
	nameFirst(&doc)
	b, err := yaml.Marshal(&doc)
	if err != nil {
		return f, err
	}
	if _, err := write("scim-rotator.yaml", "# scim-rotator configuration for the local sandbox (fake endpoints, fake credentials)\n"+string(b)); err != nil {
		return f, err
	}
	f.Env = []string{
		"SCIM_ROTATOR_CONFIG=" + f.Config,
		"AWS_SHARED_CREDENTIALS_FILE=" + creds,
		"AWS_CONFIG_FILE=" + awsConfig,
		"AWS_EC2_METADATA_DISABLED=true",
		// Roles are assumed through the sandbox's STS (the SDK reads the
		// service-specific endpoint from this variable).
		"AWS_ENDPOINT_URL_STS=" + s.URL("sts"),
		"SSL_CERT_FILE=" + ca,
		// The AWS SDK trusts only this bundle when it is set (as it is on
		// some machines); the sandbox's servers need their own certificate.
		"AWS_CA_BUNDLE=" + ca,
	}
	return f, nil
}

// nameFirst puts each mapping's name and type keys first (a target's, an
// instance's), as a person writes them; the others stay in their order.
func nameFirst(n *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		var first, rest []*yaml.Node
		for _, key := range []string{"name", "type"} {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					first = append(first, n.Content[i], n.Content[i+1])
				}
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i].Value; k != "name" && k != "type" {
				rest = append(rest, n.Content[i], n.Content[i+1])
			}
		}
		n.Content = append(first, rest...)
	}
	for _, c := range n.Content {
		nameFirst(c)
	}
}

// ConfigMap is the sandbox's configuration as YAML-ready data; secretFiles
// maps "entra-client-secret", "okta-api-token", "slack-webhook-url" to files.
func (s *Sandbox) ConfigMap(secretFiles map[string]string) map[string]any {
	return s.InstanceConfigMap(s.defaultInstance("default"), secretFiles)
}

// instanceConfig is one instance's identityCenter, store and targets.
func (s *Sandbox) instanceConfig(inst *Instance, secretFiles map[string]string) map[string]any {
	targets := []any{map[string]any{
		"name": "ssosync", "type": "secretsmanager",
		"secretsmanager": map[string]any{"secretId": inst.TargetSecret, "endpoint": s.URL("secretsmanager"), "format": "raw",
			"trigger": map[string]any{"lambdaFunction": inst.Function, "endpoint": s.URL("lambda")}},
	}}
	if inst.idp && s.Graph != nil {
		targets = append(targets, map[string]any{"name": "entra", "type": "entra", "entra": map[string]any{
			"tenantId": EntraTenant, "clientId": EntraClient, "clientSecretFile": secretFiles["entra-client-secret"],
			"servicePrincipalId": EntraSP, "graphEndpoint": s.URL("graph") + "/v1.0", "authorityHost": s.URL("graph") + "/",
		}})
	}
	if inst.idp && s.Okta != nil {
		app, _ := s.OktaApp()
		targets = append(targets, map[string]any{"name": "okta", "type": "okta", "okta": map[string]any{
			"orgUrl": s.URL("okta"), "appId": app, "apiTokenFile": secretFiles["okta-api-token"], "mode": "auto",
			"canaryUserId": OktaCanaryUser,
		}})
	}
	if inst.idp && s.SCIM != nil {
		targets = append(targets, map[string]any{"name": HandoffTarget, "type": "handoff", "handoff": map[string]any{
			"instructions": HandoffInstructions, "consoleUrl": s.URL("handoff") + "/", "userAgent": "sandbox-idp/",
		}})
	}
	return map[string]any{
		// The fake's SCIM endpoint is on 127.0.0.1, not scim.<region>.amazonaws.com.
		"identityCenter": map[string]any{"region": Region, "identityStoreId": inst.IdentityStoreID, "endpoint": inst.IC.TokenAPIEndpoint(),
			"identityStoreEndpoint": inst.IC.IdentityStoreEndpoint(), "allowCustomScimEndpoint": true},
		"store":   map[string]any{"secretId": inst.StoreSecret, "endpoint": s.URL("secretsmanager")},
		"targets": targets,
	}
}

// sharedConfig is the configuration every instance shares.
func (s *Sandbox) sharedConfig(secretFiles map[string]string) map[string]any {
	c := map[string]any{
		"rotateBefore":   "720h",
		"confirmTimeout": "90m",
	}
	// Proof of use reads the CloudTrail fake, with durations of seconds:
	// deliveryDelay allows twice the fake's delay.
	delay := s.opts.CloudTrailDelay
	if delay <= 0 {
		delay = DefaultCloudTrailDelay
	}
	c["usage"] = map[string]any{
		"source": "cloudtrail", "endpoint": s.URL("cloudtrail"),
		"quietPeriod": "3s", "deliveryDelay": (2 * delay).String(), "pollInterval": "250ms",
	}
	if s.opts.Health {
		c["health"] = map[string]any{"enabled": true, "endpoint": s.URL("health")}
	}
	if s.Slack != nil {
		c["notify"] = map[string]any{"slack": map[string]any{"webhookUrlFile": secretFiles["slack-webhook-url"]}}
	}
	return c
}

// CertPool is a pool holding the sandbox's certificate.
func (s *Sandbox) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(s.CertPEM)
	return p
}

// Clock is the sandbox's clock: real, or virtual (it moves only when
// someone waits on it, so a 40-minute sync cycle takes no real time).
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	virtual bool
	offset  time.Duration
}

// NewClock returns a clock starting at start.
func NewClock(start time.Time, virtual bool) *Clock { return &Clock{now: start, virtual: virtual} }

// Now is the current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.virtual {
		return c.now
	}
	return time.Now().Add(c.offset)
}

// Wall is the real time moved by Advance, whether or not the clock is
// virtual: the time SDK credential caches judge expiry by, so the IAM fake
// uses it for temporary credentials (a virtual clock racing through sync
// cycles must not expire credentials the SDK still holds fresh).
func (c *Clock) Wall() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// After waits d: at once on a virtual clock, which moves forward by d.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	if !c.virtual {
		return time.After(d)
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- now
	return ch
}

// Advance moves the clock forward (both kinds).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.offset += d
}
