package main

import (
	"strings"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
)

// Bounded runs end to end (issue 26): the real binary against the sandbox
// (quietPeriod 3s, deliveryDelay 1s), run with `rotate --now --deadline 1s`
// again and again, as a schedule runs a Lambda function, until Rotated.
// Each run that cannot finish a wait within its second leaves it to the
// next (Waiting, exit 0, not alerted); the last one deletes the old token
// once it has been quiet; the store takes no more versions than its budget.
func TestE2EDeadlineRunsResumeUntilRotated(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	oldID, oldValue := e.sb.SeedLiveToken(340 * 24 * time.Hour)
	e.stageLive(oldID, oldValue)
	versions, _ := e.storeWrites()
	start := time.Now()

	var outcomes []string
	var out string
	for len(outcomes) < 40 {
		var code int
		var errOut string
		code, out, errOut = e.run("rotate", "--now", "--deadline", "1s")
		outcome, _, _ := strings.Cut(out, ":")
		outcomes = append(outcomes, outcome)
		if outcome == "Rotated" {
			if code != 0 {
				t.Fatalf("Rotated with exit %d", code)
			}
			break
		}
		if code != 0 || outcome != "Waiting" {
			t.Fatalf("run %d: exit %d, want 0 and Waiting (outcomes so far %v):\n%s\n%s", len(outcomes), code, outcomes, out, errOut)
		}
		containsAll(t, "a Waiting run's output", out, "waits for ", "past this run's deadline", "the next run resumes the wait")
		containsAll(t, "a Waiting run's log", errOut, `"outcome": "Waiting"`)
		if ids := e.tokenIDs(); len(ids) > 2 || !strings.Contains(strings.Join(ids, " "), oldID) {
			t.Fatalf("while waiting: tokens %v; the old token %s must be kept", ids, oldID)
		}
		e.assertTargetsWork()
		time.Sleep(200 * time.Millisecond)
	}
	if outcomes[len(outcomes)-1] != "Rotated" || len(outcomes) < 2 {
		t.Fatalf("outcomes %v: want Waiting runs, then Rotated", outcomes)
	}
	newID := e.storeTokenID("AWSCURRENT")
	if ids := e.tokenIDs(); len(ids) != 1 || ids[0] != newID || newID == oldID {
		t.Fatalf("want only the new token %s, have %v", newID, ids)
	}
	e.assertTargetsWork()
	// The old token went only once quiet for quietPeriod plus deliveryDelay
	// after the switch, which came after the first run started.
	if took := time.Since(start); took < 4*time.Second {
		t.Fatalf("rotated %s after the first run started: no quiet period was waited out", took)
	}
	// One rotation's writes, however many runs carried it: within the
	// budget of one target (rotator/headroom.go: 7+3 and 4 per target).
	if v, _ := e.storeWrites(); v-versions > 14 {
		t.Fatalf("%d store versions written over %d runs, over the budget of 14", v-versions, len(outcomes))
	}
	if n := e.slackCount("Waiting"); n != 0 {
		t.Fatalf("%d Slack messages for Waiting: the default notifyOn leaves it out", n)
	}
	if e.slackCount("Rotated") == 0 {
		t.Fatal("the rotation's end was not alerted")
	}
	t.Logf("outcomes: %v", outcomes)
}
