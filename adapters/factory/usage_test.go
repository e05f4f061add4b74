package factory

import (
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// The sandbox's config wires proof of use to its CloudTrail fake; none wires
// nothing.
func TestBuildUsage(t *testing.T) {
	sb, cfg := sandboxConfig(t)
	if u := cfg.Usage; u.Source != "cloudtrail" || u.Endpoint != sb.URL("cloudtrail") || u.QuietPeriod.Duration != 3*time.Second || u.DeliveryDelay.Duration != 2*sandbox.DefaultCloudTrailDelay {
		t.Fatalf("sandbox usage config = %+v", u)
	}
	_, live := sb.SeedLiveToken(time.Hour)
	opts := Options{Logger: zap.NewNop(), Clock: sb.Clock, HTTPClient: sb.Client, AWSCredentials: sandbox.AWSCredentials(), Version: "9.9.9"}
	rot, err := Build(t.Context(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rot.Usage == nil {
		t.Fatal("usage.source cloudtrail built no usage source")
	}
	from := sb.Clock.Now()
	if _, err := sb.CallSCIM(t.Context(), live, "sync-job/2"); err != nil {
		t.Fatal(err)
	}
	sb.Clock.Advance(time.Second)
	cred := rotator.Credential{SCIMEndpoint: sb.IC.SCIMEndpoint(), TokenID: "live", Token: rotator.NewSecret(live)}
	if err := rot.Prover.ProveToken(t.Context(), cred); err != nil {
		t.Fatal(err)
	}
	sb.Clock.Advance(cfg.Usage.DeliveryDelay.Duration)
	uses, err := rot.Usage.Uses(t.Context(), from, sb.Clock.Now())
	if err != nil || len(uses) != 2 || uses[0].UserAgent != "sync-job/2" || uses[1].UserAgent != "scim-rotator/9.9.9" {
		t.Fatalf("uses = %+v, %v; want the sync job's call, then the proof with the product's User-Agent", uses, err)
	}

	cfg.Usage.Source = config.UsageSourceNone
	if rot, err = Build(t.Context(), cfg, opts); err != nil || rot.Usage != nil {
		t.Fatalf("usage.source none: Usage = %v, %v; want nil", rot.Usage, err)
	}
}

// sandboxConfig starts a sandbox on a virtual clock and loads the config it
// writes.
func sandboxConfig(tb testing.TB) (*sandbox.Sandbox, *config.Config) {
	tb.Helper()
	sb := sandbox.Start(sandbox.Options{Virtual: true})
	tb.Cleanup(sb.Close)
	return sb, loadSandboxConfig(tb, sb)
}

// loadSandboxConfig loads the config sb writes for the binary.
func loadSandboxConfig(tb testing.TB, sb *sandbox.Sandbox) *config.Config {
	tb.Helper()
	files, err := sb.WriteFiles(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Load(files.Config, TargetTypes())
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}
