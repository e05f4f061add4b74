package config

import (
	"strings"
	"testing"
)

// fakeBlock stands for a target type's block in this package's tests (the
// real blocks live in their adapter packages, which import config).
type fakeBlock struct {
	SecretID string `yaml:"secretId"`
	Region   string `yaml:"region"`
}

func (b *fakeBlock) SetDefaults(c *Config) {
	if b.Region == "" {
		b.Region = c.IdentityCenter.Region
	}
}

func (b *fakeBlock) Validate(key string, _ *Config) error {
	if b.SecretID == "" {
		return &Error{Key: key + ".secretId", Msg: "required"}
	}
	return nil
}

func fakeType(name string) TargetType {
	return TargetType{Name: name, NewBlock: func() TargetBlock { return new(fakeBlock) }}
}

// testTypes has the names of the real types, in the factory's order.
var testTypes = TargetTypes{fakeType("secretsmanager"), fakeType("entra"), fakeType("okta")}

func parse(data []byte) (*Config, error) { return Parse(data, testTypes) }

// The envelope is config's; the block is its type's, decoded strictly,
// defaulted and validated under its own key.
func TestTargetBlocks(t *testing.T) {
	c, err := parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if b, ok := c.Targets[0].Block.(*fakeBlock); !ok || b.SecretID != "x" || b.Region != "us-east-1" {
		t.Fatalf("block = %#v", c.Targets[0].Block)
	}
	cases := []struct{ from, to, want string }{
		{"type: secretsmanager", "type: googleworkspace", `targets[0].type: unknown target type "googleworkspace": one of secretsmanager, entra, okta`},
		{"    type: secretsmanager\n", "", "targets[0].type: required: one of secretsmanager, entra, okta"},
		{"      secretId: x\n", "      secretId: x\n    okta:\n      secretId: y\n", "targets[0].okta: not allowed with type secretsmanager"},
		{"    secretsmanager:\n      secretId: x\n", "    secretsmanager:\n", "targets[0].secretsmanager: required with type secretsmanager"},
		{"      secretId: x\n", "      secretId: \"\"\n", "targets[0].secretsmanager.secretId: required"},
		{"      secretId: x\n", "      secretid: x\n", "targets[0].secretsmanager.secretid: unknown key: did you mean secretId? (known keys: region, secretId)"},
		{"    type: secretsmanager\n", "    type: secretsmanager\n    slack: {}\n", "targets[0].slack: unknown key (known keys: entra, name, okta, secretsmanager, type)"},
	}
	for _, tt := range cases {
		_, err := parse([]byte(strings.Replace(minimal, tt.from, tt.to, 1)))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%q -> %q: error %v, want %q", tt.from, tt.to, err, tt.want)
		}
	}
}
