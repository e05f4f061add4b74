package sandbox

import (
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// A fleet sandbox writes the fleet form of issue 11; a single-instance one
// keeps today's form.
func TestFleetConfig(t *testing.T) {
	s := Start(Options{Instances: 3, Entra: true})
	defer s.Close()
	f, err := s.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(f.Config)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		RotateBefore   string         `yaml:"rotateBefore"`
		Usage          map[string]any `yaml:"usage"`
		IdentityCenter any            `yaml:"identityCenter"`
		Instances      []struct {
			Name string `yaml:"name"`
			AWS  struct {
				RoleArn    string `yaml:"roleArn"`
				ExternalID string `yaml:"externalId"`
			} `yaml:"aws"`
			IdentityCenter struct {
				IdentityStoreID string `yaml:"identityStoreId"`
				Endpoint        string `yaml:"endpoint"`
			} `yaml:"identityCenter"`
			Store   map[string]any   `yaml:"store"`
			Targets []map[string]any `yaml:"targets"`
		} `yaml:"instances"`
	}
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	if c.RotateBefore == "" || c.Usage["endpoint"] != s.URL("cloudtrail") || c.IdentityCenter != nil || len(c.Instances) != 3 {
		t.Fatalf("fleet config:\n%s", raw)
	}
	for i, inst := range c.Instances {
		want := s.Instances[i]
		if inst.Name != want.Name || inst.AWS.RoleArn != want.RoleARN || inst.AWS.ExternalID != want.ExternalID ||
			inst.IdentityCenter.IdentityStoreID != want.IdentityStoreID || inst.Store["secretId"] != want.StoreSecret {
			t.Errorf("instance %d: %+v, want %+v", i, inst, want)
		}
		// Only the default instance holds the Entra target.
		if n := len(inst.Targets); n != map[bool]int{true: 2, false: 1}[i == 0] {
			t.Errorf("instance %s: %d targets", inst.Name, n)
		}
	}
	if c.Instances[0].AWS.RoleArn != "" || c.Instances[1].AWS.RoleArn == "" {
		t.Errorf("roles: %+v", c.Instances)
	}
	if !slices.Contains(f.Env, "AWS_ENDPOINT_URL_STS="+s.URL("sts")) {
		t.Errorf("env %v", f.Env)
	}

	single := Start(Options{})
	defer single.Close()
	m := single.ConfigMap(nil)
	if m["instances"] != nil || m["identityCenter"] == nil || m["store"].(map[string]any)["secretId"] != StoreSecret {
		t.Errorf("single-instance config %v", m)
	}
	if strings.Contains(string(raw), SecretAccessKey) {
		t.Error("the config holds a secret")
	}
}

// The config the sandbox writes lists each target's (and instance's) name
// and type first, as a person writes them, in both forms.
func TestWrittenConfigListsNameAndTypeFirst(t *testing.T) {
	for name, opts := range map[string]Options{
		"single": {Entra: true, Okta: "api", Handoff: true, Slack: true},
		"fleet":  {Instances: 2},
	} {
		t.Run(name, func(t *testing.T) {
			s := Start(opts)
			defer s.Close()
			f, err := s.WriteFiles(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(f.Config)
			if err != nil {
				t.Fatal(err)
			}
			var doc yaml.Node
			if err := yaml.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			blocks := 0
			var walk func(*yaml.Node)
			walk = func(n *yaml.Node) {
				if n.Kind == yaml.MappingNode {
					var keys []string
					for i := 0; i < len(n.Content); i += 2 {
						keys = append(keys, n.Content[i].Value)
					}
					if slices.Contains(keys, "name") {
						blocks++
						want := []string{"name"}
						if slices.Contains(keys, "type") {
							want = append(want, "type")
						}
						if !slices.Equal(keys[:len(want)], want) {
							t.Errorf("keys %v: want %v first\n%s", keys, want, b)
						}
					}
				}
				for _, c := range n.Content {
					walk(c)
				}
			}
			walk(&doc)
			if blocks == 0 {
				t.Fatalf("no block with a name:\n%s", b)
			}
		})
	}
}
