package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
)

// A system that never answers (Graph hangs until the caller leaves) cannot
// hold check or status past --timeout: it reports "timed out after 5s", every
// other system keeps its result, the whole output is printed (and -o json
// parses) and the exit code is 1.
func TestE2ETimeoutReportsEverySystem(t *testing.T) {
	e := newEnv(t, sandbox.Options{Entra: true})
	e.sb.SeedLiveToken(30 * 24 * time.Hour)
	for _, op := range []string{"graph:GetJobs", "graph:GetJob"} {
		e.sb.Faults.Inject(op, sandbox.Fault{Hang: true, Repeat: true})
	}

	code, out, errOut := e.run("check", "--timeout", "5s", "-o", "json")
	var checks []struct {
		System, Target, Name, Level, Detail string
	}
	if err := json.Unmarshal([]byte(out), &checks); err != nil || code != 1 {
		t.Fatalf("check exit %d (want 1), %v:\n%s\n%s", code, err, out, errOut)
	}
	levels := map[string]string{}
	for _, c := range checks {
		key := c.System
		if c.Target != "" {
			key += " " + c.Target
		}
		if strings.Contains(c.Detail, "timed out after 5s") {
			levels[key] = "timed out"
		} else if levels[key] == "" || c.Level != "OK" {
			levels[key] = c.Level
		}
	}
	if levels["identitycenter"] != "OK" || levels["secretsmanager-store"] != "OK" || levels["secretsmanager-target ssosync"] != "OK" ||
		levels["rotation"] == "timed out" {
		t.Errorf("every other system keeps its result: %v", levels)
	}
	if levels["target entra"] != "timed out" {
		t.Fatalf("the hung target: FAIL timed out after 5s; got %v\n%s", levels, out)
	}

	code, out, errOut = e.run("status", "--timeout", "5s", "-o", "json")
	var st struct {
		Tokens []struct {
			ID string `json:"id"`
		} `json:"tokens"`
		Errors []string `json:"errors"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || code != 1 {
		t.Fatalf("status exit %d (want 1), %v:\n%s\n%s", code, err, out, errOut)
	}
	if len(st.Tokens) != 1 || strings.Join(st.Errors, "\n") != "target entra: timed out after 5s (--timeout)" {
		t.Fatalf("status: the tokens, and only the hung system timed out: %+v", st)
	}
	if !strings.Contains(errOut, "timed out after 5s") {
		t.Errorf("status's stderr does not say it timed out: %s", errOut)
	}
	if code, _, errOut := e.run("check", "--timeout", "0s"); code != 2 || !strings.Contains(errOut, "--timeout") {
		t.Errorf("--timeout 0s: exit %d, %s; want a usage error naming the flag", code, errOut)
	}
}
