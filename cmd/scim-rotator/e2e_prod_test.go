package main

import (
	"fmt"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
)

// The production path: the real binary configured only by its file and an
// environment, exactly as a user's shell or an EKS Pod with IRSA gives it.
// Nothing is injected: no HTTP client, no CA, no credentials files. The
// base AWS credentials come from a web identity token file
// (AssumeRoleWithWebIdentity), the second instance's from assuming its role
// with them; every system is on (Identity Center, Secrets Manager store,
// secretsmanager target with its Lambda trigger, Entra, Okta, CloudTrail,
// Health, Slack, Pushgateway), all over TLS with the sandbox's CA, which is
// given the three ways a user can: SSL_CERT_FILE only, AWS_CA_BUNDLE only,
// both.

// caMode is how the environment names the sandbox's CA.
type caMode string

const (
	caSSLCertFile caMode = "SSL_CERT_FILE"
	caAWSBundle   caMode = "AWS_CA_BUNDLE"
	caBoth        caMode = "both"
)

// irsaRole is the role the Pod's service account token is trusted for.
const irsaRole = "arn:aws:iam::" + sandbox.BaseAccount + ":role/scim-rotator-irsa"

// prodEnv is a fleet of two instances (org-01 in the base account with
// every target, org-02 behind its role) with every system on, run by the
// binary from an environment of its own. pg is the Pushgateway (TLS).
type prodEnv struct {
	*env
	pg *fakePushgateway
}

func newProdEnv(t *testing.T, mode caMode) *prodEnv {
	t.Helper()
	e := newEnv(t, sandbox.Options{Instances: 2, Entra: true, Okta: "api", Health: true})
	pg := startFakePushgateway(t, httptest.NewTLSServer)
	e.editConfigData(func(c map[string]any) {
		c["metrics"] = map[string]any{"pushgatewayUrl": pg.URL}
		// Two ticks of `run` within seconds.
		c["schedule"] = "@every 2s"
	})
	token := "eyJhbGciOiJSUzI1NiIsImtpZCI6InNhbmRib3gifQ.projected-service-account-token.c2lnbmF0dXJl"
	if _, err := e.sb.IAM.AddWebIdentityRole(irsaRole, token); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(e.files.Dir, "sandbox-ca.pem")
	home := t.TempDir() // no ~/.aws, no ~/.okta
	environ := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + os.TempDir(),
		"SCIM_ROTATOR_CONFIG=" + e.files.Config,
		// What the EKS Pod Identity webhook injects for IRSA.
		"AWS_REGION=" + sandbox.Region, "AWS_DEFAULT_REGION=" + sandbox.Region, "AWS_STS_REGIONAL_ENDPOINTS=regional",
		"AWS_ROLE_ARN=" + irsaRole, "AWS_WEB_IDENTITY_TOKEN_FILE=" + tokenFile,
		// The one endpoint the config cannot carry.
		"AWS_ENDPOINT_URL_STS=" + e.sb.URL("sts"),
	}
	if mode == caSSLCertFile || mode == caBoth {
		environ = append(environ, "SSL_CERT_FILE="+ca)
	}
	if mode == caAWSBundle || mode == caBoth {
		environ = append(environ, "AWS_CA_BUNDLE="+ca)
	}
	e.environ = environ
	return &prodEnv{env: e, pg: pg}
}

// run runs the binary and fails the test on any sign of a panic.
func (p *prodEnv) run(args ...string) (int, string, string) {
	p.t.Helper()
	code, out, errOut := p.env.run(args...)
	assertNoPanic(p.t, strings.Join(args, " "), out+errOut)
	return code, out, errOut
}

func assertNoPanic(t *testing.T, what, output string) {
	t.Helper()
	for _, sign := range []string{"panic:", "panicked", "goroutine ", "nil pointer dereference"} {
		if strings.Contains(output, sign) {
			t.Errorf("%s: the output shows a panic (%q):\n%s", what, sign, output)
		}
	}
}

// webIdentityCalls runs fn and returns how many AssumeRoleWithWebIdentity
// calls STS saw meanwhile.
func (p *prodEnv) webIdentityCalls(fn func()) int {
	before := p.sb.STS.Count("AssumeRoleWithWebIdentity", irsaRole)
	fn()
	return p.sb.STS.Count("AssumeRoleWithWebIdentity", irsaRole) - before
}

// wantSystems are the systems of each instance, as check and status name
// them (check adds config, aws and rotation).
var wantSystems = map[string][]string{
	"org-01": {"identitycenter", "secretsmanager-store", "cloudtrail", "secretsmanager-target", "entra", "okta", "health"},
	"org-02": {"identitycenter", "secretsmanager-store", "cloudtrail", "secretsmanager-target", "health"},
}

// wantIdentity is the AWS identity each instance acts as.
var wantIdentity = map[string]string{
	"org-01": ":assumed-role/scim-rotator-irsa/",
	"org-02": ":assumed-role/" + sandbox.RoleName + "/scim-rotator-org-02",
}

type checkLine struct {
	System string `json:"system"`
	Target string `json:"target"`
	Name   string `json:"name"`
	Level  string `json:"level"`
	Detail string `json:"detail"`
}

// assertFleetCheck runs check -o json and asserts that every system of
// every instance reported, none FAIL, each instance acting as its identity,
// with one AssumeRoleWithWebIdentity per instance.
func (p *prodEnv) assertFleetCheck() {
	p.t.Helper()
	var code int
	var out, errOut string
	calls := p.webIdentityCalls(func() { code, out, errOut = p.run("check", "-o", "json") })
	keyed := map[string][]checkLine{}
	for name, e := range byName[struct {
		Checks []checkLine `json:"checks"`
	}](p.t, out) {
		keyed[name] = e.Checks
	}
	if code != 0 {
		p.t.Errorf("check: exit %d, want 0:\n%s\n%s", code, out, errOut)
	}
	if len(keyed) != len(wantSystems) {
		p.t.Errorf("check reports instances %v, want %v", slices.Sorted(maps.Keys(keyed)), slices.Sorted(maps.Keys(wantSystems)))
	}
	for inst, systems := range wantSystems {
		got := map[string]bool{}
		for _, c := range keyed[inst] {
			got[c.System] = true
			if c.Level != "OK" && c.Level != "WARN" {
				p.t.Errorf("%s: %s %s %s: %s %s", inst, c.System, c.Target, c.Name, c.Level, c.Detail)
			}
			if c.System == "aws" && c.Name == "identity" && !strings.Contains(c.Detail, wantIdentity[inst]) {
				p.t.Errorf("%s acts as %q, want %s", inst, c.Detail, wantIdentity[inst])
			}
		}
		for _, s := range append([]string{"config", "aws", "rotation"}, systems...) {
			if !got[s] {
				p.t.Errorf("%s: check reports no %s (reports %v)", inst, s, slices.Sorted(maps.Keys(got)))
			}
		}
	}
	if calls != len(wantSystems) {
		p.t.Errorf("check: %d AssumeRoleWithWebIdentity calls, want one per instance (%d)", calls, len(wantSystems))
	}
}

type statusReport struct {
	Tokens []struct {
		ID   string `json:"id"`
		Live bool   `json:"live"`
	} `json:"tokens"`
	Next struct {
		Action string `json:"action"`
	} `json:"next"`
	Rotation *struct {
		Phase string `json:"phase"`
	} `json:"rotation"`
	Systems []struct {
		System string         `json:"system"`
		Target string         `json:"target"`
		Facts  map[string]any `json:"facts"`
	} `json:"systems"`
	Errors []string `json:"errors"`
}

// assertFleetStatus runs status -o json and asserts it matches the schema,
// every system of every instance is shown with its facts, none is in
// error, and each instance's one token is live; it returns the reports.
func (p *prodEnv) assertFleetStatus(validate func(string)) map[string]statusReport {
	p.t.Helper()
	var code int
	var out, errOut string
	calls := p.webIdentityCalls(func() { code, out, errOut = p.run("status", "-o", "json") })
	keyed := byName[statusReport](p.t, out)
	validate(out)
	if code != 0 {
		p.t.Errorf("status: exit %d:\n%s", code, errOut)
	}
	for inst, systems := range wantSystems {
		rep := keyed[inst]
		if len(rep.Errors) != 0 {
			p.t.Errorf("%s: status errors %q", inst, rep.Errors)
		}
		shown := map[string]int{}
		for _, s := range rep.Systems {
			shown[s.System] = len(s.Facts)
		}
		for _, s := range systems {
			if shown[s] == 0 {
				p.t.Errorf("%s: status shows no facts of %s (shows %v)", inst, s, shown)
			}
		}
		if len(rep.Tokens) != 1 || !rep.Tokens[0].Live {
			p.t.Errorf("%s: tokens %+v, want the one live token", inst, rep.Tokens)
		}
	}
	if calls != len(wantSystems) {
		p.t.Errorf("status: %d AssumeRoleWithWebIdentity calls, want one per instance (%d)", calls, len(wantSystems))
	}
	return keyed
}

// Every command on the production path, with the CA given each way.
func TestE2EProductionPath(t *testing.T) {
	for _, mode := range []caMode{caSSLCertFile, caAWSBundle, caBoth} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel() // most of each run waits: proof of use, the ticks
			p := newProdEnv(t, mode)
			validate := statusSchema(t)
			live := map[string]string{}
			for _, inst := range p.sb.Instances {
				live[inst.Name], _ = inst.SeedLiveToken(30 * 24 * time.Hour)
			}

			p.assertFleetCheck()
			p.assertFleetStatus(validate)

			code, out, errOut := p.run("rotate", "--dry-run")
			if code != 0 || strings.Count(out, "Dry run: rotate would do nothing.") != 2 {
				t.Errorf("rotate --dry-run: exit %d:\n%s\n%s", code, out, errOut)
			}

			var calls int
			calls = p.webIdentityCalls(func() { code, out, errOut = p.run("rotate", "--now") })
			if code != 0 || strings.Count(out, "\nRotated: ") != 2 {
				t.Fatalf("rotate --now: exit %d, want both instances Rotated:\n%s\n%s", code, out, errOut)
			}
			if calls != 2 {
				t.Errorf("rotate --now: %d AssumeRoleWithWebIdentity calls, want one per instance", calls)
			}
			for _, inst := range p.sb.Instances {
				toks := inst.IC.Tokens()
				if len(toks) != 1 || toks[0].ID == live[inst.Name] {
					t.Errorf("%s: tokens %+v after the rotation, want only a new one (old %s)", inst.Name, toks, live[inst.Name])
				}
				for target, ok := range inst.TargetsHold() {
					if !ok {
						t.Errorf("%s: target %s holds a token the SCIM endpoint refuses", inst.Name, target)
					}
				}
				if n := len(inst.Lambda.Invocations()); n == 0 {
					t.Errorf("%s: the Lambda trigger was never invoked", inst.Name)
				}
			}
			for _, rep := range p.assertFleetStatus(validate) {
				if rep.Rotation == nil || rep.Rotation.Phase != "Done" || rep.Next.Action != "None" {
					t.Errorf("status after the rotation: %+v", rep)
				}
			}

			// run: the first tick at start, the second on the schedule.
			calls = p.sb.STS.Count("AssumeRoleWithWebIdentity", irsaRole)
			d := p.startDaemon()
			d.waitMetrics(`scim_rotator_rotations_total{instance_name="org-01",result="NotDue"} 2`,
				`scim_rotator_rotations_total{instance_name="org-02",result="NotDue"} 2`)
			d.waitReady() // after two ticks
			d.stop()
			assertNoPanic(t, "run", d.out.String())
			if n := p.sb.STS.Count("AssumeRoleWithWebIdentity", irsaRole) - calls; n != 2 {
				t.Errorf("run: %d AssumeRoleWithWebIdentity calls over two ticks, want one per instance (the ticks share its credentials)", n)
			}

			// The sandbox saw every system called.
			for _, op := range []string{"health:DescribeEvents", "cloudtrail:LookupEvents", "lambda:Invoke", "slack:Post",
				"graph:PutSecrets", "identitycenter:CreateBearerToken", "secretsmanager:PutSecretValue"} {
				if p.sb.Faults.Count(op) == 0 {
					t.Errorf("the sandbox saw no %s", op)
				}
			}
			if p.sb.Okta.HeldToken(sandbox.OktaAPIApp) == "" {
				t.Error("Okta holds no token")
			}
			if n := p.sb.IAM.AssumeRoleCount(p.sb.Instances[1].RoleARN); n == 0 {
				t.Error("org-02's role was never assumed")
			}
			if len(p.pg.pushes()) == 0 {
				t.Error("the Pushgateway received no push")
			}
			if got := p.sb.Slack.Received(); len(got) == 0 || !strings.Contains(fmt.Sprint(got), "Rotated") {
				t.Errorf("Slack: %+v", got)
			}
		})
	}
}

// The done-when: a fleet check with health.enabled and the CA given
// only as AWS_CA_BUNDLE reports every system of every instance, without a
// panic.
func TestE2EProductionFleetCheckCABundleOnly(t *testing.T) {
	p := newProdEnv(t, caAWSBundle)
	for _, inst := range p.sb.Instances {
		inst.SeedLiveToken(30 * 24 * time.Hour)
	}
	p.assertFleetCheck()
}
