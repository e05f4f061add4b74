package entra

import (
	"errors"
	"testing"

	"github.com/scim-rotator/scim-rotator/config"
)

func TestEntraDefaults(t *testing.T) {
	e := Config{Canary: &Canary{ObjectID: "x"}}
	e.SetDefaults(nil)
	if e.Cloud != CloudPublic || e.Canary.ObjectType != "User" {
		t.Errorf("defaults = cloud %q, canary type %q; want public, User", e.Cloud, e.Canary.ObjectType)
	}
	g := Config{Cloud: "china", Canary: &Canary{ObjectID: "x", ObjectType: "group"}}
	g.SetDefaults(nil)
	if g.Cloud != "china" || g.Canary.ObjectType != "Group" {
		t.Errorf("explicit values changed: cloud %q, canary type %q", g.Cloud, g.Canary.ObjectType)
	}
}

func TestEntraValidate(t *testing.T) {
	const k = "targets[1].entra"
	valid := func(mod func(*Config)) Config {
		e := Config{
			TenantID: "00000000-0000-0000-0000-000000000000", ClientID: "c", ClientSecretEnv: "ENTRA_CLIENT_SECRET", ServicePrincipalID: "sp",
		}
		if mod != nil {
			mod(&e)
		}
		e.SetDefaults(nil)
		return e
	}
	oneOf := "clientSecretEnv, clientSecretFile, clientSecretSecretsManager, clientCertificateFile, clientCertificateSecretsManager or workloadIdentity: true"
	tests := []struct {
		name string
		in   Config
		want []config.Error
	}{
		{name: "client secret from env", in: valid(nil)},
		{name: "client secret from file", in: valid(func(e *Config) { e.ClientSecretEnv, e.ClientSecretFile = "", "/run/secret" })},
		{name: "certificate", in: valid(func(e *Config) { e.ClientSecretEnv, e.ClientCertificateFile = "", "/run/cert.pem" })},
		{name: "workload identity without clientId", in: valid(func(e *Config) { e.ClientSecretEnv, e.ClientID, e.WorkloadIdentity = "", "", true })},
		{name: "overrides and canary", in: valid(func(e *Config) {
			e.Cloud, e.GraphEndpoint, e.AuthorityHost = "usgov", "https://graph.example/v1.0", "https://login.example/"
			e.Canary = &Canary{ObjectID: "g", ObjectType: "Group"}
		})},
		{
			name: "required keys",
			in:   valid(func(e *Config) { *e = Config{} }),
			want: []config.Error{
				{Key: k + ".tenantId", Msg: "required"},
				{Key: k + ".servicePrincipalId", Msg: "required: the object id of the enterprise application's service principal"},
				{Key: k + ".clientSecretEnv", Msg: "required: set one of " + oneOf},
				{Key: k + ".clientId", Msg: "required (the application (client) id of the app registration the daemon signs in as)"},
			},
		},
		{name: "tenant as a domain", in: valid(func(e *Config) { e.TenantID = "contoso.onmicrosoft.com" })},
		{name: "tenant as a custom domain", in: valid(func(e *Config) { e.TenantID = "login.contoso.co.uk" })},
		{
			name: "tenant neither GUID nor domain",
			in:   valid(func(e *Config) { e.TenantID = "contoso" }),
			want: []config.Error{{Key: k + ".tenantId", Msg: `"contoso" is not a tenant id: a GUID or a domain name such as contoso.onmicrosoft.com`}},
		},
		{
			name: "tenant with a path",
			in:   valid(func(e *Config) { e.TenantID = "contoso.com/../common" }),
			want: []config.Error{{Key: k + ".tenantId", Msg: `"contoso.com/../common" is not a tenant id: a GUID or a domain name such as contoso.onmicrosoft.com`}},
		},
		{
			name: "graph endpoint over http",
			in:   valid(func(e *Config) { e.GraphEndpoint = "http://graph.example/v1.0" }),
			want: []config.Error{{Key: k + ".graphEndpoint", Msg: `"http://graph.example/v1.0" must use https (http is allowed only for a loopback host: 127.0.0.0/8, ::1, localhost)`}},
		},
		{name: "graph endpoint over http on loopback", in: valid(func(e *Config) { e.GraphEndpoint = "http://127.0.0.1:8443/v1.0" })},
		{
			name: "two credential kinds",
			in:   valid(func(e *Config) { e.WorkloadIdentity = true }),
			want: []config.Error{{Key: k + ".workloadIdentity", Msg: "set only one of " + oneOf + " (found clientSecretEnv and workloadIdentity)"}},
		},
		{
			name: "unknown cloud, bad URLs, bad canary type",
			in: valid(func(e *Config) {
				e.Cloud, e.GraphEndpoint, e.AuthorityHost = "germany", "graph.microsoft.com", "http://login.example/"
				e.Canary = &Canary{ObjectID: "x", ObjectType: "Device"}
			}),
			want: []config.Error{
				{Key: k + ".cloud", Msg: `unknown cloud "germany": one of public, usgov, usgovdod, china`},
				{Key: k + ".graphEndpoint", Msg: `"graph.microsoft.com" is not an absolute https URL`},
				{Key: k + ".authorityHost", Msg: `"http://login.example/" is not an absolute https URL`},
				{Key: k + ".canary.objectType", Msg: `unknown type "Device": one of User, Group`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate(k, nil)
			got := config.Errors(err)
			if len(got) != len(tt.want) {
				t.Fatalf("Validate() = %v, want %d errors %v", err, len(tt.want), tt.want)
			}
			for i := range got {
				if *got[i] != tt.want[i] {
					t.Errorf("error %d = %#v, want %#v", i, *got[i], tt.want[i])
				}
			}
			if err != nil && !errors.As(err, new(*config.Error)) {
				t.Errorf("Validate() error is not a *config.Error")
			}
		})
	}
}
