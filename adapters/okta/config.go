package okta

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/scim-rotator/scim-rotator/config"
)

// TargetType is the okta target type (targets[].type: okta).
var TargetType = config.TargetType{Name: "okta", NewBlock: func() config.TargetBlock { return new(Config) }}

// Config is the block of an okta target: an Okta app's provisioning
// connection.
type Config struct {
	OrgURL       string `yaml:"orgUrl"`
	AppID        string `yaml:"appId"`
	APITokenEnv  string `yaml:"apiTokenEnv"`
	APITokenFile string `yaml:"apiTokenFile"`
	// APITokenSecretsManager reads the SSWS token from Secrets Manager.
	APITokenSecretsManager *config.SecretsManagerRef `yaml:"apiTokenSecretsManager"`
	ClientID               string                    `yaml:"clientId"`
	PrivateKeyFile         string                    `yaml:"privateKeyFile"`
	// PrivateKeySecretsManager reads the PEM private key from Secrets Manager.
	PrivateKeySecretsManager *config.SecretsManagerRef `yaml:"privateKeySecretsManager"`
	PrivateKeyID             string                    `yaml:"privateKeyId"`
	// Mode is auto, api or handoff.
	Mode         string `yaml:"mode"`
	CanaryUserID string `yaml:"canaryUserId"`
	// CanaryAttribute is the canary's Okta user profile attribute that each
	// rotation changes to make Okta push it (default displayName).
	CanaryAttribute string `yaml:"canaryAttribute"`
}

// APIToken is where the SSWS token is read (apiToken*).
func (t Config) APIToken() config.SecretSource {
	return config.SecretSource{Env: t.APITokenEnv, File: t.APITokenFile, SecretsManager: t.APITokenSecretsManager}
}

// Okta modes: how the okta target gets the new token into the app.
const (
	// ModeAuto decides per app with a read-only preflight.
	ModeAuto = "auto"
	// ModeAPI sets the token with the Application Connections API.
	ModeAPI = "api"
	// ModeHandoff asks an operator to paste the token in the Admin Console.
	ModeHandoff = "handoff"
)

// Modes lists the values okta.mode accepts.
var Modes = []string{ModeAuto, ModeAPI, ModeHandoff}

// DefaultCanaryAttribute is the canary user's profile attribute a
// rotation changes by default.
const DefaultCanaryAttribute = "displayName"

// oktaAttributePattern is an Okta profile attribute's variable name.
var oktaAttributePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,99}$`)

// oktaSignInAttributes are never overwritten: login and email are how the
// user signs in and is reached, and Okta requires them to be well formed.
var oktaSignInAttributes = []string{"login", "email", "secondEmail"}

// SetDefaults fills the okta block's defaults: mode auto, canaryAttribute
// displayName, and an orgUrl without a trailing slash (the SDK appends paths
// to it verbatim).
func (t *Config) SetDefaults(*config.Config) {
	if t.Mode == "" {
		t.Mode = ModeAuto
	}
	if t.CanaryAttribute == "" {
		t.CanaryAttribute = DefaultCanaryAttribute
	}
	t.Mode = strings.ToLower(strings.TrimSpace(t.Mode))
	t.OrgURL = strings.TrimRight(strings.TrimSpace(t.OrgURL), "/")
}

// Validate checks the okta block; key is its path, e.g. "targets[1].okta".
// Errors are *Error values naming the exact key (join several with errors.Join).
func (t *Config) Validate(key string, _ *config.Config) error {
	var errs []error
	add := func(k, msg string) { errs = append(errs, &config.Error{Key: key + "." + k, Msg: msg}) }

	switch {
	case t.OrgURL == "":
		add("orgUrl", "required: your Okta org, e.g. https://example.okta.com")
	default:
		if msg := checkOktaOrgURL(t.OrgURL); msg != "" {
			add("orgUrl", msg)
		}
	}
	if t.AppID == "" {
		add("appId", "required: the id of the app instance (0oa...), from its Admin Console URL")
	}

	// Exactly one way to call Okta's API.
	way, err := config.ExactlyOne(key, "apiTokenEnv, apiTokenFile, apiTokenSecretsManager, or clientId with privateKeyFile or privateKeySecretsManager",
		config.Choice{Key: "apiTokenEnv", Set: t.APITokenEnv != ""},
		config.Choice{Key: "apiTokenFile", Set: t.APITokenFile != ""},
		config.Choice{Key: "apiTokenSecretsManager", Set: t.APITokenSecretsManager != nil},
		config.Choice{Key: "clientId", Set: t.ClientID != "" || t.PrivateKeyFile != "" || t.PrivateKeySecretsManager != nil || t.PrivateKeyID != ""})
	if err != nil {
		errs = append(errs, err)
	}
	switch way {
	case "clientId":
		if t.ClientID == "" {
			add("clientId", "required with privateKeyFile or privateKeySecretsManager: the client id of the Okta API service app")
		}
		switch {
		case t.PrivateKeyFile == "" && t.PrivateKeySecretsManager == nil:
			add("privateKeyFile", "required with clientId: the PEM private key of the Okta API service app (or privateKeySecretsManager)")
		case t.PrivateKeyFile != "" && t.PrivateKeySecretsManager != nil:
			add("privateKeySecretsManager", "set only one of privateKeyFile and privateKeySecretsManager")
		case t.PrivateKeySecretsManager != nil:
			errs = append(errs, t.PrivateKeySecretsManager.Validate(key+".privateKeySecretsManager"))
		}
	case "apiTokenSecretsManager":
		errs = append(errs, t.APITokenSecretsManager.Validate(key+".apiTokenSecretsManager"))
	}

	switch t.Mode {
	case ModeAuto, ModeAPI, ModeHandoff:
	default:
		add("mode", fmt.Sprintf("unknown mode %s: one of %s", config.Quote(t.Mode), strings.Join(Modes, ", ")))
	}
	switch a := t.CanaryAttribute; {
	case !oktaAttributePattern.MatchString(a):
		add("canaryAttribute", fmt.Sprintf("%q is not an Okta profile attribute name (e.g. displayName, nickName)", a))
	case slices.Contains(oktaSignInAttributes, a):
		add("canaryAttribute", fmt.Sprintf("must not be %s: the canary's sign-in attributes are never overwritten; use displayName or nickName", a))
	}
	return errors.Join(errs...)
}

// checkOktaOrgURL returns why u is not a usable org URL, or "". Okta's SDK
// refuses anything but https; plain http is allowed for a local sandbox only.
func checkOktaOrgURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return fmt.Sprintf("%s is not a URL such as https://example.okta.com", config.QuoteURL(u))
	}
	if p.User != nil {
		return "must not contain user info (user:password@): credentials never go in a URL"
	}
	if p.Path != "" || p.RawQuery != "" || p.Fragment != "" {
		return fmt.Sprintf("%s must be the org's base URL without a path, e.g. https://example.okta.com", config.Quote(u))
	}
	if strings.Contains(p.Hostname(), "-admin.") {
		return fmt.Sprintf("%s is the Admin Console host: use the org URL without -admin", config.Quote(u))
	}
	switch p.Scheme {
	case "https":
	case "http":
		if !config.IsLoopback(p.Hostname()) {
			return fmt.Sprintf("%s must use https (http is allowed only for a loopback host: 127.0.0.0/8, ::1, localhost)", config.Quote(u))
		}
	default:
		return fmt.Sprintf("%s must use https", config.Quote(u))
	}
	return ""
}

// ConfigSchema states in the config's JSON Schema what Validate enforces
// key by key: the required keys, one way to call the API, the mode.
func (*Config) ConfigSchema(s *config.Schema) {
	s.Required = []string{"orgUrl", "appId"}
	s.Properties["orgUrl"].Pattern = `^\s*https?://`
	s.Properties["appId"].MinLength = new(1)
	config.AtMostOne(s, "apiTokenEnv", "apiTokenFile", "apiTokenSecretsManager")
	config.AtMostOne(s, "privateKeyFile", "privateKeySecretsManager")
	for _, token := range []string{"apiTokenEnv", "apiTokenFile", "apiTokenSecretsManager"} {
		for _, key := range []string{"clientId", "privateKeyFile", "privateKeySecretsManager", "privateKeyId"} {
			config.AtMostOne(s, token, key)
		}
	}
	s.Set("mode", config.EnumFold(true, Modes...))
	s.Properties["canaryAttribute"].Pattern = `^([A-Za-z][A-Za-z0-9_]{0,99})?$`
	s.Properties["canaryAttribute"].Not = &config.Schema{Enum: []any{"login", "email", "secondEmail"}}
}
