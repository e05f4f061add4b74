package secretsmanager

import (
	"strings"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

const targetSecret = "ssosync/SCIMAccessToken"

func (e *env) target(format string) *Target {
	e.t.Helper()
	tg, err := NewTarget(e.t.Context(), "sync", config.SecretsManagerTarget{SecretID: targetSecret, Region: testRegion, Endpoint: e.srv.URL, Format: format}, e.opts())
	if err != nil {
		e.t.Fatal(err)
	}
	return tg
}

func cred(id, value string) rotator.Credential {
	return rotator.Credential{SCIMEndpoint: "https://scim.eu-west-1.amazonaws.com/abc/scim/v2/", TokenID: id, Token: rotator.NewSecret(canary + "-" + value)}
}

func TestTargetPushTestRollback(t *testing.T) {
	tests := []struct {
		format string
		want   func(c rotator.Credential) string
	}{
		{format: "", want: func(c rotator.Credential) string { return c.Token.Reveal() }},
		{format: FormatRaw, want: func(c rotator.Credential) string { return c.Token.Reveal() }},
		{format: FormatJSON, want: func(c rotator.Credential) string {
			return `{"token":"` + c.Token.Reveal() + `","scimEndpoint":"` + c.SCIMEndpoint + `","tokenId":"` + c.TokenID + `"}`
		}},
	}
	for _, tc := range tests {
		t.Run("format="+tc.format, func(t *testing.T) {
			e := newEnv(t)
			ctx := t.Context()
			e.fake.CreateSecret(targetSecret)
			tg := e.target(tc.format)
			if tg.Name() != "sync" {
				t.Fatalf("Name = %q", tg.Name())
			}
			old, next := cred("tok-old", "old"), cred("tok-new", "new")

			e.must(tg.Validate(ctx, next))
			_, err := tg.Push(ctx, old)
			e.must(err)
			if v, _ := e.fake.Value(targetSecret, rotator.StageCurrent); v != tc.want(old) {
				t.Fatalf("AWSCURRENT = %q, want %q", v, tc.want(old))
			}
			res, err := tg.Push(ctx, next)
			e.must(err)
			if res.Handoff != nil {
				t.Fatal("a secret needs no hand-off")
			}
			// Pushing the same credential again writes nothing.
			_, err = tg.Push(ctx, next)
			e.must(err)
			if n := e.fake.VersionCount(targetSecret); n != 2 {
				t.Fatalf("versions = %d, want 2", n)
			}
			if v, _ := e.fake.Value(targetSecret, rotator.StagePrevious); v != tc.want(old) {
				t.Fatalf("AWSPREVIOUS = %q, want the old value", v)
			}
			e.must(tg.Test(ctx, next))
			err = tg.Test(ctx, old)
			e.note(err)
			if err == nil || !strings.Contains(err.Error(), "does not hold token tok-old") {
				t.Fatalf("Test with the old credential: %v", err)
			}
			e.must(tg.Confirm(ctx, rotator.ConfirmRequest{Credential: next, Since: time.Now(), Deadline: time.Now()}))

			// Rollback: pushing the old credential moves AWSCURRENT back.
			_, err = tg.Push(ctx, old)
			e.must(err)
			if v, _ := e.fake.Value(targetSecret, rotator.StageCurrent); v != tc.want(old) {
				t.Fatal("AWSCURRENT does not hold the old value after rollback")
			}
			if v, _ := e.fake.Value(targetSecret, rotator.StagePrevious); v != tc.want(next) {
				t.Fatal("AWSPREVIOUS does not hold the new value after rollback")
			}
			e.must(tg.Test(ctx, old))

			st, err := tg.Status(ctx)
			e.must(err)
			e.note(st)
			if !hasField(st, "currentVersion", "-") || !hasField(st, "currentSince", "T") {
				t.Fatalf("status = %+v", st)
			}
			checks := tg.Check(ctx)
			e.note(checks)
			if len(checks) != 1 || checks[0].Level != rotator.LevelOK {
				t.Fatalf("checks = %+v", checks)
			}
		})
	}
}

func TestTargetFailures(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()

	// Missing secret: Check says how to create it; Push fails clearly.
	tg := e.target(FormatJSON)
	checks := tg.Check(ctx)
	e.note(checks)
	if len(checks) != 1 || !checks[0].Failed() || !strings.HasSuffix(checks[0].Fix, ": aws secretsmanager create-secret --name "+targetSecret+" --region "+testRegion+" --endpoint-url "+e.srv.URL) {
		t.Fatalf("checks on a missing secret = %+v", checks)
	}
	_, err := tg.Push(ctx, cred("tok", "x"))
	e.note(err)
	if err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Fatalf("Push to a missing secret: %v", err)
	}

	// An empty secret: Test fails, Push writes the first version.
	e.fake.CreateSecret(targetSecret)
	err = tg.Test(ctx, cred("tok", "x"))
	e.note(err)
	if err == nil {
		t.Fatal("Test of an empty secret succeeded")
	}
	st, err := tg.Status(ctx)
	e.must(err)
	if !hasField(st, "currentVersion", "none") {
		t.Fatalf("status of an empty secret = %+v", st)
	}

	// A raw value where json is expected.
	e.fake.Put(targetSecret, canary+"-raw")
	err = tg.Test(ctx, cred("tok", "raw"))
	e.note(err)
	if err == nil || !strings.Contains(err.Error(), "not in the json format") {
		t.Fatalf("Test of a raw value in json format: %v", err)
	}

	// Retried faults, and an answer lost after the write: one new version.
	before := e.fake.VersionCount(targetSecret)
	e.faults.Inject("secretsmanager:GetSecretValue", sandbox.Fault{Status: 500})
	e.faults.Inject("secretsmanager:PutSecretValue", sandbox.Fault{Status: 429}, sandbox.Fault{Status: 500, After: true})
	_, err = tg.Push(ctx, cred("tok", "y"))
	e.must(err)
	if n := e.fake.VersionCount(targetSecret); n != before+1 {
		t.Fatalf("versions = %d, want %d", n, before+1)
	}
	e.must(tg.Test(ctx, cred("tok", "y")))

	_, err = NewTarget(ctx, "bad", config.SecretsManagerTarget{SecretID: "x", Region: testRegion, Format: "yaml"}, e.opts())
	if err == nil || !strings.Contains(err.Error(), "format must be raw or json") {
		t.Fatalf("unknown format: %v", err)
	}
}
