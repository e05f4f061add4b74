package config

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written as a Go duration string ("720h", "90m").
// It remembers whether the file set it, so that an explicit 0 can be refused
// instead of being taken for "absent" and silently defaulted.
type Duration struct {
	time.Duration
	set bool
}

// IsSet reports whether the file gave the key a value.
func (d Duration) IsSet() bool { return d.set }

// UnmarshalYAML accepts a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("must be a duration such as 720h or 90m")
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("invalid duration %s: use a duration such as 720h or 90m", Quote(n.Value))
	}
	d.Duration, d.set = v, true
	return nil
}

// MarshalYAML writes the duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
