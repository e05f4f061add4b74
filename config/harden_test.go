package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const minimal = `identityCenter:
  region: us-east-1
  identityStoreId: d-1234567890
store:
  secretId: s
targets:
  - name: ssosync
    type: secretsmanager
    secretsmanager:
      secretId: x
`

// A "billion laughs" file: each level aliases the one before ten times.
// Followed, 26 KB of it produced a 343 MB error string.
func TestAliasBombErrorIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("targets:\n  - &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; b.Len() < 26<<10; i++ {
		fmt.Fprintf(&b, "  - &a%d [", i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	_, err := parse([]byte(b.String()))
	if err == nil {
		t.Fatal("accepted")
	}
	if n := len(err.Error()); n > 8<<10 {
		t.Fatalf("error is %d bytes; want at most 8 KB", n)
	}
	errs := Errors(err)
	if len(errs) != maxErrors+1 || !strings.HasPrefix(errs[maxErrors].Msg, "and ") {
		t.Fatalf("want %d errors and a count of the rest, got %d: %v", maxErrors, len(errs), err)
	}
	if !strings.Contains(err.Error(), "targets[0]: YAML anchors (&a0) are not allowed") {
		t.Errorf("the first error does not name the anchor's key: %v", err)
	}
}

func TestErrorCountIsCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString(minimal)
	for i := range 50 {
		fmt.Fprintf(&b, "extra%02d: 1\n", i)
	}
	_, err := parse([]byte(b.String()))
	errs := Errors(err)
	if len(errs) != 21 {
		t.Fatalf("%d errors, want 20 and a count: %v", len(errs), err)
	}
	if got, want := errs[20].Error(), "and 30 more errors"; got != want {
		t.Errorf("last error = %q, want %q", got, want)
	}
	if !strings.HasPrefix(errs[0].Error(), "extra00: unknown key") || !strings.HasPrefix(errs[19].Error(), "extra19: unknown key") {
		t.Errorf("the first errors are not kept in order: %v", err)
	}
}

func TestQuotedValuesAreCut(t *testing.T) {
	long := strings.Repeat("z", 5000)
	in := strings.Replace(minimal, "type: secretsmanager", "type: "+long, 1) + "schedule: " + long + "\n"
	_, err := parse([]byte(in))
	if err == nil {
		t.Fatal("accepted")
	}
	want := `targets[0].type: unknown target type "` + strings.Repeat("z", 100) + `…": one of secretsmanager, entra, okta`
	got := err.Error()
	if !strings.Contains(got, want) {
		t.Errorf("error does not cut the value to 100 characters:\n%.400s", got)
	}
	if !strings.Contains(got, `schedule: invalid cron spec "`+strings.Repeat("z", 100)+`…"`) {
		t.Errorf("schedule error does not cut the value:\n%.400s", got)
	}
	if len(got) > 2000 {
		t.Errorf("error is %d bytes for two long values", len(got))
	}
}

func TestFileTooLarge(t *testing.T) {
	big := []byte(minimal + "# " + strings.Repeat("x", MaxFileSize) + "\n")
	const want = "the config file is larger than 1 MiB: a configuration is a few KB; check that the right file is named"
	if _, err := parse(big); err == nil || err.Error() != want {
		t.Errorf("Parse: %v, want %q", err, want)
	}
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, big, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p, testTypes); err == nil || err.Error() != want {
		t.Errorf("Load: %v, want %q", err, want)
	}
	if _, err := parse([]byte(minimal + "# " + strings.Repeat("x", MaxFileSize-len(minimal)-10) + "\n")); err != nil {
		t.Errorf("a file just under 1 MiB: %v", err)
	}
}

// Only an absent duration takes the default; an explicit 0 (or less) is an
// error naming the key.
func TestDurationsExplicitZero(t *testing.T) {
	tests := []struct{ in, want string }{
		{"rotateBefore: 0s", "rotateBefore: must be > 0 and shorter than a token's lifetime (8760h), not 0s"},
		{"rotateBefore: -1h", "rotateBefore: must be > 0 and shorter than a token's lifetime (8760h), not -1h0m0s"},
		{"confirmTimeout: 0s", "confirmTimeout: must be > 0 (omit the key for the default, 90m), not 0s"},
		{"lockTimeout: 0s", "lockTimeout: must be > 0 (omit the key for the default, 2m), not 0s"},
		{"lockTimeout: 5s", "lockTimeout: must be at least 10s (5s leaves no time to renew the lock between calls)"},
		{"rotateBefore:", ""}, // null: absent
		{"rotateBefore: 1h", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c, err := parse([]byte(tt.in + "\n" + minimal))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tt.want == "":
				if c.RotateBefore.Duration <= 0 {
					t.Errorf("rotateBefore = %s", c.RotateBefore.Duration)
				}
			case err == nil || err.Error() != tt.want:
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
	c, err := parse([]byte(minimal))
	if err != nil || c.RotateBefore.Duration != DefaultRotateBefore || c.RotateBefore.IsSet() {
		t.Errorf("absent rotateBefore: %v, %v (set %v)", c.RotateBefore.Duration, err, c.RotateBefore.IsSet())
	}
}

func TestURLProblem(t *testing.T) {
	const insecure = "must use https (http is allowed only for a loopback host: 127.0.0.0/8, ::1, localhost)"
	tests := []struct{ url, want string }{
		{"https://secretsmanager.us-east-1.amazonaws.com", ""},
		{"http://127.0.0.1:4566", ""},
		{"http://127.8.9.10/x", ""},
		{"http://[::1]:8080/", ""},
		{"http://localhost:9091", ""},
		{"http://LOCALHOST", ""},
		{"http://10.0.0.1", insecure},
		{"http://127.example.com", insecure},
		{"http://localhost.example.com", insecure},
		{"http://[::2]/", insecure},
		{"ftp://example.com", "is not an absolute https URL"},
		{"example.com/path", "is not an absolute https URL"},
		{"https://user:pw@example.com", "must not contain user info (user:password@): credentials never go in a URL"},
		{"https://user@example.com", "must not contain user info (user:password@): credentials never go in a URL"},
	}
	for _, tt := range tests {
		if got := URLProblem(tt.url); got != tt.want {
			t.Errorf("URLProblem(%q) = %q, want %q", tt.url, got, tt.want)
		}
	}
}

// No error ever quotes a URL's user info, even one that does not parse.
func TestURLErrorsNeverQuoteUserInfo(t *testing.T) {
	for _, u := range []string{
		"https://u:LEAKCANARY@example.com",
		"http://u:LEAKCANARY@example.com",
		"https://u:LEAKCANARY@exa mple.com/%zz",
		"ftp://u:LEAKCANARY@example.com",
	} {
		for _, key := range []string{"store.endpoint", "identityCenter.scimEndpoint", "metrics.pushgatewayUrl"} {
			in := strings.Replace(minimal, "  secretId: s\n", "  secretId: s\n", 1)
			switch key {
			case "store.endpoint":
				in = strings.Replace(in, "  secretId: s\n", "  secretId: s\n  endpoint: \""+u+"\"\n", 1)
			case "identityCenter.scimEndpoint":
				in = strings.Replace(in, "  region: us-east-1\n", "  region: us-east-1\n  scimEndpoint: \""+u+"\"\n", 1)
			default:
				in += "metrics:\n  pushgatewayUrl: \"" + u + "\"\n"
			}
			_, err := parse([]byte(in))
			if err == nil {
				t.Errorf("%s %s accepted", key, u)
				continue
			}
			if strings.Contains(err.Error(), "LEAKCANARY") {
				t.Errorf("%s: error quotes the user info: %v", key, err)
			}
			if !strings.Contains(err.Error(), key+":") {
				t.Errorf("error does not name %s: %v", key, err)
			}
		}
	}
}

func TestSCIMEndpointProblem(t *testing.T) {
	const tenant = "a1b2c3d4e5-f6a7-b8c9-d0e1-f2a3b4c5d6e7"
	notSCIM := "is not an IAM Identity Center SCIM endpoint (https://scim.<region>.amazonaws.com/<tenantId>/scim/v2/)"
	tests := []struct{ endpoint, region, tenant, want string }{
		{"https://scim.us-east-1.amazonaws.com/" + tenant + "/scim/v2/", "us-east-1", tenant, ""},
		{"https://scim.us-east-1.amazonaws.com/" + tenant + "/scim/v2", "us-east-1", "", ""},
		{"https://scim.eu-central-2.amazonaws.com/" + tenant + "/scim/v2/", "", "", ""},
		{"https://scim.us-gov-west-1.amazonaws.com/" + tenant + "/scim/v2/", "us-gov-west-1", tenant, ""},
		{"https://scim.cn-north-1.amazonaws.com.cn/" + tenant + "/scim/v2/", "cn-north-1", tenant, ""},
		{"https://scim.cn-north-1.amazonaws.com/" + tenant + "/scim/v2/", "", "", "is not an IAM Identity Center SCIM endpoint: region cn-north-1 is under amazonaws.com.cn"},
		{"https://scim.us-east-1.amazonaws.com.cn/" + tenant + "/scim/v2/", "", "", "is not an IAM Identity Center SCIM endpoint: region us-east-1 is under amazonaws.com"},
		{"https://scim.us-east-1.amazonaws.com/" + tenant + "/scim/v2/", "eu-west-1", "", "is in region us-east-1, not eu-west-1"},
		{"https://scim.us-east-1.amazonaws.com/other/scim/v2/", "us-east-1", tenant, "names tenant other, not " + tenant},
		{"http://scim.us-east-1.amazonaws.com/" + tenant + "/scim/v2/", "", "", notSCIM},
		{"https://scim.us-east-1.amazonaws.com.evil.example/" + tenant + "/scim/v2/", "", "", notSCIM},
		{"https://scim.us-east-1.amazonaws.com@evil.example/" + tenant + "/scim/v2/", "", "", notSCIM},
		{"https://scim.us-east-1.amazonaws.com/" + tenant + "/scim/v2/Users", "", "", notSCIM},
		{"https://scim.us-east-1.amazonaws.com:8443/" + tenant + "/scim/v2/", "", "", notSCIM},
		{"https://127.0.0.1:8443/" + tenant + "/scim/v2/", "", "", notSCIM},
	}
	for _, tt := range tests {
		if got := SCIMEndpointProblem(tt.endpoint, tt.region, tt.tenant); got != tt.want {
			t.Errorf("SCIMEndpointProblem(%q, %q, %q) = %q, want %q", tt.endpoint, tt.region, tt.tenant, got, tt.want)
		}
	}
}

func TestAllowCustomScimEndpoint(t *testing.T) {
	in := strings.Replace(minimal, "  region: us-east-1\n", "  region: us-east-1\n  scimEndpoint: https://127.0.0.1:8443/t/scim/v2/\n  allowCustomScimEndpoint: true\n", 1)
	if _, err := parse([]byte(in)); err != nil {
		t.Errorf("custom endpoint allowed: %v", err)
	}
	// Still https (or loopback http) only.
	in = strings.Replace(minimal, "  region: us-east-1\n", "  region: us-east-1\n  scimEndpoint: http://scim.example/t/scim/v2/\n  allowCustomScimEndpoint: true\n", 1)
	want := `identityCenter.scimEndpoint: "http://scim.example/t/scim/v2/" must use https (http is allowed only for a loopback host: 127.0.0.0/8, ::1, localhost)`
	if _, err := parse([]byte(in)); err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

func TestPushgatewayAuth(t *testing.T) {
	tests := []struct{ metrics, want string }{
		{"pushgatewayUrl: http://pushgateway.monitoring.svc:9091", ""},
		{"pushgatewayUrl: https://pg.example\n  pushgatewayUsername: u\n  pushgatewayPasswordFile: /run/pw", ""},
		{"pushgatewayUrl: http://localhost:9091\n  pushgatewayUsername: u\n  pushgatewayPasswordEnv: PW", ""},
		{"pushgatewayUsername: u\n  pushgatewayPasswordEnv: PW", "metrics.pushgatewayUrl: required with pushgatewayUsername"},
		{"pushgatewayUrl: https://pg.example\n  pushgatewayPasswordEnv: PW", "metrics.pushgatewayUsername: required with metrics.pushgatewayPasswordEnv, metrics.pushgatewayPasswordFile or metrics.pushgatewayPasswordSecretsManager"},
		{"pushgatewayUrl: https://pg.example\n  pushgatewayUsername: u\n  pushgatewayPasswordEnv: PW\n  pushgatewayPasswordFile: /pw", "metrics.pushgatewayPasswordFile: not with metrics.pushgatewayPasswordEnv: set only one of the Env, File and SecretsManager forms"},
		{"pushgatewayUrl: https://u:p@pg.example", "metrics.pushgatewayUrl: must not contain user info (user:password@): credentials never go in a URL"},
	}
	for _, tt := range tests {
		_, err := parse([]byte(minimal + "metrics:\n  " + tt.metrics + "\n"))
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: rejected: %v", tt.metrics, err)
		case tt.want != "" && (err == nil || err.Error() != tt.want):
			t.Errorf("%s: error = %v, want %q", tt.metrics, err, tt.want)
		}
	}
}
