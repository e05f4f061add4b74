package config

// Config is the whole configuration file.
type Config struct {
	// RotateBefore: rotate when the live token expires within this window.
	RotateBefore Duration `yaml:"rotateBefore"`
	// Schedule is the cron spec used by `run`.
	Schedule string `yaml:"schedule"`
	// ConfirmTimeout bounds each target's confirmation.
	ConfirmTimeout Duration `yaml:"confirmTimeout"`
	// LockTimeout is how long the store's lease lock outlives its holder's
	// last renewal: a killed run blocks others for at most this long.
	LockTimeout    Duration       `yaml:"lockTimeout"`
	IdentityCenter IdentityCenter `yaml:"identityCenter"`
	Store          Store          `yaml:"store"`
	Targets        []Target       `yaml:"targets"`
	Notify         Notify         `yaml:"notify"`
	Metrics        Metrics        `yaml:"metrics"`
	// Usage is proof of use: which token the SCIM calls used (CloudTrail).
	Usage Usage `yaml:"usage"`
	// Health is the independent expiry watch (AWS Health).
	Health Health `yaml:"health"`
	// Parallelism is how many instances are handled at once (default 4).
	Parallelism int `yaml:"parallelism"`
	// Instances is the fleet form: one entry per Identity Center instance.
	// Empty in the single-instance form (top-level identityCenter, store and
	// targets), whose one instance is DefaultInstance.
	Instances []InstanceConfig `yaml:"instances"`

	// resolved is every instance with its defaults applied (InstanceList).
	resolved []Instance
}

// InstanceConfig is one entry of instances: an Identity Center instance with
// its own store and targets; the durations override the top-level ones.
type InstanceConfig struct {
	Name           string         `yaml:"name"`
	AWS            AWS            `yaml:"aws"`
	RotateBefore   Duration       `yaml:"rotateBefore"`
	ConfirmTimeout Duration       `yaml:"confirmTimeout"`
	LockTimeout    Duration       `yaml:"lockTimeout"`
	IdentityCenter IdentityCenter `yaml:"identityCenter"`
	Store          Store          `yaml:"store"`
	Targets        []Target       `yaml:"targets"`
}

// AWS says how an instance's AWS calls are authenticated: the default
// credential chain, or a role assumed from it.
type AWS struct {
	// RoleARN, when set, is assumed for every AWS call of the instance.
	RoleARN string `yaml:"roleArn"`
	// ExternalID is the role's sts:ExternalId condition, if any.
	ExternalID string `yaml:"externalId"`
}

// DefaultInstance is the name of the single-instance form's instance.
const DefaultInstance = "default"

// Instance is one Identity Center instance, resolved: what the factory
// builds one rotator from.
type Instance struct {
	// Name is instances[].name, or DefaultInstance.
	Name string
	// Key is the prefix of the instance's config keys ("instances[2]."),
	// empty in the single-instance form: errors name Key+"targets[0]...".
	Key string
	AWS AWS
	// Config is the instance as a single-instance configuration: the shared
	// top-level keys with the instance's identityCenter, store, targets and
	// overrides, every default applied (its Instances is empty).
	Config *Config
}

// Issuer names.
const (
	IssuerIdentityCenter = "identitycenter"
	IssuerManual         = "manual"
)

// IdentityCenter locates the Identity Center instance and its token API.
type IdentityCenter struct {
	Issuer          string `yaml:"issuer"`
	Region          string `yaml:"region"`
	IdentityStoreID string `yaml:"identityStoreId"`
	TenantID        string `yaml:"tenantId"`
	// Endpoint of the console's token API; default
	// https://up.sso.{region}.amazonaws.com/identitystore/.
	Endpoint     string `yaml:"endpoint"`
	SCIMEndpoint string `yaml:"scimEndpoint"`
	// IdentityStoreEndpoint is the identity store API's endpoint, where
	// DescribeIdentityStore reads the network rules; default the SDK's
	// (https://identitystore.{region}.amazonaws.com).
	IdentityStoreEndpoint string `yaml:"identityStoreEndpoint"`
	// AllowCustomScimEndpoint lets scimEndpoint, and the endpoint the token
	// API answers for the tenant, be something other than the documented
	// https://scim.<region>.amazonaws.com/<tenantId>/scim/v2/ (a sandbox, a
	// proxy). Off, any other endpoint is refused: the token is sent there.
	AllowCustomScimEndpoint bool `yaml:"allowCustomScimEndpoint"`
	// SigningName and TargetPrefix override the inferred wire details of the
	// undocumented API (defaults identitystore and AWSIdentityStoreService).
	SigningName  string `yaml:"signingName"`
	TargetPrefix string `yaml:"targetPrefix"`
}

// Store is the Secrets Manager secret that records the tokens.
type Store struct {
	SecretID string `yaml:"secretId"`
	Region   string `yaml:"region"`
	Endpoint string `yaml:"endpoint"`
}

// Notify configures alerts.
type Notify struct {
	Slack *Slack `yaml:"slack"`
}

// Slack posts Block Kit messages to an incoming webhook.
type Slack struct {
	WebhookURLEnv  string `yaml:"webhookUrlEnv"`
	WebhookURLFile string `yaml:"webhookUrlFile"`
	// WebhookURLSecretsManager reads the URL from Secrets Manager instead.
	WebhookURLSecretsManager *SecretsManagerRef `yaml:"webhookUrlSecretsManager"`
	Channel                  string             `yaml:"channel"`
	NotifyOn                 []string           `yaml:"notifyOn"`
}

// WebhookURL is where the webhook URL is read (notify.slack.webhookUrl*).
func (s Slack) WebhookURL() SecretSource {
	return SecretSource{Env: s.WebhookURLEnv, File: s.WebhookURLFile, SecretsManager: s.WebhookURLSecretsManager}
}

// Metrics configures Prometheus metrics for one-shot runs.
type Metrics struct {
	// PushgatewayURL has no user info: basic auth comes from the keys below.
	PushgatewayURL string `yaml:"pushgatewayUrl"`
	// PushgatewayUsername and the password named by ...PasswordEnv or
	// ...PasswordFile are sent as HTTP basic auth.
	PushgatewayUsername     string `yaml:"pushgatewayUsername"`
	PushgatewayPasswordEnv  string `yaml:"pushgatewayPasswordEnv"`
	PushgatewayPasswordFile string `yaml:"pushgatewayPasswordFile"`
	// PushgatewayPasswordSecretsManager reads the password from Secrets
	// Manager instead.
	PushgatewayPasswordSecretsManager *SecretsManagerRef `yaml:"pushgatewayPasswordSecretsManager"`
}

// PushgatewayPassword is where the password is read (metrics.pushgatewayPassword*).
func (m Metrics) PushgatewayPassword() SecretSource {
	return SecretSource{Env: m.PushgatewayPasswordEnv, File: m.PushgatewayPasswordFile, SecretsManager: m.PushgatewayPasswordSecretsManager}
}

// HasAuth reports whether any basic-auth key is set.
func (m Metrics) HasAuth() bool {
	return m.PushgatewayUsername != "" || m.PushgatewayPassword().Set()
}
