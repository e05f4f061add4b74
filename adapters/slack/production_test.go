package slack

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/internal/safehttp/safehttptest"
	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// The production path: no HTTP client, clock or logger injected; the
// webhook's CA only in AWS_CA_BUNDLE (the one trust store every client
// shares).
func TestProductionPathZeroOptions(t *testing.T) {
	fake := sandbox.NewSlack(&sandbox.Faults{})
	srv := safehttptest.Production(t, fake)
	t.Setenv("TEST_SLACK_WEBHOOK_URL", srv.URL+fake.Path())
	n, err := New(t.Context(), config.Slack{WebhookURLEnv: "TEST_SLACK_WEBHOOK_URL"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(t.Context(), rotator.Event{Outcome: rotator.ReasonRotated, Instance: "prod"}); err != nil {
		t.Fatalf("notify over the production path: %v", err)
	}
	if got := len(fake.Received()); got != 1 {
		t.Fatalf("the webhook received %d messages, want 1", got)
	}
}

// A webhook that accepts the connection and never answers: the post ends
// with its timeout, is not retried, and the error names no URL.
func TestHangTimesOut(t *testing.T) {
	defer func(d time.Duration) { postTimeout = d }(postTimeout)
	postTimeout = time.Second
	srv := safehttptest.Hanging(t)
	url := srv.URL + "/services/T0/B0/hangingsecret"
	t.Setenv("TEST_SLACK_WEBHOOK_URL", url)
	n, err := New(t.Context(), config.Slack{WebhookURLEnv: "TEST_SLACK_WEBHOOK_URL"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = n.Notify(t.Context(), rotator.Event{Outcome: rotator.ReasonRotated, Instance: "prod"})
	if !errors.Is(err, context.DeadlineExceeded) && (err == nil || !strings.Contains(err.Error(), "Timeout")) {
		t.Fatalf("a hanging webhook: %v, want a timeout", err)
	}
	if strings.Contains(err.Error(), "hangingsecret") {
		t.Errorf("the error names the webhook URL: %v", err)
	}
	if !strings.Contains(err.Error(), "attempt 1 of") {
		t.Errorf("a timed-out post was retried: %v", err)
	}
}
