package health

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshealth "github.com/aws/aws-sdk-go-v2/service/health"

	"github.com/scim-rotator/scim-rotator/adapters/internal/awsbase"
	"github.com/scim-rotator/scim-rotator/config"
)

// api is the slice of the official AWS Health client this package uses.
type api interface {
	DescribeEvents(context.Context, *awshealth.DescribeEventsInput, ...func(*awshealth.Options)) (*awshealth.DescribeEventsOutput, error)
	DescribeEventDetails(context.Context, *awshealth.DescribeEventDetailsInput, ...func(*awshealth.Options)) (*awshealth.DescribeEventDetailsOutput, error)
}

var _ api = (*awshealth.Client)(nil)

// Endpoint is where the watch calls AWS Health and the region it signs for.
// AWS Health has one global endpoint per partition (aws: us-east-1,
// aws-cn: cn-northwest-1, aws-us-gov: us-gov-west-1; config.Partition).
// A configured health.endpoint is signed for the region its host names
// (another partition's endpoint signs for that partition's region); one
// that names none (a VPC endpoint, a proxy) signs for the instance's
// partition's Health region.
func Endpoint(configured, instanceRegion string) (endpoint, signingRegion string) {
	p := config.PartitionOf(instanceRegion)
	if configured == "" {
		return p.HealthEndpoint(), p.HealthRegion
	}
	if r := config.RegionOfEndpoint(configured); r != "" {
		return configured, r
	}
	return configured, p.HealthRegion
}

// wrapErr names the operation and classifies a failed call by awsbase's
// rule: retryable failures (already retried) are transient; the answers
// check reports on are their sentinels.
func wrapErr(op string, err error) error {
	return awsbase.Wrap("health "+op, err, func(e *awsbase.APIError) {
		e.Message = clip(e.Message, 300)
		switch {
		case e.Code == "SubscriptionRequiredException":
			e.Kind = ErrSubscriptionRequired
		case awsbase.Denied(err):
			e.Kind = ErrAccessDenied
		}
	})
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

func str(s *string) string { return aws.ToString(s) }
