package secretsmanager

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// The ...SecretsManager keys are read with the official SDK against the
// sandbox's Secrets Manager: the whole value, one JSON key, and every way a
// read fails, each naming the key and never the value.
func TestSecretReader(t *testing.T) {
	e := newEnv(t)
	const key = "notify.slack.webhookUrlSecretsManager"
	e.fake.Put("slack/webhook", canary+"-https://hooks.slack.com/services/T/B/X")
	e.fake.Put("okta/credentials", `{"apiToken":"`+canary+`-okta","other":"x","number":42}`)
	e.fake.Put("okta/plain", canary+"-not-json")
	e.fake.Put("denied/secret", canary+"-denied")
	e.faults.Inject("secretsmanager:GetSecretValue", sandbox.Fault{Status: 403, Repeat: true,
		Match: func(_ *http.Request, body []byte) bool {
			return strings.Contains(string(body), `"SecretId":"denied/secret"`)
		}})
	r := NewSecretReader(testRegion, e.opts())
	ref := func(id, jsonKey string) config.SecretsManagerRef {
		return config.SecretsManagerRef{SecretID: id, JSONKey: jsonKey, Endpoint: e.srv.URL}
	}

	for _, tc := range []struct {
		name string
		ref  config.SecretsManagerRef
		want string
		// err is what the error says; errKey the config key it names.
		err, errKey string
		denied      bool
	}{
		{name: "whole value", ref: ref("slack/webhook", ""), want: canary + "-https://hooks.slack.com/services/T/B/X"},
		{name: "json key", ref: ref("okta/credentials", "apiToken"), want: canary + "-okta"},
		{name: "missing json key", ref: ref("okta/credentials", "token"), errKey: key + ".jsonKey",
			err: `secret "okta/credentials" has no JSON key "token"`},
		{name: "json key not a string", ref: ref("okta/credentials", "number"), errKey: key + ".jsonKey",
			err: `the JSON key "number" of secret "okta/credentials" is not a string`},
		{name: "not a JSON object", ref: ref("okta/plain", "apiToken"), errKey: key + ".jsonKey",
			err: `secret "okta/plain" is not a JSON object, so it has no key "apiToken"`},
		{name: "no such secret", ref: ref("nope", ""), errKey: key,
			err: "ResourceNotFoundException"},
		{name: "denied", ref: ref("denied/secret", ""), errKey: key, denied: true,
			err: "allow secretsmanager:GetSecretValue on this secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.ReadSecretsManager(t.Context(), key, tc.ref)
			e.note(err)
			if tc.err == "" {
				if err != nil || got != tc.want {
					t.Fatalf("read %+v: %v (value matches: %t)", tc.ref, err, got == tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("read %+v: no error", tc.ref)
			}
			if !strings.HasPrefix(err.Error(), tc.errKey+": ") || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %q, want it to start with %q and say %q", err, tc.errKey+": ", tc.err)
			}
			if rotator.IsTransient(err) {
				t.Errorf("%q is marked transient", err)
			}
			if tc.denied && !strings.Contains(err.Error(), "AccessDenied") {
				t.Errorf("denied read: %q does not say AccessDenied", err)
			}
		})
	}

	t.Run("through ReadSecretFrom", func(t *testing.T) {
		src := config.SecretSource{SecretsManager: &config.SecretsManagerRef{SecretID: "okta/credentials", JSONKey: "apiToken", Endpoint: e.srv.URL}}
		got, err := config.ReadSecretFrom(t.Context(), "targets[1].okta.apiToken", src, r)
		e.note(err)
		if err != nil || got != canary+"-okta" {
			t.Fatalf("ReadSecretFrom: %v", err)
		}
		e.fake.Put("empty/secret", "  \n")
		src.SecretsManager = &config.SecretsManagerRef{SecretID: "empty/secret", Endpoint: e.srv.URL}
		_, err = config.ReadSecretFrom(t.Context(), "targets[1].okta.apiToken", src, r)
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Key != "targets[1].okta.apiTokenSecretsManager" || !strings.Contains(ce.Msg, "is empty") {
			t.Fatalf("an empty secret: %v", err)
		}
	})

	t.Run("throttled, the SDK's retries exhausted: transient", func(t *testing.T) {
		e.faults.Clear()
		e.faults.Inject("secretsmanager:GetSecretValue", sandbox.Fault{Status: 429}, sandbox.Fault{Status: 429}, sandbox.Fault{Status: 429})
		_, err := r.ReadSecretsManager(t.Context(), key, ref("slack/webhook", ""))
		e.note(err)
		if !rotator.IsTransient(err) || !strings.HasPrefix(err.Error(), key+": ") {
			t.Fatalf("throttled read: %v", err)
		}
	})
}
