package factory

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// BenchmarkRotation measures one full rotation (rotate --now) against the
// sandbox, with the secretsmanager target only, and reports the API calls it
// makes per rotation ("calls/op"), split by system.
//
// The minimal call sequence of a rotation, which the counts should match:
//
//	lock      secretsmanager DescribeSecret, GetSecretValue (holder, when there is one),
//	          PutSecretValue (lock version), UpdateSecretVersionStage (the compare-and-swap)
//	observe   secretsmanager DescribeSecret, GetSecretValue (AWSCURRENT), ListSecretVersionIds
//	          identitycenter ListBearerTokens
//	tenant    identitycenter ListProvisioningTenants (once per process: the issuer keeps it)
//	start     secretsmanager PutSecretValue (progress: Creating, with the tokens that exist)
//	create    identitycenter CreateBearerToken (exactly once, never retried)
//	pending   secretsmanager PutSecretValue (AWSPENDING), PutSecretValue (progress: Created)
//	prove     scim ServiceProviderConfig
//	per target: progress before the push, push (GetSecretValue + PutSecretValue for a secret target),
//	          test (GetSecretValue), progress after push/test/confirm
//	promote   secretsmanager DescribeSecret, UpdateSecretVersionStage x2 (AWSCURRENT, drop AWSPENDING)
//	use       cloudtrail LookupEvents (preflight, proof of the new token's use, the old one's quiet)
//	delete    scim ServiceProviderConfig (the kept token works), identitycenter DeleteBearerToken
//	progress  PutSecretValue (Promoted, Done)
//	guards    secretsmanager DescribeSecret before create, each push, promote and delete (the
//	          lock is still this run's); unlock UpdateSecretVersionStage
//
// Measured on 2 cores (20 rotations x 3), before and after the lock, trust checks and proof of use:
//
//	                               before (85ba372)   after
//	wall time per rotation         11-15 ms           8-9 ms
//	Secrets Manager calls          36.85              31.5-32.6
//	Identity Center calls          3.05               3.05
//	SCIM calls                     1                  3 (+1 proof before delete, +1 the sync job's own call)
//	CloudTrail calls               -                  3
//
// The lock's ~9 calls are paid for by progress writes that no longer re-read
// the progress version (the run holds the lock, so it is the only writer).
// Progress writes still dominate: each is one PutSecretValue, the price of a
// run that can be killed between any two steps and finished by the next.
func BenchmarkRotation(b *testing.B) {
	sb, cfg := sandboxConfig(b)
	sb.SeedLiveToken(300 * 24 * time.Hour)
	rot, err := Build(context.Background(), cfg, Options{Logger: zap.NewNop(), Clock: sb.Clock, HTTPClient: sb.Client, AWSCredentials: sandbox.AWSCredentials()})
	if err != nil {
		b.Fatal(err)
	}
	sb.Faults.ResetCalls()
	b.ReportAllocs()
	for b.Loop() {
		if res := rot.Run(context.Background(), rotator.RunOptions{Now: true}); res.Outcome != rotator.ReasonRotated {
			b.Fatalf("outcome %s: %s", res.Outcome, res.Message)
		}
	}
	calls := sb.Faults.Calls()
	per := map[string]float64{}
	for _, c := range calls {
		sys, _, _ := strings.Cut(c, ":")
		per[sys]++
	}
	b.ReportMetric(float64(len(calls))/float64(b.N), "calls/op")
	for sys, n := range per {
		b.ReportMetric(n/float64(b.N), sys+"-calls/op")
	}
	if ic := per["identitycenter"] / float64(b.N); ic > 4 {
		b.Fatalf("%.1f Identity Center calls per rotation: want list, tenants, create, delete", ic)
	}
}
