package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	icTestRegion = "eu-west-1"
	icTestStore  = "d-1234567890"
)

func newICTest(t *testing.T) (*IdentityCenter, *Faults, *httptest.Server) {
	t.Helper()
	faults := &Faults{}
	now := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	ic := NewIdentityCenter(faults, icTestRegion, icTestStore, func() time.Time { return now })
	srv := httptest.NewTLSServer(ic)
	t.Cleanup(srv.Close)
	ic.SetBaseURL(srv.URL)
	return ic, faults, srv
}

// icCall sends a token API request signed for signingName ("" = unsigned).
func icCall(t *testing.T, srv *httptest.Server, op, body, signingName string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/identitystore/", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", icContentType)
	req.Header.Set("X-Amz-Target", icTargetPrefix+op)
	req.Header.Set("Accept-Encoding", "identity")
	if signingName != "" {
		sum := sha256.Sum256([]byte(body))
		if err := v4.NewSigner().SignHTTP(context.Background(), awsCredentials, req, hex.EncodeToString(sum[:]), signingName, icTestRegion, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("answer is not JSON: %s", raw)
	}
	return resp.StatusCode, resp.Header, doc
}

func TestIdentityCenterWire(t *testing.T) {
	ic, faults, srv := newICTest(t)
	tenant := ic.TenantID()
	id, _ := ic.SeedToken(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))
	tests := []struct {
		name, op, body, signingName string
		wantStatus                  int
		wantType                    string
	}{
		{"unsigned", "ListProvisioningTenants", `{"IdentityStoreId":"` + icTestStore + `"}`, "", 401, "InvalidSignatureException"},
		{"wrong signing name", "ListProvisioningTenants", `{"IdentityStoreId":"` + icTestStore + `"}`, "sso", 403, "InvalidSignatureException"},
		{"unknown operation", "ListEverything", `{"IdentityStoreId":"` + icTestStore + `"}`, "identitystore", 400, "UnknownOperationException"},
		{"missing identity store", "ListProvisioningTenants", `{}`, "identitystore", 400, "ValidationException"},
		{"unknown identity store", "ListProvisioningTenants", `{"IdentityStoreId":"d-0000000000"}`, "identitystore", 400, "ResourceNotFoundException"},
		{"missing tenant", "ListBearerTokens", `{"IdentityStoreId":"` + icTestStore + `"}`, "identitystore", 400, "ValidationException"},
		{"unknown tenant", "CreateBearerToken", `{"IdentityStoreId":"` + icTestStore + `","TenantId":"x"}`, "identitystore", 400, "ResourceNotFoundException"},
		{"bad NextToken", "ListBearerTokens", `{"IdentityStoreId":"` + icTestStore + `","TenantId":"` + tenant + `","NextToken":"zzz"}`, "identitystore", 400, "ValidationException"},
		{"delete without token id", "DeleteBearerToken", `{"IdentityStoreId":"` + icTestStore + `","TenantId":"` + tenant + `"}`, "identitystore", 400, "ValidationException"},
		{"delete unknown token", "DeleteBearerToken", `{"IdentityStoreId":"` + icTestStore + `","TenantId":"` + tenant + `","TokenId":"nope"}`, "identitystore", 400, "ResourceNotFoundException"},
		{"list", "ListBearerTokens", `{"IdentityStoreId":"` + icTestStore + `","TenantId":"` + tenant + `"}`, "identitystore", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, doc := icCall(t, srv, tt.op, tt.body, tt.signingName)
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d (%v)", status, tt.wantStatus, doc)
			}
			if tt.wantType == "" {
				return
			}
			if typ, _ := doc["__type"].(string); !strings.HasSuffix(typ, "#"+tt.wantType) {
				t.Fatalf("__type %v, want ...#%s", doc["__type"], tt.wantType)
			}
			if !strings.HasPrefix(hdr.Get("X-Amzn-ErrorType"), tt.wantType+":") {
				t.Fatalf("X-Amzn-ErrorType %q, want %s:...", hdr.Get("X-Amzn-ErrorType"), tt.wantType)
			}
			if msg, _ := doc["message"].(string); msg == "" {
				t.Fatalf("no message in %v", doc)
			}
		})
	}
	if faults.Count("identitycenter:ListProvisioningTenants") != 4 || faults.Count("identitycenter:ListEverything") != 1 {
		t.Fatalf("calls recorded: %v", faults.Calls())
	}
	if got := ic.Tokens(); len(got) != 1 || got[0].ID != id {
		t.Fatalf("tokens changed: %+v", got)
	}
}

func TestIdentityCenterTokens(t *testing.T) {
	ic, _, srv := newICTest(t)
	req := `{"IdentityStoreId":"` + icTestStore + `","TenantId":"` + ic.TenantID() + `"}`
	var values []string
	for i := range 2 {
		status, _, doc := icCall(t, srv, "CreateBearerToken", req, "identitystore")
		if status != 200 {
			t.Fatalf("create %d: %d %v", i, status, doc)
		}
		v, _ := doc["Token"].(string)
		if !strings.HasPrefix(v, "sandbox-scim-") || len(v) != len("sandbox-scim-")+48 || !ic.ValidToken(v) {
			t.Fatalf("token value %q not recognizable or not valid", v)
		}
		if _, ok := doc["CreationTime"].(float64); !ok {
			t.Fatalf("CreationTime %v is not epoch seconds", doc["CreationTime"])
		}
		values = append(values, v)
	}
	status, _, doc := icCall(t, srv, "CreateBearerToken", req, "identitystore")
	if status != 400 || doc["__type"] != "com.amazonaws.identitystore#ServiceQuotaExceededException" {
		t.Fatalf("third create: %d %v, want ServiceQuotaExceededException", status, doc)
	}
	if ic.CreatedCount() != 2 || ic.MaxHeld() != 2 {
		t.Fatalf("CreatedCount %d MaxHeld %d", ic.CreatedCount(), ic.MaxHeld())
	}

	// Paging: one token per page.
	_, _, page1 := icCall(t, srv, "ListBearerTokens", req, "identitystore")
	next, _ := page1["NextToken"].(string)
	if toks, _ := page1["BearerTokens"].([]any); len(toks) != 1 || next == "" {
		t.Fatalf("first page %v, want one token and a NextToken", page1)
	}
	_, _, page2 := icCall(t, srv, "ListBearerTokens", strings.TrimSuffix(req, "}")+`,"NextToken":"`+next+`"}`, "identitystore")
	if toks, _ := page2["BearerTokens"].([]any); len(toks) != 1 || page2["NextToken"] != nil {
		t.Fatalf("second page %v, want one token and no NextToken", page2)
	}

	ic.SetISOTimestamps(true)
	_, _, iso := icCall(t, srv, "ListBearerTokens", req, "identitystore")
	tok := iso["BearerTokens"].([]any)[0].(map[string]any)
	if s, _ := tok["ExpirationTime"].(string); s != "2026-03-01T00:00:00.000Z" {
		t.Fatalf("ISO ExpirationTime %v", tok["ExpirationTime"])
	}
	ic.SetShapeDrift(true)
	_, _, drift := icCall(t, srv, "ListBearerTokens", req, "identitystore")
	if _, ok := drift["BearerTokens"]; ok || drift["Tokens"] == nil {
		t.Fatalf("shape drift answer %v", drift)
	}

	// SCIM: only a valid token gets through.
	scim := []struct {
		name, path, auth string
		want             int
	}{
		{"config with token", "ServiceProviderConfig", "Bearer " + values[0], 200},
		{"users with token", "Users?filter=userName%20eq%20%22a%22", "Bearer " + values[1], 200},
		{"no token", "ServiceProviderConfig", "", 401},
		{"unknown token", "Users", "Bearer sandbox-scim-unknown", 401},
		{"basic auth", "Users", "Basic " + values[0], 401},
	}
	for _, tt := range scim {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, ic.SCIMEndpoint()+tt.path, nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			resp, err := srv.Client().Do(r)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var doc map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&doc)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d (%v)", resp.StatusCode, tt.want, doc)
			}
			if tt.want == 401 && (doc["status"] != "401" || doc["detail"] == "" || doc["schemas"].([]any)[0] != "urn:ietf:params:scim:api:messages:2.0:Error") {
				t.Fatalf("401 body %v is not a SCIM error", doc)
			}
		})
	}
}

func TestIdentityCenterExpiry(t *testing.T) {
	now := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	ic := NewIdentityCenter(nil, icTestRegion, icTestStore, func() time.Time { return now })
	_, expired := ic.SeedToken(now.AddDate(-1, 0, -1))
	_, live := ic.SeedToken(now.AddDate(0, -11, 0))
	if ic.ValidToken(expired) || !ic.ValidToken(live) {
		t.Fatalf("ValidToken(expired)=%v ValidToken(live)=%v", ic.ValidToken(expired), ic.ValidToken(live))
	}
	if toks := ic.Tokens(); len(toks) != 2 || !toks[0].Expires.Equal(toks[0].Created.AddDate(1, 0, 0)) || now.Before(toks[0].Expires) {
		t.Fatalf("Tokens = %+v", toks)
	}
}
