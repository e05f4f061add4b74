package factory

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/scim-rotator/scim-rotator/adapters/health"
	"github.com/scim-rotator/scim-rotator/adapters/identitycenter"
)

// The default endpoint of everything the product calls by itself, per
// partition: the two it names (Identity Center's token API, Health's global
// endpoint) and the SDK clients' resolution for the instance's region.
func TestDefaultEndpointsPerPartition(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		region                              string
		tokenAPI, health, healthSigning     string
		secrets, lambda, cloudtrail, stsURL string
	}{
		{"eu-west-1", "https://up.sso.eu-west-1.amazonaws.com/identitystore/", "https://health.us-east-1.amazonaws.com", "us-east-1",
			"https://secretsmanager.eu-west-1.amazonaws.com", "https://lambda.eu-west-1.amazonaws.com", "https://cloudtrail.eu-west-1.amazonaws.com", "https://sts.eu-west-1.amazonaws.com"},
		{"cn-north-1", "https://up.sso.cn-north-1.amazonaws.com.cn/identitystore/", "https://health.cn-northwest-1.amazonaws.com.cn", "cn-northwest-1",
			"https://secretsmanager.cn-north-1.amazonaws.com.cn", "https://lambda.cn-north-1.amazonaws.com.cn", "https://cloudtrail.cn-north-1.amazonaws.com.cn", "https://sts.cn-north-1.amazonaws.com.cn"},
		{"us-gov-west-1", "https://up.sso.us-gov-west-1.amazonaws.com/identitystore/", "https://health.us-gov-west-1.amazonaws.com", "us-gov-west-1",
			"https://secretsmanager.us-gov-west-1.amazonaws.com", "https://lambda.us-gov-west-1.amazonaws.com", "https://cloudtrail.us-gov-west-1.amazonaws.com", "https://sts.us-gov-west-1.amazonaws.com"},
	} {
		r := aws.String(c.region)
		if got := identitycenter.DefaultEndpoint(c.region); got != c.tokenAPI {
			t.Errorf("%s: token API %s, want %s", c.region, got, c.tokenAPI)
		}
		if e, s := health.Endpoint("", c.region); e != c.health || s != c.healthSigning {
			t.Errorf("%s: health %s signed for %s, want %s for %s", c.region, e, s, c.health, c.healthSigning)
		}
		resolved := map[string]func() (string, error){
			c.secrets: func() (string, error) {
				e, err := secretsmanager.NewDefaultEndpointResolverV2().ResolveEndpoint(ctx, secretsmanager.EndpointParameters{Region: r})
				return e.URI.String(), err
			},
			c.lambda: func() (string, error) {
				e, err := lambda.NewDefaultEndpointResolverV2().ResolveEndpoint(ctx, lambda.EndpointParameters{Region: r})
				return e.URI.String(), err
			},
			c.cloudtrail: func() (string, error) {
				e, err := cloudtrail.NewDefaultEndpointResolverV2().ResolveEndpoint(ctx, cloudtrail.EndpointParameters{Region: r})
				return e.URI.String(), err
			},
			c.stsURL: func() (string, error) {
				e, err := sts.NewDefaultEndpointResolverV2().ResolveEndpoint(ctx, sts.EndpointParameters{Region: r, UseGlobalEndpoint: aws.Bool(false)})
				return e.URI.String(), err
			},
		}
		for want, resolve := range resolved {
			if got, err := resolve(); err != nil || got != want {
				t.Errorf("%s: resolved %s, %v; want %s", c.region, got, err, want)
			}
		}
	}
}
