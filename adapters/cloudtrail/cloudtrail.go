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
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	sdkretry "github.com/aws/aws-sdk-go-v2/aws/retry"
	ct "github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/internal/awsbase"
	"github.com/scim-rotator/scim-rotator/adapters/internal/retry"
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
	api    lookupAPI
	region string
	clock  rotator.Clock
	log    *zap.Logger
	pacer  *pacer
	tokens func(context.Context) ([]rotator.TokenInfo, error)
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
	if opts.Clock == nil {
		opts.Clock = rotator.RealClock{}
	}
	p := newPacer(opts.Clock)
	client := ct.NewFromConfig(awsCfg, func(o *ct.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		// The retry quota of the SDK's retryer would end a long run of
		// throttled attempts with an error: the pacer slows them instead.
		o.Retryer = sdkretry.NewStandard(func(so *sdkretry.StandardOptions) { so.RateLimiter = ratelimit.None })
		o.APIOptions = append(o.APIOptions, p.install)
		for _, fn := range opts.sdkOptions {
			fn(o)
		}
	})
	return newSource(client, region, p, opts), nil
}

// newSource is the Source over api, whose requests p paces.
func newSource(api lookupAPI, region string, p *pacer, opts Options) *Source {
	s := &Source{api: api, region: region, clock: opts.Clock, log: opts.Logger, tokens: opts.Tokens, pacer: p}
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
	// events and pages count what was read; complete says the window was
	// read back to its start, else oldest is the oldest event time read.
	events, pages int
	complete      bool
	oldest        time.Time
}

// Uses returns the SCIM calls CloudTrail recorded with an event time in
// [from, to), oldest first. CloudTrail records times to the second, so
// "from" is taken to its second: a call in from's second is included.
// A refused call without an accessKeyId comes with an empty token id.
// Unreadable events are skipped (and logged), never fatal; any failed page
// fails the whole lookup (5xx are marked transient; throttling slows the
// reader down and is asked again while the context lasts).
func (s *Source) Uses(ctx context.Context, from, to time.Time) ([]rotator.Use, error) {
	l, err := s.lookup(ctx, from, to)
	if err != nil {
		return nil, err
	}
	return l.all(), nil
}

// all is every call read, the refused anonymous ones included, oldest first.
func (l *lookup) all() []rotator.Use {
	if len(l.refused) == 0 {
		return l.uses
	}
	out := append(l.uses, l.refused...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// Latest reads [q.From, q.To) newest first and stops when q.Enough says so,
// after q.Pages pages, or at the window's start (see Uses for what is read).
func (s *Source) Latest(ctx context.Context, q rotator.UsageQuery) (rotator.UsageRead, error) {
	l, err := s.read(ctx, q.From, q.To, q.Pages, q.Enough)
	if err != nil {
		return rotator.UsageRead{}, err
	}
	out := rotator.UsageRead{Uses: l.all(), Events: l.events, Pages: l.pages, Complete: l.complete, Since: l.oldest}
	if l.complete {
		out.Since = q.From.Truncate(time.Second)
	}
	return out, nil
}

// lookup reads the whole window: more than maxPages is an error, never a
// partial answer read as "no use".
func (s *Source) lookup(ctx context.Context, from, to time.Time) (lookup, error) {
	l, err := s.read(ctx, from, to, maxPages, nil)
	if err == nil && !l.complete {
		err = fmt.Errorf("cloudtrail LookupEvents: more than %d pages of SCIM events between %s and %s; look at a shorter window",
			maxPages, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	}
	return l, err
}

// read reads [from, to) newest first, at most pages pages (0: maxPages),
// until enough (nil: never) says so.
func (s *Source) read(ctx context.Context, from, to time.Time, pages int, enough func([]rotator.Use) bool) (lookup, error) {
	var out lookup
	from = from.Truncate(time.Second)
	if !from.Before(to) {
		out.complete = true
		return out, nil
	}
	if pages <= 0 {
		pages = maxPages
	}
	in := &ct.LookupEventsInput{
		LookupAttributes: []types.LookupAttribute{{AttributeKey: types.LookupAttributeKeyEventSource, AttributeValue: aws.String(EventSource)}},
		StartTime:        aws.Time(from),
		EndTime:          aws.Time(to),
		MaxResults:       aws.Int32(pageSize),
	}
	seen := map[string]bool{}
	for out.pages < pages {
		resp, err := s.page(ctx, in)
		if err != nil {
			return out, err
		}
		out.pages++
		page := s.take(&out, resp.Events, from, to)
		next := aws.ToString(resp.NextToken)
		stop := enough != nil && enough(page) // told every page, the last too
		if next == "" {
			out.complete = true
			break
		}
		if stop {
			break
		}
		if seen[next] {
			return out, errors.New("cloudtrail LookupEvents: NextToken repeats")
		}
		seen[next] = true
		in.NextToken = aws.String(next)
	}
	// CloudTrail answers newest first; equal times keep their order reversed.
	slices.Reverse(out.uses)
	sort.SliceStable(out.uses, func(i, j int) bool { return out.uses[i].Time.Before(out.uses[j].Time) })
	slices.Reverse(out.refused)
	return out, nil
}

// take reads one page's events into out and returns its calls in [from,
// to), newest first.
func (s *Source) take(out *lookup, events []types.Event, from, to time.Time) []rotator.Use {
	var page []rotator.Use
	for i := range events {
		out.events++
		u, why := parseEvent(&events[i])
		at := u.Time
		if why != "" {
			at = aws.ToTime(events[i].EventTime)
		}
		if !at.IsZero() && (out.oldest.IsZero() || at.Before(out.oldest)) {
			out.oldest = at.UTC()
		}
		in := !u.Time.Before(from) && u.Time.Before(to)
		switch {
		case why != "":
			out.skipped++
			s.log.Warn("skipped an unreadable CloudTrail event", zap.String("event_id", printable(aws.ToString(events[i].EventId), 64)), zap.String("reason", why))
		case u.TokenID == "":
			out.anonymous++
			if u.ErrorCode != "" && in {
				out.refused = append(out.refused, u)
				page = append(page, u)
			}
		case in:
			out.uses = append(out.uses, u)
			page = append(page, u)
		}
	}
	return page
}

// page asks for one page. Throttling is asked again, as long as the context
// lasts, after the pacer (which every attempt of the SDK's own retries goes
// through) has slowed down: the rate is shared with every other caller in
// the account and region, so a throttled page is a reason to wait, never to
// end a wait early or fail a command that still has time.
func (s *Source) page(ctx context.Context, in *ct.LookupEventsInput) (*ct.LookupEventsOutput, error) {
	var resp *ct.LookupEventsOutput
	p := retry.Policy{Clock: s.clock,
		Delay: func(_ int, err error) (time.Duration, bool) { return lookupInterval, awsbase.Throttled(err) },
		OnWait: func(attempt int, _ time.Duration, _ error) {
			s.log.Info("CloudTrail throttles LookupEvents (a rate shared with every caller in the account and region); slowing down", zap.Int("attempt", attempt))
		}}
	_, err := p.Do(ctx, func(ctx context.Context) error {
		var err error
		resp, err = s.api.LookupEvents(ctx, in)
		return err
	})
	if err != nil {
		return nil, wrapErr(err)
	}
	return resp, nil
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
