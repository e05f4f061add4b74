package secretsmanager

import (
	"slices"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/rotator"
)

// Quota is what Load listed, deprecated versions included, page by page,
// with no call of its own; a write makes the next Quota list again.
func TestStoreQuota(t *testing.T) {
	e := newSecretEnv(t)
	ctx := t.Context()
	e.must(e.store().PutCurrent(ctx, record("tok-1", "one")))
	for range 20 {
		e.fake.Put(testSecret, `{"other":"writer"}`, "OTHER") // each moves OTHER: the one before is deprecated
	}
	e.fake.SetPageSize(7) // fewer than asked for, as the service may answer
	s := e.store()
	e.faults.ResetCalls()
	e.load(s)
	lists := e.faults.Count("secretsmanager:ListSecretVersionIds")
	if lists != 3 || e.faults.Count("secretsmanager:DescribeSecret") != 0 {
		t.Fatalf("Load made %v: want the labels from 3 pages of ListSecretVersionIds", e.faults.Calls())
	}
	q, err := s.Quota(ctx)
	e.must(err)
	if got := e.faults.Count("secretsmanager:ListSecretVersionIds"); got != lists {
		t.Fatalf("Quota listed again after Load (%d calls)", got-lists)
	}
	deprecated := 0
	for _, v := range q.Versions {
		if len(v.Stages) == 0 {
			deprecated++
		}
		if v.Created.IsZero() {
			t.Fatalf("version %s has no creation time", v.ID)
		}
	}
	if q.Name != "secret "+testSecret || q.Limit != 100 || q.Keep != 24*time.Hour || len(q.Versions) != 21 || deprecated != 19 {
		t.Fatalf("quota %s: limit %d keep %s, %d versions (%d deprecated): want 21 (19)", q.Name, q.Limit, q.Keep, len(q.Versions), deprecated)
	}
	if !slices.ContainsFunc(q.Versions, func(v rotator.VersionInfo) bool { return slices.Contains(v.Stages, rotator.StageCurrent) }) {
		t.Fatal("the current version is not listed with its label")
	}

	// The store's own write: the next Quota lists again and counts it.
	e.must(s.Hold(ctx, lockReq("run-a", 0)))
	q, err = s.Quota(ctx)
	e.must(err)
	if len(q.Versions) != 22 || e.faults.Count("secretsmanager:ListSecretVersionIds") != lists+4 {
		t.Fatalf("after a write: %d versions, calls %v", len(q.Versions), e.faults.Calls())
	}

	// A store that read nothing lists when asked.
	fresh := e.store()
	e.faults.ResetCalls()
	q, err = fresh.Quota(ctx)
	e.must(err)
	if len(q.Versions) != 22 || e.faults.Count("secretsmanager:ListSecretVersionIds") != 4 {
		t.Fatalf("a fresh store: %d versions, calls %v", len(q.Versions), e.faults.Calls())
	}
	e.note(q.Hint)
}
