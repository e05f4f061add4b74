package factory

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/scim-rotator/scim-rotator/config"
)

// stsTimeout bounds one STS call (AssumeRole, GetCallerIdentity).
const stsTimeout = 30 * time.Second

// instanceAWS resolves how an instance's AWS calls are authenticated: the
// base credentials (Options.AWSCredentials, else the SDK's default chain),
// or, with aws.roleArn, that role assumed from them (session name
// scim-rotator-<name>, cached and refreshed). It returns the options every
// AWS client of the instance is built with, and the function that tells
// the identity those calls act as.
func instanceAWS(ctx context.Context, in config.Instance, o Options) (Options, func(context.Context) (string, string, error), error) {
	base, err := baseAWSConfig(ctx, in.Config.IdentityCenter.Region, o)
	if err != nil {
		return o, nil, err
	}
	endpoint := o.STSEndpoint
	if endpoint == "" {
		// The SDK's own variable: a base config given as credentials does
		// not read it, so it is read here for both cases.
		endpoint = os.Getenv("AWS_ENDPOINT_URL_STS")
	}
	if role := in.AWS.RoleARN; role != "" {
		base.Credentials = AssumeRoleCredentials(base, endpoint, role, in.AWS.ExternalID, in.Name, o.HTTPClient)
		o.AWSCredentials = base.Credentials
	}
	identity := func(ctx context.Context) (string, string, error) {
		return CallerIdentity(ctx, base, endpoint, o.HTTPClient)
	}
	return o, identity, nil
}

// baseAWSConfig is the SDK's configuration for region with the injected
// credentials, if any (the default chain otherwise).
func baseAWSConfig(ctx context.Context, region string, o Options) (aws.Config, error) {
	load := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(region),
		// The SDK adds AWS_CA_BUNDLE to a buildable client; a timeout keeps
		// a half-open connection from hanging a run.
		awsconfig.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(stsTimeout)),
	}
	if o.AWSCredentials != nil {
		load = append(load, awsconfig.WithCredentialsProvider(o.AWSCredentials))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load aws config: %w", err)
	}
	return cfg, nil
}
