package charts

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scim-rotator/scim-rotator/adapters/factory"
	"github.com/scim-rotator/scim-rotator/config"
)

var update = flag.Bool("update", false, "rewrite values.schema.json's config with `scim-rotator config schema`")

// regenerate is how to bring the chart's copy of the config schema in step.
const regenerate = "go test ./charts/ -run TestValuesSchemaConfigIsGenerated -update"

// TestValuesSchemaConfigIsGenerated keeps one source of truth: values.schema.json's config is the
// schema `scim-rotator config schema` prints (config.JSONSchema with the factory's target types),
// without its $schema and title. With -update it rewrites that part of the file in place.
func TestValuesSchemaConfigIsGenerated(t *testing.T) {
	path := filepath.Join(chartDir, "values.schema.json")
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	start, end, err := configSpan(file)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	s := config.JSONSchema(factory.TargetTypes())
	s.SchemaURI, s.Title = "", ""
	s.Description = "The rotator's config file, validated here as strictly as its loader does (`scim-rotator config schema`; " +
		"checks across keys, such as unique names, stay the loader's)."
	want, err := json.MarshalIndent(s, "    ", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		out := append(append(append([]byte{}, file[:start]...), want...), file[end:]...)
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	var got, gen any
	if err := json.Unmarshal(file[start:end], &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &gen); err != nil {
		t.Fatal(err)
	}
	if g, w := mustJSON(t, got), mustJSON(t, gen); !bytes.Equal(g, w) {
		t.Errorf("%s: properties.config differs from `scim-rotator config schema`: run\n  %s", path, regenerate)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v) // maps' keys sorted: a canonical form
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// configSpan finds the bytes of the value of properties.config in a JSON document.
func configSpan(doc []byte) (start, end int, err error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	// walk descends into the object at the decoder's position to key path[0], and so on.
	var walk func(path []string) error
	walk = func(path []string) error {
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			return fmt.Errorf("not an object before %s", strings.Join(path, "."))
		}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			if tok == path[0] {
				if len(path) > 1 {
					return walk(path[1:])
				}
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return err
				}
				end = int(dec.InputOffset())
				start = end - len(raw)
				return nil
			}
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return err
			}
		}
		return fmt.Errorf("no key %s", path[0])
	}
	err = walk([]string{"properties", "config"})
	return start, end, err
}
