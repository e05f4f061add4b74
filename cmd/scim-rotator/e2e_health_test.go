package main

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// The daemon alerts ExpiryDisagreement on Slack when AWS Health announces,
// for the live token, a date ten days from the one Identity Center lists;
// status shows the notice and the disagreement beside the tokens.
func TestE2EHealthDisagreementAlerted(t *testing.T) {
	e := newEnv(t, sandbox.Options{Health: true})
	liveID, _ := e.sb.SeedLiveToken(300 * 24 * time.Hour) // 65 days left: not due
	var listed time.Time
	for _, tok := range e.sb.IC.Tokens() {
		if tok.ID == liveID {
			listed = tok.Expires
		}
	}
	announced := listed.AddDate(0, 0, -10)
	e.sb.Health.AddNotice(liveID, announced)

	code, out, errOut := e.run("status", "-o", "json")
	if code != 0 {
		t.Fatalf("status exit %d: %s", code, errOut)
	}
	schema, err := jsonschema.NewCompiler().Compile("schemas/status.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(inst); err != nil {
		t.Fatalf("status -o json with a health entry does not match the schema: %v\n%s", err, out)
	}
	var rep rotator.StatusReport
	if err := json.Unmarshal(only(t, out), &rep); err != nil {
		t.Fatal(err)
	}
	if _, text, _ := e.run("status"); !strings.Contains(text, "DateMismatch") {
		t.Fatalf("status text lacks the disagreement:\n%s", text)
	}
	fields := map[string]any{}
	for _, s := range rep.Systems {
		if s.System == "health" {
			for _, f := range s.Fields {
				fields[f.Key] = f.Value
			}
		}
	}
	if fields["notices"] != float64(1) || !strings.Contains(fmtJSON(fields["disagreements"]), "DateMismatch") ||
		!strings.Contains(fmtJSON(fields["noticeTokenIds"]), liveID) {
		t.Fatalf("status health fields %v\n%s", fields, out)
	}

	d := e.startDaemon()
	logs := d.out
	// The daemon's watch is also a gauge per kind, for the chart's alert.
	d.waitMetrics(`scim_rotator_expiry_disagreements{instance_name="default",kind="DateMismatch"} 1`,
		`scim_rotator_expiry_disagreements{instance_name="default",kind="UnknownToken"} 0`)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var alert string
	for alert == "" {
		for _, m := range e.sb.Slack.Received() {
			if strings.Contains(m.Text, "ExpiryDisagreement") || strings.Contains(fmtJSON(m.Blocks), "ExpiryDisagreement") {
				alert = fmtJSON(m)
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no ExpiryDisagreement alert on Slack:\n%s", logs.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	for _, want := range []string{liveID, announced.UTC().Format("2006-01-02"), listed.UTC().Format("2006-01-02")} {
		if !strings.Contains(alert, want) {
			t.Errorf("alert lacks %s: %s", want, alert)
		}
	}
	d.stop()
	if len(e.sb.IC.Tokens()) != 1 {
		t.Fatal("a disagreement alerts; it does not rotate")
	}
}

// check WARNs, and still exits 0, when the account's support plan does not
// include the Health API.
func TestE2EHealthCheckWarnsWithoutSubscription(t *testing.T) {
	e := newEnv(t, sandbox.Options{Health: true})
	e.sb.SeedLiveToken(30 * 24 * time.Hour)
	e.sb.Health.SetSubscriptionRequired(true)
	code, out, errOut := e.run("check")
	if code != 0 {
		t.Fatalf("check exit %d:\n%s\n%s", code, out, errOut)
	}
	var line string
	for _, l := range strings.Split(checkRows(out), "\n") {
		if strings.Contains(l, "health") && strings.Contains(l, "expiry notices") && line == "" {
			line = l
		}
	}
	if !strings.HasPrefix(line, "WARN") || !strings.Contains(line, "SubscriptionRequiredException") || !strings.Contains(out, "support plan") {
		t.Fatalf("check output:\n%s", out)
	}
	e.sb.Health.SetSubscriptionRequired(false)
	e.sb.Health.SetAccessDenied(true)
	if code, out, _ := e.run("check"); code != 1 || !strings.Contains(out, "health:DescribeEventDetails") {
		t.Fatalf("denied: check exit %d:\n%s", code, out)
	}
}

func fmtJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// A one-shot run (the chart's CronJob) compares AWS Health's notices too and
// pushes the disagreements with its metrics; once Health agrees, 0.
func TestE2EHealthDisagreementPushed(t *testing.T) {
	e := newEnv(t, sandbox.Options{Health: true})
	liveID, _ := e.sb.SeedLiveToken(300 * 24 * time.Hour)
	var listed time.Time
	for _, tok := range e.sb.IC.Tokens() {
		if tok.ID == liveID {
			listed = tok.Expires
		}
	}
	e.sb.Health.AddNotice(liveID, listed.AddDate(0, 0, -10))
	pg := newFakePushgateway(t)
	e.editConfig("metrics:\n  pushgatewayUrl: " + pg.URL + "\n")
	if code, out, errOut := e.run("rotate"); code != 0 || !strings.HasPrefix(out, "NotDue") {
		t.Fatalf("rotate exit %d: %s\n%s", code, out, errOut)
	}
	pushes := pg.pushes()
	if len(pushes) != 1 {
		t.Fatalf("%d pushes, want 1", len(pushes))
	}
	got := gaugesByLabel(pushes[0], "scim_rotator_expiry_disagreements", "kind")
	if want := map[string]float64{"DateMismatch": 1, "UnknownToken": 0, "DueNotRotating": 0}; !maps.Equal(got, want) {
		t.Errorf("pushed disagreements %v, want %v", got, want)
	}
	if got := gaugesByLabel(pushes[0], "scim_rotator_last_run_timestamp_seconds", "result"); len(got) != 1 || got["NotDue"] == 0 {
		t.Errorf("pushed last run %v, want one NotDue series", got)
	}
}
