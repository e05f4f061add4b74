package sandbox

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// A Match fault fires only on the calls it matches; the others pass and
// leave it queued.
func TestFaultMatch(t *testing.T) {
	fake, faults, c, _ := newSMTest(t)
	fake.CreateSecret("s")
	fake.CreateSecret("other")
	faults.Inject("secretsmanager:PutSecretValue", Fault{Status: 400, Body: `{"__type":"AccessDeniedException","message":"no"}`,
		Match: func(_ *http.Request, body []byte) bool { return strings.Contains(string(body), `"SecretId":"s"`) }})
	if _, err := c.PutSecretValue(t.Context(), &sm.PutSecretValueInput{SecretId: aws.String("other"), SecretString: aws.String("v")}); err != nil {
		t.Fatalf("an unmatched call must pass: %v", err)
	}
	_, err := c.PutSecretValue(t.Context(), &sm.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("v")})
	if smCode(err) != "AccessDeniedException" {
		t.Fatalf("the matched call: %v", err)
	}
	if _, err := c.PutSecretValue(t.Context(), &sm.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("v")}); err != nil {
		t.Fatalf("the fault fires once: %v", err)
	}
}

// A Hold fault keeps the call waiting until released, then lets it through;
// a caller that gives up meanwhile has nothing done, and the server can
// close (httptest.Server.Close waits for every handler).
func TestFaultHold(t *testing.T) {
	fake, faults, c, srv := newSMTest(t)
	fake.CreateSecret("s")
	hold := make(chan struct{})
	reached := make(chan struct{})
	faults.Inject("secretsmanager:PutSecretValue", Fault{Pass: true, Hold: hold, Hook: func() { close(reached) }})
	done := make(chan error, 1)
	go func() {
		_, err := c.PutSecretValue(t.Context(), &sm.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("held")})
		done <- err
	}()
	<-reached
	select {
	case err := <-done:
		t.Fatalf("the call ended while held: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if fake.VersionCount("s") != 0 {
		t.Fatal("a held call did its work")
	}
	close(hold)
	if err := <-done; err != nil || fake.VersionCount("s") != 1 {
		t.Fatalf("released: %v, %d versions", err, fake.VersionCount("s"))
	}

	// The caller leaves while held.
	faults.Inject("secretsmanager:PutSecretValue", Fault{Pass: true, Hold: make(chan struct{})})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("gone")}); err == nil {
		t.Fatal("a held call answered")
	}
	srv.Close() // returns only once the held handler has noticed
	if fake.VersionCount("s") != 1 {
		t.Fatalf("a call whose caller left did its work: %d versions", fake.VersionCount("s"))
	}
}
