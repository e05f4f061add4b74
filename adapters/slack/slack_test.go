package slack_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scim-rotator/scim-rotator/adapters/internal/safehttp/safehttptest"
	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	slackadapter "github.com/scim-rotator/scim-rotator/adapters/slack"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// canary is a token value no message, error or log may contain.
const canary = "LEAKCANARY-scim-9f3b2c7d1e"

// webhookSecret is the secret part of the sandbox webhook path.
var webhookSecret = func() string {
	p := sandbox.NewSlack(nil).Path()
	return p[strings.LastIndex(p, "/")+1:]
}()

type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}
func (c *fakeClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

type env struct {
	fake   *sandbox.Slack
	faults *sandbox.Faults
	srv    *httptest.Server
	clock  *fakeClock
	logs   *observer.ObservedLogs
	n      *slackadapter.Notifier
}

// setup runs the fake webhook behind TLS and builds the notifier the way the
// factory does: the URL comes from an env var.
func setup(t *testing.T, cfg config.Slack) *env {
	t.Helper()
	e := &env{faults: &sandbox.Faults{}, clock: &fakeClock{now: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)}}
	e.fake = sandbox.NewSlack(e.faults)
	e.srv = httptest.NewTLSServer(e.fake)
	t.Cleanup(e.srv.Close)
	t.Setenv("TEST_SLACK_WEBHOOK_URL", e.srv.URL+e.fake.Path())
	cfg.WebhookURLEnv = "TEST_SLACK_WEBHOOK_URL"
	core, logs := observer.New(zap.DebugLevel)
	e.logs = logs
	n, err := slackadapter.New(t.Context(), cfg, slackadapter.Options{Logger: zap.New(core), HTTPClient: e.srv.Client(), Clock: e.clock})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.n = n
	return e
}

// assertNoLeak fails if s holds the token canary or the webhook's secret.
func assertNoLeak(t *testing.T, what, s string) {
	t.Helper()
	for _, bad := range []string{canary, webhookSecret, "T00SANDBOX"} {
		if strings.Contains(s, bad) {
			t.Errorf("%s leaks %q: %s", what, bad, s)
		}
	}
}

func (e *env) assertLogsClean(t *testing.T) {
	t.Helper()
	for _, l := range e.logs.All() {
		b, _ := json.Marshal(l.ContextMap())
		assertNoLeak(t, "log line", l.Message+" "+string(b))
	}
}

// event is a full event built only from ids, as the core builds it.
func event(outcome rotator.Reason) rotator.Event {
	return rotator.Event{
		Outcome:    outcome,
		Message:    "Rotation r-20250601 finished with outcome " + string(outcome) + ".",
		Instance:   "d-9067abcdef",
		Region:     "eu-west-1",
		RotationID: "r-20250601",
		OldTokenID: "tok-old-1111",
		NewTokenID: "tok-new-2222",
		NewExpiry:  time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC),
		DaysLeft:   365,
		Targets: []rotator.TargetProgress{
			{Name: "entra-prod", State: rotator.TargetConfirmed, Message: "provisioning cycle succeeded"},
			{Name: "okta-prod", State: rotator.TargetFailed, Message: "test connection refused the token"},
		},
		FailedStep:  "Test",
		Error:       "test okta-prod: E0000001 <Api validation failed>",
		NextActions: []string{"Run scim-rotator status", "Fix the Okta app and run scim-rotator rotate --continue"},
		Links: []rotator.Link{
			{Text: "AWS console", URL: "https://eu-west-1.console.aws.amazon.com/singlesignon/home?region=eu-west-1#!/settings"},
			{Text: "Entra provisioning", URL: "https://portal.azure.com/#view/Microsoft_AAD_IAM/ManagedAppMenuBlade/~/ProvisioningManagement/objectId/sp-1/appId/app-1"},
			{Text: "Okta app", URL: "https://example.okta.com/admin/app/amazon_aws_sso/instance/0oa1/#tab-provisioning"},
		},
	}
}

func TestNotifyEveryOutcome(t *testing.T) {
	all := config.NotifyOutcomes
	e := setup(t, config.Slack{Channel: "#scim-alerts", NotifyOn: all})
	for _, o := range all {
		t.Run(o, func(t *testing.T) {
			e.fake.Reset()
			ev := event(rotator.Reason(o))
			if err := e.n.Notify(t.Context(), ev); err != nil {
				t.Fatalf("Notify: %v", err)
			}
			got := e.fake.Received()
			if len(got) != 1 {
				t.Fatalf("fake received %d messages, want 1", len(got))
			}
			m := got[0]
			if !strings.Contains(m.Header(), o) {
				t.Errorf("header %q does not name the outcome %s", m.Header(), o)
			}
			if m.Channel != "#scim-alerts" {
				t.Errorf("channel = %q", m.Channel)
			}
			if !strings.Contains(m.Text, o) || !strings.Contains(m.Text, "d-9067abcdef") {
				t.Errorf("fallback text %q lacks the outcome or instance", m.Text)
			}
			text := m.AllText()
			for _, want := range []string{
				"d-9067abcdef", "eu-west-1", "tok-old-1111", "tok-new-2222", "r-20250601",
				"2026-06-01 12:00 UTC", "365 days left",
				"*entra-prod*: Confirmed — provisioning cycle succeeded",
				"*okta-prod*: Failed — test connection refused the token",
				"*Failed step:* `Test`", "E0000001 &lt;Api validation failed&gt;",
				"1. Run scim-rotator status", "2. Fix the Okta app",
				"<https://eu-west-1.console.aws.amazon.com/singlesignon/home?region=eu-west-1#!/settings|AWS console>",
				"|Entra provisioning>", "<https://example.okta.com/admin/app/amazon_aws_sso/instance/0oa1/#tab-provisioning|Okta app>",
			} {
				if !strings.Contains(text, want) {
					t.Errorf("message lacks %q:\n%s", want, text)
				}
			}
		})
	}
}

func TestMessageShapes(t *testing.T) {
	tests := []struct {
		name   string
		ev     rotator.Event
		want   []string
		absent []string
	}{
		{
			name:   "rotated: no failure section",
			ev:     rotator.Event{Outcome: rotator.ReasonRotated, Instance: "d-1", Region: "us-east-1", OldTokenID: "t1", NewTokenID: "t2", NewExpiry: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), DaysLeft: 1},
			want:   []string{"Rotated: SCIM token rotated", "SCIM token rotated.", "*New token expires*\n2026-01-02 03:04 UTC (1 day left)", "`t1`", "`t2`"},
			absent: []string{"Failed step", "Next actions", "Links"},
		},
		{
			name:   "a fleet instance: its name in the header, its store id beside it",
			ev:     rotator.Event{Outcome: rotator.ReasonFailed, Instance: "prod", Region: "d-1234567890, us-east-1"},
			want:   []string{"Failed: rotation failed · prod", "*Identity Center*\n`prod` (d-1234567890, us-east-1)"},
			absent: []string{"unknown instance"},
		},
		{
			name: "expiring soon: live token days left",
			ev:   rotator.Event{Outcome: rotator.ReasonExpiringSoon, Instance: "d-1", OldTokenID: "t1", DaysLeft: 6, Message: "Rotation is blocked by a second token."},
			want: []string{"ExpiringSoon", "*Token expires*\n6 days left", "Rotation is blocked by a second token."},
		},
		{
			name: "expired",
			ev:   rotator.Event{Outcome: rotator.ReasonExpiringSoon, DaysLeft: -3},
			want: []string{"expired 3 days ago"},
		},
		{
			name: "failed step without error",
			ev:   rotator.Event{Outcome: rotator.ReasonFailed, FailedStep: "Push"},
			want: []string{"*Failed step:* `Push`"},
		},
		{
			name:   "mrkdwn in caller text is escaped, bad links dropped",
			ev:     rotator.Event{Outcome: rotator.ReasonBlocked, Message: "<!channel> & <https://evil|click>", Links: []rotator.Link{{Text: "x", URL: "javascript:alert(1)"}, {Text: "a|b", URL: "https://h.example/p?a=1&b=2"}}},
			want:   []string{"&lt;!channel&gt; &amp; &lt;https://evil|click&gt;", "<https://h.example/p?a=1&amp;b=2|a|b>"},
			absent: []string{"<!channel>", "javascript:"},
		},
		{
			name: "unknown outcome still renders",
			ev:   rotator.Event{Outcome: "Weird"},
			want: []string{"Weird: rotation update"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := slackadapter.Message(tt.ev)
			b, err := json.Marshal(msg)
			if err != nil {
				t.Fatal(err)
			}
			var m sandbox.SlackMessage
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			text := m.AllText()
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("message lacks %q:\n%s", w, text)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(text, a) {
					t.Errorf("message holds %q:\n%s", a, text)
				}
			}
		})
	}
}

// TestMessageLimits posts oversized caller text: the fake (which enforces
// Block Kit's limits like Slack) must still accept it.
func TestMessageLimits(t *testing.T) {
	e := setup(t, config.Slack{})
	long := strings.Repeat("x```y", 2000)
	ev := rotator.Event{
		Outcome: rotator.ReasonFailed, Message: long, Instance: strings.Repeat("d", 3000),
		FailedStep: long, Error: long, NextActions: []string{long, long},
		Targets: []rotator.TargetProgress{{Name: long, State: rotator.TargetFailed, Message: long}},
	}
	if err := e.n.Notify(t.Context(), ev); err != nil {
		t.Fatalf("Notify with oversized text: %v", err)
	}
	if len(e.fake.Received()) != 1 {
		t.Fatal("message not accepted")
	}
}

// TestNoTokenInMessage: the event carries only ids; a careless caller that
// formats a token struct into the event's text still cannot leak its value,
// and the payload shows the ids the caller gave.
func TestNoTokenInMessage(t *testing.T) {
	e := setup(t, config.Slack{NotifyOn: config.NotifyOutcomes})
	tok := rotator.Token{TokenInfo: rotator.TokenInfo{ID: "tok-new-2222"}, Value: rotator.NewSecret(canary)}
	cred := rotator.Credential{SCIMEndpoint: "https://scim.eu-west-1.amazonaws.com/x/scim/v2/", TokenID: tok.ID, Token: tok.Value}
	ev := event(rotator.ReasonFailed)
	ev.Message = "pushed " + tokString(tok) + " / " + credString(cred)
	ev.Error = credString(cred)
	ev.Targets[0].Message = tokString(tok)
	if err := e.n.Notify(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	raw := e.fake.Messages()
	if len(raw) != 1 {
		t.Fatalf("got %d messages", len(raw))
	}
	assertNoLeak(t, "slack payload", string(raw[0]))
	if !strings.Contains(string(raw[0]), "tok-new-2222") {
		t.Errorf("payload lacks the token id: %s", raw[0])
	}
	e.assertLogsClean(t)
}

// tokString and credString format a token the careless ways a caller might.
func tokString(t rotator.Token) string {
	b, _ := json.Marshal(t)
	return string(b) + fmt.Sprintf(" %v %+v %#v %s", t, t, t, t.Value)
}

func credString(c rotator.Credential) string { return fmt.Sprintf("%v %+v %#v", c, c, c) }

func TestNotifyOn(t *testing.T) {
	tests := []struct {
		name     string
		notifyOn []string
		posted   []rotator.Reason
		skipped  []rotator.Reason
	}{
		{
			name:    "default: everything except NotDue and Waiting",
			posted:  []rotator.Reason{rotator.ReasonRotated, rotator.ReasonRolledBack, rotator.ReasonFailed, rotator.ReasonBlocked, rotator.ReasonAwaitingHandoff, rotator.ReasonAwaitingToken, rotator.ReasonExpiringSoon, rotator.ReasonConfirmTimeout},
			skipped: []rotator.Reason{rotator.ReasonNotDue, rotator.ReasonDryRun, rotator.ReasonWaiting},
		},
		{
			name:     "failures only",
			notifyOn: []string{"Failed", "RolledBack"},
			posted:   []rotator.Reason{rotator.ReasonFailed, rotator.ReasonRolledBack},
			skipped:  []rotator.Reason{rotator.ReasonRotated, rotator.ReasonNotDue, rotator.ReasonExpiringSoon},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, config.Slack{NotifyOn: tt.notifyOn})
			for _, o := range tt.skipped {
				if e.n.Wants(o) {
					t.Errorf("Wants(%s) = true", o)
				}
				if err := e.n.Notify(t.Context(), event(o)); err != nil {
					t.Errorf("Notify(%s): %v", o, err)
				}
			}
			if n := e.faults.Count("slack:Post"); n != 0 {
				t.Errorf("%d posts for outcomes not selected", n)
			}
			for _, o := range tt.posted {
				if err := e.n.Notify(t.Context(), event(o)); err != nil {
					t.Errorf("Notify(%s): %v", o, err)
				}
			}
			got := e.fake.Received()
			if len(got) != len(tt.posted) {
				t.Fatalf("posted %d messages, want %d", len(got), len(tt.posted))
			}
			for i, o := range tt.posted {
				if !strings.Contains(got[i].Header(), string(o)) {
					t.Errorf("message %d header %q, want %s", i, got[i].Header(), o)
				}
			}
		})
	}
}

func retryAfter(s string) http.Header { return http.Header{"Retry-After": {s}} }

func TestRetries(t *testing.T) {
	tests := []struct {
		name      string
		faults    []sandbox.Fault
		wantErr   string // "" = delivered
		transient bool
		posts     int
		waits     []time.Duration
	}{
		{
			name:   "429 honours Retry-After, then ok",
			faults: []sandbox.Fault{{Status: 429, Header: retryAfter("7")}},
			posts:  2, waits: []time.Duration{7 * time.Second},
		},
		{
			name:   "5xx backs off, then ok",
			faults: []sandbox.Fault{{Status: 503}, {Status: 500}, {Status: 502}},
			posts:  4, waits: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
		},
		{
			name:   "429 without Retry-After backs off",
			faults: []sandbox.Fault{{Status: 429}},
			posts:  2, waits: []time.Duration{time.Second},
		},
		{
			name:   "mixed 429 and 5xx",
			faults: []sandbox.Fault{{Status: 500}, {Status: 429, Header: retryAfter("3")}},
			posts:  3, waits: []time.Duration{time.Second, 3 * time.Second},
		},
		{
			name:    "gives up after 4 posts",
			faults:  []sandbox.Fault{{Status: 503}, {Status: 503}, {Status: 503}, {Status: 503}, {Status: 503}},
			wantErr: "post Failed message to slack (attempt 4 of 4): slack server error: 503 Service Unavailable", transient: true,
			posts: 4, waits: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
		},
		{
			name:    "Retry-After beyond the bound gives up at once",
			faults:  []sandbox.Fault{{Status: 429, Header: retryAfter("3600")}},
			wantErr: "post Failed message to slack (attempt 1 of 4): slack rate limit exceeded, retry after 1h0m0s",
			posts:   1,
		},
		{
			name:    "4xx is not retried",
			faults:  []sandbox.Fault{{Status: 403, Body: "action_prohibited"}},
			wantErr: "post Failed message to slack (attempt 1 of 4): slack server error: 403 Forbidden",
			posts:   1,
		},
		{
			name:   "answer lost after the work: posted twice",
			faults: []sandbox.Fault{{Status: 503, After: true}},
			posts:  2, waits: []time.Duration{time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, config.Slack{})
			e.faults.Inject("slack:Post", tt.faults...)
			err := e.n.Notify(t.Context(), event(rotator.ReasonFailed))
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Notify: %v", err)
			}
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Notify error = %v, want %q", err, tt.wantErr)
				}
				if rotator.IsTransient(err) != tt.transient {
					t.Errorf("IsTransient = %v, want %v", !tt.transient, tt.transient)
				}
				assertNoLeak(t, "error", err.Error())
			}
			if n := e.faults.Count("slack:Post"); n != tt.posts {
				t.Errorf("posts = %d, want %d", n, tt.posts)
			}
			if got := e.clock.Waits(); !equalDurations(got, tt.waits) {
				t.Errorf("waits = %v, want %v", got, tt.waits)
			}
			e.assertLogsClean(t)
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestWebhookURLNeverInErrors drives every way a post can fail and checks
// that no error names the webhook URL (slack-go's transport errors quote it).
func TestWebhookURLNeverInErrors(t *testing.T) {
	t.Run("wrong path 404", func(t *testing.T) {
		e := setup(t, config.Slack{})
		t.Setenv("TEST_SLACK_WEBHOOK_URL", e.srv.URL+"/services/T1/B1/"+webhookSecret+"x")
		n, err := slackadapter.New(t.Context(), config.Slack{WebhookURLEnv: "TEST_SLACK_WEBHOOK_URL"}, slackadapter.Options{HTTPClient: e.srv.Client(), Clock: e.clock})
		if err != nil {
			t.Fatal(err)
		}
		err = n.Notify(t.Context(), event(rotator.ReasonFailed))
		if err == nil || !strings.Contains(err.Error(), "404") {
			t.Fatalf("err = %v, want a 404", err)
		}
		assertNoLeak(t, "error", err.Error())
	})
	t.Run("connection refused", func(t *testing.T) {
		e := setup(t, config.Slack{})
		e.srv.Close()
		err := e.n.Notify(t.Context(), event(rotator.ReasonFailed))
		if err == nil {
			t.Fatal("no error from a closed server")
		}
		assertNoLeak(t, "error", err.Error())
		if e.srv.URL != "" && strings.Contains(err.Error(), e.srv.URL+"/") {
			t.Errorf("error quotes the URL: %v", err)
		}
	})
	t.Run("context cancelled", func(t *testing.T) {
		e := setup(t, config.Slack{})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := e.n.Notify(ctx, event(rotator.ReasonFailed))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		assertNoLeak(t, "error", err.Error())
	})
	t.Run("hang until timeout", func(t *testing.T) {
		e := setup(t, config.Slack{})
		e.faults.Inject("slack:Post", sandbox.Fault{Hang: true})
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		err := e.n.Notify(ctx, event(rotator.ReasonFailed))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want DeadlineExceeded", err)
		}
		assertNoLeak(t, "error", err.Error())
	})
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	badFile := filepath.Join(dir, "url")
	if err := os.WriteFile(badFile, []byte("hooks.slack.com/services/T1/B1/"+webhookSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_BAD_URL", "ftp://hooks.slack.com/services/T1/B1/"+webhookSecret)
	t.Setenv("TEST_GARBAGE_URL", "://%zz/services/"+webhookSecret)
	tests := []struct {
		name    string
		cfg     config.Slack
		wantKey string
	}{
		{name: "unset env", cfg: config.Slack{WebhookURLEnv: "TEST_UNSET_SLACK_URL"}, wantKey: "notify.slack.webhookUrlEnv"},
		{name: "no source", cfg: config.Slack{}, wantKey: "notify.slack.webhookUrlEnv"},
		{name: "missing file", cfg: config.Slack{WebhookURLFile: filepath.Join(dir, "nope")}, wantKey: "notify.slack.webhookUrlFile"},
		{name: "not a URL (file)", cfg: config.Slack{WebhookURLFile: badFile}, wantKey: "notify.slack.webhookUrlFile"},
		{name: "wrong scheme", cfg: config.Slack{WebhookURLEnv: "TEST_BAD_URL"}, wantKey: "notify.slack.webhookUrlEnv"},
		{name: "unparseable", cfg: config.Slack{WebhookURLEnv: "TEST_GARBAGE_URL"}, wantKey: "notify.slack.webhookUrlEnv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := slackadapter.New(t.Context(), tt.cfg, slackadapter.Options{})
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Key != tt.wantKey {
				t.Fatalf("New error = %v, want *config.Error for %s", err, tt.wantKey)
			}
			assertNoLeak(t, "error", err.Error())
		})
	}
}

// TestNotifierNeverPrintsWebhook: whatever verb formats the notifier (or
// its config), the webhook URL does not appear.
func TestNotifierNeverPrintsWebhook(t *testing.T) {
	e := setup(t, config.Slack{Channel: "#ops"})
	cfg := config.Slack{WebhookURLEnv: "TEST_SLACK_WEBHOOK_URL", Channel: "#ops"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		for what, v := range map[string]any{"pointer": e.n, "value": *e.n, "config": cfg, "config pointer": &cfg, "in a struct": struct{ N *slackadapter.Notifier }{e.n}} {
			out := fmt.Sprintf(verb, v)
			assertNoLeak(t, what+" "+verb, out)
			if strings.Contains(out, e.srv.URL) {
				t.Errorf("%s %s prints the webhook host: %s", what, verb, out)
			}
		}
	}
	if got := fmt.Sprint(e.n); !strings.Contains(got, "#ops") || !strings.Contains(got, "[redacted]") {
		t.Errorf("notifier prints as %q: want the channel and a redacted webhook", got)
	}
}

// TestNewRefusesInsecureWebhook: the webhook URL is a credential: https
// only (http for loopback), checked at construction, never quoted.
func TestNewRefusesInsecureWebhook(t *testing.T) {
	tests := []struct{ url, want string }{
		{"http://hooks.slack.com/services/T1/B1/" + webhookSecret, "notify.slack.webhookUrlEnv: the webhook URL must use https (http is allowed only for a loopback host: 127.0.0.0/8, ::1, localhost) (expected https://hooks.slack.com/services/...)"},
		{"https://u:" + webhookSecret + "@hooks.slack.com/services/T1/B1/x", "notify.slack.webhookUrlEnv: the webhook URL must not contain user info (user:password@): credentials never go in a URL (expected https://hooks.slack.com/services/...)"},
		{"http://127.0.0.1:9/services/T1/B1/" + webhookSecret, ""},
		{"https://hooks.slack.com/services/T1/B1/" + webhookSecret, ""},
	}
	for _, tt := range tests {
		t.Setenv("TEST_SLACK_WEBHOOK_URL", tt.url)
		_, err := slackadapter.New(t.Context(), config.Slack{WebhookURLEnv: "TEST_SLACK_WEBHOOK_URL"}, slackadapter.Options{})
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("rejected: %v", err)
		case tt.want != "" && (err == nil || err.Error() != tt.want):
			t.Errorf("error = %v, want %q", err, tt.want)
		}
		if err != nil {
			assertNoLeak(t, "error", err.Error())
		}
	}
}

// TestWebhookRedirectNotFollowed: a 3xx from the webhook is a failure; the
// URL (the credential) is not posted to the Location.
func TestWebhookRedirectNotFollowed(t *testing.T) {
	srv := safehttptest.New(t, http.StatusPermanentRedirect, true)
	t.Setenv("TEST_SLACK_WEBHOOK_URL", srv.URL+"/services/T1/B1/"+webhookSecret)
	n, err := slackadapter.New(t.Context(), config.Slack{WebhookURLEnv: "TEST_SLACK_WEBHOOK_URL"}, slackadapter.Options{HTTPClient: srv.Client(), MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	err = n.Notify(t.Context(), event(rotator.ReasonFailed))
	if err == nil || srv.Followed() != 0 {
		t.Fatalf("err = %v, followed %d: want a failure and no redirect", err, srv.Followed())
	}
	assertNoLeak(t, "error", err.Error())
}
