package charts

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The AWS Lambda recipe (charts/lambda/template.yaml, issue 26): linted with
// cfn-lint, its execution role's policy the README's, its function, schedule,
// store, logs and alarms as the README describes them.

const lambdaTemplate = "lambda/template.yaml"

// cfnLint finds cfn-lint: on PATH, else under pyenv's Pythons (where these
// machines have it). It cannot be built with `go install`: absent, the test
// is skipped on a developer's machine and fails in CI (.ci/run finds or
// installs it, and fails without it).
func cfnLint(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("cfn-lint"); err == nil {
		return p
	}
	home, _ := os.UserHomeDir()
	if m, _ := filepath.Glob(filepath.Join(home, ".pyenv", "versions", "*", "bin", "cfn-lint")); len(m) > 0 {
		return m[len(m)-1]
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("cfn-lint is not installed (.ci/run installs it with pip)")
	}
	t.Skip("cfn-lint is not installed (pip install cfn-lint; .ci/run requires it): the Lambda template is not linted")
	return ""
}

// TestLambdaTemplateLint: cfn-lint passes the template (errors and
// warnings), and fails a copy whose schedule lacks FlexibleTimeWindow, so a
// pass means it really read the template (the SAM transform included).
func TestLambdaTemplateLint(t *testing.T) {
	lint := cfnLint(t)
	if out, err := exec.CommandContext(t.Context(), lint, "--format", "parseable", lambdaTemplate).CombinedOutput(); err != nil {
		t.Fatalf("cfn-lint %s: %v\n%s", lambdaTemplate, err, out)
	}
	b, err := os.ReadFile(lambdaTemplate)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(b), "      FlexibleTimeWindow:\n        Mode: \"OFF\"\n", "", 1)
	if broken == string(b) {
		t.Fatal("the schedule has no FlexibleTimeWindow to take out")
	}
	p := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(p, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), lint, "--format", "parseable", p).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "FlexibleTimeWindow") {
		t.Fatalf("cfn-lint passed a schedule without FlexibleTimeWindow (%v):\n%s", err, out)
	}
}

// TestLambdaTemplatePolicyIsTheREADMEs: the execution role's scim-rotator
// policy, evaluated for the README's example (every target kind, CloudTrail,
// Health, the Helm chart's secrets), is the README's IAM policy statement for
// statement: same Sid, effect, actions and resources, the template's ARNs
// written with the README's REGION and ACCOUNT. For the least a config
// needs (issuer manual, usage.source none, no Health, no secretsmanager
// target, trigger or ...SecretsManager key) it is the README's minus the
// statements the README calls optional for those, and the store alone.
func TestLambdaTemplatePolicyIsTheREADMEs(t *testing.T) {
	readme := readmePolicy(t)
	tpl := loadTemplate(t)
	arn := func(s string) string { return "arn:aws:secretsmanager:REGION:ACCOUNT:secret:" + s + "-*" }

	full := map[string]any{
		"Issuer": "identitycenter", "StoreSecretName": "scim-rotator/token",
		"TargetSecretArns":    []any{arn("scim-sync/token")},
		"ConfigSecretArns":    []any{arn("scim-rotator/credentials")},
		"TriggerFunctionArns": []any{"arn:aws:lambda:REGION:ACCOUNT:function:ssosync"},
		"UsageSource":         "cloudtrail", "HealthEnabled": "true",
	}
	comparePolicies(t, "the README's example", tpl.policy(t, full), readme)

	least := map[string]any{
		"Issuer": "manual", "StoreSecretName": "scim-rotator/token",
		"TargetSecretArns": []any{""}, "ConfigSecretArns": []any{""}, "TriggerFunctionArns": []any{""},
		"UsageSource": "none", "HealthEnabled": "false",
	}
	want := map[string]statement{}
	for sid, st := range readme {
		switch sid {
		case "IdentityCenterScimTokens", "ProofOfUse", "ExpiryWatch", "TriggerSyncJobs", "ConfigSecrets":
			continue // issuer manual, usage.source none, no Health, no trigger, no ...SecretsManager key
		case "TokenStoreAndTargets":
			st.Resources = []string{arn("scim-rotator/token")}
		}
		want[sid] = st
	}
	comparePolicies(t, "the least a config needs", tpl.policy(t, least), want)
}

// TestLambdaTemplateResources: what the issue and the README promise of the
// stack, read from the template.
func TestLambdaTemplateResources(t *testing.T) {
	tpl := loadTemplate(t)
	res := func(name, typ string) map[string]any {
		t.Helper()
		r, ok := tpl.Resources[name].(map[string]any)
		if !ok || r["Type"] != typ {
			t.Fatalf("resource %s: %v, want a %s", name, tpl.Resources[name], typ)
		}
		props, _ := r["Properties"].(map[string]any)
		return props
	}
	fn := res("Function", "AWS::Serverless::Function")
	for k, want := range map[string]any{
		"Runtime": "provided.al2023", "Handler": "bootstrap", "ReservedConcurrentExecutions": 1,
		"Timeout": 900, "CodeUri": "scim-rotator-lambda-linux-arm64.zip",
	} {
		if fn[k] != want {
			t.Errorf("Function.%s = %v, want %v", k, fn[k], want)
		}
	}
	if a, _ := fn["Architectures"].([]any); len(a) != 1 || a[0] != "arm64" {
		t.Errorf("Function.Architectures = %v, want [arm64]", fn["Architectures"])
	}
	// The zip the function runs is the one .ci/release builds.
	rel, err := os.ReadFile(filepath.Join("..", ".ci", "release"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rel), `zip="$dist/scim-rotator-lambda-linux-$arch.zip"`) {
		t.Error(".ci/release does not build scim-rotator-lambda-linux-$arch.zip, the template's CodeUri")
	}

	sched := res("Schedule", "AWS::Scheduler::Schedule")
	if p, _ := tpl.Parameters["ScheduleExpression"].(map[string]any); p["Default"] != "rate(15 minutes)" {
		t.Errorf("ScheduleExpression's default %v, want rate(15 minutes)", p["Default"])
	}
	target, _ := sched["Target"].(map[string]any)
	if sched["FlexibleTimeWindow"] == nil || target["RoleArn"] == nil {
		t.Errorf("the schedule lacks FlexibleTimeWindow or Target.RoleArn: %v", sched)
	}

	store, _ := tpl.Resources["StoreSecret"].(map[string]any)
	if store["DeletionPolicy"] != "Retain" || store["UpdateReplacePolicy"] != "Retain" {
		t.Errorf("the store secret is not retained: %v", store)
	}
	if lg := res("LogGroup", "AWS::Logs::LogGroup"); lg["RetentionInDays"] == nil {
		t.Error("the log group has no retention period")
	}
	res("FunctionErrorsAlarm", "AWS::CloudWatch::Alarm")
	res("RunFailedAlarm", "AWS::CloudWatch::Alarm")
	res("NoRecentSuccessAlarm", "AWS::CloudWatch::Alarm")
	if c, _ := tpl.Resources["AlarmTopic"].(map[string]any); c["Condition"] != "HasAlarmEmail" {
		t.Error("the SNS topic is not optional")
	}
	// No parameter may carry a secret: they name the config, and the config
	// names its secrets.
	for name, p := range tpl.Parameters {
		if pm, _ := p.(map[string]any); pm["NoEcho"] != nil || strings.Contains(strings.ToLower(name), "token") || strings.Contains(strings.ToLower(name), "password") {
			t.Errorf("parameter %s looks like a secret value", name)
		}
	}

	// The metric filters read the line a run's end logs in JSON: msg "run
	// finished" with the outcome under "outcome", level error for a run
	// that exits 1 (zap's production encoder: "level", "msg").
	src, err := os.ReadFile(filepath.Join("..", "rotator", "rotator.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`zap.String("outcome", string(res.Outcome))`, `r.Log.Error("run finished", fields...)`, `r.Log.Info("run finished", fields...)`} {
		if !strings.Contains(string(src), want) {
			t.Errorf("rotator/rotator.go no longer logs %s: the template's metric filters read it", want)
		}
	}
	root, err := os.ReadFile(filepath.Join("..", "cmd", "scim-rotator", "root.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(root), "zap.NewProductionEncoderConfig()") {
		t.Error("the JSON logs no longer use zap's production encoder (level, msg): the template's metric filters read those keys")
	}
	for name, want := range map[string]string{
		"RunOutcomeFilter":   `$.msg = "run finished" && $.outcome = *`,
		"RunFailedFilter":    `$.msg = "run finished" && $.level = "error"`,
		"RunSucceededFilter": `$.outcome = "Rotated" || $.outcome = "NotDue"`,
	} {
		if f := res(name, "AWS::Logs::MetricFilter"); !strings.Contains(fmt.Sprint(f["FilterPattern"]), want) {
			t.Errorf("%s's pattern %v lacks %s", name, f["FilterPattern"], want)
		}
	}
}

// statement is an IAM statement reduced to what the comparison reads.
type statement struct {
	Effect             string
	Actions, Resources []string
}

func comparePolicies(t *testing.T, what string, got, want map[string]statement) {
	t.Helper()
	for sid, w := range want {
		g, ok := got[sid]
		switch {
		case !ok:
			t.Errorf("%s: the template's policy has no statement %s (the README's: %+v)", what, sid, w)
		case g.Effect != w.Effect || !slices.Equal(g.Actions, w.Actions) || !slices.Equal(g.Resources, w.Resources):
			t.Errorf("%s: statement %s\n template %+v\n README   %+v", what, sid, g, w)
		}
	}
	for sid := range got {
		if _, ok := want[sid]; !ok {
			t.Errorf("%s: the template's policy has %s, which the README's has not", what, sid)
		}
	}
}

// readmePolicy is the README's IAM policy (the first JSON block of "## IAM
// policy") by Sid.
func readmePolicy(t *testing.T) map[string]statement {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## IAM policy\n")
	if !ok {
		t.Fatal("README.md has no section ## IAM policy")
	}
	_, block, ok := strings.Cut(sec, "```json\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("README.md's IAM policy section has no ```json block")
	}
	var doc struct {
		Statement []struct {
			Sid, Effect      string
			Action, Resource any
		}
	}
	if err := json.Unmarshal([]byte(block), &doc); err != nil {
		t.Fatalf("README.md's IAM policy: %v", err)
	}
	out := map[string]statement{}
	for _, s := range doc.Statement {
		out[s.Sid] = statement{Effect: s.Effect, Actions: strs(t, s.Action), Resources: strs(t, s.Resource)}
	}
	return out
}

// strs is a policy's string-or-list, sorted.
func strs(t *testing.T, v any) []string {
	t.Helper()
	var out []string
	switch x := v.(type) {
	case string:
		out = []string{x}
	case []any:
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				t.Fatalf("not a string: %v", e)
			}
			out = append(out, s)
		}
	default:
		t.Fatalf("not a string or a list: %v", v)
	}
	slices.Sort(out)
	return out
}

// template is the Lambda template, decoded with its CloudFormation tags.
type template struct {
	Parameters, Conditions, Resources map[string]any
}

// cfnTag is a short-form intrinsic function (!Ref X, !If [...]).
type cfnTag struct {
	Tag string
	Arg any
}

func loadTemplate(t *testing.T) *template {
	t.Helper()
	b, err := os.ReadFile(lambdaTemplate)
	if err != nil {
		t.Fatal(err)
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		t.Fatal(err)
	}
	doc, _ := decodeNode(t, n.Content[0]).(map[string]any)
	tpl := &template{}
	tpl.Parameters, _ = doc["Parameters"].(map[string]any)
	tpl.Conditions, _ = doc["Conditions"].(map[string]any)
	tpl.Resources, _ = doc["Resources"].(map[string]any)
	return tpl
}

// decodeNode is a YAML node as Go values, an intrinsic function as a cfnTag.
func decodeNode(t *testing.T, n *yaml.Node) any {
	t.Helper()
	var v any
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i < len(n.Content); i += 2 {
			m[n.Content[i].Value] = decodeNode(t, n.Content[i+1])
		}
		v = m
	case yaml.SequenceNode:
		l := []any{}
		for _, c := range n.Content {
			l = append(l, decodeNode(t, c))
		}
		v = l
	case yaml.ScalarNode:
		if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
			v = n.Value
		} else if err := n.Decode(&v); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("unexpected YAML node kind %v at line %d", n.Kind, n.Line)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return cfnTag{Tag: n.Tag, Arg: v}
	}
	return v
}

// noValue is AWS::NoValue: the element is left out.
type noValue struct{}

// policy is the role's scim-rotator policy by Sid for the parameters,
// evaluated as CloudFormation would, with the README's placeholders for
// the partition's ARNs (REGION, ACCOUNT) and the store's ARN written as
// its name and the random suffix (-*).
func (tpl *template) policy(t *testing.T, params map[string]any) map[string]statement {
	t.Helper()
	role, _ := tpl.Resources["FunctionRole"].(map[string]any)
	props, _ := role["Properties"].(map[string]any)
	policies, _ := props["Policies"].([]any)
	for _, p := range policies {
		pm, _ := p.(map[string]any)
		if pm["PolicyName"] != "scim-rotator" {
			continue
		}
		doc, _ := tpl.eval(t, pm["PolicyDocument"], params).(map[string]any)
		list, _ := doc["Statement"].([]any)
		out := map[string]statement{}
		for _, s := range list {
			sm, _ := s.(map[string]any)
			sid, _ := sm["Sid"].(string)
			effect, _ := sm["Effect"].(string)
			out[sid] = statement{Effect: effect, Actions: strs(t, sm["Action"]), Resources: strs(t, sm["Resource"])}
		}
		return out
	}
	t.Fatal("the template's FunctionRole has no policy scim-rotator")
	return nil
}

// eval evaluates the intrinsic functions the policy uses.
func (tpl *template) eval(t *testing.T, v any, params map[string]any) any {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, e := range x {
			if r := tpl.eval(t, e, params); r != (noValue{}) {
				m[k] = r
			}
		}
		return m
	case []any:
		l := []any{}
		for _, e := range x {
			if r := tpl.eval(t, e, params); r != (noValue{}) {
				l = append(l, r)
			}
		}
		return l
	case cfnTag:
		return tpl.intrinsic(t, x, params)
	}
	return v
}

func (tpl *template) intrinsic(t *testing.T, f cfnTag, params map[string]any) any {
	t.Helper()
	args, _ := f.Arg.([]any)
	str := func(v any) string {
		s, ok := tpl.eval(t, v, params).(string)
		if !ok {
			t.Fatalf("%s: not a string: %v", f.Tag, v)
		}
		return s
	}
	switch f.Tag {
	case "!Ref":
		name := f.Arg.(string)
		switch name {
		case "AWS::NoValue":
			return noValue{}
		case "AWS::Region":
			return "REGION"
		case "AWS::AccountId":
			return "ACCOUNT"
		case "StoreSecret":
			return "arn:aws:secretsmanager:REGION:ACCOUNT:secret:" + params["StoreSecretName"].(string) + "-*"
		}
		p, ok := params[name]
		if !ok {
			t.Fatalf("!Ref %s: no such parameter given", name)
		}
		return p
	case "!If":
		cond, ok := tpl.Conditions[args[0].(string)]
		if !ok {
			t.Fatalf("!If: no condition %v", args[0])
		}
		if tpl.eval(t, cond, params).(bool) {
			return tpl.eval(t, args[1], params)
		}
		return tpl.eval(t, args[2], params)
	case "!Not":
		return !tpl.eval(t, args[0], params).(bool)
	case "!Equals":
		return fmt.Sprint(tpl.eval(t, args[0], params)) == fmt.Sprint(tpl.eval(t, args[1], params))
	case "!Join":
		var parts []string
		switch l := tpl.eval(t, args[1], params).(type) {
		case []any:
			for _, e := range l {
				parts = append(parts, fmt.Sprint(e))
			}
		default:
			t.Fatalf("!Join of %v", l)
		}
		return strings.Join(parts, str(args[0]))
	case "!Split":
		var out []any
		for _, s := range strings.Split(str(args[1]), str(args[0])) {
			out = append(out, s)
		}
		return out
	case "!Sub":
		s := f.Arg.(string)
		for _, kv := range [][2]string{{"${AWS::Region}", "REGION"}, {"${AWS::AccountId}", "ACCOUNT"}} {
			s = strings.ReplaceAll(s, kv[0], kv[1])
		}
		return s
	}
	t.Fatalf("the policy uses %s, which this test does not evaluate", f.Tag)
	return nil
}
