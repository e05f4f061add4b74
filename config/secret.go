package config

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
)

// ReadSecret reads a secret named by a pair of ...Env / ...File keys. key is
// the config path of the pair without its suffix (for example
// "targets[1].entra.clientSecret") so that every error names the exact key.
// The value never appears in an error.
func ReadSecret(key, env, file string) (string, error) {
	switch {
	case env != "" && file != "":
		return "", &Error{Key: key + "Env", Msg: "not with " + key + "File: set only one of the two"}
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || strings.TrimSpace(v) == "" {
			return "", &Error{Key: key + "Env", Msg: fmt.Sprintf("environment variable %s is not set", env)}
		}
		return strings.TrimSpace(v), nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", &Error{Key: key + "File", Msg: fmt.Sprintf("cannot read %s: %v", file, unwrapPathError(err))}
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", &Error{Key: key + "File", Msg: fmt.Sprintf("file %s is empty", file)}
		}
		return v, nil
	}
	return "", &Error{Key: key + "Env", Msg: "required (or " + key + "File)"}
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// Error is a configuration error naming the exact key. The CLI exits 2 on it.
type Error struct {
	Key string
	Msg string
}

func (e *Error) Error() string {
	if e.Key == "" {
		return e.Msg
	}
	return e.Key + ": " + e.Msg
}

// SecretsManagerRef is a ...SecretsManager key: a secret read at run time
// from AWS Secrets Manager with the instance's AWS credentials (its role,
// when it has one), never written to disk. It is the third way to name a
// secret beside ...Env and ...File, for a host with no mounted files and
// environment variables anyone who reads its configuration can see (a
// Lambda function).
type SecretsManagerRef struct {
	// SecretID is the secret's name or ARN.
	SecretID string `yaml:"secretId"`
	// JSONKey, when set, reads this key of the secret's JSON object value
	// instead of the whole value.
	JSONKey string `yaml:"jsonKey"`
	// Region defaults to the ARN's region, else the instance's
	// identityCenter.region.
	Region string `yaml:"region"`
	// Endpoint is an optional Secrets Manager endpoint (VPC endpoint, sandbox).
	Endpoint string `yaml:"endpoint"`
}

// SecretSource is where one secret is read: exactly one of an environment
// variable, a file or a Secrets Manager secret.
type SecretSource struct {
	Env            string
	File           string
	SecretsManager *SecretsManagerRef
}

// Set reports whether any of the three is set.
func (s SecretSource) Set() bool { return s.Env != "" || s.File != "" || s.SecretsManager != nil }

// SecretReader reads the value a ...SecretsManager key names; key is that
// key's config path, for its errors. The factory gives every adapter the
// instance's reader.
type SecretReader interface {
	ReadSecretsManager(ctx context.Context, key string, ref SecretsManagerRef) (string, error)
}

// ReadSecretFrom reads a secret named by a ...Env, ...File or
// ...SecretsManager key; key is the config path without the suffix (as for
// ReadSecret). A ...SecretsManager key with no reader is an error naming it.
// The value never appears in an error.
func ReadSecretFrom(ctx context.Context, key string, src SecretSource, r SecretReader) (string, error) {
	sm := key + "SecretsManager"
	switch {
	case src.SecretsManager == nil && (src.Env != "" || src.File != ""):
		return ReadSecret(key, src.Env, src.File)
	case src.SecretsManager == nil:
		return "", &Error{Key: key + "Env", Msg: "required (or " + key + "File, or " + sm + ")"}
	case src.Env != "" || src.File != "":
		return "", &Error{Key: sm, Msg: "not with " + key + "Env or " + key + "File: set only one of the Env, File and SecretsManager forms"}
	case r == nil:
		return "", &Error{Key: sm, Msg: "no AWS credentials to read it with here"}
	}
	v, err := r.ReadSecretsManager(ctx, sm, *src.SecretsManager)
	if err != nil {
		return "", err
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return "", &Error{Key: sm, Msg: fmt.Sprintf("secret %s is empty", secretName(*src.SecretsManager))}
	}
	return v, nil
}

// secretName is how errors and check name a secret: its id, and the key.
func secretName(r SecretsManagerRef) string {
	if r.JSONKey == "" {
		return Quote(r.SecretID)
	}
	return fmt.Sprintf("%s (JSON key %s)", Quote(r.SecretID), Quote(r.JSONKey))
}

// Describe names the secret for messages: its id, and its JSON key if any.
func (r SecretsManagerRef) Describe() string { return secretName(r) }

// OneSecret checks that at most one of a secret's keys is set, and, with
// required, that one is; base is the config path without the suffix
// ("notify.slack.webhookUrl"). It validates the ...SecretsManager block.
func OneSecret(base string, src SecretSource, required bool) error {
	var set []string
	if src.Env != "" {
		set = append(set, base+"Env")
	}
	if src.File != "" {
		set = append(set, base+"File")
	}
	if src.SecretsManager != nil {
		set = append(set, base+"SecretsManager")
	}
	switch {
	case len(set) > 1:
		// Each key named once: the one in error is the error's own.
		return &Error{Key: set[1], Msg: "not with " + strings.Join(slices.Delete(slices.Clone(set), 1, 2), " and ") + ": set only one of the Env, File and SecretsManager forms"}
	case len(set) == 0 && required:
		return &Error{Key: base + "Env", Msg: "required (or " + base + "File, or " + base + "SecretsManager)"}
	case src.SecretsManager != nil:
		return src.SecretsManager.Validate(base + "SecretsManager")
	}
	return nil
}

// secretsManagerRegion is a Secrets Manager region (us-east-1,
// us-gov-west-1, cn-north-1, eu-isoe-west-1).
var secretsManagerRegion = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)

// secretARNRegion captures the region of a secret's ARN.
var secretARNRegion = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):\d{12}:secret:`)

// Validate checks a ...SecretsManager block; key is its path.
func (r *SecretsManagerRef) Validate(key string) error {
	var errs []error
	if strings.TrimSpace(r.SecretID) == "" {
		errs = append(errs, &Error{Key: key + ".secretId", Msg: "required: the secret's name or ARN"})
	}
	if r.Region != "" && !secretsManagerRegion.MatchString(r.Region) {
		errs = append(errs, &Error{Key: key + ".region", Msg: fmt.Sprintf("%s is not an AWS region (e.g. us-east-1)", Quote(r.Region))})
	}
	if m := secretARNRegion.FindStringSubmatch(r.SecretID); m != nil && r.Region != "" && r.Region != m[1] {
		errs = append(errs, &Error{Key: key + ".region", Msg: fmt.Sprintf("%s, but the secret's ARN is in %s", Quote(r.Region), m[1])})
	}
	if err := CheckURL(key+".endpoint", r.Endpoint); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// RegionOr is the region to read the secret in: its own, else its ARN's,
// else def (the instance's identityCenter.region).
func (r SecretsManagerRef) RegionOr(def string) string {
	if r.Region != "" {
		return r.Region
	}
	if m := secretARNRegion.FindStringSubmatch(r.SecretID); m != nil {
		return m[1]
	}
	return def
}

// ConfigSchema states the block's required secretId.
func (*SecretsManagerRef) ConfigSchema(s *Schema) {
	s.Required = []string{"secretId"}
	s.Properties["secretId"].MinLength = new(1)
	s.Properties["secretId"].Description = "The Secrets Manager secret (name or ARN) holding the value, read with the instance's AWS credentials."
	s.Properties["jsonKey"].Description = "Read this key of the secret's JSON object instead of the whole value."
	s.Properties["region"].Pattern = `^([a-z]{2}(-[a-z]+)+-\d)?$`
}

// ReadKeyMaterial reads a secret kept whole, such as a PEM key and
// certificate, from a ...File key (file) or a ...SecretsManager key (ref);
// base is the config path without the suffix. It returns the bytes, the
// key they came from and how to name their source (a path or a secret, never
// content) in errors about what they hold.
func ReadKeyMaterial(ctx context.Context, base, file string, ref *SecretsManagerRef, r SecretReader) (b []byte, key, source string, err error) {
	if ref != nil {
		key = base + "SecretsManager"
		v, err := ReadSecretFrom(ctx, base, SecretSource{SecretsManager: ref}, r)
		if err != nil {
			return nil, key, "", err
		}
		return []byte(v), key, "secret " + ref.Describe(), nil
	}
	key = base + "File"
	if file == "" {
		return nil, key, "", &Error{Key: key, Msg: "required: set " + key + " or " + base + "SecretsManager"}
	}
	b, err = os.ReadFile(file)
	if err != nil {
		return nil, key, "", &Error{Key: key, Msg: fmt.Sprintf("cannot read %s: %v", file, unwrapPathError(err))}
	}
	return b, key, file, nil
}
