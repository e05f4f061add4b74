package identitycenter

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/internal/awsbase"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// DescribeIdentityStoreAction is the IAM action that reads the identity
// store's network rules (documented; Resource the identity store, or "*").
const DescribeIdentityStoreAction = "identitystore:DescribeIdentityStore"

// describeAPI is the slice of the official identitystore client Network
// uses.
type describeAPI interface {
	DescribeIdentityStore(context.Context, *identitystore.DescribeIdentityStoreInput, ...func(*identitystore.Options)) (*identitystore.DescribeIdentityStoreOutput, error)
}

var _ describeAPI = (*identitystore.Client)(nil)

// Network reads the identity store's network rules with the documented API
// (DescribeIdentityStore's NetworkConfiguration, service/identitystore
// v1.47.0 and later). The rotator reads a refused SCIM proof against them,
// and check reports what they mean for this host.
type Network struct {
	api     describeAPI
	storeID string
	// tokenAPI is the token API's endpoint (identityCenter.endpoint), which
	// VpceAccessRequired may refuse; "" with the manual issuer (no calls).
	tokenAPI string
	log      *zap.Logger
}

var _ rotator.NetworkReader = (*Network)(nil)

// NewNetwork builds the official identitystore client from the shared AWS
// base (the instance's credentials, HTTP client and trust store, the SDK's
// retryer), at cfg.IdentityStoreEndpoint when set.
func NewNetwork(ctx context.Context, cfg config.IdentityCenter, opts Options) (*Network, error) {
	awsCfg, err := awsbase.Load(ctx, awsbase.Options{Region: cfg.Region, Credentials: opts.AWSCredentials, HTTPClient: opts.HTTPClient})
	if err != nil {
		return nil, fmt.Errorf("identity store network rules: %w", err)
	}
	client := identitystore.NewFromConfig(awsCfg, func(o *identitystore.Options) {
		if cfg.IdentityStoreEndpoint != "" {
			o.BaseEndpoint = aws.String(cfg.IdentityStoreEndpoint)
		}
		for _, fn := range opts.identityStoreOptions {
			fn(o)
		}
	})
	tokenAPI := ""
	if cfg.Issuer != config.IssuerManual {
		tokenAPI = withDefaults(cfg).Endpoint
	}
	return newNetwork(client, cfg.IdentityStoreID, tokenAPI, opts), nil
}

func newNetwork(api describeAPI, storeID, tokenAPI string, opts Options) *Network {
	opts = opts.withDefaults()
	return &Network{api: api, storeID: storeID, tokenAPI: tokenAPI, log: opts.Logger}
}

// NetworkRules reads the rules (none when the answer has no
// NetworkConfiguration). A denial is an error naming the IAM action.
func (n *Network) NetworkRules(ctx context.Context) (rotator.NetworkRules, error) {
	out, err := n.api.DescribeIdentityStore(ctx, &identitystore.DescribeIdentityStoreInput{IdentityStoreId: aws.String(n.storeID)})
	if err != nil {
		return rotator.NetworkRules{}, awsbase.Wrap("identitystore DescribeIdentityStore "+n.storeID, err, func(e *awsbase.APIError) {
			e.Message = printable(truncate(e.Message, 300))
			if awsbase.Denied(err) {
				e.Hint = "allow the IAM action " + DescribeIdentityStoreAction
			}
		})
	}
	nc := out.NetworkConfiguration
	if nc == nil {
		return rotator.NetworkRules{}, nil
	}
	return rotator.NetworkRules{
		VPCEndpointRequired:   aws.ToBool(nc.VpceAccessRequired),
		APIAllowSourceIPs:     nc.ApiAllowSourceIps,
		APIRestrictSourceVPCs: nc.ApiRestrictSourceVpcs,
		SCIMAllowSourceIPs:    nc.ScimAllowSourceIps,
	}, nil
}

// Check reads the rules and says what they mean here: a WARN when SCIM
// calls are limited to some sources (the proof and checks must come from
// one of them), a WARN when the token API is required through a VPC
// endpoint and identityCenter.endpoint is not one. It never FAILs: the
// rules are advice, and a rotation works without reading them.
func (n *Network) Check(ctx context.Context) []rotator.CheckResult {
	res := func(name string, level rotator.Level, detail, fix string) rotator.CheckResult {
		return rotator.CheckResult{System: System, Name: name, Level: level, Detail: detail, Fix: fix}
	}
	rules, err := n.NetworkRules(ctx)
	if err != nil {
		fix := "see the error; the rotation works without the rules, but a refused SCIM proof is then judged on the tokens alone"
		if awsbase.Denied(err) {
			fix = fmt.Sprintf("allow the IAM action %s on the identity store (arn:aws:identitystore::ACCOUNT:identitystore/%s, or \"*\") so that a refused SCIM proof can be told from network rules", DescribeIdentityStoreAction, n.storeID)
		} else if rotator.IsTransient(err) {
			fix = "the identity store API did not answer usefully (a service or network error): run check again later; check identityCenter.identityStoreEndpoint and the network path to it"
		}
		return []rotator.CheckResult{res("network rules", rotator.LevelWarn, err.Error(), fix)}
	}
	out := []rotator.CheckResult{res("network rules", rotator.LevelOK, describeRules(rules), "")}
	if rules.RestrictsSCIM() {
		fix := "run scim-rotator where its SCIM calls come from one of those sources (a NAT gateway whose address is listed), or add its egress address to ScimAllowSourceIps (UpdateIdentityStore replaces the whole network configuration)"
		if len(rules.SCIMAllowSourceIPs) == 0 {
			fix = "run scim-rotator where its SCIM calls reach the identity store through a VPC endpoint, or list its egress address in ScimAllowSourceIps"
		}
		out[0].Level, out[0].Fix = rotator.LevelWarn, fix
		out[0].Detail = rules.SCIMWords() + ": the rotator's SCIM proof and checks must come from one of them, or every proof is refused " +
			"(a rotation then ends Interrupted, keeping both tokens). " + describeRules(rules)
	}
	if rules.VPCEndpointRequired && n.tokenAPI != "" && !isVPCEndpoint(n.tokenAPI) {
		detail := fmt.Sprintf("the identity store's API is allowed only through a VPC endpoint (VpceAccessRequired), and identityCenter.endpoint %s is not one: the token API's calls (ListBearerTokens, CreateBearerToken, DeleteBearerToken) may be refused", n.tokenAPI)
		if len(rules.APIAllowSourceIPs) > 0 {
			detail += " unless they come from " + strings.Join(rules.APIAllowSourceIPs, ", ") + " (ApiAllowSourceIps)"
		}
		out = append(out, res("vpc endpoint", rotator.LevelWarn, detail,
			"set identityCenter.endpoint to the token API through your interface VPC endpoint (https://vpce-...identitystore.REGION.vpce.amazonaws.com/identitystore/), and identityCenter.identityStoreEndpoint to the same endpoint's host; with private DNS on the endpoint the default host already goes through it and this warning can be ignored"))
	}
	return out
}

// describeRules is every rule, for humans.
func describeRules(n rotator.NetworkRules) string {
	parts := []string{fmt.Sprintf("VpceAccessRequired %t", n.VPCEndpointRequired)}
	for _, l := range []struct {
		name string
		v    []string
	}{{"ScimAllowSourceIps", n.SCIMAllowSourceIPs}, {"ApiAllowSourceIps", n.APIAllowSourceIPs}, {"ApiRestrictSourceVpcs", n.APIRestrictSourceVPCs}} {
		v := "none"
		if len(l.v) > 0 {
			v = strings.Join(l.v, ", ")
		}
		parts = append(parts, l.name+" "+v)
	}
	return "network configuration: " + strings.Join(parts, "; ")
}

// isVPCEndpoint reports whether endpoint's host is an interface VPC
// endpoint's own DNS name (vpce-....vpce.amazonaws.com[.cn]).
func isVPCEndpoint(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	return strings.Contains(h, ".vpce.amazonaws.com")
}
