package secretsmanager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/internal/awsbase"
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
// back is pushing the old credential again. With a jsonKey only that key of
// the secret's JSON object changes; with a trigger the job's Lambda function
// is invoked after each push so that it syncs (and uses the token) now.
type Target struct {
	name     string
	api      api
	secretID string
	region   string
	endpoint string
	format   string
	jsonKey  string
	trigger  *trigger
	log      *zap.Logger
}

var (
	_ rotator.Target    = (*Target)(nil)
	_ rotator.Inspector = (*Target)(nil)
	_ rotator.Holder    = (*Target)(nil)
)

// NewTarget builds the target called name for cfg (cfg.Region is already
// defaulted by the config loader; an empty Format means raw unless JSONKey).
func NewTarget(ctx context.Context, name string, cfg TargetConfig, opts Options) (*Target, error) {
	c, err := newClient(ctx, cfg.Region, cfg.Endpoint, opts)
	if err != nil {
		return nil, fmt.Errorf("secretsmanager target %s: %w", name, err)
	}
	tg, err := newTarget(name, c, cfg, opts.logger())
	if err != nil {
		return nil, err
	}
	if tg.trigger, err = newTrigger(ctx, cfg, opts); err != nil {
		return nil, fmt.Errorf("secretsmanager target %s: trigger: %w", name, err)
	}
	return tg, nil
}

func newTarget(name string, c api, cfg TargetConfig, log *zap.Logger) (*Target, error) {
	if cfg.SecretID == "" {
		return nil, fmt.Errorf("secretsmanager target %s: secretId: required", name)
	}
	format := cfg.Format
	switch {
	case cfg.JSONKey != "" && format != "":
		return nil, fmt.Errorf("secretsmanager target %s: set only one of format and jsonKey", name)
	case cfg.JSONKey != "":
	case format == "":
		format = FormatRaw
	case format != FormatRaw && format != FormatJSON:
		return nil, fmt.Errorf("secretsmanager target %s: format must be %s or %s, not %q", name, FormatRaw, FormatJSON, cfg.Format)
	}
	return &Target{name: name, api: c, secretID: cfg.SecretID, region: cfg.Region, endpoint: cfg.Endpoint, format: format, jsonKey: cfg.JSONKey,
		log: log.With(zap.String("target", name), zap.String("secret", cfg.SecretID))}, nil
}

// Name is the configured name.
func (t *Target) Name() string { return t.name }

// Abilities: none beyond a target's (it shows what it holds: a rotator.Holder).
func (t *Target) Abilities() rotator.Abilities { return rotator.Abilities{} }

// layout names how the value is written, for logs, check and status.
func (t *Target) layout() string {
	if t.jsonKey != "" {
		return "jsonKey " + t.jsonKey
	}
	return "format " + t.format
}

// render is the value cred is written as, given the current value (nil when
// the secret has none); for a jsonKey, the current object with that key set.
func (t *Target) render(cred rotator.Credential, cur *sm.GetSecretValueOutput) (string, error) {
	if cred.Token.IsZero() {
		return "", errors.New("credential has no token")
	}
	switch {
	case t.jsonKey != "":
		obj, err := t.object(cur)
		if err != nil {
			return "", err
		}
		tok, err := json.Marshal(cred.Token.Reveal())
		if err != nil {
			return "", errors.New("cannot encode the token as JSON")
		}
		obj[t.jsonKey] = tok
		b, err := json.Marshal(obj)
		if err != nil {
			return "", errors.New("cannot encode the secret's JSON object")
		}
		return string(b), nil
	case t.format == FormatRaw:
		return cred.Token.Reveal(), nil
	}
	b, err := json.Marshal(targetValue{Token: cred.Token.Reveal(), SCIMEndpoint: cred.SCIMEndpoint, TokenID: cred.TokenID})
	return string(b), err
}

// NotJSONObjectError is a jsonKey target whose secret holds no JSON object:
// the rotator never overwrites it. It names the version, never the value.
type NotJSONObjectError struct {
	SecretID, VersionID, JSONKey, Reason string
}

func (e *NotJSONObjectError) Error() string {
	return fmt.Sprintf("the current value of secret %s (version %s) %s; jsonKey %s writes the token into an existing JSON object, so the secret was left unchanged: store a JSON object in it (e.g. {\"%s\": \"\"} beside the job's other keys)",
		e.SecretID, orNone(e.VersionID), e.Reason, e.JSONKey, e.JSONKey)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// object decodes the current value as a JSON object whose values stay as
// they are (byte for byte). Decoding errors are not quoted: their text can
// hold a piece of the value.
func (t *Target) object(cur *sm.GetSecretValueOutput) (map[string]json.RawMessage, error) {
	e := &NotJSONObjectError{SecretID: t.secretID, JSONKey: t.jsonKey}
	if cur != nil {
		e.VersionID = aws.ToString(cur.VersionId)
	}
	if cur == nil || cur.SecretString == nil {
		e.Reason = "is missing (no current string value)"
		return nil, e
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(*cur.SecretString), &obj); err != nil || obj == nil {
		e.Reason = "is not a JSON object"
		return nil, e
	}
	return obj, nil
}

// heldToken is the token the current value holds in the target's layout
// (zero when a jsonKey is absent or null). Its errors never quote a value.
func (t *Target) heldToken(cur *sm.GetSecretValueOutput) (rotator.Secret, error) {
	if cur == nil || cur.SecretString == nil {
		return rotator.Secret{}, fmt.Errorf("secret %s has no current string value", t.secretID)
	}
	vid := aws.ToString(cur.VersionId)
	switch {
	case t.jsonKey != "":
		obj, err := t.object(cur)
		if err != nil {
			return rotator.Secret{}, err
		}
		raw, ok := obj[t.jsonKey]
		if !ok || string(raw) == "null" {
			return rotator.Secret{}, nil
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return rotator.Secret{}, fmt.Errorf("key %s of the current version %s of %s is not a JSON string", t.jsonKey, vid, t.secretID)
		}
		return rotator.NewSecret(s), nil
	case t.format == FormatRaw:
		return rotator.NewSecret(*cur.SecretString), nil
	}
	var v targetValue
	if json.Unmarshal([]byte(*cur.SecretString), &v) != nil {
		return rotator.Secret{}, fmt.Errorf("the current version %s of %s is not in the json format", vid, t.secretID)
	}
	return rotator.NewSecret(v.Token), nil
}

// current reads the AWSCURRENT version; nil when the secret has none.
func (t *Target) current(ctx context.Context) (*sm.GetSecretValueOutput, error) {
	out, err := t.api.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(t.secretID), VersionStage: aws.String(rotator.StageCurrent)})
	if err != nil {
		if awsbase.Code(err) == "ResourceNotFoundException" {
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
// already does (by this package's earlier push, or as the value read shows),
// otherwise a new version (AWSPREVIOUS follows the old one).
// Then it invokes the trigger, if any (also after a no-op: a retried push
// must still make the job sync).
func (t *Target) Push(ctx context.Context, cred rotator.Credential) (rotator.PushResult, error) {
	if err := t.write(ctx, cred); err != nil {
		return rotator.PushResult{}, fmt.Errorf("push to %s: %w", t.name, err)
	}
	if t.trigger != nil {
		if err := t.trigger.invoke(ctx, lambdatypes.InvocationTypeEvent); err != nil {
			return rotator.PushResult{}, fmt.Errorf("push to %s: the secret holds token %s, but %w", t.name, cred.TokenID, err)
		}
		t.log.Info("invoked the secret's consumer", zap.String("token_id", cred.TokenID), zap.String("lambda_function", t.trigger.function))
	}
	return rotator.PushResult{}, nil
}

// pushNS derives the VersionId a credential is written under.
var pushNS = uuid.MustParse("5e0d3c2b-7a41-4c9e-b8f2-1d6a0e9c4b73")

// write makes AWSCURRENT hold cred (see Push). Without a jsonKey the value
// depends on cred alone, so it is written without reading the secret first,
// under a VersionId derived from the secret, the token id, the layout and
// the SCIM endpoint (none of them secret): a second push of the same
// credential is a no-op Secrets Manager answers with the version's labels.
// Only when that version is not current (pushed before, replaced since) is
// the secret read and written as with a jsonKey.
func (t *Target) write(ctx context.Context, cred rotator.Credential) error {
	if t.jsonKey == "" && !cred.Token.IsZero() {
		value, err := t.render(cred, nil)
		if err != nil {
			return err
		}
		vid := uuid.NewSHA1(pushNS, []byte(strings.Join([]string{t.secretID, cred.TokenID, t.layout(), cred.SCIMEndpoint}, "\x00"))).String()
		out, err := t.api.PutSecretValue(ctx, &sm.PutSecretValueInput{
			SecretId:           aws.String(t.secretID),
			ClientRequestToken: aws.String(vid),
			SecretString:       aws.String(value),
			VersionStages:      []string{rotator.StageCurrent},
		})
		switch {
		case err == nil && slices.Contains(out.VersionStages, rotator.StageCurrent):
			t.log.Info("wrote token to secret", zap.String("token_id", cred.TokenID), zap.String("version_id", vid), zap.String("layout", t.layout()))
			return nil
		case err != nil && awsbase.Code(err) != "ResourceExistsException" && awsbase.Code(err) != "ResourceNotFoundException":
			return wrapErr("PutSecretValue", t.secretID, err)
		}
		// Pushed before and replaced since, or no such secret (the read
		// below says which): read, then write as a jsonKey does.
	}
	return t.readWrite(ctx, cred)
}

// readWrite reads the current value, and writes cred unless it holds it.
func (t *Target) readWrite(ctx context.Context, cred rotator.Credential) error {
	cur, err := t.current(ctx)
	if err != nil {
		return err
	}
	if held, err := t.heldToken(cur); err == nil && held.Equal(cred.Token) && t.format != FormatJSON {
		t.log.Info("secret already holds the token", zap.String("token_id", cred.TokenID), zap.String("version_id", aws.ToString(cur.VersionId)))
		return nil
	}
	value, err := t.render(cred, cur)
	if err != nil {
		return err
	}
	if cur != nil && cur.SecretString != nil && *cur.SecretString == value {
		t.log.Info("secret already holds the token", zap.String("token_id", cred.TokenID), zap.String("version_id", aws.ToString(cur.VersionId)))
		return nil
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
		return wrapErr("PutSecretValue", t.secretID, err)
	}
	t.log.Info("wrote token to secret", zap.String("token_id", cred.TokenID), zap.String("version_id", vid), zap.String("layout", t.layout()))
	return nil
}

// Test reads the AWSCURRENT version back and checks that it holds cred.
func (t *Target) Test(ctx context.Context, cred rotator.Credential) error {
	cur, err := t.current(ctx)
	if err != nil {
		return fmt.Errorf("test %s: %w", t.name, err)
	}
	got, err := t.heldToken(cur)
	if err != nil {
		return fmt.Errorf("test %s: %w", t.name, err)
	}
	vid := aws.ToString(cur.VersionId)
	if t.format == FormatJSON {
		var v targetValue
		if json.Unmarshal([]byte(*cur.SecretString), &v) == nil && v.SCIMEndpoint != cred.SCIMEndpoint {
			return fmt.Errorf("test %s: the current version %s of %s names SCIM endpoint %q, want %q", t.name, vid, t.secretID, v.SCIMEndpoint, cred.SCIMEndpoint)
		}
	}
	if !got.Equal(cred.Token) {
		return fmt.Errorf("test %s: the current version %s of %s does not hold token %s", t.name, vid, t.secretID, cred.TokenID)
	}
	return nil
}

// Holds reads the secret back and reports whether it holds cred's token
// (rotator.Holder), comparing without revealing either value. A value that
// is not in the target's layout holds no token; only a failed read is an
// error.
func (t *Target) Holds(ctx context.Context, cred rotator.Credential) (bool, error) {
	cur, err := t.current(ctx)
	if err != nil {
		return false, fmt.Errorf("read back %s: %w", t.name, err)
	}
	got, err := t.heldToken(cur)
	if err != nil || got.IsZero() {
		return false, nil
	}
	return got.Equal(cred.Token), nil
}

// Confirm returns nil at once: when a consumer of the secret syncs is not
// observable from here. Prove the token itself against the SCIM endpoint
// (the core's Prover) instead.
func (t *Target) Confirm(context.Context, rotator.ConfirmRequest) error { return nil }

// Check runs DescribeSecret; with a jsonKey it also reads the value to see
// that it is a JSON object; with a trigger it invokes the function as a
// DryRun, which checks the permission without running it.
func (t *Target) Check(ctx context.Context) []rotator.CheckResult {
	res := rotator.CheckResult{System: targetSystem, Target: t.name, Name: "describe secret " + t.secretID, Level: rotator.LevelFail}
	out, err := t.api.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(t.secretID)})
	if err != nil {
		err = wrapErr("DescribeSecret", t.secretID, err)
		res.Detail = err.Error()
		if awsbase.Code(err) == "ResourceNotFoundException" {
			// The command ends the line, so that it can be pasted as printed.
			res.Fix = fmt.Sprintf("fix targets[].secretsmanager.secretId or create the secret the sync job reads: aws secretsmanager create-secret --name %s --region %s%s", t.secretID, t.region, endpointFlag(t.endpoint))
		} else {
			res.Fix = fixFor(err, "Secrets Manager", "allow secretsmanager:DescribeSecret, GetSecretValue and PutSecretValue on "+t.secretID+
				" (and kms:Decrypt, kms:GenerateDataKey if it uses a customer managed key)", whereText(t.region, t.endpoint))
		}
		return []rotator.CheckResult{res}
	}
	res.Level = rotator.LevelOK
	res.Detail = fmt.Sprintf("%s, %s", aws.ToString(out.ARN), t.layout())
	results := []rotator.CheckResult{res}
	if t.jsonKey != "" {
		results = append(results, t.checkObject(ctx))
	}
	if t.trigger != nil {
		results = append(results, t.checkTrigger(ctx))
	}
	return results
}

// checkObject reads the value: a jsonKey needs a JSON object to write into.
func (t *Target) checkObject(ctx context.Context) rotator.CheckResult {
	res := rotator.CheckResult{System: targetSystem, Target: t.name, Name: "jsonKey " + t.jsonKey, Level: rotator.LevelFail}
	cur, err := t.current(ctx)
	if err != nil {
		res.Detail = err.Error()
		res.Fix = fixFor(err, "Secrets Manager", "allow secretsmanager:GetSecretValue on "+t.secretID, whereText(t.region, t.endpoint))
		return res
	}
	if _, err := t.object(cur); err != nil {
		res.Detail = err.Error()
		res.Fix = fmt.Sprintf("store a JSON object in %s (the job's other keys beside %q)", t.secretID, t.jsonKey)
		return res
	}
	res.Level = rotator.LevelOK
	res.Detail = fmt.Sprintf("the current value is a JSON object; each rotation sets its key %q and keeps the others", t.jsonKey)
	return res
}

// checkTrigger invokes the function as a DryRun.
func (t *Target) checkTrigger(ctx context.Context) rotator.CheckResult {
	tr := t.trigger
	res := rotator.CheckResult{System: targetSystem, Target: t.name, Name: "trigger lambda " + tr.function, Level: rotator.LevelFail}
	if err := tr.invoke(ctx, lambdatypes.InvocationTypeDryRun); err != nil {
		res.Detail = err.Error()
		res.Fix = fixFor(err, "Lambda", "allow the rotator's role "+tr.statement(), "trigger.lambdaFunction and trigger.region ("+tr.region+")")
		return res
	}
	res.Level = rotator.LevelOK
	res.Detail = fmt.Sprintf("the rotator may invoke %s in %s (DryRun): each push makes it sync at once", tr.function, tr.region)
	return res
}

const targetSystem = "secretsmanager-target"

// Status reports the current version and when the secret last changed.
func (t *Target) Status(ctx context.Context) (rotator.SystemStatus, error) {
	out, err := t.api.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(t.secretID)})
	if err != nil {
		return rotator.SystemStatus{}, fmt.Errorf("status of %s: %w", t.name, wrapErr("DescribeSecret", t.secretID, err))
	}
	st := rotator.SystemStatus{System: targetSystem, Target: t.name}
	add := func(k string, v any) { st.Fields = append(st.Fields, rotator.Field{Key: k, Value: v}) }
	add("secretArn", aws.ToString(out.ARN))
	if t.jsonKey != "" {
		add("jsonKey", t.jsonKey)
	} else {
		add("format", t.format)
	}
	if t.trigger != nil {
		add("triggerLambdaFunction", t.trigger.function)
	}
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
