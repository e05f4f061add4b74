package rotator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The differential proof. Since September 2026 an identity store can limit
// who reaches it (its NetworkConfiguration): with ScimAllowSourceIps set to
// the IdP's ranges, or a VPC endpoint required, this host's SCIM calls are
// refused whatever the token. A refused proof of the new token is then no
// evidence against it, and rolling back would create and delete a token on
// every run. So a refusal of the new token is judged against the recorded
// current token, proved the same way, once:
//
//	| the current token's proof               | the run                                            |
//	|-----------------------------------------|----------------------------------------------------|
//	| accepted                                | the new token's own failure: as before (a new      |
//	|                                         | token rolls back, a resumed one is Blocked)        |
//	| refused, or no answer                   | Interrupted: both tokens kept, nothing rolled back |
//	| none recorded, the rules restrict SCIM  | Interrupted, likewise                              |
//	| none recorded, the rules do not         | as before                                          |
//	| none recorded, the rules cannot be read | a new token: Interrupted (rolling back deletes it; |
//	|                                         | fail towards keeping); a resumed one: as before    |

// ErrBothRefused means the SCIM endpoint refused the new token and the
// recorded current token alike: the cause is this host's access (network
// rules, an outage), not the new token.
var ErrBothRefused = errors.New("the SCIM endpoint refuses the new and the current token alike")

// NetworkRules are the identity store's network rules, as
// DescribeIdentityStore reports them (its NetworkConfiguration); the zero
// value is none.
type NetworkRules struct {
	// VPCEndpointRequired: the identity store's API only through a VPC
	// endpoint (VpceAccessRequired); SCIM too, unless SCIMAllowSourceIPs
	// lets other sources in.
	VPCEndpointRequired bool
	// APIAllowSourceIPs are CIDRs whose API calls bypass the other API
	// rules (ApiAllowSourceIps).
	APIAllowSourceIPs []string
	// APIRestrictSourceVPCs are the VPC ARNs allowed to call the API
	// (ApiRestrictSourceVpcs).
	APIRestrictSourceVPCs []string
	// SCIMAllowSourceIPs are the CIDRs allowed to call SCIM; calls from
	// elsewhere are refused (ScimAllowSourceIps).
	SCIMAllowSourceIPs []string
}

// RestrictsSCIM reports whether the rules refuse SCIM calls from some
// sources: a list that does not hold 0.0.0.0/0, or no list and a VPC
// endpoint required (SCIM then follows the VPC endpoint rule).
func (n NetworkRules) RestrictsSCIM() bool {
	if len(n.SCIMAllowSourceIPs) > 0 {
		return !slices.Contains(n.SCIMAllowSourceIPs, "0.0.0.0/0")
	}
	return n.VPCEndpointRequired
}

// SCIMWords says who may call SCIM, for humans.
func (n NetworkRules) SCIMWords() string {
	switch {
	case len(n.SCIMAllowSourceIPs) > 0:
		return "SCIM calls are allowed only from " + strings.Join(n.SCIMAllowSourceIPs, ", ") + " (ScimAllowSourceIps)"
	case n.VPCEndpointRequired:
		return "SCIM calls are allowed only through a VPC endpoint of the identity store (VpceAccessRequired, no ScimAllowSourceIps)"
	}
	return "no network rule restricts SCIM calls"
}

// readNetwork reads the identity store's network rules (an error when the
// rotator has no reader).
func (r *Rotator) readNetwork(ctx context.Context) (NetworkRules, error) {
	if r.Network == nil {
		return NetworkRules{}, errors.New("the rotator has no reader for them")
	}
	return r.Network.NetworkRules(ctx)
}

// networkActions say how to let this host's SCIM calls through rules.
func networkActions(rules NetworkRules) []string {
	switch {
	case len(rules.SCIMAllowSourceIPs) > 0:
		return []string{"Run scim-rotator from an address in ScimAllowSourceIps (" + strings.Join(rules.SCIMAllowSourceIPs, ", ") +
			"), e.g. behind a NAT gateway whose address is listed, or add this host's egress address to the list (UpdateIdentityStore replaces the whole network configuration: give every value again)"}
	case rules.VPCEndpointRequired:
		return []string{"Run scim-rotator where its SCIM calls reach the identity store through a VPC endpoint, or allow its egress address in ScimAllowSourceIps"}
	}
	return []string{"No network rule restricts SCIM calls: check the SCIM endpoint's reachability and status (AWS Health), then run `scim-rotator rotate` again"}
}

// networkPart is the reader of the network rules, which check asks on its own.
var networkPart = part{role: "network rules"}

// refusedToo is status's differential proof of a refused pending token: the
// recorded current token is refused as well.
func (r *Rotator) refusedToo(ctx context.Context, obs Observed) bool {
	cur := obs.Store.Current
	if cur == nil || cur.Value.IsZero() {
		return false
	}
	cred := Credential{SCIMEndpoint: obs.Tenant.SCIMEndpoint, TokenID: cur.ID, Token: cur.Value}
	_, err := Guard(ctx, r.Log, "the SCIM endpoint", func() (struct{}, error) { return struct{}{}, r.Prover.ProveToken(ctx, cred) })
	return errors.Is(err, ErrTokenRejected)
}

func msgRefusedBoth(pendingID string, err error) string {
	return fmt.Sprintf("the SCIM endpoint refuses the pending token %s (%v) and the recorded current token alike: not the token but this host's access "+
		"(the identity store's network rules, or an outage) is the likely cause; `rotate` keeps both tokens and proves them again", pendingID, err)
}
