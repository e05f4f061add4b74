package health

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/scim-rotator/scim-rotator/rotator"
)

// Wire details of AWS Health (documented: AWS JSON 1.1, SigV4 signing name
// "health", X-Amz-Target "AWSHealth_20160804.<Op>", the global endpoint in
// us-east-1). The official service client is not served by this project's
// module proxy, so this small client speaks the same wire format.
const (
	signingName   = "health"
	targetPrefix  = "AWSHealth_20160804"
	contentType   = "application/x-amz-json-1.1"
	signingRegion = "us-east-1"
	// DefaultEndpoint is AWS Health's global endpoint.
	DefaultEndpoint = "https://health.us-east-1.amazonaws.com"
	// maxAnswer bounds how much of an answer is read.
	maxAnswer = 4 << 20
)

// api is the slice of AWS Health this package uses.
type api interface {
	DescribeEvents(ctx context.Context, in *describeEventsInput) (*describeEventsOutput, error)
	DescribeEventDetails(ctx context.Context, in *describeEventDetailsInput) (*describeEventDetailsOutput, error)
}

type eventFilter struct {
	EventTypeCodes   []string `json:"eventTypeCodes,omitempty"`
	Services         []string `json:"services,omitempty"`
	EventStatusCodes []string `json:"eventStatusCodes,omitempty"`
}

type describeEventsInput struct {
	Filter     *eventFilter `json:"filter,omitempty"`
	MaxResults int          `json:"maxResults,omitempty"`
	NextToken  string       `json:"nextToken,omitempty"`
}

// event is Health's Event; times are epoch seconds.
type event struct {
	Arn             string   `json:"arn"`
	Service         string   `json:"service"`
	EventTypeCode   string   `json:"eventTypeCode"`
	Region          string   `json:"region"`
	StartTime       *float64 `json:"startTime"`
	LastUpdatedTime *float64 `json:"lastUpdatedTime"`
	StatusCode      string   `json:"statusCode"`
}

type describeEventsOutput struct {
	Events    []event `json:"events"`
	NextToken string  `json:"nextToken"`
}

type describeEventDetailsInput struct {
	EventArns []string `json:"eventArns"`
	Locale    string   `json:"locale,omitempty"`
}

type eventDetails struct {
	Event            event `json:"event"`
	EventDescription struct {
		LatestDescription string `json:"latestDescription"`
	} `json:"eventDescription"`
	EventMetadata map[string]string `json:"eventMetadata"`
}

type describeEventDetailsOutput struct {
	SuccessfulSet []eventDetails `json:"successfulSet"`
	FailedSet     []struct {
		EventArn     string `json:"eventArn"`
		ErrorName    string `json:"errorName"`
		ErrorMessage string `json:"errorMessage"`
	} `json:"failedSet"`
}

// client is an AWS JSON 1.1 client for Health: SigV4-signed POSTs, the
// SDK's standard retry classification and backoff, delays on the clock.
type client struct {
	http     aws.HTTPClient
	endpoint string
	creds    aws.CredentialsProvider
	signer   *v4.Signer
	retryer  *retry.Standard
	clock    rotator.Clock
}

func newClient(httpc aws.HTTPClient, endpoint string, creds aws.CredentialsProvider, clock rotator.Clock) *client {
	return &client{http: httpc, endpoint: endpoint, creds: creds, signer: v4.NewSigner(), clock: clock,
		retryer: retry.NewStandard(func(o *retry.StandardOptions) { o.RateLimiter = ratelimit.None })}
}

func (c *client) DescribeEvents(ctx context.Context, in *describeEventsInput) (*describeEventsOutput, error) {
	var out describeEventsOutput
	return &out, c.call(ctx, "DescribeEvents", in, &out)
}

func (c *client) DescribeEventDetails(ctx context.Context, in *describeEventDetailsInput) (*describeEventDetailsOutput, error) {
	var out describeEventDetailsOutput
	return &out, c.call(ctx, "DescribeEventDetails", in, &out)
}

// call sends op (read-only, so always retryable) and decodes the answer.
func (c *client) call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode %s: %w", op, err)
	}
	for attempt := 1; ; attempt++ {
		err := c.attempt(ctx, op, body, out)
		if err == nil || ctx.Err() != nil || attempt >= c.retryer.MaxAttempts() || !c.retryer.IsErrorRetryable(err) {
			return err
		}
		delay, derr := c.retryer.RetryDelay(attempt, err)
		if derr != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", op, ctx.Err())
		case <-c.clock.After(delay):
		}
	}
}

func (c *client) attempt(ctx context.Context, op string, body []byte, out any) error {
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("retrieve aws credentials: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build %s request: %w", op, err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Amz-Target", targetPrefix+"."+op)
	req.Header.Set("Accept-Encoding", "identity")
	sum := sha256.Sum256(body)
	// The wall clock: AWS rejects signatures minutes away from its time.
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), signingName, signingRegion, time.Now()); err != nil {
		return fmt.Errorf("sign %s request: %w", op, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("health %s: %w", op, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("health %s: read answer: %w", op, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newAPIError(op, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), answer)
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return fmt.Errorf("health %s: unexpected answer: %w", op, err)
	}
	return nil
}

// APIError is an error answer of AWS Health. It implements smithy's
// APIError and the HTTP status the SDK's retry classification reads.
type APIError struct {
	Op, Code, Message string
	Status            int
}

func newAPIError(op string, status int, header string, body []byte) *APIError {
	var doc struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
		Msg2    string `json:"Message"`
	}
	_ = json.Unmarshal(body, &doc)
	code := header
	if code == "" {
		code = doc.Type
	}
	if i := strings.LastIndex(code, "#"); i >= 0 {
		code = code[i+1:]
	}
	if i := strings.Index(code, ":"); i >= 0 {
		code = code[:i]
	}
	msg := doc.Message
	if msg == "" {
		msg = doc.Msg2
	}
	if code == "" {
		code = http.StatusText(status)
	}
	return &APIError{Op: op, Code: strings.TrimSpace(code), Message: clip(msg, 300), Status: status}
}

func (e *APIError) Error() string {
	return fmt.Sprintf("health %s: %s: %s", e.Op, e.Code, e.Message)
}

// ErrorCode and ErrorMessage are what the SDK's retry classification reads.
func (e *APIError) ErrorCode() string    { return e.Code }
func (e *APIError) ErrorMessage() string { return e.Message }
func (e *APIError) HTTPStatusCode() int  { return e.Status }

// Is maps the answers check reports on to their sentinels.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrSubscriptionRequired:
		return e.Code == "SubscriptionRequiredException"
	case ErrAccessDenied:
		return e.Code == "AccessDeniedException" || e.Code == "AccessDenied"
	}
	return false
}

var (
	// ErrSubscriptionRequired: the account has no Business, Enterprise
	// On-Ramp or Enterprise support plan, which the Health API needs.
	ErrSubscriptionRequired = errors.New("the AWS Health API needs a Business or Enterprise support plan")
	// ErrAccessDenied: the caller may not call health:DescribeEvents or
	// health:DescribeEventDetails.
	ErrAccessDenied = errors.New("health:DescribeEvents or health:DescribeEventDetails is not allowed")
)

// clip cuts s to n bytes and replaces control characters.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
