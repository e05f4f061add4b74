package okta

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// envconfigVars lists every environment variable the SDK's config reads
// (its envconfig tags), found by reflection so that a new SDK field is
// covered too.
func envconfigVars(t reflect.Type) map[string]reflect.Kind {
	out := map[string]reflect.Kind{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			if tag := f.Tag.Get("envconfig"); tag != "" {
				out[tag] = f.Type.Kind()
			}
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type)
			}
		}
	}
	walk(t)
	return out
}

// Neither OKTA_* environment variables nor ~/.okta/okta.yaml can change the
// client: every setting is set explicitly.
func TestSDKIgnoresEnvironmentAndOktaYAML(t *testing.T) {
	e := newEnv(t)

	// A bogus okta.yaml in a fresh HOME. (The SDK finds the home through
	// os/user, which may ignore HOME; the environment below covers the same
	// fields, and is read after the file.)
	home := t.TempDir()
	t.Setenv("HOME", home)
	if err := os.MkdirAll(filepath.Join(home, ".okta"), 0o700); err != nil {
		t.Fatal(err)
	}
	yaml := "okta:\n  client:\n    orgUrl: https://evil.okta.com\n    token: bogus-yaml-token\n    authorizationMode: Bearer\n    cache:\n      enabled: true\n      defaultTtl: 3600\n    rateLimit:\n      maxRetries: 9\n    requestTimeout: 1\n  testing:\n    disableHttpsCheck: true\n"
	if err := os.WriteFile(filepath.Join(home, ".okta", "okta.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	// Every OKTA_* variable the SDK knows, set to something wrong.
	client, _, err := newSDKClient(t.Context(), e.cfg(org2orgApp, ModeAuto, ""), "okta", e.srv.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	vars := envconfigVars(reflect.TypeOf(*client.GetConfig()))
	if len(vars) < 20 {
		t.Fatalf("found only %d SDK environment variables: %v", len(vars), vars)
	}
	for name, kind := range vars {
		v := "bogus"
		switch kind {
		case reflect.Bool:
			v = "true"
		case reflect.Int32, reflect.Int64:
			v = "7"
		case reflect.Slice:
			v = "okta.users.manage,okta.groups.manage"
		}
		switch name {
		case "OKTA_CLIENT_ORGURL":
			v = "https://evil.okta.com"
		case "OKTA_CLIENT_AUTHORIZATIONMODE":
			v = "Bearer"
		}
		t.Setenv(name, v)
	}
	t.Setenv("OKTA_CLIENT_TOKEN", "bogus-env-token")

	client, _, err = newSDKClient(t.Context(), e.cfg(org2orgApp, ModeAuto, ""), "okta", e.srv.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := client.GetConfig().Okta
	got := map[string]any{
		"orgUrl": c.Client.OrgUrl, "token": c.Client.Token == e.okta.APIToken(), "mode": c.Client.AuthorizationMode,
		"cache": c.Client.Cache.Enabled, "retries": c.Client.RateLimit.MaxRetries, "backoff": c.Client.RateLimit.MaxBackoff,
		"requestTimeout": c.Client.RequestTimeout, "httpsCheckOff": c.Testing.DisableHttpsCheck,
		"clientId": c.Client.ClientId, "scopes": len(c.Client.Scopes), "privateKey": c.Client.PrivateKey,
		"privateKeyId": c.Client.PrivateKeyId, "assertion": c.Client.ClientAssertion, "proxy": c.Client.Proxy.Host,
	}
	want := map[string]any{
		"orgUrl": e.srv.URL, "token": true, "mode": "SSWS",
		"cache": false, "retries": int32(0), "backoff": int64(60),
		"requestTimeout": int64(30), "httpsCheckOff": false,
		"clientId": "", "scopes": 0, "privateKey": "",
		"privateKeyId": "", "assertion": "", "proxy": "",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("SDK config influenced from outside:\n got %v\nwant %v", got, want)
	}

	// And it works: against the sandbox, uncached (two checks, two reads).
	tg := e.target(t, e.cfg(org2orgApp, ModeAuto, ""))
	for range 2 {
		for _, r := range tg.Check(t.Context()) {
			if r.Failed() {
				t.Fatalf("check %s: %s", r.Name, r.Detail)
			}
		}
	}
	if n := e.faults.Count("okta:GetApp"); n != 2 {
		t.Fatalf("GetApp reached Okta %d times, want 2 (no cache)", n)
	}
	e.assertNoLeak(t)
}

// The OAuth service app mode: a private-key JWT for an access token with the
// three scopes.
func TestPrivateKeyMode(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "okta-key.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("all scopes", func(t *testing.T) {
		e := newEnv(t)
		e.okta.AddServiceApp("0oaservice", &key.PublicKey, append(Scopes, canaryScope)...)
		cfg := Config{OrgURL: e.srv.URL, AppID: org2orgApp, ClientID: "0oaservice", PrivateKeyFile: keyFile, PrivateKeyID: "kid-1", Mode: ModeAuto, CanaryUserID: canaryUser}
		tg := e.target(t, cfg)
		cred := e.cred(e.newID, e.newTok)
		if res, err := tg.Push(t.Context(), cred); err != nil || res.Handoff != nil {
			t.Fatalf("Push = %+v, %v", res, err)
		}
		if err := tg.Confirm(t.Context(), rotator.ConfirmRequest{Credential: cred, Since: t0, Deadline: t0.Add(time.Hour)}); err != nil {
			t.Fatalf("Confirm: %v", err)
		}
		if e.faults.Count("okta:Token") == 0 {
			t.Fatal("no access token was requested")
		}
		e.assertNoLeak(t)
	})
	t.Run("key from Secrets Manager", func(t *testing.T) {
		e := newEnv(t)
		e.okta.AddServiceApp("0oaservice", &key.PublicKey, Scopes...)
		pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
		ref := &config.SecretsManagerRef{SecretID: "okta/service-app", JSONKey: "privateKey"}
		cfg := Config{OrgURL: e.srv.URL, AppID: org2orgApp, ClientID: "0oaservice", PrivateKeySecretsManager: ref, Mode: ModeAuto}
		tg, err := New(t.Context(), "okta", cfg, Options{Logger: e.logger, HTTPClient: e.srv.Client(), Clock: e.clock, ConfigKey: "targets[0].okta",
			Secrets: secretsFunc(func(key string, r config.SecretsManagerRef) (string, error) {
				if key != "targets[0].okta.privateKeySecretsManager" || r != *ref {
					return "", fmt.Errorf("read %s %+v", key, r)
				}
				return pemKey, nil
			})})
		if err != nil {
			t.Fatal(err)
		}
		if res := tg.Check(t.Context()); len(res) == 0 || res[0].Failed() {
			t.Fatalf("check = %s", checkText(res))
		}
		_, err = New(t.Context(), "okta", cfg, Options{HTTPClient: e.srv.Client(), ConfigKey: "targets[0].okta",
			Secrets: secretsFunc(func(string, config.SecretsManagerRef) (string, error) { return "not a key", nil })})
		if err == nil || err.Error() != `targets[0].okta.privateKeySecretsManager: secret "okta/service-app" (JSON key "privateKey") holds no PEM private key` {
			t.Fatalf("a secret holding no key: %v", err)
		}
	})
	t.Run("scope not granted", func(t *testing.T) {
		e := newEnv(t)
		e.okta.AddServiceApp("0oaservice", &key.PublicKey, "okta.apps.read", "okta.apps.manage")
		cfg := Config{OrgURL: e.srv.URL, AppID: org2orgApp, ClientID: "0oaservice", PrivateKeyFile: keyFile, Mode: ModeAuto}
		res := e.target(t, cfg).Check(t.Context())
		if len(res) == 0 || !res[0].Failed() || !strings.Contains(res[0].Fix, "Okta API Scopes") {
			t.Fatalf("check = %s", checkText(res))
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		e := newEnv(t)
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		e.okta.AddServiceApp("0oaservice", &other.PublicKey, Scopes...)
		cfg := Config{OrgURL: e.srv.URL, AppID: org2orgApp, ClientID: "0oaservice", PrivateKeyFile: keyFile, Mode: ModeAuto}
		res := e.target(t, cfg).Check(t.Context())
		if len(res) == 0 || !res[0].Failed() || !strings.Contains(res[0].Fix, "client assertion") {
			t.Fatalf("check = %s", checkText(res))
		}
	})
}

// The System Log is read across pages (Link rel=next).
func TestReadLogPages(t *testing.T) {
	e := newEnv(t)
	e.clock.Advance(2 * time.Hour) // the events below are in the past
	for i := range 2500 {
		e.okta.AddLogEvent(org2orgApp, otherUser, "application.user_membership.add", "SUCCESS", "", t0.Add(time.Duration(i)*time.Millisecond))
	}
	e.okta.AddLogEvent(org2orgApp, otherUser, "application.provision.user.push", "SUCCESS", "", t0.Add(time.Hour))
	tg := e.target(t, e.cfg(org2orgApp, ModeAPI, ""))
	e.faults.ResetCalls()
	events, err := tg.readLog(t.Context(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2501 {
		t.Fatalf("read %d events, want 2501", len(events))
	}
	if n := e.faults.Count("okta:GetLogs"); n != 3 {
		t.Fatalf("%d pages, want 3", n)
	}
	if last := events[len(events)-1]; last.EventType != "application.provision.user.push" {
		t.Fatalf("last event %s", last.EventType)
	}
}

// secretsFunc is a config.SecretReader.
type secretsFunc func(key string, ref config.SecretsManagerRef) (string, error)

func (f secretsFunc) ReadSecretsManager(_ context.Context, key string, ref config.SecretsManagerRef) (string, error) {
	return f(key, ref)
}
