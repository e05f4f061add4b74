package factory

import (
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/scim-rotator/scim-rotator/adapters/internal/awsbase"
	"github.com/scim-rotator/scim-rotator/adapters/internal/safehttp/safehttptest"
	"github.com/scim-rotator/scim-rotator/config"
)

// With nothing injected, an instance's AWS options carry one credential
// cache built from the default chain (the environment's keys here), which
// every adapter of the instance is given: one AssumeRoleWithWebIdentity
// per instance under IRSA, not one per adapter.
func TestInstanceAWSSharesOneCache(t *testing.T) {
	safehttptest.Production(t, http.NotFoundHandler())
	in := config.Instance{Name: "default", Config: &config.Config{IdentityCenter: config.IdentityCenter{Region: "eu-west-1"}}}
	o, _, err := instanceAWS(t.Context(), in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := o.AWSCredentials.(*aws.CredentialsCache); !ok {
		t.Fatalf("credentials %T, want the one *aws.CredentialsCache every adapter shares", o.AWSCredentials)
	}
	creds, err := o.AWSCredentials.Retrieve(t.Context())
	if err != nil || creds.AccessKeyID != safehttptest.AccessKeyID {
		t.Fatalf("credentials %q, %v: want the environment's", creds.AccessKeyID, err)
	}
}

// An STS that never answers: the identity call (and so an IRSA or
// AssumeRole exchange, on the same client) ends with the base client's
// timeout.
func TestSTSHangTimesOut(t *testing.T) {
	defer func(d time.Duration) { awsbase.Timeout = d }(awsbase.Timeout)
	awsbase.Timeout = 200 * time.Millisecond
	srv := safehttptest.Hanging(t)
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	in := config.Instance{Name: "default", Config: &config.Config{IdentityCenter: config.IdentityCenter{Region: "eu-west-1"}}}
	_, identity, err := instanceAWS(t.Context(), in, Options{STSEndpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = identity(t.Context())
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("a hanging STS: %v, want a timeout", err)
	}
}
