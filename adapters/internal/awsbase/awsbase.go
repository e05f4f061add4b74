// Package awsbase is the one place an instance's AWS configuration is built:
// one credential chain and cache (IRSA, EKS Pod Identity, environment,
// profile, an assumed role), one HTTP client with a timeout, one trust store
// (Go's roots plus AWS_CA_BUNDLE). Every AWS client of an instance (Identity
// Center, the Secrets Manager store, targets and trigger, CloudTrail, Health,
// STS) is made from the aws.Config it returns, so an instance under IRSA
// makes one AssumeRoleWithWebIdentity, not one per adapter, and no client
// can be left without a timeout or with a second trust store. It is also
// the one rule for a failed AWS call (errors.go): which failures are
// transient, which are a denial, and the one error type an answer becomes.
package awsbase

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/scim-rotator/scim-rotator/adapters/internal/safehttp"
)

// Timeout bounds one HTTP attempt of every AWS call (the SDK retries a
// timed-out attempt), including the credential providers' own calls (STS
// for IRSA, the EKS Pod Identity agent). A variable so that hang tests can
// shorten it.
var Timeout = 30 * time.Second

// Options are what a caller may inject; the zero value is production: the
// SDK's default credential chain and the trust store.
type Options struct {
	// Region is the configuration's region (each client may override it).
	Region string
	// Credentials replace the default chain (the sandbox's fake keys).
	Credentials aws.CredentialsProvider
	// HTTPClient replaces the client over the trust store (the sandbox's
	// client); it is given a timeout if it has none.
	HTTPClient *http.Client
}

// Load is the aws.Config for o: credentials cached (aws.CredentialsCache:
// one retrieval per credential lifetime for every client made from it).
func Load(ctx context.Context, o Options) (aws.Config, error) {
	load := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(o.Region)}
	if o.HTTPClient == nil {
		tlsCfg, err := safehttp.TLSConfig()
		if err != nil {
			return aws.Config{}, fmt.Errorf("load aws config: %w", err)
		}
		// A buildable client whose roots are already the trust store: the
		// SDK appends AWS_CA_BUNDLE to them instead of replacing Go's roots.
		client := awshttp.NewBuildableClient().WithTimeout(Timeout).WithTransportOptions(func(tr *http.Transport) {
			tr.TLSClientConfig = tlsCfg.Clone()
		})
		load = append(load, awsconfig.WithHTTPClient(client))
	}
	if o.Credentials != nil {
		load = append(load, awsconfig.WithCredentialsProvider(o.Credentials))
	}
	cfg, err := loadDefault(ctx, o, load)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load aws config: %w", err)
	}
	if o.HTTPClient != nil {
		cfg.HTTPClient = safehttp.Client(o.HTTPClient, Timeout)
	}
	if _, ok := cfg.Credentials.(*aws.CredentialsCache); !ok && cfg.Credentials != nil {
		cfg.Credentials = aws.NewCredentialsCache(cfg.Credentials)
	}
	return cfg, nil
}

// loadDefault is LoadDefaultConfig; with an injected client, the SDK's own
// AWS_CA_BUNDLE handling (which needs a buildable client) is given a
// throw-away one and the injected client replaces it afterwards.
func loadDefault(ctx context.Context, o Options, load []func(*awsconfig.LoadOptions) error) (aws.Config, error) {
	if o.HTTPClient != nil {
		load = append(load, awsconfig.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(Timeout).WithTransportOptions(func(tr *http.Transport) {
			if tr.TLSClientConfig == nil {
				tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			}
		})))
	}
	return awsconfig.LoadDefaultConfig(ctx, load...)
}

// ForRegion is a copy of cfg for another region (Health's partition region,
// a store in another region): same credentials, same client.
func ForRegion(cfg aws.Config, region string) aws.Config {
	c := cfg.Copy()
	if region != "" {
		c.Region = region
	}
	return c
}
