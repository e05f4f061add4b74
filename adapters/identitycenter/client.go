package identitycenter

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
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"go.uber.org/zap"

	retryloop "github.com/scim-rotator/scim-rotator/adapters/internal/retry"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// tokenAPI is the narrow slice of the token API the issuer uses; *client
// implements it over HTTP.
type tokenAPI interface {
	credentials(ctx context.Context) (aws.Credentials, error)
	listProvisioningTenants(ctx context.Context, in listTenantsInput) (*listTenantsOutput, error)
	listBearerTokens(ctx context.Context, in listTokensInput) (*listTokensOutput, error)
	createBearerToken(ctx context.Context, in createTokenInput) (*createTokenOutput, error)
	deleteBearerToken(ctx context.Context, in deleteTokenInput) error
}

// maxAnswer bounds how much of an answer is read.
const maxAnswer = 1 << 20

// client is a small AWS JSON 1.1 client: SigV4-signed POSTs, the SDK's
// standard retry classification and backoff, delays on the injected clock.
type client struct {
	http         *http.Client
	endpoint     string
	region       string
	signingName  string
	targetPrefix string
	creds        aws.CredentialsProvider
	signer       *v4.Signer
	retryer      *retry.Standard
	clock        rotator.Clock
	log          *zap.Logger
}

// credentialsError marks a failure to obtain AWS credentials.
type credentialsError struct{ err error }

func (e *credentialsError) Error() string { return "retrieve aws credentials: " + e.err.Error() }
func (e *credentialsError) Unwrap() error { return e.err }

func newClient(httpc *http.Client, endpoint, region, signingName, targetPrefix string, creds aws.CredentialsProvider, maxAttempts int, clock rotator.Clock, log *zap.Logger) *client {
	return &client{
		http:         httpc,
		endpoint:     endpoint,
		region:       region,
		signingName:  signingName,
		targetPrefix: targetPrefix,
		creds:        creds,
		signer:       v4.NewSigner(),
		retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			if maxAttempts > 0 {
				o.MaxAttempts = maxAttempts
			}
			// A daemon making a handful of calls per run has no use for the
			// client-side retry quota; attempts are bounded by MaxAttempts.
			o.RateLimiter = ratelimit.None
		}),
		clock: clock,
		log:   log,
	}
}

func (c *client) credentials(ctx context.Context) (aws.Credentials, error) {
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, &credentialsError{err: err}
	}
	return creds, nil
}

func (c *client) listProvisioningTenants(ctx context.Context, in listTenantsInput) (*listTenantsOutput, error) {
	var out listTenantsOutput
	if err := c.call(ctx, opListProvisioningTenants, in, &out, true); err != nil {
		return nil, err
	}
	return &out, out.validate()
}

func (c *client) listBearerTokens(ctx context.Context, in listTokensInput) (*listTokensOutput, error) {
	var out listTokensOutput
	if err := c.call(ctx, opListBearerTokens, in, &out, true); err != nil {
		return nil, err
	}
	return &out, out.validate()
}

// createBearerToken is sent exactly once: it is not idempotent, and a retry
// after an answer was lost would create a second token (the tenant's last
// free slot). The caller reconciles with listBearerTokens instead.
func (c *client) createBearerToken(ctx context.Context, in createTokenInput) (*createTokenOutput, error) {
	var out createTokenOutput
	if err := c.call(ctx, opCreateBearerToken, in, &out, false); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *client) deleteBearerToken(ctx context.Context, in deleteTokenInput) error {
	var out json.RawMessage
	return c.call(ctx, opDeleteBearerToken, in, &out, true)
}

// call sends op with in as body and decodes the answer into out, retrying
// retryable failures (5xx, throttling, connection errors) when retryable.
func (c *client) call(ctx context.Context, op string, in, out any, retryable bool) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode %s request: %w", op, err)
	}
	// The SDK's retryer classifies and spaces the attempts; the loop only
	// waits on the injected clock.
	p := retryloop.Policy{Clock: c.clock, MaxAttempts: c.retryer.MaxAttempts(),
		Delay: func(attempt int, err error) (time.Duration, bool) {
			var ce *credentialsError
			if !retryable || errors.As(err, &ce) || !c.retryer.IsErrorRetryable(err) {
				return 0, false
			}
			delay, derr := c.retryer.RetryDelay(attempt, err)
			return delay, derr == nil
		},
		OnWait: func(attempt int, delay time.Duration, err error) {
			c.log.Debug("retrying identity center call", zap.String("op", op), zap.Int("attempt", attempt), zap.Duration("delay", delay), zap.Error(err))
		},
	}
	_, err = p.Do(ctx, func(ctx context.Context) error { return c.attempt(ctx, op, body, out) })
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
	return err
}

// attempt sends one signed request. The answer body (which for
// CreateBearerToken holds the token value) is never logged nor quoted in an
// error.
func (c *client) attempt(ctx context.Context, op string, body []byte, out any) error {
	creds, err := c.credentials(ctx)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build %s request: %w", op, err)
	}
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("X-Amz-Target", c.targetPrefix+"."+op)
	// As the SDK does: without it the transport adds gzip after signing.
	req.Header.Set("Accept-Encoding", "identity")
	sum := sha256.Sum256(body)
	// Signing uses the wall clock, not the injected one: AWS rejects
	// signatures more than minutes away from its own time.
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), c.signingName, c.region, time.Now()); err != nil {
		return fmt.Errorf("sign %s request: %w", op, err)
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.log.Debug("identity center call failed", zap.String("op", op), zap.Error(err))
		return fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("%s: read answer: %w", op, err)
	}
	c.log.Debug("identity center call", zap.String("op", op), zap.Int("status", resp.StatusCode), zap.Duration("took", time.Since(start)))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s: %w", op, parseAPIError(resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), answer))
	}
	if len(bytes.TrimSpace(answer)) == 0 {
		answer = []byte("{}")
	}
	if err := json.Unmarshal(answer, out); err != nil {
		// Never quote the answer: it may hold a token value.
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return shapeErr(op, "field %q is not a %s", te.Field, te.Type)
		}
		return shapeErr(op, "answer is not the expected JSON object")
	}
	return nil
}
