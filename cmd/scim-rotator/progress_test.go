package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/rotator"
)

// The short lines: a step's start and end, a wait's start (what for, since
// when, the deadline and what then) and its looks (what was seen, the next
// check), [target] and [instance] where they apply; --log-level warn keeps
// only a failed step's.
func TestProgressLines(t *testing.T) {
	at := time.Date(2026, 12, 8, 0, 22, 6, 0, time.UTC)
	w := &rotator.Wait{For: "CloudTrail to show no use of the old token t-1", Since: at, Deadline: at.Add(90 * time.Minute), Then: "the old token is kept"}
	start, poll, next := *w, *w, *w
	start.Kind = rotator.WaitStart
	poll.Kind, poll.Seen, poll.NextCheck = rotator.WaitPoll, "the old token t-1 not used since 2026-12-08T00:22:06Z", at.Add(30*time.Second)
	next.Kind, next.Seen = rotator.WaitPoll, "no proof yet"
	events := []rotator.StepEvent{
		{Step: "quiet", At: at},
		{Step: "quiet", At: at, Wait: &start},
		{Step: "quiet", At: at, Wait: &poll},
		{Step: "watch", Target: "google", At: at, Wait: &next},
		{Step: "quiet", Done: true, Detail: "wait until the old token is quiet", At: at},
		{Step: "push", Target: "entra", Done: true, Err: errors.New("refused"), Detail: "push token t-2 to entra", At: at},
	}
	want := []string{
		"  [prod] ...  quiet",
		"  [prod] wait quiet         CloudTrail to show no use of the old token t-1, since 2026-12-08T00:22:06Z; deadline 2026-12-08T01:52:06Z (in 1h30m0s), then the old token is kept",
		"  [prod] ..   quiet         the old token t-1 not used since 2026-12-08T00:22:06Z; next check in 30s",
		"  [prod] ..   watch         [google] no proof yet; next check: the next run",
		"  [prod] ok   quiet         wait until the old token is quiet",
		"  [prod] FAIL push          [entra] push token t-2 to entra: refused",
	}
	var out strings.Builder
	print := progressPrinter(&out, "prod")
	for _, e := range events {
		print(e)
	}
	if got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	log, err := newLogger("console", "warn", &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	print = heedLevel(log, progressPrinter(&out, ""))
	for _, e := range events {
		print(e)
	}
	if got := out.String(); got != "  FAIL push          [entra] push token t-2 to entra: refused\n" {
		t.Fatalf("--log-level warn: %q", got)
	}
}
