package rotator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// fakeNetwork answers the identity store's network rules.
type fakeNetwork struct {
	rules NetworkRules
	err   error
}

func (f fakeNetwork) NetworkRules(context.Context) (NetworkRules, error) { return f.rules, f.err }

var allowIdP = NetworkRules{SCIMAllowSourceIPs: []string{"203.0.113.0/24", "198.51.100.7/32"}}

// refuseEvery makes the SCIM endpoint refuse every proof from here on, as a
// SCIM allow-list that leaves this host out does.
func refuseEvery(w *world) {
	w.fail = func(call string) error {
		if call == "prover.ProveToken" {
			return fmt.Errorf("scim answered 403: %w", ErrTokenRejected)
		}
		return nil
	}
}

// networkWorld is a live token recorded as current and held by two targets.
func networkWorld(t *testing.T, record bool) (*world, *harness, string) {
	t.Helper()
	w := newWorld()
	oldID, old := w.seed(w.now.AddDate(0, -11, -10))
	a, b := w.addTarget("a"), w.addTarget("b")
	a.held, b.held = old, old
	h := newHarness(w)
	if record {
		if err := h.rotator().StageCurrent(t.Context(), oldID, NewSecret(old), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	return w, h, oldID
}

func (h *harness) runWith(t *testing.T, network NetworkReader) Result {
	t.Helper()
	r := h.rotator()
	r.Network = network
	res := r.Run(t.Context(), RunOptions{})
	h.w.checkInvariant("after run")
	h.assertNoLeak(t, res)
	return res
}

// assertKeptBoth: the run ended Interrupted with the new token, the old one
// and the pending version kept, and no target touched.
func assertKeptBoth(t *testing.T, h *harness, res Result, oldID string) {
	t.Helper()
	w := h.w
	if res.Outcome != ReasonInterrupted || res.ExitCode() != 1 || res.FailedStep != "prove" {
		t.Fatalf("outcome %s at %q: %s", res.Outcome, res.FailedStep, res.Message)
	}
	if len(w.tokens) != 2 || w.tokens[oldID] == nil {
		t.Fatalf("both tokens must be kept: %s", w.state())
	}
	st := w.load()
	if st.Pending == nil || st.Progress == nil || st.Progress.Phase == PhaseDone || st.Progress.Phase == PhaseStuck {
		t.Fatalf("the pending version and the rotation must be kept: %s", w.state())
	}
	for _, tg := range w.targets {
		if tg.pushes != 0 {
			t.Fatalf("target %s was pushed", tg.name)
		}
	}
	if len(w.violations) > 0 {
		t.Fatal(w.violations)
	}
	if !strings.Contains(res.Message, "nothing was rolled back") {
		t.Fatalf("message: %s", res.Message)
	}
}

func TestNewAndCurrentRefusedKeepsBoth(t *testing.T) {
	w, h, oldID := networkWorld(t, true)
	refuseEvery(w)
	res := h.runWith(t, fakeNetwork{rules: allowIdP})
	assertKeptBoth(t, h, res, oldID)
	if !errors.Is(res.Err, ErrBothRefused) {
		t.Fatalf("err %v, want ErrBothRefused", res.Err)
	}
	for _, want := range []string{"so is the recorded current token " + oldID, "203.0.113.0/24, 198.51.100.7/32 (ScimAllowSourceIps)"} {
		if !strings.Contains(res.Message, want) {
			t.Errorf("message lacks %q: %s", want, res.Message)
		}
	}
	if acts := strings.Join(res.NextActions, "\n"); !strings.Contains(acts, "ScimAllowSourceIps (203.0.113.0/24") || !strings.Contains(acts, "Do not delete either") {
		t.Errorf("next actions: %s", acts)
	}

	// The next runs resume the same rotation and prove again: no third
	// token, nothing deleted, and an alert once it has lasted.
	created := w.created
	for range alertAfterFailures - 1 {
		res = h.runWith(t, fakeNetwork{rules: allowIdP})
		assertKeptBoth(t, h, res, oldID)
	}
	if w.created != created {
		t.Fatalf("a resumed run created a token (%d, was %d)", w.created, created)
	}
	if res.quiet {
		t.Fatal("a refusal that lasts must be alerted")
	}

	// The rules let this host in again: once the failing step's hour is
	// over, the rotation goes on and ends.
	w.fail = nil
	w.advance(time.Hour)
	if res := h.runWith(t, nil); res.Outcome != ReasonRotated {
		t.Fatalf("after the rules changed: %s %s", res.Outcome, res.Message)
	}
}

func TestNewRefusedCurrentAcceptedRollsBack(t *testing.T) {
	w, h, oldID := networkWorld(t, true)
	w.fail = failOn("prover.ProveToken", 1, fmt.Errorf("scim answered 401: %w", ErrTokenRejected))
	res := h.runWith(t, fakeNetwork{rules: allowIdP})
	if res.Outcome != ReasonRolledBack {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Message)
	}
	if len(w.tokens) != 1 || w.tokens[oldID] == nil || w.load().Pending != nil {
		t.Fatalf("the new token must be deleted and the pending version dropped: %s", w.state())
	}
}

func TestRefusedWithoutCurrentRecord(t *testing.T) {
	for _, tc := range []struct {
		name    string
		network NetworkReader
		kept    bool
		want    string
		// resumed is the outcome of the run that resumes a kept rotation.
		resumed Reason
	}{
		{"rules restrict SCIM", fakeNetwork{rules: allowIdP}, true, "SCIM calls are allowed only from 203.0.113.0/24", ReasonInterrupted},
		{"VPC endpoint required", fakeNetwork{rules: NetworkRules{VPCEndpointRequired: true}}, true, "only through a VPC endpoint", ReasonInterrupted},
		{"rules unreadable", fakeNetwork{err: errors.New("AccessDeniedException")}, true, "could not be read (AccessDeniedException)", ReasonBlocked},
		{"no reader", nil, true, "could not be read", ReasonBlocked},
		{"rules open SCIM to all", fakeNetwork{rules: NetworkRules{VPCEndpointRequired: true, SCIMAllowSourceIPs: []string{"0.0.0.0/0"}}}, false, "", ""},
		{"no rules", fakeNetwork{}, false, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, h, oldID := networkWorld(t, false)
			refuseEvery(w)
			res := h.runWith(t, tc.network)
			if !tc.kept {
				// The token's own failure, as before: rolled back, nothing
				// switched, so nothing to restore.
				if res.Outcome != ReasonRolledBack || len(w.tokens) != 1 {
					t.Fatalf("outcome %s: %s (%s)", res.Outcome, res.Message, w.state())
				}
				return
			}
			assertKeptBoth(t, h, res, oldID)
			if !strings.Contains(res.Message, tc.want) || !strings.Contains(strings.Join(res.NextActions, "\n"), "stage --current") {
				t.Fatalf("message %q, next %q", res.Message, res.NextActions)
			}
			// The next run resumes the rotation: rules that restrict SCIM
			// keep it Interrupted; without them the refused pending token
			// is a record not to act on, Blocked, as before. Neither
			// deletes a token.
			res = h.runWith(t, tc.network)
			if res.Outcome != tc.resumed || len(w.tokens) != 2 || w.created != 1 {
				t.Fatalf("resumed: outcome %s, want %s: %s (%s)", res.Outcome, tc.resumed, res.Message, w.state())
			}
		})
	}
}

func TestStatusBothRefusedIsNoPlantedRecord(t *testing.T) {
	w, h, _ := networkWorld(t, true)
	refuseEvery(w)
	if res := h.runWith(t, fakeNetwork{rules: allowIdP}); res.Outcome != ReasonInterrupted {
		t.Fatalf("outcome %s", res.Outcome)
	}
	rep := h.rotator().Status(t.Context())
	if rep.Next.Action != ActionResume || !strings.Contains(rep.Next.Message, "and the recorded current token alike") {
		t.Fatalf("next %+v", rep.Next)
	}
	// A pending token refused while the current one is accepted is still
	// reported as a record not to act on.
	w.fail = failOn("prover.ProveToken", 1, fmt.Errorf("scim answered 401: %w", ErrTokenRejected))
	if rep := h.rotator().Status(t.Context()); rep.Next.Action != ActionBlocked {
		t.Fatalf("next %+v", rep.Next)
	}
}
