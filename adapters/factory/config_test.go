package factory

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/entra"
	"github.com/scim-rotator/scim-rotator/adapters/handoff"
	"github.com/scim-rotator/scim-rotator/adapters/okta"
	"github.com/scim-rotator/scim-rotator/adapters/secretsmanager"
	"github.com/scim-rotator/scim-rotator/config"
)

// The loader with this build's target types: each file in testdata is
// decoded, defaulted and validated as `scim-rotator` does it.

// Each invalid file maps to its exact message(s).
func TestInvalidConfigs(t *testing.T) {
	want := map[string][]string{
		"invalid-unknown-key.yaml":            {"targets[0].secretsmanager.formt: unknown key: did you mean format? (known keys: endpoint, format, jsonKey, region, secretId, trigger)"},
		"invalid-missing-region.yaml":         {"identityCenter.region: required"},
		"invalid-duration.yaml":               {`rotateBefore: invalid duration "30 days": use a duration such as 720h or 90m`},
		"invalid-target-type.yaml":            {`targets[0].type: unknown target type "googleworkspace": one of secretsmanager, entra, okta, handoff`},
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
		"invalid-usage-unknown-key.yaml":     {"usage.quietperiod: unknown key: did you mean quietPeriod? (known keys: deliveryDelay, endpoint, pollInterval, quietPeriod, region, source)"},
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
		"invalid-secretsmanager-ref.yaml": {
			"targets[0].okta.apiTokenSecretsManager.secretId: required: the secret's name or ARN",
			`targets[1].entra.clientSecretSecretsManager.region: "us-east-1", but the secret's ARN is in eu-west-1`,
			"notify.slack.webhookUrlSecretsManager: not with notify.slack.webhookUrlEnv: set only one of the Env, File and SecretsManager forms",
		},
		// The fleet form: every key of an instance is named by its full path.
		"invalid-fleet-target.yaml": {"instances[2].targets[0].entra.tenantId: required"},
		"invalid-fleet-mixed.yaml":  {"instances: cannot be combined with the top-level identityCenter, targets (the single-instance form): move them into each instance"},
		"invalid-fleet-empty.yaml":  {"instances: at least one instance is required"},
		"invalid-fleet-names.yaml": {
			"instances[0].name: required",
			`instances[1].name: "Prod_1" must be lower-case letters, digits and dashes (at most 63)`,
			`instances[3].name: duplicate instance name "prod" (also instances[2])`,
		},
		"invalid-fleet-aws.yaml": {
			`instances[0].aws.roleArn: "arn:aws:iam::111111111111:user/scim-rotator" is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)`,
			"instances[1].aws.externalId: only with aws.roleArn",
			"instances[2].name: at most 51 characters with aws.roleArn (the role session name scim-rotator-<name> is at most 64)",
		},
		"invalid-fleet-overrides.yaml": {
			"parallelism: must be at least 1 (omit the key for the default, 4), not 0",
			"instances[0].rotateBefore: must be > 0 and shorter than a token's lifetime (8760h), not 0s",
			"instances[0].lockTimeout: must be at least 10s (5s leaves no time to renew the lock between calls)",
		},
		// Same name and region: the base account's (0, 1), the role's account
		// by role and by ARN (2, 3); one identity store twice (0, 4).
		"invalid-fleet-store.yaml": {
			`instances[1].store.secretId: "scim-rotator/tokens" in us-east-1 is already instances[0]'s store (same account and region): each instance needs its own store secret`,
			`instances[3].store.secretId: "arn:aws:secretsmanager:us-east-1:222222222222:secret:scim-rotator/tokens" in us-east-1 is already instances[2]'s store (same account and region): each instance needs its own store secret`,
			`instances[4].identityCenter.identityStoreId: "d-1111111111" is already instances[0]'s: two instances would rotate the same tokens under different locks`,
		},
		// A handoff target needs CloudTrail, in both forms; its block.
		"invalid-handoff-usage.yaml": {`targets[0].type: handoff needs usage.source: cloudtrail (it is "none"): only CloudTrail can show that the pasted token is in use`},
		"invalid-fleet-handoff.yaml": {`instances[0].targets[1].type: handoff needs usage.source: cloudtrail (it is "none"): only CloudTrail can show that the pasted token is in use`},
		"invalid-handoff-block.yaml": {
			`targets[0].handoff.instructions: required: where in the client's console the token is pasted, e.g. "Admin console > Apps > ... > Auto-provisioning: paste the token, Save"`,
			`targets[0].handoff.consoleUrl: "http://admin.google.com/ac/apps/unified" must use https`,
			"targets[1].handoff.consoleUrl: must not contain user info (user:password@)",
		},
		// A second document would be ignored, and what it says with it.
		"invalid-second-document.yaml": {"a second YAML document starts at line 11 (---): a config file is one document; remove the --- line and what follows it, or merge it into the first"},
		"invalid-pushgateway-auth.yaml": {
			`metrics.pushgatewayUrl: "http://pushgateway.monitoring.svc:9091" must use https (http is allowed only for a loopback host: 127.0.0.0/8, ::1, localhost)`,
			"metrics.pushgatewayPasswordEnv: required with metrics.pushgatewayUsername (or metrics.pushgatewayPasswordFile, or metrics.pushgatewayPasswordSecretsManager)",
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
			assertKeysOnce(t, err)
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
	if h := c.Targets[4].Block.(*handoff.Config); !strings.HasPrefix(h.Instructions, "Admin console") || h.ConsoleURL != "https://admin.google.com/ac/apps/unified" || h.UserAgent != "Google" {
		t.Fatalf("handoff block: %+v", h)
	}
	if len(c.Targets) != 5 || c.Targets[1].Block.(*entra.Config).Cloud != "public" || c.Targets[2].Block.(*okta.Config).Mode != "auto" || c.Targets[2].Block.(*okta.Config).CanaryAttribute != "displayName" {
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

// The single-instance file is the instance "default", the config itself.
func TestSingleInstanceForm(t *testing.T) {
	c, err := config.Load("testdata/valid-minimal.yaml", TargetTypes())
	if err != nil {
		t.Fatal(err)
	}
	all := c.InstanceList()
	if c.Fleet() || len(all) != 1 || all[0].Name != "default" || all[0].Key != "" || all[0].Config != c || c.Parallelism != 4 {
		t.Fatalf("instances = %+v, parallelism %d", all, c.Parallelism)
	}
	if sel, err := c.Select([]string{"default"}); err != nil || len(sel) != 1 {
		t.Fatalf("select default: %v %v", sel, err)
	}
	_, err = c.Select([]string{"prod"})
	if err == nil || err.Error() != `instances: no instance named "prod" (the single-instance file's instance is default)` {
		t.Fatalf("unknown name: %v", err)
	}
}

// Each instance takes the top-level values unless it overrides them, and
// its regions default to its own identityCenter.region.
func TestFleetDefaultsAndOverrides(t *testing.T) {
	c, err := config.Load("testdata/valid-fleet.yaml", TargetTypes())
	if err != nil {
		t.Fatal(err)
	}
	all := c.InstanceList()
	if !c.Fleet() || len(all) != 2 || c.Parallelism != 4 {
		t.Fatalf("fleet = %v, %d instances, parallelism %d", c.Fleet(), len(all), c.Parallelism)
	}
	prod, staging := all[0], all[1]
	if prod.Name != "prod" || prod.Key != "instances[0]." || prod.AWS.RoleARN != "arn:aws:iam::111111111111:role/scim-rotator" || prod.AWS.ExternalID != "prod-external-id" {
		t.Fatalf("prod = %+v", prod)
	}
	for _, tc := range []struct {
		in                   config.Instance
		rotate, confirm, lck time.Duration
		region               string
	}{
		{prod, 1440 * time.Hour, 90 * time.Minute, 5 * time.Minute, "us-east-1"},
		{staging, 720 * time.Hour, 30 * time.Minute, 2 * time.Minute, "eu-west-1"},
	} {
		v := tc.in.Config
		if v.RotateBefore.Duration != tc.rotate || v.ConfirmTimeout.Duration != tc.confirm || v.LockTimeout.Duration != tc.lck {
			t.Errorf("%s: rotateBefore %s confirmTimeout %s lockTimeout %s", tc.in.Name, v.RotateBefore, v.ConfirmTimeout, v.LockTimeout)
		}
		sm := v.Targets[0].Block.(*secretsmanager.TargetConfig)
		if v.Store.Region != tc.region || sm.Region != tc.region || v.Usage.Region != tc.region || v.IdentityCenter.Issuer != "identitycenter" {
			t.Errorf("%s: store %s target %s usage %s issuer %s, want region %s", tc.in.Name, v.Store.Region, sm.Region, v.Usage.Region, v.IdentityCenter.Issuer, tc.region)
		}
		if v.Fleet() || len(v.InstanceList()) != 0 || v.Schedule != "@every 6h" || v.Usage.Source != "none" {
			t.Errorf("%s: the view is a single-instance config with the shared keys: %+v", tc.in.Name, v)
		}
	}
	// The same store name in two regions is two secrets.
	if prod.Config.Store.SecretID != staging.Config.Store.SecretID {
		t.Fatal("the fixture should share the store name")
	}
	sel, err := c.Select([]string{"staging", "staging"})
	if err != nil || len(sel) != 1 || sel[0].Name != "staging" {
		t.Fatalf("select staging: %+v %v", sel, err)
	}
	if sel, err := c.Select([]string{"staging", "prod"}); err != nil || sel[0].Name != "prod" || sel[1].Name != "staging" {
		t.Fatalf("select keeps the file's order: %+v %v", sel, err)
	}
	_, err = c.Select([]string{"prod", "dev", "qa"})
	if err == nil || err.Error() != `instances: no instance named "dev", "qa" (instances: prod, staging)` {
		t.Fatalf("unknown names: %v", err)
	}
}
