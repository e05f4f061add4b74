package okta

import (
	"strings"
	"testing"
	"time"

	"github.com/okta/okta-sdk-golang/v2/okta"

	"github.com/scim-rotator/scim-rotator/rotator"
)

func TestDecideMode(t *testing.T) {
	conn := func(scheme, status string) *okta.ProvisioningConnection {
		return &okta.ProvisioningConnection{AuthScheme: scheme, Status: status}
	}
	tests := []struct {
		name       string
		configured string
		app        string
		conn       *okta.ProvisioningConnection
		connErr    error
		want       string
		wantErr    bool
	}{
		{"api configured", ModeAPI, "amazon_aws_sso", conn("UNKNOWN", "UNKNOWN"), nil, ModeAPI, false},
		{"handoff configured", ModeHandoff, "okta_org2org", conn("TOKEN", "ENABLED"), nil, ModeHandoff, false},
		{"token", ModeAuto, "okta_org2org", conn("TOKEN", "ENABLED"), nil, ModeAPI, false},
		{"token on an undocumented app", ModeAuto, "custom_scim", conn("TOKEN", "DISABLED"), nil, ModeAPI, false},
		{"oauth", ModeAuto, "okta_org2org", conn("OAUTH2", "ENABLED"), nil, ModeHandoff, false},
		{"aws unknown", ModeAuto, "amazon_aws_sso", conn("UNKNOWN", "UNKNOWN"), nil, ModeHandoff, false},
		{"documented, unconfigured", ModeAuto, "zscalerbyz", conn("", ""), nil, ModeAPI, false},
		{"404", ModeAuto, "amazon_aws_sso", nil, &APIError{Status: 404, Code: "E0000007"}, ModeHandoff, false},
		{"400", ModeAuto, "amazon_aws_sso", nil, &APIError{Status: 400, Code: "E0000001"}, ModeHandoff, false},
		{"403 decides nothing", ModeAuto, "okta_org2org", nil, &APIError{Status: 403, Code: "E0000006"}, "", true},
		{"5xx decides nothing", ModeAuto, "okta_org2org", nil, rotator.Transient(&APIError{Status: 503}), "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, reason, err := decideMode(tc.configured, tc.app, tc.conn, tc.connErr)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("decideMode = %q, %q, %v; want %q (error %v)", got, reason, err, tc.want, tc.wantErr)
			}
			if err == nil && reason == "" {
				t.Fatal("no reason given")
			}
		})
	}
}

func TestJudge(t *testing.T) {
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	ok := func(m int) evidence { return evidence{At: at(m), Kind: evSuccess, Detail: "ok"} }
	auth := func(m int) evidence { return evidence{At: at(m), Kind: evAuthFailure, Detail: "auth"} }
	fail := func(m int) evidence { return evidence{At: at(m), Kind: evFailure, Detail: "fail"} }
	tests := []struct {
		name string
		evs  []evidence
		want verdict
	}{
		{"nothing", nil, verdict{}},
		{"success", []evidence{ok(1)}, verdict{Confirmed: true, Detail: "ok"}},
		{"auth failure", []evidence{auth(1)}, verdict{Rejected: true, Detail: "auth"}},
		{"failure after success", []evidence{ok(1), auth(2)}, verdict{Rejected: true, Detail: "auth"}},
		{"success after failure", []evidence{auth(1), ok(2)}, verdict{Confirmed: true, Detail: "ok"}},
		{"tie", []evidence{ok(1), auth(1)}, verdict{Rejected: true, Detail: "auth"}},
		{"other failure decides nothing", []evidence{fail(1)}, verdict{Detail: "fail"}},
		{"other failure after success", []evidence{ok(1), fail(2)}, verdict{Confirmed: true, Detail: "ok"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := judge(tc.evs); got != tc.want {
				t.Fatalf("judge = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestLogEvidence(t *testing.T) {
	ev := func(typ, result, reason string, m int) *okta.LogEvent {
		p := t0.Add(time.Duration(m) * time.Minute)
		return &okta.LogEvent{EventType: typ, Published: &p, Outcome: &okta.LogOutcome{Result: result, Reason: reason}}
	}
	events := []*okta.LogEvent{
		ev("application.provision.user.push", "SUCCESS", "", -1), // before the change
		ev("application.provision.user.push", "SUCCESS", "", 1),
		ev("application.provision.user.push_profile", "FAILURE", "Error while verifying if user a@example.com exists: Unauthorized", 2),
		ev("application.integration.authentication_failure", "FAILURE", "", 3),
		ev("application.integration.general_failure", "FAILURE", "timeout", 4),
		ev("user.session.start", "SUCCESS", "", 5),
	}
	got := logEvidence(events, t0)
	want := []evidenceKind{evSuccess, evAuthFailure, evAuthFailure, evFailure}
	if len(got) != len(want) {
		t.Fatalf("got %d pieces of evidence, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].Kind != want[i] {
			t.Errorf("evidence %d (%s) kind %d, want %d", i, got[i].Detail, got[i].Kind, want[i])
		}
	}
}

func TestAdminConsoleURL(t *testing.T) {
	tests := []struct{ org, app, want string }{
		{"https://acme.okta.com", "amazon_aws_sso", "https://acme-admin.okta.com/admin/app/amazon_aws_sso/instance/0oa1/#tab-user-management/api-credentials"},
		{"https://acme.oktapreview.com", "okta_org2org", "https://acme-admin.oktapreview.com/admin/app/okta_org2org/instance/0oa1/#tab-user-management/api-credentials"},
		{"https://login.example.com", "amazon_aws_sso", "https://login.example.com/admin/app/amazon_aws_sso/instance/0oa1/#tab-user-management/api-credentials"},
		{"https://127.0.0.1:8443", "amazon_aws_sso", "https://127.0.0.1:8443/admin/app/amazon_aws_sso/instance/0oa1/#tab-user-management/api-credentials"},
		{"https://acme.okta.com", "", "https://acme-admin.okta.com/admin/apps/active"},
	}
	for _, tc := range tests {
		if got := adminConsoleURL(tc.org, tc.app, "0oa1"); got != tc.want {
			t.Errorf("adminConsoleURL(%s, %s) = %s, want %s", tc.org, tc.app, got, tc.want)
		}
	}
}

// A token that Okta echoed would be scrubbed from the error.
func TestErrorsScrubTheToken(t *testing.T) {
	err := wrapErr("set connection", nil, &okta.Error{ErrorCode: "E0000001", ErrorSummary: "bad token " + leakToken,
		ErrorCauses: []map[string]any{{"errorSummary": "token " + leakToken + " invalid"}}}, rotator.NewSecret(leakToken))
	if strings.Contains(err.Error(), leakToken) || !strings.Contains(err.Error(), "E0000001") {
		t.Fatalf("error %q", err)
	}
}
