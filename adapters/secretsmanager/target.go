package secretsmanager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// Formats of the target secret's value.
const (
	// FormatRaw writes the token alone, as ssosync's SCIM access token
	// secret expects.
	FormatRaw = "raw"
	// FormatJSON writes {"token":"…","scimEndpoint":"…","tokenId":"…"} (in
	// that order).
	FormatJSON = "json"
)

// targetValue is the json format.
type targetValue struct {
	Token        string `json:"token"`
	SCIMEndpoint string `json:"scimEndpoint"`
	TokenID      string `json:"tokenId"`
}

// Target is a Secrets Manager secret that a sync job (ssosync and the like)
// reads the SCIM token from. Push writes a new AWSCURRENT version; rolling
// back is pushing the old credential again.
type Target struct {
	name     string
	api      api
	secretID string
	region   string
	endpoint string
	format   string
	log      *zap.Logger
}

var (
	_ rotator.Target    = (*Target)(nil)
	_ rotator.Inspector = (*Target)(nil)
)

// NewTarget builds the target called name for cfg (cfg.Region is already
// defaulted by the config loader; an empty Format means raw).
func NewTarget(ctx context.Context, name string, cfg config.SecretsManagerTarget, opts Options) (*Target, error) {
	c, err := newClient(ctx, cfg.Region, cfg.Endpoint, opts)
	if err != nil {
		return nil, fmt.Errorf("secretsmanager target %s: %w", name, err)
	}
	return newTarget(name, c, cfg, opts.logger())
}

func newTarget(name string, c api, cfg config.SecretsManagerTarget, log *zap.Logger) (*Target, error) {
	if cfg.SecretID == "" {
		return nil, fmt.Errorf("secretsmanager target %s: secretId: required", name)
	}
	format := cfg.Format
	if format == "" {
		format = FormatRaw
	}
	if format != FormatRaw && format != FormatJSON {
		return nil, fmt.Errorf("secretsmanager target %s: format must be %s or %s, not %q", name, FormatRaw, FormatJSON, cfg.Format)
	}
	return &Target{name: name, api: c, secretID: cfg.SecretID, region: cfg.Region, endpoint: cfg.Endpoint, format: format,
		log: log.With(zap.String("target", name), zap.String("secret", cfg.SecretID))}, nil
}

// Name is the configured name.
func (t *Target) Name() string { return t.name }

// render is the value cred is written as.
func (t *Target) render(cred rotator.Credential) (string, error) {
	if cred.Token.IsZero() {
		return "", errors.New("credential has no token")
	}
	if t.format == FormatRaw {
		return cred.Token.Reveal(), nil
	}
	b, err := json.Marshal(targetValue{Token: cred.Token.Reveal(), SCIMEndpoint: cred.SCIMEndpoint, TokenID: cred.TokenID})
	return string(b), err
}

// current reads the AWSCURRENT version; nil when the secret has none.
func (t *Target) current(ctx context.Context) (*sm.GetSecretValueOutput, error) {
	out, err := t.api.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(t.secretID), VersionStage: aws.String(rotator.StageCurrent)})
	if err != nil {
		if errorCode(err) == "ResourceNotFoundException" {
			// Either no version yet or no secret: DescribeSecret tells.
			if _, derr := t.api.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(t.secretID)}); derr != nil {
				return nil, wrapErr("DescribeSecret", t.secretID, derr)
			}
			return nil, nil
		}
		return nil, wrapErr("GetSecretValue", t.secretID, err)
	}
	return out, nil
}

// Validate returns nil: nothing can be tested without writing the secret.
func (t *Target) Validate(context.Context, rotator.Credential) error { return nil }

// Push makes the secret's AWSCURRENT version hold cred: a no-op when it
// already does, otherwise a new version (AWSPREVIOUS follows the old one).
func (t *Target) Push(ctx context.Context, cred rotator.Credential) (rotator.PushResult, error) {
	value, err := t.render(cred)
	if err != nil {
		return rotator.PushResult{}, fmt.Errorf("push to %s: %w", t.name, err)
	}
	cur, err := t.current(ctx)
	if err != nil {
		return rotator.PushResult{}, fmt.Errorf("push to %s: %w", t.name, err)
	}
	if cur != nil && cur.SecretString != nil && *cur.SecretString == value {
		t.log.Info("secret already holds the token", zap.String("token_id", cred.TokenID), zap.String("version_id", aws.ToString(cur.VersionId)))
		return rotator.PushResult{}, nil
	}
	// A fresh VersionId; the SDK reuses it across its retries, and a retried
	// Push finds the value already current.
	vid := uuid.NewString()
	if _, err := t.api.PutSecretValue(ctx, &sm.PutSecretValueInput{
		SecretId:           aws.String(t.secretID),
		ClientRequestToken: aws.String(vid),
		SecretString:       aws.String(value),
		VersionStages:      []string{rotator.StageCurrent},
	}); err != nil {
		return rotator.PushResult{}, fmt.Errorf("push to %s: %w", t.name, wrapErr("PutSecretValue", t.secretID, err))
	}
	t.log.Info("wrote token to secret", zap.String("token_id", cred.TokenID), zap.String("version_id", vid), zap.String("format", t.format))
	return rotator.PushResult{}, nil
}

// Test reads the AWSCURRENT version back and checks that it holds cred.
func (t *Target) Test(ctx context.Context, cred rotator.Credential) error {
	cur, err := t.current(ctx)
	if err != nil {
		return fmt.Errorf("test %s: %w", t.name, err)
	}
	if cur == nil || cur.SecretString == nil {
		return fmt.Errorf("test %s: secret %s has no current string value", t.name, t.secretID)
	}
	vid := aws.ToString(cur.VersionId)
	var got rotator.Secret
	switch t.format {
	case FormatRaw:
		got = rotator.NewSecret(*cur.SecretString)
	default:
		var v targetValue
		if json.Unmarshal([]byte(*cur.SecretString), &v) != nil {
			return fmt.Errorf("test %s: the current version %s of %s is not in the json format", t.name, vid, t.secretID)
		}
		if v.SCIMEndpoint != cred.SCIMEndpoint {
			return fmt.Errorf("test %s: the current version %s of %s names SCIM endpoint %q, want %q", t.name, vid, t.secretID, v.SCIMEndpoint, cred.SCIMEndpoint)
		}
		got = rotator.NewSecret(v.Token)
	}
	if !got.Equal(cred.Token) {
		return fmt.Errorf("test %s: the current version %s of %s does not hold token %s", t.name, vid, t.secretID, cred.TokenID)
	}
	return nil
}

// Confirm returns nil at once: when a consumer of the secret syncs is not
// observable from here. Prove the token itself against the SCIM endpoint
// (the core's Prover) instead.
func (t *Target) Confirm(context.Context, rotator.ConfirmRequest) error { return nil }

const targetSystem = "secretsmanager-target"

// Check runs DescribeSecret.
func (t *Target) Check(ctx context.Context) []rotator.CheckResult {
	res := rotator.CheckResult{System: targetSystem, Target: t.name, Name: "describe secret " + t.secretID, Level: rotator.LevelFail}
	out, err := t.api.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(t.secretID)})
	if err != nil {
		res.Detail = wrapErr("DescribeSecret", t.secretID, err).Error()
		if errorCode(err) == "ResourceNotFoundException" {
			// The command ends the line, so that it can be pasted as printed.
			res.Fix = fmt.Sprintf("fix targets[].secretsmanager.secretId or create the secret the sync job reads: aws secretsmanager create-secret --name %s --region %s%s", t.secretID, t.region, endpointFlag(t.endpoint))
		} else {
			res.Fix = "allow secretsmanager:DescribeSecret, GetSecretValue and PutSecretValue on " + t.secretID +
				" (and kms:Decrypt, kms:GenerateDataKey if it uses a customer managed key)"
		}
		return []rotator.CheckResult{res}
	}
	res.Level = rotator.LevelOK
	res.Detail = fmt.Sprintf("%s, format %s", aws.ToString(out.ARN), t.format)
	return []rotator.CheckResult{res}
}

// Status reports the current version and when the secret last changed.
func (t *Target) Status(ctx context.Context) (rotator.SystemStatus, error) {
	out, err := t.api.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(t.secretID)})
	if err != nil {
		return rotator.SystemStatus{}, fmt.Errorf("status of %s: %w", t.name, wrapErr("DescribeSecret", t.secretID, err))
	}
	st := rotator.SystemStatus{System: targetSystem, Target: t.name}
	add := func(k string, v any) { st.Fields = append(st.Fields, rotator.Field{Key: k, Value: v}) }
	add("secretArn", aws.ToString(out.ARN))
	add("format", t.format)
	cur := ""
	for id, labels := range out.VersionIdsToStages {
		if slices.Contains(labels, rotator.StageCurrent) {
			cur = id
		}
	}
	if cur == "" {
		add("currentVersion", nil)
	} else {
		add("currentVersion", cur)
		// The version's creation is when it became current (Push writes a
		// new version straight to AWSCURRENT).
		in := &sm.ListSecretVersionIdsInput{SecretId: aws.String(t.secretID)}
		for {
			lv, err := t.api.ListSecretVersionIds(ctx, in)
			if err != nil {
				return rotator.SystemStatus{}, fmt.Errorf("status of %s: %w", t.name, wrapErr("ListSecretVersionIds", t.secretID, err))
			}
			for _, v := range lv.Versions {
				if aws.ToString(v.VersionId) == cur {
					add("currentSince", aws.ToTime(v.CreatedDate))
				}
			}
			if lv.NextToken == nil {
				break
			}
			in.NextToken = lv.NextToken
		}
	}
	add("lastChanged", aws.ToTime(out.LastChangedDate))
	return st, nil
}
