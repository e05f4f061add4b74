package sandbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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
// credential scope (access key, date, region, signing name) and the signature
// itself, recomputed over exactly the headers the request lists in
// SignedHeaders (clients differ: the Go SDK signs content-length, the AWS CLI
// does not, and transports add headers such as Accept-Encoding after
// signing). It reads and restores the body. An error's text is what AWS
// would put in its message.
//
// The canonical request is built here, not with the SDK's signer: the signer
// chooses which headers to sign itself, while a verifier must take the
// client's choice.
func verifySigV4(r *http.Request, service, region string) ([]byte, error) {
	body, _, err := defaultIAM.verifySigV4(r, service, region)
	return body, err
}

// verifySigV4 verifies as the package-level verifySigV4 does, against the
// credentials i has issued, and returns who signed.
func (i *IAM) verifySigV4(r *http.Request, service, region string) ([]byte, *Principal, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read body: %v", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	auth := r.Header.Get("Authorization")
	const algo = "AWS4-HMAC-SHA256"
	rest, ok := strings.CutPrefix(auth, algo+" ")
	if !ok {
		return body, nil, fmt.Errorf("missing or unsupported Authorization header (want SigV4)")
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return body, nil, fmt.Errorf("malformed credential scope %q", fields["Credential"])
	}
	p := i.principal(scope[0])
	if p == nil || p.sessionToken != r.Header.Get("X-Amz-Security-Token") {
		return body, nil, fmt.Errorf("the security token included in the request is invalid (unknown access key)")
	}
	if !p.Expires.IsZero() && !i.now().Before(p.Expires) {
		return body, nil, fmt.Errorf("the security token included in the request is expired")
	}
	if scope[3] != service {
		return body, nil, fmt.Errorf("credential should be scoped to correct service: '%s' (got '%s')", service, scope[3])
	}
	if region != "" && scope[2] != region {
		return body, nil, fmt.Errorf("credential should be scoped to a valid region: '%s' (got '%s')", region, scope[2])
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if _, err := time.Parse("20060102T150405Z", amzDate); err != nil {
		return body, nil, fmt.Errorf("missing or malformed X-Amz-Date")
	}
	if scope[1] != amzDate[:8] {
		return body, nil, fmt.Errorf("credential should be scoped to a valid date: '%s' (got '%s')", amzDate[:8], scope[1])
	}
	signedHeaders := strings.Split(fields["SignedHeaders"], ";")
	if !slices.Contains(signedHeaders, "host") {
		return body, nil, fmt.Errorf("'Host' must be a 'SignedHeader' in the AWS Authorization")
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payloadHash {
		return body, nil, fmt.Errorf("the provided 'x-amz-content-sha256' header does not match what was computed")
	}
	var canon strings.Builder
	canon.WriteString(r.Method + "\n")
	canon.WriteString(canonicalURI(r.URL) + "\n")
	canon.WriteString(canonicalQuery(r.URL.RawQuery) + "\n")
	for _, h := range signedHeaders {
		canon.WriteString(h + ":" + headerValue(r, h) + "\n")
	}
	canon.WriteString("\n" + fields["SignedHeaders"] + "\n" + payloadHash)
	crSum := sha256.Sum256([]byte(canon.String()))
	stringToSign := algo + "\n" + amzDate + "\n" + strings.Join(scope[1:], "/") + "\n" + hex.EncodeToString(crSum[:])
	key := []byte("AWS4" + p.secretAccessKey)
	for _, s := range scope[1:] {
		key = hmacSHA256(key, s)
	}
	want := hex.EncodeToString(hmacSHA256(key, stringToSign))
	if !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return body, nil, fmt.Errorf("the request signature we calculated does not match the signature you provided")
	}
	return body, p, nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// canonicalURI is the path as sent, URI-encoded once more (every service
// but S3 double-encodes), "/" when empty.
func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = uriEncode(s)
	}
	return strings.Join(segs, "/")
}

// canonicalQuery sorts the parameters by name, then value, each decoded and
// re-encoded the RFC 3986 way.
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	var pairs []string
	for _, kv := range strings.Split(raw, "&") {
		k, v, _ := strings.Cut(kv, "=")
		dk, err1 := url.PathUnescape(k)
		dv, err2 := url.PathUnescape(v)
		if err1 == nil && err2 == nil {
			k, v = dk, dv
		}
		pairs = append(pairs, uriEncode(k)+"="+uriEncode(v))
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// uriEncode escapes every byte but the RFC 3986 unreserved characters.
func uriEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// headerValue is a signed header's canonical value: its values joined by
// commas, each trimmed with inner runs of spaces collapsed. Go keeps Host and
// Content-Length out of r.Header.
func headerValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		vals = []string{r.Host}
	case "content-length":
		vals = []string{strconv.FormatInt(r.ContentLength, 10)}
	default:
		vals = r.Header.Values(name)
	}
	for i, v := range vals {
		vals[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(vals, ",")
}
