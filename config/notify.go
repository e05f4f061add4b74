package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// NotifyOutcomes lists the outcome names notify.slack.notifyOn accepts. They
// are the CamelCase reasons the rotator reports (rotator.Reason); config
// imports nothing of ours, so the names are repeated here, and
// cmd/scim-rotator's reasons_test.go keeps them in step: every reason an
// alert can carry, no other.
var NotifyOutcomes = []string{
	"Rotated", "RolledBack", "Failed", "Blocked", "AwaitingHandoff",
	"AwaitingToken", "ExpiringSoon", "NotDue", "ConfirmTimeout",
	"Interrupted", "OldTokenInUse", "ExpiryDisagreement", "RevokedTokenUsed",
	"Waiting",
}

// DefaultNotifyOn is notifyOn when the key is absent: every outcome except
// NotDue, which would post on every scheduled tick, and Waiting, a bounded
// run leaving a wait to the next run as designed.
func DefaultNotifyOn() []string {
	out := make([]string, 0, len(NotifyOutcomes))
	for _, o := range NotifyOutcomes {
		if o != "NotDue" && o != "Waiting" {
			out = append(out, o)
		}
	}
	return out
}

// setDefaults fills the slack block's defaults. An absent notifyOn gets the
// default; an explicitly empty one is left for validate to reject.
func (s *Slack) setDefaults() {
	if s.NotifyOn == nil {
		s.NotifyOn = DefaultNotifyOn()
	}
}

// validate checks the slack block; key is "notify.slack".
func (s *Slack) validate(key string) error {
	var errs []error
	if err := OneSecret(key+".webhookUrl", s.WebhookURL(), true); err != nil {
		errs = append(errs, err)
	}
	if s.NotifyOn != nil && len(s.NotifyOn) == 0 {
		errs = append(errs, &Error{Key: key + ".notifyOn", Msg: "must list at least one outcome (omit the key for the default: every outcome except NotDue and Waiting)"})
	}
	seen := map[string]bool{}
	for i, o := range s.NotifyOn {
		k := fmt.Sprintf("%s.notifyOn[%d]", key, i)
		switch {
		case !slices.Contains(NotifyOutcomes, o):
			errs = append(errs, &Error{Key: k, Msg: fmt.Sprintf("unknown outcome %s: one of %s", Quote(o), strings.Join(NotifyOutcomes, ", "))})
		case seen[o]:
			errs = append(errs, &Error{Key: k, Msg: fmt.Sprintf("duplicate outcome %s", Quote(o))})
		}
		seen[o] = true
	}
	return errors.Join(errs...)
}
