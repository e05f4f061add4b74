package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
)

// Secrets without files (issue 26): the Slack webhook URL and the Okta API
// token are Secrets Manager secrets, read by the real binary with its AWS
// credentials; nothing is in a file or the environment. check says each can
// be read and prints neither; a rotation pushes to Okta and posts to Slack;
// a denied read is an error naming the key and the permission.
func TestE2ESecretsFromSecretsManager(t *testing.T) {
	e := newEnv(t, sandbox.Options{Okta: "api"})
	e.sb.SeedLiveToken(30 * 24 * time.Hour)
	sm := e.sb.URL("secretsmanager")
	webhook := e.sb.URL("slack") + e.sb.Slack.Path()
	token := e.sb.Okta.APIToken()
	e.sb.SM.Put("scim-rotator/slack", webhook)
	e.sb.SM.Put("scim-rotator/okta", `{"apiToken":"`+token+`","note":"other keys stay unread"}`)

	b, err := os.ReadFile(e.files.Config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	for file, ref := range map[string]string{
		"apiTokenFile: " + filepath.Join(e.files.Dir, "okta-api-token"):      "apiTokenSecretsManager: {secretId: scim-rotator/okta, jsonKey: apiToken, endpoint: '" + sm + "'}",
		"webhookUrlFile: " + filepath.Join(e.files.Dir, "slack-webhook-url"): "webhookUrlSecretsManager: {secretId: scim-rotator/slack, endpoint: '" + sm + "'}",
	} {
		if !strings.Contains(cfg, file) {
			t.Fatalf("the sandbox's config has no %q:\n%s", file, cfg)
		}
		cfg = strings.Replace(cfg, file, ref, 1)
	}
	if err := os.WriteFile(e.files.Config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"okta-api-token", "slack-webhook-url"} {
		if err := os.Remove(filepath.Join(e.files.Dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	secret := func(out ...string) {
		t.Helper()
		for _, o := range out {
			for _, v := range []string{token, webhook, e.sb.Slack.Path()} {
				if strings.Contains(o, v) {
					t.Fatalf("a secret's value was printed:\n%s", o)
				}
			}
		}
	}

	code, out, errOut := e.run("check")
	secret(out, errOut)
	if code != 0 {
		t.Fatalf("check exit %d:\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		`targets[1].okta.apiTokenSecretsManager  read from Secrets Manager secret "scim-rotator/okta" (JSON key "apiToken") (value not shown)`,
		`notify.slack.webhookUrlSecretsManager   read from Secrets Manager secret "scim-rotator/slack" (value not shown)`,
	} {
		if !containsSpaced(out, want) {
			t.Errorf("check does not say %q:\n%s", want, out)
		}
	}
	code, out, errOut = e.run("check", "-o", "json")
	secret(out, errOut)
	if code != 0 || !strings.Contains(out, `"name": "notify.slack.webhookUrlSecretsManager"`) {
		t.Errorf("check -o json exit %d:\n%s", code, out)
	}

	code, out, errOut = e.run("rotate", "--now")
	secret(out, errOut)
	if code != 0 || !strings.HasPrefix(out, "Rotated") {
		t.Fatalf("rotate --now exit %d:\n%s\n%s", code, out, errOut)
	}
	e.assertTargetsWork()
	if got := e.sb.Slack.Received(); len(got) == 0 || !strings.Contains(got[len(got)-1].Text, "Rotated") {
		t.Fatalf("slack received %+v", got)
	}

	// Denied: the key, the secret and the permission are named; exit 2 as
	// for an unset ...Env.
	e.sb.Faults.Inject("secretsmanager:GetSecretValue", sandbox.Fault{Status: 403, Repeat: true,
		Match: func(_ *http.Request, body []byte) bool { return strings.Contains(string(body), "scim-rotator/okta") }})
	code, out, errOut = e.run("check")
	secret(out, errOut)
	if code != 2 || !strings.Contains(errOut, "targets[1].okta.apiTokenSecretsManager: secretsmanager GetSecretValue scim-rotator/okta: AccessDeniedException") ||
		!strings.Contains(errOut, "allow secretsmanager:GetSecretValue on this secret") {
		t.Fatalf("check with a denied read: exit %d:\n%s\n%s", code, out, errOut)
	}
}

// containsSpaced reports whether s holds want with any run of spaces where
// want has one (a table's column padding).
func containsSpaced(s, want string) bool {
	norm := func(x string) string { return strings.Join(strings.Fields(x), " ") }
	return strings.Contains(norm(s), norm(want))
}
