package identitycenter

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// network is the official identitystore client against the sandbox's
// identity store API, retrying without backoff.
func (e *env) network(mods ...func(*config.IdentityCenter)) *Network {
	e.t.Helper()
	cfg := e.cfg
	cfg.IdentityStoreEndpoint = e.ic.IdentityStoreEndpoint()
	for _, m := range mods {
		m(&cfg)
	}
	opts := e.opts
	opts.identityStoreOptions = []func(*identitystore.Options){func(o *identitystore.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		})
	}}
	n, err := NewNetwork(e.t.Context(), cfg, opts)
	if err != nil {
		e.t.Fatalf("NewNetwork: %v", err)
	}
	return n
}

func TestNetworkRulesOverTheSDK(t *testing.T) {
	e := newEnv(t)
	n := e.network()
	rules, err := n.NetworkRules(t.Context())
	if err != nil || rules.RestrictsSCIM() || rules.VPCEndpointRequired {
		t.Fatalf("no configuration: %+v, %v", rules, err)
	}
	e.ic.SetNetworkConfiguration(&sandbox.NetworkConfiguration{VpceAccessRequired: true, ApiAllowSourceIps: []string{"192.0.2.0/24"},
		ApiRestrictSourceVpcs: []string{"arn:aws:ec2:eu-west-1:111122223333:vpc/vpc-1"}, ScimAllowSourceIps: []string{"203.0.113.0/24", "198.51.100.7/32"}})
	rules, err = n.NetworkRules(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := rotator.NetworkRules{VPCEndpointRequired: true, APIAllowSourceIPs: []string{"192.0.2.0/24"},
		APIRestrictSourceVPCs: []string{"arn:aws:ec2:eu-west-1:111122223333:vpc/vpc-1"}, SCIMAllowSourceIPs: []string{"203.0.113.0/24", "198.51.100.7/32"}}
	if got, w := describeRules(rules), describeRules(want); got != w || !rules.VPCEndpointRequired {
		t.Fatalf("rules\n %s\nwant\n %s", got, w)
	}
	if c := e.faults.Count("identitystore:DescribeIdentityStore"); c != 2 {
		t.Fatalf("DescribeIdentityStore called %d times", c)
	}
}

func TestNetworkCheck(t *testing.T) {
	scim := &sandbox.NetworkConfiguration{ScimAllowSourceIps: []string{"203.0.113.0/24", "198.51.100.7/32"}}
	vpce := &sandbox.NetworkConfiguration{VpceAccessRequired: true, ScimAllowSourceIps: []string{"0.0.0.0/0"}}
	for _, tc := range []struct {
		name   string
		nc     *sandbox.NetworkConfiguration
		faults []sandbox.Fault
		mod    func(*config.IdentityCenter)
		// want is "LEVEL name: a part of the detail | a part of the fix", one per result.
		want []string
	}{
		{"none", nil, nil, nil, []string{"OK network rules: VpceAccessRequired false; ScimAllowSourceIps none"}},
		{"scim allow-list", scim, nil, nil, []string{
			"WARN network rules: SCIM calls are allowed only from 203.0.113.0/24, 198.51.100.7/32 (ScimAllowSourceIps): the rotator's SCIM proof and checks must come from one of them | add its egress address to ScimAllowSourceIps"}},
		{"vpc endpoint required, token api elsewhere", vpce, nil, nil, []string{
			"OK network rules: VpceAccessRequired true; ScimAllowSourceIps 0.0.0.0/0",
			"WARN vpc endpoint: only through a VPC endpoint (VpceAccessRequired), and identityCenter.endpoint https://127.0.0.1:",
			"WARN vpc endpoint: token API's calls (ListBearerTokens, CreateBearerToken, DeleteBearerToken) may be refused | set identityCenter.endpoint to the token API through your interface VPC endpoint"}},
		{"vpc endpoint required, token api through one", vpce, nil, func(c *config.IdentityCenter) {
			c.Endpoint = "https://vpce-0123456789abcdef0-abcdefgh.identitystore.eu-west-1.vpce.amazonaws.com/identitystore/"
		}, []string{"OK network rules: VpceAccessRequired true"}},
		{"vpc endpoint required, manual issuer", vpce, nil, func(c *config.IdentityCenter) { c.Issuer = config.IssuerManual },
			[]string{"OK network rules: VpceAccessRequired true"}},
		{"vpc endpoint required, no scim list", &sandbox.NetworkConfiguration{VpceAccessRequired: true}, nil, func(c *config.IdentityCenter) { c.Issuer = config.IssuerManual },
			[]string{"WARN network rules: SCIM calls are allowed only through a VPC endpoint | through a VPC endpoint, or list its egress address"}},
		{"access denied", scim, []sandbox.Fault{{Status: 400, Body: `{"__type":"AccessDeniedException","Message":"User: arn:aws:iam::111122223333:user/x is not authorized to perform: identitystore:DescribeIdentityStore"}`}}, nil,
			[]string{"WARN network rules: identitystore DescribeIdentityStore d-1234567890: AccessDeniedException: User: arn:aws:iam::111122223333:user/x is not authorized to perform: identitystore:DescribeIdentityStore; allow the IAM action identitystore:DescribeIdentityStore | allow the IAM action identitystore:DescribeIdentityStore on the identity store"}},
		{"403 AccessDenied", scim, []sandbox.Fault{{Status: 403, Body: `{"__type":"com.amazonaws.identitystore#AccessDeniedException","message":"denied"}`}}, nil,
			[]string{"WARN network rules: AccessDeniedException: denied; allow the IAM action identitystore:DescribeIdentityStore | allow the IAM action identitystore:DescribeIdentityStore"}},
		{"outage", scim, []sandbox.Fault{{Status: 500}, {Status: 500}, {Status: 500}}, nil,
			[]string{"WARN network rules: InternalServerException | did not answer usefully"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.ic.SetNetworkConfiguration(tc.nc)
			e.faults.Inject("identitystore:DescribeIdentityStore", tc.faults...)
			var mods []func(*config.IdentityCenter)
			if tc.mod != nil {
				mods = append(mods, tc.mod)
			}
			got := e.network(mods...).Check(t.Context())
			names := map[string]bool{}
			for _, w := range tc.want {
				level, rest, _ := strings.Cut(w, " ")
				name, rest, _ := strings.Cut(rest, ": ")
				detail, fix, _ := strings.Cut(rest, " | ")
				names[name] = true
				found := false
				for _, c := range got {
					if c.Name == name && string(c.Level) == level && strings.Contains(c.Detail, detail) && strings.Contains(c.Fix, fix) && c.System == System {
						found = true
					}
				}
				if !found {
					t.Errorf("no result %q in %+v", w, got)
				}
			}
			if len(got) != len(names) {
				t.Errorf("results %+v, want %d", got, len(names))
			}
			for _, c := range got {
				if c.Level == rotator.LevelFail {
					t.Errorf("a FAIL: %+v", c)
				}
			}
		})
	}
}
