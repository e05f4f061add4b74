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

// The verifier recomputes the signature over exactly the headers the client
// listed as signed, whichever they are, and refuses any change to them.
func TestVerifySigV4(t *testing.T) {
	var verr error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, verr = verifySigV4(r, "secretsmanager", "us-east-1")
	}))
	defer srv.Close()
	const body = `{"SecretId":"s"}`
	now := time.Now().UTC()
	sign := func(path string, withLength bool, change func(*http.Request)) *http.Request {
		req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "secretsmanager.DescribeSecret")
		sum := sha256.Sum256([]byte(body))
		if !withLength {
			// The AWS CLI does not sign content-length; the Go SDK does.
			req.ContentLength = 0
		}
		if err := v4.NewSigner().SignHTTP(t.Context(), awsCredentials, req, hex.EncodeToString(sum[:]), "secretsmanager", "us-east-1", now); err != nil {
			t.Fatal(err)
		}
		req.ContentLength = int64(len(body))
		if change != nil {
			change(req)
		}
		return req
	}
	for _, tc := range []struct {
		name string
		req  *http.Request
		ok   bool
	}{
		{"content-length signed", sign("/", true, nil), true},
		{"content-length not signed", sign("/", false, nil), true},
		{"escaped path and unsorted query", sign("/a%20b/c?b=2&a=x%2Fy&a=1", false, nil), true},
		{"header added after signing", sign("/", false, func(r *http.Request) { r.Header.Set("X-Extra", "1") }), true},
		{"signed header changed", sign("/", false, func(r *http.Request) { r.Header.Set("X-Amz-Target", "secretsmanager.DeleteSecret") }), false},
		{"body changed", sign("/", false, func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader(`{"SecretId":"t"}`)) }), false},
		{"query changed", sign("/?a=1", false, func(r *http.Request) { r.URL.RawQuery = "a=2" }), false},
		{"payload hash header lies", sign("/", false, func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", strings.Repeat("0", 64)) }), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			verr = nil
			resp, err := srv.Client().Do(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if (verr == nil) != tc.ok {
				t.Fatalf("verify: %v, want ok=%v", verr, tc.ok)
			}
		})
	}
}
