package config

import (
	"errors"
	"slices"
	"testing"
)

func TestSlackDefaults(t *testing.T) {
	s := Slack{WebhookURLEnv: "SLACK_WEBHOOK_URL"}
	s.setDefaults()
	for _, o := range []string{"NotDue", "Waiting"} {
		if slices.Contains(s.NotifyOn, o) {
			t.Errorf("default notifyOn %v contains %s", s.NotifyOn, o)
		}
	}
	if got, want := len(s.NotifyOn), len(NotifyOutcomes)-2; got != want {
		t.Errorf("default notifyOn has %d outcomes, want %d: %v", got, want, s.NotifyOn)
	}
	if err := s.validate("notify.slack"); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}

	explicit := Slack{WebhookURLEnv: "X", NotifyOn: []string{"Failed"}}
	explicit.setDefaults()
	if !slices.Equal(explicit.NotifyOn, []string{"Failed"}) {
		t.Errorf("setDefaults replaced an explicit notifyOn: %v", explicit.NotifyOn)
	}
}

func TestSlackValidate(t *testing.T) {
	tests := []struct {
		name string
		in   Slack
		want []Error // every error, in order; nil = valid
	}{
		{name: "env", in: Slack{WebhookURLEnv: "SLACK_WEBHOOK_URL", NotifyOn: []string{"Rotated", "Failed"}}},
		{name: "file", in: Slack{WebhookURLFile: "/etc/slack/url", Channel: "#ops", NotifyOn: NotifyOutcomes}},
		{
			name: "both sources",
			in:   Slack{WebhookURLEnv: "A", WebhookURLFile: "/b", NotifyOn: []string{"Rotated"}},
			want: []Error{{Key: "notify.slack.webhookUrlFile", Msg: "not with notify.slack.webhookUrlEnv: set only one of the Env, File and SecretsManager forms"}},
		},
		{
			name: "no source",
			in:   Slack{NotifyOn: []string{"Rotated"}},
			want: []Error{{Key: "notify.slack.webhookUrlEnv", Msg: "required (or notify.slack.webhookUrlFile, or notify.slack.webhookUrlSecretsManager)"}},
		},
		{
			name: "unknown outcome",
			in:   Slack{WebhookURLEnv: "A", NotifyOn: []string{"Rotated", "Failed", "Foo"}},
			want: []Error{{Key: "notify.slack.notifyOn[2]", Msg: `unknown outcome "Foo": one of Rotated, RolledBack, Failed, Blocked, AwaitingHandoff, AwaitingToken, ExpiringSoon, NotDue, ConfirmTimeout, Interrupted, OldTokenInUse, ExpiryDisagreement, RevokedTokenUsed, Waiting`}},
		},
		{
			name: "case matters",
			in:   Slack{WebhookURLEnv: "A", NotifyOn: []string{"rotated"}},
			want: []Error{{Key: "notify.slack.notifyOn[0]", Msg: `unknown outcome "rotated": one of Rotated, RolledBack, Failed, Blocked, AwaitingHandoff, AwaitingToken, ExpiringSoon, NotDue, ConfirmTimeout, Interrupted, OldTokenInUse, ExpiryDisagreement, RevokedTokenUsed, Waiting`}},
		},
		{
			name: "duplicate",
			in:   Slack{WebhookURLEnv: "A", NotifyOn: []string{"Failed", "Failed"}},
			want: []Error{{Key: "notify.slack.notifyOn[1]", Msg: `duplicate outcome "Failed"`}},
		},
		{
			name: "explicitly empty",
			in:   Slack{WebhookURLEnv: "A", NotifyOn: []string{}},
			want: []Error{{Key: "notify.slack.notifyOn", Msg: "must list at least one outcome (omit the key for the default: every outcome except NotDue and Waiting)"}},
		},
		{
			name: "several at once",
			in:   Slack{NotifyOn: []string{"Bar"}},
			want: []Error{
				{Key: "notify.slack.webhookUrlEnv", Msg: "required (or notify.slack.webhookUrlFile, or notify.slack.webhookUrlSecretsManager)"},
				{Key: "notify.slack.notifyOn[0]", Msg: `unknown outcome "Bar": one of Rotated, RolledBack, Failed, Blocked, AwaitingHandoff, AwaitingToken, ExpiringSoon, NotDue, ConfirmTimeout, Interrupted, OldTokenInUse, ExpiryDisagreement, RevokedTokenUsed, Waiting`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.validate("notify.slack")
			got := unjoinSlackErrs(err)
			if len(got) != len(tt.want) {
				t.Fatalf("validate() = %v, want %d errors %v", err, len(tt.want), tt.want)
			}
			for i := range got {
				var ce *Error
				if !errors.As(got[i], &ce) {
					t.Fatalf("error %d is %T, want *config.Error", i, got[i])
				}
				if *ce != tt.want[i] {
					t.Errorf("error %d = %#v, want %#v", i, *ce, tt.want[i])
				}
			}
		})
	}
}

// unjoinSlackErrs lists the errors joined by errors.Join.
func unjoinSlackErrs(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
