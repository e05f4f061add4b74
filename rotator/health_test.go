package rotator

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCompareExpiry(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	live := TokenInfo{ID: "tok-live", Created: now.AddDate(0, -6, 0), Expires: now.AddDate(0, 6, 0)}
	old := TokenInfo{ID: "tok-old", Created: now.AddDate(0, -11, -10), Expires: now.AddDate(0, 0, 20)}
	base := ExpiryKnowledge{Tokens: []TokenInfo{live}, Live: &live, RotateBefore: 30 * day, Now: now}
	with := func(f func(*ExpiryKnowledge)) ExpiryKnowledge { k := base; f(&k); return k }
	notice := func(id string, exp time.Time) ExpiryNotice {
		return ExpiryNotice{TokenID: id, Expires: exp, EventARN: "arn:aws:health:us-east-1::event/x", Start: now.Add(-day)}
	}
	cases := []struct {
		name    string
		notices []ExpiryNotice
		k       ExpiryKnowledge
		want    []DisagreementKind
		wantIn  string
	}{
		{name: "no notices", k: base},
		{name: "matching id and date", notices: []ExpiryNotice{notice("tok-live", live.Expires.Add(3*time.Hour))}, k: base},
		{name: "matching date without id", notices: []ExpiryNotice{notice("", live.Expires.Add(-20*time.Hour))}, k: base},
		{name: "unknown token id", notices: []ExpiryNotice{notice("tok-gone", live.Expires)}, k: base,
			want: []DisagreementKind{UnknownToken}, wantIn: "tok-gone"},
		{name: "unknown token id without date", notices: []ExpiryNotice{notice("tok-gone", time.Time{})}, k: base,
			want: []DisagreementKind{UnknownToken}, wantIn: "on a date its text does not give"},
		{name: "no date, no id: nothing to compare", notices: []ExpiryNotice{notice("", time.Time{})}, k: base},
		{name: "date differs by more than a day", notices: []ExpiryNotice{notice("tok-live", live.Expires.Add(25*time.Hour))}, k: base,
			want: []DisagreementKind{DateMismatch}, wantIn: "lists its expiry as"},
		{name: "date a day off exactly is tolerated", notices: []ExpiryNotice{notice("tok-live", live.Expires.Add(day))}, k: base},
		{name: "date without id matches no token", notices: []ExpiryNotice{notice("", live.Expires.AddDate(0, 0, 9))}, k: base,
			want: []DisagreementKind{DateMismatch}, wantIn: "no listed token expires within a day"},
		{name: "no token listed at all", notices: []ExpiryNotice{notice("", now.AddDate(0, 2, 0))},
			k: with(func(k *ExpiryKnowledge) { k.Tokens, k.Live = nil, nil }), want: []DisagreementKind{UnknownToken}, wantIn: "lists no token"},
		{name: "inside rotateBefore, not rotating", notices: []ExpiryNotice{notice("", old.Expires)},
			k: with(func(k *ExpiryKnowledge) { k.Tokens = []TokenInfo{old, live} }), want: []DisagreementKind{DueNotRotating}, wantIn: "tok-old"},
		{name: "inside rotateBefore, rotating", notices: []ExpiryNotice{notice("tok-old", old.Expires)},
			k: with(func(k *ExpiryKnowledge) { k.Tokens, k.Rotating = []TokenInfo{old, live}, true })},
		{name: "already expired is not due", notices: []ExpiryNotice{notice("tok-old", now.Add(-time.Hour))},
			k: with(func(k *ExpiryKnowledge) { o := old; o.Expires = now.Add(-time.Hour); k.Tokens = []TokenInfo{o, live} })},
		{name: "outside rotateBefore", notices: []ExpiryNotice{notice("tok-live", live.Expires)}, k: base},
		{name: "notice about a token rotated away (raised before the live token)",
			notices: []ExpiryNotice{{Expires: now.AddDate(0, 0, 20), EventARN: "e", Start: live.Created.Add(-day)}}, k: base},
		{name: "named token rotated away (raised before the live token)",
			notices: []ExpiryNotice{{TokenID: "tok-gone", Expires: now.AddDate(0, 0, 20), EventARN: "e", Start: live.Created.Add(-day)}}, k: base},
		{name: "named unknown token expiring after the live one is not rotated away",
			notices: []ExpiryNotice{{TokenID: "tok-gone", Expires: live.Expires.AddDate(0, 1, 0), EventARN: "e", Start: live.Created.Add(-day)}}, k: base,
			want: []DisagreementKind{UnknownToken}},
		{name: "notice raised after the live token was created still disagrees",
			notices: []ExpiryNotice{{Expires: now.AddDate(0, 0, 20), EventARN: "e", Start: now.Add(-day)}}, k: base,
			want: []DisagreementKind{DateMismatch}},
		{name: "several notices each compared",
			notices: []ExpiryNotice{notice("tok-x", live.Expires), notice("tok-live", live.Expires), notice("tok-live", live.Expires.AddDate(0, 0, -3))},
			k:       base, want: []DisagreementKind{UnknownToken, DateMismatch}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := CompareExpiry(c.notices, c.k)
			var kinds []DisagreementKind
			for _, d := range got {
				kinds = append(kinds, d.Kind)
				if d.Message == "" || d.Key() == "" {
					t.Fatalf("disagreement without message or key: %+v", d)
				}
			}
			if strings.Join(kindStrings(kinds), ",") != strings.Join(kindStrings(c.want), ",") {
				t.Fatalf("kinds = %v, want %v (%+v)", kinds, c.want, got)
			}
			if c.wantIn != "" && !strings.Contains(got[0].Message, c.wantIn) {
				t.Fatalf("message %q lacks %q", got[0].Message, c.wantIn)
			}
		})
	}
}

func kindStrings(ks []DisagreementKind) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return out
}

// fakeWatch is an ExpiryWatch with canned notices or an error.
type fakeWatch struct {
	notices []ExpiryNotice
	err     error
	calls   int
}

func (f *fakeWatch) Notices(context.Context) ([]ExpiryNotice, error) {
	f.calls++
	return f.notices, f.err
}

func TestDaemonAlertsExpiryDisagreementOncePerDay(t *testing.T) {
	w := newWorld()
	id, _ := w.seed(w.now.AddDate(0, -2, 0))
	w.addTarget("a")
	h := newHarness(w)
	r := h.rotator()
	exp := w.tokens[id].Expires
	watch := &fakeWatch{notices: []ExpiryNotice{{TokenID: id, Expires: exp.AddDate(0, 0, -5), EventARN: "arn:aws:health:us-east-1::event/IAMIDENTITYCENTER/a", Start: w.now}}}
	r.Health = watch
	d := &Daemon{Rotator: r}
	count := func() int {
		n := 0
		for _, e := range h.alerts.events {
			if e.Outcome == ReasonExpiryDisagreement {
				n++
				if !strings.Contains(e.Message, id) || !strings.Contains(e.Message, exp.AddDate(0, 0, -5).Format("2006-01-02")) {
					t.Fatalf("alert message %q names neither the token nor Health's date", e.Message)
				}
			}
		}
		return n
	}
	d.Tick(t.Context())
	d.Tick(t.Context())
	if n := count(); n != 1 {
		t.Fatalf("want one disagreement alert on the first day, got %d", n)
	}
	w.now = w.now.Add(25 * time.Hour)
	d.Tick(t.Context())
	if n := count(); n != 2 {
		t.Fatalf("want a second alert a day later, got %d", n)
	}
	// A notice that agrees raises nothing more.
	watch.notices[0].Expires = exp
	w.now = w.now.Add(25 * time.Hour)
	d.Tick(t.Context())
	if n := count(); n != 2 {
		t.Fatalf("an agreeing notice alerted: %d", n)
	}
}

func TestDaemonHealthErrorDoesNotAlert(t *testing.T) {
	w := newWorld()
	w.seed(w.now.AddDate(0, -2, 0))
	w.addTarget("a")
	h := newHarness(w)
	r := h.rotator()
	watch := &fakeWatch{err: errors.New("SubscriptionRequiredException")}
	r.Health = watch
	(&Daemon{Rotator: r}).Tick(t.Context())
	if watch.calls != 1 {
		t.Fatalf("Health read %d times", watch.calls)
	}
	for _, e := range h.alerts.events {
		if e.Outcome == ReasonExpiryDisagreement {
			t.Fatal("an unreadable Health is not a disagreement")
		}
	}
}

func TestStatusShowsHealthNotices(t *testing.T) {
	w := newWorld()
	id, _ := w.seed(w.now.AddDate(0, -2, 0))
	w.addTarget("a")
	r := newHarness(w).rotator()
	exp := w.tokens[id].Expires
	r.Health = &fakeWatch{notices: []ExpiryNotice{{TokenID: "tok-gone", Expires: exp, EventARN: "arn:e"}}}
	rep := r.Status(t.Context())
	var health *SystemStatus
	for i := range rep.Systems {
		if rep.Systems[i].System == "health" {
			health = &rep.Systems[i]
		}
	}
	if health == nil {
		t.Fatalf("no health system in %+v", rep.Systems)
	}
	fields := map[string]any{}
	for _, f := range health.Fields {
		fields[f.Key] = f.Value
	}
	if fields["notices"] != 1 || strings.Join(fields["noticeTokenIds"].([]string), ",") != "tok-gone" {
		t.Fatalf("fields %+v", fields)
	}
	if dis := fields["disagreements"].([]string); len(dis) != 1 || !strings.HasPrefix(dis[0], "UnknownToken: ") {
		t.Fatalf("disagreements %v", dis)
	}
	r.Health = &fakeWatch{err: errors.New("boom")}
	if rep := r.Status(t.Context()); !strings.Contains(strings.Join(rep.Errors, "\n"), "health: boom") {
		t.Fatalf("errors %v", rep.Errors)
	}
}

// healthObserver records what the watch reports to the Observer.
type healthObserver struct {
	reports [][]Disagreement
}

func (o *healthObserver) ExpiryDisagreements(ds []Disagreement) { o.reports = append(o.reports, ds) }
func (*healthObserver) StepDone(string, string, time.Duration)  {}
func (*healthObserver) RotationDone(Reason)                     {}
func (*healthObserver) LiveTokenExpiry(time.Time)               {}
func (*healthObserver) InProgress(bool)                         {}
func (*healthObserver) TokenLastUsed(string, time.Time)         {}

// Every tick reports the comparison to the Observer, with no notifier too
// (metrics alone), and an empty one once Health agrees; an unreadable Health
// leaves the last report standing.
func TestDaemonReportsExpiryDisagreementsToObserver(t *testing.T) {
	w := newWorld()
	id, _ := w.seed(w.now.AddDate(0, -2, 0))
	w.addTarget("a")
	h := newHarness(w)
	r := h.rotator()
	r.Notifier = nil
	obs := &healthObserver{}
	r.Observer = obs
	exp := w.tokens[id].Expires
	watch := &fakeWatch{notices: []ExpiryNotice{{TokenID: id, Expires: exp.AddDate(0, 0, -5), EventARN: "arn:aws:health:us-east-1::event/IAMIDENTITYCENTER/a", Start: w.now}}}
	r.Health = watch
	d := &Daemon{Rotator: r}
	d.Tick(t.Context())
	if len(obs.reports) != 1 || len(obs.reports[0]) != 1 || obs.reports[0][0].Kind != DateMismatch {
		t.Fatalf("reports %+v, want one DateMismatch", obs.reports)
	}
	watch.notices[0].Expires = exp
	d.Tick(t.Context())
	if len(obs.reports) != 2 || len(obs.reports[1]) != 0 {
		t.Fatalf("reports %+v, want an empty one once Health agrees", obs.reports)
	}
	watch.err = errors.New("throttled")
	d.Tick(t.Context())
	if len(obs.reports) != 2 {
		t.Fatalf("an unreadable Health was reported: %+v", obs.reports)
	}
}

// A one-shot run's comparison (HealthDisagreements) reuses the observation it
// is given and reports to the Observer; without a watch it does nothing.
func TestHealthDisagreementsOneShot(t *testing.T) {
	w := newWorld()
	w.seed(w.now.AddDate(0, -2, 0))
	w.addTarget("a")
	h := newHarness(w)
	r := h.rotator()
	obs := &healthObserver{}
	r.Observer = obs
	if ds, err := r.HealthDisagreements(t.Context(), nil); err != nil || ds != nil || len(obs.reports) != 0 {
		t.Fatalf("without a watch: %v %v, %d reports", ds, err, len(obs.reports))
	}
	r.Health = &fakeWatch{notices: []ExpiryNotice{{TokenID: "unknown-token", Expires: w.now.AddDate(0, 1, 0), Start: w.now}}}
	seen, err := r.Observe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ds, err := r.HealthDisagreements(t.Context(), &seen)
	if err != nil || len(ds) != 1 || ds[0].Kind != UnknownToken || len(obs.reports) != 1 {
		t.Fatalf("got %+v, %v, reports %+v; want one UnknownToken reported", ds, err, obs.reports)
	}
}
