package health

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// The notice AWS Health raises from 90 days before a SCIM token expires
// (documented event type code and service).
const (
	EventTypeCode = "AWS_IAMIDENTITYCENTER_SCIM_BEARER_TOKEN_EXPIRY_NOTIFICATION"
	Service       = "IAMIDENTITYCENTER"
)

// IAMStatement is the policy statement the watch needs.
const IAMStatement = `{"Effect": "Allow", "Action": ["health:DescribeEvents", "health:DescribeEventDetails"], "Resource": "*"}`

const (
	system = "health"
	// pageSize is within DescribeEvents' documented 10..100.
	pageSize = 100
	// detailsBatch is DescribeEventDetails' documented maximum of ARNs.
	detailsBatch = 10
	// maxPages bounds one read: more open notices than this is an error.
	maxPages = 50
)

// Options are what the caller injects besides the configuration.
type Options struct {
	Logger *zap.Logger
	// HTTPClient is nil for the SDK's default (which honours AWS_CA_BUNDLE).
	HTTPClient *http.Client
	// Clock times retries (nil: the wall clock).
	Clock rotator.Clock
	// AWSCredentials is nil for the SDK's default chain.
	AWSCredentials aws.CredentialsProvider
}

// Watch reads the SCIM token expiry notices of AWS Health.
type Watch struct {
	api      api
	endpoint string
	log      *zap.Logger
}

var _ rotator.ExpiryWatch = (*Watch)(nil)

// New builds the Health client for cfg.Endpoint (default the global
// endpoint in us-east-1).
func New(ctx context.Context, cfg config.Health, opts Options) (*Watch, error) {
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	if opts.Clock == nil {
		opts.Clock = rotator.RealClock{}
	}
	creds := opts.AWSCredentials
	var httpc aws.HTTPClient = opts.HTTPClient
	if creds == nil || opts.HTTPClient == nil {
		awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(signingRegion))
		if err != nil {
			return nil, fmt.Errorf("load aws config: %w", err)
		}
		if creds == nil {
			creds = awsCfg.Credentials
		}
		if opts.HTTPClient == nil {
			httpc = awsCfg.HTTPClient
		}
	}
	return newWatch(newClient(httpc, endpoint, creds, opts.Clock), endpoint, opts.Logger), nil
}

func newWatch(a api, endpoint string, log *zap.Logger) *Watch {
	if log == nil {
		log = zap.NewNop()
	}
	return &Watch{api: a, endpoint: endpoint, log: log}
}

// Notices returns the open and upcoming expiry notices, oldest first: every
// page of DescribeEvents, then their descriptions in batches of ten.
// Throttling and 5xx (already retried) are marked transient.
func (w *Watch) Notices(ctx context.Context) ([]rotator.ExpiryNotice, error) {
	events, err := w.events(ctx)
	if err != nil {
		return nil, wrap(err)
	}
	byARN := map[string]*rotator.ExpiryNotice{}
	var out []rotator.ExpiryNotice
	for _, e := range events {
		out = append(out, rotator.ExpiryNotice{EventARN: e.Arn, Region: e.Region, Start: epoch(e.StartTime)})
	}
	for i := range out {
		byARN[out[i].EventARN] = &out[i]
	}
	for i := 0; i < len(events); i += detailsBatch {
		var arns []string
		for _, e := range events[i:min(i+detailsBatch, len(events))] {
			arns = append(arns, e.Arn)
		}
		resp, err := w.api.DescribeEventDetails(ctx, &describeEventDetailsInput{EventArns: arns, Locale: "en"})
		if err != nil {
			return nil, wrap(err)
		}
		for _, d := range resp.SuccessfulSet {
			n := byARN[d.Event.Arn]
			if n == nil {
				continue
			}
			n.Expires, n.TokenID = parseNotice(d.EventDescription.LatestDescription, n.Start)
			if n.Expires.IsZero() {
				w.log.Warn("AWS Health notice without a readable expiry date", zap.String("event_arn", n.EventARN))
			}
		}
		for _, f := range resp.FailedSet {
			w.log.Warn("AWS Health gave no details of a notice", zap.String("event_arn", f.EventArn), zap.String("error", f.ErrorName))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out, nil
}

// events lists every page of open and upcoming expiry notices.
func (w *Watch) events(ctx context.Context) ([]event, error) {
	in := &describeEventsInput{MaxResults: pageSize, Filter: &eventFilter{
		EventTypeCodes: []string{EventTypeCode}, Services: []string{Service}, EventStatusCodes: []string{"open", "upcoming"}}}
	var out []event
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page == maxPages {
			return nil, fmt.Errorf("health DescribeEvents: more than %d pages of notices", maxPages)
		}
		resp, err := w.api.DescribeEvents(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, e := range resp.Events {
			// Health filters already; a stray event is not ours to read.
			if e.EventTypeCode == EventTypeCode && e.Arn != "" {
				out = append(out, e)
			}
		}
		if resp.NextToken == "" {
			return out, nil
		}
		if seen[resp.NextToken] {
			return nil, errors.New("health DescribeEvents: nextToken repeats")
		}
		seen[resp.NextToken] = true
		in.NextToken = resp.NextToken
	}
}

// Check reads the notices once: OK with what they say, WARN without a
// support plan that includes the Health API, FAIL when denied or unreachable.
func (w *Watch) Check(ctx context.Context) []rotator.CheckResult {
	res := func(level rotator.Level, detail, fix string) []rotator.CheckResult {
		return []rotator.CheckResult{{System: system, Name: "expiry notices", Level: level, Detail: detail, Fix: fix}}
	}
	notices, err := w.Notices(ctx)
	switch {
	case errors.Is(err, ErrSubscriptionRequired):
		return res(rotator.LevelWarn, "AWS Health answers SubscriptionRequiredException: the account has no Business or Enterprise support plan, so the independent expiry watch sees nothing ("+err.Error()+")",
			"subscribe to a Business or Enterprise support plan, or set health.enabled: false")
	case errors.Is(err, ErrAccessDenied):
		return res(rotator.LevelFail, err.Error(), "add the IAM statement "+IAMStatement+" to scim-rotator's role")
	case err != nil:
		return res(rotator.LevelFail, err.Error(), "check the network path to "+w.endpoint+" (health.endpoint) and run check again")
	}
	unread := 0
	for _, n := range notices {
		if n.Expires.IsZero() {
			unread++
		}
	}
	detail := fmt.Sprintf("%d open SCIM token expiry notices at %s", len(notices), w.endpoint)
	if unread > 0 {
		return res(rotator.LevelWarn, fmt.Sprintf("%s; %d without a readable expiry date", detail, unread),
			"read the notices in the AWS Health Dashboard; the text's format may have changed (adapters/health/inferred.go)")
	}
	return res(rotator.LevelOK, detail, "")
}

// wrap marks retryable failures (already retried) transient.
func wrap(err error) error {
	if !errors.Is(err, context.Canceled) && retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary {
		return rotator.Transient(err)
	}
	return err
}

func epoch(sec *float64) time.Time {
	if sec == nil {
		return time.Time{}
	}
	return time.Unix(0, int64(*sec*1e9)).UTC()
}
