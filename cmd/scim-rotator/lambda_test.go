package main

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// A payload runs the command its fields say, with the flags' rules; a bad
// one names its field and runs nothing.
func TestLambdaPayload(t *testing.T) {
	deadline := time.Date(2026, 12, 8, 0, 15, 0, 0, time.UTC)
	now := deadline.Add(-15 * time.Minute)
	for _, tc := range []struct {
		payload string
		args    string // "" for an error
		field   string // the field the error names
	}{
		{`{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","time":"2026-12-08T00:00:00Z","detail":{}}`,
			"rotate --deadline 14m0s -o json --log-format json --config C", ""},
		{`{"command":"rotate"}`, "rotate --deadline 14m0s -o json --log-format json --config C", ""},
		{`{"command":"rotate","now":true,"revokeOld":true,"instances":["prod","staging"]}`,
			"rotate --now --revoke-old --deadline 14m0s --instance prod --instance staging -o json --log-format json --config C", ""},
		{`{"command":"rotate","dryRun":true}`, "rotate --dry-run --deadline 14m0s -o json --log-format json --config C", ""},
		{`{"command":"continue"}`, "rotate --continue --deadline 14m0s -o json --log-format json --config C", ""},
		{`{"command":"check"}`, "check -o json --log-format json --config C", ""},
		{`{"command":"status","instances":["prod"]}`, "status --instance prod -o json --log-format json --config C", ""},
		{`{}`, "", "command"},
		{`{"command":"delete"}`, "", "command"},
		{`{"command":"check","now":true}`, "", "now"},
		{`{"command":"continue","dryRun":true}`, "", "dryRun"},
		{`{"command":"rotate","revokeOld":true}`, "", "revokeOld"},
		{`{"command":"rotate","now":"yes"}`, "", "now"},
		{`{"command":"rotate","instances":"prod"}`, "", "instances"},
		{`{"command":"rotate","instances":["--now"]}`, "", "instances"},
		{`{"command":"rotate","token":"x"}`, "", "token"},
	} {
		inv, err := parseInvocation([]byte(tc.payload))
		if tc.args == "" {
			var pe *payloadError
			if !errors.As(err, &pe) || pe.field != tc.field || !strings.Contains(err.Error(), `"`+tc.field+`"`) {
				t.Errorf("%s: error %v, want one naming %q", tc.payload, err, tc.field)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.payload, err)
			continue
		}
		if got := strings.Join(inv.args("C", deadline, now), " "); got != tc.args {
			t.Errorf("%s:\n got %s\nwant %s", tc.payload, got, tc.args)
		}
	}
	if _, err := parseInvocation([]byte(`not json`)); err == nil {
		t.Error("a payload that is not JSON was accepted")
	}
	// A short invocation keeps a tenth of its time; no deadline, no flag.
	inv := invocation{Command: "rotate"}
	if got := inv.args("", now.Add(20*time.Second), now); !slices.Contains(got, "18s") {
		t.Errorf("20 s left: %v, want --deadline 18s", got)
	}
	if got := inv.args("", time.Time{}, now); slices.Contains(got, "--deadline") {
		t.Errorf("no deadline: %v", got)
	}
}
