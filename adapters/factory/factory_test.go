package factory

import (
	"testing"

	"github.com/scim-rotator/scim-rotator/config"
)

// Every name the config accepts must resolve to a constructor.
func TestEveryConfiguredNameResolves(t *testing.T) {
	for _, typ := range config.TargetTypes {
		if targetConstructors[typ] == nil {
			t.Errorf("target type %q has no constructor", typ)
		}
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
	if len(targetConstructors) != len(config.TargetTypes) {
		t.Errorf("constructors for %d target types, config knows %d", len(targetConstructors), len(config.TargetTypes))
	}
}
