package factory

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// fleetSandboxes starts n sandboxes on virtual clocks and returns them with
// a fleet config whose instance i ("org-<i>") is sandbox i: its own identity
// store, store secret (scim-rotator/org-<i>) and target. Proof of use is
// off: usage is a shared key and each sandbox has its own CloudTrail.
func fleetSandboxes(tb testing.TB, n int) ([]*sandbox.Sandbox, *config.Config) {
	tb.Helper()
	var sbs []*sandbox.Sandbox
	var instances []any
	for i := range n {
		sb := sandbox.Start(sandbox.Options{Virtual: true})
		tb.Cleanup(sb.Close)
		name := fmt.Sprintf("org-%d", i)
		store := "scim-rotator/" + name
		sb.SM.CreateSecret(store)
		m := sb.ConfigMap(nil)
		m["store"].(map[string]any)["secretId"] = store
		instances = append(instances, map[string]any{"name": name,
			"identityCenter": m["identityCenter"], "store": m["store"], "targets": m["targets"]})
		sbs = append(sbs, sb)
	}
	b, err := yaml.Marshal(map[string]any{"rotateBefore": "720h", "usage": map[string]any{"source": "none"}, "instances": instances})
	if err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Parse(b, TargetTypes())
	if err != nil {
		tb.Fatal(err)
	}
	return sbs, cfg
}

// sandboxFleet is the fleet sandbox's config, as written for the binary,
// and the options that reach its servers and STS.
func sandboxFleet(tb testing.TB, sb *sandbox.Sandbox) (*config.Config, Options) {
	tb.Helper()
	opts := sandboxOptions(sb)
	opts.STSEndpoint = sb.URL("sts")
	return loadSandboxConfig(tb, sb), opts
}

func sandboxOptions(sb *sandbox.Sandbox) Options {
	return Options{Logger: zap.NewNop(), Clock: sb.Clock, HTTPClient: sb.Client, AWSCredentials: sandbox.AWSCredentials(),
		InstanceClock: func(name string) rotator.Clock {
			if in := sb.Instance(name); in != nil && in.Clock != nil {
				return in.Clock // a virtual fleet sandbox keeps a clock per account
			}
			return nil
		}}
}

// BuildFleet builds the instances named (all by default) in the file's
// order, refuses an unknown name, and Build refuses a fleet of several.
func TestBuildFleetSelects(t *testing.T) {
	sbs, cfg := fleetSandboxes(t, 3)
	opts := sandboxOptions(sbs[0])
	all, err := BuildFleet(t.Context(), cfg, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[0].Name != "org-0" || all[2].Name != "org-2" {
		t.Fatalf("instances = %+v", all)
	}
	for _, in := range all {
		// Alerts name the instance, and its identity store id and region.
		if in.Rotator.Instance != in.Name || in.Rotator.Region != sandbox.IdentityStoreID+", "+sandbox.Region {
			t.Errorf("%s: alerts name %q (%q)", in.Name, in.Rotator.Instance, in.Rotator.Region)
		}
	}
	sel, err := BuildFleet(t.Context(), cfg, opts, []string{"org-2", "org-1"})
	if err != nil || len(sel) != 2 || sel[0].Name != "org-1" || sel[1].Name != "org-2" {
		t.Fatalf("select: %+v %v", sel, err)
	}
	_, err = BuildFleet(t.Context(), cfg, opts, []string{"org-9"})
	var ce *config.Error
	if !errors.As(err, &ce) || err.Error() != `instances: no instance named "org-9" (instances: org-0, org-1, org-2)` {
		t.Fatalf("unknown name: %v", err)
	}
	if _, err := Build(t.Context(), cfg, opts); err == nil || err.Error() != "instances: 3 instances (org-0, org-1, org-2): choose one" {
		t.Fatalf("Build of a fleet: %v", err)
	}
	// The single-instance file builds as before: alerts name the store id.
	_, single := sandboxConfig(t)
	one, err := BuildFleet(t.Context(), single, opts, []string{"default"})
	if err != nil || len(one) != 1 || one[0].Name != "default" || one[0].Rotator.Instance != sandbox.IdentityStoreID || one[0].Rotator.Region != sandbox.Region {
		t.Fatalf("single-instance form: %+v %v", one, err)
	}
}

// A build error names the instance and the key with its full path.
func TestBuildFleetErrorNamesTheInstance(t *testing.T) {
	_, cfg := fleetSandboxes(t, 2)
	v := cfg.InstanceList()[1].Config
	v.Targets[0].Type = "googleworkspace"
	_, err := BuildFleet(t.Context(), cfg, Options{}, nil)
	if err == nil || err.Error() != `instance org-1: instances[1].targets[0].type: unknown target type "googleworkspace"` {
		t.Fatalf("error = %v", err)
	}
}

// Each instance has its own store, lock and tokens: rotating one leaves the
// others as they were, and one instance's broken store does not stop
// another's rotation.
func TestFleetInstancesAreIndependent(t *testing.T) {
	sbs, cfg := fleetSandboxes(t, 3)
	var rots []*rotator.Rotator
	var live []string
	for i, in := range cfg.InstanceList() {
		// Each sandbox keeps its own virtual time: its instance uses it.
		inst, err := BuildInstance(t.Context(), in, sandboxOptions(sbs[i]))
		if err != nil {
			t.Fatal(err)
		}
		rots = append(rots, inst.Rotator)
		id, _ := sbs[i].SeedLiveToken(300 * 24 * time.Hour)
		live = append(live, id)
	}
	// org-2's role may not write its store; org-1 does not run.
	for range 50 {
		sbs[2].Faults.Inject("secretsmanager:PutSecretValue", sandbox.Fault{Status: 400, Body: `{"__type":"AccessDeniedException","message":"injected"}`})
	}
	if res := rots[2].Run(t.Context(), rotator.RunOptions{Now: true}); res.ExitCode() != 1 {
		t.Fatalf("org-2: %s (%s), want a failure", res.Outcome, res.Message)
	}
	if res := rots[0].Run(t.Context(), rotator.RunOptions{Now: true}); res.Outcome != rotator.ReasonRotated {
		t.Fatalf("org-0: %s (%s)", res.Outcome, res.Message)
	}
	for i, sb := range sbs {
		toks := sb.IC.Tokens()
		rotated := len(toks) != 1 || toks[0].ID != live[i]
		if rotated != (i == 0) {
			t.Errorf("org-%d: tokens %+v (live was %s); only org-0 should have rotated", i, toks, live[i])
		}
		if n := sb.SM.VersionCount("scim-rotator/org-" + fmt.Sprint(i)); (n > 0) != (i == 0) {
			t.Errorf("org-%d: its store has %d versions", i, n)
		}
		for name, ok := range sb.TargetsHold() {
			if !ok {
				t.Errorf("org-%d: target %s holds a refused token", i, name)
			}
		}
	}
}

// An instance with aws.roleArn makes every AWS call with its role, and its
// Identity says so; an instance without one acts as the base credentials.
// Its rotation goes through with the role only.
func TestBuildFleetAssumesRoles(t *testing.T) {
	sb := sandbox.Start(sandbox.Options{Instances: 2, Virtual: true})
	t.Cleanup(sb.Close)
	cfg, opts := sandboxFleet(t, sb)
	fleet, err := BuildFleet(t.Context(), cfg, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	base, role := fleet[0], fleet[1]
	inst := sb.Instance(role.Name)
	if inst == nil || inst.RoleARN == "" {
		t.Fatalf("the sandbox's second instance %s has no role", role.Name)
	}
	if account, arn, err := base.Identity(t.Context()); err != nil || account != sandbox.BaseAccount || arn != sandbox.BaseARN {
		t.Fatalf("%s acts as %s %s, %v", base.Name, account, arn, err)
	}
	account, arn, err := role.Identity(t.Context())
	if err != nil || account != inst.Account || arn != "arn:aws:sts::"+inst.Account+":assumed-role/"+sandbox.RoleName+"/scim-rotator-"+role.Name {
		t.Fatalf("%s acts as %s %s, %v", role.Name, account, arn, err)
	}
	old, _ := inst.SeedLiveToken(300 * 24 * time.Hour)
	if res := role.Rotator.Run(t.Context(), rotator.RunOptions{Now: true}); res.Outcome != rotator.ReasonRotated {
		t.Fatalf("%s: %s (%s)", role.Name, res.Outcome, res.Message)
	}
	if toks := inst.IC.Tokens(); len(toks) != 1 || toks[0].ID == old || !inst.TargetsHold()["ssosync"] {
		t.Fatalf("%s: tokens %+v", role.Name, toks)
	}

	// Without the role, the instance's account refuses the base credentials.
	in := cfg.InstanceList()[1]
	in.AWS = config.AWS{}
	noRole, err := BuildInstance(t.Context(), in, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res := noRole.Rotator.Run(t.Context(), rotator.RunOptions{Now: true}); res.ExitCode() != 1 {
		t.Fatalf("without its role: %s (%s)", res.Outcome, res.Message)
	}
}
