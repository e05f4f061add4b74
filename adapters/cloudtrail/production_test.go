package cloudtrail

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ct "github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/scim-rotator/scim-rotator/adapters/internal/awsbase"
	"github.com/scim-rotator/scim-rotator/adapters/internal/safehttp/safehttptest"
	"github.com/scim-rotator/scim-rotator/config"
)

// The production path: no HTTP client, credentials or CA injected; the CA
// only in AWS_CA_BUNDLE, keys in the environment. One LookupEvents, as
// CloudTrail's JSON 1.1 protocol documents it, signed with the
// environment's keys.
func TestProductionPathZeroOptions(t *testing.T) {
	var signed atomic.Value
	srv := safehttptest.Production(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") != "CloudTrail_20131101.LookupEvents" {
			t.Errorf("unexpected call: X-Amz-Target %q, Content-Type %q", r.Header.Get("X-Amz-Target"), r.Header.Get("Content-Type"))
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		signed.Store(r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fmt.Fprint(w, `{"Events":[]}`)
	}))
	s, err := New(t.Context(), config.Usage{Endpoint: srv.URL}, "eu-west-1", Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	uses, err := s.Uses(t.Context(), now.Add(-time.Hour), now)
	if err != nil {
		t.Fatalf("LookupEvents over the production path: %v", err)
	}
	if len(uses) != 0 {
		t.Fatalf("uses %+v, want none", uses)
	}
	auth, _ := signed.Load().(string)
	if !strings.Contains(auth, "Credential="+safehttptest.AccessKeyID+"/") || !strings.Contains(auth, "/eu-west-1/cloudtrail/") {
		t.Fatalf("Authorization %q: want the environment's key, signed for eu-west-1", auth)
	}
}

// A CloudTrail endpoint that never answers: LookupEvents ends with the
// client's timeout (before awsbase, it was still blocked after 240 s).
func TestHangTimesOut(t *testing.T) {
	defer func(d time.Duration) { awsbase.Timeout = d }(awsbase.Timeout)
	awsbase.Timeout = 200 * time.Millisecond
	srv := safehttptest.Hanging(t)
	s, err := New(t.Context(), config.Usage{Endpoint: srv.URL}, "eu-west-1", Options{
		sdkOptions: []func(*ct.Options){func(o *ct.Options) { o.RetryMaxAttempts = 1 }}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	_, err = s.Uses(t.Context(), now.Add(-time.Hour), now)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("a hanging CloudTrail: %v, want a timeout", err)
	}
}
