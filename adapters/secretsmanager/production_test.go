package secretsmanager

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/scim-rotator/scim-rotator/adapters/internal/awsbase"
	"github.com/scim-rotator/scim-rotator/adapters/internal/safehttp/safehttptest"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// awsWire answers DescribeSecret (JSON 1.1) and Lambda's Invoke (REST) as
// the services document them, and records each call with the access key
// that signed it.
type awsWire struct {
	mu    sync.Mutex
	calls []string
}

func (h *awsWire) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := ""
	if _, cred, ok := strings.Cut(r.Header.Get("Authorization"), "Credential="); ok {
		key, _, _ = strings.Cut(cred, "/")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case r.Header.Get("X-Amz-Target") == "secretsmanager.DescribeSecret":
		h.calls = append(h.calls, "DescribeSecret "+key)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fmt.Fprint(w, `{"ARN":"arn:aws:secretsmanager:eu-west-1:111122223333:secret:scim-AbCdEf","Name":"scim","VersionIdsToStages":{}}`)
	case r.Method == http.MethodPost && r.URL.Path == "/2015-03-31/functions/ssosync/invocations":
		h.calls = append(h.calls, "Invoke "+r.Header.Get("X-Amz-Invocation-Type")+" "+key)
		w.WriteHeader(http.StatusNoContent)
	default:
		h.calls = append(h.calls, "unexpected "+r.Method+" "+r.URL.Path)
		w.WriteHeader(http.StatusBadRequest)
	}
}

// The production path: no HTTP client, credentials or CA injected; the CA
// only in AWS_CA_BUNDLE, keys in the environment. The store, the target
// and its Lambda trigger each make their call, signed with the
// environment's keys.
func TestProductionPathZeroOptions(t *testing.T) {
	h := &awsWire{}
	srv := safehttptest.Production(t, h)
	store, err := NewStore(t.Context(), config.Store{SecretID: "scim", Region: "eu-west-1", Endpoint: srv.URL}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := NewTarget(t.Context(), "ssosync", TargetConfig{SecretID: "scim", Region: "eu-west-1", Endpoint: srv.URL,
		Trigger: &TriggerConfig{LambdaFunction: "ssosync", Endpoint: srv.URL}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	results := append(store.Check(t.Context()), tg.Check(t.Context())...)
	for _, r := range results {
		if r.Level != rotator.LevelOK {
			t.Errorf("%s %s: %s %s", r.System, r.Name, r.Level, r.Detail)
		}
	}
	want := []string{"DescribeSecret " + safehttptest.AccessKeyID, "DescribeSecret " + safehttptest.AccessKeyID, "Invoke DryRun " + safehttptest.AccessKeyID}
	if strings.Join(h.calls, "; ") != strings.Join(want, "; ") {
		t.Fatalf("calls %q, want %q", h.calls, want)
	}
}

// Secrets Manager and Lambda endpoints that never answer: each call ends
// with the client's timeout, not never.
func TestHangTimesOut(t *testing.T) {
	defer func(d time.Duration) { awsbase.Timeout = d }(awsbase.Timeout)
	awsbase.Timeout = 200 * time.Millisecond
	srv := safehttptest.Hanging(t)
	opts := Options{
		sdkOptions:    []func(*sm.Options){func(o *sm.Options) { o.RetryMaxAttempts = 1 }},
		lambdaOptions: []func(*lambda.Options){func(o *lambda.Options) { o.RetryMaxAttempts = 1 }},
	}
	store, err := NewStore(t.Context(), config.Store{SecretID: "scim", Region: "eu-west-1", Endpoint: srv.URL}, opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.api.DescribeSecret(t.Context(), &sm.DescribeSecretInput{SecretId: ptr("scim")})
	assertTimeout(t, "DescribeSecret", err)
	tg, err := NewTarget(t.Context(), "ssosync", TargetConfig{SecretID: "scim", Region: "eu-west-1", Endpoint: srv.URL,
		Trigger: &TriggerConfig{LambdaFunction: "ssosync", Endpoint: srv.URL}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	assertTimeout(t, "Invoke", tg.trigger.invoke(t.Context(), "DryRun"))
}

func assertTimeout(t *testing.T, what string, err error) {
	t.Helper()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("%s on a hanging endpoint: %v, want a timeout", what, err)
	}
}

func ptr(s string) *string { return &s }
