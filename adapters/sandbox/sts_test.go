package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	ctsdk "github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	lambdasdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func stsTestClient(s *Sandbox, creds aws.CredentialsProvider) *sts.Client {
	return sts.New(sts.Options{Region: Region, Credentials: creds, BaseEndpoint: aws.String(s.URL("sts")), HTTPClient: s.Client, RetryMaxAttempts: 1})
}

func staticCreds(c aws.Credentials) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return c, nil })
}

// assumed returns fresh credentials for inst's role, through the official
// stscreds provider.
func assumed(t *testing.T, s *Sandbox, inst *Instance) aws.Credentials {
	t.Helper()
	p := stscreds.NewAssumeRoleProvider(stsTestClient(s, AWSCredentials()), inst.RoleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = "scim-rotator-" + inst.Name
		o.ExternalID = aws.String(inst.ExternalID)
	})
	c, err := p.Retrieve(t.Context())
	if err != nil {
		t.Fatalf("assume %s: %v", inst.RoleARN, err)
	}
	return c
}

// STS speaks the Query protocol as the official client expects: AssumeRole
// issues temporary credentials of the role's account, GetCallerIdentity
// names the signer, refusals are AccessDenied.
func TestSTS(t *testing.T) {
	s := Start(Options{Instances: 2})
	defer s.Close()
	inst := s.Instance(InstanceName(2))
	base := stsTestClient(s, AWSCredentials())

	id, err := base.GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Account) != BaseAccount || aws.ToString(id.Arn) != BaseARN || aws.ToString(id.UserId) == "" {
		t.Fatalf("base identity %+v, %v", id, err)
	}

	start := s.Clock.Now()
	c := assumed(t, s, inst)
	if !strings.HasPrefix(c.AccessKeyID, "ASIA") || c.SecretAccessKey == "" || c.SessionToken == "" || !c.CanExpire ||
		// stscreds asks for its default of 15 minutes.
		c.Expires.Before(start.Add(14*time.Minute)) || c.Expires.After(start.Add(16*time.Minute)) {
		t.Fatalf("assumed credentials %+v", c)
	}
	id, err = stsTestClient(s, staticCreds(c)).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	want := "arn:aws:sts::" + inst.Account + ":assumed-role/" + RoleName + "/scim-rotator-" + inst.Name
	if err != nil || aws.ToString(id.Account) != inst.Account || aws.ToString(id.Arn) != want || !strings.HasSuffix(aws.ToString(id.UserId), ":scim-rotator-"+inst.Name) {
		t.Fatalf("assumed identity %+v, %v (want %s)", id, err, want)
	}

	assume := func(creds aws.CredentialsProvider, role, ext, session string) error {
		in := &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String(session)}
		if ext != "" {
			in.ExternalId = aws.String(ext)
		}
		_, err := stsTestClient(s, creds).AssumeRole(t.Context(), in)
		return err
	}
	noToken := c
	noToken.SessionToken = ""
	for _, tc := range []struct {
		name, code string
		err        error
	}{
		{"wrong external id", "AccessDenied", assume(AWSCredentials(), inst.RoleARN, "nope", "s1")},
		{"no external id", "AccessDenied", assume(AWSCredentials(), inst.RoleARN, "", "s1")},
		{"unknown role", "AccessDenied", assume(AWSCredentials(), "arn:aws:iam::"+inst.Account+":role/other", inst.ExternalID, "s1")},
		// The role trusts the base account, not its own.
		{"untrusted caller", "AccessDenied", assume(staticCreds(c), inst.RoleARN, inst.ExternalID, "s1")},
		{"bad session name", "ValidationError", assume(AWSCredentials(), inst.RoleARN, inst.ExternalID, "a b")},
		{"unknown key", "InvalidClientTokenId", assume(staticCreds(aws.Credentials{AccessKeyID: "AKIAUNKNOWN000000000", SecretAccessKey: "x"}), inst.RoleARN, inst.ExternalID, "s1")},
		{"assumed key without its session token", "InvalidClientTokenId", assume(staticCreds(noToken), inst.RoleARN, inst.ExternalID, "s1")},
	} {
		if code := smCode(tc.err); code != tc.code {
			t.Errorf("%s: %v (code %q, want %q)", tc.name, tc.err, code, tc.code)
		}
	}
	if n := s.IAM.AssumeRoleCount(inst.RoleARN); n != 1 {
		t.Errorf("AssumeRole succeeded %d times, want 1", n)
	}

	// Temporary credentials stop working when they expire.
	s.Clock.Advance(2 * time.Hour)
	if _, err := stsTestClient(s, staticCreds(c)).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{}); smCode(err) != "ExpiredToken" {
		t.Errorf("expired credentials: %v", err)
	}
}

// Each instance's resources belong to its account: reached with its role's
// credentials, refused (or not found, as AWS answers a name in the caller's
// own account) with the base account's.
func TestFleetAccountIsolation(t *testing.T) {
	s := Start(Options{Instances: 3})
	defer s.Close()
	if len(s.Instances) != 3 || s.Instances[0].RoleARN != "" || s.Instances[0].IdentityStoreID != IdentityStoreID {
		t.Fatalf("instances %+v", s.Instances)
	}
	for _, inst := range s.Instances[1:] {
		t.Run(inst.Name, func(t *testing.T) {
			c := assumed(t, s, inst)
			as := staticCreds(c)
			smc := func(creds aws.CredentialsProvider) *sm.Client {
				return sm.New(sm.Options{Region: Region, Credentials: creds, BaseEndpoint: aws.String(s.URL("secretsmanager")), HTTPClient: s.Client, RetryMaxAttempts: 1})
			}
			d, err := smc(as).DescribeSecret(t.Context(), &sm.DescribeSecretInput{SecretId: aws.String(inst.StoreSecret)})
			if err != nil || arnAccount(aws.ToString(d.ARN)) != inst.Account {
				t.Fatalf("DescribeSecret with the role: %+v, %v", d, err)
			}
			if _, err := smc(AWSCredentials()).DescribeSecret(t.Context(), &sm.DescribeSecretInput{SecretId: aws.String(inst.StoreSecret)}); smCode(err) != "ResourceNotFoundException" {
				t.Errorf("base credentials, secret by name: %v", err)
			}
			if _, err := smc(AWSCredentials()).DescribeSecret(t.Context(), &sm.DescribeSecretInput{SecretId: d.ARN}); smCode(err) != "AccessDeniedException" {
				t.Errorf("base credentials, secret by ARN: %v", err)
			}

			status, doc := icTokenAPI(t, s, c, "ListProvisioningTenants", inst.IdentityStoreID)
			if status != http.StatusOK {
				t.Fatalf("ListProvisioningTenants with the role: %d %v", status, doc)
			}
			status, doc = icTokenAPI(t, s, awsCredentials, "ListProvisioningTenants", inst.IdentityStoreID)
			if status != http.StatusForbidden || !strings.HasSuffix(doc["__type"].(string), "#AccessDeniedException") {
				t.Errorf("ListProvisioningTenants with base credentials: %d %v", status, doc)
			}

			_, live := inst.SeedLiveToken(time.Hour)
			if !inst.TargetsHold()["ssosync"] || s.IC.ValidToken(live) {
				t.Fatalf("the live token is not only %s's: %v", inst.Name, inst.TargetsHold())
			}
			lc := func(creds aws.CredentialsProvider) *lambdasdk.Client {
				return lambdasdk.New(lambdasdk.Options{Region: Region, Credentials: creds, BaseEndpoint: aws.String(s.URL("lambda")), HTTPClient: s.Client, RetryMaxAttempts: 1})
			}
			if _, err := lc(as).Invoke(t.Context(), &lambdasdk.InvokeInput{FunctionName: aws.String(inst.Function)}); err != nil {
				t.Fatalf("Invoke with the role: %v", err)
			}
			if calls := inst.Lambda.Invocations(); len(calls) != 1 || calls[0].SCIMStatus != http.StatusOK {
				t.Fatalf("invocations %+v", calls)
			}
			if _, err := lc(AWSCredentials()).Invoke(t.Context(), &lambdasdk.InvokeInput{FunctionName: aws.String(inst.Lambda.FunctionARN(inst.Function))}); smCode(err) != "AccessDeniedException" {
				t.Errorf("Invoke by ARN with base credentials: %v", err)
			}

			// The sync job's SCIM call is an event of the instance's account.
			if inst.CloudTrail.EventCount() != 1 || s.CloudTrail.EventCount() != 0 {
				t.Fatalf("events: instance %d, base %d", inst.CloudTrail.EventCount(), s.CloudTrail.EventCount())
			}
		})
	}
	// A fake bound to an account refuses a credential of another, whatever
	// the route.
	ct := ctsdk.New(ctsdk.Options{Region: Region, Credentials: staticCreds(assumed(t, s, s.Instances[1])), BaseEndpoint: aws.String(s.URL("cloudtrail")), HTTPClient: s.Client, RetryMaxAttempts: 1})
	if _, err := ct.LookupEvents(t.Context(), &ctsdk.LookupEventsInput{}); err != nil {
		t.Fatalf("LookupEvents with the role: %v", err)
	}
	direct := newServedCloudTrail(t, s, s.Instances[1].Account)
	ct = ctsdk.New(ctsdk.Options{Region: Region, Credentials: AWSCredentials(), BaseEndpoint: aws.String(direct), HTTPClient: s.Client, RetryMaxAttempts: 1})
	if _, err := ct.LookupEvents(t.Context(), &ctsdk.LookupEventsInput{}); smCode(err) != "AccessDeniedException" {
		t.Errorf("LookupEvents of another account: %v", err)
	}
}

func newServedCloudTrail(t *testing.T, s *Sandbox, account string) string {
	t.Helper()
	fake := NewCloudTrail(nil, Region, nil)
	fake.BindAccount(s.IAM, account)
	srv := s.serve("cloudtrail-"+account, fake)
	return srv.URL
}

// icTokenAPI calls the Identity Center token API with creds.
func icTokenAPI(t *testing.T, s *Sandbox, creds aws.Credentials, op, store string) (int, map[string]any) {
	t.Helper()
	status, raw := signedPost(t, s, creds, s.URL("identitycenter")+"/identitystore/", icContentType, icTargetPrefix+op,
		`{"IdentityStoreId":"`+store+`"}`, icSigningName, Region)
	var doc map[string]any
	_ = json.Unmarshal(raw, &doc)
	return status, doc
}

// signedPost POSTs body to url, signed with creds for service in region
// as the SDKs sign a JSON protocol call, and returns the answer.
func signedPost(t *testing.T, s *Sandbox, creds aws.Credentials, url, contentType, target, body, service, region string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Amz-Target", target)
	if creds.SessionToken != "" {
		req.Header.Set("X-Amz-Security-Token", creds.SessionToken)
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(t.Context(), creds, req, hex.EncodeToString(sum[:]), service, region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// AssumeRoleWithWebIdentity, through the official provider that reads
// AWS_WEB_IDENTITY_TOKEN_FILE under IRSA: unsigned, it issues credentials
// of the role trusting the token, which the other fakes (and Health's)
// accept as that role's account's; an empty, short or untrusted token is
// refused; every call is counted per action and role.
func TestSTSAssumeRoleWithWebIdentity(t *testing.T) {
	s := Start(Options{})
	defer s.Close()
	const role = "arn:aws:iam::" + BaseAccount + ":role/scim-rotator-irsa"
	const token = "eyJhbGciOiJSUzI1NiJ9.sandbox-projected-sa-token.sig"
	if _, err := s.IAM.AddWebIdentityRole(role, token); err != nil {
		t.Fatal(err)
	}
	// Anonymous: the SDK sends this action unsigned.
	client := sts.New(sts.Options{Region: Region, Credentials: aws.AnonymousCredentials{}, BaseEndpoint: aws.String(s.URL("sts")), HTTPClient: s.Client, RetryMaxAttempts: 1})
	provider := func(tok string) aws.CredentialsProvider {
		return stscreds.NewWebIdentityRoleProvider(client, role, tokenString(tok), func(o *stscreds.WebIdentityRoleOptions) {
			o.RoleSessionName = "scim-rotator-pod"
		})
	}
	c, err := provider(token).Retrieve(t.Context())
	if err != nil || !strings.HasPrefix(c.AccessKeyID, "ASIA") || c.SessionToken == "" || !c.CanExpire || c.Expires.Before(time.Now()) {
		t.Fatalf("web identity credentials %+v, %v", c, err)
	}
	id, err := stsTestClient(s, staticCreds(c)).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if want := "arn:aws:sts::" + BaseAccount + ":assumed-role/scim-rotator-irsa/scim-rotator-pod"; err != nil || aws.ToString(id.Arn) != want {
		t.Fatalf("identity %+v, %v (want %s)", id, err, want)
	}
	smc := sm.New(sm.Options{Region: Region, Credentials: staticCreds(c), BaseEndpoint: aws.String(s.URL("secretsmanager")), HTTPClient: s.Client, RetryMaxAttempts: 1})
	if _, err := smc.DescribeSecret(t.Context(), &sm.DescribeSecretInput{SecretId: aws.String(StoreSecret)}); err != nil {
		t.Fatalf("Secrets Manager refuses the web identity's credentials: %v", err)
	}
	if status := healthCall(t, s, c); status != http.StatusOK {
		t.Fatalf("Health refuses the web identity's credentials: %d", status)
	}

	for _, tc := range []struct{ name, token, code string }{
		{"empty token", "", "ValidationError"},
		{"short token", "abc", "ValidationError"},
		{"untrusted token", "eyJhbGciOiJSUzI1NiJ9.another-token.sig", "AccessDenied"},
	} {
		if _, err := provider(tc.token).Retrieve(t.Context()); smCode(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	other := stscreds.NewWebIdentityRoleProvider(client, "arn:aws:iam::"+BaseAccount+":role/not-for-web", tokenString(token))
	if _, err := other.Retrieve(t.Context()); smCode(err) != "AccessDenied" {
		t.Errorf("a role that trusts no token: %v", err)
	}
	if n := s.STS.Count("AssumeRoleWithWebIdentity", role); n != 4 {
		t.Errorf("%d AssumeRoleWithWebIdentity calls for the role, want 4", n)
	}
	if n := s.STS.Count("AssumeRoleWithWebIdentity", ""); n != 5 {
		t.Errorf("%d AssumeRoleWithWebIdentity calls in all, want 5", n)
	}
	if n := s.STS.Count("GetCallerIdentity", ""); n != 1 {
		t.Errorf("%d GetCallerIdentity calls, want 1", n)
	}
	if n := s.IAM.AssumeRoleCount(role); n != 1 {
		t.Errorf("credentials issued %d times, want 1", n)
	}
	// The token is the credential: AssumeRole with it as a signature is not
	// a thing, and AssumeRole does not trust a web identity role.
	if _, err := stsTestClient(s, AWSCredentials()).AssumeRole(t.Context(), &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("s1")}); smCode(err) != "AccessDenied" {
		t.Errorf("AssumeRole of a web identity role: %v", err)
	}
}

// tokenString is a web identity token retriever returning tok.
type tokenString string

func (t tokenString) GetIdentityToken() ([]byte, error) { return []byte(t), nil }

// healthCall makes one DescribeEvents call signed with creds and returns
// the status.
func healthCall(t *testing.T, s *Sandbox, creds aws.Credentials) int {
	t.Helper()
	status, _ := signedPost(t, s, creds, s.URL("health")+"/", ctContentType, hlTargetPfx+"DescribeEvents",
		`{"filter":{"services":["`+HealthService+`"]}}`, hlSigningName, hlRegion)
	return status
}
