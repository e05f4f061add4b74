package secretsmanager

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/rotator"
)

const targetSecret = "ssosync/SCIMAccessToken"

func (e *env) target(format string) *Target {
	e.t.Helper()
	return e.targetFor(TargetConfig{SecretID: targetSecret, Region: testRegion, Endpoint: e.srv.URL, Format: format})
}

func (e *env) targetFor(cfg TargetConfig) *Target {
	e.t.Helper()
	opts := e.opts()
	// The trigger's client, too, retries without waiting.
	opts.lambdaOptions = []func(*lambda.Options){func(o *lambda.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		})
	}}
	tg, err := NewTarget(e.t.Context(), "sync", cfg, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return tg
}

// assertHeld asserts that the target holds held and not other, by Test and
// by Holds.
func (e *env) assertHeld(tg *Target, held, other rotator.Credential) {
	e.t.Helper()
	e.must(tg.Test(e.t.Context(), held))
	e.holds(tg, held, true)
	e.holds(tg, other, false)
	err := tg.Test(e.t.Context(), other)
	e.note(err)
	if err == nil || !strings.Contains(err.Error(), "does not hold token "+other.TokenID) {
		e.t.Fatalf("Test with the other credential: %v", err)
	}
}

// holds asserts what Holds reports for c.
func (e *env) holds(tg *Target, c rotator.Credential, want bool) {
	e.t.Helper()
	got, err := tg.Holds(e.t.Context(), c)
	e.must(err)
	if got != want {
		e.t.Fatalf("Holds(%s) = %v, want %v", c.TokenID, got, want)
	}
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
			e.assertHeld(tg, next, old)
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
			e.assertHeld(tg, old, next)

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

	_, err = NewTarget(ctx, "bad", TargetConfig{SecretID: "x", Region: testRegion, Format: "yaml"}, e.opts())
	if err == nil || !strings.Contains(err.Error(), "format must be raw or json") {
		t.Fatalf("unknown format: %v", err)
	}
}

// jsonKey: the token goes into one key of the secret's JSON object; every
// other key stays as it was; rollback restores the key; a push of the value
// already there writes nothing.
func TestTargetJSONKey(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	old, next := cred("tok-old", "old"), cred("tok-new", "new")
	others := `"clientId":"terraform-managed","nested":{"a":[1,2,3],"b":null},"n":42`
	e.fake.Put(targetSecret, `{"scimToken":"`+old.Token.Reveal()+`",`+others+`}`)
	tg := e.targetFor(TargetConfig{SecretID: targetSecret, Region: testRegion, Endpoint: e.srv.URL, JSONKey: "scimToken"})

	want := func(c rotator.Credential) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(`{"scimToken":"`+c.Token.Reveal()+`",`+others+`}`), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	current := func() map[string]any {
		t.Helper()
		v, _ := e.fake.Value(targetSecret, rotator.StageCurrent)
		var m map[string]any
		if err := json.Unmarshal([]byte(v), &m); err != nil {
			t.Fatal("the secret is no longer a JSON object")
		}
		return m
	}

	e.holds(tg, old, true)
	e.holds(tg, next, false)
	_, err := tg.Push(ctx, old)
	e.must(err)
	if n := e.fake.VersionCount(targetSecret); n != 1 {
		t.Fatalf("pushing the value already there wrote a version (%d versions)", n)
	}
	_, err = tg.Push(ctx, next)
	e.must(err)
	if got := current(); !reflect.DeepEqual(got, want(next)) {
		t.Fatal("after the push the object is not the old one with the new token")
	}
	_, err = tg.Push(ctx, next)
	e.must(err)
	if n := e.fake.VersionCount(targetSecret); n != 2 {
		t.Fatalf("versions = %d, want 2 (the second push is a no-op)", n)
	}
	e.assertHeld(tg, next, old)

	// Rollback.
	_, err = tg.Push(ctx, old)
	e.must(err)
	if got := current(); !reflect.DeepEqual(got, want(old)) {
		t.Fatal("the rollback did not restore the key's previous value")
	}
	e.assertHeld(tg, old, next)

	// A key not there yet is added; the others stay.
	e.fake.Put(targetSecret, `{"clientId":"terraform-managed"}`)
	e.holds(tg, next, false)
	_, err = tg.Push(ctx, next)
	e.must(err)
	if got := current(); got["clientId"] != "terraform-managed" || got["scimToken"] != next.Token.Reveal() {
		t.Fatal("the key was not added beside the others")
	}

	checks := tg.Check(ctx)
	e.note(checks)
	if len(checks) != 2 || checks[0].Failed() || checks[1].Failed() || !strings.Contains(checks[0].Detail, "jsonKey scimToken") {
		t.Fatalf("checks = %+v", checks)
	}
	st, err := tg.Status(ctx)
	e.must(err)
	e.note(st)
	if !hasField(st, "jsonKey", "scimToken") {
		t.Fatalf("status = %+v", st)
	}
}

// A jsonKey target whose secret holds no JSON object is never overwritten,
// and its value is never quoted.
func TestTargetJSONKeyNotAnObject(t *testing.T) {
	values := map[string]string{
		"raw token":   canary + "-raw-token",
		"JSON string": `"` + canary + `-string"`,
		"JSON array":  `["` + canary + `-array"]`,
		"broken JSON": `{"scimToken": ` + canary + `}`,
		"JSON null":   `null`,
	}
	for name, value := range values {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.fake.Put(targetSecret, value)
			tg := e.targetFor(TargetConfig{SecretID: targetSecret, Region: testRegion, Endpoint: e.srv.URL, JSONKey: "scimToken"})
			_, err := tg.Push(t.Context(), cred("tok", "x"))
			e.note(err)
			var nj *NotJSONObjectError
			if !errors.As(err, &nj) || rotator.IsTransient(err) || !strings.Contains(err.Error(), "is not a JSON object") || !strings.Contains(err.Error(), "left unchanged") {
				t.Fatalf("Push = %v; want a permanent NotJSONObjectError", err)
			}
			if n := e.fake.VersionCount(targetSecret); n != 1 {
				t.Fatalf("the secret was written (%d versions)", n)
			}
			if v, _ := e.fake.Value(targetSecret, rotator.StageCurrent); v != value {
				t.Fatal("the secret's value changed")
			}
			ok, err := tg.Holds(t.Context(), cred("tok", "x"))
			e.must(err)
			if ok {
				t.Fatal("Holds = true for a value that is not an object")
			}
			err = tg.Test(t.Context(), cred("tok", "x"))
			e.note(err)
			if err == nil {
				t.Fatal("Test succeeded")
			}
			checks := tg.Check(t.Context())
			e.note(checks)
			if len(checks) != 2 || !checks[1].Failed() || !strings.Contains(checks[1].Fix, "store a JSON object") {
				t.Fatalf("checks = %+v", checks)
			}
		})
	}
	t.Run("no value yet", func(t *testing.T) {
		e := newEnv(t)
		e.fake.CreateSecret(targetSecret)
		tg := e.targetFor(TargetConfig{SecretID: targetSecret, Region: testRegion, Endpoint: e.srv.URL, JSONKey: "scimToken"})
		_, err := tg.Push(t.Context(), cred("tok", "x"))
		e.note(err)
		var nj *NotJSONObjectError
		if !errors.As(err, &nj) || e.fake.VersionCount(targetSecret) != 0 {
			t.Fatalf("Push = %v; want a NotJSONObjectError and no version", err)
		}
	})
}

// triggerEnv adds an Identity Center SCIM endpoint and a Lambda fake whose
// function "ssosync" reads the target secret.
type triggerEnv struct {
	*env
	ic     *sandbox.IdentityCenter
	lambda *sandbox.Lambda
	lsrv   *httptest.Server
}

func newTriggerEnv(t *testing.T, jsonKey string) *triggerEnv {
	e := &triggerEnv{env: newEnv(t)}
	e.ic = sandbox.NewIdentityCenter(e.faults, testRegion, "d-1234567890", nil)
	icSrv := httptest.NewTLSServer(e.ic)
	t.Cleanup(icSrv.Close)
	e.ic.SetBaseURL(icSrv.URL)
	e.lambda = sandbox.NewLambda(e.faults, testRegion, e.fake, e.ic.SCIMEndpoint, icSrv.Client())
	e.lambda.AddConsumer("ssosync", targetSecret, jsonKey)
	e.lsrv = httptest.NewTLSServer(e.lambda)
	t.Cleanup(e.lsrv.Close)
	return e
}

func (e *triggerEnv) cfg(fn, jsonKey string) TargetConfig {
	c := TargetConfig{SecretID: targetSecret, Region: testRegion, Endpoint: e.srv.URL, JSONKey: jsonKey,
		Trigger: &TriggerConfig{LambdaFunction: fn, Endpoint: e.lsrv.URL}}
	if jsonKey == "" {
		c.Format = FormatRaw
	}
	return c
}

// After each push the consumer's function is invoked (Event) and syncs
// with the token it reads from the secret.
func TestTargetTrigger(t *testing.T) {
	for _, tc := range []struct{ name, fn, jsonKey string }{
		{name: "by name, raw", fn: "ssosync"},
		{name: "by ARN, jsonKey", fn: "arn:aws:lambda:" + testRegion + ":123456789012:function:ssosync", jsonKey: "scimToken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTriggerEnv(t, tc.jsonKey)
			ctx := t.Context()
			if tc.jsonKey != "" {
				e.fake.Put(targetSecret, `{"other":"kept"}`)
			} else {
				e.fake.CreateSecret(targetSecret)
			}
			id, value := e.ic.SeedToken(time.Now().Add(-time.Hour))
			good := rotator.Credential{SCIMEndpoint: e.ic.SCIMEndpoint(), TokenID: id, Token: rotator.NewSecret(value)}
			tg := e.targetFor(e.cfg(tc.fn, tc.jsonKey))

			_, err := tg.Push(ctx, good)
			e.must(err)
			calls := e.lambda.Invocations()
			if len(calls) != 1 || calls[0].Type != "Event" || calls[0].Function != "ssosync" || calls[0].SCIMStatus != http.StatusOK {
				t.Fatalf("invocations = %+v; want one Event whose SCIM call succeeded", calls)
			}
			// A token the endpoint refuses: the consumer used what it read.
			_, err = tg.Push(ctx, cred("bad", "bad"))
			e.must(err)
			if calls = e.lambda.Invocations(); len(calls) != 2 || calls[1].SCIMStatus != http.StatusUnauthorized {
				t.Fatalf("invocations = %+v", calls)
			}
			// A retried (no-op) push still makes the job sync.
			_, err = tg.Push(ctx, good)
			e.must(err)
			_, err = tg.Push(ctx, good)
			e.must(err)
			if calls = e.lambda.Invocations(); len(calls) != 4 || calls[3].SCIMStatus != http.StatusOK {
				t.Fatalf("invocations = %+v", calls)
			}

			checks := tg.Check(ctx)
			e.note(checks)
			last := checks[len(checks)-1]
			if last.Failed() || !strings.Contains(last.Name, "trigger lambda") {
				t.Fatalf("checks = %+v", checks)
			}
			if calls = e.lambda.Invocations(); calls[len(calls)-1].Type != "DryRun" || calls[len(calls)-1].SCIMStatus != 0 {
				t.Fatalf("check ran the function: %+v", calls)
			}
			st, err := tg.Status(ctx)
			e.must(err)
			e.note(st)
			if !hasField(st, "triggerLambdaFunction", tc.fn) {
				t.Fatalf("status = %+v", st)
			}
			assertNotIn(t, value, e.logs.String())
		})
	}
}

func TestTargetTriggerFailures(t *testing.T) {
	tests := []struct {
		name      string
		fn        string
		faults    []sandbox.Fault
		transient bool
		want      []string
	}{
		{name: "unknown function", fn: "nosuchjob", want: []string{"no such function in eu-west-1", "ResourceNotFoundException", "fix trigger.lambdaFunction"}},
		{name: "access denied", fn: "ssosync", faults: []sandbox.Fault{{Status: http.StatusForbidden}},
			want: []string{"access denied", `{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:eu-west-1:<account-id>:function:ssosync"}`}},
		{name: "throttled", fn: "ssosync", transient: true, want: []string{"TooManyRequestsException"},
			faults: []sandbox.Fault{{Status: 429}, {Status: 429}, {Status: 429}}},
		{name: "service error", fn: "ssosync", transient: true, want: []string{"ServiceException"},
			faults: []sandbox.Fault{{Status: 500}, {Status: 500}, {Status: 500}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTriggerEnv(t, "")
			e.fake.CreateSecret(targetSecret)
			e.faults.Inject("lambda:Invoke", tc.faults...)
			tg := e.targetFor(e.cfg(tc.fn, ""))
			_, err := tg.Push(t.Context(), cred("tok", "x"))
			e.note(err)
			if err == nil || rotator.IsTransient(err) != tc.transient {
				t.Fatalf("Push = %v; want an error, transient %v", err, tc.transient)
			}
			for _, w := range append(tc.want, "the secret holds token tok") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	t.Run("check names the statement", func(t *testing.T) {
		e := newTriggerEnv(t, "")
		e.fake.CreateSecret(targetSecret)
		e.faults.Inject("lambda:Invoke", sandbox.Fault{Status: http.StatusForbidden})
		tg := e.targetFor(e.cfg("arn:aws:lambda:eu-west-1:123456789012:function:ssosync", ""))
		checks := tg.Check(t.Context())
		e.note(checks)
		last := checks[len(checks)-1]
		if !last.Failed() || !strings.Contains(last.Fix, `"Resource":"arn:aws:lambda:eu-west-1:123456789012:function:ssosync"`) {
			t.Fatalf("checks = %+v", checks)
		}
	})
}

func assertNotIn(t *testing.T, secret string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, secret) {
			t.Fatalf("a token value leaked: %s", s)
		}
	}
}

// Every check of a target says which target it is about and fails with
// level FAIL; only a denial earns an IAM "allow" hint, a 500 names the
// service error instead.
func TestTargetCheckFailures(t *testing.T) {
	fail500 := sandbox.Fault{Status: 500, Repeat: true}
	tests := []struct {
		name     string
		jsonKey  string
		op       string
		fault    sandbox.Fault
		check    string
		wantFix  string
		allowFix bool
	}{
		{name: "trigger 500", op: "lambda:Invoke", fault: fail500, check: "trigger lambda ssosync", wantFix: "not a permission"},
		{name: "trigger denied", op: "lambda:Invoke", fault: sandbox.Fault{Status: http.StatusForbidden}, check: "trigger lambda ssosync", wantFix: "lambda:InvokeFunction", allowFix: true},
		{name: "jsonKey 500", jsonKey: "scimToken", op: "secretsmanager:GetSecretValue", fault: fail500, check: "jsonKey scimToken", wantFix: "not a permission"},
		{name: "jsonKey denied", jsonKey: "scimToken", op: "secretsmanager:GetSecretValue", fault: sandbox.Fault{Status: http.StatusForbidden}, check: "jsonKey scimToken", wantFix: "secretsmanager:GetSecretValue", allowFix: true},
		{name: "describe 500", op: "secretsmanager:DescribeSecret", fault: fail500, check: "describe secret " + targetSecret, wantFix: "not a permission"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTriggerEnv(t, tc.jsonKey)
			e.fake.CreateSecret(targetSecret)
			if tc.jsonKey != "" {
				e.fake.Put(targetSecret, `{"other":"kept"}`, rotator.StageCurrent)
			}
			tg := e.targetFor(e.cfg("ssosync", tc.jsonKey))
			e.faults.Inject(tc.op, tc.fault)
			checks := tg.Check(t.Context())
			e.note(checks)
			var found *rotator.CheckResult
			for i := range checks {
				if checks[i].Name == tc.check {
					found = &checks[i]
				}
			}
			if found == nil {
				t.Fatalf("no check %q in %+v", tc.check, checks)
			}
			if found.Level != rotator.LevelFail || found.Target != "sync" {
				t.Errorf("check %q: level %q target %q; want FAIL for target sync", tc.check, found.Level, found.Target)
			}
			if !strings.Contains(found.Fix, tc.wantFix) || strings.HasPrefix(found.Fix, "allow") != tc.allowFix {
				t.Errorf("fix %q: want %q, an IAM hint %v", found.Fix, tc.wantFix, tc.allowFix)
			}
		})
	}
}

// A push writes without reading first (the value depends on the credential
// alone); pushing it again is Secrets Manager's no-op; once something else
// replaced it, the next push reads and writes it again.
func TestTargetPushCalls(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.fake.CreateSecret(targetSecret)
	tg := e.target(FormatRaw)
	next := cred("tok-new", "new")
	pushes := func(want ...string) {
		t.Helper()
		e.faults.ResetCalls()
		_, err := tg.Push(ctx, next)
		e.must(err)
		if got := e.faults.Calls(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("calls %v, want %v", got, want)
		}
		if v, _ := e.fake.Value(targetSecret, rotator.StageCurrent); v != next.Token.Reveal() {
			t.Fatal("the secret does not hold the pushed token")
		}
	}
	pushes("secretsmanager:PutSecretValue")
	pushes("secretsmanager:PutSecretValue")
	if n := e.fake.VersionCount(targetSecret); n != 1 {
		t.Fatalf("versions = %d after pushing the same token twice, want 1", n)
	}
	e.fake.Put(targetSecret, "something else")
	pushes("secretsmanager:PutSecretValue", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue")
	if n := e.fake.VersionCount(targetSecret); n != 3 {
		t.Fatalf("versions = %d, want 3", n)
	}
}
