package factory

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// TestYearOnTheVirtualClock runs the daemon's passes (rotator.Daemon.Tick,
// what `run` does on every tick of its schedule) against the sandbox on its
// virtual clock for a year, at production defaults, on the default schedule
// and on one every 10 minutes, through a bad start: a run killed in the
// middle of a rotation (its lease left behind), a 2-day CloudTrail outage
// while the rotation waits for proof of use, and a forgotten consumer that
// keeps the old token in use for 3 days (OldTokenInUse on every pass). No
// store secret may ever be refused a version (LimitExceededException), and
// none may be written more than 100 times within any 24 hours; both
// rotations of the year must finish.
//
// The SDK's retries wait in real time, so the outage's thousands of failed
// lookups would take minutes: AWS_MAX_ATTEMPTS=1 (the SDK's own setting)
// turns them off here; they change no write.
func TestYearOnTheVirtualClock(t *testing.T) {
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	for _, schedule := range []string{config.DefaultSchedule, "*/10 * * * *"} {
		t.Run(strings.ReplaceAll(schedule, " ", "_"), func(t *testing.T) {
			yearOnTheVirtualClock(t, schedule)
		})
	}
}

func yearOnTheVirtualClock(t *testing.T, schedule string) {
	sb, cfg := sandboxConfig(t)
	d := func(v time.Duration) config.Duration { return config.Duration{Duration: v} }
	cfg.Usage.QuietPeriod, cfg.Usage.DeliveryDelay = d(config.DefaultQuietPeriod), d(config.DefaultDeliveryDelay)
	cfg.Usage.PollInterval = d(config.DefaultPollInterval)
	cfg.ConfirmTimeout, cfg.LockTimeout = d(config.DefaultConfirmTimeout), d(config.DefaultLockTimeout)
	ctx := context.Background()
	opts := Options{Logger: zap.NewNop(), Clock: sb.Clock, HTTPClient: sb.Client, AWSCredentials: sandbox.AWSCredentials()}

	start := sb.Clock.Now()
	oldID, oldValue := sb.SeedLiveToken(340 * 24 * time.Hour) // due: 25 days left
	rot, err := Build(ctx, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := rot.StageCurrent(ctx, oldID, rotator.NewSecret(oldValue), time.Time{}); err != nil {
		t.Fatal(err)
	}

	// A run killed while it pushes: it took the lease, recorded the
	// rotation and stored the token, and never comes back.
	kill := &killSwitch{base: sb.Client.Transport, at: sandbox.SSOSyncSecret, reached: make(chan struct{}), dead: make(chan struct{})}
	t.Cleanup(func() { close(kill.dead) })
	killed := opts
	killed.HTTPClient = &http.Client{Transport: kill, Timeout: sb.Client.Timeout}
	victim, err := Build(ctx, cfg, killed)
	if err != nil {
		t.Fatal(err)
	}
	go victim.Run(ctx, rotator.RunOptions{Now: true})
	<-kill.reached

	// CloudTrail answers nothing for two days; a forgotten consumer uses
	// the old token for three.
	outage := start.Add(48 * time.Hour)
	sb.Faults.Inject("cloudtrail:LookupEvents", sandbox.Fault{Status: 503, Repeat: true,
		Match: func(*http.Request, []byte) bool { return sb.Clock.Now().Before(outage) }})
	forgotten := start.Add(72 * time.Hour)

	sched, err := cron.ParseStandard(schedule)
	if err != nil {
		t.Fatal(err)
	}
	daemon := &rotator.Daemon{Rotator: rot, Schedule: schedule}
	outcomes := map[rotator.Reason]int{}
	var rotated []time.Time
	end := start.AddDate(1, 0, 0)
	for now := start; now.Before(end); now = sb.Clock.Now() {
		// Until the next tick; the consumer syncs every 5 minutes, more
		// often than the quiet period.
		for next := sched.Next(now); sb.Clock.Now().Before(next); {
			step := next.Sub(sb.Clock.Now())
			if sb.Clock.Now().Before(forgotten) {
				if _, err := sb.CallSCIM(ctx, oldValue, "forgotten-sync/1.0"); err != nil {
					t.Fatal(err)
				}
				step = min(step, 5*time.Minute)
			}
			sb.Clock.Advance(step)
		}
		res := daemon.Tick(ctx)
		outcomes[res.Outcome]++
		if res.Outcome == rotator.ReasonRotated {
			rotated = append(rotated, sb.Clock.Now())
		}
		if hold := sb.TargetsHold(); !hold["ssosync"] {
			t.Fatalf("%s: the target holds no working token (%s: %s)", sb.Clock.Now(), res.Outcome, res.Message)
		}
	}
	t.Logf("%s: outcomes %v, rotated at %v", schedule, outcomes, rotated)

	for _, secret := range []string{sandbox.StoreSecret, sandbox.SSOSyncSecret} {
		if n := sb.SM.Refused(secret); n != 0 {
			t.Errorf("%s: %d writes refused by the version quota", secret, n)
		}
		if n := sb.SM.MostWritten(secret, 24*time.Hour); n > 100 {
			t.Errorf("%s: %d versions written within 24 hours", secret, n)
		}
	}
	t.Logf("store secret: %d versions in the year, at most %d in a day", len(sb.SM.Written(sandbox.StoreSecret)), sb.SM.MostWritten(sandbox.StoreSecret, 24*time.Hour))
	// The killed run's rotation, finished after the outage and the
	// consumer, and the next one, eleven months on.
	if len(rotated) != 2 || rotated[0].Before(forgotten) || rotated[1].Sub(start) < 300*24*time.Hour {
		t.Fatalf("rotations finished at %v, want one after %s and one eleven months later", rotated, forgotten)
	}
	// The killed run's token was carried on, not a third one made.
	if n := sb.IC.CreatedCount(); n != 2 {
		t.Fatalf("%d tokens created in the year, want 2", n)
	}
	if outcomes[rotator.ReasonOldTokenInUse] == 0 || outcomes[rotator.ReasonInterrupted] == 0 {
		t.Fatalf("the bad start was not met (outcomes %v): the test proves less than it says", outcomes)
	}
}

// killSwitch is a transport that, at the first push to the secret at, stops
// for good: the process that made the call is as good as killed.
type killSwitch struct {
	base    http.RoundTripper
	at      string
	once    bool
	reached chan struct{}
	dead    chan struct{}
}

func (k *killSwitch) RoundTrip(r *http.Request) (*http.Response, error) {
	if !k.once && r.Header.Get("X-Amz-Target") == "secretsmanager.PutSecretValue" && r.Body != nil {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if bytes.Contains(body, []byte(`"SecretId":"`+k.at+`"`)) {
			k.once = true
			close(k.reached)
			<-k.dead
			return nil, errors.New("the process was killed")
		}
	}
	return k.base.RoundTrip(r)
}
