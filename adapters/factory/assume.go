package factory

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/scim-rotator/scim-rotator/adapters/internal/awsbase"
)

// SessionNamePrefix starts the role session name of every instance's
// assumed role (issue 11: scim-rotator-<instance>), which is what CloudTrail
// shows of the instance's calls in the assumed account.
const SessionNamePrefix = "scim-rotator-"

// maxSessionName is STS's limit on RoleSessionName.
const maxSessionName = 64

// AssumeRoleCredentials returns the credentials of roleARN assumed from
// base's credentials with the SDK's stscreds (session name
// scim-rotator-<instance>, externalID when set), cached and refreshed before
// they expire by aws.CredentialsCache: one AssumeRole per credential
// lifetime, not per call. stsEndpoint overrides STS's endpoint ("": the
// SDK's resolution, which honours AWS_ENDPOINT_URL_STS); httpClient, when
// not nil, carries the STS calls. Nothing is called until the first
// Retrieve.
func AssumeRoleCredentials(base aws.Config, stsEndpoint, roleARN, externalID, instance string, httpClient *http.Client) aws.CredentialsProvider {
	client := stsClient(base, stsEndpoint, httpClient)
	session := SessionNamePrefix + instance
	if len(session) > maxSessionName {
		session = session[:maxSessionName]
	}
	p := stscreds.NewAssumeRoleProvider(client, roleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = session
		if externalID != "" {
			o.ExternalID = aws.String(externalID)
		}
	})
	return aws.NewCredentialsCache(p)
}

// CallerIdentity is the account and ARN cfg's credentials act as
// (sts:GetCallerIdentity): what `check` shows per instance. stsEndpoint and
// httpClient are as for AssumeRoleCredentials.
func CallerIdentity(ctx context.Context, cfg aws.Config, stsEndpoint string, httpClient *http.Client) (account, arn string, err error) {
	out, err := stsClient(cfg, stsEndpoint, httpClient).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", "", awsbase.Mark(fmt.Errorf("get caller identity: %w", err))
	}
	return aws.ToString(out.Account), aws.ToString(out.Arn), nil
}

func stsClient(cfg aws.Config, endpoint string, httpClient *http.Client) *sts.Client {
	return sts.NewFromConfig(cfg, func(o *sts.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		if httpClient != nil {
			o.HTTPClient = httpClient
		}
	})
}
