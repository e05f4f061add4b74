package charts

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// prometheusRule mirrors the Prometheus Operator's PrometheusRule as far as the chart renders it,
// so that a strict decode catches a misspelt field; Prometheus' own parser (promtool check rules)
// judges the rules.
type prometheusRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Groups []ruleGroup `json:"groups"`
	} `json:"spec"`
}

type ruleGroup struct {
	Name     string `json:"name"`
	Interval string `json:"interval,omitempty"`
	Rules    []rule `json:"rules"`
}

type rule struct {
	Alert         string            `json:"alert,omitempty"`
	Record        string            `json:"record,omitempty"`
	Expr          string            `json:"expr"`
	For           string            `json:"for,omitempty"`
	KeepFiringFor string            `json:"keep_firing_for,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// alertNames are the chart's alerts, in the order it renders them.
var alertNames = []string{"ScimRotatorTokenExpiringSoon", "ScimRotatorRunStuck", "ScimRotatorNoRecentSuccess", "ScimRotatorHealthDisagreement"}

// promtool runs promtool with args in dir and fails the test with its output on an error.
func promtool(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), promtoolTool.get(t), args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// renderRules renders the chart with the PrometheusRule enabled and returns its one object.
func renderRules(t *testing.T, args ...string) prometheusRule {
	t.Helper()
	out, err := runHelm(t, append([]string{"template", release, chartDir, "--namespace", namespace, "--set", "prometheusRule.enabled=true"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	m := decode(t, out)
	if len(m.prometheusRules) != 1 {
		t.Fatalf("rendered %d PrometheusRules, want 1", len(m.prometheusRules))
	}
	return m.prometheusRules[0]
}

// writeRules writes the PrometheusRule's groups as a Prometheus rule file in dir, checks it with
// promtool check rules (Prometheus' own parser: rulefmt, then PromQL and the templates) and
// returns the file's name.
func writeRules(t *testing.T, dir string, pr prometheusRule) string {
	t.Helper()
	b, err := sigsyaml.Marshal(map[string]any{"groups": pr.Spec.Groups})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	promtool(t, dir, "check", "rules", "rules.yaml")
	return "rules.yaml"
}

func alerts(pr prometheusRule) map[string]rule {
	out := map[string]rule{}
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				out[r.Alert] = r
			}
		}
	}
	return out
}

// TestPrometheusRule renders the rules in every example (either mode, a fleet), checks them with
// promtool and checks what each alert carries: a severity, a summary, a description and a
// runbook_url into a heading of the README.
func TestPrometheusRule(t *testing.T) {
	anchors := readmeAnchors(t)
	for _, file := range valuesSets {
		t.Run(name(file), func(t *testing.T) {
			pr := renderRules(t, valuesArgs(file)...)
			checkLabels(t, "PrometheusRule", pr.Labels)
			if pr.Namespace != namespace || pr.Name != fullname {
				t.Errorf("PrometheusRule %s/%s, want %s/%s", pr.Namespace, pr.Name, namespace, fullname)
			}
			writeRules(t, t.TempDir(), pr)
			got := alerts(pr)
			var names []string
			for _, g := range pr.Spec.Groups {
				for _, r := range g.Rules {
					names = append(names, r.Alert)
				}
			}
			if !slices.Equal(names, alertNames) {
				t.Fatalf("alerts %v, want %v", names, alertNames)
			}
			for _, n := range alertNames {
				r := got[n]
				if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
					t.Errorf("%s: severity %q, summary %q, description %q", n, r.Labels["severity"], r.Annotations["summary"], r.Annotations["description"])
				}
				url := r.Annotations["runbook_url"]
				base, anchor, _ := strings.Cut(url, "#")
				if base != "https://github.com/scim-rotator/scim-rotator/blob/main/README.md" || !anchors[anchor] {
					t.Errorf("%s: runbook_url %q is not a heading of README.md", n, url)
				}
				if !strings.Contains(r.Annotations["summary"]+r.Annotations["description"], "{{ $labels.instance_name }}") {
					t.Errorf("%s does not name the instance", n)
				}
				if !strings.Contains(r.Expr, "scim_rotator_") {
					t.Errorf("%s: expr %q reads no metric of ours", n, r.Expr)
				}
			}
		})
	}
}

// TestPrometheusRuleAlertsFire runs testdata/prometheusrule-test.yaml with promtool test rules
// against the rules as rendered with the defaults: synthetic series on which each alert must
// fire (at the time given, with its labels and annotations) and healthy series on which none may.
func TestPrometheusRuleAlertsFire(t *testing.T) {
	pr := renderRules(t)
	dir := t.TempDir()
	writeRules(t, dir, pr)
	b, err := os.ReadFile(filepath.Join("testdata", "prometheusrule-test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "test.yaml"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	// Every alert is tested: each has a test where it fires.
	for _, n := range alertNames {
		if !regexp.MustCompile(`alertname: ` + n + `\n\s+exp_alerts:\n\s+- exp_labels`).Match(b) {
			t.Errorf("testdata/prometheusrule-test.yaml has no test in which %s fires", n)
		}
	}
	out := promtool(t, dir, "test", "rules", "test.yaml")
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules:\n%s", out)
	}
}

// TestPrometheusRuleVariants covers the PrometheusRule's values: the window of
// ScimRotatorNoRecentSuccess derived from each readable form of schedule, the thresholds, labels,
// a disabled alert, the selector and extra rules. Each render passes promtool check rules.
func TestPrometheusRuleVariants(t *testing.T) {
	window := func(w string, seconds int) func(t *testing.T, pr prometheusRule) {
		return func(t *testing.T, pr prometheusRule) {
			t.Helper()
			r := alerts(pr)["ScimRotatorNoRecentSuccess"]
			if !strings.Contains(r.Expr, "["+w+"]") || !strings.Contains(r.Expr, fmt.Sprintf("time() - %d)", seconds)) ||
				!strings.Contains(r.Annotations["summary"], "for "+w) {
				t.Errorf("window: expr %q, summary %q; want [%s] and %d s", r.Expr, r.Annotations["summary"], w, seconds)
			}
		}
	}
	tests := []struct {
		name  string
		set   []string
		check func(t *testing.T, pr prometheusRule)
	}{
		{"default schedule", nil, window("12h", 43200)},
		{"daily", []string{"schedule=@daily"}, window("2d", 172800)},
		{"every 4h", []string{"schedule=@every 4h"}, window("8h", 28800)},
		{"every 90m", []string{"schedule=@every 1h30m"}, window("3h", 10800)},
		{"hourly", []string{"schedule=15 * * * *"}, window("2h", 7200)},
		{"every 30 minutes", []string{"schedule=*/30 * * * *"}, window("1h", 3600)},
		{"one hour a day", []string{"schedule=30 2 * * *"}, window("2d", 172800)},
		{"hour list, widest gap 18h", []string{"schedule=0 1\\,2\\,20 * * *"}, window("36h", 129600)},
		{"daemon's own schedule", []string{"mode=deployment", "config.schedule=@hourly"}, window("2h", 7200)},
		{"set explicitly", []string{"schedule=0 6 * * 1-5", "prometheusRule.noSuccessFor=4d"}, func(t *testing.T, pr prometheusRule) {
			window("4d", 345600)(t, pr)
			if d := alerts(pr)["ScimRotatorNoRecentSuccess"].Annotations["description"]; strings.Contains(d, "twice the schedule") {
				t.Errorf("an explicit window is described as derived: %q", d)
			}
		}},
		{"expiry days", []string{"prometheusRule.expiryDays=30"}, func(t *testing.T, pr prometheusRule) {
			r := alerts(pr)["ScimRotatorTokenExpiringSoon"]
			if !strings.HasSuffix(r.Expr, "< 2592000") || !strings.Contains(r.Annotations["summary"], "within 30 days") {
				t.Errorf("expr %q, summary %q", r.Expr, r.Annotations["summary"])
			}
		}},
		{"stuck outcomes and bound", []string{"prometheusRule.stuckOutcomes={Failed,AwaitingToken}", "prometheusRule.alerts.ScimRotatorRunStuck.for=1d"}, func(t *testing.T, pr prometheusRule) {
			r := alerts(pr)["ScimRotatorRunStuck"]
			if r.Expr != `scim_rotator_last_run_timestamp_seconds{result=~"Failed|AwaitingToken"}` || r.For != "1d" ||
				!strings.Contains(r.Annotations["description"], "for at least 1d") {
				t.Errorf("expr %q, for %q, description %q", r.Expr, r.For, r.Annotations["description"])
			}
		}},
		{"labels", []string{"prometheusRule.additionalLabels.release=kube-prometheus-stack", "prometheusRule.ruleLabels.team=identity",
			"prometheusRule.ruleLabels.severity=info", "prometheusRule.alerts.ScimRotatorRunStuck.severity=critical",
			"prometheusRule.alerts.ScimRotatorRunStuck.labels.page=yes"}, func(t *testing.T, pr prometheusRule) {
			if pr.Labels["release"] != "kube-prometheus-stack" {
				t.Errorf("PrometheusRule labels %v lack release", pr.Labels)
			}
			for n, r := range alerts(pr) {
				want := map[string]string{"team": "identity", "severity": map[string]string{
					"ScimRotatorTokenExpiringSoon": "critical", "ScimRotatorRunStuck": "critical"}[n]}
				if want["severity"] == "" {
					want["severity"] = "warning"
				}
				if n == "ScimRotatorRunStuck" {
					want["page"] = "yes"
				}
				if !maps(r.Labels, want) {
					t.Errorf("%s labels %v, want %v", n, r.Labels, want)
				}
			}
		}},
		{"alert disabled, extra rule", []string{"prometheusRule.alerts.ScimRotatorHealthDisagreement.enabled=false",
			"prometheusRule.additionalRules[0].alert=ScimRotatorInProgressTooLong",
			"prometheusRule.additionalRules[0].expr=scim_rotator_rotation_in_progress == 1",
			"prometheusRule.additionalRules[0].for=1d"}, func(t *testing.T, pr prometheusRule) {
			got := alerts(pr)
			if _, ok := got["ScimRotatorHealthDisagreement"]; ok || len(got) != 4 || got["ScimRotatorInProgressTooLong"].For != "1d" {
				t.Errorf("alerts %v: want the disabled one gone and the extra rule kept", got)
			}
		}},
		{"no for", []string{"prometheusRule.alerts.ScimRotatorHealthDisagreement.for="}, func(t *testing.T, pr prometheusRule) {
			if f := alerts(pr)["ScimRotatorHealthDisagreement"].For; f != "" {
				t.Errorf("for = %q, want none", f)
			}
		}},
		{"selector", []string{`prometheusRule.selector=namespace="identity"`}, func(t *testing.T, pr prometheusRule) {
			for n, r := range alerts(pr) {
				// Every series selector, and only those, gains the matcher.
				series := regexp.MustCompile(`scim_rotator_[a-z_]+(\{[^}]*\})?`).FindAllStringSubmatch(r.Expr, -1)
				for _, s := range series {
					if !strings.Contains(s[1], `namespace="identity"`) {
						t.Errorf("%s: selector %q lacks the matcher in %q", n, s[0], r.Expr)
					}
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr := renderRules(t, valuesArgs("", tt.set...)...)
			writeRules(t, t.TempDir(), pr)
			tt.check(t, pr)
		})
	}
}

// maps reports whether got and want hold the same pairs.
func maps(got, want map[string]string) bool {
	return len(got) == len(want) && subset(want, got)
}

// TestPrometheusRuleRejects checks the PrometheusRule values the templates or the schema refuse.
func TestPrometheusRuleRejects(t *testing.T) {
	tests := []struct {
		name string
		set  []string
		want string
	}{
		{"unreadable schedule", []string{"schedule=0 6 * * 1-5"}, `prometheusRule.noSuccessFor: cannot derive twice the interval of the schedule "0 6 * * 1-5"`},
		{"go duration with fractions", []string{"prometheusRule.noSuccessFor=1.5h"}, "noSuccessFor"},
		{"unknown outcome", []string{"prometheusRule.stuckOutcomes={Failed,Broken}"}, "stuckOutcomes"},
		{"unknown alert", []string{"prometheusRule.alerts.ScimRotatorOther.enabled=true"}, "ScimRotatorOther"},
		{"selector with braces", []string{`prometheusRule.selector={job="x"}`}, "selector"},
		{"no expiry days", []string{"prometheusRule.expiryDays=0"}, "expiryDays"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"template", release, chartDir, "--set", "prometheusRule.enabled=true"}, valuesArgs("", tt.set...)...)
			out, err := runHelm(t, args...)
			if err == nil {
				t.Fatalf("--set %v rendered:\n%s", tt.set, out)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("--set %v failed without mentioning %q: %v", tt.set, tt.want, err)
			}
		})
	}
}

// readmeAnchors are the anchors GitHub gives the README's headings: lower case, punctuation
// other than - and _ dropped, spaces as -.
func readmeAnchors(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	drop := regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	for _, line := range strings.Split(string(b), "\n") {
		if h, ok := strings.CutPrefix(line, "#"); ok {
			h = strings.TrimLeft(h, "#")
			anchors[strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(strings.TrimSpace(h)), ""), " ", "-")] = true
		}
	}
	return anchors
}

// TestCIInstallsPromtool: .ci/run installs the promtool the tests pin, so that CI does not build
// it inside the chart test's time limit.
func TestCIInstallsPromtool(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), promtoolVersion) || !strings.Contains(string(b), "-tags "+promtoolTags) {
		t.Errorf(".ci/run does not install %s with -tags %s", promtoolVersion, promtoolTags)
	}
}

// isDashboard reports whether a rendered ConfigMap holds a Grafana dashboard (a *.json key).
func isDashboard(cm corev1.ConfigMap) bool {
	for k := range cm.Data {
		if strings.HasSuffix(k, ".json") {
			return true
		}
	}
	return false
}
