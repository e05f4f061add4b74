package main

import (
	"bytes"
	"encoding/json"
	"regexp"
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
	if err := json.Unmarshal(checksOf(t, out), &checks); err != nil || code != 1 {
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
	if err := json.Unmarshal(only(t, out), &st); err != nil || code != 1 {
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

// A CloudTrail that never answers (every LookupEvents hangs) costs check and
// status only what CloudTrail reads: every other system answers (each is
// asked at once) and is printed, in the configured order, named as
// configured; the tokens' last use is "unknown", never unused; exit 1.
func TestE2ETimeoutHangingCloudTrail(t *testing.T) {
	e := newEnv(t, sandbox.Options{Entra: true})
	id, _ := e.sb.SeedLiveToken(30 * 24 * time.Hour)
	e.sb.Faults.Inject("cloudtrail:LookupEvents", sandbox.Fault{Hang: true, Repeat: true})
	noGoTypes := func(cmd, out string) {
		t.Helper()
		if m := regexp.MustCompile(`\(\*?[a-z]+\.[A-Z]\w*\)`).FindString(out); m != "" {
			t.Errorf("%s names a system by its Go type %s:\n%s", cmd, m, out)
		}
	}

	code, out, errOut := e.run("check", "--timeout", "5s", "-o", "json")
	var checks []struct{ System, Target, Name, Level, Detail string }
	if err := json.Unmarshal(checksOf(t, out), &checks); err != nil || code != 1 {
		t.Fatalf("check exit %d (want 1), %v:\n%s\n%s", code, err, out, errOut)
	}
	var order []string
	for _, c := range checks {
		key := strings.TrimSpace(c.System + " " + c.Target)
		if i := len(order) - 1; i < 0 || order[i] != key {
			order = append(order, key)
		}
		timedOut := strings.Contains(c.Detail, "timed out after 5s")
		if timedOut != (key == "usage") {
			t.Errorf("%s %s: %s %s; want only usage (CloudTrail) timed out", key, c.Name, c.Level, c.Detail)
		}
		if key == "usage" && c.Detail != "usage: timed out after 5s (--timeout)" {
			t.Errorf("usage: %q, want it named as configured", c.Detail)
		}
	}
	want := "config,aws,identitycenter,secretsmanager-store,usage,secretsmanager-target ssosync,entra entra,rotation"
	if got := strings.Join(order, ","); got != want {
		t.Fatalf("check's systems %s, want %s:\n%s", got, want, out)
	}
	code, out, _ = e.run("check", "--timeout", "5s")
	if code != 1 || !strings.Contains(out, "FAIL   usage") || !strings.Contains(out, "OK     entra") {
		t.Fatalf("check (table) exit %d:\n%s", code, out)
	}
	noGoTypes("check", out)

	code, out, errOut = e.run("status", "--timeout", "5s", "-o", "json")
	var st struct {
		Tokens []struct {
			ID         string `json:"id"`
			Use        any    `json:"use"`
			UseUnknown bool   `json:"useUnknown"`
		} `json:"tokens"`
		Next struct {
			Action string `json:"action"`
		} `json:"next"`
		Versions []any `json:"storeVersions"`
		Systems  []struct {
			System, Target string
		} `json:"systems"`
		Errors []string `json:"errors"`
	}
	if err := json.Unmarshal(only(t, out), &st); err != nil || code != 1 {
		t.Fatalf("status exit %d (want 1), %v:\n%s\n%s", code, err, out, errOut)
	}
	if len(st.Tokens) != 1 || st.Tokens[0].ID != id || st.Tokens[0].Use != nil || !st.Tokens[0].UseUnknown {
		t.Errorf("tokens %+v, want the live token with its use not known", st.Tokens)
	}
	var systems []string
	for _, s := range st.Systems {
		systems = append(systems, strings.TrimSpace(s.System+" "+s.Target))
	}
	if got := strings.Join(systems, ","); got != "identitycenter,secretsmanager-store,secretsmanager-target ssosync,entra entra" || st.Next.Action == "" {
		t.Errorf("systems %s, next %+v: want every system but CloudTrail, in order, and the plan", got, st.Next)
	}
	if got := strings.Join(st.Errors, "\n"); got != "look up token use: timed out after 5s (--timeout)\nusage: timed out after 5s (--timeout)" {
		t.Errorf("errors %q, want only CloudTrail's reads timed out", got)
	}
	if !strings.Contains(errOut, "timed out after 5s") {
		t.Errorf("status's stderr does not say it timed out: %s", errOut)
	}
	code, out, _ = e.run("status", "--timeout", "5s")
	if code != 1 || !regexp.MustCompile(id+`\s+\S+\s+\S+\s+\d+\s+live\s+unknown\s+-\s+-\s+unknown`).MatchString(out) {
		t.Fatalf("status (table) exit %d, want the live token's last use and calls unknown:\n%s", code, out)
	}
	noGoTypes("status", out)
}

// check and status in this process, against the sandbox with every kind of
// system: under `go test -race` it is what shows that the real adapters
// may be asked at once (check and status ask every system concurrently).
func TestStatusAndCheckAskAtOnceInProcess(t *testing.T) {
	e := newEnv(t, sandbox.Options{Entra: true, Okta: "api"})
	e.sb.SeedLiveToken(30 * 24 * time.Hour)
	for _, kv := range append(e.files.Env, "HOME="+e.files.Dir) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	for _, cmd := range []string{"check", "status"} {
		var out, errOut bytes.Buffer
		code := run(t.Context(), []string{cmd, "-o", "json"}, strings.NewReader(""), &out, &errOut)
		e.record(out.String(), errOut.String())
		if code != 0 || !strings.Contains(out.String(), `"okta"`) || !strings.Contains(out.String(), `"entra"`) {
			t.Fatalf("%s: exit %d:\n%s\n%s", cmd, code, out.String(), errOut.String())
		}
	}
}
