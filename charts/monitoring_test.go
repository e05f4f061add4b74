package charts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/scim-rotator/scim-rotator/adapters/metrics"
	"github.com/scim-rotator/scim-rotator/rotator"
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
	pr := renderRules(t, valuesArgs("")...)
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
				if !samePairs(r.Labels, want) {
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

// samePairs reports whether got and want hold the same pairs.
func samePairs(got, want map[string]string) bool {
	return len(got) == len(want) && subset(want, got)
}

// TestPrometheusRuleRejects checks the PrometheusRule values the templates or the schema refuse.
func TestPrometheusRuleRejects(t *testing.T) {
	on := "prometheusRule.enabled=true"
	checkRejects(t, []rejectCase{
		{"unreadable schedule", []string{on, "schedule=0 6 * * 1-5"}, `prometheusRule.noSuccessFor: cannot derive twice the interval of the schedule "0 6 * * 1-5"`},
		{"go duration with fractions", []string{on, "prometheusRule.noSuccessFor=1.5h"}, "noSuccessFor"},
		{"unknown outcome", []string{on, "prometheusRule.stuckOutcomes={Failed,Broken}"}, "stuckOutcomes"},
		{"unknown alert", []string{on, "prometheusRule.alerts.ScimRotatorOther.enabled=true"}, "ScimRotatorOther"},
		{"selector with braces", []string{on, `prometheusRule.selector={job="x"}`}, "selector"},
		{"no expiry days", []string{on, "prometheusRule.expiryDays=0"}, "expiryDays"},
	})
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

// isDashboard reports whether a rendered ConfigMap holds a Grafana dashboard (a *.json key).
func isDashboard(cm corev1.ConfigMap) bool {
	for k := range cm.Data {
		if strings.HasSuffix(k, ".json") {
			return true
		}
	}
	return false
}

const dashboardFile = "scim-rotator/dashboards/scim-rotator.json"

// grafanaDashboard is what the tests read of the dashboard JSON.
type grafanaDashboard struct {
	Title         string `json:"title"`
	UID           string `json:"uid"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		GridPos struct {
			H, W, X, Y int
		} `json:"gridPos"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func readDashboard(t *testing.T) ([]byte, grafanaDashboard) {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s is not valid JSON: %v", dashboardFile, err)
	}
	return b, d
}

// dashboardQueries are the dashboard's PromQL queries with Grafana's variables replaced by values
// Prometheus accepts, keyed by panel title and refId.
func dashboardQueries(d grafanaDashboard) map[string]string {
	vars := strings.NewReplacer("$instance", ".*", "$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")
	out := map[string]string{}
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			out[p.Title+"/"+q.RefID] = vars.Replace(q.Expr)
		}
	}
	return out
}

// exportedSeries gathers the metrics package with every series set, as the rotator sets them,
// and returns each family.
func exportedSeries(t *testing.T) []*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewRegistry()
	o := metrics.New(reg, metrics.Build{Version: "v0.0.0-test", GoVersion: "go"}).ForInstance("prod")
	now := time.Now()
	o.InProgress(false)
	o.StepDone("Confirm", "entra", 42*time.Minute)
	o.StepDone("CreateToken", "", time.Second)
	o.LiveTokenExpiry(now.Add(300 * 24 * time.Hour))
	o.TokenLastUsed("live", now.Add(-time.Hour))
	o.TokenLastUsed("old", now.Add(-48*time.Hour))
	o.RotationDone(rotator.ReasonRotated)
	o.ExpiryDisagreements([]rotator.Disagreement{{Kind: rotator.DateMismatch}})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// TestDashboard checks the dashboard file: valid JSON with a title, uid and unique panel ids, every
// panel on the ${datasource} variable with at least one query, every variable it uses defined,
// and every query reading only series (and labels) the metrics package exports.
func TestDashboard(t *testing.T) {
	_, d := readDashboard(t)
	if d.Title == "" || d.UID == "" || d.SchemaVersion == 0 || len(d.Panels) == 0 {
		t.Fatalf("dashboard: title %q, uid %q, schemaVersion %d, %d panels", d.Title, d.UID, d.SchemaVersion, len(d.Panels))
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] || p.ID == 0 {
			t.Errorf("panel %q: id %d is not unique", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.Datasource.UID != "${datasource}" || !vars["datasource"] {
			t.Errorf("panel %q: datasource %q, want the ${datasource} variable", p.Title, p.Datasource.UID)
		}
		if len(p.Targets) == 0 || p.GridPos.W == 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: %d queries, gridPos %+v", p.Title, len(p.Targets), p.GridPos)
		}
		for _, q := range p.Targets {
			for _, v := range regexp.MustCompile(`\$([a-z][a-z_]*)`).FindAllStringSubmatch(q.Expr, -1) {
				if !vars[v[1]] {
					t.Errorf("panel %q uses the undefined variable $%s", p.Title, v[1])
				}
			}
		}
	}

	// Series names and their labels, histograms with their _bucket, _sum and _count.
	labels := map[string]map[string]bool{}
	for _, mf := range exportedSeries(t) {
		names := []string{mf.GetName()}
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			names = []string{mf.GetName() + "_bucket", mf.GetName() + "_sum", mf.GetName() + "_count"}
		}
		for _, n := range names {
			labels[n] = map[string]bool{}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					labels[n][l.GetName()] = true
				}
			}
		}
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			labels[mf.GetName()+"_bucket"]["le"] = true
		}
	}
	series := regexp.MustCompile(`\b(scim_rotator_[a-z_]+)(\{([^}]*)\})?`)
	for key, q := range dashboardQueries(d) {
		used := map[string]bool{}
		found := series.FindAllStringSubmatch(q, -1)
		if len(found) == 0 {
			t.Errorf("%s: %q reads no scim_rotator series", key, q)
		}
		for _, s := range found {
			ls, ok := labels[s[1]]
			if !ok {
				t.Errorf("%s: %s is not a series the metrics package exports", key, s[1])
				continue
			}
			for l := range ls {
				used[l] = true
			}
			for _, mt := range regexp.MustCompile(`([a-zA-Z_]+)\s*(=~|!~|!=|=)`).FindAllStringSubmatch(s[3], -1) {
				if !ls[mt[1]] {
					t.Errorf("%s: %s has no label %s", key, s[1], mt[1])
				}
			}
		}
		for _, by := range regexp.MustCompile(`\bby \(([^)]*)\)`).FindAllStringSubmatch(q, -1) {
			for _, l := range strings.Split(by[1], ",") {
				if l = strings.TrimSpace(l); !used[l] {
					t.Errorf("%s: groups by %s, a label none of its series has", key, l)
				}
			}
		}
	}
}

// TestDashboardQueriesAnswer evaluates every query of the dashboard with Prometheus' engine
// (promtool test rules) on the series the metrics package exports, sampled every minute: each
// must parse and return data. Each query becomes an alert `count(<query>) > 0` that must fire.
func TestDashboardQueriesAnswer(t *testing.T) {
	_, d := readDashboard(t)
	queries := dashboardQueries(d)
	keys := slices.Sorted(maps.Keys(queries))
	var rules []rule
	type alertTest struct {
		EvalTime  string     `json:"eval_time"`
		Alertname string     `json:"alertname"`
		ExpAlerts []expAlert `json:"exp_alerts"`
	}
	var tests []alertTest
	for i, k := range keys {
		name := fmt.Sprintf("Query%d", i)
		rules = append(rules, rule{Alert: name, Expr: "count(" + queries[k] + ") > 0", Annotations: map[string]string{"query": k}})
		at := alertTest{EvalTime: "20m", Alertname: name}
		// The query's key is its annotation, so that promtool's report names the panel.
		at.ExpAlerts = []expAlert{{ExpLabels: map[string]string{}, ExpAnnotations: map[string]string{"query": k}}}
		tests = append(tests, at)
	}
	var input []map[string]string
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	add := func(name string, ls []*dto.LabelPair, extra map[string]string, values string) {
		var parts []string
		for _, l := range ls {
			parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
		}
		for k, v := range extra {
			parts = append(parts, fmt.Sprintf("%s=%q", k, v))
		}
		input = append(input, map[string]string{"series": name + "{" + strings.Join(parts, ",") + "}", "values": values})
	}
	for _, mf := range exportedSeries(t) {
		for _, m := range mf.GetMetric() {
			switch mf.GetType() {
			case dto.MetricType_GAUGE:
				add(mf.GetName(), m.GetLabel(), nil, num(m.GetGauge().GetValue())+"x30")
			case dto.MetricType_COUNTER:
				add(mf.GetName(), m.GetLabel(), nil, num(m.GetCounter().GetValue())+"+1x30")
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					add(mf.GetName()+"_bucket", m.GetLabel(), map[string]string{"le": num(b.GetUpperBound())}, num(float64(b.GetCumulativeCount()))+"+1x30")
				}
				add(mf.GetName()+"_bucket", m.GetLabel(), map[string]string{"le": "+Inf"}, num(float64(h.GetSampleCount()))+"+1x30")
				add(mf.GetName()+"_sum", m.GetLabel(), nil, num(h.GetSampleSum())+"+60x30")
				add(mf.GetName()+"_count", m.GetLabel(), nil, num(float64(h.GetSampleCount()))+"+1x30")
			default:
				t.Fatalf("%s: unexpected metric type %v", mf.GetName(), mf.GetType())
			}
		}
	}
	dir := t.TempDir()
	writeRules(t, dir, prometheusRule{Spec: struct {
		Groups []ruleGroup `json:"groups"`
	}{[]ruleGroup{{Name: "dashboard", Rules: rules}}}})
	test := map[string]any{
		"rule_files":          []string{"rules.yaml"},
		"evaluation_interval": "1m",
		"tests":               []any{map[string]any{"interval": "1m", "input_series": input, "alert_rule_test": tests}},
	}
	b, err := sigsyaml.Marshal(test)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "test.yaml"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	promtool(t, dir, "test", "rules", "test.yaml")
}

// expAlert is an alert promtool test rules expects.
type expAlert struct {
	ExpLabels      map[string]string `json:"exp_labels"`
	ExpAnnotations map[string]string `json:"exp_annotations"`
}

// TestDashboardConfigMap: grafanaDashboard.enabled renders the dashboard file as it is, with the
// sidecar's label (or the one set) and its annotations.
func TestDashboardConfigMap(t *testing.T) {
	file, _ := readDashboard(t)
	tests := []struct {
		name       string
		set        []string
		labels     map[string]string
		namespace  string
		annotation string
	}{
		{"defaults", nil, map[string]string{"grafana_dashboard": "1"}, namespace, ""},
		{"another sidecar label, folder, namespace", []string{"grafanaDashboard.labels.grafana_dashboard=null", "grafanaDashboard.labels.dashboards=scim",
			"grafanaDashboard.annotations.grafana_folder=Identity", "grafanaDashboard.namespace=monitoring"}, map[string]string{"dashboards": "scim"}, "monitoring", "Identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := renderVariant(t, valuesArgs("", append([]string{"grafanaDashboard.enabled=true"}, tt.set...)...), nil, 1)
			if len(m.dashboards) != 1 {
				t.Fatalf("rendered %d dashboard ConfigMaps, want 1", len(m.dashboards))
			}
			cm := m.dashboards[0]
			checkLabels(t, "dashboard ConfigMap", cm.Labels)
			if got := cm.Data["scim-rotator.json"]; got != strings.TrimSuffix(string(file), "\n") {
				t.Errorf("the ConfigMap's dashboard is not %s as it is", dashboardFile)
			}
			if !subset(tt.labels, cm.Labels) || (tt.name != "defaults" && cm.Labels["grafana_dashboard"] != "") {
				t.Errorf("labels %v, want %v", cm.Labels, tt.labels)
			}
			if cm.Namespace != tt.namespace || cm.Annotations["grafana_folder"] != tt.annotation || cm.Name != fullname+"-dashboard" {
				t.Errorf("ConfigMap %s/%s, annotations %v", cm.Namespace, cm.Name, cm.Annotations)
			}
		})
	}
	m := renderVariant(t, valuesArgs(""), nil, 1)
	if len(m.dashboards) != 0 {
		t.Error("a dashboard rendered by default")
	}
}

// TestNotesListEnabled: the NOTES list what was enabled besides the rotator and how to see it,
// and warn when the alerts could not see the metrics.
func TestNotesListEnabled(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		set       []string
		want, not []string
	}{
		{"defaults", "", nil, nil, []string{"Also installed", "prometheusrule", "dashboard"}},
		{"cronjob without a pushgateway", "", []string{"prometheusRule.enabled=true", "prometheusRule.alerts.ScimRotatorHealthDisagreement.enabled=false"}, []string{
			"- Alerts: PrometheusRule " + fullname + " (ScimRotatorTokenExpiringSoon, ScimRotatorRunStuck, ScimRotatorNoRecentSuccess), each with a runbook_url",
			"kubectl -n " + namespace + " get prometheusrule " + fullname + " -o yaml",
			"config.metrics.pushgatewayUrl is not set: these alerts cannot fire"}, []string{"ScimRotatorHealthDisagreement"}},
		{"cronjob example", "ci/cronjob-values.yaml", []string{"prometheusRule.enabled=true", "grafanaDashboard.enabled=true", "networkPolicy.enabled=true"}, []string{
			"kubectl -n " + namespace + " get prometheusrule " + fullname,
			`Grafana dashboard "scim-rotator" (uid scim-rotator) in ConfigMap ` + fullname + "-dashboard",
			"kubectl -n " + namespace + " get configmap " + fullname + "-dashboard",
			"the pods trust the configMap corp-ca, key ca.crt, in addition to the system roots",
			"kubectl -n " + namespace + " get configmap corp-ca",
			"kubectl -n " + namespace + " get networkpolicy " + fullname}, []string{"cannot fire", "ServiceMonitor"}},
		{"deployment example", "ci/deployment-values.yaml", nil, []string{
			"kubectl -n " + namespace + " get servicemonitor " + fullname,
			"kubectl -n " + namespace + " get prometheusrule " + fullname,
			"labelled grafana_dashboard=1 in the namespace " + namespace}, []string{"cannot fire", "must scrape"}},
		{"deployment without a ServiceMonitor", "", []string{"mode=deployment", "prometheusRule.enabled=true"}, []string{"set serviceMonitor.enabled"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runHelm(t, append([]string{"install", release, chartDir, "--namespace", namespace, "--dry-run=client"}, valuesArgs(tt.file, tt.set...)...)...)
			if err != nil {
				t.Fatal(err)
			}
			_, notes, _ := strings.Cut(out, "NOTES:\n")
			for _, w := range tt.want {
				if !strings.Contains(notes, w) {
					t.Errorf("NOTES lack %q:\n%s", w, notes)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(notes, n) {
					t.Errorf("NOTES mention %q:\n%s", n, notes)
				}
			}
		})
	}
}
