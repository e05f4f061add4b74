package slack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/internal/retry"
	"github.com/scim-rotator/scim-rotator/adapters/internal/safehttp"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

var _ rotator.Notifier = (*Notifier)(nil)

// Options are the notifier's dependencies and retry bounds.
type Options struct {
	Logger *zap.Logger
	// HTTPClient posts the webhook (nil: a client over the trust store). It is
	// used through a copy that follows no redirect and has a timeout (30 s
	// unless it has its own).
	HTTPClient *http.Client
	// Clock times the waits between retries (nil: the wall clock).
	Clock rotator.Clock
	// MaxAttempts bounds the posts per Notify (default 4).
	MaxAttempts int
	// Backoff is the first wait after a 5xx, or a 429 without Retry-After;
	// it doubles on each retry (default 1 s).
	Backoff time.Duration
	// MaxRetryAfter: a 429 asking to wait longer gives up at once rather than
	// hold the rotation's caller (default 1 min).
	MaxRetryAfter time.Duration
	// Secrets reads webhookUrlSecretsManager (the instance's AWS
	// credentials); nil when it is not configured.
	Secrets config.SecretReader
}

// postTimeout bounds one post of the webhook (a variable so that the hang
// test can shorten it).
var postTimeout = 30 * time.Second

// postFunc is the slice of slack-go the notifier uses.
type postFunc func(ctx context.Context, url string, client *http.Client, msg *slack.WebhookMessage) error

// Notifier posts rotation outcomes to a Slack incoming webhook.
type Notifier struct {
	// webhook is the URL: it is a credential (anyone holding it can post),
	// so it is kept as a Secret and revealed only to post.
	webhook  rotator.Secret
	redact   *strings.Replacer
	channel  string
	notifyOn map[rotator.Reason]bool
	post     postFunc
	client   *http.Client
	clock    rotator.Clock
	log      *zap.Logger
	attempts int
	backoff  time.Duration
	maxWait  time.Duration
}

// New builds the notifier from the notify.slack block, reading the webhook
// URL from webhookUrlEnv, webhookUrlFile or webhookUrlSecretsManager. An
// absent notifyOn means the default (every outcome except NotDue and
// Waiting). Errors
// are *config.Error naming the key and never contain the URL.
func New(ctx context.Context, cfg config.Slack, opts Options) (*Notifier, error) {
	raw, err := config.ReadSecretFrom(ctx, "notify.slack.webhookUrl", cfg.WebhookURL(), opts.Secrets)
	if err != nil {
		return nil, err
	}
	key := "notify.slack.webhookUrlEnv"
	switch {
	case cfg.WebhookURLSecretsManager != nil:
		key = "notify.slack.webhookUrlSecretsManager"
	case cfg.WebhookURLEnv == "":
		key = "notify.slack.webhookUrlFile"
	}
	// Never the URL nor the parse error (it quotes the URL): the URL is the
	// credential.
	if p := config.URLProblem(raw); p != "" {
		return nil, &config.Error{Key: key, Msg: "the webhook URL " + p + " (expected https://hooks.slack.com/services/...)"}
	}
	return newNotifier(cfg, raw, slack.PostWebhookCustomHTTPContext, opts), nil
}

func newNotifier(cfg config.Slack, webhook string, post postFunc, opts Options) *Notifier {
	n := &Notifier{
		webhook:  rotator.NewSecret(webhook),
		redact:   redactor(webhook),
		channel:  cfg.Channel,
		notifyOn: map[rotator.Reason]bool{},
		post:     post,
		client:   safehttp.Client(opts.HTTPClient, postTimeout),
		clock:    opts.Clock,
		log:      opts.Logger,
		attempts: opts.MaxAttempts,
		backoff:  opts.Backoff,
		maxWait:  opts.MaxRetryAfter,
	}
	on := cfg.NotifyOn
	if on == nil {
		on = config.DefaultNotifyOn()
	}
	for _, o := range on {
		n.notifyOn[rotator.Reason(o)] = true
	}
	if n.clock == nil {
		n.clock = rotator.RealClock{}
	}
	if n.log == nil {
		n.log = zap.NewNop()
	}
	if n.attempts <= 0 {
		n.attempts = 4
	}
	if n.backoff <= 0 {
		n.backoff = time.Second
	}
	if n.maxWait <= 0 {
		n.maxWait = time.Minute
	}
	return n
}

// String, GoString and Format print the notifier without its webhook URL,
// whatever the verb (%v, %+v, %#v, %s), as rotator.Secret does.
// Value receivers: a Notifier copied by value prints the same way.
func (n Notifier) String() string { return n.describe() }

// GoString: see String.
func (n Notifier) GoString() string { return n.describe() }

// Format: see String.
func (n Notifier) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, n.describe()) }

func (n Notifier) describe() string {
	return fmt.Sprintf("slack.Notifier{webhook: %s, channel: %q}", n.webhook, n.channel)
}

// Wants reports whether outcome is one notifyOn selects.
func (n *Notifier) Wants(outcome rotator.Reason) bool { return n.notifyOn[outcome] }

// Notify posts ev as a Block Kit message (see Message) to the webhook, unless
// notifyOn does not select ev.Outcome (then it returns nil at once). It
// retries a 429 after Slack's Retry-After and a 5xx with doubling back-off, up
// to Options.MaxAttempts posts; any other failure is returned at once.
//
// The caller logs a returned error and carries on: a Slack failure never
// fails or rolls back a rotation. Errors never contain the webhook URL;
// throttling and 5xx errors are marked rotator.Transient.
func (n *Notifier) Notify(ctx context.Context, ev rotator.Event) error {
	if !n.notifyOn[ev.Outcome] {
		return nil
	}
	msg := Message(ev)
	msg.Channel = n.channel
	p := retry.Policy{Clock: n.clock, MaxAttempts: n.attempts, Delay: n.retryWait,
		OnWait: func(attempt int, wait time.Duration, err error) {
			n.log.Info("slack webhook post failed, retrying",
				zap.String("outcome", string(ev.Outcome)), zap.Int("attempt", attempt),
				zap.Duration("retry_in", wait), zap.Error(err))
		},
	}
	res, err := p.Do(ctx, func(ctx context.Context) error {
		if err := n.post(ctx, n.webhook.Reveal(), n.client, &msg); err != nil {
			return n.sanitize(err)
		}
		return nil
	})
	switch res.Stop {
	case retry.StopDone:
		return nil
	case retry.StopCanceled:
		return fmt.Errorf("post %s message to slack: %w (after: %w)", ev.Outcome, ctx.Err(), err)
	case retry.StopAttempts:
		err = rotator.Transient(err)
	}
	return fmt.Errorf("post %s message to slack (attempt %d of %d): %w", ev.Outcome, res.Attempts, n.attempts, err)
}

// retryWait decides whether err is worth another post and after how long.
func (n *Notifier) retryWait(attempt int, err error) (time.Duration, bool) {
	backoff := n.backoff << (attempt - 1)
	var rl *slack.RateLimitedError
	var sc slack.StatusCodeError
	var ne *strconv.NumError
	switch {
	case errors.As(err, &rl):
		if rl.RetryAfter > n.maxWait {
			return 0, false
		}
		if rl.RetryAfter <= 0 {
			return backoff, true
		}
		return rl.RetryAfter, true
	case errors.As(err, &sc):
		return backoff, sc.Retryable() // 429 without Retry-After, 5xx
	case errors.As(err, &ne) && ne.Func == "ParseInt":
		// slack-go could not parse a 429's Retry-After (an HTTP date?).
		return backoff, true
	}
	return 0, false
}

// sanitize removes the webhook URL from err. slack-go's transport errors are
// *url.Error values that quote the URL; their inner error (kept for errors.Is,
// e.g. context.DeadlineExceeded) names at most the host.
func (n *Notifier) sanitize(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &redactedError{msg: "post webhook: " + n.redact.Replace(ue.Err.Error()), err: ue.Err}
	}
	if msg := err.Error(); n.redact.Replace(msg) != msg {
		return &redactedError{msg: n.redact.Replace(msg)}
	}
	return err
}

// redactor replaces the URL and its secret parts (path, query, user info).
func redactor(raw string) *strings.Replacer {
	pairs := []string{raw, "[webhook URL]"}
	if u, err := url.Parse(raw); err == nil {
		for _, s := range []string{u.EscapedPath(), u.Path, u.RawQuery, u.User.String()} {
			if len(s) > 1 {
				pairs = append(pairs, s, "[redacted]")
			}
		}
	}
	return strings.NewReplacer(pairs...)
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
