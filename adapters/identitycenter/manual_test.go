package identitycenter

import (
	"errors"
	"strings"
	"testing"

	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

func TestManual(t *testing.T) {
	tests := []struct {
		name     string
		cfg      config.IdentityCenter
		wantID   string
		wantSCIM string
		wantErr  string
	}{
		{
			name:     "endpoint configured, tenant read from it",
			cfg:      config.IdentityCenter{Region: "eu-west-1", SCIMEndpoint: "https://scim.eu-west-1.amazonaws.com/abc-123/scim/v2"},
			wantID:   "abc-123",
			wantSCIM: "https://scim.eu-west-1.amazonaws.com/abc-123/scim/v2/",
		},
		{
			name:     "built from region and tenant",
			cfg:      config.IdentityCenter{Region: "us-east-2", TenantID: "t-9"},
			wantID:   "t-9",
			wantSCIM: "https://scim.us-east-2.amazonaws.com/t-9/scim/v2/",
		},
		{
			name:    "neither",
			cfg:     config.IdentityCenter{Region: "us-east-2"},
			wantErr: "set identityCenter.scimEndpoint, or identityCenter.region and identityCenter.tenantId",
		},
		{
			name:    "relative endpoint",
			cfg:     config.IdentityCenter{SCIMEndpoint: "scim/v2/"},
			wantErr: "not an absolute URL",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewManual(tt.cfg, Options{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NewManual error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewManual: %v", err)
			}
			ctx := t.Context()
			tenant, err := m.Tenant(ctx)
			if err != nil || tenant.ID != tt.wantID || tenant.SCIMEndpoint != tt.wantSCIM {
				t.Fatalf("Tenant = %+v, %v; want %s at %s", tenant, err, tt.wantID, tt.wantSCIM)
			}
			// No token API: the core answers ErrManual for it (rotator.TokensOf).
			if m.Tokens() != nil {
				t.Fatal("the manual issuer has a token API")
			}
			api := rotator.TokensOf(m)
			if _, err := api.ListTokens(ctx); !errors.Is(err, rotator.ErrManual) {
				t.Fatalf("ListTokens error = %v, want ErrManual", err)
			}
			if _, err := api.CreateToken(ctx); !errors.Is(err, rotator.ErrManual) {
				t.Fatalf("CreateToken error = %v, want ErrManual", err)
			}
			if err := api.DeleteToken(ctx, "tok-1"); !errors.Is(err, rotator.ErrManual) || !strings.Contains(err.Error(), "tok-1") {
				t.Fatalf("DeleteToken error = %v, want ErrManual naming the token", err)
			}
			res := m.Check(ctx)
			if len(res) != 1 || res[0].Level != rotator.LevelOK || !strings.Contains(res[0].Detail, tt.wantSCIM) {
				t.Fatalf("Check = %+v", res)
			}
			st, err := m.Status(ctx)
			if err != nil || st.System != System {
				t.Fatalf("Status = %+v, %v", st, err)
			}
			found := false
			for _, f := range st.Fields {
				found = found || (f.Key == "issuer" && f.Value == config.IssuerManual)
			}
			if !found {
				t.Fatalf("Status fields %+v do not name the manual issuer", st.Fields)
			}
		})
	}
}
