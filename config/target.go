package config

// TargetType is one value of targets[].type. The adapter package that
// implements the type owns its block (keys, defaults, validation); the
// factory lists every type, in the order errors name them, and gives that
// list to Load and Parse. config itself knows no type.
type TargetType struct {
	// Name is the value of targets[].type and the key of its block ("okta").
	Name string
	// NewBlock returns a new, empty block: a pointer to the struct the
	// strict decoder fills from the block's keys.
	NewBlock func() TargetBlock
}

// TargetBlock is a target type's block, decoded.
type TargetBlock interface {
	// SetDefaults fills the block's defaults; c is the whole configuration
	// (identityCenter and store defaulted).
	SetDefaults(c *Config)
	// Validate checks the defaulted block; key is its path, e.g.
	// "targets[1].okta". Errors are *Error values naming the exact key
	// (several joined with errors.Join).
	Validate(key string, c *Config) error
}

// TargetTypes is every target type a configuration may use, in order.
type TargetTypes []TargetType

// Names lists the types' names in order.
func (ts TargetTypes) Names() []string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	return names
}

func (ts TargetTypes) lookup(name string) (TargetType, bool) {
	for _, t := range ts {
		if t.Name == name {
			return t, true
		}
	}
	return TargetType{}, false
}

// Target is one place the token is pushed to. Exactly the block named by
// Type is set.
type Target struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"`
	// Block is the block named by Type; its adapter package knows its
	// concrete type.
	Block TargetBlock `yaml:"-"`

	// blocks holds every type's block found in the file, by type name, so
	// that validation names a block that does not belong.
	blocks map[string]TargetBlock
}
