package factory

import (
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// fleetSandbox starts a fleet sandbox of n instances on a virtual clock
// (org-01 in the base account, the others each in their own account behind
// its role) and loads the fleet config it writes, with options that reach
// its STS.
func fleetSandbox(tb testing.TB, n int) (*sandbox.Sandbox, *config.Config, Options) {
	tb.Helper()
	sb := sandbox.Start(sandbox.Options{Instances: n, Virtual: true})
	tb.Cleanup(sb.Close)
	cfg, opts := sandboxFleet(tb, sb)
	return sb, cfg, opts
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
	sb, cfg, opts := fleetSandbox(t, 3)
	all, err := BuildFleet(t.Context(), cfg, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[0].Name != "org-01" || all[2].Name != "org-03" {
		t.Fatalf("instances = %+v", all)
	}
	for _, in := range all {
		// Alerts name the instance, and its identity store id and region.
		if in.Rotator.Instance != in.Name || in.Rotator.Region != sb.Instance(in.Name).IdentityStoreID+", "+sandbox.Region {
			t.Errorf("%s: alerts name %q (%q)", in.Name, in.Rotator.Instance, in.Rotator.Region)
		}
	}
	sel, err := BuildFleet(t.Context(), cfg, opts, []string{"org-03", "org-02"})
	if err != nil || len(sel) != 2 || sel[0].Name != "org-02" || sel[1].Name != "org-03" {
		t.Fatalf("select: %+v %v", sel, err)
	}
	_, err = BuildFleet(t.Context(), cfg, opts, []string{"org-9"})
	var ce *config.Error
	if !errors.As(err, &ce) || err.Error() != `instances: no instance named "org-9" (instances: org-01, org-02, org-03)` {
		t.Fatalf("unknown name: %v", err)
	}
	if _, err := Build(t.Context(), cfg, opts); err == nil || err.Error() != "instances: 3 instances (org-01, org-02, org-03): choose one" {
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
	_, cfg, opts := fleetSandbox(t, 2)
	v := cfg.InstanceList()[1].Config
	v.Targets[0].Type = "googleworkspace"
	_, err := BuildFleet(t.Context(), cfg, opts, nil)
	if err == nil || err.Error() != `instance org-02: instances[1].targets[0].type: unknown target type "googleworkspace"` {
		t.Fatalf("error = %v", err)
	}
}

// Each instance has its own store, lock and tokens: rotating one leaves the
// others as they were, and one instance's broken store does not stop
// another's rotation.
func TestFleetInstancesAreIndependent(t *testing.T) {
	sb, cfg, opts := fleetSandbox(t, 3)
	fleet, err := BuildFleet(t.Context(), cfg, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	var live []string
	for _, inst := range sb.Instances {
		id, _ := inst.SeedLiveToken(300 * 24 * time.Hour)
		live = append(live, id)
	}
	// org-03 may not write its store; org-02 does not run.
	for range 50 {
		sb.Faults.Inject("secretsmanager:PutSecretValue", sandbox.Fault{Status: 400, Body: `{"__type":"AccessDeniedException","message":"injected"}`})
	}
	if res := fleet[2].Rotator.Run(t.Context(), rotator.RunOptions{Now: true}); res.ExitCode() != 1 {
		t.Fatalf("org-03: %s (%s), want a failure", res.Outcome, res.Message)
	}
	sb.Faults.Clear()
	if res := fleet[0].Rotator.Run(t.Context(), rotator.RunOptions{Now: true}); res.Outcome != rotator.ReasonRotated {
		t.Fatalf("org-01: %s (%s)", res.Outcome, res.Message)
	}
	for i, inst := range sb.Instances {
		toks := inst.IC.Tokens()
		rotated := len(toks) != 1 || toks[0].ID != live[i]
		if rotated != (i == 0) {
			t.Errorf("%s: tokens %+v (live was %s); only org-01 should have rotated", inst.Name, toks, live[i])
		}
		if n := inst.SM.VersionCount(inst.StoreSecret); (n > 0) != (i == 0) {
			t.Errorf("%s: its store has %d versions", inst.Name, n)
		}
		for name, ok := range inst.TargetsHold() {
			if !ok {
				t.Errorf("%s: target %s holds a refused token", inst.Name, name)
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
