package factory

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/entra"
	"github.com/scim-rotator/scim-rotator/adapters/okta"
	"github.com/scim-rotator/scim-rotator/adapters/secretsmanager"
	"github.com/scim-rotator/scim-rotator/config"
)

// The loader with this build's target types: each file in testdata is
// decoded, defaulted and validated as `scim-rotator` does it.

// Each invalid file maps to its exact message(s).
func TestInvalidConfigs(t *testing.T) {
	want := map[string][]string{
		"invalid-unknown-key.yaml":            {"targets[0].secretsmanager.formt: unknown key (known keys: endpoint, format, jsonKey, region, secretId, trigger)"},
		"invalid-missing-region.yaml":         {"identityCenter.region: required"},
		"invalid-duration.yaml":               {`rotateBefore: invalid duration "30 days": use a duration such as 720h or 90m`},
		"invalid-target-type.yaml":            {`targets[0].type: unknown target type "googleworkspace": one of secretsmanager, entra, okta`},
		"invalid-duplicate-name.yaml":         {`targets[1].name: duplicate target name "ssosync" (also targets[0])`},
		"invalid-no-targets.yaml":             {"targets: at least one target is required"},
		"invalid-schedule.yaml":               {`schedule: invalid cron spec "every six hours": expected exactly 5 fields, found 3: [every six hours] (use 5 fields such as "0 */6 * * *" or a descriptor such as "@every 6h")`},
		"invalid-store-id.yaml":               {`identityCenter.identityStoreId: "1234567890" is not an identity store id (d- followed by 10 hex digits)`},
		"invalid-wrong-block.yaml":            {"targets[0].entra: not allowed with type secretsmanager", "targets[0].secretsmanager: required with type secretsmanager"},
		"invalid-format.yaml":                 {`targets[0].secretsmanager.format: unknown format "xml": one of raw, json`},
		"invalid-manual-no-endpoint.yaml":     {"identityCenter.scimEndpoint: required with issuer manual (or set identityCenter.tenantId)"},
		"invalid-list-type.yaml":              {"targets: must be a list"},
		"invalid-bool.yaml":                   {`targets[0].entra.workloadIdentity: must be a boolean (true or false), not "maybe"`},
		"invalid-rotate-before-too-long.yaml": {"rotateBefore: must be shorter than a token's lifetime (8760h); 9000h0m0s would rotate on every run"},
		"invalid-jsonkey-with-format.yaml":    {"targets[0].secretsmanager.jsonKey: set only one of format and jsonKey (format writes the whole value; jsonKey writes the token into one key of an existing JSON value)"},
		"invalid-trigger.yaml": {
			`targets[0].secretsmanager.trigger.region: "us-east-1", but the function's ARN is in eu-west-1`,
			`targets[0].secretsmanager.trigger.endpoint: "lambda.local" is not an absolute https URL`,
			`targets[1].secretsmanager.jsonKey: "scim token" is not a plain JSON key (letters, digits, _ . -; at most 128)`,
			`targets[1].secretsmanager.trigger.lambdaFunction: "ssosync function" is not a Lambda function name or ARN`,
		},
		"invalid-okta-canary-attribute.yaml": {"targets[0].okta.canaryAttribute: must not be login: the canary's sign-in attributes are never overwritten; use displayName or nickName"},
		"invalid-usage-source.yaml":          {`usage.source: unknown source "athena": one of cloudtrail, none`},
		"invalid-usage-endpoint.yaml":        {`usage.endpoint: "http://cloudtrail.example.com" must use https (http is allowed only for a loopback host: 127.0.0.0/8, ::1, localhost)`},
		"invalid-usage-duration.yaml":        {`usage.pollInterval: invalid duration "30": use a duration such as 720h or 90m`},
		"invalid-usage-unknown-key.yaml":     {"usage.quietperiod: unknown key (known keys: deliveryDelay, endpoint, pollInterval, quietPeriod, region, source)"},
		"invalid-health-endpoint.yaml":       {`health.endpoint: "http://health.example.com" must use https (http is allowed only for a loopback host: 127.0.0.0/8, ::1, localhost)`},
		"invalid-health-unknown-key.yaml":    {"health.region: unknown key (known keys: enabled, endpoint)"},
		"invalid-health-enabled.yaml":        {`health.enabled: must be a boolean (true or false), not "yes please"`},
		"invalid-rotate-before-zero.yaml":    {"rotateBefore: must be > 0 and shorter than a token's lifetime (8760h), not 0s"},
		"invalid-http-endpoint.yaml": {
			`identityCenter.endpoint: "http://up.sso.us-east-1.amazonaws.com/identitystore/" must use https (http is allowed only for a loopback host: 127.0.0.0/8, ::1, localhost)`,
			`targets[0].secretsmanager.endpoint: "http://secretsmanager.internal.example" must use https (http is allowed only for a loopback host: 127.0.0.0/8, ::1, localhost)`,
			`targets[1].okta.orgUrl: "http://example.okta.com" must use https (http is allowed only for a loopback host: 127.0.0.0/8, ::1, localhost)`,
		},
		"invalid-scim-endpoint.yaml":        {`identityCenter.scimEndpoint: "https://scim.example.net/a1b2c3d4e5-f6a7-b8c9-d0e1-f2a3b4c5d6e7/scim/v2/" is not an IAM Identity Center SCIM endpoint (https://scim.<region>.amazonaws.com/<tenantId>/scim/v2/); set identityCenter.allowCustomScimEndpoint: true to use it anyway`},
		"invalid-scim-endpoint-region.yaml": {`identityCenter.scimEndpoint: "https://scim.us-east-1.amazonaws.com/a1b2c3d4e5-f6a7-b8c9-d0e1-f2a3b4c5d6e7/scim/v2/" is in region us-east-1, not eu-west-1; set identityCenter.allowCustomScimEndpoint: true to use it anyway`},
		"invalid-entra-tenant.yaml":         {`targets[0].entra.tenantId: "contoso tenant" is not a tenant id: a GUID or a domain name such as contoso.onmicrosoft.com`},
		"invalid-alias.yaml":                {"identityCenter.region: YAML anchors (&region) are not allowed: write the value out", "store.region: YAML aliases (*region) are not allowed: write the value out"},
		"invalid-merge-key.yaml":            {"targets[0].secretsmanager.<<: YAML merge keys are not allowed: write the keys out"},
		"invalid-pushgateway-userinfo.yaml": {"metrics.pushgatewayUrl: must not contain user info (user:password@): credentials never go in a URL"},
		"invalid-pushgateway-auth.yaml": {
			`metrics.pushgatewayUrl: "http://pushgateway.monitoring.svc:9091" must use https (http is allowed only for a loopback host: 127.0.0.0/8, ::1, localhost)`,
			"metrics.pushgatewayPasswordEnv: required with pushgatewayUsername: set pushgatewayPasswordEnv or pushgatewayPasswordFile",
		},
	}
	files, _ := filepath.Glob("testdata/invalid-*.yaml")
	if len(files) != len(want) {
		t.Errorf("%d invalid files, %d expectations: every file needs its message", len(files), len(want))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = config.Parse(b, TargetTypes())
			if err == nil {
				t.Fatal("accepted")
			}
			var got []string
			for _, e := range config.Errors(err) {
				got = append(got, e.Error())
			}
			exp, ok := want[name]
			if !ok {
				t.Fatalf("no expectation; got %q", got)
			}
			if strings.Join(got, "\n") != strings.Join(exp, "\n") {
				t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(exp, "\n"))
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c, err := config.Load("testdata/valid-minimal.yaml", TargetTypes())
	if err != nil {
		t.Fatal(err)
	}
	if c.RotateBefore.Duration != 720*time.Hour || c.ConfirmTimeout.Duration != 90*time.Minute || c.Schedule != "@every 6h" {
		t.Fatalf("durations/schedule defaults: %+v", c)
	}
	if c.IdentityCenter.Issuer != "identitycenter" || c.Store.Region != "us-east-1" {
		t.Fatalf("issuer/store region defaults: %+v", c)
	}
	sm := c.Targets[0].Block.(*secretsmanager.TargetConfig)
	if sm.Region != "us-east-1" || sm.Format != "raw" {
		t.Fatalf("target defaults: %+v", sm)
	}
}

func TestValidFull(t *testing.T) {
	c, err := config.Load("testdata/valid-full.yaml", TargetTypes())
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Targets) != 4 || c.Targets[1].Block.(*entra.Config).Cloud != "public" || c.Targets[2].Block.(*okta.Config).Mode != "auto" || c.Targets[2].Block.(*okta.Config).CanaryAttribute != "displayName" {
		t.Fatalf("parsed: %+v", c.Targets)
	}
	// jsonKey leaves format empty; the trigger's region comes from the ARN.
	sm := c.Targets[3].Block.(*secretsmanager.TargetConfig)
	if sm.Format != "" || sm.JSONKey != "scimToken" || sm.Trigger.Region != "eu-central-1" || sm.Trigger.LambdaFunction != "arn:aws:lambda:eu-central-1:123456789012:function:ssosync" {
		t.Fatalf("jsonKey target: %+v %+v", sm, sm.Trigger)
	}
	if tr := c.Targets[0].Block.(*secretsmanager.TargetConfig).Trigger; tr == nil || tr.Region != "eu-west-1" || tr.LambdaFunction != "ssosync" {
		t.Fatalf("trigger by name takes the target's region: %+v", tr)
	}
}
