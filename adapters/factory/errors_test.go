package factory

import (
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/config"
)

// A credential that cannot be read fails the build with an error that names
// its key once, with its full path: never "target entra: targets[1].entra..."
// or "notify.slack: notify.slack...".
func TestBuildErrorsNameEachKeyOnce(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	head := "identityCenter: {region: us-east-1, identityStoreId: d-1234567890}\nstore: {secretId: scim-rotator/token}\nusage: {source: none}\n"
	ssosync := "  - {name: ssosync, type: secretsmanager, secretsmanager: {secretId: SSOSyncSCIMAccessToken}}\n"
	entra := "  - name: entra\n    type: entra\n    entra: {tenantId: contoso.onmicrosoft.com, clientId: 00000000-0000-0000-0000-000000000001, " +
		"servicePrincipalId: 00000000-0000-0000-0000-000000000002, clientSecretEnv: SR_TEST_UNSET_ENTRA_SECRET}\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"entra secret", head + "targets:\n" + ssosync + entra,
			"targets[1].entra.clientSecretEnv: environment variable SR_TEST_UNSET_ENTRA_SECRET is not set"},
		{"okta token file", head + "targets:\n  - name: okta\n    type: okta\n    okta: {orgUrl: https://example.okta.com, appId: 0oa1, apiTokenFile: " + missing + "}\n",
			"targets[0].okta.apiTokenFile: cannot read " + missing + ": no such file or directory"},
		{"slack webhook file", head + "targets:\n" + ssosync + "notify: {slack: {webhookUrlFile: " + missing + "}}\n",
			"notify.slack.webhookUrlFile: cannot read " + missing + ": no such file or directory"},
		{"fleet", "usage: {source: none}\ninstances:\n" +
			"  - {name: prod, identityCenter: {region: us-east-1, identityStoreId: d-1234567890}, store: {secretId: a}, targets: [{name: ssosync, type: secretsmanager, secretsmanager: {secretId: s}}]}\n" +
			"  - name: dev\n    identityCenter: {region: us-east-1, identityStoreId: d-1234567891}\n    store: {secretId: b}\n    targets:\n" +
			"      - name: entra\n        type: entra\n        entra: {tenantId: contoso.onmicrosoft.com, clientId: 00000000-0000-0000-0000-000000000001, " +
			"servicePrincipalId: 00000000-0000-0000-0000-000000000002, clientSecretEnv: SR_TEST_UNSET_ENTRA_SECRET}\n",
			// The instance by name (alerts and logs use it), its key by path, once.
			"instance dev: instances[1].targets[0].entra.clientSecretEnv: environment variable SR_TEST_UNSET_ENTRA_SECRET is not set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(tc.yaml), TargetTypes())
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			_, err = BuildFleet(t.Context(), cfg, Options{Logger: zap.NewNop(), AWSCredentials: sandbox.AWSCredentials()}, nil)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error:\n%v\nwant:\n%s", err, tc.want)
			}
			assertKeysOnce(t, err)
		})
	}
}

// assertKeysOnce fails when a configuration error's message names its own
// key again, or when the error text names a key twice.
func assertKeysOnce(t *testing.T, err error) {
	t.Helper()
	for _, ce := range config.Errors(err) {
		if ce.Key == "" {
			continue
		}
		if strings.Contains(ce.Msg, ce.Key) {
			t.Errorf("%q names its key %s again in its message", ce.Error(), ce.Key)
		}
		if n := strings.Count(err.Error(), ce.Key+":"); n != 1 {
			t.Errorf("%q names %s %d times", err.Error(), ce.Key, n)
		}
	}
}
