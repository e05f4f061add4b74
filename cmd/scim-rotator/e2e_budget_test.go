package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
)

// The store's write budget (issue 15) with the real binary: Secrets Manager
// keeps every version of the store secret for a day and takes none past its
// quota, so a run writes only what the next run needs.

// storeWrites counts the versions written to the store secret and its
// label moves so far.
func (e *env) storeWrites() (versions, moves int) {
	return len(e.sb.SM.Written(sandbox.StoreSecret)), e.sb.Faults.Count("secretsmanager:UpdateSecretVersionStage")
}

// A run that finds the token not due, with nothing in progress, writes
// nothing: no version, no label moved. Neither do status and check.
func TestE2ENotDueWritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{Entra: true})
	id, value := e.sb.SeedLiveToken(30 * 24 * time.Hour) // 335 days left: not due
	e.stageLive(id, value)
	versions, moves := e.storeWrites()
	for _, args := range [][]string{{"rotate"}, {"rotate"}, {"status", "-o", "json"}, {"check"}, {"rotate", "--dry-run"}} {
		code, out, errOut := e.run(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, out, errOut)
		}
		if args[0] == "rotate" && len(args) == 1 && !strings.HasPrefix(out, "NotDue: ") {
			t.Fatalf("rotate: %s", out)
		}
	}
	if v, m := e.storeWrites(); v != versions || m != moves {
		t.Fatalf("not-due runs wrote %d versions and moved %d labels", v-versions, m-moves)
	}
}

// A rotation that waits out a quiet period twice as long as its lease
// writes no version while it waits: the lease lapses, and the deletion after
// the wait takes it again with one write. The rotation as a whole stays
// within its budget.
func TestE2ELongWaitWritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	e.setConfig("quietPeriod: 3s", "quietPeriod: 20s")
	e.editConfig("lockTimeout: 10s\n")
	oldID, _ := e.recordLive()
	versions, _ := e.storeWrites()
	a := e.start("rotate", "--now")

	// Promoted: the quiet wait begins.
	var atPromote int
	deadline := time.Now().Add(maxWait)
	for e.storeTokenID("AWSCURRENT") == oldID {
		if time.Now().After(deadline) {
			t.Fatal("never promoted")
		}
		time.Sleep(50 * time.Millisecond)
	}
	atPromote, _ = e.storeWrites()
	promoted := time.Now()
	atDelete := -1
	for len(e.sb.IC.DeletedIDs()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the old token was never deleted")
		}
		atDelete, _ = e.storeWrites()
		time.Sleep(50 * time.Millisecond)
	}
	code, out, errOut := a.wait()
	if code != 0 || !strings.HasPrefix(out, "Rotated: ") {
		t.Fatalf("exit %d:\n%s\n%s", code, out, errOut)
	}
	if waited := time.Since(promoted); waited < 15*time.Second {
		t.Fatalf("the quiet wait took %s: not longer than the lease", waited)
	}
	// During the wait nothing; then at most the write that takes the lease
	// again before the deletion.
	if atDelete-atPromote > 1 {
		t.Fatalf("%d store versions written while waiting the quiet period out", atDelete-atPromote)
	}
	total, _ := e.storeWrites()
	if n := total - versions; n > 10 {
		t.Fatalf("the rotation wrote %d store versions", n)
	}
	e.assertSafe()
}

// Another writer filled the store secret up to Secrets Manager's version
// quota, or to 3 versions short of it: the run stops before it creates a
// token (Interrupted, exit 1; no CreateBearerToken, no write), saying which
// secret, how many versions it took in the last 24 hours and when enough
// age out; nothing changes anywhere. check fails on it and status shows it.
func TestE2EStoreFullStopsBeforeCreating(t *testing.T) {
	for _, short := range []int{0, 3} {
		t.Run(fmt.Sprintf("%d short of the quota", short), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, sandbox.Options{Entra: true})
			e.recordLive()
			for range 100 - short - e.sb.SM.VersionCount(sandbox.StoreSecret) {
				e.sb.SM.Put(sandbox.StoreSecret, `{"written":"by something else"}`, "OTHER_WRITER")
			}
			before := e.world()
			e.sb.Faults.ResetCalls()
			code, out, errOut := e.run("rotate", "--now")
			if code != 1 || !strings.HasPrefix(out, "Interrupted: ") {
				t.Fatalf("exit %d, want 1 Interrupted:\n%s\n%s", code, out, errOut)
			}
			for _, want := range []string{"secret " + sandbox.StoreSecret + " holds " + strconv.Itoa(100-short) + " versions created in the last 24 hours",
				"room for " + strconv.Itoa(short) + " more", "enough of them age out at ", "something else writes this secret", "no token was created"} {
				if !strings.Contains(out, want) {
					t.Fatalf("the output does not say %q:\n%s\n%s", want, out, errOut)
				}
			}
			if e.sb.IC.CreatedCount() != 0 || e.sb.Faults.Count("identitycenter:CreateBearerToken") != 0 {
				t.Fatal("a token was created although the store could not take the rotation's writes")
			}
			if n := e.sb.Faults.Count("secretsmanager:PutSecretValue") + e.sb.Faults.Count("secretsmanager:UpdateSecretVersionStage"); n != 0 {
				t.Fatalf("%d writes to the store: want none", n)
			}
			if after := e.world(); after.Versions != before.Versions || after.Targets["ssosync"] != before.Targets["ssosync"] || after.Targets["entra"] != before.Targets["entra"] {
				t.Fatalf("a run on a full store changed something:\nbefore %+v\nafter  %+v", before, after)
			}
			if e.slackCount("Interrupted") != 0 {
				t.Fatal("alerted at once: a full store is alerted once it has lasted an hour")
			}

			code, out, _ = e.run("check")
			if code != 1 || !strings.Contains(out, "store headroom") || !strings.Contains(out, "a rotation would stop before creating its token") {
				t.Fatalf("check exit %d:\n%s", code, out)
			}
			code, out, _ = e.run("status")
			if code != 0 || !strings.Contains(out, "Store headroom: secret "+sandbox.StoreSecret+" holds") || !strings.Contains(out, "NOT enough for a rotation") {
				t.Fatalf("status exit %d:\n%s", code, out)
			}
			e.assertSafe()
		})
	}
}

// A rotation to one secretsmanager target without proof of use (no
// CloudTrail, no trigger), the real binary's first in its process: at most
// 16 remote calls in all. Per system (issue 24; before: 21, Secrets Manager
// 14): Identity Center 4 (tenant, list, create, delete), SCIM 1 (the new
// token proved once: its deletion follows at once), Slack 1, Secrets
// Manager 10: observe ListSecretVersionIds (the labels and the store's
// headroom) and 2 GetSecretValue (current, state record); the state record
// at the start, before the push and at the end, PutSecretValue each; the
// pending token; the target's push (PutSecretValue) and read-back
// (GetSecretValue); the promotion (UpdateSecretVersionStage).
func TestE2ERotationCalls(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	e.setConfig("source: cloudtrail", "source: none")
	b, err := os.ReadFile(e.files.Config)
	if err != nil {
		t.Fatal(err)
	}
	noTrigger := regexp.MustCompile(`(?m)^ +trigger:\n +endpoint: .*\n +lambdaFunction: .*\n`).ReplaceAllString(string(b), "")
	if noTrigger == string(b) {
		t.Fatalf("the config has no trigger:\n%s", b)
	}
	if err := os.WriteFile(e.files.Config, []byte(noTrigger), 0o600); err != nil {
		t.Fatal(err)
	}
	e.recordLive()
	e.sb.Faults.ResetCalls()
	code, out, errOut := e.run("rotate", "--now")
	if code != 0 || !strings.HasPrefix(out, "Rotated: ") {
		t.Fatalf("exit %d:\n%s\n%s", code, out, errOut)
	}
	calls := e.sb.Faults.Calls()
	per := map[string]int{}
	for _, c := range calls {
		sys, _, _ := strings.Cut(c, ":")
		per[sys]++
	}
	want := map[string]int{"identitycenter": 4, "scim": 1, "secretsmanager": 10, "slack": 1}
	if len(calls) > 16 || fmt.Sprint(per) != fmt.Sprint(want) {
		t.Fatalf("%d calls %v, want at most 16: %v\n%s", len(calls), per, want, strings.Join(calls, "\n"))
	}
	e.assertSafe()
}
