package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The Lambda fake's wire details that the secretsmanager target's tests (the
// official SDK) do not reach: signatures and the answer's exact shape.
func TestLambdaWire(t *testing.T) {
	sm := NewSecretsManager(nil, Region, nil)
	sm.Put("job/secret", `{"scim":"tok"}`)
	scimCalls := 0
	scim := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scimCalls++
		if r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("User-Agent") != LambdaUserAgent {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, `{"Resources":[]}`)
	}))
	defer scim.Close()
	l := NewLambda(nil, Region, sm, func() string { return scim.URL + "/scim/v2/" }, scim.Client())
	l.AddConsumer("job", "job/secret", "scim")
	srv := httptest.NewTLSServer(l)
	defer srv.Close()

	do := func(fn, typ, service string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/2015-03-31/functions/"+fn+"/invocations", strings.NewReader("{}"))
		req.Header.Set("X-Amz-Invocation-Type", typ)
		if service != "" {
			sum := sha256.Sum256([]byte("{}"))
			if err := v4.NewSigner().SignHTTP(t.Context(), awsCredentials, req, hex.EncodeToString(sum[:]), service, Region, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	body := func(resp *http.Response) string {
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}

	for _, tc := range []struct{ name, service string }{{"unsigned", ""}, {"signed for another service", "secretsmanager"}} {
		resp := do("job", "Event", tc.service)
		if b := body(resp); resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") == "" || scimCalls != 0 {
			t.Fatalf("%s: %d %s (%d SCIM calls)", tc.name, resp.StatusCode, b, scimCalls)
		}
	}
	resp := do("job", "Event", "lambda")
	if b := body(resp); resp.StatusCode != http.StatusAccepted || b != "" || scimCalls != 1 {
		t.Fatalf("Event: %d %q (%d SCIM calls)", resp.StatusCode, b, scimCalls)
	}
	resp = do("123456789012:function:job:live", "DryRun", "lambda")
	if b := body(resp); resp.StatusCode != http.StatusNoContent || b != "" || scimCalls != 1 {
		t.Fatalf("DryRun: %d %q (%d SCIM calls)", resp.StatusCode, b, scimCalls)
	}
	resp = do("other", "Event", "lambda")
	if b := body(resp); resp.StatusCode != http.StatusNotFound || resp.Header.Get("X-Amzn-ErrorType") != "ResourceNotFoundException" || !strings.Contains(b, "Function not found") {
		t.Fatalf("unknown function: %d %s", resp.StatusCode, b)
	}
	if calls := l.Invocations(); len(calls) != 2 || calls[0].SCIMStatus != http.StatusOK || calls[1].Type != "DryRun" {
		t.Fatalf("invocations %+v", calls)
	}
}
