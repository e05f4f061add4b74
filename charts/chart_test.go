// Package charts holds only tests: they render the Helm chart in scim-rotator/ with the helm
// binary and check what comes out against the Kubernetes API types, the rotator's own config
// loader and its command line.
package charts

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/scim-rotator/scim-rotator/adapters/factory"
	"github.com/scim-rotator/scim-rotator/adapters/secretsmanager"
	"github.com/scim-rotator/scim-rotator/config"
)

const (
	chartDir   = "scim-rotator"
	release    = "prod"
	namespace  = "identity"
	fullname   = "prod-scim-rotator"
	configPath = "/etc/scim-rotator/config.yaml"
	uid        = int64(65532)
)

// valuesSets are the renders every test covers: the defaults with the values a deployment must set
// ("", which is minimalValues) and each other example in ci/. TestExamplesPresent keeps this list
// and the ci/ directory in step; TestRequiredValues checks that the defaults alone do not install.
var valuesSets = []string{
	"",
	"ci/cronjob-values.yaml",
	"ci/deployment-values.yaml",
	"ci/fleet-values.yaml",
	"ci/irsa-values.yaml",
	"ci/workload-identity-values.yaml",
}

// helmVersion is the Helm the chart is tested with. Helm v4 reports the real
// Kubernetes version to templates when built with go install (v3 does not).
const helmVersion = "helm.sh/helm/v4/cmd/helm@v4.3.1"

// promtoolVersion is the promtool that checks the rendered PrometheusRule
// (Prometheus v3.16.0; the Go module's versions are v0.x). remove_all_sd
// leaves out the service discovery plugins that rule checks never use: a cold
// build takes about 95 s and 1.1 GB instead of 200 s and 3.3 GB. .ci/run
// installs the same version (TestCIInstallsPromtool keeps them in step).
const (
	promtoolVersion = "github.com/prometheus/prometheus/cmd/promtool@v0.316.0"
	promtoolTags    = "remove_all_sd"
)

// A tool the tests run: found on PATH, GOBIN or GOPATH/bin, or installed
// there once with `go install` so that `go test ./...` runs the whole suite
// on a fresh machine. A failed install fails the test: the chart is never
// silently left untested.
type tool struct {
	name, pkg, tags string
	once            sync.Once
	path            string
	err             error
}

var (
	helmTool     = &tool{name: "helm", pkg: helmVersion}
	promtoolTool = &tool{name: "promtool", pkg: promtoolVersion, tags: promtoolTags}
)

func (tl *tool) get(t *testing.T) string {
	t.Helper()
	tl.once.Do(func() { tl.path, tl.err = tl.findOrInstall() })
	if tl.err != nil {
		t.Fatalf("%s: %v", tl.name, tl.err)
	}
	return tl.path
}

func (tl *tool) findOrInstall() (string, error) {
	if p, err := exec.LookPath(tl.name); err == nil {
		return p, nil
	}
	gobin := os.Getenv("GOBIN")
	if gobin == "" {
		gobin = filepath.Join(build.Default.GOPATH, "bin")
	}
	p := filepath.Join(gobin, tl.name)
	if isExecutable(p) {
		return p, nil
	}
	args := []string{"install"}
	if tl.tags != "" {
		args = append(args, "-tags", tl.tags)
	}
	cmd := exec.Command("go", append(args, tl.pkg)...)
	cmd.Env = append(os.Environ(), "GOBIN="+gobin)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("not found, and `go %s` failed: %v\n%s", strings.Join(cmd.Args[1:], " "), err, out)
	}
	return p, nil
}

// helm returns the helm binary (about 100 s to install cold).
func helm(t *testing.T) string { return helmTool.get(t) }

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// runHelm runs helm with args and returns stdout, or stderr as the error.
func runHelm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), helm(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Keep helm away from the user's repositories, cache and plugins.
	home := t.TempDir()
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
	)
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// minimalValues is what an install must set (the chart has no placeholders for it): the values
// file of the "" entry of valuesSets.
const minimalValues = "ci/minimal-values.yaml"

// valuesArgs are helm's arguments for a values file of valuesSets ("": minimalValues) and --set
// values.
func valuesArgs(file string, set ...string) []string {
	if file == "" {
		file = minimalValues
	}
	return append([]string{"-f", filepath.Join(chartDir, file)}, setArgs(set...)...)
}

// setArgs are helm's arguments for --set values.
func setArgs(set ...string) []string {
	var args []string
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return args
}

func name(file string) string {
	if file == "" {
		return "default"
	}
	return strings.TrimSuffix(filepath.Base(file), "-values.yaml")
}

// The binary is built once per test run, on first use, from the repository root, unless
// SCIM_ROTATOR_BINARY names one.
var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "scim-rotator-chart-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		// A binary built by an earlier CI step can be reused.
		if p := os.Getenv("SCIM_ROTATOR_BINARY"); p != "" {
			binPath = p
			return
		}
		root, err := filepath.Abs("..")
		if err != nil {
			binErr = err
			return
		}
		out := filepath.Join(binDir, "scim-rotator")
		cmd := exec.Command("go", "build", "-o", out, "./cmd/scim-rotator")
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/scim-rotator: %v\n%s", err, b)
			return
		}
		binPath = out
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// assertCLIAccepts runs the binary with args plus --help: cobra resolves the command and parses
// every flag before printing help, so an unknown command or flag exits non-zero.
func assertCLIAccepts(t *testing.T, args []string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), binary(t), append(slices.Clone(args), "--help")...)
	cmd.Env = []string{"HOME=" + t.TempDir()}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("scim-rotator %s --help: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// manifests is one render, every document decoded into its API type.
type manifests struct {
	raw             string
	cronJobs        []batchv1.CronJob // the rotation's
	oneOffs         []batchv1.CronJob // the one-off commands' (app.kubernetes.io/component: one-off)
	deployments     []appsv1.Deployment
	configMaps      []corev1.ConfigMap // the rotator's config
	dashboards      []corev1.ConfigMap // Grafana dashboards (a *.json key)
	prometheusRules []prometheusRule
	serviceAccounts []corev1.ServiceAccount
	services        []corev1.Service
	serviceMonitors []unstructured.Unstructured
	networkPolicies []networkingv1.NetworkPolicy
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decode splits helm's output into documents and strictly decodes each into its k8s.io/api type
// (unknown or duplicate fields fail). Unknown kinds fail: every kind the chart renders is checked.
func decode(t *testing.T, out string) manifests {
	t.Helper()
	m := manifests{raw: out}
	for _, doc := range docSeparator.Split(out, -1) {
		if isOnlyComments(doc) {
			continue
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := sigsyaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatalf("document is not YAML: %v\n%s", err, doc)
		}
		strict := func(apiVersion string, into any) {
			t.Helper()
			if head.APIVersion != apiVersion {
				t.Errorf("%s %s: apiVersion %q, want %q", head.Kind, head.Metadata.Name, head.APIVersion, apiVersion)
			}
			if err := sigsyaml.UnmarshalStrict([]byte(doc), into); err != nil {
				t.Errorf("%s %s does not decode strictly: %v\n%s", head.Kind, head.Metadata.Name, err, doc)
			}
		}
		switch head.Kind {
		case "CronJob":
			var o batchv1.CronJob
			strict("batch/v1", &o)
			if o.Labels[componentLabel] == "one-off" {
				m.oneOffs = append(m.oneOffs, o)
			} else {
				m.cronJobs = append(m.cronJobs, o)
			}
		case "Deployment":
			var o appsv1.Deployment
			strict("apps/v1", &o)
			m.deployments = append(m.deployments, o)
		case "ConfigMap":
			var o corev1.ConfigMap
			strict("v1", &o)
			if isDashboard(o) {
				m.dashboards = append(m.dashboards, o)
			} else {
				m.configMaps = append(m.configMaps, o)
			}
		case "PrometheusRule":
			var o prometheusRule
			strict("monitoring.coreos.com/v1", &o)
			m.prometheusRules = append(m.prometheusRules, o)
		case "ServiceAccount":
			var o corev1.ServiceAccount
			strict("v1", &o)
			m.serviceAccounts = append(m.serviceAccounts, o)
		case "Service":
			var o corev1.Service
			strict("v1", &o)
			m.services = append(m.services, o)
		case "NetworkPolicy":
			var o networkingv1.NetworkPolicy
			strict("networking.k8s.io/v1", &o)
			m.networkPolicies = append(m.networkPolicies, o)
		case "ServiceMonitor":
			var o unstructured.Unstructured
			strict("monitoring.coreos.com/v1", &o.Object)
			m.serviceMonitors = append(m.serviceMonitors, o)
		case "Secret":
			t.Errorf("the chart rendered Secret %s: secrets must come from an existing Secret", head.Metadata.Name)
		default:
			t.Errorf("unexpected kind %q (%s): add a strict decode and checks for it", head.Kind, head.Metadata.Name)
		}
	}
	return m
}

func isOnlyComments(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

func TestExamplesPresent(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(chartDir, "ci", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, filepath.ToSlash(strings.TrimPrefix(f, chartDir+string(filepath.Separator))))
	}
	want := append([]string{minimalValues}, valuesSets[1:]...)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("ci/ holds %v, the tests cover %v: keep valuesSets in step", got, want)
	}
}

func TestLint(t *testing.T) {
	for _, file := range valuesSets {
		t.Run(name(file), func(t *testing.T) {
			args := append([]string{"lint", "--strict", chartDir}, valuesArgs(file)...)
			if out, err := runHelm(t, args...); err != nil {
				t.Errorf("%v\n%s", err, out)
			}
		})
	}
}

func TestTemplate(t *testing.T) {
	for _, file := range valuesSets {
		t.Run(name(file), func(t *testing.T) {
			args := append([]string{"template", release, chartDir, "--namespace", namespace}, valuesArgs(file)...)
			out, err := runHelm(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			m := decode(t, out)
			values := loadValues(t, file)
			checkRender(t, m, values)
			checkNoSecretLiterals(t, out)
		})
	}
}

// values is the subset of the chart's values the checks compare against.
type values struct {
	Mode           string `json:"mode"`
	Schedule       string `json:"schedule"`
	ExistingSecret string `json:"existingSecret"`
	Cronjob        struct {
		ActiveDeadlineSeconds *int64 `json:"activeDeadlineSeconds"`
	} `json:"cronjob"`
	ServiceAccount struct {
		Create      bool              `json:"create"`
		Annotations map[string]string `json:"annotations"`
		Automount   bool              `json:"automountServiceAccountToken"`
	} `json:"serviceAccount"`
	AzureWorkloadIdentity struct {
		Enabled bool `json:"enabled"`
	} `json:"azureWorkloadIdentity"`
	ServiceMonitor struct {
		Enabled bool `json:"enabled"`
	} `json:"serviceMonitor"`
	OneOffs struct {
		Enabled                 bool  `json:"enabled"`
		TTLSecondsAfterFinished int32 `json:"ttlSecondsAfterFinished"`
	} `json:"oneOffs"`
	CABundle caBundleValues `json:"caBundle"`
	Config   struct {
		Instances []struct {
			Name string `json:"name"`
			AWS  struct {
				RoleArn    string `json:"roleArn"`
				ExternalID string `json:"externalId"`
			} `json:"aws"`
		} `json:"instances"`
	} `json:"config"`
}

// loadValues merges values.yaml and the example file the simple way the checks need: the
// examples override whole top-level keys or leaves of the objects read here.
func loadValues(t *testing.T, file string) values {
	t.Helper()
	var v values
	if file == "" {
		file = minimalValues
	}
	for _, f := range []string{"values.yaml", file} {
		b, err := os.ReadFile(filepath.Join(chartDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := sigsyaml.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	return v
}

func checkRender(t *testing.T, m manifests, v values) {
	t.Helper()
	if len(m.configMaps) != 1 {
		t.Fatalf("rendered %d ConfigMaps, want 1", len(m.configMaps))
	}
	cm := m.configMaps[0]
	data, ok := cm.Data["config.yaml"]
	if !ok {
		t.Fatalf("ConfigMap %s has no config.yaml (keys %v)", cm.Name, reflect.ValueOf(cm.Data).MapKeys())
	}
	instances := renderedInstances(t, data)
	fleet := len(v.Config.Instances) > 0
	if got, want := len(instances), max(1, len(v.Config.Instances)); got != want {
		t.Fatalf("the rendered config has %d instances, the values %d", got, want)
	}
	for i, vi := range v.Config.Instances {
		// The file's order, names and assumed roles are the values' (tpl may render the role).
		got := instances[i]
		if got.name != vi.Name || (!strings.Contains(vi.AWS.RoleArn, "{{") && got.aws.RoleARN != vi.AWS.RoleArn) || got.aws.ExternalID != vi.AWS.ExternalID {
			t.Errorf("instances[%d] = %s role %q external id %q, the values %s role %q external id %q",
				i, got.name, got.aws.RoleARN, got.aws.ExternalID, vi.Name, vi.AWS.RoleArn, vi.AWS.ExternalID)
		}
	}

	var sa *corev1.ServiceAccount
	switch {
	case v.ServiceAccount.Create && len(m.serviceAccounts) == 1:
		sa = &m.serviceAccounts[0]
		if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken != v.ServiceAccount.Automount {
			t.Errorf("ServiceAccount %s: automountServiceAccountToken = %v, want %v", sa.Name, sa.AutomountServiceAccountToken, v.ServiceAccount.Automount)
		}
		for k, a := range sa.Annotations {
			if strings.Contains(a, "{{") {
				t.Errorf("ServiceAccount annotation %s = %q was not rendered through tpl", k, a)
			}
		}
	case v.ServiceAccount.Create:
		t.Fatalf("rendered %d ServiceAccounts, want 1", len(m.serviceAccounts))
	}
	if role, ok := v.ServiceAccount.Annotations["eks.amazonaws.com/role-arn"]; ok && sa != nil {
		want := strings.ReplaceAll(role, "{{ .Release.Name }}", release)
		if got := sa.Annotations["eks.amazonaws.com/role-arn"]; got != want {
			t.Errorf("IRSA annotation = %q, want %q", got, want)
		}
	}

	// Each pod with the instances it works on: one per CronJob, or the daemon's for all.
	type podOf struct {
		pod       corev1.PodTemplateSpec
		instances []instance
	}
	var pods []podOf
	switch v.Mode {
	case "cronjob":
		if len(m.cronJobs) != len(instances) || len(m.deployments) != 0 || len(m.services) != 0 || len(m.serviceMonitors) != 0 {
			t.Fatalf("cronjob mode rendered %d CronJobs, %d Deployments, %d Services, %d ServiceMonitors; want %d, 0, 0, 0",
				len(m.cronJobs), len(m.deployments), len(m.services), len(m.serviceMonitors), len(instances))
		}
		names := map[string]bool{}
		for i, cj := range m.cronJobs {
			in := instances[i]
			checkCronJob(t, cj, v, in)
			if names[cj.Name] {
				t.Errorf("two CronJobs are named %s", cj.Name)
			}
			names[cj.Name] = true
			pods = append(pods, podOf{cj.Spec.JobTemplate.Spec.Template, []instance{in}})
		}
	case "deployment":
		if len(m.deployments) != 1 || len(m.cronJobs) != 0 || len(m.services) != 1 {
			t.Fatalf("deployment mode rendered %d Deployments, %d CronJobs, %d Services; want 1, 0, 1",
				len(m.deployments), len(m.cronJobs), len(m.services))
		}
		d := m.deployments[0]
		checkDeployment(t, d, m.services[0], instances[0].cfg)
		checkServiceMonitor(t, m, v)
		pods = append(pods, podOf{d.Spec.Template, instances})
	default:
		t.Fatalf("unknown mode %q", v.Mode)
	}

	checkLabels(t, "ConfigMap", cm.ObjectMeta.Labels)
	for _, p := range pods {
		pod := p.pod
		checkLabels(t, "pod template", pod.Labels)
		if got, want := pod.Labels[instanceLabel], instanceName(p.instances, fleet); got != want {
			t.Errorf("pod label %s = %q, want %q", instanceLabel, got, want)
		}
		if got, want := pod.Annotations["checksum/config"], sha256Hex(strings.TrimSuffix(data, "\n")); got != want {
			t.Errorf("pod annotation checksum/config = %q, want sha256 of config.yaml %q", got, want)
		}
		if sa != nil && pod.Spec.ServiceAccountName != sa.Name {
			t.Errorf("pod serviceAccountName = %q, want %q", pod.Spec.ServiceAccountName, sa.Name)
		}
		wi := pod.Labels["azure.workload.identity/use"]
		switch {
		case v.AzureWorkloadIdentity.Enabled && wi != "true":
			t.Errorf(`pod label azure.workload.identity/use = %q, want "true"`, wi)
		case !v.AzureWorkloadIdentity.Enabled && wi != "":
			t.Errorf("pod label azure.workload.identity/use = %q without azureWorkloadIdentity.enabled", wi)
		}
		if v.AzureWorkloadIdentity.Enabled && (sa == nil || sa.Annotations["azure.workload.identity/client-id"] == "") {
			t.Error("workload identity without the ServiceAccount annotation azure.workload.identity/client-id")
		}
		if a := pod.Spec.AutomountServiceAccountToken; a == nil || *a != v.ServiceAccount.Automount {
			t.Errorf("pod automountServiceAccountToken = %v, want %v (the webhooks project their own token)", a, v.ServiceAccount.Automount)
		}
		checkPod(t, pod.Spec, cm.Name, v, p.instances)
	}
	checkOneOffs(t, m, v, instances, cm.Name, data)
}

// The one-off commands: a suspended CronJob each, <fullname>[-<instance>]-<name>, whose pod runs
// args (then --config, --instance, --log-format). stage reads the token on standard input and
// its id from the pod annotation tokenIDAnnotation, through the variable tokenIDEnv.
var oneOffCommands = []struct {
	name string
	args []string
}{
	{"status", []string{"status"}},
	{"check", []string{"check"}},
	{"dry-run", []string{"rotate", "--dry-run"}},
	{"continue", []string{"rotate", "--continue"}},
	{"stage", []string{"stage", "--current", "--token-id", "$(" + tokenIDEnv + ")"}},
}

const (
	componentLabel    = "app.kubernetes.io/component"
	commandLabel      = "scim-rotator/command"
	tokenIDEnv        = "SCIM_ROTATOR_TOKEN_ID"
	tokenIDAnnotation = "scim-rotator/token-id"
)

// oneOffName is the CronJob name of an instance's one-off command (names short enough to keep).
func oneOffName(in instance, command string) string {
	if in.name == "" {
		return fullname + "-" + command
	}
	return fullname + "-" + in.name + "-" + command
}

// checkOneOffs checks the one-off commands' CronJobs: one per command and instance, in both
// modes, each the rotator's pod running its command, selected by the NetworkPolicy.
func checkOneOffs(t *testing.T, m manifests, v values, instances []instance, configMap, data string) {
	t.Helper()
	if !v.OneOffs.Enabled {
		if len(m.oneOffs) != 0 {
			t.Errorf("rendered %d one-off CronJobs with oneOffs.enabled false", len(m.oneOffs))
		}
		return
	}
	if got, want := len(m.oneOffs), len(instances)*len(oneOffCommands); got != want {
		t.Errorf("rendered %d one-off CronJobs, want %d (%d commands x %d instances)", got, want, len(oneOffCommands), len(instances))
	}
	byName := map[string]batchv1.CronJob{}
	for _, cj := range append(slices.Clone(m.cronJobs), m.oneOffs...) {
		if _, dup := byName[cj.Name]; dup {
			t.Errorf("two CronJobs are named %s", cj.Name)
		}
		byName[cj.Name] = cj
	}
	for _, in := range instances {
		for _, c := range oneOffCommands {
			name := oneOffName(in, c.name)
			cj, ok := byName[name]
			if !ok {
				t.Errorf("no one-off CronJob %s", name)
				continue
			}
			checkOneOff(t, cj, c.name, c.args, v, in)
			pod := cj.Spec.JobTemplate.Spec.Template
			if got, want := pod.Annotations["checksum/config"], sha256Hex(strings.TrimSuffix(data, "\n")); got != want {
				t.Errorf("%s: pod annotation checksum/config = %q, want %q", name, got, want)
			}
			checkPod(t, pod.Spec, configMap, v, []instance{in})
			for _, np := range m.networkPolicies {
				if !subset(np.Spec.PodSelector.MatchLabels, pod.Labels) {
					t.Errorf("NetworkPolicy %s (podSelector %v) does not select the pods of %s (labels %v)", np.Name, np.Spec.PodSelector.MatchLabels, name, pod.Labels)
				}
			}
		}
	}
}

// checkOneOff checks one one-off CronJob: it never runs on its own, its Jobs clean up after
// themselves, and its pod runs args for instance in only.
func checkOneOff(t *testing.T, cj batchv1.CronJob, command string, args []string, v values, in instance) {
	t.Helper()
	if len(cj.Name) > 52 {
		t.Errorf("CronJob name %q is longer than 52 characters", cj.Name)
	}
	if !isTrue(cj.Spec.Suspend) || cj.Spec.Schedule == "" {
		t.Errorf("%s: suspend %v, schedule %q: a one-off CronJob must be suspended", cj.Name, cj.Spec.Suspend, cj.Spec.Schedule)
	}
	spec := cj.Spec.JobTemplate.Spec
	pod := spec.Template
	for what, labels := range map[string]map[string]string{"CronJob": cj.Labels, "Job template": cj.Spec.JobTemplate.Labels, "pod template": pod.Labels} {
		checkLabels(t, cj.Name+" "+what, labels)
		if labels[componentLabel] != "one-off" || labels[commandLabel] != command || labels[instanceLabel] != in.name {
			t.Errorf("%s %s: labels %s, %s, %s = %q, %q, %q; want one-off, %q, %q", cj.Name, what, componentLabel, commandLabel, instanceLabel,
				labels[componentLabel], labels[commandLabel], labels[instanceLabel], command, in.name)
		}
	}
	if spec.TTLSecondsAfterFinished == nil || *spec.TTLSecondsAfterFinished != v.OneOffs.TTLSecondsAfterFinished {
		t.Errorf("%s: ttlSecondsAfterFinished = %v, want %d", cj.Name, spec.TTLSecondsAfterFinished, v.OneOffs.TTLSecondsAfterFinished)
	}
	if spec.BackoffLimit == nil || *spec.BackoffLimit != 0 {
		t.Errorf("%s: backoffLimit = %v, want 0", cj.Name, spec.BackoffLimit)
	}
	confirm := int64(in.cfg.ConfirmTimeout.Seconds())
	if d := spec.ActiveDeadlineSeconds; (d == nil && v.Mode == "cronjob") || (d != nil && *d <= confirm) {
		t.Errorf("%s: activeDeadlineSeconds = %v, want more than confirmTimeout (%d s)", cj.Name, d, confirm)
	}
	if pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("%s: restartPolicy = %q, want Never", cj.Name, pod.Spec.RestartPolicy)
	}
	c := pod.Spec.Containers[0]
	if len(c.Args) < len(args) || !slices.Equal(c.Args[:len(args)], args) {
		t.Errorf("%s: args %q, want %q first", cj.Name, c.Args, args)
	}
	if got := instanceFlags(c.Args); (in.name == "" && len(got) != 0) || (in.name != "" && !slices.Equal(got, []string{in.name})) {
		t.Errorf("%s: args %q select instances %q, want %q", cj.Name, c.Args, got, in.name)
	}
	if len(c.Ports) != 0 || c.LivenessProbe != nil || c.ReadinessProbe != nil {
		t.Errorf("%s: the one-off pod has ports or probes", cj.Name)
	}
	stage := command == "stage"
	if c.Stdin != stage || c.StdinOnce != stage || c.TTY {
		t.Errorf("%s: stdin %v, stdinOnce %v, tty %v; want stdin and stdinOnce %v, no tty", cj.Name, c.Stdin, c.StdinOnce, c.TTY, stage)
	}
	if got := slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == tokenIDEnv }); got != stage {
		t.Errorf("%s: env %s present %v, want %v", cj.Name, tokenIDEnv, got, stage)
	}
}

// instanceLabel names the instance a fleet's CronJob and its pods work on.
const instanceLabel = "scim-rotator/instance"

// instanceName is the instance label a pod working on instances carries: a fleet CronJob's
// one instance; nothing for the daemon (every instance) or the single-instance file.
func instanceName(instances []instance, fleet bool) string {
	if !fleet || len(instances) != 1 {
		return ""
	}
	return instances[0].name
}

// instance is one instance of the rendered config: name "" for the single-instance file.
type instance struct {
	name string
	aws  config.AWS
	cfg  *config.Config
}

// renderedInstances parses the rendered config.yaml with config.Parse, as the binary loads it,
// and returns its instances in the file's order, each as the single-instance configuration it
// runs with. A fleet's file has no top-level identityCenter, store or targets beside instances
// (config.Parse refuses the mix, naming the keys).
func renderedInstances(t *testing.T, data string) []instance {
	t.Helper()
	cfg, err := config.Parse([]byte(data), factory.TargetTypes())
	if err != nil {
		t.Fatalf("the rendered config is rejected by config.Parse:\n%v\n--- config.yaml\n%s", err, data)
	}
	if !cfg.Fleet() {
		return []instance{{"", config.AWS{}, cfg}}
	}
	var out []instance
	for _, in := range cfg.InstanceList() {
		if in.Name == "" || in.Name == config.DefaultInstance {
			t.Errorf("a fleet instance is named %q", in.Name)
		}
		out = append(out, instance{in.Name, in.AWS, in.Config})
	}
	return out
}

func checkCronJob(t *testing.T, cj batchv1.CronJob, v values, in instance) {
	t.Helper()
	cfg := in.cfg
	s := cj.Spec
	// The single-instance file keeps today's name; a fleet's CronJob is <fullname>-<instance>.
	want := fullname
	if in.name != "" {
		want = fullname + "-" + in.name
	}
	if cj.Name != want || len(cj.Name) > 52 {
		t.Errorf("CronJob name = %q, want %q (at most 52 characters)", cj.Name, want)
	}
	if got := cj.Labels[instanceLabel]; got != in.name {
		t.Errorf("CronJob %s: label %s = %q, want %q", cj.Name, instanceLabel, got, in.name)
	}
	checkLabels(t, "CronJob", cj.Labels)
	if s.Schedule != v.Schedule {
		t.Errorf("schedule = %q, want %q", s.Schedule, v.Schedule)
	}
	if s.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("concurrencyPolicy = %q, want Forbid", s.ConcurrencyPolicy)
	}
	if s.StartingDeadlineSeconds == nil || *s.StartingDeadlineSeconds <= 0 {
		t.Error("startingDeadlineSeconds unset")
	}
	if s.SuccessfulJobsHistoryLimit == nil || s.FailedJobsHistoryLimit == nil {
		t.Error("history limits unset")
	}
	js := s.JobTemplate.Spec
	if js.BackoffLimit == nil || *js.BackoffLimit != 0 {
		t.Errorf("backoffLimit = %v, want 0 (the rotator resumes on the next run)", js.BackoffLimit)
	}
	confirm := int64(cfg.ConfirmTimeout.Seconds())
	switch {
	case js.ActiveDeadlineSeconds == nil:
		t.Error("activeDeadlineSeconds unset")
	case *js.ActiveDeadlineSeconds <= confirm:
		t.Errorf("activeDeadlineSeconds = %d, want more than confirmTimeout (%d s)", *js.ActiveDeadlineSeconds, confirm)
	case v.Cronjob.ActiveDeadlineSeconds == nil:
		// Derived: targets x confirmTimeout + 30 min, as values.yaml documents.
		if want := int64(len(cfg.Targets))*confirm + 1800; *js.ActiveDeadlineSeconds != want {
			t.Errorf("derived activeDeadlineSeconds = %d, want %d", *js.ActiveDeadlineSeconds, want)
		}
	}
	if rp := js.Template.Spec.RestartPolicy; rp != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy = %q, want Never", rp)
	}
	c := js.Template.Spec.Containers[0]
	if len(c.Args) == 0 || c.Args[0] != "rotate" {
		t.Errorf("args = %q, want scim-rotator rotate ...", c.Args)
	}
	// One instance per CronJob in a fleet (--instance NAME, once); none for the single file.
	if got := instanceFlags(c.Args); (in.name == "" && len(got) != 0) || (in.name != "" && !slices.Equal(got, []string{in.name})) {
		t.Errorf("CronJob %s: args %q select instances %q, want %q", cj.Name, c.Args, got, in.name)
	}
	if len(c.Ports) != 0 || c.LivenessProbe != nil || c.ReadinessProbe != nil {
		t.Error("the CronJob's pod has ports or probes: it serves nothing")
	}
}

func checkDeployment(t *testing.T, d appsv1.Deployment, svc corev1.Service, cfg *config.Config) {
	t.Helper()
	if d.Name != fullname || svc.Name != fullname {
		t.Errorf("Deployment/Service names = %q/%q, want %q", d.Name, svc.Name, fullname)
	}
	checkLabels(t, "Deployment", d.Labels)
	checkLabels(t, "Service", svc.Labels)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas = %v, want 1", d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy = %q, want Recreate (two schedulers must never overlap)", d.Spec.Strategy.Type)
	}
	podLabels := d.Spec.Template.Labels
	if d.Spec.Selector == nil || !subset(d.Spec.Selector.MatchLabels, podLabels) {
		t.Errorf("selector %v does not select the pod labels %v", d.Spec.Selector, podLabels)
	}
	if !subset(svc.Spec.Selector, podLabels) || len(svc.Spec.Selector) == 0 {
		t.Errorf("Service selector %v does not select the pod labels %v", svc.Spec.Selector, podLabels)
	}
	c := d.Spec.Template.Spec.Containers[0]
	if len(c.Args) == 0 || c.Args[0] != "run" {
		t.Fatalf("args = %q, want scim-rotator run ...", c.Args)
	}
	if got := instanceFlags(c.Args); len(got) != 0 {
		t.Errorf("the daemon's args %q select instances %q: it runs every instance", c.Args, got)
	}
	listen := flagValue(c.Args, "--listen")
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || listen != fmt.Sprintf("0.0.0.0:%d", c.Ports[0].ContainerPort) {
		t.Errorf("--listen %q does not match the container port %v", listen, c.Ports)
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe = %+v, want httpGet %s on port http", p.name, p.probe, p.path)
		}
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "http" || svc.Spec.Ports[0].Name != "http" {
		t.Errorf("Service ports = %+v, want one named http targeting http", svc.Spec.Ports)
	}
	if cfg.Schedule == "" {
		t.Error("the daemon's config has no schedule")
	}
}

func checkServiceMonitor(t *testing.T, m manifests, v values) {
	t.Helper()
	if !v.ServiceMonitor.Enabled {
		if len(m.serviceMonitors) != 0 {
			t.Error("ServiceMonitor rendered though serviceMonitor.enabled is false")
		}
		return
	}
	if len(m.serviceMonitors) != 1 {
		t.Fatalf("rendered %d ServiceMonitors, want 1", len(m.serviceMonitors))
	}
	sm := m.serviceMonitors[0]
	eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	sel, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	if len(eps) != 1 {
		t.Fatalf("ServiceMonitor endpoints = %v, want one", eps)
	}
	ep, _ := eps[0].(map[string]any)
	if ep["port"] != "http" || ep["path"] != "/metrics" {
		t.Errorf("ServiceMonitor endpoint = %v, want port http, path /metrics", ep)
	}
	if len(sel) == 0 || !subset(sel, m.services[0].Labels) {
		t.Errorf("ServiceMonitor selector %v does not select the Service labels %v", sel, m.services[0].Labels)
	}
}

func checkPod(t *testing.T, spec corev1.PodSpec, configMap string, v values, instances []instance) {
	t.Helper()
	psc := spec.SecurityContext
	if psc == nil || !isTrue(psc.RunAsNonRoot) || !is(psc.RunAsUser, uid) || !is(psc.RunAsGroup, uid) || !is(psc.FSGroup, uid) ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext = %s, want non-root 65532:65532, fsGroup 65532, seccomp RuntimeDefault", js(psc))
	}
	if len(spec.Containers) != 1 || len(spec.InitContainers) != 0 {
		t.Fatalf("%d containers and %d init containers, want one container", len(spec.Containers), len(spec.InitContainers))
	}
	c := spec.Containers[0]
	sc := c.SecurityContext
	if sc == nil || !isTrue(sc.RunAsNonRoot) || !is(sc.RunAsUser, uid) || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		!isTrue(sc.ReadOnlyRootFilesystem) || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
		len(sc.Capabilities.Add) != 0 || isTrue(sc.Privileged) {
		t.Errorf("container securityContext = %s, want non-root 65532, read-only root, no privilege escalation, drop ALL", js(sc))
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources = %s, want cpu and memory requests and a memory limit", js(c.Resources))
	}

	// The command is one the CLI accepts, with the config where the ConfigMap is mounted.
	if len(c.Command) != 0 && !slices.Equal(c.Command, []string{"/scim-rotator"}) {
		t.Errorf("command = %q: the image's entrypoint is /scim-rotator", c.Command)
	}
	if got := flagValue(c.Args, "--config"); got != configPath {
		t.Errorf("--config %q, want %q", got, configPath)
	}
	assertCLIAccepts(t, c.Args)

	volumes := map[string]corev1.Volume{}
	for _, vol := range spec.Volumes {
		volumes[vol.Name] = vol
	}
	var configMounted, tmpMounted bool
	var secretDirs []string
	secretFiles := map[string]bool{}
	for _, vm := range c.VolumeMounts {
		vol, ok := volumes[vm.Name]
		switch {
		case !ok:
			t.Errorf("volumeMount %s has no volume", vm.Name)
		case vm.Name == "ca-bundle":
			checkCAMount(t, vm, vol, v)
		case vol.ConfigMap != nil:
			configMounted = vol.ConfigMap.Name == configMap && vm.MountPath+"/config.yaml" == configPath && vm.SubPath == "" && vm.ReadOnly
		case vol.EmptyDir != nil:
			tmpMounted = tmpMounted || vm.MountPath == "/tmp"
		case vol.Secret != nil:
			if !vm.ReadOnly || vol.Secret.SecretName != v.ExistingSecret {
				t.Errorf("secret volume %s: readOnly %v, secret %q; want read-only %q", vm.Name, vm.ReadOnly, vol.Secret.SecretName, v.ExistingSecret)
			}
			if len(vol.Secret.Items) == 0 {
				secretDirs = append(secretDirs, vm.MountPath+"/") // every key of the Secret
			}
			for _, it := range vol.Secret.Items {
				secretFiles[vm.MountPath+"/"+it.Path] = true // only the keys picked
			}
		default:
			t.Errorf("unexpected volume %s", js(vol))
		}
	}
	if !configMounted {
		t.Errorf("ConfigMap %s is not mounted read-only so that %s is its config.yaml", configMap, configPath)
	}
	if !tmpMounted {
		t.Error("no emptyDir at /tmp (the root filesystem is read-only)")
	}

	// Secrets only by reference to the existing Secret; the config's references resolve.
	envs := map[string]bool{}
	for _, e := range c.Env {
		switch {
		case e.Name == "SCIM_ROTATOR_CONFIG":
			if e.Value != configPath {
				t.Errorf("SCIM_ROTATOR_CONFIG = %q, want %q", e.Value, configPath)
			}
		case e.Name == tokenIDEnv:
			// The token's id (stage --current), from the pod annotation `kubectl run --annotations` sets.
			if e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "metadata.annotations['"+tokenIDAnnotation+"']" {
				t.Errorf("env %s = %s, want a fieldRef to the annotation %s", e.Name, js(e.ValueFrom), tokenIDAnnotation)
			}
		case e.Name == "SSL_CERT_DIR":
			if want := v.CABundle.SystemCertDir + ":" + v.CABundle.MountPath; v.CABundle.source() == "" || e.Value != want {
				t.Errorf("SSL_CERT_DIR = %q, want %q with caBundle (%q) only", e.Value, want, v.CABundle.source())
			}
		case e.Value != "":
			t.Errorf("env %s has a literal value: secrets come from the existing Secret", e.Name)
		case e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != v.ExistingSecret:
			t.Errorf("env %s = %s, want a secretKeyRef into %q", e.Name, js(e.ValueFrom), v.ExistingSecret)
		}
		envs[e.Name] = true
	}
	envFrom := false
	for _, ef := range c.EnvFrom {
		if ef.SecretRef == nil || ef.SecretRef.Name != v.ExistingSecret || ef.ConfigMapRef != nil {
			t.Errorf("envFrom %s, want the Secret %q only", js(ef), v.ExistingSecret)
		}
		envFrom = true
	}
	for _, in := range instances {
		envRefs, fileRefs := secretRefs(reflect.ValueOf(in.cfg).Elem(), "")
		for key, env := range envRefs {
			if !envs[env] && !envFrom {
				t.Errorf("config %s%s: %s, but the pod gets no such environment variable", instancePath(in), key, env)
			}
		}
		for key, file := range fileRefs {
			if !secretFiles[file] && !slices.ContainsFunc(secretDirs, func(dir string) bool { return strings.HasPrefix(file, dir) }) {
				t.Errorf("config %s%s: %s, but no Secret key is mounted there (directories %v, files %v)", instancePath(in), key, file, secretDirs, secretFiles)
			}
		}
	}
}

// instancePath prefixes a config key with the instance it belongs to.
func instancePath(in instance) string {
	if in.name == "" {
		return ""
	}
	return "instance " + in.name + ": "
}

// instanceFlags returns the values of every --instance in args.
func instanceFlags(args []string) []string {
	var names []string
	for i, a := range args {
		switch {
		case a == "--instance" && i+1 < len(args):
			names = append(names, args[i+1])
		case strings.HasPrefix(a, "--instance="):
			names = append(names, strings.TrimPrefix(a, "--instance="))
		}
	}
	return names
}

// secretRefs collects the config's ...Env and ...File string fields, keyed by their config path.
func secretRefs(v reflect.Value, path string) (envs, files map[string]string) {
	envs, files = map[string]string{}, map[string]string{}
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem(), path)
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
			}
		case reflect.Struct:
			for i := range v.NumField() {
				tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
				if v.Type().Field(i).Type.Kind() == reflect.Interface {
					walk(v.Field(i), path) // a target's type-specific block
					continue
				}
				if tag == "" || tag == "-" {
					continue
				}
				key := strings.TrimPrefix(path+"."+tag, ".")
				f := v.Field(i)
				if f.Kind() == reflect.String && f.String() != "" {
					switch {
					case strings.HasSuffix(tag, "Env"):
						envs[key] = f.String()
					case strings.HasSuffix(tag, "File"):
						files[key] = f.String()
					}
				}
				walk(f, key)
			}
		}
	}
	walk(v, path)
	return envs, files
}

// secretLiterals are shapes of credentials that must never appear in rendered manifests.
var secretLiterals = regexp.MustCompile(`hooks\.slack\.com/services/|-----BEGIN [A-Z ]*PRIVATE KEY|\bSSWS [A-Za-z0-9_-]{20,}|Bearer [A-Za-z0-9._-]{20,}|\bxox[abp]-`)

func checkNoSecretLiterals(t *testing.T, out string) {
	t.Helper()
	if loc := secretLiterals.FindStringIndex(out); loc != nil {
		t.Errorf("rendered manifests contain a secret-looking literal at %q", out[loc[0]:min(loc[1]+10, len(out))])
	}
	if regexp.MustCompile(`(?m)^kind:\s*Secret\s*$`).MatchString(out) {
		t.Error("rendered a Secret")
	}
}

// TestNotes renders NOTES.txt (helm install --dry-run=client needs no cluster) and checks the
// one-off commands it prints: each on a line under 200 characters, starting a Job with a new name
// per run from a rendered CronJob that runs that command (a fleet's, on one instance each); and
// stage --current, whose token goes on standard input only, as the pod `kubectl run` makes of the
// -stage CronJob's template.
func TestNotes(t *testing.T) {
	type render struct {
		file string
		set  []string
	}
	renders := []render{{"ci/fleet-values.yaml", []string{"mode=deployment"}}, {"", []string{"oneOffs.enabled=false"}}}
	for _, file := range valuesSets {
		renders = append(renders, render{file: file})
	}
	commandLine := regexp.MustCompile(`^\s+(kubectl |[A-Z_]+=)`)
	cronJobRef := regexp.MustCompile(`(?:--from=cronjob/|get cronjob )(\S+)`)
	for _, r := range renders {
		t.Run(strings.Join(append([]string{name(r.file)}, r.set...), ","), func(t *testing.T) {
			args := valuesArgs(r.file, r.set...)
			out, err := runHelm(t, append([]string{"install", release, chartDir, "--namespace", namespace, "--dry-run=client"}, args...)...)
			if err != nil {
				t.Fatal(err)
			}
			_, notes, ok := strings.Cut(out, "NOTES:\n")
			if !ok {
				t.Fatalf("no NOTES in:\n%s", out)
			}
			rendered, err := runHelm(t, append([]string{"template", release, chartDir, "--namespace", namespace}, args...)...)
			if err != nil {
				t.Fatal(err)
			}
			m := decode(t, rendered)
			cronJobs := map[string]batchv1.CronJob{}
			for _, cj := range append(slices.Clone(m.cronJobs), m.oneOffs...) {
				cronJobs[cj.Name] = cj
			}

			// Commands people can read and copy; every CronJob they name exists.
			for _, line := range strings.Split(notes, "\n") {
				if commandLine.MatchString(line) && len(line) >= 200 {
					t.Errorf("NOTES command of %d characters (want under 200):\n%s", len(line), line)
				}
			}
			for _, mt := range cronJobRef.FindAllStringSubmatch(notes, -1) {
				if _, ok := cronJobs[mt[1]]; !ok {
					t.Errorf("NOTES name the CronJob %s, which the chart does not render", mt[1])
				}
			}

			v := loadValues(t, r.file)
			for _, s := range r.set {
				switch s {
				case "mode=deployment":
					v.Mode = "deployment"
				case "oneOffs.enabled=false":
					v.OneOffs.Enabled = false
				}
			}
			if v.Mode == "deployment" && strings.Contains(notes, " exec ") {
				t.Errorf("NOTES run a command in the daemon's pod: one-offs run in their own:\n%s", notes)
			}
			if !v.OneOffs.Enabled {
				if len(m.oneOffs) != 0 || strings.Contains(notes, "live-token.txt") || strings.Contains(notes, "-$(date +%s)") != (v.Mode == "cronjob") {
					t.Errorf("oneOffs.enabled false: %d one-off CronJobs, NOTES:\n%s", len(m.oneOffs), notes)
				}
				return
			}
			// The single-instance file's commands act on it (no --instance); a fleet's, on each instance.
			instances := []instance{{}}
			if len(v.Config.Instances) > 0 {
				instances = nil
				for _, in := range v.Config.Instances {
					instances = append(instances, instance{name: in.Name})
				}
			}
			// A token is read from a file on stdin, never from the command line.
			if n := strings.Count(notes, " < live-token.txt\n"); n != len(instances) || strings.Contains(notes, "--token ") || strings.Contains(notes, "--token-file") {
				t.Errorf("NOTES must stage each token from stdin (%d stdin redirects, want %d):\n%s", n, len(instances), notes)
			}
			for _, in := range instances {
				for _, c := range oneOffCommands {
					name := oneOffName(in, c.name)
					cj, ok := cronJobs[name]
					if !ok {
						t.Errorf("no CronJob %s", name)
						continue
					}
					pod := cj.Spec.JobTemplate.Spec.Template
					var selected []string
					if in.name != "" {
						selected = []string{in.name}
					}
					if got := pod.Spec.Containers[0].Args; len(got) < len(c.args) || !slices.Equal(got[:len(c.args)], c.args) || !slices.Equal(instanceFlags(got), selected) {
						t.Errorf("CronJob %s runs %q, want %q on instance %q", name, got, c.args, in.name)
					}
					if c.name != "stage" {
						want := "\n  kubectl -n " + namespace + " create job --from=cronjob/" + name + " " + c.name + "-$(date +%s)\n"
						if !strings.Contains(notes, want) {
							t.Errorf("NOTES lack %q:\n%s", want, notes)
						}
						continue
					}
					for _, want := range []string{
						"\n  T=$(kubectl -n " + namespace + " get cronjob " + name + " -o jsonpath='{.spec.jobTemplate.spec.template}')\n" +
							"  kubectl -n " + namespace + " run stage-$(date +%s) -i --rm --restart=Never --image=unused --annotations=" + tokenIDAnnotation + "=TOKEN_ID --overrides=\"$T\" < live-token.txt\n",
					} {
						if !strings.Contains(notes, want) {
							t.Errorf("NOTES lack %q:\n%s", want, notes)
						}
					}
					checkStagePod(t, kubectlRunPod(t, "stage-1767225600", map[string]string{tokenIDAnnotation: "TOKEN_ID"}, pod), v, m)
				}
			}
		})
	}
}

// kubectlRunPod is the pod `kubectl run NAME -i --rm --restart=Never --image=unused
// --annotations=K=V --overrides="$T"` creates, T being template as `kubectl get -o jsonpath`
// prints it (JSON). kubectl generates a pod (a container named NAME with the image, stdin and
// stdinOnce; the annotations) and applies --overrides as a JSON merge patch (RFC 7386, the
// default --override-type, k8s.io/kubectl/pkg/cmd/util.Merge): objects merge, arrays such as
// containers are replaced.
func kubectlRunPod(t *testing.T, name string, annotations map[string]string, template corev1.PodTemplateSpec) corev1.Pod {
	t.Helper()
	generated := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"run": name}, Annotations: annotations},
		Spec: corev1.PodSpec{
			Containers:    []corev1.Container{{Name: name, Image: "unused", Stdin: true, StdinOnce: true}},
			RestartPolicy: corev1.RestartPolicyNever,
		},
	}
	generated.APIVersion, generated.Kind = "v1", "Pod"
	var target, patch any
	for _, c := range []struct {
		from any
		into *any
	}{{generated, &target}, {template, &patch}} {
		b, err := json.Marshal(c.from)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, c.into); err != nil {
			t.Fatal(err)
		}
	}
	b, err := json.Marshal(mergePatch(target, patch))
	if err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	if err := sigsyaml.UnmarshalStrict(b, &pod); err != nil {
		t.Fatalf("kubectl run's pod does not decode strictly: %v\n%s", err, b)
	}
	return pod
}

// mergePatch applies a JSON merge patch (RFC 7386).
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	out, ok := target.(map[string]any)
	if !ok {
		out = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = mergePatch(out[k], v)
	}
	return out
}

// checkStagePod checks the pod stage --current runs in: the rotator's, named per run, selected by
// the NetworkPolicy, reading the token on standard input and its id from the annotation.
func checkStagePod(t *testing.T, pod corev1.Pod, v values, m manifests) {
	t.Helper()
	spec := pod.Spec
	if pod.Name != "stage-1767225600" || len(spec.Containers) != 1 || spec.ServiceAccountName == "" || len(spec.Volumes) == 0 || spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Fatalf("kubectl run's pod %s lacks its one container, ServiceAccount, volumes or restartPolicy Never: %s", pod.Name, js(pod))
	}
	checkPod(t, spec, m.configMaps[0].Name, v, nil)
	for _, np := range m.networkPolicies {
		if !subset(np.Spec.PodSelector.MatchLabels, pod.Labels) {
			t.Errorf("NetworkPolicy %s does not select kubectl run's pod (labels %v)", np.Name, pod.Labels)
		}
	}
	if v.AzureWorkloadIdentity.Enabled && pod.Labels["azure.workload.identity/use"] != "true" {
		t.Error("kubectl run's pod lacks the workload identity label")
	}
	c := spec.Containers[0]
	if !c.Stdin || !c.StdinOnce || c.TTY {
		t.Errorf("kubectl run's container: stdin %v, stdinOnce %v, tty %v; want stdin once, no tty", c.Stdin, c.StdinOnce, c.TTY)
	}
	// The kubelet expands $(VAR) in args from the container's env; the token id's comes from the
	// pod annotation (downward API). Nothing else could carry a token: checkPod allows no literals.
	vars := map[string]string{}
	annotation := regexp.MustCompile(`^metadata\.annotations\['([^']+)'\]$`)
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
			mt := annotation.FindStringSubmatch(e.ValueFrom.FieldRef.FieldPath)
			if mt == nil {
				t.Errorf("env %s reads %s", e.Name, e.ValueFrom.FieldRef.FieldPath)
				continue
			}
			vars[e.Name] = pod.Annotations[mt[1]]
		case e.ValueFrom == nil:
			vars[e.Name] = e.Value
		}
	}
	var args []string
	for _, a := range c.Args {
		args = append(args, regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`).ReplaceAllStringFunc(a, func(ref string) string {
			if val, ok := vars[ref[2:len(ref)-1]]; ok {
				return val
			}
			return ref
		}))
	}
	if flagValue(args, "--token-id") != "TOKEN_ID" || slices.Contains(args, "--token-file") || !slices.Equal(args[:2], []string{"stage", "--current"}) {
		t.Errorf("kubectl run's pod runs %q, want stage --current --token-id TOKEN_ID, the token on stdin", args)
	}
	assertCLIAccepts(t, args)
}

// TestTemplateRejects checks that misconfigurations fail at render time with a useful message.
func TestTemplateRejects(t *testing.T) {
	checkRejects(t, []rejectCase{
		{"two replicas", []string{"mode=deployment", "deployment.replicas=2"}, "replicas"},
		{"unknown mode", []string{"mode=daemonset"}, "mode"},
		{"unknown top-level key", []string{"replicaCount=1"}, "replicaCount"},
		{"unknown config key", []string{"config.clientSecret=x"}, "clientSecret"},
		{"deadline below confirmTimeout", []string{"cronjob.activeDeadlineSeconds=3600"}, "must be greater than config.confirmTimeout"},
		{"underivable deadline", []string{"config.confirmTimeout=1.5h"}, "set cronjob.activeDeadlineSeconds"},
		{"a secret named without existingSecret", []string{"config.notify.slack.webhookUrlEnv=SLACK_WEBHOOK_URL"},
			"config.notify.slack.webhookUrlEnv names a secret, but existingSecret is empty: set existingSecret"},
		{"a secret file in a target without existingSecret", []string{"config.targets[0].type=okta", "config.targets[0].secretsmanager=null", "config.targets[0].okta.orgUrl=https://example.okta.com",
			"config.targets[0].okta.appId=0oa1", "config.targets[0].okta.apiTokenFile=/var/run/secrets/scim-rotator/okta"},
			"config.targets[0].okta.apiTokenFile names a secret, but existingSecret is empty"},
		{"secret env without existingSecret", []string{"secretEnv[0].name=X", "secretEnv[0].key=x"}, "existingSecret"},
		{"secret files without existingSecret", []string{"secretFiles.enabled=true"}, "existingSecret"},
		{"absolute secret file path", []string{"existingSecret=s", "secretFiles.enabled=true", "secretFiles.items[0].key=k", "secretFiles.items[0].path=/etc/k"}, "/secretFiles/items/0/path"},
		{"secret file path leaving the directory", []string{"existingSecret=s", "secretFiles.enabled=true", "secretFiles.items[0].key=k", "secretFiles.items[0].path=a/../../k"}, "/secretFiles/items/0/path"},
		{"secret ref in extraEnv", []string{"extraEnv[0].name=X", "extraEnv[0].valueFrom.secretKeyRef.name=s", "extraEnv[0].valueFrom.secretKeyRef.key=k"}, "extraEnv"},
		{"workload identity without client id", []string{"azureWorkloadIdentity.enabled=true"}, "azure.workload.identity/client-id"},
		{"dry run in deployment mode", []string{"mode=deployment", "dryRun=true"}, "dryRun"},
		{"bad log format", []string{"logFormat=text"}, "logFormat"},
		// Durations are Go durations, as the rotator's loader reads them.
		{"days in rotateBefore", []string{"config.rotateBefore=30d"}, "rotateBefore"},
		{"spaces in confirmTimeout", []string{"config.confirmTimeout=90 m"}, "confirmTimeout"},
		{"unit-less lockTimeout", []string{"config.lockTimeout=120"}, "lockTimeout"},
		// The whole config is checked against the rotator's schema, naming the key (issue 22).
		{"typo'd nested key", []string{"config.identityCenter.regoin=us-east-1"}, "at '/config/identityCenter': additional properties 'regoin' not allowed"},
		{"target type in another case", []string{"config.targets[0].type=Okta"}, "at '/config/targets/0/type': value must be one of 'secretsmanager', 'entra', 'okta', 'handoff'"},
		{"zero confirmTimeout", []string{"config.confirmTimeout=0s"}, "at '/config/confirmTimeout': '0s' does not match pattern"},
		{"negative rotateBefore", []string{"config.rotateBefore=-720h"}, "at '/config/rotateBefore'"},
		{"unknown issuer", []string{"config.identityCenter.issuer=console"}, "at '/config/identityCenter/issuer'"},
		{"unknown usage source", []string{"config.usage.source=athena"}, "at '/config/usage/source'"},
		{"unknown key in a target's block", []string{"config.targets[0].secretsmanager.formt=json"}, "at '/config/targets/0/secretsmanager': additional properties 'formt' not allowed"},
		{"a block of another type", []string{"config.targets[0].entra.tenantId=contoso.com"}, "at '/config/targets/0/entra'"},
		{"identity store id", []string{"config.identityCenter.identityStoreId=d-0000"}, "at '/config/identityCenter/identityStoreId'"},
		{"unknown outcome", []string{"config.notify.slack.webhookUrlEnv=X", "config.notify.slack.notifyOn[0]=Sent"}, "at '/config/notify/slack/notifyOn/0'"},
		// A fleet beside the single-instance form.
		{"instances beside identityCenter", []string{"config.instances[0].name=prod", "config.instances[0].identityCenter.region=us-east-1", "config.instances[0].store.secretId=s", "config.instances[0].targets[0].name=t"},
			"at '/config/identityCenter': got object, want null"},
		{"empty instances", []string{"config.instances={}"}, "/config/instances"},
	})
}

// TestRequiredValues checks that the values a deployment cannot guess have no placeholder: an
// install without them fails naming them.
func TestRequiredValues(t *testing.T) {
	tests := []struct {
		name string
		set  []string
		want []string
	}{
		{"nothing set", nil, []string{"at '/config': missing properties 'identityCenter', 'store', 'targets'"}},
		{"region only", []string{"config.identityCenter.region=us-east-1"}, []string{
			"at '/config/identityCenter': missing property 'identityStoreId'", "at '/config': missing properties 'store', 'targets'"}},
		{"no store secret", []string{"config.identityCenter.region=us-east-1", "config.identityCenter.identityStoreId=d-1234567890", "config.store.region=us-east-1",
			"config.targets[0].name=t", "config.targets[0].type=secretsmanager", "config.targets[0].secretsmanager.secretId=s"},
			[]string{"at '/config/store': missing property 'secretId'"}},
		{"targets null", []string{"config.identityCenter.region=us-east-1", "config.identityCenter.identityStoreId=d-1234567890", "config.store.secretId=s", "config.targets=null"},
			[]string{"at '/config/targets': got null, want array"}},
		{"a target without its block", []string{"config.identityCenter.region=us-east-1", "config.identityCenter.identityStoreId=d-1234567890", "config.store.secretId=s",
			"config.targets[0].name=t", "config.targets[0].type=okta"}, []string{"at '/config/targets/0': missing property 'okta'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, cmd := range []string{"template", "install"} {
				args := append([]string{cmd, release, chartDir, "--namespace", namespace}, setArgs(tt.set...)...)
				if cmd == "install" {
					args = append(args, "--dry-run=client")
				}
				out, err := runHelm(t, args...)
				if err == nil {
					t.Fatalf("helm %s rendered:\n%s", cmd, out)
				}
				for _, want := range tt.want {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("helm %s failed without %q: %v", cmd, want, err)
					}
				}
			}
		})
	}
}

// rejectCase is a render that must fail: helm template with set fails mentioning want.
type rejectCase struct {
	name string
	set  []string
	want string
}

func checkRejects(t *testing.T, tests []rejectCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"template", release, chartDir}, valuesArgs("", tt.set...)...)
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

// fleetExample is ci/fleet-values.yaml with each old string replaced by its new one, as a file.
func fleetExample(t *testing.T, replace ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chartDir, "ci", "fleet-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(s, replace[i]) {
			t.Fatalf("ci/fleet-values.yaml has no %q", replace[i])
		}
		s = strings.Replace(s, replace[i], replace[i+1], 1)
	}
	f := filepath.Join(t.TempDir(), "fleet-values.yaml")
	if strings.Contains(f, ",") {
		t.Fatalf("%s: helm splits -f on commas: keep them out of the test's name", f)
	}
	if err := os.WriteFile(f, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestFleetRejects checks that a fleet's misconfigurations fail at render time, naming the
// instance and the key.
func TestFleetRejects(t *testing.T) {
	long := strings.Repeat("a", 64)
	tests := []struct {
		name    string
		replace []string
		set     []string
		want    string
	}{
		{"duplicate names", []string{"name: acquired-co", "name: prod"}, nil,
			`config.instances[2].name: "prod" is already the name of config.instances[0]: instance names must be unique`},
		{"duplicate names in deployment mode", []string{"name: staging", "name: prod"}, []string{"mode=deployment"},
			"instance names must be unique"},
		{"a single-instance key beside instances", []string{"  parallelism: 3\n", "  parallelism: 3\n  store: {secretId: s}\n"}, nil,
			"at '/config/store': got object, want null"},
		{"upper case name", []string{"name: staging", "name: Staging"}, nil, "/config/instances/1/name"},
		{"name with underscore", []string{"name: staging", "name: stag_ing"}, nil, "/config/instances/1/name"},
		{"name ending in a dash", []string{"name: staging", "name: staging-"}, nil, "/config/instances/1/name"},
		{"name of 64 characters", []string{"name: staging", "name: " + long}, nil, "/config/instances/1/name"},
		{"no name", []string{"- name: staging\n      identityCenter:", "- identityCenter:"}, nil, "name"},
		{"role ARN of another kind", []string{"role/scim-rotator\n", "user/scim-rotator\n"}, nil, "/config/instances/2/aws/roleArn"},
		{"role ARN with a short account", []string{"arn:aws:iam::210987654321:", "arn:aws:iam::2109876:"}, nil, "/config/instances/2/aws/roleArn"},
		{"unknown aws key", []string{"externalId:", "sessionName: x\n        externalId:"}, nil, "sessionName"},
		{"unknown instance key", []string{"rotateBefore: 1440h", "rotateBefore: 1440h\n      schedule: '@daily'"}, nil, "/config/instances/0"},
		{"days in an instance's rotateBefore", []string{"rotateBefore: 1440h", "rotateBefore: 60d"}, nil, "/config/instances/0/rotateBefore"},
		{"instance without targets", []string{"      targets:\n        - name: okta", "      other:\n        - name: okta"}, nil, "targets"},
		{"deadline below confirmTimeout", nil, []string{"cronjob.activeDeadlineSeconds=3000"}, "must be greater than config.confirmTimeout"},
		{"parallelism zero", []string{"parallelism: 3", "parallelism: 0"}, nil, "parallelism"},
		{"a one-off named as another instance's CronJob", []string{"name: staging", "name: prod-check"}, nil,
			"config.instances[1] (prod-check) and config.instances[0] would share the CronJob name prod-scim-rotator-prod-check"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"template", release, chartDir, "-f", fleetExample(t, tt.replace...)}, setArgs(tt.set...)...)
			out, err := runHelm(t, args...)
			if err == nil {
				t.Fatalf("rendered:\n%s", out)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("failed without mentioning %q: %v", tt.want, err)
			}
		})
	}
}

// TestFleetVariants covers fleet values the example does not.
func TestFleetVariants(t *testing.T) {
	long := strings.Repeat("a", 63)
	tests := []struct {
		name    string
		replace []string
		set     []string
		check   func(t *testing.T, m manifests)
	}{
		{"daemon for every instance", nil, []string{"mode=deployment"}, func(t *testing.T, m manifests) {
			if len(m.deployments) != 1 || len(m.cronJobs) != 0 {
				t.Fatalf("rendered %d Deployments and %d CronJobs, want one daemon", len(m.deployments), len(m.cronJobs))
			}
			d := m.deployments[0]
			if args := d.Spec.Template.Spec.Containers[0].Args; len(instanceFlags(args)) != 0 || args[0] != "run" {
				t.Errorf("daemon args = %q, want run without --instance", args)
			}
			if d.Name != fullname || d.Spec.Template.Labels[instanceLabel] != "" {
				t.Errorf("Deployment %s, pod label %s = %q: want %s, no instance", d.Name, instanceLabel, d.Spec.Template.Labels[instanceLabel], fullname)
			}
			if got := len(renderedInstances(t, m.configMaps[0].Data["config.yaml"])); got != 3 {
				t.Errorf("the daemon's config has %d instances, want 3", got)
			}
		}},
		{"dry run", nil, []string{"dryRun=true"}, func(t *testing.T, m manifests) {
			for _, cj := range m.cronJobs {
				args := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args
				if !slices.Contains(args, "--dry-run") || len(instanceFlags(args)) != 1 {
					t.Errorf("CronJob %s: args %q, want one --instance and --dry-run", cj.Name, args)
				}
			}
		}},
		{"long names", []string{"name: acquired-co", "name: " + long, "name: staging", "name: " + long[:62] + "b"}, []string{"fullnameOverride=" + strings.Repeat("r", 63)}, func(t *testing.T, m manifests) {
			checkOneOffNames(t, m, 3)
		}},
		{"one-offs per instance of a daemon", nil, []string{"mode=deployment"}, func(t *testing.T, m manifests) {
			checkOneOffNames(t, m, 3)
		}},
		{"deadline per instance", []string{"confirmTimeout: 60m", "confirmTimeout: 30m"}, nil, func(t *testing.T, m manifests) {
			// Derived from each instance's own targets: 2, 1 and 1 targets x 30 min + 30 min.
			var got []int64
			for _, cj := range m.cronJobs {
				if d := cj.Spec.JobTemplate.Spec.ActiveDeadlineSeconds; d != nil {
					got = append(got, *d)
				}
			}
			if want := []int64{5400, 3600, 3600}; !slices.Equal(got, want) {
				t.Errorf("activeDeadlineSeconds = %v, want %v", got, want)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, renderVariant(t, append([]string{"-f", fleetExample(t, tt.replace...)}, setArgs(tt.set...)...), tt.set, 3))
		})
	}
}

// checkOneOffNames checks that the rendered CronJobs have unique names of at most 52 characters
// and that each of instances has one one-off CronJob per command, labelled with its instance
// and command, the name ending in the command.
func checkOneOffNames(t *testing.T, m manifests, instances int) {
	t.Helper()
	seen := map[string]bool{}
	for _, cj := range append(slices.Clone(m.cronJobs), m.oneOffs...) {
		if len(cj.Name) > 52 || seen[cj.Name] {
			t.Errorf("CronJob name %q: longer than 52 or not unique (%v)", cj.Name, seen)
		}
		seen[cj.Name] = true
	}
	commands := map[string]int{}
	for _, cj := range m.oneOffs {
		command := cj.Labels[commandLabel]
		if !strings.HasSuffix(cj.Name, "-"+command) || (instances > 1) != (cj.Labels[instanceLabel] != "") {
			t.Errorf("one-off CronJob %s: command %q, instance %q", cj.Name, command, cj.Labels[instanceLabel])
		}
		commands[command]++
	}
	for _, c := range oneOffCommands {
		if commands[c.name] != instances {
			t.Errorf("%d one-off CronJobs for %s, want %d", commands[c.name], c.name, instances)
		}
	}
}

// renderVariant renders the chart with args and checks it has one ConfigMap and, unless set
// has mode=deployment, cronJobs CronJobs.
func renderVariant(t *testing.T, args, set []string, cronJobs int) manifests {
	t.Helper()
	out, err := runHelm(t, append([]string{"template", release, chartDir, "--namespace", namespace}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	m := decode(t, out)
	if len(m.configMaps) != 1 {
		t.Fatalf("rendered %d ConfigMaps", len(m.configMaps))
	}
	if !slices.Contains(set, "mode=deployment") && len(m.cronJobs) != cronJobs {
		t.Fatalf("rendered %d CronJobs, want %d", len(m.cronJobs), cronJobs)
	}
	return m
}

// TestTemplateVariants covers value combinations the examples do not.
func TestTemplateVariants(t *testing.T) {
	tests := []struct {
		name  string
		set   []string
		check func(t *testing.T, m manifests)
	}{
		{"dry run", []string{"dryRun=true"}, func(t *testing.T, m manifests) {
			args := m.cronJobs[0].Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args
			if !slices.Contains(args, "--dry-run") {
				t.Errorf("args %q lack --dry-run", args)
			}
		}},
		{"explicit deadline", []string{"cronjob.activeDeadlineSeconds=9000"}, func(t *testing.T, m manifests) {
			if d := m.cronJobs[0].Spec.JobTemplate.Spec.ActiveDeadlineSeconds; d == nil || *d != 9000 {
				t.Errorf("activeDeadlineSeconds = %v, want 9000", d)
			}
		}},
		{"daemon schedule from values", []string{"mode=deployment", "schedule=@every 2h"}, func(t *testing.T, m manifests) {
			cfg, err := config.Parse([]byte(m.configMaps[0].Data["config.yaml"]), factory.TargetTypes())
			if err != nil || cfg.Schedule != "@every 2h" {
				t.Errorf("config schedule = %v (%v), want @every 2h", cfg, err)
			}
		}},
		{"existing service account", []string{"serviceAccount.create=false", "serviceAccount.name=shared"}, func(t *testing.T, m manifests) {
			if len(m.serviceAccounts) != 0 {
				t.Error("rendered a ServiceAccount with serviceAccount.create=false")
			}
			if sa := m.cronJobs[0].Spec.JobTemplate.Spec.Template.Spec.ServiceAccountName; sa != "shared" {
				t.Errorf("serviceAccountName = %q, want shared", sa)
			}
		}},
		{"go durations accepted", []string{"config.rotateBefore=1h30m", "config.lockTimeout=2.5m"}, func(t *testing.T, m manifests) {
			if _, err := config.Parse([]byte(m.configMaps[0].Data["config.yaml"]), factory.TargetTypes()); err != nil {
				t.Error(err)
			}
		}},
		{"no network policy by default", nil, func(t *testing.T, m manifests) {
			if len(m.networkPolicies) != 0 {
				t.Errorf("rendered %d NetworkPolicies", len(m.networkPolicies))
			}
		}},
		{"network policy, cronjob", []string{"networkPolicy.enabled=true"}, func(t *testing.T, m manifests) {
			np := checkNetworkPolicy(t, m)
			if len(np.Spec.Ingress) != 0 {
				t.Errorf("cronjob mode allows ingress: %+v", np.Spec.Ingress)
			}
		}},
		{"network policy, deployment", []string{"mode=deployment", "networkPolicy.enabled=true", "networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.name=monitoring"}, func(t *testing.T, m manifests) {
			np := checkNetworkPolicy(t, m)
			if len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].Ports) != 1 || np.Spec.Ingress[0].Ports[0].Port.String() != "http" || len(np.Spec.Ingress[0].From) != 1 {
				t.Errorf("ingress = %+v, want the metrics port from the monitoring namespace only", np.Spec.Ingress)
			}
		}},
		{"secret files, every key", []string{"existingSecret=creds", "secretFiles.enabled=true"}, func(t *testing.T, m manifests) {
			if v := secretVolume(t, m); v.Items != nil || v.SecretName != "creds" {
				t.Errorf("secret volume %s, want every key of creds", js(v))
			}
		}},
		{"secret files, picked keys", []string{"existingSecret=creds", "secretFiles.enabled=true", "secretFiles.items[0].key=entra.pem",
			"secretFiles.items[0].path=entra/client.pem", "secretFiles.items[1].key=slack", "secretFiles.items[1].path=slack-webhook-url", "secretFiles.items[1].mode=256"}, func(t *testing.T, m manifests) {
			want := `[{"key":"entra.pem","path":"entra/client.pem"},{"key":"slack","path":"slack-webhook-url","mode":256}]`
			if v := secretVolume(t, m); js(v.Items) != want {
				t.Errorf("secret items %s, want %s", js(v.Items), want)
			}
		}},
		{"long release name", []string{"fullnameOverride=" + strings.Repeat("a", 70)}, func(t *testing.T, m manifests) {
			if n := m.cronJobs[0].Name; len(n) > 52 {
				t.Errorf("CronJob name %q is longer than 52", n)
			}
			checkOneOffNames(t, m, 1)
		}},
		{"no one-offs", []string{"oneOffs.enabled=false"}, func(t *testing.T, m manifests) {
			if len(m.oneOffs) != 0 {
				t.Errorf("rendered %d one-off CronJobs with oneOffs.enabled false", len(m.oneOffs))
			}
		}},
		{"one-offs of a daemon with an unreadable confirmTimeout", []string{"mode=deployment", "config.confirmTimeout=1.5h"}, func(t *testing.T, m manifests) {
			// The daemon needs no deadline the chart cannot derive; the one-offs then have none.
			checkOneOffNames(t, m, 1)
			for _, cj := range m.oneOffs {
				if d := cj.Spec.JobTemplate.Spec.ActiveDeadlineSeconds; d != nil {
					t.Errorf("%s: activeDeadlineSeconds = %d, want none", cj.Name, *d)
				}
			}
		}},
		{"one-off TTL", []string{"mode=deployment", "oneOffs.ttlSecondsAfterFinished=600"}, func(t *testing.T, m manifests) {
			checkOneOffNames(t, m, 1)
			for _, cj := range m.oneOffs {
				if ttl := cj.Spec.JobTemplate.Spec.TTLSecondsAfterFinished; ttl == nil || *ttl != 600 {
					t.Errorf("%s: ttlSecondsAfterFinished = %v, want 600", cj.Name, ttl)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, renderVariant(t, valuesArgs("", tt.set...), tt.set, 1))
		})
	}
}

// secretVolume is the existing Secret's volume in the (first) CronJob's pod.
func secretVolume(t *testing.T, m manifests) *corev1.SecretVolumeSource {
	t.Helper()
	for _, v := range m.cronJobs[0].Spec.JobTemplate.Spec.Template.Spec.Volumes {
		if v.Name == "secrets" && v.Secret != nil {
			return v.Secret
		}
	}
	t.Fatal("no secrets volume")
	return nil
}

// checkNetworkPolicy checks what every NetworkPolicy allows out: 443 and DNS.
func checkNetworkPolicy(t *testing.T, m manifests) networkingv1.NetworkPolicy {
	t.Helper()
	if len(m.networkPolicies) != 1 {
		t.Fatalf("rendered %d NetworkPolicies, want 1", len(m.networkPolicies))
	}
	np := m.networkPolicies[0]
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}) {
		t.Errorf("policyTypes = %v", np.Spec.PolicyTypes)
	}
	var ports []string
	for _, e := range np.Spec.Egress {
		if len(e.To) != 0 {
			t.Errorf("egress rule limited to peers %v", e.To)
		}
		for _, p := range e.Ports {
			ports = append(ports, fmt.Sprintf("%s/%s", p.Port, *p.Protocol))
		}
	}
	if want := []string{"443/TCP", "53/UDP", "53/TCP"}; !slices.Equal(ports, want) {
		t.Errorf("egress ports = %v, want %v", ports, want)
	}
	if !subset(np.Spec.PodSelector.MatchLabels, m.configMaps[0].Labels) || len(np.Spec.PodSelector.MatchLabels) == 0 {
		t.Errorf("podSelector %v does not select the rotator", np.Spec.PodSelector.MatchLabels)
	}
	return np
}

// TestExampleRegions: the rendered config's regions are exactly what each example sets (the
// chart injects none); a region the example leaves out is the rotator's default,
// identityCenter.region. In a fleet, per instance.
func TestExampleRegions(t *testing.T) {
	type block struct {
		Name           string `json:"name"`
		IdentityCenter struct {
			Region string `json:"region"`
		} `json:"identityCenter"`
		Store struct {
			Region string `json:"region"`
		} `json:"store"`
		Targets []struct {
			SecretsManager *struct {
				Region string `json:"region"`
			} `json:"secretsmanager"`
		} `json:"targets"`
	}
	type regions struct {
		Config struct {
			block
			Instances []block `json:"instances"`
		} `json:"config"`
	}
	for _, file := range valuesSets[1:] {
		t.Run(name(file), func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(chartDir, file))
			if err != nil {
				t.Fatal(err)
			}
			var ex regions
			if err := sigsyaml.Unmarshal(b, &ex); err != nil {
				t.Fatal(err)
			}
			blocks := ex.Config.Instances
			if len(blocks) == 0 {
				blocks = []block{ex.Config.block}
			}
			args := append([]string{"template", release, chartDir, "--namespace", namespace, "--show-only", "templates/configmap.yaml"}, valuesArgs(file)...)
			out, err := runHelm(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			m := decode(t, out)
			raw := m.configMaps[0].Data["config.yaml"]
			instances := renderedInstances(t, raw)
			if len(instances) != len(blocks) {
				t.Fatalf("%d instances rendered, the example has %d", len(instances), len(blocks))
			}
			for n, in := range instances {
				exb, cfg := blocks[n], in.cfg
				if in.name != exb.Name {
					t.Errorf("instance %d is %q, the example's %q", n, in.name, exb.Name)
				}
				ic := exb.IdentityCenter.Region
				or := func(r string) string {
					if r == "" {
						return ic
					}
					return r
				}
				if ic == "" || cfg.IdentityCenter.Region != ic {
					t.Errorf("%sidentityCenter.region = %q, example sets %q", instancePath(in), cfg.IdentityCenter.Region, ic)
				}
				if got, want := cfg.Store.Region, or(exb.Store.Region); got != want {
					t.Errorf("%sstore.region = %q, want %q", instancePath(in), got, want)
				}
				if len(cfg.Targets) != len(exb.Targets) {
					t.Fatalf("%s%d targets rendered, example has %d", instancePath(in), len(cfg.Targets), len(exb.Targets))
				}
				for i, tg := range cfg.Targets {
					sm, ok := tg.Block.(*secretsmanager.TargetConfig)
					if !ok {
						continue
					}
					if got, want := sm.Region, or(exb.Targets[i].SecretsManager.Region); got != want {
						t.Errorf("%stargets[%d].secretsmanager.region = %q, want %q", instancePath(in), i, got, want)
					}
				}
			}
			// What the chart rendered, before the loader's defaults: no region the example did not set.
			if n, want := strings.Count(raw, "region:"), strings.Count(string(b), "region:"); n != want {
				t.Errorf("rendered config has %d region keys, the example %d:\n%s", n, want, raw)
			}
		})
	}
}

// TestValuesDocumentedAndInSchema keeps values.yaml and values.schema.json in step: every key of
// values.yaml is in the schema and the other way round, and every value carries a helm-docs
// `# --` comment (directly, or on each of its children).
func TestValuesDocumentedAndInSchema(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	b, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatalf("values.schema.json: %v", err)
	}
	if schema["additionalProperties"] != false {
		t.Error("values.schema.json: additionalProperties must be false at the top level")
	}
	compareSchema(t, doc.Content[0], schema, "")
	checkDocumented(t, doc.Content[0], "")
}

func compareSchema(t *testing.T, n *yaml.Node, schema map[string]any, path string) {
	t.Helper()
	props, ok := schema["properties"].(map[string]any)
	if !ok || n.Kind != yaml.MappingNode {
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		seen[k] = true
		sub, ok := props[k].(map[string]any)
		if !ok {
			t.Errorf("values.yaml %s%s is not in values.schema.json", path, k)
			continue
		}
		compareSchema(t, n.Content[i+1], sub, path+k+".")
	}
	if path == "config." {
		return // the config's optional keys need no placeholder in values.yaml
	}
	for k := range props {
		if !seen[k] && !(path == "" && k == "global") {
			t.Errorf("values.schema.json %s%s is not in values.yaml", path, k)
		}
	}
}

func checkDocumented(t *testing.T, n *yaml.Node, path string) {
	t.Helper()
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if strings.Contains(k.HeadComment, "# --") {
			continue
		}
		if val.Kind == yaml.MappingNode && len(val.Content) > 0 {
			checkDocumented(t, val, path+k.Value+".")
			continue
		}
		t.Errorf("values.yaml %s%s has no helm-docs `# --` comment", path, k.Value)
	}
}

func checkLabels(t *testing.T, what string, labels map[string]string) {
	t.Helper()
	for _, k := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "helm.sh/chart"} {
		if labels[k] == "" {
			t.Errorf("%s lacks label %s (labels %v)", what, k, labels)
		}
	}
	if labels["app.kubernetes.io/instance"] != "" && labels["app.kubernetes.io/instance"] != release {
		t.Errorf("%s: app.kubernetes.io/instance = %q, want %q", what, labels["app.kubernetes.io/instance"], release)
	}
}

func flagValue(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}

func subset(sub, of map[string]string) bool {
	for k, v := range sub {
		if of[k] != v {
			return false
		}
	}
	return true
}

func isTrue(b *bool) bool          { return b != nil && *b }
func is(p *int64, want int64) bool { return p != nil && *p == want }

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
