package secretsmanager

import (
	"context"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/internal/awsbase"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// Options are what the caller injects besides the configuration.
type Options struct {
	Logger *zap.Logger
	// HTTPClient is nil for the SDK's default; the sandbox passes one that
	// trusts its TLS certificate.
	HTTPClient *http.Client
	// Clock is unused today (the SDK signs with the wall clock); kept so
	// every adapter takes the same options.
	Clock rotator.Clock
	// AWSCredentials is nil for the SDK's default chain (environment, IRSA,
	// EKS Pod Identity, instance profile).
	AWSCredentials aws.CredentialsProvider

	// sdkOptions are applied last to the client's options (tests: no
	// backoff between retries); lambdaOptions likewise to the trigger's.
	sdkOptions    []func(*sm.Options)
	lambdaOptions []func(*lambda.Options)
}

func (o Options) logger() *zap.Logger {
	if o.Logger == nil {
		return zap.NewNop()
	}
	return o.Logger
}

// api is the slice of the Secrets Manager SDK this package uses.
type api interface {
	DescribeSecret(context.Context, *sm.DescribeSecretInput, ...func(*sm.Options)) (*sm.DescribeSecretOutput, error)
	GetSecretValue(context.Context, *sm.GetSecretValueInput, ...func(*sm.Options)) (*sm.GetSecretValueOutput, error)
	PutSecretValue(context.Context, *sm.PutSecretValueInput, ...func(*sm.Options)) (*sm.PutSecretValueOutput, error)
	UpdateSecretVersionStage(context.Context, *sm.UpdateSecretVersionStageInput, ...func(*sm.Options)) (*sm.UpdateSecretVersionStageOutput, error)
	ListSecretVersionIds(context.Context, *sm.ListSecretVersionIdsInput, ...func(*sm.Options)) (*sm.ListSecretVersionIdsOutput, error)
}

var _ api = (*sm.Client)(nil)

// newClient builds the SDK client for region, at endpoint when set (VPC
// endpoints, the sandbox).
func newClient(ctx context.Context, region, endpoint string, opts Options) (*sm.Client, error) {
	cfg, err := loadAWSConfig(ctx, region, opts)
	if err != nil {
		return nil, err
	}
	return sm.NewFromConfig(cfg, func(o *sm.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		for _, fn := range opts.sdkOptions {
			fn(o)
		}
	}), nil
}

// loadAWSConfig is the instance's AWS configuration for region (awsbase:
// the trust store, a client with a timeout, the injected credentials or
// the default chain, cached).
func loadAWSConfig(ctx context.Context, region string, opts Options) (aws.Config, error) {
	return awsbase.Load(ctx, awsbase.Options{Region: region, Credentials: opts.AWSCredentials, HTTPClient: opts.HTTPClient})
}

// wrapErr names the operation and the secret (never a value: Secrets
// Manager does not echo values) and marks what awsbase's rule calls
// transient (throttling, 5xx, connection errors): the SDK already retried,
// a later run may succeed.
func wrapErr(op, secret string, err error) error {
	return awsbase.Wrap("secretsmanager "+op+" "+secret, err)
}

// denied reports an answer that means a missing permission: only these
// earn an IAM "allow ..." hint. KMS's own denial reaches Secrets Manager's
// callers as KMSAccessDeniedException.
func denied(err error) bool {
	return awsbase.Denied(err) || awsbase.Code(err) == "KMSAccessDeniedException"
}

// fixFor is the hint for a failed call: iam when the answer is a denial,
// otherwise what a service or network error needs. A 500 or a timeout is
// no permission problem, and telling the operator to change IAM for one
// sends them the wrong way.
func fixFor(err error, service, iam, where string) string {
	if denied(err) {
		return iam
	}
	if rotator.IsTransient(err) {
		return service + " did not answer usefully (a service or network error, not a permission): the next run tries again; if it persists, check " + where + " and the network path to it"
	}
	return "see the error above; check " + where + (", and if the error is a denial, " + iam)
}
