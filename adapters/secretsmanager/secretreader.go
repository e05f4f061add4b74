package secretsmanager

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/scim-rotator/scim-rotator/adapters/internal/awsbase"
	"github.com/scim-rotator/scim-rotator/config"
)

// SecretReader reads the config's ...SecretsManager keys (a Slack webhook
// URL, an Okta API token, an Entra client secret) at run time with the
// instance's AWS credentials: the same base, role and cache as the
// instance's store. Values live in memory only, never on disk; the
// reader keeps no value, only its clients.
type SecretReader struct {
	opts   Options
	region string

	mu      sync.Mutex
	clients map[[2]string]getSecretAPI
}

var _ config.SecretReader = (*SecretReader)(nil)

// getSecretAPI is the one call the reader makes.
type getSecretAPI interface {
	GetSecretValue(context.Context, *sm.GetSecretValueInput, ...func(*sm.Options)) (*sm.GetSecretValueOutput, error)
}

// NewSecretReader is the reader of an instance whose secrets default to
// region (its identityCenter.region). Nothing is called until a read.
func NewSecretReader(region string, opts Options) *SecretReader {
	return &SecretReader{opts: opts, region: region, clients: map[[2]string]getSecretAPI{}}
}

// ReadSecretsManager reads the secret ref names (AWSCURRENT), or its JSON
// key; key is the config path of the ...SecretsManager key, which every
// error names. No error carries the value or a part of it.
func (r *SecretReader) ReadSecretsManager(ctx context.Context, key string, ref config.SecretsManagerRef) (string, error) {
	region := ref.RegionOr(r.region)
	c, err := r.client(ctx, region, ref.Endpoint)
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	out, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(ref.SecretID)})
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, awsbase.Wrap("secretsmanager GetSecretValue "+ref.SecretID, err, func(a *awsbase.APIError) {
			switch {
			case denied(err):
				a.Hint = "allow secretsmanager:GetSecretValue on this secret (and kms:Decrypt on its key if it uses a customer managed key)"
			case a.Code == "ResourceNotFoundException":
				a.Hint = fmt.Sprintf("no such secret in %s: create it, or correct %s.secretId (or its region)", region, key)
			}
		}))
	}
	var v string
	switch {
	case out.SecretString != nil:
		v = *out.SecretString
	case out.SecretBinary != nil:
		v = string(out.SecretBinary)
	}
	if ref.JSONKey == "" {
		return v, nil
	}
	var obj map[string]json.RawMessage
	// The decoder's error is not shown: it quotes the value.
	if json.Unmarshal([]byte(v), &obj) != nil || obj == nil {
		return "", &config.Error{Key: key + ".jsonKey", Msg: fmt.Sprintf("secret %s is not a JSON object, so it has no key %s: omit jsonKey to read the whole value", config.Quote(ref.SecretID), config.Quote(ref.JSONKey))}
	}
	raw, ok := obj[ref.JSONKey]
	if !ok {
		return "", &config.Error{Key: key + ".jsonKey", Msg: fmt.Sprintf("secret %s has no JSON key %s", config.Quote(ref.SecretID), config.Quote(ref.JSONKey))}
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", &config.Error{Key: key + ".jsonKey", Msg: fmt.Sprintf("the JSON key %s of secret %s is not a string", config.Quote(ref.JSONKey), config.Quote(ref.SecretID))}
	}
	return s, nil
}

// client is the SDK client for region and endpoint, made once.
func (r *SecretReader) client(ctx context.Context, region, endpoint string) (getSecretAPI, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := [2]string{region, endpoint}
	if c, ok := r.clients[k]; ok {
		return c, nil
	}
	c, err := newClient(ctx, region, endpoint, r.opts)
	if err != nil {
		return nil, err
	}
	r.clients[k] = c
	return c, nil
}
