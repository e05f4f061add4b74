package rotator

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// With no live token recorded, check warns (a rotation could not switch a
// target back) but does not fail; the plan's detail does not start with its
// action.
func TestCheckLevels(t *testing.T) {
	w := newWorld()
	w.seed(w.now.AddDate(0, -2, 0))
	w.addTarget("a")
	res := newHarness(w).rotator().Check(t.Context())
	levels := map[string]Level{}
	for _, c := range res {
		levels[c.Name] = c.Level
		if c.Level == LevelWarn && c.Fix == "" {
			t.Errorf("warning %s says no fix", c.Name)
		}
	}
	if levels["rollback possible"] != LevelWarn || levels["plan"] != LevelOK {
		t.Fatalf("levels = %v", levels)
	}
	for _, c := range res {
		if c.Name == "plan" && strings.HasPrefix(c.Detail, string(ActionNone)) {
			t.Fatalf("plan detail repeats the action: %q", c.Detail)
		}
	}
	if (CheckResult{}).Failed() != true {
		t.Fatal("a result without a level must count as failed")
	}
}

// status -o json: lists are [] when empty, never null; next is structured;
// a system's facts are one object keyed by fact name, in order, the values
// typed (a key given twice keeps its first value).
func TestStatusJSONShape(t *testing.T) {
	w := newWorld()
	rep := newHarness(w).rotator().Status(t.Context())
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"tokens", "storeVersions", "systems", "errors"} {
		if _, ok := m[k].([]any); !ok {
			t.Errorf("%s = %v, want an array", k, m[k])
		}
	}
	next, _ := m["next"].(map[string]any)
	if next["action"] != string(ActionStart) || next["message"] == "" {
		t.Errorf("next = %v", m["next"])
	}
	sys := SystemStatus{System: "okta", Target: "o", Fields: []Field{{Key: "at", Value: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))},
		{Key: "never", Value: time.Time{}}, {Key: "ids", Value: []string(nil)}, {Key: "n", Value: 2}, {Key: "ok", Value: true}, {Key: "n", Value: 3}}}
	f, _ := json.Marshal(sys)
	if want := `{"system":"okta","target":"o","facts":{"at":"2026-01-02T02:04:05Z","never":null,"ids":[],"n":2,"ok":true}}`; string(f) != want {
		t.Errorf("system = %s\nwant     %s", f, want)
	}
	var back SystemStatus
	if err := json.Unmarshal(f, &back); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, fl := range back.Fields {
		keys = append(keys, fl.Key)
	}
	if strings.Join(keys, ",") != "at,never,ids,n,ok" || back.Fields[0].Value != "2026-01-02T02:04:05Z" || back.Target != "o" {
		t.Errorf("read back: %+v", back)
	}
	if f, _ := json.Marshal(SystemStatus{System: "health"}); string(f) != `{"system":"health","facts":{}}` {
		t.Errorf("no facts: %s", f)
	}
}
