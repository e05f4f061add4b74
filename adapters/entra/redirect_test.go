package entra

import (
	"reflect"
	"strings"
	"testing"

	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"
)

// Graph's middleware must not follow redirects: the request carries the
// bearer token, and kiota's handler keeps it on a same-host redirect.
func TestNoRedirectMiddleware(t *testing.T) {
	for _, m := range middleware(&msgraphgocore.GraphClientOptions{}) {
		if name := reflect.TypeOf(m).String(); strings.Contains(name, "Redirect") {
			t.Errorf("middleware %s follows redirects", name)
		}
	}
}
