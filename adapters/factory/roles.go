package factory

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/scim-rotator/scim-rotator/adapters/internal/awsbase"
	"github.com/scim-rotator/scim-rotator/config"
)

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
	}
	// Every AWS client of the instance shares this one cache: one
	// AssumeRoleWithWebIdentity (or AssumeRole) per credential lifetime for
	// the instance, not one per adapter.
	o.AWSCredentials = base.Credentials
	identity := func(ctx context.Context) (string, string, error) {
		return CallerIdentity(ctx, base, endpoint, o.HTTPClient)
	}
	return o, identity, nil
}

// baseAWSConfig is the instance's shared AWS base (awsbase.Load): the
// injected credentials, else the SDK's default chain (env, profile, IRSA,
// EKS Pod Identity), behind one cache; one HTTP client with a timeout over
// the trust store.
func baseAWSConfig(ctx context.Context, region string, o Options) (aws.Config, error) {
	return awsbase.Load(ctx, awsbase.Options{Region: region, Credentials: o.AWSCredentials, HTTPClient: o.HTTPClient})
}
