package config

import (
	"context"
	"testing"
)

type fakeReader map[string]string

func (f fakeReader) ReadSecretsManager(_ context.Context, key string, ref SecretsManagerRef) (string, error) {
	v, ok := f[ref.SecretID]
	if !ok {
		return "", &Error{Key: key, Msg: "not found"}
	}
	return v, nil
}

// ReadSecretFrom reads exactly one of the three keys and names the one
// that is wrong; OneSecret validates the same way.
func TestReadSecretFrom(t *testing.T) {
	t.Setenv("SR_TEST_SECRET", " from-env \n")
	ref := &SecretsManagerRef{SecretID: "s"}
	r := fakeReader{"s": " from-secrets-manager\n", "blank": " "}
	for _, tc := range []struct {
		name    string
		src     SecretSource
		r       SecretReader
		want    string
		wantErr string
	}{
		{"env", SecretSource{Env: "SR_TEST_SECRET"}, r, "from-env", ""},
		{"secrets manager", SecretSource{SecretsManager: ref}, r, "from-secrets-manager", ""},
		{"none", SecretSource{}, r, "", "k.apiTokenEnv: required (or k.apiTokenFile, or k.apiTokenSecretsManager)"},
		{"two", SecretSource{Env: "SR_TEST_SECRET", SecretsManager: ref}, r, "", "k.apiTokenSecretsManager: not with k.apiTokenEnv or k.apiTokenFile: set only one of the Env, File and SecretsManager forms"},
		{"no reader", SecretSource{SecretsManager: ref}, nil, "", "k.apiTokenSecretsManager: no AWS credentials to read it with here"},
		{"empty value", SecretSource{SecretsManager: &SecretsManagerRef{SecretID: "blank"}}, r, "", `k.apiTokenSecretsManager: secret "blank" is empty`},
		{"reader's error", SecretSource{SecretsManager: &SecretsManagerRef{SecretID: "gone"}}, r, "", "k.apiTokenSecretsManager: not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadSecretFrom(t.Context(), "k.apiToken", tc.src, tc.r)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestOneSecret(t *testing.T) {
	for _, tc := range []struct {
		name     string
		src      SecretSource
		required bool
		want     []string
	}{
		{"optional and absent", SecretSource{}, false, nil},
		{"required and absent", SecretSource{}, true, []string{"b.xEnv: required (or b.xFile, or b.xSecretsManager)"}},
		{"file and secret", SecretSource{File: "/f", SecretsManager: &SecretsManagerRef{SecretID: "s"}}, false,
			[]string{"b.xSecretsManager: not with b.xFile: set only one of the Env, File and SecretsManager forms"}},
		{"bad block", SecretSource{SecretsManager: &SecretsManagerRef{Region: "Europe", Endpoint: "http://sm.example.com"}}, true, []string{
			"b.xSecretsManager.secretId: required: the secret's name or ARN",
			`b.xSecretsManager.region: "Europe" is not an AWS region (e.g. us-east-1)`,
			`b.xSecretsManager.endpoint: "http://sm.example.com" must use https (http is allowed only for a loopback host: 127.0.0.0/8, ::1, localhost)`,
		}},
		{"arn's region", SecretSource{SecretsManager: &SecretsManagerRef{SecretID: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf", Region: "eu-west-1"}}, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := OneSecret("b.x", tc.src, tc.required)
			var got []string
			for _, e := range Errors(err) {
				got = append(got, e.Error())
			}
			if len(got) != len(tc.want) {
				t.Fatalf("errors %q, want %q", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("error %d %q, want %q", i, got[i], tc.want[i])
				}
			}
		})
	}
	if got := (SecretsManagerRef{SecretID: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf"}).RegionOr("us-east-1"); got != "eu-west-1" {
		t.Errorf("RegionOr of an ARN: %s", got)
	}
	if got := (SecretsManagerRef{SecretID: "x"}).RegionOr("us-east-1"); got != "us-east-1" {
		t.Errorf("RegionOr of a name: %s", got)
	}
}
