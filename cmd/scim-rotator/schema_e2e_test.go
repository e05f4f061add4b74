package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// status -o json, read from the sandbox before, during and after a rotation
// with every kind of system, matches schemas/status.schema.json (formats
// asserted).
func TestE2EStatusJSONMatchesSchema(t *testing.T) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	schema, err := c.Compile("schemas/status.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	validate := func(when string, out []byte) {
		t.Helper()
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("%s: not JSON: %v\n%s", when, err, out)
		}
		if err := schema.Validate(inst); err != nil {
			t.Fatalf("%s: status -o json does not match the schema: %v\n%s", when, err, out)
		}
	}
	e := newEnv(t, sandbox.Options{Entra: true, Okta: "handoff"})
	status := func(when string) rotator.StatusReport {
		code, out, errOut := e.run("status", "-o", "json")
		if code != 0 {
			t.Fatalf("%s: status exit %d: %s", when, code, errOut)
		}
		validate(when, []byte(out))
		var rep rotator.StatusReport
		_ = json.Unmarshal(only(t, out), &rep) // next and the rest; facts stay untyped
		return rep
	}
	status("empty: no token, no secret versions")
	e.sb.SeedLiveToken(340 * 24 * time.Hour)
	if rep := status("before"); rep.Next.Action != rotator.ActionStart {
		t.Fatalf("next = %+v", rep.Next)
	}
	if code, out, _ := e.run("rotate"); code != 0 {
		t.Fatalf("rotate exit %d: %s", code, out)
	}
	rep := status("during a hand-off")
	if rep.Rotation == nil || rep.Rotation.Phase != rotator.PhaseAwaitingHandoff {
		t.Fatalf("rotation = %+v", rep.Rotation)
	}
	// The lock, as the report will carry it while a run holds it.
	rep.Lock = &rotator.LockInfo{Owner: "host-1/1234", Acquired: rep.GeneratedAt, Expires: rep.GeneratedAt.Add(2 * time.Minute)}
	rep.Systems = nil
	rep.Systems = append(rep.Systems, rotator.SystemStatus{System: "okta", Target: "okta", Fields: []rotator.Field{
		{Key: "at", Value: time.Now()}, {Key: "never", Value: time.Time{}}, {Key: "ids", Value: []string(nil)}, {Key: "n", Value: 2}, {Key: "ok", Value: true}}})
	b, err := json.Marshal(newDocument(0, []statusEntry{{Name: "default", StatusReport: &rep}}))
	if err != nil {
		t.Fatal(err)
	}
	validate("with a lock and every kind of field value", b)
}
