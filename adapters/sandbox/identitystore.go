package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// The documented identity store API, as far as the product reads it:
// DescribeIdentityStore (service/identitystore v1.47.0 and later), POST /
// on the identity store's endpoint, AWS JSON 1.1, X-Amz-Target
// AWSIdentityStore.DescribeIdentityStore, SigV4 signing name
// "identitystore" (the SDK's request and response snapshots). Operation
// name for Faults: identitystore:DescribeIdentityStore.
const isTargetPrefix = "AWSIdentityStore."

// NetworkConfiguration is the identity store's network rules, as
// DescribeIdentityStore answers them and UpdateIdentityStore sets them.
type NetworkConfiguration struct {
	VpceAccessRequired    bool     `json:"VpceAccessRequired"`
	ApiAllowSourceIps     []string `json:"ApiAllowSourceIps,omitempty"`     //nolint:revive // the wire name
	ApiRestrictSourceVpcs []string `json:"ApiRestrictSourceVpcs,omitempty"` //nolint:revive // the wire name
	ScimAllowSourceIps    []string `json:"ScimAllowSourceIps,omitempty"`    //nolint:revive // the wire name
}

// SetNetworkConfiguration sets the identity store's network rules (nil:
// none, and DescribeIdentityStore answers no NetworkConfiguration). The
// SCIM endpoint then refuses, with 403, calls from outside
// ScimAllowSourceIps (or, with no list and VpceAccessRequired, every call:
// the sandbox has no VPC endpoint), whatever the token. The whole
// configuration is replaced, as UpdateIdentityStore does.
func (ic *IdentityCenter) SetNetworkConfiguration(nc *NetworkConfiguration) {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if nc != nil {
		c := *nc
		nc = &c
	}
	ic.network = nc
}

// IdentityStoreEndpoint is the identity store API's endpoint (the
// server's root, as identitystore.{region}.amazonaws.com is).
func (ic *IdentityCenter) IdentityStoreEndpoint() string {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	return ic.baseURL + "/"
}

func (ic *IdentityCenter) serveIdentityStoreAPI(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), isTargetPrefix)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		icJSON.write(w, http.StatusBadRequest, "SerializationException", "cannot read request body")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	ft := ic.faults.BeginRequest("identitystore:"+op, r)
	if ft.Before() {
		icJSON.writeFault(ft, w, r)
		return
	}
	arn := "arn:aws:identitystore::" + ic.Account() + ":identitystore/" + ic.identityStoreID
	if _, err := ic.verify(r, icSigningName, ic.region, "identitystore:"+op, arn); err != nil {
		code := "InvalidSignatureException"
		if isWrongAccount(err) {
			code = "AccessDeniedException"
		}
		icJSON.write(w, http.StatusForbidden, code, err.Error())
		return
	}
	if op != "DescribeIdentityStore" {
		icJSON.write(w, http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("the sandbox does not know %q", r.Header.Get("X-Amz-Target")))
		return
	}
	var req struct {
		IdentityStoreID string `json:"IdentityStoreId"`
	}
	if json.Unmarshal(body, &req) != nil || req.IdentityStoreID == "" {
		icJSON.write(w, http.StatusBadRequest, "ValidationException", "1 validation error detected: Value null at 'identityStoreId' failed to satisfy constraint: Member must not be null")
		return
	}
	if req.IdentityStoreID != ic.identityStoreID && req.IdentityStoreID != arn {
		icJSON.write(w, http.StatusBadRequest, "ResourceNotFoundException", fmt.Sprintf("IdentityStore %s not found", req.IdentityStoreID))
		return
	}
	if ft.AfterWork() {
		icJSON.writeFault(ft, w, r)
		return
	}
	answer := map[string]any{"IdentityStoreArn": arn, "IdentityStoreId": ic.identityStoreID}
	ic.mu.Lock()
	if ic.network != nil {
		answer["NetworkConfiguration"] = *ic.network
	}
	ic.mu.Unlock()
	w.Header().Set("Content-Type", icContentType)
	_ = json.NewEncoder(w).Encode(answer)
}

// scimSourceRefused reports whether the network rules refuse SCIM calls
// from ip.
func (ic *IdentityCenter) scimSourceRefused(ip string) bool {
	ic.mu.Lock()
	nc := ic.network
	ic.mu.Unlock()
	if nc == nil {
		return false
	}
	if len(nc.ScimAllowSourceIps) == 0 {
		return nc.VpceAccessRequired
	}
	addr := net.ParseIP(ip)
	for _, cidr := range nc.ScimAllowSourceIps {
		if _, n, err := net.ParseCIDR(cidr); err == nil && addr != nil && n.Contains(addr) {
			return false
		}
	}
	return true
}
