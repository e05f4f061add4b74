package secretsmanager

import (
	"net/http"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/scim-rotator/scim-rotator/adapters/internal/awsbase"
	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
)

// Every client has a timeout: a stuck call must not hang the daemon.
func TestClientTimeout(t *testing.T) {
	tests := []struct {
		name string
		in   *http.Client
	}{
		{name: "SDK default", in: nil},
		{name: "injected without timeout", in: &http.Client{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := newClient(t.Context(), "us-east-1", "", Options{HTTPClient: tt.in, AWSCredentials: sandbox.AWSCredentials()})
			if err != nil {
				t.Fatal(err)
			}
			var timeout time.Duration
			switch hc := c.Options().HTTPClient.(type) {
			case *awshttp.BuildableClient:
				timeout = hc.GetTimeout()
			case *http.Client:
				timeout = hc.Timeout
				if hc.CheckRedirect == nil {
					t.Error("injected client follows redirects")
				}
			default:
				t.Fatalf("HTTP client %T", hc)
			}
			if timeout != awsbase.Timeout {
				t.Errorf("timeout = %s, want %s", timeout, awsbase.Timeout)
			}
		})
	}
}
