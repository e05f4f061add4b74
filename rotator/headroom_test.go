package rotator

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// quotaStore is the fake store with a version quota: besides the versions
// the world's store wrote (each counted as written now), others holds
// those of another writer.
type quotaStore struct {
	fakeStore
	others []VersionInfo
	err    error
	calls  *int
}

func (q quotaStore) Quota(context.Context) (Quota, error) {
	*q.calls++
	if q.err != nil {
		return Quota{}, q.err
	}
	w := q.w
	w.mu.Lock()
	defer w.mu.Unlock()
	vs := append([]VersionInfo(nil), q.others...)
	for range w.writes {
		vs = append(vs, VersionInfo{ID: "ours", Stages: []string{"OURS"}, Created: w.now})
	}
	return Quota{Name: "secret fake/store", Limit: 100, Keep: 24 * time.Hour, Versions: vs, Hint: "find the other writer"}, nil
}

// quotaRig is a world with a live token due in 11 months' time and one
// target holding it, and a harness whose rotator's store has a quota:
// rotator(q) sets the quota store's others and err (its calls counted in
// calls).
type quotaRig struct {
	w     *world
	h     *harness
	calls int
}

func newQuotaRig() *quotaRig {
	w := newWorld()
	_, val := w.seed(w.now.AddDate(0, -11, -10))
	w.addTarget("a").held = val
	return &quotaRig{w: w, h: newHarness(w)}
}

func (q *quotaRig) rotator(others []VersionInfo, err error) *Rotator {
	r := q.h.rotator()
	r.Store = quotaStore{fakeStore: r.Store.(fakeStore), others: others, err: err, calls: &q.calls}
	return r
}

// written are n unlabelled versions of another writer, the first at
// first, one every step.
func written(n int, first time.Time, step time.Duration) []VersionInfo {
	vs := make([]VersionInfo, n)
	for i := range vs {
		vs[i] = VersionInfo{ID: "other", Created: first.Add(time.Duration(i) * step)}
	}
	return vs
}

func TestHeadroomOf(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	label := func(vs []VersionInfo, stages ...string) []VersionInfo {
		for i := range vs {
			vs[i].Stages = stages
		}
		return vs
	}
	for _, tc := range []struct {
		name                   string
		versions               []VersionInfo
		recent, labelled, room int
		short                  bool
		enoughAt, since        time.Time
	}{
		{name: "empty", room: 100},
		{name: "old unlabelled versions go", versions: written(150, now.Add(-72*time.Hour), time.Minute), room: 100},
		{name: "old labelled versions stay", versions: label(written(4, now.Add(-72*time.Hour), time.Minute), "AWSCURRENT"), labelled: 4, room: 96},
		{name: "room for exactly one rotation", versions: written(88, now.Add(-10*time.Hour), time.Minute), recent: 88, room: 12},
		{
			// 97 recent, one every minute from 10 hours ago: 12 needed, 3
			// free, so the 9th oldest must age out. Short since the 89th
			// (index 88) was written.
			name: "3 short of the quota", versions: written(97, now.Add(-10*time.Hour), time.Minute), recent: 97, room: 3, short: true,
			enoughAt: now.Add(-10*time.Hour + 8*time.Minute + 24*time.Hour), since: now.Add(-10*time.Hour + 88*time.Minute),
		},
		{
			name: "labelled recent versions never age out", versions: label(written(100, now.Add(-time.Hour), time.Second), "OTHER"),
			recent: 100, room: 0, short: true, since: now.Add(-time.Hour + 88*time.Second),
		},
		{
			name: "over the quota", versions: written(120, now.Add(-time.Hour), time.Second), recent: 120, room: 0, short: true,
			enoughAt: now.Add(-time.Hour + 31*time.Second + 24*time.Hour), since: now.Add(-time.Hour + 88*time.Second),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := headroomOf(Quota{Name: "secret s", Limit: 100, Keep: 24 * time.Hour, Versions: tc.versions}, 12, now)
			if h.Recent != tc.recent || h.Labelled != tc.labelled || h.Room != tc.room || h.Short() != tc.short ||
				!h.EnoughAt.Equal(tc.enoughAt) || !h.since.Equal(tc.since) {
				t.Fatalf("got %+v (since %s), want recent %d labelled %d room %d short %v enoughAt %s since %s",
					h, h.since, tc.recent, tc.labelled, tc.room, tc.short, tc.enoughAt, tc.since)
			}
		})
	}
}

// The budget is counted once, in one place: a rotation of one target
// writes far fewer versions than it allows for.
func TestWriteBudget(t *testing.T) {
	q := newQuotaRig()
	w, r := q.w, q.h.rotator()
	if got, want := r.writeBudget(), 7+alertAfterFailures+4; got != want {
		t.Fatalf("budget %d, want %d", got, want)
	}
	if res := r.Run(t.Context(), RunOptions{Now: true}); res.Outcome != ReasonRotated {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Message)
	}
	if w.writes > r.writeBudget() {
		t.Fatalf("a rotation wrote %d versions, over its budget of %d", w.writes, r.writeBudget())
	}
}

// A store 3 versions short of its quota (another writer): the run stops
// before it creates anything or writes, Interrupted, naming the store, its
// recent versions and when enough age out; quiet until it has lasted an
// hour, then alerted, as a full store is.
func TestHeadroomStopsBeforeCreating(t *testing.T) {
	q := newQuotaRig()
	w, h := q.w, q.h
	first := w.now.Add(-30 * time.Minute)
	run := func() Result {
		return q.rotator(written(97, first, time.Second), nil).Run(t.Context(), RunOptions{Now: true})
	}
	res := run()
	if res.Outcome != ReasonInterrupted || res.ExitCode() != 1 || !res.quiet {
		t.Fatalf("outcome %s (exit %d, quiet %v): %s", res.Outcome, res.ExitCode(), res.quiet, res.Message)
	}
	if w.created != 0 || w.writes != 0 || w.mutations != 0 || q.calls != 1 {
		t.Fatalf("%d tokens created, %d versions written, %d mutations, %d quota calls", w.created, w.writes, w.mutations, q.calls)
	}
	enough := first.Add(10*time.Second + 24*time.Hour)
	for _, want := range []string{"secret fake/store holds 97 versions created in the last 24 hours", "room for 3 more", "a rotation writes up to 14",
		"enough of them age out at " + stamp(enough), "find the other writer", "no token was created", "(in 23h30m)"} {
		if !strings.Contains(res.Message, want) {
			t.Fatalf("the message does not say %q: %s", want, res.Message)
		}
	}
	var full *StoreFullError
	if !errors.As(res.Err, &full) || !IsTransient(res.Err) {
		t.Fatalf("error %v: want a transient StoreFullError", res.Err)
	}
	if len(h.alerts.events) != 0 {
		t.Fatalf("alerted at once: %+v", h.alerts.events)
	}

	// An hour after it became short, the same run is alerted.
	w.advance(time.Hour)
	res = run()
	if res.Outcome != ReasonInterrupted || res.quiet || len(h.alerts.events) != 1 || h.alerts.events[0].Outcome != ReasonInterrupted {
		t.Fatalf("after an hour: outcome %s quiet %v, alerts %+v", res.Outcome, res.quiet, h.alerts.events)
	}
	if w.created != 0 || w.writes != 0 {
		t.Fatal("a short store was written")
	}

	// Once they aged out the rotation goes through.
	w.advance(enough.Sub(w.now))
	if res := run(); res.Outcome != ReasonRotated {
		t.Fatalf("after the versions aged out: %s: %s", res.Outcome, res.Message)
	}
	h.assertNoLeak(t, res)
}

// A store that cannot count its versions creates nothing either; a store
// without a quota is not asked.
func TestHeadroomUnknown(t *testing.T) {
	q := newQuotaRig()
	w := q.w
	res := q.rotator(nil, Transient(errors.New("ThrottlingException"))).Run(t.Context(), RunOptions{Now: true})
	if res.Outcome != ReasonInterrupted || w.created != 0 || w.writes != 0 || !strings.Contains(res.Message, "no token was created") {
		t.Fatalf("outcome %s, %d created, %d written: %s", res.Outcome, w.created, w.writes, res.Message)
	}
}

// check and status show the headroom, read from what they observed.
func TestHeadroomCheckAndStatus(t *testing.T) {
	q := newQuotaRig()
	w, h := q.w, q.h
	for _, tc := range []struct {
		others []VersionInfo
		level  Level
		room   int
	}{
		{others: written(10, w.now.Add(-time.Hour), time.Minute), level: LevelOK, room: 90},
		{others: written(97, w.now.Add(-time.Hour), time.Second), level: LevelFail, room: 3},
	} {
		r := q.rotator(tc.others, nil)
		var got *CheckResult
		for _, c := range r.Check(t.Context()) {
			if c.Name == "store headroom" {
				got = &c
			}
		}
		if got == nil || got.Level != tc.level || !strings.Contains(got.Detail, "secret fake/store holds") {
			t.Fatalf("check: %+v", got)
		}
		if tc.level == LevelFail && !strings.Contains(got.Fix, "would stop before creating its token") {
			t.Fatalf("check's fix: %s", got.Fix)
		}
		rep := r.Status(t.Context())
		if hr := rep.Headroom; hr == nil || hr.Room != tc.room || hr.Needed != 14 || hr.Limit != 100 || hr.Recent != len(tc.others) {
			t.Fatalf("status headroom: %+v", rep.Headroom)
		}
	}
	// Without a quota: no line, no field.
	r := h.rotator()
	for _, c := range r.Check(t.Context()) {
		if c.Name == "store headroom" {
			t.Fatalf("a store without a quota has a headroom check: %+v", c)
		}
	}
	if rep := r.Status(t.Context()); rep.Headroom != nil {
		t.Fatalf("a store without a quota has a headroom: %+v", rep.Headroom)
	}
}
