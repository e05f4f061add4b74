package entra

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/scim-rotator/scim-rotator/config"
)

// TargetType is the entra target type (targets[].type: entra).
var TargetType = config.TargetType{Name: "entra", NewBlock: func() config.TargetBlock { return new(Config) }}

// Config is the block of an entra target: a Microsoft Entra ID enterprise
// application's provisioning.
type Config struct {
	TenantID         string `yaml:"tenantId"`
	ClientID         string `yaml:"clientId"`
	ClientSecretEnv  string `yaml:"clientSecretEnv"`
	ClientSecretFile string `yaml:"clientSecretFile"`
	// ClientSecretSecretsManager reads the client secret from Secrets Manager.
	ClientSecretSecretsManager *config.SecretsManagerRef `yaml:"clientSecretSecretsManager"`
	ClientCertificateFile      string                    `yaml:"clientCertificateFile"`
	// ClientCertificateSecretsManager reads the PEM key and certificate
	// from Secrets Manager.
	ClientCertificateSecretsManager *config.SecretsManagerRef `yaml:"clientCertificateSecretsManager"`
	WorkloadIdentity                bool                      `yaml:"workloadIdentity"`
	ServicePrincipalID              string                    `yaml:"servicePrincipalId"`
	JobID                           string                    `yaml:"jobId"`
	Cloud                           string                    `yaml:"cloud"`
	GraphEndpoint                   string                    `yaml:"graphEndpoint"`
	AuthorityHost                   string                    `yaml:"authorityHost"`
	Canary                          *Canary                   `yaml:"canary"`
}

// Canary is a user or group assigned to the app, provisioned on demand.
type Canary struct {
	ObjectID   string `yaml:"objectId"`
	ObjectType string `yaml:"objectType"`
}

// ClientSecret is where the client secret is read (clientSecret*).
func (t Config) ClientSecret() config.SecretSource {
	return config.SecretSource{Env: t.ClientSecretEnv, File: t.ClientSecretFile, SecretsManager: t.ClientSecretSecretsManager}
}

// Entra clouds: each names a login authority and a Microsoft Graph host.
const (
	CloudPublic   = "public"
	CloudUSGov    = "usgov"
	CloudUSGovDoD = "usgovdod"
	CloudChina    = "china"
)

// Clouds lists the values entra.cloud accepts.
var Clouds = []string{CloudPublic, CloudUSGov, CloudUSGovDoD, CloudChina}

// tenantPattern is a tenant id (a GUID) or one of the tenant's domain
// names (contoso.onmicrosoft.com, contoso.com): the token endpoint's path
// segment accepts both.
var tenantPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$|^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$`)

// CanaryTypes lists the values entra.canary.objectType accepts.
var CanaryTypes = []string{"User", "Group"}

// SetDefaults fills the entra block's defaults: the public cloud, and a canary
// of type User. A canary type written in another case ("user") is spelled
// the way Graph does.
func (t *Config) SetDefaults(*config.Config) {
	if t.Cloud == "" {
		t.Cloud = CloudPublic
	}
	if t.Canary != nil {
		if t.Canary.ObjectType == "" {
			t.Canary.ObjectType = "User"
		}
		for _, v := range CanaryTypes {
			if strings.EqualFold(t.Canary.ObjectType, v) {
				t.Canary.ObjectType = v
			}
		}
	}
}

// Validate checks the entra block; key is its path, e.g. "targets[1].entra".
// Errors are *Error values naming the exact key (join several with errors.Join).
func (t *Config) Validate(key string, _ *config.Config) error {
	var errs []error
	add := func(k, msg string) { errs = append(errs, &config.Error{Key: key + "." + k, Msg: msg}) }

	switch {
	case t.TenantID == "":
		add("tenantId", "required")
	case !tenantPattern.MatchString(t.TenantID):
		add("tenantId", fmt.Sprintf("%s is not a tenant id: a GUID or a domain name such as contoso.onmicrosoft.com", config.Quote(t.TenantID)))
	}
	if t.ServicePrincipalID == "" {
		add("servicePrincipalId", "required: the object id of the enterprise application's service principal")
	}

	// Exactly one way to sign in.
	way, err := config.ExactlyOne(key, "clientSecretEnv, clientSecretFile, clientSecretSecretsManager, clientCertificateFile, clientCertificateSecretsManager or workloadIdentity: true",
		config.Choice{Key: "clientSecretEnv", Set: t.ClientSecretEnv != ""},
		config.Choice{Key: "clientSecretFile", Set: t.ClientSecretFile != ""},
		config.Choice{Key: "clientSecretSecretsManager", Set: t.ClientSecretSecretsManager != nil},
		config.Choice{Key: "clientCertificateFile", Set: t.ClientCertificateFile != ""},
		config.Choice{Key: "clientCertificateSecretsManager", Set: t.ClientCertificateSecretsManager != nil},
		config.Choice{Key: "workloadIdentity", Set: t.WorkloadIdentity})
	if err != nil {
		errs = append(errs, err)
	}
	switch way {
	case "clientSecretSecretsManager":
		errs = append(errs, t.ClientSecretSecretsManager.Validate(key+".clientSecretSecretsManager"))
	case "clientCertificateSecretsManager":
		errs = append(errs, t.ClientCertificateSecretsManager.Validate(key+".clientCertificateSecretsManager"))
	}
	// Workload identity may take the client id from AZURE_CLIENT_ID, which the
	// AKS webhook sets; every other kind needs it here.
	if t.ClientID == "" && !t.WorkloadIdentity {
		add("clientId", "required (the application (client) id of the app registration the daemon signs in as)")
	}

	if !slices.Contains(Clouds, t.Cloud) {
		add("cloud", fmt.Sprintf("unknown cloud %s: one of %s", config.Quote(t.Cloud), strings.Join(Clouds, ", ")))
	}
	if err := config.CheckURL(key+".graphEndpoint", t.GraphEndpoint); err != nil {
		errs = append(errs, err)
	}
	if t.AuthorityHost != "" {
		// The identity library refuses an authority that is not https.
		if u, err := url.Parse(t.AuthorityHost); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
			add("authorityHost", config.QuoteURL(t.AuthorityHost)+" is not an absolute https URL")
		}
	}
	if t.Canary != nil && !slices.Contains(CanaryTypes, t.Canary.ObjectType) {
		add("canary.objectType", fmt.Sprintf("unknown type %s: one of %s", config.Quote(t.Canary.ObjectType), strings.Join(CanaryTypes, ", ")))
	}
	return errors.Join(errs...)
}

// ConfigSchema states in the config's JSON Schema what Validate enforces
// key by key: the required keys, one way to sign in, the cloud.
func (*Config) ConfigSchema(s *config.Schema) {
	s.Required = []string{"tenantId", "servicePrincipalId"}
	s.Properties["tenantId"].Pattern = tenantPattern.String()
	s.Properties["servicePrincipalId"].MinLength = new(1)
	config.AtMostOne(s, "clientSecretEnv", "clientSecretFile", "clientSecretSecretsManager", "clientCertificateFile", "clientCertificateSecretsManager", "workloadIdentity")
	s.Set("cloud", config.Enum(Clouds...))
}

// ConfigSchema states the canary's type (read case-insensitively).
func (*Canary) ConfigSchema(s *config.Schema) {
	s.Set("objectType", config.EnumFold(false, CanaryTypes...))
}
