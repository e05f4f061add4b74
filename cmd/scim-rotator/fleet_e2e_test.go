package main

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
)

// fleetEnv starts a fleet sandbox of n instances (org-01 in the base
// account, the others behind their roles) with the fleet config it writes;
// edit, if set, changes that config (as YAML data) first.
func fleetEnv(t *testing.T, n int, edit func(c map[string]any)) *env {
	t.Helper()
	e := newEnv(t, sandbox.Options{Instances: n})
	if edit != nil {
		e.editConfigData(edit)
	}
	return e
}

// editConfigData changes the sandbox's config as YAML data.
func (e *env) editConfigData(edit func(c map[string]any)) {
	e.t.Helper()
	b, err := os.ReadFile(e.files.Config)
	if err != nil {
		e.t.Fatal(err)
	}
	var c map[string]any
	if err := yaml.Unmarshal(b, &c); err != nil {
		e.t.Fatal(err)
	}
	edit(c)
	if b, err = yaml.Marshal(c); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(e.files.Config, b, 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// instanceKey is key of the i-th instance of a fleet config's YAML data.
func instanceKey(c map[string]any, i int) map[string]any {
	return c["instances"].([]any)[i].(map[string]any)
}

// statusSchema validates status -o json against schemas/status.schema.json.
func statusSchema(t *testing.T) func(out string) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	schema, err := c.Compile("schemas/status.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return func(out string) {
		t.Helper()
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(out)))
		if err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		if err := schema.Validate(inst); err != nil {
			t.Fatalf("status -o json does not match the schema: %v\n%s", err, out)
		}
	}
}

// unbuildable makes the i-th instance of a fleet config's YAML data one
// that cannot be built: an Okta target whose API token variable is unset
// (SR_E2E_UNSET_OKTA_TOKEN).
func unbuildable(c map[string]any, i int) {
	in := instanceKey(c, i)
	in["targets"] = append(in["targets"].([]any), map[string]any{"name": "okta", "type": "okta", "okta": map[string]any{
		"orgUrl": "https://example.okta.com", "appId": sandbox.OktaAPIApp, "apiTokenEnv": "SR_E2E_UNSET_OKTA_TOKEN", "mode": "api"}})
}

// headers lists the instance headers of a grouped output, in order.
func headers(out string) []string {
	var hs []string
	for _, line := range strings.Split(out, "\n") {
		if name, ok := strings.CutPrefix(line, "== instance "); ok {
			hs = append(hs, strings.TrimSuffix(name, " =="))
		}
	}
	return hs
}

// A fleet of three, one of which cannot write its store: rotate rotates the
// two healthy ones and reports the third (exit 1), grouped by instance;
// --instance selects; an unknown name is a usage error; status and check
// -o json list every instance by name and match the schema; stage needs one
// instance.
func TestE2EFleetRotateSelectAndReport(t *testing.T) {
	// org-03's store secret does not exist.
	e := fleetEnv(t, 3, func(c map[string]any) {
		instanceKey(c, 2)["store"].(map[string]any)["secretId"] = "scim-rotator/no-such-store"
	})
	validate := statusSchema(t)
	var live []string
	for _, inst := range e.sb.Instances {
		id, _ := inst.SeedLiveToken(340 * 24 * time.Hour)
		live = append(live, id)
	}

	code, out, errOut := e.run("rotate")
	if code != 1 {
		t.Fatalf("rotate: exit %d, want 1:\n%s\n%s", code, out, errOut)
	}
	if hs := headers(out); strings.Join(hs, ",") != "org-01,org-02,org-03" {
		t.Fatalf("headers %q:\n%s", hs, out)
	}
	groups := strings.Split(out, "== instance ")
	for i, inst := range e.sb.Instances {
		g := groups[i+1]
		if rotated := strings.Contains(g, "\nRotated: "); rotated != (i < 2) {
			t.Errorf("%s: rotated %v:\n%s", inst.Name, rotated, g)
		}
		toks := inst.IC.Tokens()
		if changed := len(toks) != 1 || toks[0].ID != live[i]; changed != (i < 2) {
			t.Errorf("%s: tokens %+v, live was %s", inst.Name, toks, live[i])
		}
		for name, ok := range inst.TargetsHold() {
			if !ok {
				t.Errorf("%s: target %s holds a refused token", inst.Name, name)
			}
		}
	}

	// --instance selects (repeatable); an unknown name runs nothing.
	code, out, _ = e.run("rotate", "--dry-run", "--instance", "org-02", "--instance", "org-01")
	if hs := headers(out); code != 0 || strings.Join(hs, ",") != "org-01,org-02" {
		t.Fatalf("--instance org-02 --instance org-01: exit %d, headers %q:\n%s", code, hs, out)
	}
	code, out, errOut = e.run("rotate", "--instance", "org-02", "--instance", "nope")
	if code != 2 || out != "" || !strings.Contains(errOut, `error: instances: no instance named "nope" (instances: org-01, org-02, org-03)`) {
		t.Fatalf("unknown instance: exit %d:\n%s\n%s", code, out, errOut)
	}

	// status -o json: an entry per instance, valid against the schema
	// (org-03's with the error reading its store).
	code, out, errOut = e.run("status", "-o", "json")
	if code != 0 {
		t.Fatalf("status: exit %d: %s", code, errOut)
	}
	validate(out)
	type entry struct {
		Next struct {
			Action string `json:"action"`
		} `json:"next"`
		Errors []string `json:"errors"`
	}
	keyed := byName[entry](t, out)
	if len(keyed) != 3 || keyed["org-01"].Next.Action != "None" || len(keyed["org-03"].Errors) == 0 {
		t.Fatalf("status by instance: %+v", keyed)
	}
	code, out, _ = e.run("status", "-o", "json", "--instance", "org-02")
	validate(out)
	if keyed = byName[entry](t, out); code != 0 || len(keyed) != 1 || keyed["org-02"].Next.Action != "None" {
		t.Fatalf("status --instance org-02: exit %d %s", code, out)
	}
	code, out, _ = e.run("status", "--instance", "org-01")
	if hs := headers(out); code != 0 || strings.Join(hs, ",") != "org-01" || !strings.Contains(out, "IDENTITY CENTER TOKEN") {
		t.Fatalf("status table: exit %d:\n%s", code, out)
	}

	// check -o json: an entry per instance, each with its results.
	code, out, _ = e.run("check", "-o", "json", "--instance", "org-01", "--instance", "org-02")
	checks := byName[struct {
		Checks []struct {
			System string `json:"system"`
			Level  string `json:"level"`
		} `json:"checks"`
	}](t, out)
	if c := checks["org-02"].Checks; code != 0 || len(checks) != 2 || len(c) < 3 || c[0].System != "config" || c[1].System != "aws" {
		t.Fatalf("check -o json: exit %d\n%s", code, out)
	}

	// stage acts on one instance.
	code, _, errOut = e.run("stage", "--current", "--token-id", "x", "--token-file", e.files.Config)
	if code != 2 || !strings.Contains(errOut, "error: stage acts on one instance: give --instance NAME (instances: org-01, org-02, org-03)") {
		t.Fatalf("stage without --instance: exit %d: %s", code, errOut)
	}
}

// An instance that cannot be built (a credential it names is missing) is
// a configuration error for it alone: the others still report, and the
// exit code is the worst, 2.
func TestE2EFleetBuildErrorIsWorstExitCode(t *testing.T) {
	e := fleetEnv(t, 2, func(c map[string]any) {
		unbuildable(c, 0)
	})
	validate := statusSchema(t)
	code, out, errOut := e.run("status", "-o", "json")
	if code != 2 {
		t.Fatalf("exit %d, want 2:\n%s\n%s", code, out, errOut)
	}
	validate(out)
	keyed := byName[map[string]any](t, out)
	if keyed["org-02"]["next"] == nil ||
		!strings.Contains(fmt.Sprint(keyed["org-01"]["error"]), "instances[0].targets[1].okta.apiTokenEnv: environment variable SR_E2E_UNSET_OKTA_TOKEN is not set") {
		t.Fatalf("status by instance:\n%s", out)
	}
	code, out, _ = e.run("check")
	if code != 2 || !strings.Contains(out, "== instance org-01 ==\nLEVEL") || !strings.Contains(out, "FAIL   config") || !strings.Contains(out, "== instance org-02 ==") {
		t.Fatalf("check: exit %d:\n%s", code, out)
	}
	if code, out, _ := e.run("check", "--instance", "org-02"); code != 0 {
		t.Fatalf("check --instance org-02: exit %d:\n%s", code, out)
	}
}

// The fleet sandbox: three instances, the second and third in accounts of
// their own reached by assuming their role; the third's target secret does
// not exist. check shows the identity each instance acts as; rotate rotates
// the two healthy ones, reports the third and exits 1; alerts name the
// instance.
func TestE2EFleetWithRoles(t *testing.T) {
	e := fleetEnv(t, 3, func(c map[string]any) {
		tg := instanceKey(c, 2)["targets"].([]any)[0].(map[string]any)
		tg["secretsmanager"].(map[string]any)["secretId"] = "no-such-secret"
	})
	broken := e.sb.Instances[2]
	var live []string
	for _, inst := range e.sb.Instances {
		id, _ := inst.SeedLiveToken(340 * 24 * time.Hour)
		live = append(live, id)
	}

	code, out, errOut := e.run("check")
	if code != 1 {
		t.Fatalf("check: exit %d, want 1 (the missing secret):\n%s\n%s", code, out, errOut)
	}
	for _, inst := range e.sb.Instances {
		want := "acts as " + sandbox.BaseARN
		if inst.RoleARN != "" {
			want = "acts as arn:aws:sts::" + inst.Account + ":assumed-role/" + sandbox.RoleName + "/scim-rotator-" + inst.Name
		}
		if !strings.Contains(out, want) {
			t.Errorf("check does not show %q:\n%s", want, out)
		}
	}

	code, out, errOut = e.run("rotate")
	if code != 1 {
		t.Fatalf("rotate: exit %d, want 1:\n%s\n%s", code, out, errOut)
	}
	groups := strings.Split(out, "== instance ")[1:]
	if len(groups) != 3 {
		t.Fatalf("want 3 groups:\n%s", out)
	}
	for i, inst := range e.sb.Instances {
		healthy := i < 2
		if rotated := strings.Contains(groups[i], "\nRotated: "); rotated != healthy {
			t.Errorf("%s: rotated %v:\n%s", inst.Name, rotated, groups[i])
		}
		// A healthy instance ends on its new token alone; the broken one
		// keeps its live token (the new one may wait for the next run).
		toks := inst.IC.Tokens()
		kept := slices.ContainsFunc(toks, func(tok sandbox.IdentityCenterToken) bool { return tok.ID == live[i] })
		if healthy == kept || healthy && len(toks) != 1 {
			t.Errorf("%s: tokens %+v, live was %s", inst.Name, toks, live[i])
		}
		if !inst.TargetsHold()["ssosync"] {
			t.Errorf("%s: its target holds a refused token", inst.Name)
		}
	}
	var named bool
	for _, m := range e.sb.Slack.Received() {
		named = named || strings.Contains(m.Text, "instance "+broken.Name+" ("+broken.IdentityStoreID+", ")
	}
	if !named {
		t.Errorf("no alert names %s: %+v", broken.Name, e.sb.Slack.Received())
	}
}

// The daemon schedules every instance of the fleet sandbox (one behind an
// assumed role): both rotate, each with its own series labelled with its
// name and its own alert; /readyz covers both. With --instance it
// schedules the one named only.
func TestE2EFleetDaemon(t *testing.T) {
	e := newEnv(t, sandbox.Options{Instances: 2})
	var live []string
	for _, inst := range e.sb.Instances {
		id, _ := inst.SeedLiveToken(340 * 24 * time.Hour)
		live = append(live, id)
	}
	e.editConfig("schedule: \"@every 1h\"\n")
	series := func(name, result string) string {
		return `scim_rotator_rotations_total{instance_name="` + name + `",result="` + result + `"} 1`
	}
	d := e.startDaemon()
	var want []string
	for _, inst := range e.sb.Instances {
		want = append(want, series(inst.Name, "Rotated"), `scim_rotator_rotation_in_progress{instance_name="`+inst.Name+`"} 0`,
			`scim_rotator_token_expiry_timestamp_seconds{instance_name="`+inst.Name+`"}`)
	}
	d.waitMetrics(want...)
	d.waitReady()
	d.stop()
	for i, inst := range e.sb.Instances {
		toks := inst.IC.Tokens()
		if len(toks) != 1 || toks[0].ID == live[i] || !inst.TargetsHold()["ssosync"] {
			t.Errorf("%s: tokens %+v (live was %s), targets %v", inst.Name, toks, live[i], inst.TargetsHold())
		}
		named := slices.ContainsFunc(e.sb.Slack.Received(), func(m sandbox.SlackMessage) bool {
			return strings.Contains(m.Text, "Rotated") && strings.Contains(m.Text, "instance "+inst.Name+" ("+inst.IdentityStoreID+", ")
		})
		if !named {
			t.Errorf("no Rotated alert names %s", inst.Name)
		}
	}

	// --instance: the first only (not due now); the second has no series.
	first, second := e.sb.Instances[0].Name, e.sb.Instances[1].Name
	d = e.startDaemon("--instance", first)
	metrics := d.waitMetrics(series(first, "NotDue"))
	if strings.Contains(metrics, `instance_name="`+second+`"`) {
		t.Errorf("--instance %s: /metrics has series of %s:\n%s", first, second, metrics)
	}
	d.stop()
}
