package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// AWS credentials the sandbox accepts. Requests signed with anything else are
// refused, as AWS would.
const (
	AccessKeyID     = "AKIASANDBOX000000000"
	SecretAccessKey = "sandbox-secret-access-key-not-a-real-one"
)

// awsCredentials are the sandbox's credentials as the SDK types them.
var awsCredentials = aws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey, Source: "sandbox"}

// AWSCredentials returns a provider of the sandbox's credentials.
func AWSCredentials() aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return awsCredentials, nil })
}

// verifySigV4 checks a request's SigV4 signature as AWS does: algorithm,
// credential scope (access key, region, signing name) and the signature
// itself, recomputed over the same headers and body. It reads and restores
// the body. An error's text is what AWS would put in its message.
func verifySigV4(r *http.Request, service, region string) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, fmt.Errorf("cannot read body: %v", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	auth := r.Header.Get("Authorization")
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algo) {
		return body, fmt.Errorf("missing or unsupported Authorization header (want SigV4)")
	}
	fields := map[string]string{}
	for _, part := range strings.Split(strings.TrimPrefix(auth, algo), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return body, fmt.Errorf("malformed credential scope %q", fields["Credential"])
	}
	if scope[0] != AccessKeyID {
		return body, fmt.Errorf("the security token included in the request is invalid (unknown access key)")
	}
	if scope[3] != service {
		return body, fmt.Errorf("credential should be scoped to correct service: '%s' (got '%s')", service, scope[3])
	}
	if region != "" && scope[2] != region {
		return body, fmt.Errorf("credential should be scoped to a valid region: '%s' (got '%s')", region, scope[2])
	}
	signedAt, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return body, fmt.Errorf("missing or malformed X-Amz-Date")
	}
	// Recompute the signature over a copy of the request holding only the
	// headers the client signed, as AWS does: transports add headers (such as
	// Accept-Encoding) after signing.
	clone := r.Clone(r.Context())
	signed := map[string]bool{}
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
		signed[strings.ToLower(h)] = true
	}
	if !signed["host"] || !signed["x-amz-date"] {
		return body, fmt.Errorf("SignedHeaders must include host and x-amz-date")
	}
	for k := range clone.Header {
		if !signed[strings.ToLower(k)] {
			clone.Header.Del(k)
		}
	}
	clone.URL.Scheme, clone.URL.Host = "https", r.Host
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(r.Context(), awsCredentials, clone, hex.EncodeToString(sum[:]), service, scope[2], signedAt); err != nil {
		return body, fmt.Errorf("cannot recompute signature: %v", err)
	}
	want := clone.Header.Get("Authorization")
	if want != auth {
		return body, fmt.Errorf("the request signature we calculated does not match the signature you provided")
	}
	return body, nil
}
