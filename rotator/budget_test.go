package rotator

import (
	"context"
	"testing"
	"time"
)

// busy logs n successful calls with the token valued v, one a second,
// the last 3 minutes ago (CloudTrail has delivered them all).
func (w *world) busy(v, agent string, n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	id := ""
	for _, tok := range w.tokens {
		if tok.value == v {
			id = tok.ID
		}
	}
	for i := n; i > 0; i-- {
		w.uses = append(w.uses, Use{TokenID: id, Time: w.now.Add(-3*time.Minute - time.Duration(i-1)*time.Second), EventName: "GetUser", UserAgent: agent, SourceIP: "10.0.0.2"})
	}
}

// status reads CloudTrail newest first and stops once every token it
// reports on was seen: one page when the only token was used minutes ago,
// however busy the day; the page budget when a token was not seen, which
// it then reports as not seen back to the time reached, never unused.
func TestStatusReadsUseNewestFirstWithinABudget(t *testing.T) {
	w, h, oldID, old := recorded(t)
	h.usage = &fakeUsage{w: w, delivery: 2 * time.Minute}
	w.busy(old, "idp", 5000)
	rep := h.rotator().Status(context.Background())
	u := rep.Usage
	if u == nil || u.Pages != 1 || w.usagePages != 1 || u.Complete || u.PageBudget != UsagePages || u.Events != 50 {
		t.Fatalf("usage = %+v (%d pages read)", u, w.usagePages)
	}
	if tok := rep.Tokens[0]; tok.ID != oldID || tok.Use == nil || tok.Use.Calls != 50 || !tok.Use.Last.Equal(w.now.Add(-3*time.Minute).Truncate(time.Second)) {
		t.Fatalf("token = %+v", tok)
	}

	second, _ := w.seed(w.now.AddDate(0, -1, 0)) // listed, never used
	w.usagePages = 0
	rep = h.rotator().Status(context.Background())
	if u := rep.Usage; u == nil || u.Pages != UsagePages || w.usagePages != UsagePages || u.Complete || u.Events != 50*UsagePages ||
		!u.Since.Equal(w.now.Add(-3*time.Minute-time.Duration(50*UsagePages-1)*time.Second).Truncate(time.Second)) {
		t.Fatalf("usage = %+v (%d pages read)", u, w.usagePages)
	}
	for _, tok := range rep.Tokens {
		if tok.ID == second && tok.Use != nil {
			t.Fatalf("the unused token shows use: %+v", tok.Use)
		}
	}

	// Asked for (status --usage-window 24h): the whole window, exact counts.
	w.usagePages = 0
	r := h.rotator()
	r.UsagePolicy.StatusWindow = 24 * time.Hour
	rep = r.Status(context.Background())
	if u := rep.Usage; u == nil || !u.Complete || u.Pages != 100 || u.PageBudget != 0 || rep.Tokens[0].Use.Calls != 5000 {
		t.Fatalf("usage = %+v, use %+v", u, rep.Tokens[0].Use)
	}
}

// Two unrecorded tokens: the 90-day lookup stops once both are seen; one
// that reaches its budget first leaves the run blocked, never deletes.
func TestTwoUnrecordedTokensWithinABudget(t *testing.T) {
	w := newWorld()
	a, av := w.seed(w.now.AddDate(0, -6, 0))
	b, bv := w.seed(w.now.AddDate(0, -11, -15))
	w.addTarget("a").held = bv
	h := newHarness(w)
	h.usage = &fakeUsage{w: w, delivery: 2 * time.Minute}
	w.busy(av, "idp-a", 200)
	w.busy(bv, "idp-b", 1)
	var obs Observed
	obs.Tokens = []TokenInfo{{ID: a}, {ID: b}}
	h.rotator().observeUsage(context.Background(), &obs)
	if w.usagePages != 1 || obs.Usage[a].Calls == 0 || obs.Usage[b].Calls == 0 {
		t.Fatalf("%d pages, usage %+v: want both seen on the first page", w.usagePages, obs.Usage)
	}

	w.uses = nil
	w.busy(bv, "idp-b", 50*observePages+10) // a is never seen
	w.usagePages = 0
	obs = Observed{Tokens: []TokenInfo{{ID: a}, {ID: b}}}
	h.rotator().observeUsage(context.Background(), &obs)
	if w.usagePages != observePages || obs.Usage != nil {
		t.Fatalf("%d pages, usage %v: want the budget read and no usage (blocked)", w.usagePages, obs.Usage)
	}
}
