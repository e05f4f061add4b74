package secretsmanager

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/scim-rotator/scim-rotator/config"
)

// TargetType is the secretsmanager target type (targets[].type: secretsmanager).
var TargetType = config.TargetType{Name: "secretsmanager", NewBlock: func() config.TargetBlock { return new(TargetConfig) }}

// TargetConfig is the block of a secretsmanager target: it writes the token
// into a secret that a sync job reads.
type TargetConfig struct {
	SecretID string `yaml:"secretId"`
	Region   string `yaml:"region"`
	Endpoint string `yaml:"endpoint"`
	// Format is raw (the token alone) or json; default raw unless JSONKey.
	Format string `yaml:"format"`
	// JSONKey writes the token into this key of the secret's existing JSON
	// object, keeping every other key (exclusive with Format).
	JSONKey string `yaml:"jsonKey"`
	// Trigger makes the secret's consumer sync right after a push.
	Trigger *TriggerConfig `yaml:"trigger"`
}

// TriggerConfig invokes the Lambda function that reads the secret
// (asynchronously) after each push.
type TriggerConfig struct {
	LambdaFunction string `yaml:"lambdaFunction"`
	// Region defaults to the function ARN's region, else the target's.
	Region string `yaml:"region"`
	// Endpoint is an optional Lambda endpoint (VPC endpoint, sandbox).
	Endpoint string `yaml:"endpoint"`
}

var (
	// lambdaFunctionPattern is the FunctionName pattern of Lambda's Invoke
	// API: a name, a partial ARN (123456789012:function:name) or a full ARN,
	// each with an optional version or alias.
	lambdaFunctionPattern = regexp.MustCompile(`^(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_.]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?$`)
	// lambdaARNRegion captures the region of a full function ARN.
	lambdaARNRegion = regexp.MustCompile(`^arn:aws[a-zA-Z-]*:lambda:([a-z]{2}(-gov)?-[a-z]+-\d{1}):`)
	// jsonKeyPattern keeps jsonKey to a plain top-level key.
	jsonKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)
)

// SetDefaults fills the region from Identity Center's and the format (raw)
// unless the token goes into one JSON key. A trigger's region defaults to the
// function ARN's region, else the target's.
func (t *TargetConfig) SetDefaults(c *config.Config) {
	region := c.IdentityCenter.Region
	if t.Region == "" {
		t.Region = region
	}
	if t.Format == "" && t.JSONKey == "" {
		t.Format = FormatRaw
	}
	if tr := t.Trigger; tr != nil && tr.Region == "" {
		tr.Region = LambdaFunctionRegion(tr.LambdaFunction)
		if tr.Region == "" {
			tr.Region = t.Region
		}
	}
}

// LambdaFunctionRegion returns the region of a full function ARN, "" for a
// name or a partial ARN.
func LambdaFunctionRegion(fn string) string {
	if m := lambdaARNRegion.FindStringSubmatch(fn); m != nil {
		return m[1]
	}
	return ""
}

// Validate checks the block; key is its path, e.g. "targets[0].secretsmanager";
// storeSecret is store.secretId, which a target must not overwrite.
func (t *TargetConfig) Validate(key string, c *config.Config) error {
	storeSecret := c.Store.SecretID
	var errs []error
	add := func(k, msg string) { errs = append(errs, &config.Error{Key: key + "." + k, Msg: msg}) }

	switch {
	case t.SecretID == "":
		add("secretId", "required")
	case t.SecretID == storeSecret:
		add("secretId", "must not be store.secretId: the store keeps its own record format")
	}
	switch {
	case t.JSONKey != "" && t.Format != "":
		add("jsonKey", "set only one of format and jsonKey (format writes the whole value; jsonKey writes the token into one key of an existing JSON value)")
	case t.JSONKey != "":
		if !jsonKeyPattern.MatchString(t.JSONKey) {
			add("jsonKey", fmt.Sprintf("%q is not a plain JSON key (letters, digits, _ . -; at most 128)", t.JSONKey))
		}
	case t.Format != FormatRaw && t.Format != FormatJSON:
		add("format", fmt.Sprintf("unknown format %s: one of raw, json", config.Quote(t.Format)))
	}
	if err := config.CheckURL(key+".endpoint", t.Endpoint); err != nil {
		errs = append(errs, err)
	}
	if tr := t.Trigger; tr != nil {
		switch fn := tr.LambdaFunction; {
		case fn == "":
			add("trigger.lambdaFunction", "required: the name or ARN of the function that reads the secret")
		case len(fn) > 170 || !lambdaFunctionPattern.MatchString(fn):
			add("trigger.lambdaFunction", fmt.Sprintf("%q is not a Lambda function name or ARN", fn))
		default:
			if r := LambdaFunctionRegion(fn); r != "" && tr.Region != r {
				add("trigger.region", fmt.Sprintf("%q, but the function's ARN is in %s", tr.Region, r))
			}
		}
		if err := config.CheckURL(key+".trigger.endpoint", tr.Endpoint); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ConfigSchema states in the config's JSON Schema what Validate enforces
// key by key: the secret, format or jsonKey.
func (*TargetConfig) ConfigSchema(s *config.Schema) {
	s.Required = []string{"secretId"}
	s.Properties["secretId"].MinLength = new(1)
	s.Set("format", config.Enum(FormatRaw, FormatJSON))
	s.Properties["jsonKey"].Pattern = `^([A-Za-z0-9_.-]{1,128})?$`
	config.AtMostOne(s, "format", "jsonKey")
}

// ConfigSchema states the function.
func (*TriggerConfig) ConfigSchema(s *config.Schema) {
	s.Required = []string{"lambdaFunction"}
	s.Properties["lambdaFunction"].Pattern = lambdaFunctionPattern.String()
	s.Properties["lambdaFunction"].MaxLength = new(170)
}
