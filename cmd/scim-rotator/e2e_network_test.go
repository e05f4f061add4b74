package main

import (
	"strings"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
)

// An identity store whose SCIM allow-list leaves this host out: check warns
// with the list; a rotation creates one token, is refused with it and with
// the recorded current token alike, and ends Interrupted with both kept
// (nothing rolled back or deleted), run after run; once the rules let this
// host in, the next run finishes the same rotation.
func TestE2ESCIMAllowListExcludesTheProduct(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	oldID, oldValue := e.sb.SeedLiveToken(340 * 24 * time.Hour)
	e.stageLive(oldID, oldValue)
	e.sb.IC.SetNetworkConfiguration(&sandbox.NetworkConfiguration{ScimAllowSourceIps: []string{"203.0.113.0/24", "198.51.100.7/32"}})

	code, out, errOut := e.run("check")
	if code != 0 || !strings.Contains(out, "WARN") ||
		!strings.Contains(out, "SCIM calls are allowed only from 203.0.113.0/24, 198.51.100.7/32 (ScimAllowSourceIps)") ||
		!strings.Contains(out, "network rules): run scim-rotator where its SCIM calls come from one of those sources") {
		t.Fatalf("check exit %d:\n%s\n%s", code, out, errOut)
	}

	for run := 1; run <= 2; run++ {
		code, out, errOut = e.run("rotate", "--now")
		if code != 1 || !strings.HasPrefix(out, "Interrupted") || !strings.Contains(out, "so is the recorded current token "+oldID) ||
			!strings.Contains(out, "203.0.113.0/24, 198.51.100.7/32 (ScimAllowSourceIps)") || !strings.Contains(out, "nothing was rolled back") {
			t.Fatalf("run %d: exit %d:\n%s\n%s", run, code, out, errOut)
		}
		if toks := e.sb.IC.Tokens(); len(toks) != 2 || e.sb.IC.CreatedCount() != 1 || len(e.sb.IC.DeletedIDs()) != 0 {
			t.Fatalf("run %d: tokens %+v, created %d, deleted %v: both must be kept, and only one created", run, toks, e.sb.IC.CreatedCount(), e.sb.IC.DeletedIDs())
		}
		if v, _ := e.sb.SM.Value(sandbox.SSOSyncSecret, "AWSCURRENT"); v != oldValue {
			t.Fatalf("run %d: the target was switched", run)
		}
	}

	e.sb.IC.SetNetworkConfiguration(nil)
	if code, out, errOut := e.run("rotate"); code != 0 || !strings.HasPrefix(out, "Rotated") {
		t.Fatalf("after the rules changed: exit %d:\n%s\n%s", code, out, errOut)
	}
	if e.sb.IC.CreatedCount() != 1 || len(e.sb.IC.Tokens()) != 1 {
		t.Fatalf("the kept rotation was not the one finished: created %d, tokens %+v", e.sb.IC.CreatedCount(), e.sb.IC.Tokens())
	}
	e.assertTargetsWork()
}
