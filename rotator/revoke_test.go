package rotator

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const asker = "arn:aws:sts::123456789012:assumed-role/oncall/alice"

func revokeOpts() RunOptions {
	return RunOptions{Now: true, RevokeOld: true, RequestedBy: asker}
}

// A forgotten consumer still uses the old token: the emergency rotation
// deletes it anyway, without a quiet period, and names the consumer; its
// later calls are RevokedTokenUsed, alerted once each.
func TestRevokeOldDeletesAtOnceAndWatches(t *testing.T) {
	w, h, oldID, old := usageWorld(t)
	w.forgotten, w.forgottenNext = old, w.now
	// The consumer calls every minute, so the old token is never quiet: a
	// rotation that deletes it did not wait for a quiet period.
	res := h.runWaiting(t, revokeOpts())
	if res.Outcome != ReasonRotated || res.ExitCode() != 0 || w.tokens[oldID] != nil {
		t.Fatalf("%s: %s", res.Outcome, res.Message)
	}
	for _, want := range []string{"emergency", oldID, "forgotten-job/1.0", "10.9.9.9", "probable user of the leak"} {
		if !strings.Contains(res.Message, want) {
			t.Fatalf("the result lacks %q: %s", want, res.Message)
		}
	}
	pr := w.store.progress
	if !pr.RevokeOld || pr.RequestedBy != asker || pr.Revoked == nil || pr.Revoked.TokenID != oldID || len(pr.Revoked.Suspects) != 1 {
		t.Fatalf("progress: %+v %+v", pr, pr.Revoked)
	}
	h.alerts.mu.Lock()
	last := h.alerts.events[len(h.alerts.events)-1]
	h.alerts.mu.Unlock()
	if last.Outcome != ReasonRotated || !strings.HasPrefix(last.Message, "Emergency rotation (rotate --now --revoke-old) requested by "+asker) {
		t.Fatalf("the alert must say it is an emergency rotation and who asked: %s", last.Message)
	}
	h.assertRotated(t)

	// The consumer goes on calling with the deleted token (refused, and
	// CloudTrail has no id for it): the next run reports it.
	w.advance(10 * time.Minute)
	writes := w.mutations
	res = h.runWaiting(t, RunOptions{})
	if res.Outcome != ReasonRevokedTokenUsed || res.ExitCode() != 1 || h.alertsOf(ReasonRevokedTokenUsed) != 1 {
		t.Fatalf("%s: %s", res.Outcome, res.Message)
	}
	if !strings.Contains(res.Message, "forgotten-job/1.0") || !strings.Contains(res.Message, oldID) || !strings.Contains(res.Message, asker) {
		t.Fatalf("message: %s", res.Message)
	}
	alerted := w.store.progress.Revoked.Calls
	if alerted == 0 || w.mutations-writes != 1 { // the alert's one write, which takes and gives up the lease
		t.Fatalf("%d calls recorded with %d mutations", alerted, w.mutations-writes)
	}
	// A call delivered late, in the very second of a call already alerted,
	// is still alerted (and the alerted ones are not, again).
	w.mu.Lock()
	w.uses = append(w.uses, Use{TokenID: oldID, Time: w.store.progress.Revoked.LastCall, UserAgent: "leak/1", SourceIP: "198.51.100.4", ErrorCode: "AccessDeniedException"})
	w.mu.Unlock()
	res = h.runWaiting(t, RunOptions{})
	if res.Outcome != ReasonRevokedTokenUsed || !strings.Contains(res.Message, `"leak/1" from 198.51.100.4, 1 call(s)`) || h.alertsOf(ReasonRevokedTokenUsed) != 2 {
		t.Fatalf("a late call in an alerted second: %s: %s", res.Outcome, res.Message)
	}
	// The consumer stops: nothing new, nothing alerted or written.
	w.forgotten = ""
	w.advance(10 * time.Minute)
	h.runWaiting(t, RunOptions{}) // picks up calls delivered since
	before := w.state()
	if res = h.runWaiting(t, RunOptions{}); res.Outcome != ReasonNotDue || w.state() != before {
		t.Fatalf("no new calls: %s", res.Outcome)
	}
	n := h.alertsOf(ReasonRevokedTokenUsed)
	if res = h.runWaiting(t, RunOptions{}); res.Outcome != ReasonNotDue || h.alertsOf(ReasonRevokedTokenUsed) != n {
		t.Fatal("calls must be alerted once")
	}

	// status lists the calls.
	rep := h.rotator().Status(t.Context())
	if rep.Revoked == nil || rep.Revoked.TokenID != oldID || len(rep.Revoked.Calls) == 0 || rep.Revoked.Alerted != w.store.progress.Revoked.Calls {
		t.Fatalf("status: %+v", rep.Revoked)
	}
	h.assertNoLeak(t, res)
}

// A revoke-old rotation stopped before its end stays one when a plain run
// resumes it.
func TestRevokeOldSurvivesResume(t *testing.T) {
	w, h, oldID, old := usageWorld(t)
	w.forgotten, w.forgottenNext = old, w.now // never quiet (see above)
	w.fail = func(call string) error {
		if call == "target.b.Push" {
			return Transient(errors.New("503"))
		}
		return nil
	}
	if res := h.runWaiting(t, revokeOpts()); res.Outcome != ReasonInterrupted {
		t.Fatalf("%s: %s", res.Outcome, res.Message)
	}
	if !w.store.progress.RevokeOld {
		t.Fatal("the rotation must be recorded as revoke-old before anything else")
	}
	w.fail = nil
	if p := h.rotator().Run(t.Context(), RunOptions{DryRun: true}).Plan; !p.RevokeOld || !strings.Contains(strings.Join(p.Steps(), "\n"), "no quiet period") {
		t.Fatalf("dry run of the resumed rotation: %+v", p.Steps())
	}
	res := h.runWaiting(t, RunOptions{})
	if res.Outcome != ReasonRotated || w.tokens[oldID] != nil || w.store.progress.Revoked == nil {
		t.Fatalf("resumed: %s: %s", res.Outcome, res.Message)
	}
}

// --revoke-old given while a plain rotation waits for its quiet period
// converts it.
func TestRevokeOldConvertsARotationInProgress(t *testing.T) {
	w, h, oldID, old := usageWorld(t)
	w.forgotten, w.forgottenNext = old, w.now
	if res := h.runWaiting(t, RunOptions{}); res.Outcome != ReasonOldTokenInUse {
		t.Fatalf("%s", res.Outcome)
	}
	res := h.runWaiting(t, revokeOpts())
	if res.Outcome != ReasonRotated || w.tokens[oldID] != nil || res.Plan.Action != ActionFinish || !w.store.progress.RevokeOld {
		t.Fatalf("%s %s: %s", res.Outcome, res.Plan.Action, res.Message)
	}
}

func TestRevokeOldDryRun(t *testing.T) {
	w, h, _, _ := usageWorld(t)
	before := w.state()
	res := h.rotator().Run(t.Context(), RunOptions{Now: true, RevokeOld: true, DryRun: true})
	steps := strings.Join(res.Plan.Steps(), "\n")
	if res.Outcome != ReasonDryRun || !strings.Contains(steps, "no quiet period") || strings.Contains(steps, "unused for quietPeriod") ||
		!strings.Contains(res.Message, "--revoke-old") || w.state() != before {
		t.Fatalf("%s: %s\n%s", res.Outcome, res.Message, steps)
	}
}

func TestRevokedCalls(t *testing.T) {
	del := time.Date(2026, 1, 1, 12, 0, 0, 500e6, time.UTC)
	suspect := ClientUse{UserAgent: "job/1", SourceIP: "10.0.0.9"}
	rev := Revocation{TokenID: "old", DeletedAt: del, Suspects: []ClientUse{suspect}}
	at := func(d time.Duration) time.Time { return del.Truncate(time.Second).Add(d) }
	uses := []Use{
		{TokenID: "old", Time: at(-time.Second), UserAgent: "job/1", SourceIP: "10.0.0.9"},                         // before
		{TokenID: "old", Time: at(0), UserAgent: "job/1", SourceIP: "10.0.0.9"},                                    // accepted in the second: before
		{TokenID: "old", Time: at(0), UserAgent: "x", ErrorCode: "AccessDenied"},                                   // refused in the second: after
		{TokenID: "", Time: at(time.Second), UserAgent: "job/1", SourceIP: "10.0.0.9", ErrorCode: "AccessDenied"},  // the suspect, no id
		{TokenID: "", Time: at(time.Second), UserAgent: "other", SourceIP: "10.0.0.9", ErrorCode: "AccessDenied"},  // another client
		{TokenID: "new", Time: at(2 * time.Second), UserAgent: "idp"},                                              // the new token
		{TokenID: "old", Time: at(3 * time.Second), UserAgent: UserAgentPrefix + "dev", ErrorCode: "AccessDenied"}, // the product
		{TokenID: "old", Time: at(4 * time.Second), UserAgent: "leak/1", ErrorCode: "AccessDenied"},
	}
	got := revokedCalls(uses, rev)
	if len(got) != 3 || got[0].UserAgent != "x" || got[1].UserAgent != "job/1" || got[2].UserAgent != "leak/1" {
		t.Fatalf("%+v", got)
	}
	// Calls alerted before are not alerted again, even in the same second
	// as a new one.
	if left := notIn(got, got[:2]); len(left) != 1 || left[0].UserAgent != "leak/1" {
		t.Fatalf("after the alerted calls: %+v", left)
	}
	twin := []Use{got[2], got[2]}
	if left := notIn(twin, got[2:]); len(left) != 1 {
		t.Fatalf("two calls alike, one alerted: %+v", left)
	}
}
