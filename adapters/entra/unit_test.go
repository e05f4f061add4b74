package entra

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// The documented provisionOnDemand answer (Graph v1.0 reference, example 1),
// shortened: a Skipped RedundantExport after a successful Matching step.
const (
	docKeySkipped   = `{"result":"Skipped","details":{"errorCode":"RedundantExport","errorMessage":"The state of the user in both the source and target systems already match."}}`
	docValueSkipped = `{"action":"Other","provisioningSteps":[{"name":"EntryImport","type":"Import","status":"Success","description":"Retrieved User 'BillBob@contoso.com' from Azure Active Directory"},{"name":"EntryImport","type":"Matching","status":"Success","description":"Retrieved  'BillBob@contoso.com' from customappsso"},{"name":"EntrySynchronizationScoping","type":"Scoping","status":"Success","description":"Determine if User in scope by evaluating against each scoping filter"},{"name":"EntrySynchronizationSkip","type":"Export","status":"Skipped","description":"The state of the user in both the source and target systems already match."}],"statusInfo":{"status":"Skipped","errorCode":null}}`
)

func TestOnDemandVerdict(t *testing.T) {
	tests := []struct {
		name         string
		key, value   string
		wantErr      string
		wantRejected bool
	}{
		{name: "documented Skipped RedundantExport", key: docKeySkipped, value: docValueSkipped},
		{name: "Success", key: `{"result":"Success","details":{}}`, value: `{"provisioningSteps":[{"name":"EntryExportAdd","type":"Export","status":"Success"}]}`},
		{
			name:    "Skipped before the target was contacted",
			key:     `{"result":"Skipped","details":{"errorCode":"NotEffectivelyEntitled","errorMessage":"not assigned"}}`,
			value:   `{"provisioningSteps":[{"name":"EntrySynchronizationScoping","type":"Scoping","status":"Skipped"}]}`,
			wantErr: "NotEffectivelyEntitled",
		},
		{
			name:         "failed step about credentials",
			key:          `{"result":"Failure","details":{"errorCode":"SystemForCrossDomainIdentityManagementUnauthorized"}}`,
			value:        `{"provisioningSteps":[{"name":"EntryImport","type":"Matching","status":"Failure","description":"StatusCode: Unauthorized"}]}`,
			wantErr:      "EntryImport (Matching) failed",
			wantRejected: true,
		},
		{
			name:    "failed step about something else",
			key:     `{"result":"Failure","details":{"errorCode":"AttributeValidationFailed"}}`,
			value:   `{"provisioningSteps":[{"name":"EntryExportUpdate","type":"Export","status":"Failure","description":"userName is missing"}]}`,
			wantErr: "userName is missing",
		},
		{name: "Success with a failed step", key: `{"result":"Success"}`, value: `{"provisioningSteps":[{"name":"X","type":"Export","status":"Failed"}]}`, wantErr: "X (Export) failed"},
		{name: "key is not JSON", key: `Microsoft.Identity.Something`, wantErr: "unreadable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			detail, err := onDemandVerdict(tt.key, tt.value)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("verdict = %v, want success", err)
				}
				if detail == "" {
					t.Errorf("no detail")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("verdict = %v, want an error containing %q", err, tt.wantErr)
			}
			if got := errors.Is(err, rotator.ErrTokenRejected); got != tt.wantRejected {
				t.Errorf("errors.Is(ErrTokenRejected) = %v, want %v", got, tt.wantRejected)
			}
		})
	}
}

func TestEndpoints(t *testing.T) {
	tests := []struct {
		cfg                         Config
		wantBase, wantScope, wantAD string
		wantCustom                  bool
	}{
		{Config{}, "https://graph.microsoft.com/v1.0", "https://graph.microsoft.com/.default", "https://login.microsoftonline.com/", false},
		{Config{Cloud: "usgov"}, "https://graph.microsoft.us/v1.0", "https://graph.microsoft.us/.default", "https://login.microsoftonline.us/", false},
		{Config{Cloud: "usgovdod"}, "https://dod-graph.microsoft.us/v1.0", "https://dod-graph.microsoft.us/.default", "https://login.microsoftonline.us/", false},
		{Config{Cloud: "china"}, "https://microsoftgraph.chinacloudapi.cn/v1.0", "https://microsoftgraph.chinacloudapi.cn/.default", "https://login.chinacloudapi.cn/", false},
		// Overrides move the hosts; the scope still follows the cloud.
		{Config{Cloud: "usgov", GraphEndpoint: "https://proxy.example/v1.0/", AuthorityHost: "https://login.example"},
			"https://proxy.example/v1.0", "https://graph.microsoft.us/.default", "https://login.example/", true},
	}
	for _, tt := range tests {
		ep, custom, err := endpoints(tt.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if ep.graphBase != tt.wantBase || ep.scope != tt.wantScope || ep.authority.ActiveDirectoryAuthorityHost != tt.wantAD || custom != tt.wantCustom {
			t.Errorf("endpoints(%+v) = %s %s %s %v", tt.cfg, ep.graphBase, ep.scope, ep.authority.ActiveDirectoryAuthorityHost, custom)
		}
	}
	if _, _, err := endpoints(Config{Cloud: "germany"}); err == nil {
		t.Errorf("unknown cloud accepted")
	}
}

// TestScopeFollowsCloud: with graphEndpoint and authorityHost overridden the
// token is still requested for the cloud's Graph audience.
func TestScopeFollowsCloud(t *testing.T) {
	e := newEnv(t)
	e.cfg.Cloud = CloudUSGov
	// The login endpoint grants only the public audience: refused.
	rs := e.target().Check(t.Context())
	if len(rs) != 1 || !rs[0].Failed() || !strings.Contains(rs[0].Detail, "https://graph.microsoft.us/.default") {
		t.Errorf("check with the wrong audience = %s", checkText(rs))
	}
	// Granting the US Gov audience makes the same target work.
	e.graph.Scopes = []string{"https://graph.microsoft.us/.default"}
	if err := e.target().Validate(t.Context(), e.cred(newToken)); err != nil {
		t.Errorf("Validate in usgov: %v", err)
	}
	e.noLeak(checkText(rs))
}

// TestOtherCredentialKinds builds certificate and workload identity targets
// and checks they reach the login endpoint with a client assertion (which
// the sandbox refuses: it only knows client secrets).
func TestOtherCredentialKinds(t *testing.T) {
	certFile := filepath.Join(t.TempDir(), "client.pem")
	if err := os.WriteFile(certFile, selfSignedPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "azure-identity-token")
	if err := os.WriteFile(tokenFile, []byte("eyJhbGciOiJSUzI1NiJ9.e30.sig"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", tokenFile)
	t.Setenv("AZURE_CLIENT_ID", clientID)
	t.Setenv("AZURE_TENANT_ID", tenantID)
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"client certificate", func(c *Config) { c.ClientSecretFile, c.ClientCertificateFile = "", certFile }},
		{"workload identity", func(c *Config) { c.ClientSecretFile, c.ClientID, c.WorkloadIdentity = "", "", true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tt.mod(&e.cfg)
			rs := e.target().Check(t.Context())
			if len(rs) != 1 || rs[0].Name != "token" || !strings.Contains(rs[0].Detail, "AADSTS700027") {
				t.Errorf("check = %s, want the sandbox's refusal of a client assertion", checkText(rs))
			}
			if e.faults.Count("entra:Token") == 0 {
				t.Errorf("the login endpoint was not called")
			}
		})
	}
}

func TestNewConfigErrors(t *testing.T) {
	e := newEnv(t)
	e.cfg.ClientSecretFile = filepath.Join(t.TempDir(), "missing")
	_, err := New(t.Context(), "entra", e.cfg, Options{ConfigKey: "targets[1].entra"})
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Key != "targets[1].entra.clientSecretFile" {
		t.Errorf("New with a missing secret file = %v, want a config error on targets[1].entra.clientSecretFile", err)
	}
	e.cfg.ClientSecretFile, e.cfg.ClientCertificateFile = "", filepath.Join(t.TempDir(), "missing.pem")
	_, err = New(t.Context(), "entra", e.cfg, Options{})
	if !errors.As(err, &ce) || ce.Key != "targets[entra].entra.clientCertificateFile" {
		t.Errorf("New with a missing certificate = %v", err)
	}
}

func selfSignedPEM(t *testing.T) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "scim-rotator"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
}
