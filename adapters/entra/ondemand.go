package entra

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/scim-rotator/scim-rotator/rotator"
)

// provisionCanary provisions the canary on demand and reads the verdict.
func (t *Target) provisionCanary(ctx context.Context, jobID string, c *Canary, token string) (bool, string, error) {
	rule, err := t.rule(ctx, jobID)
	if err != nil {
		return false, "", err
	}
	key, value, err := t.api.ProvisionOnDemand(ctx, jobID, rule, c.ObjectID, c.ObjectType)
	if err != nil {
		return false, "", graphErr("provision the canary on demand", err, token)
	}
	detail, err := onDemandVerdict(key, value)
	if err != nil {
		return false, "", fmt.Errorf("canary %s %s: %w", c.ObjectType, c.ObjectID, redact(err, token))
	}
	return true, fmt.Sprintf("canary %s %s: %s", c.ObjectType, c.ObjectID, detail), nil
}

// rule returns the job's provisionOnDemand rule id, read once from its schema.
func (t *Target) rule(ctx context.Context, jobID string) (string, error) {
	t.mu.Lock()
	r := t.ruleID
	t.mu.Unlock()
	if r != "" {
		return r, nil
	}
	ids, err := t.api.RuleIDs(ctx, jobID)
	if err != nil {
		return "", graphErr("read the job's synchronization rules (schema)", err)
	}
	if len(ids) == 0 {
		return "", fmt.Errorf("job %s has no synchronization rule to provision the canary with", jobID)
	}
	// INFERRED: an outbound app (AWS IAM Identity Center) has one rule;
	// with several, the first is used.
	t.mu.Lock()
	t.ruleID = ids[0]
	t.mu.Unlock()
	return ids[0], nil
}

// redact wraps err with the token value removed from its text, keeping
// errors.Is on it.
func redact(err error, token string) error {
	if token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	return &redactedErr{msg: strings.ReplaceAll(err.Error(), token, "[redacted]"), err: err}
}

type redactedErr struct {
	msg string
	err error
}

func (e *redactedErr) Error() string { return e.msg }
func (e *redactedErr) Unwrap() error { return e.err }

// onDemandKey and onDemandValue are the JSON documents provisionOnDemand
// returns as strings in its key and value.
type onDemandKey struct {
	Result  string `json:"result"`
	Details struct {
		ErrorCode    string `json:"errorCode"`
		ErrorMessage string `json:"errorMessage"`
	} `json:"details"`
}

type onDemandValue struct {
	ProvisioningSteps []struct {
		Name        string `json:"name"`
		Type        string `json:"type"`
		Status      string `json:"status"`
		Description string `json:"description"`
	} `json:"provisioningSteps"`
	StatusInfo struct {
		Status    string `json:"status"`
		ErrorCode string `json:"errorCode"`
		Reason    string `json:"reason"`
	} `json:"statusInfo"`
}

// onDemandVerdict decides whether a provisionOnDemand answer proves the
// token: Success, or Skipped, with no failed step. A failure mentioning
// credentials wraps rotator.ErrTokenRejected.
//
// INFERRED: a Skipped result proves the token only when the engine reached
// the SCIM endpoint, i.e. a Matching step succeeded (Graph's documented
// RedundantExport example has one). A skip before that (the canary is not
// assigned or out of scope) proves nothing and fails with the reason.
func onDemandVerdict(key, value string) (string, error) {
	var k onDemandKey
	if err := json.Unmarshal([]byte(key), &k); err != nil {
		return "", fmt.Errorf("unreadable provisionOnDemand result %q", truncate(key))
	}
	var v onDemandValue
	if value != "" {
		if err := json.Unmarshal([]byte(value), &v); err != nil {
			return "", fmt.Errorf("unreadable provisionOnDemand steps")
		}
	}
	matched := false
	for _, s := range v.ProvisioningSteps {
		st := strings.ToLower(s.Status)
		if st == "failure" || st == "failed" {
			err := fmt.Errorf("step %s (%s) failed: %s", s.Name, s.Type, s.Description)
			if mentionsCredentials(k.Details.ErrorCode, s.Description+" "+k.Details.ErrorMessage) {
				return "", fmt.Errorf("%w: %w", err, rotator.ErrTokenRejected)
			}
			return "", err
		}
		if strings.EqualFold(s.Type, "Matching") && st == "success" {
			matched = true
		}
	}
	why := strings.TrimSpace(strings.Trim(k.Details.ErrorCode+": "+k.Details.ErrorMessage, ": "))
	switch strings.ToLower(k.Result) {
	case "success":
		return "provisioned on demand (Success)", nil
	case "skipped":
		if matched {
			return "provisioned on demand (Skipped: " + why + ")", nil
		}
		return "", fmt.Errorf("skipped before the SCIM endpoint was contacted (%s): assign the canary to the application and make sure it is in provisioning scope", why)
	}
	err := fmt.Errorf("provisioning on demand ended %q (%s)", k.Result, why)
	if mentionsCredentials(k.Details.ErrorCode, k.Details.ErrorMessage) {
		return "", fmt.Errorf("%w: %w", err, rotator.ErrTokenRejected)
	}
	return "", err
}

func truncate(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}
