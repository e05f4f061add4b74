package factory

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/config"
)

// The printed schema (config.JSONSchema with this build's target types)
// is checked against the loader, so that the two cannot drift apart: what
// the loader accepts the schema accepts, and it refuses what the loader
// refuses key by key.

// compileSchema compiles the configuration's schema as Helm and editors do.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	b, err := json.Marshal(config.JSONSchema(TargetTypes()))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("scim-rotator.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("scim-rotator.schema.json")
	if err != nil {
		t.Fatalf("the schema does not compile: %v", err)
	}
	return s
}

// instance is a YAML configuration as the JSON value a schema validates.
func instance(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// schemaMisses are the invalid files the schema accepts: checks across
// keys, of a value's meaning, or of YAML itself, which stay the loader's.
var schemaMisses = map[string]string{
	"invalid-alias.yaml":                  "YAML anchors and aliases are gone once the YAML is parsed",
	"invalid-merge-key.yaml":              "a merge key is gone once the YAML is parsed",
	"invalid-second-document.yaml":        "a schema validates one document, the first",
	"invalid-duplicate-name.yaml":         "unique names",
	"invalid-fleet-store.yaml":            "one store per account and region",
	"invalid-fleet-handoff.yaml":          "handoff needs usage.source cloudtrail",
	"invalid-handoff-usage.yaml":          "handoff needs usage.source cloudtrail",
	"invalid-manual-no-endpoint.yaml":     "issuer manual needs scimEndpoint or tenantId",
	"invalid-rotate-before-too-long.yaml": "rotateBefore below 8760h",
	"invalid-schedule.yaml":               "a cron spec",
	"invalid-scim-endpoint.yaml":          "the documented SCIM endpoint",
	"invalid-scim-endpoint-region.yaml":   "the SCIM endpoint's region",
	"invalid-http-endpoint.yaml":          "https URLs",
	"invalid-usage-endpoint.yaml":         "https URLs",
	"invalid-health-endpoint.yaml":        "https URLs",
	"invalid-pushgateway-userinfo.yaml":   "URLs without user info",
	"invalid-pushgateway-auth.yaml":       "pushgatewayUsername with a password, https",
}

func TestSchemaAcceptsValidConfigs(t *testing.T) {
	schema := compileSchema(t)
	files, _ := filepath.Glob("testdata/valid-*.yaml")
	if len(files) == 0 {
		t.Fatal("no valid-*.yaml")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := config.Parse(b, TargetTypes()); err != nil {
				t.Fatalf("the loader refuses it: %v", err)
			}
			if err := schema.Validate(instance(t, b)); err != nil {
				t.Fatalf("the schema refuses a file the loader accepts: %v", err)
			}
		})
	}
	// The sandbox's own files, single and fleet, every kind of target.
	for name, opts := range map[string]sandbox.Options{
		"sandbox":       {Entra: true, Okta: "handoff", Slack: true},
		"sandbox-fleet": {Instances: 2},
	} {
		t.Run(name, func(t *testing.T) {
			s := sandbox.Start(opts)
			defer s.Close()
			files, err := s.WriteFiles(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(files.Config)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := config.Parse(b, TargetTypes()); err != nil {
				t.Fatalf("the loader refuses it: %v", err)
			}
			if err := schema.Validate(instance(t, b)); err != nil {
				t.Fatalf("the schema refuses the sandbox's file: %v\n%s", err, b)
			}
		})
	}
}

// Every invalid file is refused by the schema, naming the key, unless it
// is in schemaMisses; a file listed there must still get past the schema
// (the list stays honest).
func TestSchemaRefusesInvalidConfigs(t *testing.T) {
	schema := compileSchema(t)
	files, _ := filepath.Glob("testdata/invalid-*.yaml")
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			err = schema.Validate(instance(t, b))
			why, missed := schemaMisses[name]
			switch {
			case err == nil && !missed:
				t.Fatal("the schema accepts a file the loader refuses")
			case err != nil && missed:
				t.Fatalf("the schema refuses it (remove it from schemaMisses, %q): %v", why, err)
			}
		})
	}
	for name := range schemaMisses {
		if !slices.Contains(files, filepath.Join("testdata", name)) {
			t.Errorf("schemaMisses lists %s, which is not in testdata", name)
		}
	}
}

// Cases beyond testdata, each refused by the loader and by the schema at
// the key the loader names.
func TestSchemaRefusesWhatTheLoaderRefuses(t *testing.T) {
	schema := compileSchema(t)
	const base = `identityCenter: {region: us-east-1, identityStoreId: d-1234567890}
store: {secretId: scim-rotator/token}
targets:
  - name: sync
    type: secretsmanager
    secretsmanager: {secretId: scim-sync/token}
`
	tests := []struct {
		name, yaml string
		// at is the schema error's location (a JSON pointer).
		at string
	}{
		{"typo'd nested key", strings.Replace(base, "region: us-east-1", "regoin: us-east-1", 1), "/identityCenter"},
		{"unknown target type", strings.Replace(base, "type: secretsmanager", "type: Okta", 1), "/targets/0/type"},
		{"zero confirmTimeout", base + "confirmTimeout: 0s\n", "/confirmTimeout"},
		{"zero rotateBefore", base + "rotateBefore: '0'\n", "/rotateBefore"},
		{"negative lockTimeout", base + "lockTimeout: -1m\n", "/lockTimeout"},
		{"days", base + "rotateBefore: 30d\n", "/rotateBefore"},
		{"negative quiet period", base + "usage: {quietPeriod: -5m}\n", "/usage/quietPeriod"},
		{"unknown issuer", strings.Replace(base, "region: us-east-1,", "region: us-east-1, issuer: console,", 1), "/identityCenter/issuer"},
		{"unknown usage source", base + "usage: {source: athena}\n", "/usage/source"},
		{"no identity store", strings.Replace(base, ", identityStoreId: d-1234567890", "", 1), "/identityCenter"},
		{"bad identity store", strings.Replace(base, "d-1234567890", "d-0000", 1), "/identityCenter/identityStoreId"},
		{"no store", strings.Replace(base, "store: {secretId: scim-rotator/token}\n", "", 1), ""},
		{"no targets", strings.Split(base, "targets:")[0] + "targets: []\n", "/targets"},
		{"a second block", base + "    entra: {tenantId: contoso.com, servicePrincipalId: x, workloadIdentity: true}\n", "/targets/0/entra"},
		{"no block", strings.Replace(base, "    secretsmanager: {secretId: scim-sync/token}\n", "", 1), "/targets/0"},
		{"two secrets", base + "notify: {slack: {webhookUrlEnv: A, webhookUrlFile: /b}}\n", "/notify/slack"},
		{"unknown outcome", base + "notify: {slack: {webhookUrlEnv: A, notifyOn: [Sent]}}\n", "/notify/slack/notifyOn/0"},
		{"upper case target name", strings.Replace(base, "name: sync", "name: Sync", 1), "/targets/0/name"},
		{"parallelism 0", base + "parallelism: 0\n", "/parallelism"},
		{"both forms", base + "instances: [{name: a, identityCenter: {region: us-east-1, identityStoreId: d-1234567890}, store: {secretId: s}, targets: [{name: t, type: secretsmanager, secretsmanager: {secretId: x}}]}]\n", "/identityCenter"},
		{"instance without store", "instances: [{name: a, identityCenter: {region: us-east-1, identityStoreId: d-1234567890}, targets: [{name: t, type: secretsmanager, secretsmanager: {secretId: x}}]}]\n", "/instances/0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := config.Parse([]byte(tt.yaml), TargetTypes()); err == nil {
				t.Fatalf("the loader accepts it:\n%s", tt.yaml)
			}
			err := schema.Validate(instance(t, []byte(tt.yaml)))
			if err == nil {
				t.Fatalf("the schema accepts it:\n%s", tt.yaml)
			}
			if !strings.Contains(err.Error(), "at '"+tt.at+"'") {
				t.Errorf("the error does not name %s: %v", tt.at, err)
			}
		})
	}
}

// Values the loader accepts that a stricter schema would refuse: null for
// absent, the default's empty string, a source in another case.
func TestSchemaAcceptsWhatTheLoaderAccepts(t *testing.T) {
	schema := compileSchema(t)
	const base = "identityCenter: {region: us-east-1, identityStoreId: d-1234567890, issuer: ''}\nstore: {secretId: s}\n" +
		"targets: [{name: t, type: secretsmanager, secretsmanager: {secretId: x, format: ''}, entra: null}]\n"
	for _, extra := range []string{
		"notify:\n",
		"usage: {source: CloudTrail, quietPeriod: 0s, pollInterval: 1m30s}\n",
		"rotateBefore: 0.5h\nconfirmTimeout: +90m\nlockTimeout: 1m0s\n",
		"metrics: {pushgatewayUrl: 'https://p', pushgatewayUsername: u, pushgatewayPasswordEnv: '', pushgatewayPasswordFile: /p}\n",
	} {
		y := base + extra
		if _, err := config.Parse([]byte(y), TargetTypes()); err != nil {
			t.Fatalf("the loader refuses:\n%s%v", y, err)
		}
		if err := schema.Validate(instance(t, []byte(y))); err != nil {
			t.Errorf("the schema refuses what the loader accepts:\n%s%v", y, err)
		}
	}
}
