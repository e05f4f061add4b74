package sandbox

import (
	"net/http"
	"testing"
	"time"
)

// A SCIM allow-list refuses calls from other sources with 403, whatever the
// token; an allowed source goes on.
func TestSCIMAllowSourceIps(t *testing.T) {
	sb := Start(Options{Handoff: true})
	defer sb.Close()
	_, value := sb.SeedLiveToken(time.Hour)
	if code, err := sb.CallSCIM(t.Context(), value, "probe"); err != nil || code != http.StatusOK {
		t.Fatalf("no rules: %d %v", code, err)
	}
	for _, tc := range []struct {
		name           string
		nc             *NetworkConfiguration
		here, handoffs int
	}{
		{"the IdP's address only", &NetworkConfiguration{ScimAllowSourceIps: []string{HandoffAddr + "/32", "203.0.113.0/24"}}, http.StatusForbidden, http.StatusOK},
		{"everywhere", &NetworkConfiguration{VpceAccessRequired: true, ScimAllowSourceIps: []string{"0.0.0.0/0"}}, http.StatusOK, http.StatusOK},
		{"a VPC endpoint, no list", &NetworkConfiguration{VpceAccessRequired: true}, http.StatusForbidden, http.StatusForbidden},
		{"none again", nil, http.StatusOK, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb.IC.SetNetworkConfiguration(tc.nc)
			if code, err := sb.CallSCIM(t.Context(), value, "probe"); err != nil || code != tc.here {
				t.Fatalf("from 127.0.0.1: %d %v, want %d", code, err, tc.here)
			}
			if code, err := sb.SCIM.Sync(t.Context()); err != nil || code != tc.handoffs {
				t.Fatalf("from %s: %d %v, want %d", HandoffAddr, code, err, tc.handoffs)
			}
		})
	}
	// Every call, refused or not, is recorded (the refused ones with AccessDeniedException).
	if n := sb.CloudTrail.EventCount(); n != 9 {
		t.Fatalf("CloudTrail recorded %d calls, want 9", n)
	}
}
