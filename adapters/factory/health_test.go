package factory

import (
	"testing"

	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
)

// health.enabled wires the expiry watch to health.endpoint; off wires none.
func TestBuildHealth(t *testing.T) {
	sb, cfg := sandboxConfig(t)
	opts := Options{Logger: zap.NewNop(), Clock: sb.Clock, HTTPClient: sb.Client, AWSCredentials: sandbox.AWSCredentials()}
	rot, err := Build(t.Context(), cfg, opts)
	if err != nil || rot.Health != nil {
		t.Fatalf("health off by default: %v %v", rot.Health, err)
	}
	cfg.Health.Enabled, cfg.Health.Endpoint = true, sb.URL("health")
	if rot, err = Build(t.Context(), cfg, opts); err != nil || rot.Health == nil {
		t.Fatalf("health.enabled built no watch: %v", err)
	}
	sb.Health.AddNotice("tok-1", sb.Clock.Now().AddDate(0, 2, 0))
	if n, err := rot.Health.Notices(t.Context()); err != nil || len(n) != 1 || n[0].TokenID != "tok-1" {
		t.Fatalf("notices %+v %v", n, err)
	}
	if len(healthConstructors) != 2 {
		t.Fatal("one constructor for each value of health.enabled")
	}
}
