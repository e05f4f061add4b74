package cloudtrail

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ct "github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/scim-rotator/scim-rotator/adapters/internal/awsbase"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// EventSource is the event source of Identity Center's SCIM calls
// (documented).
const EventSource = "identitystore-scim.amazonaws.com"

// IAMStatement is the policy statement LookupEvents needs (it supports no
// resource-level permissions).
const IAMStatement = `{"Effect": "Allow", "Action": "cloudtrail:LookupEvents", "Resource": "*"}`

const (
	// lookupInterval paces page requests: LookupEvents allows about two per
	// second per account and region, shared with every other caller.
	lookupInterval = 600 * time.Millisecond
	// maxPages bounds one lookup (50 events a page): a window that holds more
	// is an error, never a partial answer read as "no use".
	maxPages = 4000
	// pageSize is LookupEvents' documented maximum.
	pageSize = 50
)

// ErrAccessDenied means the caller may not call cloudtrail:LookupEvents.
var ErrAccessDenied = errors.New("cloudtrail:LookupEvents is not allowed")

// Options are what the caller injects besides the configuration.
type Options struct {
	Logger *zap.Logger
	// HTTPClient is nil for the SDK's default; the sandbox passes one that
	// trusts its TLS certificate.
	HTTPClient *http.Client
	// Clock paces page requests (nil: the wall clock).
	Clock rotator.Clock
	// AWSCredentials is nil for the SDK's default chain.
	AWSCredentials aws.CredentialsProvider
	// Tokens lists Identity Center's tokens (the issuer's ListTokens), for
	// Check and Status; nil: neither can name tokens.
	Tokens func(context.Context) ([]rotator.TokenInfo, error)

	// sdkOptions are applied last to the client's options (tests).
	sdkOptions []func(*ct.Options)
}

// lookupAPI is the slice of the CloudTrail SDK this package uses.
type lookupAPI interface {
	LookupEvents(context.Context, *ct.LookupEventsInput, ...func(*ct.Options)) (*ct.LookupEventsOutput, error)
}

var _ lookupAPI = (*ct.Client)(nil)

// Source reads SCIM calls from CloudTrail.
type Source struct {
	api     lookupAPI
	region  string
	clock   rotator.Clock
	log     *zap.Logger
	limiter *rate.Limiter
	tokens  func(context.Context) ([]rotator.TokenInfo, error)
}

var (
	_ rotator.UsageSource = (*Source)(nil)
	_ rotator.Inspector   = (*Source)(nil)
)

// New builds the CloudTrail client for cfg.Region (region when empty), at
// cfg.Endpoint when set.
func New(ctx context.Context, cfg config.Usage, region string, opts Options) (*Source, error) {
	if cfg.Region != "" {
		region = cfg.Region
	}
	// awsbase: the trust store and a client with a timeout (LookupEvents
	// on a half-open connection must not hang a run), the injected
	// credentials or the default chain.
	awsCfg, err := awsbase.Load(ctx, awsbase.Options{Region: region, Credentials: opts.AWSCredentials, HTTPClient: opts.HTTPClient})
	if err != nil {
		return nil, err
	}
	client := ct.NewFromConfig(awsCfg, func(o *ct.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		for _, fn := range opts.sdkOptions {
			fn(o)
		}
	})
	return newSource(client, region, opts), nil
}

func newSource(api lookupAPI, region string, opts Options) *Source {
	s := &Source{api: api, region: region, clock: opts.Clock, log: opts.Logger, tokens: opts.Tokens,
		limiter: rate.NewLimiter(rate.Every(lookupInterval), 1)}
	if s.clock == nil {
		s.clock = rotator.RealClock{}
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	return s
}

// lookup is one lookup's outcome.
type lookup struct {
	uses []rotator.Use
	// skipped counts events that could not be read (malformed records);
	// anonymous counts calls that carried no accessKeyId (a token that
	// matched none authenticates nobody).
	skipped, anonymous int
	// refused are the anonymous calls Identity Center refused (a deleted
	// token's, for one): Uses reports them with no token id, so that the
	// core can tell who still calls with a token it deleted.
	refused []rotator.Use
}

// Uses returns the SCIM calls CloudTrail recorded with an event time in
// [from, to), oldest first. CloudTrail records times to the second, so
// "from" is taken to its second: a call in from's second is included.
// A refused call without an accessKeyId comes with an empty token id.
// Unreadable events are skipped (and logged), never fatal; any failed page
// fails the whole lookup (throttling and 5xx are marked transient).
func (s *Source) Uses(ctx context.Context, from, to time.Time) ([]rotator.Use, error) {
	l, err := s.lookup(ctx, from, to)
	if err != nil {
		return nil, err
	}
	if len(l.refused) == 0 {
		return l.uses, nil
	}
	out := append(l.uses, l.refused...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

func (s *Source) lookup(ctx context.Context, from, to time.Time) (lookup, error) {
	var out lookup
	from = from.Truncate(time.Second)
	if !from.Before(to) {
		return out, nil
	}
	in := &ct.LookupEventsInput{
		LookupAttributes: []types.LookupAttribute{{AttributeKey: types.LookupAttributeKeyEventSource, AttributeValue: aws.String(EventSource)}},
		StartTime:        aws.Time(from),
		EndTime:          aws.Time(to),
		MaxResults:       aws.Int32(pageSize),
	}
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page == maxPages {
			return out, fmt.Errorf("cloudtrail LookupEvents: more than %d pages of SCIM events between %s and %s; look at a shorter window",
				maxPages, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
		}
		if err := s.pace(ctx); err != nil {
			return out, err
		}
		resp, err := s.api.LookupEvents(ctx, in)
		if err != nil {
			return out, wrapErr(err)
		}
		for i := range resp.Events {
			u, why := parseEvent(&resp.Events[i])
			switch {
			case why != "":
				out.skipped++
				s.log.Warn("skipped an unreadable CloudTrail event", zap.String("event_id", printable(aws.ToString(resp.Events[i].EventId), 64)), zap.String("reason", why))
			case u.TokenID == "":
				out.anonymous++
				if u.ErrorCode != "" && !u.Time.Before(from) && u.Time.Before(to) {
					out.refused = append(out.refused, u)
				}
			case !u.Time.Before(from) && u.Time.Before(to):
				out.uses = append(out.uses, u)
			}
		}
		next := aws.ToString(resp.NextToken)
		if next == "" {
			break
		}
		if seen[next] {
			return out, errors.New("cloudtrail LookupEvents: NextToken repeats")
		}
		seen[next] = true
		in.NextToken = aws.String(next)
	}
	// CloudTrail answers newest first; equal times keep their order reversed.
	for i, j := 0, len(out.uses)-1; i < j; i, j = i+1, j-1 {
		out.uses[i], out.uses[j] = out.uses[j], out.uses[i]
	}
	sort.SliceStable(out.uses, func(i, j int) bool { return out.uses[i].Time.Before(out.uses[j].Time) })
	slices.Reverse(out.refused)
	return out, nil
}

// pace waits, on the injected clock, until the next page request fits the
// lookup rate.
func (s *Source) pace(ctx context.Context) error {
	now := s.clock.Now()
	r := s.limiter.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	select {
	case <-s.clock.After(d):
		return nil
	case <-ctx.Done():
		r.CancelAt(s.clock.Now())
		return ctx.Err()
	}
}

// wrapErr classifies a failed lookup by awsbase's rule: the SDK's
// retryable errors (throttling, 5xx, connection errors; the SDK already
// retried them) are transient, AccessDenied is permanent, is
// ErrAccessDenied, and names the missing statement.
func wrapErr(err error) error {
	return awsbase.Wrap("cloudtrail LookupEvents", err, func(e *awsbase.APIError) {
		e.Message = printable(e.Message, 500)
		if awsbase.Denied(err) {
			e.Hint, e.Kind = "allow it with the IAM statement "+IAMStatement, ErrAccessDenied
		}
	})
}
