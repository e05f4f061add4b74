package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
)

// embeddedSchema is the schema the binary prints with `schema NAME`,
// compiled (which checks it against the JSON Schema metaschema) with its
// formats asserted.
func embeddedSchema(t *testing.T, name string) *jsonschema.Schema {
	t.Helper()
	code, out := runBinary(t, binary, "schema", name)
	if code != 0 {
		t.Fatalf("schema %s: exit %d", name, code)
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		t.Fatalf("schema %s: not JSON: %v", name, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	url := "https://scim-rotator.test/" + name + ".schema.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatalf("schema %s is not a valid JSON Schema: %v", name, err)
	}
	return s
}

// resultDoc is the shape every -o json document shares.
type resultDoc struct {
	SchemaVersion int                          `json:"schemaVersion"`
	ExitCode      int                          `json:"exitCode"`
	Instances     []map[string]json.RawMessage `json:"instances"`
}

// validDoc asserts that out is exactly one JSON document (nothing before
// or after it) that matches schema, with the exit code code in it, and
// that it still matches once a field is added to every object in it (the
// contract: fields are only ever added within a schemaVersion). It returns
// the document.
func validDoc(t *testing.T, what string, schema *jsonschema.Schema, code int, out string) resultDoc {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: not JSON: %v\n%s", what, err, out)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("%s: more than one JSON document on stdout:\n%s", what, out)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(inst); err != nil {
		t.Fatalf("%s does not match its schema: %v\n%s", what, err, out)
	}
	if err := schema.Validate(withAddedFields(inst)); err != nil {
		t.Fatalf("%s with a field added to every object does not match its schema (fields are only ever added): %v", what, err)
	}
	var doc resultDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SchemaVersion != 1 || doc.ExitCode != code {
		t.Fatalf("%s: schemaVersion %d, exitCode %d; want 1 and the process's %d\n%s", what, doc.SchemaVersion, doc.ExitCode, code, out)
	}
	return doc
}

// withAddedFields is v with a field a later version might add in every
// object.
func withAddedFields(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{"addedLater": "a value"}
		for k, e := range x {
			out[k] = withAddedFields(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = withAddedFields(e)
		}
		return out
	}
	return v
}

// field decodes one field of an instance entry.
func field[T any](t *testing.T, entry map[string]json.RawMessage, key string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(entry[key], &v); err != nil {
		t.Fatalf("%s: %v (%s)", key, err, entry[key])
	}
	return v
}

func names(doc resultDoc) string {
	var ns []string
	for _, in := range doc.Instances {
		var n string
		_ = json.Unmarshal(in["name"], &n)
		ns = append(ns, n)
	}
	return strings.Join(ns, ",")
}

// `schema NAME` prints the embedded file, a valid JSON Schema; `schema
// config` prints what `config schema` prints. No object of an output
// schema refuses properties it does not list; each says the contract and
// pins its schemaVersion.
func TestE2ESchemaCommand(t *testing.T) {
	for _, name := range []string{"status", "check", "rotate"} {
		embeddedSchema(t, name)
		_, out := runBinary(t, binary, "schema", name)
		file, err := os.ReadFile("schemas/" + name + ".schema.json")
		if err != nil || out != string(file) {
			t.Fatalf("schema %s does not print schemas/%s.schema.json (%v)", name, name, err)
		}
		if strings.Contains(out, `"additionalProperties": false`) {
			t.Errorf("schema %s has additionalProperties false: a consumer validating with it would refuse an added field", name)
		}
		var s struct {
			Description string `json:"description"`
			Properties  struct {
				SchemaVersion struct {
					Const *int `json:"const"`
				} `json:"schemaVersion"`
			} `json:"properties"`
		}
		if err := json.Unmarshal([]byte(out), &s); err != nil || s.Properties.SchemaVersion.Const == nil || *s.Properties.SchemaVersion.Const != 1 ||
			!strings.Contains(s.Description, "fields are only ever added") {
			t.Errorf("schema %s: no schemaVersion const 1 or no contract in its description (%v)", name, err)
		}
	}
	embeddedSchema(t, "config")
	_, a := runBinary(t, binary, "schema", "config")
	_, b := runBinary(t, binary, "config", "schema")
	if a != b || !strings.Contains(a, `"identityCenter"`) {
		t.Fatalf("schema config and config schema differ")
	}
	if code, out := runBinary(t, binary, "schema", "nope"); code != 2 || out != "" {
		t.Fatalf("schema nope: exit %d, %q", code, out)
	}
}

// One instance: status, check and rotate (dry run, a hand-off, --continue
// before and after the paste) print one document each, valid against the
// binary's own schemas, the instance named "default".
func TestE2EResultsOneInstance(t *testing.T) {
	e := newEnv(t, sandbox.Options{Entra: true, Okta: "handoff"})
	status, check, rotate := embeddedSchema(t, "status"), embeddedSchema(t, "check"), embeddedSchema(t, "rotate")

	code, out, _ := e.run("status", "-o", "json")
	doc := validDoc(t, "status before any token", status, code, out)
	if code != 0 || names(doc) != "default" {
		t.Fatalf("status: exit %d, instances %s", code, names(doc))
	}
	code, out, _ = e.run("check", "-o", "json")
	validDoc(t, "check", check, code, out)

	oldID, _ := e.sb.SeedLiveToken(340 * 24 * time.Hour)
	code, out, errOut := e.run("rotate", "--dry-run", "-o", "json")
	doc = validDoc(t, "rotate --dry-run", rotate, code, out)
	dry := doc.Instances[0]
	plan := field[struct {
		Action  string   `json:"action"`
		Steps   []string `json:"steps"`
		Targets []string `json:"targets"`
	}](t, dry, "plan")
	if code != 0 || field[string](t, dry, "outcome") != "DryRun" || plan.Action != "Start" || len(plan.Steps) == 0 ||
		strings.Join(plan.Targets, ",") != "ssosync,entra,okta" || field[string](t, dry, "oldTokenId") != oldID || len(e.sb.IC.Tokens()) != 1 {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errOut)
	}

	code, out, errOut = e.run("rotate", "-o", "json")
	doc = validDoc(t, "rotate into a hand-off", rotate, code, out)
	r := doc.Instances[0]
	targets := field[[]struct{ Name, State, Detail string }](t, r, "targets")
	steps := field[[]struct {
		Step            string  `json:"step"`
		DurationSeconds float64 `json:"durationSeconds"`
	}](t, r, "steps")
	newID := field[string](t, r, "newTokenId")
	if code != 0 || field[string](t, r, "outcome") != "AwaitingHandoff" || field[int](t, r, "exitCode") != 0 ||
		field[string](t, r, "oldTokenId") != oldID || newID == "" || newID == oldID ||
		len(targets) != 3 || targets[2].Name != "okta" || targets[2].State != "AwaitingHandoff" ||
		len(field[[]string](t, r, "nextActions")) == 0 || len(steps) == 0 || field[float64](t, r, "durationSeconds") <= 0 {
		t.Fatalf("hand-off: exit %d\n%s\n%s", code, out, errOut)
	}
	// Recording the steps costs no log line: they are still logged.
	if strings.Contains(out, "Next:") || !strings.Contains(errOut, "step started") || !strings.Contains(errOut, "step done") {
		t.Fatalf("logs belong on stderr, each step's among them, the text output nowhere:\n%s\n%s", out, errOut)
	}

	code, out, _ = e.run("status", "-o", "json")
	doc = validDoc(t, "status during a hand-off", status, code, out)
	systems := field[[]struct {
		System string         `json:"system"`
		Target string         `json:"target"`
		Facts  map[string]any `json:"facts"`
	}](t, doc.Instances[0], "systems")
	var facts int
	for _, s := range systems {
		facts += len(s.Facts)
	}
	if len(systems) < 4 || facts < 8 {
		t.Fatalf("status systems: %+v", systems)
	}

	// The operator pastes the token; --continue finishes.
	var rec struct {
		Token string `json:"token"`
	}
	pending, _ := e.sb.SM.Value(sandbox.StoreSecret, "AWSPENDING")
	if err := json.Unmarshal([]byte(pending), &rec); err != nil {
		t.Fatal(err)
	}
	e.sb.Okta.SetTokenInAdminConsole(sandbox.OktaHandoffApp, rec.Token)
	code, out, errOut = e.run("rotate", "--continue", "-o", "json")
	doc = validDoc(t, "rotate --continue", rotate, code, out)
	r = doc.Instances[0]
	if code != 0 || field[string](t, r, "outcome") != "Rotated" || field[string](t, r, "newTokenId") != newID ||
		!field[struct{ Continue bool }](t, r, "requested").Continue {
		t.Fatalf("continue: exit %d\n%s\n%s", code, out, errOut)
	}
	// Nothing pending now: no run is made, exit 1, said in the document.
	code, out, _ = e.run("rotate", "--continue", "-o", "json")
	doc = validDoc(t, "rotate --continue with nothing pending", rotate, code, out)
	r = doc.Instances[0]
	if code != 1 || r["outcome"] != nil || !strings.HasPrefix(field[string](t, r, "message"), "No hand-off is pending") ||
		!field[struct{ Continue bool }](t, r, "requested").Continue {
		t.Fatalf("continue with nothing pending: exit %d\n%s", code, out)
	}
	code, out, _ = e.run("rotate", "-o", "json")
	doc = validDoc(t, "rotate (not due)", rotate, code, out)
	if r := doc.Instances[0]; code != 0 || field[string](t, r, "outcome") != "NotDue" || len(field[[]any](t, r, "targets")) != 0 || r["rotationId"] != nil {
		t.Fatalf("not due: exit %d\n%s", code, out)
	}
	if code, _, errOut := e.run("rotate", "-o", "yaml"); code != 2 || !strings.Contains(errOut, "use text or json") {
		t.Fatalf("-o yaml: exit %d: %s", code, errOut)
	}
}

// Three instances, the third of which cannot be built: the same documents,
// one entry per instance in the file's order, the broken one with its
// error, the exit code the worst (2) in the document and of the process.
func TestE2EResultsThreeInstances(t *testing.T) {
	e := fleetEnv(t, 3, func(c map[string]any) { unbuildable(c, 2) })
	status, check, rotate := embeddedSchema(t, "status"), embeddedSchema(t, "check"), embeddedSchema(t, "rotate")
	var live []string
	for _, inst := range e.sb.Instances {
		id, _ := inst.SeedLiveToken(340 * 24 * time.Hour)
		live = append(live, id)
	}
	const all = "org-01,org-02,org-03"

	code, out, _ := e.run("status", "-o", "json")
	doc := validDoc(t, "status", status, code, out)
	if code != 2 || names(doc) != all || !strings.Contains(field[string](t, doc.Instances[2], "error"), "SR_E2E_UNSET_OKTA_TOKEN") ||
		field[map[string]any](t, doc.Instances[0], "next")["action"] != "Start" {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
	code, out, _ = e.run("check", "-o", "json")
	doc = validDoc(t, "check", check, code, out)
	if code != 2 || names(doc) != all || field[int](t, doc.Instances[0], "exitCode") != 0 || field[int](t, doc.Instances[2], "exitCode") != 2 {
		t.Fatalf("check: exit %d\n%s", code, out)
	}
	code, out, _ = e.run("rotate", "--dry-run", "-o", "json")
	doc = validDoc(t, "rotate --dry-run", rotate, code, out)
	if code != 2 || names(doc) != all || field[string](t, doc.Instances[1], "outcome") != "DryRun" {
		t.Fatalf("rotate --dry-run: exit %d\n%s", code, out)
	}
	code, out, errOut := e.run("rotate", "--now", "-o", "json")
	doc = validDoc(t, "rotate --now", rotate, code, out)
	if code != 2 || names(doc) != all {
		t.Fatalf("rotate --now: exit %d\n%s\n%s", code, out, errOut)
	}
	for i, r := range doc.Instances[:2] {
		targets := field[[]struct{ Name, State string }](t, r, "targets")
		if field[string](t, r, "outcome") != "Rotated" || field[string](t, r, "oldTokenId") != live[i] || field[string](t, r, "newTokenId") == "" ||
			len(targets) != 1 || targets[0].State != "Confirmed" || len(field[[]any](t, r, "steps")) < 4 {
			t.Errorf("instance %d: %s", i, bytes.TrimSpace([]byte(out)))
		}
	}
	if r := doc.Instances[2]; field[int](t, r, "exitCode") != 2 || r["outcome"] != nil || !strings.Contains(field[string](t, r, "error"), "SR_E2E_UNSET_OKTA_TOKEN") {
		t.Fatalf("the broken instance: %s", out)
	}
	code, out, _ = e.run("rotate", "-o", "json", "--instance", "org-02")
	doc = validDoc(t, "rotate --instance org-02", rotate, code, out)
	if code != 0 || names(doc) != "org-02" || field[string](t, doc.Instances[0], "outcome") != "NotDue" {
		t.Fatalf("rotate --instance org-02: exit %d\n%s", code, out)
	}
}

// only is the entry of the one instance a -o json document lists, as JSON.
func only(t testing.TB, out string) []byte {
	t.Helper()
	var doc struct {
		Instances []json.RawMessage `json:"instances"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Instances) != 1 {
		t.Fatalf("want a document with one instance (%v):\n%s", err, out)
	}
	return doc.Instances[0]
}

// checksOf is the checks of the one instance of a check -o json document.
func checksOf(t testing.TB, out string) []byte {
	t.Helper()
	var entry struct {
		Checks json.RawMessage `json:"checks"`
	}
	if err := json.Unmarshal(only(t, out), &entry); err != nil {
		t.Fatal(err)
	}
	return entry.Checks
}

// byName is each instance entry of a -o json document, decoded, by name.
func byName[T any](t testing.TB, out string) map[string]T {
	t.Helper()
	var doc struct {
		Instances []json.RawMessage `json:"instances"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not a -o json document (%v):\n%s", err, out)
	}
	m := map[string]T{}
	for _, raw := range doc.Instances {
		var name struct {
			Name string `json:"name"`
		}
		var v T
		if err := json.Unmarshal(raw, &name); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		m[name.Name] = v
	}
	return m
}
