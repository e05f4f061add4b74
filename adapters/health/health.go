package health

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshealth "github.com/aws/aws-sdk-go-v2/service/health"
	"github.com/aws/aws-sdk-go-v2/service/health/types"
	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/internal/awsbase"
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
	// Region is the instance's region: its partition chooses AWS Health's
	// global endpoint and signing region (empty: the aws partition).
	Region string
	// HTTPClient is nil for the trust store's client with awsbase's timeout.
	HTTPClient *http.Client
	// Clock is unused (the SDK signs and backs off on the wall clock); kept
	// so that every adapter takes the same options.
	Clock rotator.Clock
	// AWSCredentials is nil for the SDK's default chain.
	AWSCredentials aws.CredentialsProvider

	// sdkOptions are applied last to the client's options (tests: no
	// backoff between retries).
	sdkOptions []func(*awshealth.Options)
}

// Watch reads the SCIM token expiry notices of AWS Health.
type Watch struct {
	api      api
	endpoint string
	log      *zap.Logger
}

var _ rotator.ExpiryWatch = (*Watch)(nil)

// New builds the official Health client for cfg.Endpoint (default the
// global endpoint of the instance's partition), signed for the region
// Endpoint gives.
func New(ctx context.Context, cfg config.Health, opts Options) (*Watch, error) {
	endpoint, region := Endpoint(cfg.Endpoint, opts.Region)
	awsCfg, err := awsbase.Load(ctx, awsbase.Options{Region: region, Credentials: opts.AWSCredentials, HTTPClient: opts.HTTPClient})
	if err != nil {
		return nil, err
	}
	client := awshealth.NewFromConfig(awsCfg, func(o *awshealth.Options) {
		o.Region = region
		o.BaseEndpoint = aws.String(endpoint)
		for _, fn := range opts.sdkOptions {
			fn(o)
		}
	})
	return newWatch(client, endpoint, opts.Logger), nil
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
		return nil, err
	}
	byARN := map[string]*rotator.ExpiryNotice{}
	var out []rotator.ExpiryNotice
	for _, e := range events {
		out = append(out, rotator.ExpiryNotice{EventARN: str(e.Arn), Region: str(e.Region), Start: aws.ToTime(e.StartTime).UTC()})
	}
	for i := range out {
		byARN[out[i].EventARN] = &out[i]
	}
	for i := 0; i < len(events); i += detailsBatch {
		var arns []string
		for _, e := range events[i:min(i+detailsBatch, len(events))] {
			arns = append(arns, str(e.Arn))
		}
		resp, err := w.api.DescribeEventDetails(ctx, &awshealth.DescribeEventDetailsInput{EventArns: arns, Locale: aws.String("en")})
		if err != nil {
			return nil, wrapErr("DescribeEventDetails", err)
		}
		for _, d := range resp.SuccessfulSet {
			if d.Event == nil {
				continue
			}
			n := byARN[str(d.Event.Arn)]
			if n == nil {
				continue
			}
			var text string
			if d.EventDescription != nil {
				text = str(d.EventDescription.LatestDescription)
			}
			n.Expires, n.TokenID = parseNotice(text, n.Start)
			if n.Expires.IsZero() {
				w.log.Warn("AWS Health notice without a readable expiry date", zap.String("event_arn", n.EventARN))
			}
		}
		for _, f := range resp.FailedSet {
			w.log.Warn("AWS Health gave no details of a notice", zap.String("event_arn", str(f.EventArn)), zap.String("error", str(f.ErrorName)))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out, nil
}

// events lists every page of open and upcoming expiry notices.
func (w *Watch) events(ctx context.Context) ([]types.Event, error) {
	in := &awshealth.DescribeEventsInput{MaxResults: aws.Int32(pageSize), Filter: &types.EventFilter{
		EventTypeCodes:   []string{EventTypeCode},
		Services:         []string{Service},
		EventStatusCodes: []types.EventStatusCode{types.EventStatusCodeOpen, types.EventStatusCodeUpcoming}}}
	var out []types.Event
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page == maxPages {
			return nil, fmt.Errorf("health DescribeEvents: more than %d pages of notices", maxPages)
		}
		resp, err := w.api.DescribeEvents(ctx, in)
		if err != nil {
			return nil, wrapErr("DescribeEvents", err)
		}
		for _, e := range resp.Events {
			// Health filters already; a stray event is not ours to read.
			if str(e.EventTypeCode) == EventTypeCode && str(e.Arn) != "" {
				out = append(out, e)
			}
		}
		next := str(resp.NextToken)
		if next == "" {
			return out, nil
		}
		if seen[next] {
			return nil, errors.New("health DescribeEvents: nextToken repeats")
		}
		seen[next] = true
		in.NextToken = aws.String(next)
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
