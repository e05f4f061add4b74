package factory

import (
	"strings"
	"testing"

	"github.com/scim-rotator/scim-rotator/config"
)

// Every name the config accepts must resolve to a constructor.
func TestEveryConfiguredNameResolves(t *testing.T) {
	seen := map[string]bool{}
	for _, typ := range targetTypes {
		if typ.Name == "" || seen[typ.Name] || typ.NewBlock == nil || typ.build == nil {
			t.Errorf("target type %q: empty or duplicate name, or no block or constructor", typ.Name)
		}
		seen[typ.Name] = true
	}
	if got, want := strings.Join(TargetTypes().Names(), ", "), "secretsmanager, entra, okta, handoff"; got != want {
		t.Errorf("target types %s, want %s", got, want)
	}
	for _, name := range []string{config.IssuerIdentityCenter, config.IssuerManual} {
		if issuerConstructors[name] == nil {
			t.Errorf("issuer %q has no constructor", name)
		}
	}
	for _, name := range config.UsageSources {
		if _, ok := usageConstructors[name]; !ok {
			t.Errorf("usage source %q has no constructor", name)
		}
	}
	if len(usageConstructors) != len(config.UsageSources) {
		t.Errorf("constructors for %d usage sources, config knows %d", len(usageConstructors), len(config.UsageSources))
	}
}
