package rotator

import (
	"context"
	"testing"
	"time"
)

// lateSource is CloudTrail with a delivery delay per call: it answers
// what has been delivered by now, and counts what it was asked.
type lateSource struct {
	now     *time.Time
	uses    []Use
	arrives []time.Time
	calls   int
	read    int // calls returned, summed
}

func (s *lateSource) Uses(_ context.Context, from, to time.Time) ([]Use, error) {
	s.calls++
	var out []Use
	for i, u := range s.uses {
		if !u.Time.Before(from.Truncate(time.Second)) && u.Time.Before(to) && !s.arrives[i].After(*s.now) {
			out = append(out, u)
		}
	}
	s.read += len(out)
	return out, nil
}

func (s *lateSource) Latest(ctx context.Context, q UsageQuery) (UsageRead, error) {
	uses, err := s.Uses(ctx, q.From, q.To)
	return latestOf(uses, q), err
}

// The run's reader reads each call at most twice over a wait, however many
// polls, and misses none that CloudTrail delivers late: once a call is
// deliveryDelay old it has been read, whenever it arrived.
func TestUsageReaderReadsOnlyWhatIsNew(t *testing.T) {
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	now := start
	src := &lateSource{now: &now}
	// A call a second for an hour, most delivered 2 minutes late, every
	// 97th 14 minutes late (deliveryDelay is 15).
	for i := range 3600 {
		at := start.Add(time.Duration(i) * time.Second)
		late := 2 * time.Minute
		if i%97 == 0 {
			late = 14 * time.Minute
		}
		src.uses = append(src.uses, Use{TokenID: "tok", Time: at, UserAgent: "idp", SourceIP: "10.0.0.1"})
		src.arrives = append(src.arrives, at.Add(late))
	}
	r := &Rotator{Usage: src, UsagePolicy: UsagePolicy{DeliveryDelay: 15 * time.Minute}}
	u := r.newUsageReader()
	polls := 0
	for now = start; now.Before(start.Add(time.Hour)); now = now.Add(30 * time.Second) {
		if _, err := u.read(context.Background(), start, now, false); err != nil {
			t.Fatal(err)
		}
		polls++
		// Everything deliveryDelay old is there, each call once.
		old := now.Add(-15 * time.Minute)
		want := 0
		for _, c := range src.uses {
			if c.Time.Before(old.Truncate(time.Second)) {
				want++
			}
		}
		if got := len(between(u.uses, start, old)); got != want {
			t.Fatalf("at %s: %d calls read before %s, want %d", now.Sub(start), got, old.Sub(start), want)
		}
		if got := len(u.uses); got > len(src.uses) {
			t.Fatalf("%d calls kept of %d: read twice", got, len(src.uses))
		}
	}
	if src.read > 2*len(src.uses) || src.calls > 2*polls {
		t.Fatalf("%d calls read over %d lookups in %d polls: want each call read at most twice, at most 2 lookups a poll", src.read, src.calls, polls)
	}

	// Settling reads the tail again: everything delivered by now is there.
	if _, err := u.read(context.Background(), start, now, true); err != nil {
		t.Fatal(err)
	}
	delivered := 0
	for i := range src.uses {
		if !src.arrives[i].After(now) {
			delivered++
		}
	}
	if len(u.uses) != delivered {
		t.Fatalf("after settling %d calls, want the %d delivered", len(u.uses), delivered)
	}

	// An earlier start reads only what is before what was read.
	calls := src.calls
	if got, err := u.Uses(context.Background(), start.Add(-time.Hour), now); err != nil || len(got) != delivered || src.calls != calls+1 {
		t.Fatalf("%d calls, %d lookups, %v", len(got), src.calls-calls, err)
	}
}

// A quiet directory costs one lookup a poll: the tail is read again with
// the new calls when it holds less than a page.
func TestUsageReaderQuietDirectory(t *testing.T) {
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	now := start
	src := &lateSource{now: &now}
	for i := range 10 {
		at := start.Add(time.Duration(i) * 5 * time.Minute)
		src.uses = append(src.uses, Use{TokenID: "tok", Time: at})
		src.arrives = append(src.arrives, at.Add(10*time.Minute))
	}
	u := (&Rotator{Usage: src, UsagePolicy: UsagePolicy{DeliveryDelay: 15 * time.Minute}}).newUsageReader()
	polls := 0
	for now = start; now.Before(start.Add(time.Hour)); now = now.Add(30 * time.Second) {
		settled, err := u.read(context.Background(), start, now, false)
		if err != nil || !settled {
			t.Fatalf("at %s: settled %v, %v: want the tail read with the new calls", now.Sub(start), settled, err)
		}
		polls++
	}
	if src.calls != polls {
		t.Fatalf("%d lookups in %d polls", src.calls, polls)
	}
}
