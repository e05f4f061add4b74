package secretsmanager

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// stepClock is a clock the test moves.
type stepClock struct{ now time.Time }

func (c *stepClock) Now() time.Time                       { return c.now }
func (c *stepClock) After(time.Duration) <-chan time.Time { return nil }

// Labels read more than labelsTrusted ago are read again before a write
// relies on them: a record another run wrote since is seen (lost), one
// still in place is written after that one read.
func TestStateSwapRereadsOldLabels(t *testing.T) {
	e := newSecretEnv(t)
	ctx := t.Context()
	clock := &stepClock{now: lockT0}
	a, b := e.store(), e.store()
	a.clock, b.clock = clock, clock
	e.load(a)
	e.load(b)
	clock.now = clock.now.Add(13 * time.Hour)
	e.faults.ResetCalls()
	e.must(a.Hold(ctx, lockReq("run-a", 0)))
	if got := e.faults.Calls(); len(got) != 2 || got[0] != "secretsmanager:ListSecretVersionIds" || got[1] != "secretsmanager:PutSecretValue" {
		t.Fatalf("a write on labels read 13 hours ago: %v, want the labels read again, then the write", got)
	}
	e.must(a.Release(ctx, "run-a"))
	clock.now = clock.now.Add(13 * time.Hour)
	e.faults.ResetCalls()
	e.lost("b's write on labels read before a's", b.Hold(ctx, lockReq("run-b", 0)))
	if n := e.faults.Count("secretsmanager:PutSecretValue"); n != 0 {
		t.Fatalf("b wrote %d times on a record that had moved", n)
	}
}

// Should the next record's VersionId be taken without the label having
// moved (nothing this package writes does that), the write still goes
// through, parked and moved from the record it read.
func TestStateSwapFallsBackToParking(t *testing.T) {
	e := newSecretEnv(t)
	ctx := t.Context()
	a := e.store()
	e.load(a)
	e.must(a.Hold(ctx, lockReq("run-a", 0)))
	base := e.holders(StageState)[StageState]
	if _, err := a.api.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String(testSecret), ClientRequestToken: aws.String(a.successor(base)),
		SecretString: aws.String(`{"kind":"someone/else"}`), VersionStages: []string{"OTHER"}}); err != nil {
		t.Fatal(err)
	}
	e.faults.ResetCalls()
	e.must(a.Hold(ctx, lockReq("run-a", time.Minute)))
	at := e.holders(StageState)[StageState]
	if at == base || at == a.successor(base) || e.faults.Count("secretsmanager:UpdateSecretVersionStage") != 1 {
		t.Fatalf("record at %s (base %s), calls %v", at, base, e.faults.Calls())
	}
	if l := e.load(nil).Lock; l.Owner != "run-a" {
		t.Fatalf("lease after the parked write: %+v", l)
	}
}
