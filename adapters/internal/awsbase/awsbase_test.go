package awsbase

import (
	"net/http"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/scim-rotator/scim-rotator/adapters/internal/safehttp"
	"github.com/scim-rotator/scim-rotator/adapters/internal/safehttp/safehttptest"
)

// With nothing injected, the configuration's client trusts both Go's roots
// and AWS_CA_BUNDLE (the SDK alone would trust only the bundle), has a
// timeout, and the credentials are the environment's, cached.
func TestLoadProduction(t *testing.T) {
	srv := safehttptest.Production(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	cfg, err := Load(t.Context(), Options{Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	bc, ok := cfg.HTTPClient.(*awshttp.BuildableClient)
	if !ok {
		t.Fatalf("client %T, want the SDK's buildable client", cfg.HTTPClient)
	}
	if bc.GetTimeout() != Timeout {
		t.Errorf("timeout %s, want %s", bc.GetTimeout(), Timeout)
	}
	want, err := safehttp.RootCAs()
	if err != nil {
		t.Fatal(err)
	}
	if got := bc.GetTransport().TLSClientConfig.RootCAs; got == nil || !got.Equal(want) {
		t.Error("the SDK client's roots are not the trust store (Go's roots plus AWS_CA_BUNDLE)")
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	resp, err := cfg.HTTPClient.Do(req)
	if err != nil {
		t.Fatalf("server trusted via AWS_CA_BUNDLE: %v", err)
	}
	resp.Body.Close()
	creds, err := cfg.Credentials.Retrieve(t.Context())
	if err != nil || creds.AccessKeyID != safehttptest.AccessKeyID {
		t.Fatalf("credentials %q, %v: want the environment's", creds.AccessKeyID, err)
	}
}
