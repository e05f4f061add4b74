package handoff

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/cloudtrail"
	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

func TestJudge(t *testing.T) {
	since := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return since.Add(d) }
	call := func(d time.Duration, tok, ua string) rotator.Use {
		return rotator.Use{TokenID: tok, Time: at(d), UserAgent: ua, SourceIP: "203.0.113.7", EventName: "ListUsers"}
	}
	refused := func(u rotator.Use) rotator.Use { u.ErrorCode = "AccessDeniedException"; return u }
	req := rotator.ConfirmRequest{Credential: rotator.Credential{TokenID: "new"}, OldTokenID: "old", Since: since}
	const idp, delay = "Google-SCIM/1.0", 5 * time.Minute
	cases := []struct {
		name   string
		agent  string
		uses   []rotator.Use
		now    time.Duration
		proven bool
		why    string
		notWhy string // the why must not say it
	}{
		{name: "nothing yet", uses: []rotator.Use{call(time.Minute, "old", idp)}, now: time.Hour, why: "no successful SCIM call with the new token new"},
		{name: "new, window over", uses: []rotator.Use{call(time.Minute, "old", idp), call(2*time.Minute, "new", idp)}, now: 8 * time.Minute, proven: true},
		{name: "new, window not over", uses: []rotator.Use{call(2*time.Minute, "new", idp)}, now: 6 * time.Minute, why: "delivers calls up to 5m0s late"},
		{name: "tested, not saved", uses: []rotator.Use{call(2*time.Minute, "new", idp), call(3*time.Minute, "old", idp)}, now: time.Hour, why: "was the new token saved"},
		{name: "tested, then saved", uses: []rotator.Use{call(2*time.Minute, "new", idp), call(3*time.Minute, "old", idp), call(30*time.Minute, "new", idp)}, now: time.Hour, proven: true},
		{name: "old in the same second as new", uses: []rotator.Use{call(2*time.Minute, "old", idp), call(2*time.Minute, "new", idp)}, now: time.Hour, why: "was the new token saved"},
		{name: "before the hand-off", uses: []rotator.Use{call(-time.Minute, "new", idp)}, now: time.Hour, why: "no successful SCIM call"},
		{name: "refused", uses: []rotator.Use{refused(call(2*time.Minute, "new", idp))}, now: time.Hour, why: "no successful SCIM call"},
		{name: "the product's own", uses: []rotator.Use{call(2*time.Minute, "new", rotator.UserAgentPrefix+"1.0 (proof)")}, now: time.Hour, why: "no successful SCIM call"},
		{name: "userAgent matches", agent: "Google", uses: []rotator.Use{call(2*time.Minute, "new", idp)}, now: time.Hour, proven: true},
		{name: "userAgent does not match", agent: "JumpCloud", uses: []rotator.Use{call(2*time.Minute, "new", idp)}, now: time.Hour, why: `calls with it came from "Google-SCIM/1.0", which userAgent does not match`},
		// Without userAgent, a client that had the new token before the
		// hand-off was given it by the product (another target).
		{name: "another target's client", uses: []rotator.Use{call(-time.Minute, "new", "Go-http-client/2.0"), call(2*time.Minute, "new", "Go-http-client/2.0")}, now: time.Hour,
			why: `"Go-http-client/2.0" used it before the hand-off`},
		// The product's own proof call before the hand-off is not called
		// another target's client: it is the product's, and not named.
		{name: "the product's own before the hand-off", uses: []rotator.Use{call(-time.Minute, "new", rotator.UserAgentPrefix+"dev"), call(2*time.Minute, "new", rotator.UserAgentPrefix+"dev")}, now: time.Hour,
			why: "no successful SCIM call with the new token new from a client other than scim-rotator since the hand-off", notWhy: "before the hand-off (another target's client)"},
		{name: "another target's client beside the IdP", uses: []rotator.Use{call(-time.Minute, "new", "Go-http-client/2.0"), call(2*time.Minute, "new", "Go-http-client/2.0"), call(3*time.Minute, "new", idp)}, now: time.Hour, proven: true},
		// One client switched while another still sends the old token: the
		// switched one proves this target (the other is R2's business).
		{name: "two clients", uses: []rotator.Use{call(2*time.Minute, "old", "forgotten/1"), call(2*time.Minute, "new", idp), call(20*time.Minute, "old", "forgotten/1")}, now: time.Hour, proven: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := judge(tc.uses, req, tc.agent, at(tc.now), delay)
			if v.proven != tc.proven || !strings.Contains(v.why, tc.why) {
				t.Fatalf("proven %v (%s), want %v with %q", v.proven, v.why, tc.proven, tc.why)
			}
			if tc.notWhy != "" && strings.Contains(v.why, tc.notWhy) {
				t.Fatalf("why says %q: %s", tc.notWhy, v.why)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	cloudtrail := &config.Config{Usage: config.Usage{Source: config.UsageSourceCloudTrail}}
	none := &config.Config{Usage: config.Usage{Source: config.UsageSourceNone}}
	cases := []struct {
		cfg  Config
		root *config.Config
		key  string
		want []string
	}{
		{Config{Instructions: "paste it"}, cloudtrail, "targets[0].handoff", nil},
		{Config{Instructions: "paste it", ConsoleURL: "https://admin.example.com/apps?id=1"}, cloudtrail, "targets[0].handoff", nil},
		{Config{Instructions: "paste it"}, none, "instances[3].targets[1].handoff",
			[]string{`instances[3].targets[1].type: handoff needs usage.source: cloudtrail (it is "none"): only CloudTrail can show that the pasted token is in use`}},
		{Config{}, cloudtrail, "targets[0].handoff", []string{"targets[0].handoff.instructions: required"}},
		{Config{Instructions: strings.Repeat("x", 1001)}, cloudtrail, "targets[0].handoff", []string{"targets[0].handoff.instructions: at most 1000 characters, not 1001"}},
		{Config{Instructions: "x", ConsoleURL: "http://127.0.0.1:8443/"}, cloudtrail, "targets[0].handoff", []string{`targets[0].handoff.consoleUrl: "http://127.0.0.1:8443/" must use https`}},
		{Config{Instructions: "x", ConsoleURL: "admin.google.com"}, cloudtrail, "targets[0].handoff", []string{`targets[0].handoff.consoleUrl: "admin.google.com" is not an absolute https URL`}},
		{Config{Instructions: "x", ConsoleURL: "https://u:p@admin.google.com/"}, cloudtrail, "targets[0].handoff", []string{"targets[0].handoff.consoleUrl: must not contain user info (user:password@)"}},
	}
	for _, tc := range cases {
		tc.cfg.SetDefaults(tc.root)
		var got []string
		for _, e := range config.Errors(tc.cfg.Validate(tc.key, tc.root)) {
			got = append(got, e.Error())
		}
		if len(got) != len(tc.want) {
			t.Fatalf("%+v: got %q, want %q", tc.cfg, got, tc.want)
		}
		for i := range got {
			if !strings.HasPrefix(got[i], tc.want[i]) {
				t.Fatalf("%+v: got %q, want %q", tc.cfg, got[i], tc.want[i])
			}
		}
	}
}

// env is the sandbox (virtual clock) with its SCIM client, and the target
// reading its CloudTrail fake through the real usage source.
type env struct {
	sb     *sandbox.Sandbox
	target *Target
	oldID  string
	oldVal string
	newID  string
	newVal string
}

func newEnv(t *testing.T, agent string) *env {
	t.Helper()
	sb := sandbox.Start(sandbox.Options{Virtual: true, Handoff: true})
	t.Cleanup(sb.Close)
	src, err := cloudtrail.New(t.Context(), config.Usage{Endpoint: sb.URL("cloudtrail")}, sandbox.Region,
		cloudtrail.Options{HTTPClient: sb.Client, AWSCredentials: sandbox.AWSCredentials(), Clock: sb.Clock})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := New("google", Config{Instructions: sandbox.HandoffInstructions, UserAgent: agent},
		Options{Clock: sb.Clock, Usage: src, DeliveryDelay: 2 * time.Second, PollInterval: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{sb: sb, target: tg}
	e.oldID, e.oldVal = sb.SeedLiveToken(300 * 24 * time.Hour)
	e.newID, e.newVal = sb.IC.SeedToken(sb.Clock.Now())
	return e
}

func (e *env) sync(t *testing.T) {
	t.Helper()
	if code, err := e.sb.SCIM.Sync(t.Context()); err != nil || code != 200 {
		t.Fatalf("sync: %d %v", code, err)
	}
}

func (e *env) request(deadline time.Time) rotator.ConfirmRequest {
	return rotator.ConfirmRequest{Credential: rotator.Credential{TokenID: e.newID}, OldTokenID: e.oldID,
		Since: e.sb.Clock.Now(), Deadline: deadline}
}

// Confirm against the CloudTrail fake with the official client: a look
// (deadline now) without proof returns at once; after the paste, a wait
// proves it once the client's calls are delivered and the window is over.
func TestConfirmAgainstCloudTrail(t *testing.T) {
	e := newEnv(t, "sandbox-idp/")
	req := e.request(time.Time{})
	e.sync(t) // still the old token
	e.sb.Clock.Advance(time.Minute)
	err := e.target.Confirm(t.Context(), req)
	if !errors.Is(err, rotator.ErrConfirmTimeout) || !strings.Contains(err.Error(), "no successful SCIM call with the new token") {
		t.Fatalf("look before the paste: %v", err)
	}
	e.sb.SCIM.Paste(e.newVal)
	e.sync(t)
	req.Deadline = e.sb.Clock.Now().Add(time.Hour)
	start := e.sb.Clock.Now()
	// While the window is not over, each look says what it saw.
	var seen []string
	req.Progress = func(p rotator.ConfirmPoll) { seen = append(seen, p.Seen) }
	if err := e.target.Confirm(t.Context(), req); err != nil {
		t.Fatalf("after the paste: %v", err)
	}
	if len(seen) == 0 || !strings.Contains(seen[len(seen)-1], sandbox.HandoffUserAgent) {
		t.Fatalf("reports while waiting: %q", seen)
	}
	if waited := e.sb.Clock.Now().Sub(start); waited < 2*time.Second {
		t.Fatalf("proven after %s: the delivery window was not waited out", waited)
	}
	// check shows the client CloudTrail saw last.
	checks := e.target.Check(t.Context())
	last := checks[len(checks)-1]
	if last.Level != rotator.LevelOK || !strings.Contains(last.Detail, sandbox.HandoffUserAgent) || !strings.Contains(last.Detail, sandbox.HandoffAddr) || !strings.Contains(last.Detail, e.newID) {
		t.Fatalf("check: %+v", last)
	}
	st, err := e.target.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, f := range st.Fields {
		fields[f.Key] = f.Text()
	}
	if fields["lastClientUserAgent"] != sandbox.HandoffUserAgent || fields["lastClientAddress"] != sandbox.HandoffAddr || fields["lastClientSeen"] == "never" {
		t.Fatalf("status: %v", fields)
	}
}

// A client that tested the new token but did not save it keeps sending
// the old one: the wait ends at its deadline without proof.
func TestConfirmTestedNotSaved(t *testing.T) {
	e := newEnv(t, "")
	req := e.request(time.Time{})
	e.sb.SCIM.Paste(e.newVal)
	e.sync(t)
	e.sb.Clock.Advance(time.Second)
	e.sb.SCIM.Paste(e.oldVal) // "Test" without "Save": the old token stays
	e.sync(t)
	req.Deadline = e.sb.Clock.Now().Add(time.Minute)
	err := e.target.Confirm(t.Context(), req)
	if !errors.Is(err, rotator.ErrConfirmTimeout) {
		t.Fatalf("%v", err)
	}
}

func TestCheckWarnsWhenTheUserAgentMatchesNothing(t *testing.T) {
	e := newEnv(t, "JumpCloud")
	e.sync(t)
	e.sb.Clock.Advance(time.Minute)
	checks := e.target.Check(t.Context())
	last := checks[len(checks)-1]
	if last.Level != rotator.LevelWarn || !strings.Contains(last.Detail, sandbox.HandoffUserAgent) || last.Fix == "" {
		t.Fatalf("check: %+v", last)
	}
}

func TestNewNeedsAUsageSource(t *testing.T) {
	_, err := New("google", Config{Instructions: "x"}, Options{ConfigKey: "instances[1].targets[2].handoff"})
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Key != "instances[1].targets[2].type" {
		t.Fatalf("%v", err)
	}
}

func TestHandoffSteps(t *testing.T) {
	tg := &Target{name: "google", cfg: Config{Instructions: "Apps > AWS > Auto-provisioning", ConsoleURL: "https://admin.example.com/"}}
	h := tg.handoff(rotator.Credential{TokenID: "tok-9", SCIMEndpoint: "https://scim.us-east-1.amazonaws.com/t/scim/v2/", Token: rotator.NewSecret("LEAKCANARY")})
	all := h.ConsoleURL + "\n" + strings.Join(h.Steps, "\n")
	for _, want := range []string{"https://admin.example.com/", "Apps > AWS > Auto-provisioning", "tok-9", "https://scim.us-east-1.amazonaws.com/t/scim/v2/", "never into chat"} {
		if !strings.Contains(all, want) {
			t.Fatalf("steps lack %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "LEAKCANARY") {
		t.Fatal("the token value leaked into the hand-off")
	}
}

// check and status on a busy directory (a day of 100k calls by another
// client) read newest first and stop at the page budget, saying how far back
// they read instead of "in the last 24 hours"; once this client has called,
// they stop at the page that shows it.
func TestCheckOnABusyDirectory(t *testing.T) {
	e := newEnv(t, "sandbox-idp/")
	now := e.sb.Clock.Now()
	e.sb.BusyDirectory(100_000, now.Add(-24*time.Hour), now)
	before := e.sb.CloudTrail.Pages()
	checks := e.target.Check(t.Context())
	last := checks[len(checks)-1]
	// The read's own count is exact: 20 pages of 50 events. The sandbox's
	// count may hold a page asked twice (the SDK asks again when an answer
	// is lost: seen as one extra page in a few runs in six).
	if pages := e.sb.CloudTrail.Pages() - before; pages > rotator.UsagePages+2 {
		t.Fatalf("check read %d pages, budget %d", pages, rotator.UsagePages)
	}
	if last.Level != rotator.LevelWarn || !strings.Contains(last.Detail, fmt.Sprintf("in the last %d events, since ", rotator.UsagePages*50)) {
		t.Fatalf("check without this client's calls in the budget: %+v", last)
	}
	e.sync(t) // this client calls now: the newest page shows it
	e.sb.Clock.Advance(time.Minute)
	before = e.sb.CloudTrail.Pages()
	checks = e.target.Check(t.Context())
	last = checks[len(checks)-1]
	if pages := e.sb.CloudTrail.Pages() - before; pages > 2 {
		t.Fatalf("check read %d pages; this client's call is on the first", pages)
	}
	if last.Level != rotator.LevelOK || !strings.Contains(last.Detail, sandbox.HandoffUserAgent) {
		t.Fatalf("check: %+v", last)
	}
}
