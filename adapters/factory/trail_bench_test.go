package factory

import (
	"context"
	"math"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// busyPerDay is a large directory's SCIM traffic: 100k calls a day (a big
// Entra or Okta tenant, ssosync every 15 minutes), one every 0.864 s.
const busyPerDay = 100_000

// BenchmarkBusyCloudTrail measures what CloudTrail costs in a directory
// making 100k SCIM calls a day (the sandbox's CloudTrail, pages of 50 as the
// service's, counting them; a virtual clock, so LookupEvents' pacing takes
// no real time):
//
//   - status: `status` when the live token was last used a minute ago. It
//     fails above 5 LookupEvents calls ("lookups/op").
//
//   - quiet: a rotation with the production defaults (quietPeriod 15m,
//     deliveryDelay 15m, pollInterval 30s), the directory's calls moving to
//     the new token when it is pushed, CloudTrail delivering each a minute
//     late. It reports the LookupEvents calls of the 30-minute quiet wait
//     ("quiet-lookups/op"), of the whole rotation ("lookups/op"), the
//     events in the wait's window ("quiet-events/op") and its polls
//     ("quiet-polls/op"), and fails above 2 x events/50 + polls.
//
//     go test ./adapters/factory -run '^$' -bench BusyCloudTrail -benchtime 1x
func BenchmarkBusyCloudTrail(b *testing.B) {
	b.Run("status", func(b *testing.B) {
		sb, cfg := sandboxConfig(b)
		sb.SeedLiveToken(300 * 24 * time.Hour)
		now := sb.Clock.Now()
		sb.BusyDirectory(busyPerDay, now.Add(-24*time.Hour), now.Add(-time.Minute))
		rot, err := Build(context.Background(), cfg, Options{Logger: zap.NewNop(), Clock: sb.Clock, HTTPClient: sb.Client, AWSCredentials: sandbox.AWSCredentials()})
		if err != nil {
			b.Fatal(err)
		}
		pages := sb.CloudTrail.Pages()
		for b.Loop() {
			rep := rot.Status(context.Background())
			if len(rep.Errors) > 0 {
				b.Fatalf("status errors: %v", rep.Errors)
			}
		}
		per := float64(sb.CloudTrail.Pages()-pages) / float64(b.N)
		b.ReportMetric(per, "lookups/op")
		b.Logf("status: %.0f LookupEvents calls", per)
		if per > 5 {
			b.Fatalf("status made %.0f LookupEvents calls: want at most 5", per)
		}
	})
	b.Run("quiet", func(b *testing.B) {
		var quiet, all, events, polls float64
		for range b.N {
			q, a, e, p := busyRotation(b)
			quiet, all, events, polls = quiet+q, all+a, events+e, polls+p
		}
		n := float64(b.N)
		b.ReportMetric(quiet/n, "quiet-lookups/op")
		b.ReportMetric(all/n, "lookups/op")
		b.ReportMetric(events/n, "quiet-events/op")
		b.ReportMetric(polls/n, "quiet-polls/op")
		b.Logf("quiet wait: %.0f LookupEvents calls for %.0f events and %.0f polls; rotation: %.0f", quiet/n, events/n, polls/n, all/n)
		if limit := 2*events/50 + polls; quiet > limit {
			b.Fatalf("the quiet wait made %.0f LookupEvents calls for %.0f events and %.0f polls: want at most 2 x events/50 + polls = %.0f", quiet/n, events/n, polls/n, limit/n)
		}
	})
}

// busyRotation rotates once in a busy directory with the production
// defaults and returns the quiet wait's LookupEvents calls, the rotation's,
// the events in the quiet wait's window (from the last switch to its end)
// and its polls.
func busyRotation(b *testing.B) (quiet, all, events, polls float64) {
	b.StopTimer()
	sb, cfg := sandboxConfig(b)
	d := func(v time.Duration) config.Duration { return config.Duration{Duration: v} }
	cfg.Usage.QuietPeriod, cfg.Usage.DeliveryDelay = d(config.DefaultQuietPeriod), d(config.DefaultDeliveryDelay)
	cfg.Usage.PollInterval = d(config.DefaultPollInterval)
	cfg.ConfirmTimeout, cfg.LockTimeout = d(config.DefaultConfirmTimeout), d(config.DefaultLockTimeout)
	sb.CloudTrail.SetDeliveryDelay(time.Minute)
	sb.SeedLiveToken(300 * 24 * time.Hour)
	now := sb.Clock.Now()
	sb.BusyDirectory(busyPerDay, now.Add(-24*time.Hour), now.Add(6*time.Hour))
	rot, err := Build(context.Background(), cfg, Options{Logger: zap.NewNop(), Clock: sb.Clock, HTTPClient: sb.Client, AWSCredentials: sandbox.AWSCredentials()})
	if err != nil {
		b.Fatal(err)
	}
	var switched, start time.Time
	var startPages int
	rot.OnStep = func(ev rotator.StepEvent) {
		switch {
		case ev.Step == "push" && ev.Done:
			switched = sb.Clock.Now()
		case ev.Step == "quiet" && !ev.Done && ev.Wait == nil:
			start, startPages = sb.Clock.Now(), sb.CloudTrail.Pages()
		case ev.Step == "quiet" && ev.Done:
			end := sb.Clock.Now()
			quiet = float64(sb.CloudTrail.Pages() - startPages)
			events = float64(sb.CloudTrail.EventsBetween(switched, end))
			polls = math.Ceil(float64(end.Sub(start))/float64(config.DefaultPollInterval)) + 1
		}
	}
	pages := sb.CloudTrail.Pages()
	b.StartTimer()
	if res := rot.Run(context.Background(), rotator.RunOptions{Now: true}); res.Outcome != rotator.ReasonRotated {
		b.Fatalf("outcome %s: %s", res.Outcome, res.Message)
	}
	b.StopTimer()
	return quiet, float64(sb.CloudTrail.Pages() - pages), events, polls
}
