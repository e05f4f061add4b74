package rotator

import (
	"testing"
	"time"
)

// A proof this run made a moment ago stands for the old token's deletion;
// after a wait (the quiet period) the kept token is proved again.
func TestProofBeforeDeletionReused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		usage  bool
		proofs int
	}{
		{name: "no wait", proofs: 1},
		{name: "after the quiet period", usage: true, proofs: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, h, _, _ := recorded(t)
			proofs := 0
			w.fail = func(call string) error {
				if call == "prover.ProveToken" {
					proofs++
				}
				return nil
			}
			if tc.usage {
				h.usage = &fakeUsage{w: w, delivery: 2 * time.Minute}
			}
			res := h.runWaiting(t, RunOptions{Now: true})
			if res.Outcome != ReasonRotated || proofs != tc.proofs {
				t.Fatalf("outcome %s (%s), %d proofs, want %d", res.Outcome, res.Message, proofs, tc.proofs)
			}
		})
	}
}
