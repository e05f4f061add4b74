package identitycenter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// TestIssuerRotationCycle walks the documented runbook against the fake:
// discover the tenant, list, create, delete the old token, and checks that no
// value escaped into any output.
func TestIssuerRotationCycle(t *testing.T) {
	for _, iso := range []bool{false, true} {
		name := "epoch timestamps"
		if iso {
			name = "iso timestamps"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.ic.SetISOTimestamps(iso)
			oldCreated := epoch.AddDate(0, -11, 0)
			oldID, oldValue := e.seed(oldCreated)
			iss := e.issuer()
			ctx := t.Context()

			tenant, err := iss.Tenant(ctx)
			if err != nil {
				t.Fatalf("Tenant: %v", err)
			}
			if tenant.ID != e.ic.TenantID() || tenant.SCIMEndpoint != e.ic.SCIMEndpoint() {
				t.Fatalf("Tenant = %+v, want %s at %s", tenant, e.ic.TenantID(), e.ic.SCIMEndpoint())
			}

			tokens, err := iss.ListTokens(ctx)
			if err != nil {
				t.Fatalf("ListTokens: %v", err)
			}
			if len(tokens) != 1 || tokens[0].ID != oldID {
				t.Fatalf("ListTokens = %+v, want only %s", tokens, oldID)
			}
			if !tokens[0].Created.Equal(oldCreated.Truncate(time.Millisecond)) || !tokens[0].Expires.Equal(oldCreated.AddDate(1, 0, 0).Truncate(time.Millisecond)) {
				t.Fatalf("token times = %v / %v, want %v / one year later", tokens[0].Created, tokens[0].Expires, oldCreated)
			}

			tok, err := iss.CreateToken(ctx)
			if err != nil {
				t.Fatalf("CreateToken: %v", err)
			}
			if !e.ic.ValidToken(tok.Value.Reveal()) {
				t.Fatalf("created token is not valid at the SCIM endpoint")
			}
			if !tok.Created.Equal(epoch.Truncate(time.Millisecond)) || !tok.Expires.Equal(epoch.AddDate(1, 0, 0).Truncate(time.Millisecond)) {
				t.Fatalf("created token times = %v / %v, want %v / one year later", tok.Created, tok.Expires, epoch)
			}

			e.faults.ResetCalls()
			tokens, err = iss.ListTokens(ctx)
			if err != nil {
				t.Fatalf("ListTokens: %v", err)
			}
			if len(tokens) != 2 || tokens[0].ID != oldID || tokens[1].ID != tok.ID {
				t.Fatalf("ListTokens = %+v, want %s then %s", tokens, oldID, tok.ID)
			}
			// The fake answers one token per page: two tokens take two calls.
			if n := e.faults.Count("identitycenter:ListBearerTokens"); n != 2 {
				t.Fatalf("ListBearerTokens called %d times, want 2 (paging)", n)
			}

			if err := iss.DeleteToken(ctx, oldID); err != nil {
				t.Fatalf("DeleteToken: %v", err)
			}
			if got := e.ic.DeletedIDs(); len(got) != 1 || got[0] != oldID {
				t.Fatalf("DeletedIDs = %v, want [%s]", got, oldID)
			}
			if e.ic.ValidToken(oldValue) {
				t.Fatalf("deleted token still valid")
			}
			if e.ic.MaxHeld() != 2 || e.ic.CreatedCount() != 1 {
				t.Fatalf("MaxHeld=%d CreatedCount=%d, want 2 and 1", e.ic.MaxHeld(), e.ic.CreatedCount())
			}

			st, err := iss.Status(ctx)
			if err != nil {
				t.Fatalf("Status: %v", err)
			}
			fields := map[string]string{}
			for _, f := range st.Fields {
				fields[f.Key] = f.Text()
			}
			if fields["tenantId"] != e.ic.TenantID() || fields["scimEndpoint"] != e.ic.SCIMEndpoint() || fields["tokenIds"] != tok.ID || fields["tokenLimit"] != "2" {
				t.Fatalf("Status fields = %v", fields)
			}
			checks := iss.Check(ctx)
			if len(checks) != 3 || !strings.Contains(checks[2].Detail, "365 days left") {
				t.Fatalf("Check = %+v, want the token with 365 days left", checks)
			}
			e.record(st, checks)
			e.assertNoLeak(oldValue, tok.Value.Reveal())
		})
	}
}

func TestIssuerTenantResolution(t *testing.T) {
	tests := []struct {
		name       string
		cfg        config.IdentityCenter
		tenants    []provisioningTenant
		wantID     string
		wantSCIM   string
		wantErr    []string
		wantNoCall bool
	}{
		{
			name:     "only tenant discovered",
			tenants:  []provisioningTenant{{TenantID: "t-1", ScimEndpoint: "https://scim.eu-west-1.amazonaws.com/t-1/scim/v2"}},
			wantID:   "t-1",
			wantSCIM: "https://scim.eu-west-1.amazonaws.com/t-1/scim/v2/",
		},
		{
			name:     "endpoint missing from answer is built",
			tenants:  []provisioningTenant{{TenantID: "t-1"}},
			wantID:   "t-1",
			wantSCIM: "https://scim.eu-west-1.amazonaws.com/t-1/scim/v2/",
		},
		{
			name:    "no tenant",
			wantErr: []string{"d-1234567890 has no provisioning tenant", "enable automatic provisioning"},
		},
		{
			name:    "several tenants named",
			tenants: []provisioningTenant{{TenantID: "t-1"}, {TenantID: "t-2"}},
			wantErr: []string{"2 provisioning tenants (t-1, t-2)", "identityCenter.tenantId"},
		},
		{
			name:     "configured tenant picked among several",
			cfg:      config.IdentityCenter{TenantID: "t-2"},
			tenants:  []provisioningTenant{{TenantID: "t-1"}, {TenantID: "t-2", ScimEndpoint: "https://scim.eu-west-1.amazonaws.com/t-2/scim/v2/"}},
			wantID:   "t-2",
			wantSCIM: "https://scim.eu-west-1.amazonaws.com/t-2/scim/v2/",
		},
		{
			name:     "custom endpoint allowed",
			cfg:      config.IdentityCenter{AllowCustomScimEndpoint: true},
			tenants:  []provisioningTenant{{TenantID: "t-1", ScimEndpoint: "https://proxy.example/t-1/scim/v2/"}},
			wantID:   "t-1",
			wantSCIM: "https://proxy.example/t-1/scim/v2/",
		},
		{
			name:    "answered endpoint elsewhere is refused",
			tenants: []provisioningTenant{{TenantID: "t-1", ScimEndpoint: "https://scim.evil.example/t-1/scim/v2/"}},
			wantErr: []string{`ListProvisioningTenants answer has an unexpected shape: tenant t-1 has ScimEndpoint "https://scim.evil.example/t-1/scim/v2/", which is not an IAM Identity Center SCIM endpoint`, "allowCustomScimEndpoint: true"},
		},
		{
			name:    "answered endpoint in another region is refused",
			tenants: []provisioningTenant{{TenantID: "t-1", ScimEndpoint: "https://scim.us-east-1.amazonaws.com/t-1/scim/v2/"}},
			wantErr: []string{"is in region us-east-1, not eu-west-1"},
		},
		{
			name:    "answered endpoint for another tenant is refused",
			tenants: []provisioningTenant{{TenantID: "t-1", ScimEndpoint: "https://scim.eu-west-1.amazonaws.com/t-2/scim/v2/"}},
			wantErr: []string{"names tenant t-2, not t-1"},
		},
		{
			name:    "answered http endpoint is refused even when custom endpoints are allowed",
			cfg:     config.IdentityCenter{AllowCustomScimEndpoint: true},
			tenants: []provisioningTenant{{TenantID: "t-1", ScimEndpoint: "http://proxy.example/t-1/scim/v2/"}},
			wantErr: []string{"must use https"},
		},
		{
			name:    "answered endpoint with user info is not quoted",
			cfg:     config.IdentityCenter{AllowCustomScimEndpoint: true},
			tenants: []provisioningTenant{{TenantID: "t-1", ScimEndpoint: "https://u:LEAKCANARY@proxy.example/t-1/scim/v2/"}},
			wantErr: []string{"ScimEndpoint (not shown), which must not contain user info"},
		},
		{
			name:       "configured tenant and endpoint need no call",
			cfg:        config.IdentityCenter{TenantID: "t-9", SCIMEndpoint: "https://proxy.example/t-9/scim/v2"},
			wantID:     "t-9",
			wantSCIM:   "https://proxy.example/t-9/scim/v2/",
			wantNoCall: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Region, cfg.IdentityStoreID = testRegion, testStoreID
			api := &stubAPI{tenants: tt.tenants}
			iss := newIssuer(withDefaults(cfg), api, Options{})
			got, err := iss.Tenant(t.Context())
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("Tenant = %+v, want error", got)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Fatalf("error %q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Tenant: %v", err)
			}
			if got.ID != tt.wantID || got.SCIMEndpoint != tt.wantSCIM {
				t.Fatalf("Tenant = %+v, want %s at %s", got, tt.wantID, tt.wantSCIM)
			}
			if tt.wantNoCall && api.calls != 0 {
				t.Fatalf("%d API calls, want none", api.calls)
			}
			// Cached.
			calls := api.calls
			if _, err := iss.Tenant(t.Context()); err != nil || api.calls != calls {
				t.Fatalf("second Tenant call: err=%v calls %d -> %d", err, calls, api.calls)
			}
		})
	}
}

// TestIssuerRetries: 5xx and throttling are retried with the SDK's backoff on
// the injected clock, and succeed.
func TestIssuerRetries(t *testing.T) {
	tests := []struct {
		name   string
		faults []sandbox.Fault
	}{
		{"500 twice", []sandbox.Fault{{Status: 500}, {Status: 500}}},
		{"503", []sandbox.Fault{{Status: 503}}},
		{"429 throttling", []sandbox.Fault{{Status: 429}}},
		{"400 ThrottlingException", []sandbox.Fault{{Status: 400, Body: `{"__type":"com.amazon.coral.availability#ThrottlingException","message":"Rate exceeded"}`}}},
		{"ThrottlingException in header", []sandbox.Fault{{Status: 400, Header: http.Header{"X-Amzn-ErrorType": {"ThrottlingException:http://internal.amazon.com/coral/"}}, Body: "{}"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.seed(epoch.AddDate(0, -1, 0))
			iss := e.issuer()
			if _, err := iss.Tenant(t.Context()); err != nil {
				t.Fatalf("Tenant: %v", err)
			}
			e.faults.Inject("identitycenter:ListBearerTokens", tt.faults...)
			e.faults.ResetCalls()
			tokens, err := iss.ListTokens(t.Context())
			if err != nil {
				t.Fatalf("ListTokens: %v", err)
			}
			if len(tokens) != 1 {
				t.Fatalf("ListTokens = %+v, want 1 token", tokens)
			}
			if n := e.faults.Count("identitycenter:ListBearerTokens"); n != len(tt.faults)+1 {
				t.Fatalf("ListBearerTokens called %d times, want %d", n, len(tt.faults)+1)
			}
			if d := e.clock.Delays(); len(d) != len(tt.faults) {
				t.Fatalf("waited %v, want %d backoff delays on the clock", d, len(tt.faults))
			}
		})
	}
}

func TestIssuerRetriesExhausted(t *testing.T) {
	e := newEnv(t)
	e.opts.MaxAttempts = 2
	iss := e.issuer(func(c *config.IdentityCenter) { c.TenantID, c.SCIMEndpoint = e.ic.TenantID(), e.ic.SCIMEndpoint() })
	e.faults.Inject("identitycenter:ListBearerTokens", sandbox.Fault{Status: 500}, sandbox.Fault{Status: 500}, sandbox.Fault{Status: 500})
	_, err := iss.ListTokens(t.Context())
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 500 || ae.Code != "InternalServerException" {
		t.Fatalf("ListTokens error = %v, want APIError 500 InternalServerException", err)
	}
	if !rotator.IsTransient(err) {
		t.Fatalf("error %v not marked transient", err)
	}
	if n := e.faults.Count("identitycenter:ListBearerTokens"); n != 2 {
		t.Fatalf("ListBearerTokens called %d times, want MaxAttempts=2", n)
	}
}

// TestCreateTokenNotRetried: CreateBearerToken is sent exactly once, whether
// the failure replaced the work or came after it.
func TestCreateTokenNotRetried(t *testing.T) {
	for _, after := range []bool{false, true} {
		t.Run(map[bool]string{false: "500 before work", true: "500 after work (answer lost)"}[after], func(t *testing.T) {
			e := newEnv(t)
			iss := e.issuer()
			e.faults.Inject("identitycenter:CreateBearerToken", sandbox.Fault{Status: 500, After: after})
			tok, err := iss.CreateToken(t.Context())
			if err == nil {
				t.Fatalf("CreateToken = %s, want error", tok.ID)
			}
			if !rotator.IsTransient(err) {
				t.Fatalf("error %v not marked transient", err)
			}
			if n := e.faults.Count("identitycenter:CreateBearerToken"); n != 1 {
				t.Fatalf("CreateBearerToken sent %d times, want exactly 1", n)
			}
			want := map[bool]int{false: 0, true: 1}[after]
			if e.ic.CreatedCount() != want {
				t.Fatalf("fake created %d tokens, want %d", e.ic.CreatedCount(), want)
			}
			// The caller reconciles by listing.
			tokens, err := iss.ListTokens(t.Context())
			if err != nil || len(tokens) != want {
				t.Fatalf("ListTokens = %v, %v; want %d tokens", tokens, err, want)
			}
		})
	}
}

func TestCreateTokenLimit(t *testing.T) {
	tests := []struct {
		name    string
		created []time.Time
	}{
		{"two live tokens", []time.Time{epoch.AddDate(0, -6, 0), epoch.AddDate(0, -1, 0)}},
		// Inferred: an expired token still takes a slot until deleted.
		{"expired tokens still count", []time.Time{epoch.AddDate(-3, 0, 0), epoch.AddDate(-2, 0, 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			var values []string
			for _, c := range tt.created {
				_, v := e.seed(c)
				values = append(values, v)
			}
			iss := e.issuer()
			_, err := iss.CreateToken(t.Context())
			e.record(err)
			if !errors.Is(err, ErrTokenLimit) {
				t.Fatalf("CreateToken error = %v, want ErrTokenLimit", err)
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.Code != "ServiceQuotaExceededException" || ae.StatusCode != 400 {
				t.Fatalf("CreateToken error = %#v, want APIError ServiceQuotaExceededException 400", ae)
			}
			if rotator.IsTransient(err) {
				t.Fatalf("limit error marked transient")
			}
			if n := e.faults.Count("identitycenter:CreateBearerToken"); n != 1 {
				t.Fatalf("CreateBearerToken sent %d times, want 1", n)
			}
			e.assertNoLeak(values...)
		})
	}
}

func TestDeleteToken(t *testing.T) {
	t.Run("unknown token is success", func(t *testing.T) {
		e := newEnv(t)
		iss := e.issuer()
		if err := iss.DeleteToken(t.Context(), "no-such-token"); err != nil {
			t.Fatalf("DeleteToken: %v", err)
		}
		if n := e.faults.Count("identitycenter:DeleteBearerToken"); n != 1 {
			t.Fatalf("DeleteBearerToken sent %d times, want 1", n)
		}
		// ResourceNotFoundException also answers an unknown tenant: the
		// issuer confirms by listing.
		if n := e.faults.Count("identitycenter:ListBearerTokens"); n != 1 {
			t.Fatalf("ListBearerTokens sent %d times, want 1 to confirm", n)
		}
	})
	t.Run("answer lost is retried and succeeds", func(t *testing.T) {
		e := newEnv(t)
		id, _ := e.seed(epoch)
		iss := e.issuer()
		e.faults.Inject("identitycenter:DeleteBearerToken", sandbox.Fault{Status: 503, After: true})
		if err := iss.DeleteToken(t.Context(), id); err != nil {
			t.Fatalf("DeleteToken: %v", err)
		}
		if n := e.faults.Count("identitycenter:DeleteBearerToken"); n != 2 {
			t.Fatalf("DeleteBearerToken sent %d times, want 2", n)
		}
		if len(e.ic.Tokens()) != 0 {
			t.Fatalf("token not deleted: %+v", e.ic.Tokens())
		}
	})
	t.Run("unknown tenant is an error", func(t *testing.T) {
		e := newEnv(t)
		iss := e.issuer(func(c *config.IdentityCenter) { c.TenantID, c.SCIMEndpoint = "wrong-tenant", "https://x/" })
		err := iss.DeleteToken(t.Context(), "tok")
		if err == nil || !strings.Contains(err.Error(), "ProvisioningTenant wrong-tenant not found") {
			t.Fatalf("DeleteToken error = %v, want tenant not found", err)
		}
	})
}

// TestSigV4Refused proves the fake checks the signature: a wrong signing
// name, region or key is refused, and check says what to correct.
func TestSigV4Refused(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*config.IdentityCenter, *Options)
		wantMsg string
		wantFix string
	}{
		{
			name:    "wrong signing name",
			mod:     func(c *config.IdentityCenter, _ *Options) { c.SigningName = "sso" },
			wantMsg: "correct service: 'identitystore' (got 'sso')",
			wantFix: "identityCenter.signingName",
		},
		{
			name:    "wrong region",
			mod:     func(c *config.IdentityCenter, _ *Options) { c.Region = "us-east-1" },
			wantMsg: "valid region",
			wantFix: "identityCenter.region",
		},
		{
			name: "wrong secret key",
			mod: func(_ *config.IdentityCenter, o *Options) {
				o.AWSCredentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
					return aws.Credentials{AccessKeyID: sandbox.AccessKeyID, SecretAccessKey: "wrong", Source: "test"}, nil
				})
			},
			wantMsg: "signature we calculated does not match",
			wantFix: "signature was refused",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			cfg := e.cfg
			tt.mod(&cfg, &e.opts)
			iss, err := New(t.Context(), cfg, e.opts)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			_, err = iss.Tenant(t.Context())
			var ae *APIError
			if !errors.As(err, &ae) || ae.Code != "InvalidSignatureException" || ae.StatusCode != http.StatusForbidden {
				t.Fatalf("Tenant error = %v, want 403 InvalidSignatureException", err)
			}
			if !strings.Contains(ae.Message, tt.wantMsg) {
				t.Fatalf("message %q does not say %q", ae.Message, tt.wantMsg)
			}
			if n := e.faults.Count("identitycenter:ListProvisioningTenants"); n != 1 {
				t.Fatalf("refused call sent %d times, want 1 (not retryable)", n)
			}
			res := iss.Check(t.Context())
			if !res[1].Failed() || !strings.Contains(res[1].Fix, tt.wantFix) {
				t.Fatalf("check %+v, want failure with fix naming %q", res[1], tt.wantFix)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		// setup runs before Check.
		setup func(e *env)
		mod   func(c *config.IdentityCenter)
		// want is, per check, ok or a substring of its Fix.
		want [3]string
	}{
		{
			name:  "all good",
			setup: func(e *env) { e.seed(epoch.AddDate(0, -2, 0)) },
			want:  [3]string{"ok", "ok", "ok"},
		},
		{
			name:  "shape drift in ListBearerTokens",
			setup: func(e *env) { e.seed(epoch); e.ic.SetShapeDrift(true) },
			want:  [3]string{"ok", "ok", `the undocumented API's answer changed shape: no "BearerTokens" array`},
		},
		{
			name: "ListBearerTokens denied",
			setup: func(e *env) {
				e.faults.Inject("identitycenter:ListBearerTokens", sandbox.Fault{Status: 400, Body: `{"__type":"AccessDeniedException","Message":"User is not authorized to perform sso-directory:ListBearerTokens"}`})
			},
			want: [3]string{"ok", "ok", `sso-directory:ListBearerTokens on Resource "*"`},
		},
		{
			name:  "ListProvisioningTenants denied",
			setup: func(e *env) { e.faults.Inject("identitycenter:ListProvisioningTenants", sandbox.Fault{Status: 403}) },
			want:  [3]string{"ok", "sso-directory:ListProvisioningTenants", "fix ListProvisioningTenants first"},
		},
		{
			name: "wrong identity store",
			mod:  func(c *config.IdentityCenter) { c.IdentityStoreID = "d-0000000000" },
			want: [3]string{"ok", "check identityCenter.identityStoreId", "fix ListProvisioningTenants first"},
		},
		{
			name: "configured tenant not listed",
			mod:  func(c *config.IdentityCenter) { c.TenantID = "other" },
			want: [3]string{"ok", "correct identityCenter.tenantId", "identityCenter.tenantId"},
		},
		{
			name: "wrong target prefix",
			mod:  func(c *config.IdentityCenter) { c.TargetPrefix = "SWBUPService" },
			want: [3]string{"ok", "identityCenter.targetPrefix", "fix ListProvisioningTenants first"},
		},
		{
			name: "wrong endpoint path",
			mod: func(c *config.IdentityCenter) {
				c.Endpoint = strings.TrimSuffix(c.Endpoint, "identitystore/") + "nothing/"
			},
			want: [3]string{"ok", "check identityCenter.endpoint (some regions use https://up-sso.eu-west-1.amazonaws.com/identitystore/)", "fix ListProvisioningTenants first"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.setup != nil {
				tt.setup(e)
			}
			mods := []func(*config.IdentityCenter){}
			if tt.mod != nil {
				mods = append(mods, tt.mod)
			}
			res := e.issuer(mods...).Check(t.Context())
			e.record(res)
			if len(res) != 3 {
				t.Fatalf("Check = %+v, want 3 results", res)
			}
			for i, r := range res {
				if r.System != System || r.Name == "" {
					t.Fatalf("result %d unnamed: %+v", i, r)
				}
				if tt.want[i] == "ok" {
					if r.Failed() {
						t.Fatalf("check %q failed: %s (fix: %s)", r.Name, r.Detail, r.Fix)
					}
					continue
				}
				if !r.Failed() || !strings.Contains(r.Fix, tt.want[i]) {
					t.Fatalf("check %q = %s, detail %q, fix %q; want failure with fix containing %q", r.Name, r.Level, r.Detail, r.Fix, tt.want[i])
				}
			}
			if tt.want[1] == "ok" && !strings.Contains(res[1].Detail, e.ic.TenantID()) {
				t.Fatalf("tenant check detail %q does not name the tenant", res[1].Detail)
			}
			e.assertNoLeak()
		})
	}
}

// TestFixForAnswer: the hint check gives for each kind of error answer
// (denials by awsbase's rule and Identity Center's own codes, temporary
// errors by status or by the SDK's retry rules).
func TestFixForAnswer(t *testing.T) {
	iss := newIssuer(withDefaults(config.IdentityCenter{Region: testRegion, IdentityStoreID: testStoreID}), &stubAPI{}, Options{})
	tests := []struct {
		code   string
		status int
		want   string
	}{
		{"AccessDeniedException", 400, "allow the IAM action sso-directory:ListBearerTokens"},
		{"AccessDenied", 403, "allow the IAM action sso-directory:ListBearerTokens"},
		{"UnauthorizedOperation", 403, "allow the IAM action sso-directory:ListBearerTokens"},
		{"UnauthorizedException", 401, "allow the IAM action sso-directory:ListBearerTokens"},
		{"ExpiredTokenException", 400, "refresh them"},
		{"InternalServerException", 500, "temporary error"},
		{"ThrottlingException", 400, "temporary error"},
		{"ValidationException", 400, "safe to run again"},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			err := fmt.Errorf("%s: %w", opListBearerTokens, &APIError{Code: tt.code, Message: "m", StatusCode: tt.status})
			if got := iss.fixFor(opListBearerTokens, err); !strings.Contains(got, tt.want) {
				t.Fatalf("fixFor = %q, want it to contain %q", got, tt.want)
			}
		})
	}
}

func TestCheckCredentialsMissing(t *testing.T) {
	e := newEnv(t)
	e.opts.AWSCredentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("no EC2 IMDS role found")
	})
	res := e.issuer().Check(t.Context())
	if !res[0].Failed() || !strings.Contains(res[0].Fix, "IRSA") || !strings.Contains(res[0].Detail, "no EC2 IMDS role found") {
		t.Fatalf("credentials check = %+v", res[0])
	}
	if !res[1].Failed() || !strings.Contains(res[1].Fix, "credentials") {
		t.Fatalf("tenants check = %+v, want a credentials fix", res[1])
	}
	if e.faults.Count("identitycenter:ListProvisioningTenants") != 0 {
		t.Fatalf("a request was sent without credentials")
	}
}

func TestShapeDriftFailsListTokens(t *testing.T) {
	e := newEnv(t)
	e.seed(epoch)
	e.ic.SetShapeDrift(true)
	_, err := e.issuer().ListTokens(t.Context())
	var se *ShapeError
	if !errors.As(err, &se) || se.Op != opListBearerTokens {
		t.Fatalf("ListTokens error = %v, want ShapeError for ListBearerTokens", err)
	}
	if rotator.IsTransient(err) {
		t.Fatalf("shape error marked transient")
	}
}

func TestCreateTokenTolerantAnswer(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		wantErr string
		check   func(t *testing.T, tok rotator.Token)
	}{
		{
			name: "missing times get now and one year",
			out:  `{"TokenId":"tok-1","Token":"` + canary + `"}`,
			check: func(t *testing.T, tok rotator.Token) {
				if !tok.Created.Equal(epoch) || !tok.Expires.Equal(epoch.AddDate(1, 0, 0)) {
					t.Fatalf("times %v / %v, want now / one year", tok.Created, tok.Expires)
				}
			},
		},
		{
			name: "unparseable expiry assumed one year",
			out:  `{"TokenId":"tok-1","Token":"` + canary + `","CreationTime":1735689600,"ExpirationTime":"soon"}`,
			check: func(t *testing.T, tok rotator.Token) {
				if !tok.Expires.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
					t.Fatalf("expires %v, want 2026-01-01", tok.Expires)
				}
			},
		},
		{name: "no value", out: `{"TokenId":"tok-1"}`, wantErr: `no "Token" for token tok-1`},
		{name: "no id", out: `{"Token":"` + canary + `"}`, wantErr: `no "TokenId"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &stubAPI{tenants: []provisioningTenant{{TenantID: "t-1"}}}
			if err := json.Unmarshal([]byte(tt.out), &api.create); err != nil {
				t.Fatal(err)
			}
			e := newEnv(t)
			opts := e.opts
			opts.Clock = &fakeClock{now: epoch}
			iss := newIssuer(withDefaults(config.IdentityCenter{Region: testRegion, IdentityStoreID: testStoreID}), api, opts)
			tok, err := iss.CreateToken(t.Context())
			e.record(err)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("CreateToken error = %v, want %q", err, tt.wantErr)
				}
			} else {
				if err != nil {
					t.Fatalf("CreateToken: %v", err)
				}
				if tok.Value.Reveal() != canary {
					t.Fatalf("value not carried")
				}
				tt.check(t, tok)
			}
			e.assertNoLeak()
		})
	}
}

// TestCancellation: a cancelled context ends a call in flight and a retry
// wait, without another attempt.
func TestCancellation(t *testing.T) {
	t.Run("in flight", func(t *testing.T) {
		e := newEnv(t)
		iss := e.issuer()
		ctx, cancel := context.WithCancel(t.Context())
		e.faults.Inject("identitycenter:ListProvisioningTenants", sandbox.Fault{Hang: true, Hook: cancel})
		_, err := iss.Tenant(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Tenant error = %v, want context.Canceled", err)
		}
		if n := e.faults.Count("identitycenter:ListProvisioningTenants"); n != 1 {
			t.Fatalf("sent %d times, want 1", n)
		}
	})
	t.Run("during backoff", func(t *testing.T) {
		e := newEnv(t)
		ctx, cancel := context.WithCancel(t.Context())
		e.clock.block, e.clock.onAfter = true, cancel
		iss := e.issuer()
		e.faults.Inject("identitycenter:ListProvisioningTenants", sandbox.Fault{Status: 500})
		_, err := iss.Tenant(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Tenant error = %v, want context.Canceled", err)
		}
		if n := e.faults.Count("identitycenter:ListProvisioningTenants"); n != 1 {
			t.Fatalf("sent %d times, want 1", n)
		}
	})
}

// TestCancelledNotTransient: a call ended by a cancelled context is not
// marked transient, though the SDK's rules call its error (a dial cut short)
// a retryable connection error; a dial that failed on its own still is.
func TestCancelledNotTransient(t *testing.T) {
	cancelled := &url.Error{Op: "Post", URL: "https://identitystore.eu-west-1.amazonaws.com/", Err: &net.OpError{Op: "dial", Net: "tcp", Err: context.Canceled}}
	refused := &url.Error{Op: "Post", URL: "https://identitystore.eu-west-1.amazonaws.com/", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	calls := []struct {
		op   string
		call func(*Issuer) error
	}{
		{opListProvisioningTenants, func(i *Issuer) error { _, err := i.Tenant(t.Context()); return err }},
		{opListBearerTokens, func(i *Issuer) error { _, err := i.ListTokens(t.Context()); return err }},
		{opCreateBearerToken, func(i *Issuer) error { _, err := i.CreateToken(t.Context()); return err }},
		{opDeleteBearerToken, func(i *Issuer) error { return i.DeleteToken(t.Context(), "tok-1") }},
	}
	for _, c := range calls {
		for _, tt := range []struct {
			name      string
			err       error
			transient bool
		}{{"cancelled", cancelled, false}, {"refused", refused, true}} {
			t.Run(c.op+"/"+tt.name, func(t *testing.T) {
				api := &stubAPI{tenants: []provisioningTenant{{TenantID: "t-1"}}, fail: map[string]error{c.op: fmt.Errorf("%s: %w", c.op, tt.err)}}
				err := c.call(newIssuer(withDefaults(config.IdentityCenter{Region: testRegion, IdentityStoreID: testStoreID}), api, Options{}))
				if !errors.Is(err, tt.err) || rotator.IsTransient(err) != tt.transient {
					t.Fatalf("error %v: transient %v, want %v", err, rotator.IsTransient(err), tt.transient)
				}
			})
		}
	}
}

// TestNewDefaultCredentialChain: with no AWSCredentials, New resolves the
// SDK's default chain (here: environment variables).
func TestNewDefaultCredentialChain(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", sandbox.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", sandbox.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	if err := os.WriteFile(filepath.Join(dir, "config"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	e.opts.AWSCredentials = nil
	iss := e.issuer()
	tenant, err := iss.Tenant(t.Context())
	if err != nil || tenant.ID != e.ic.TenantID() {
		t.Fatalf("Tenant = %+v, %v", tenant, err)
	}
	res := iss.Check(t.Context())
	if res[0].Level != rotator.LevelOK || !strings.Contains(res[0].Detail, "EnvConfigCredentials") {
		t.Fatalf("credentials check = %+v, want resolved from the environment", res[0])
	}
}
