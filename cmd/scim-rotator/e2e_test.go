package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
)

// The end-to-end tests build the real binary once and run it against the
// sandbox, which runs in the test process on local TLS servers.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "scim-rotator-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "scim-rotator")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// tokenPrefix starts every token value the sandbox issues: no output may
// ever contain it.
const tokenPrefix = "sandbox-scim-"

type env struct {
	t     *testing.T
	sb    *sandbox.Sandbox
	files sandbox.Files
	// environ, when set, is the binary's whole environment (the production
	// path: see e2e_prod_test.go); else the test's own plus files.Env.
	environ []string
	// outputs collects everything the binary printed, for the leak check.
	mu      sync.Mutex
	outputs []string
}

func newEnv(t *testing.T, opts sandbox.Options) *env {
	t.Helper()
	opts.Slack = true
	sb := sandbox.Start(opts)
	t.Cleanup(sb.Close)
	files, err := sb.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, sb: sb, files: files}
	t.Cleanup(e.assertNoLeak)
	return e
}

// editConfig appends YAML to the sandbox's config.
func (e *env) editConfig(extra string) {
	f, err := os.OpenFile(e.files.Config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(extra); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) command(args ...string) *exec.Cmd {
	cmd := exec.Command(binary, args...)
	if e.environ != nil {
		cmd.Env = e.environ
		return cmd
	}
	cmd.Env = append(os.Environ(), e.files.Env...)
	cmd.Env = append(cmd.Env, "HOME="+e.files.Dir)
	return cmd
}

// run runs the binary and returns its exit code, stdout and stderr.
func (e *env) run(args ...string) (int, string, string) {
	e.t.Helper()
	code, stdout, stderr := runCmd(e.t, e.command(args...))
	e.record(stdout, stderr)
	return code, stdout, stderr
}

// runCmd runs cmd and returns its exit code, stdout and stderr.
func runCmd(t *testing.T, cmd *exec.Cmd) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

func (e *env) record(s ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.outputs = append(e.outputs, s...)
}

// assertNoLeak scans everything the binary printed and every Slack payload.
func (e *env) assertNoLeak() {
	e.mu.Lock()
	defer e.mu.Unlock()
	all := e.outputs
	for _, m := range e.sb.Slack.Messages() {
		all = append(all, string(m))
	}
	for _, s := range all {
		if i := strings.Index(s, tokenPrefix); i >= 0 {
			e.t.Errorf("a token value leaked into output: ...%s...", s[max(0, i-80):min(len(s), i+20)])
		}
	}
}

// assertTargetsWork: every target holds a token the SCIM endpoint accepts.
func (e *env) assertTargetsWork() {
	e.t.Helper()
	for name, ok := range e.sb.TargetsHold() {
		if !ok {
			e.t.Errorf("target %s holds a token the SCIM endpoint refuses", name)
		}
	}
	if n := e.sb.IC.MaxHeld(); n > 2 {
		e.t.Errorf("Identity Center held %d tokens at once", n)
	}
}

func TestE2ERotateNowWithEveryTarget(t *testing.T) {
	e := newEnv(t, sandbox.Options{Entra: true, Okta: "api"})
	oldID, _ := e.sb.SeedLiveToken(30 * 24 * time.Hour)

	code, out, errOut := e.run("check")
	if code != 0 || !strings.Contains(out, "OK") || strings.Contains(out, "FAIL") {
		t.Fatalf("check exit %d:\n%s\n%s", code, out, errOut)
	}

	code, out, _ = e.run("rotate")
	if code != 0 || !strings.HasPrefix(out, "NotDue") {
		t.Fatalf("rotate (not due) exit %d: %s", code, out)
	}

	code, out, _ = e.run("rotate", "--now", "--dry-run")
	if code != 0 || !strings.Contains(out, "Dry run") || len(e.sb.IC.Tokens()) != 1 {
		t.Fatalf("dry run exit %d, %d tokens: %s", code, len(e.sb.IC.Tokens()), out)
	}

	code, out, errOut = e.run("rotate", "--now", "--log-format", "json")
	if code != 0 || !strings.HasPrefix(out, "Rotated") {
		t.Fatalf("rotate --now exit %d:\n%s\n%s", code, out, errOut)
	}
	toks := e.sb.IC.Tokens()
	if len(toks) != 1 || toks[0].ID == oldID {
		t.Fatalf("want only the new token, have %+v", toks)
	}
	e.assertTargetsWork()
	for _, line := range strings.Split(strings.TrimSpace(errOut), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("--log-format json wrote a non-JSON line: %q", line)
		}
	}

	code, out, _ = e.run("status", "-o", "json")
	var st struct {
		Tokens []struct {
			ID   string `json:"id"`
			Live bool   `json:"live"`
		} `json:"tokens"`
		Rotation struct {
			Phase string `json:"phase"`
		} `json:"rotation"`
		Systems []struct {
			System string `json:"system"`
		} `json:"systems"`
	}
	if err := json.Unmarshal(only(t, out), &st); err != nil || code != 0 {
		t.Fatalf("status -o json exit %d: %v\n%s", code, err, out)
	}
	if len(st.Tokens) != 1 || !st.Tokens[0].Live || st.Tokens[0].ID != toks[0].ID || st.Rotation.Phase != "Done" || len(st.Systems) < 4 {
		t.Fatalf("status: %+v", st)
	}
	if len(e.sb.Slack.Received()) == 0 || !strings.Contains(e.sb.Slack.Received()[0].Text, "Rotated") {
		t.Fatalf("slack: %+v", e.sb.Slack.Received())
	}
}

func TestE2EConfigErrorsExit2(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	e.editConfig("bogusKey: 1\n")
	code, _, errOut := e.run("rotate")
	if code != 2 || !strings.Contains(errOut, "bogusKey: unknown key") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	code, _, errOut = e.run("rotate", "--no-such-flag")
	if code != 2 {
		t.Fatalf("unknown flag: exit %d: %s", code, errOut)
	}
	code, _, errOut = e.run("status", "--config", filepath.Join(e.files.Dir, "missing.yaml"))
	if code != 2 || !strings.Contains(errOut, "missing.yaml") {
		t.Fatalf("missing config: exit %d: %s", code, errOut)
	}
}

func TestE2EUnsetSecretEnvExit2(t *testing.T) {
	e := newEnv(t, sandbox.Options{Entra: true})
	b, _ := os.ReadFile(e.files.Config)
	cfg := strings.Replace(string(b), "clientSecretFile: "+filepath.Join(e.files.Dir, "entra-client-secret"), "clientSecretEnv: SR_E2E_UNSET_SECRET", 1)
	if err := os.WriteFile(e.files.Config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := e.run("check")
	if code != 2 || !strings.Contains(errOut, "targets[1].entra.clientSecretEnv: environment variable SR_E2E_UNSET_SECRET is not set") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

// A failure after targets were switched rolls back: every target ends on
// the old token, which stays live; exit 1 and an alert.
func TestE2EFailureRollsBack(t *testing.T) {
	e := newEnv(t, sandbox.Options{Entra: true})
	oldID, oldValue := e.sb.SeedLiveToken(340 * 24 * time.Hour)
	e.stageLive(oldID, oldValue)
	// Graph refuses to validate the saved credentials after the push.
	e.sb.Faults.Inject("graph:ValidateCredentials", sandbox.Fault{Pass: true}, sandbox.Fault{Status: 400, Body: `{"error":{"code":"BadRequest","message":"injected"}}`})
	code, out, _ := e.run("rotate")
	if code != 1 || !strings.HasPrefix(out, "RolledBack") {
		t.Fatalf("exit %d: %s", code, out)
	}
	toks := e.sb.IC.Tokens()
	if len(toks) != 1 || toks[0].ID != oldID {
		t.Fatalf("want only the old token, have %+v", toks)
	}
	if e.sb.Graph.SavedToken(sandbox.EntraSP) != oldValue {
		t.Fatal("entra not back on the old token")
	}
	e.assertTargetsWork()
	var alerted bool
	for _, m := range e.sb.Slack.Received() {
		alerted = alerted || strings.Contains(m.Text, "RolledBack")
	}
	if !alerted {
		t.Fatal("no RolledBack alert")
	}
	// The next run rotates.
	if code, out, _ := e.run("rotate"); code != 0 || !strings.HasPrefix(out, "Rotated") {
		t.Fatalf("next run exit %d: %s", code, out)
	}
	e.assertTargetsWork()
}

// killAt picks, of a kill test's operation, the call to hang in (nil: the first).
var killAt = map[string]func(*http.Request, []byte) bool{
	"secretsmanager:PutSecretValue": func(_ *http.Request, body []byte) bool {
		var in struct{ VersionStages []string }
		return json.Unmarshal(body, &in) == nil && slices.Contains(in.VersionStages, "AWSPENDING")
	},
	"secretsmanager:UpdateSecretVersionStage": func(_ *http.Request, body []byte) bool {
		var in struct{ VersionStage string }
		return json.Unmarshal(body, &in) == nil && in.VersionStage == "AWSCURRENT"
	},
}

// Killing the process at a step and running again finishes the rotation
// without a third token.
func TestE2EKillAndResume(t *testing.T) {
	for _, op := range []string{"secretsmanager:PutSecretValue", "graph:PutSecrets", "graph:GetJobs", "secretsmanager:UpdateSecretVersionStage", "identitycenter:DeleteBearerToken"} {
		t.Run(op, func(t *testing.T) {
			t.Parallel() // each waits out a dead run's lock
			e := newEnv(t, sandbox.Options{Entra: true})
			e.editConfig("lockTimeout: 10s\n")
			e.sb.SeedLiveToken(340 * 24 * time.Hour)
			reached := make(chan struct{})
			var once sync.Once
			// The call hangs (so the process is stuck inside the step) and the
			// test kills the process. The store's calls are the rotation's own
			// (storing the pending token, promoting it), not the lock's.
			e.sb.Faults.Inject(op, sandbox.Fault{Hang: true, Match: killAt[op], Hook: func() { once.Do(func() { close(reached) }) }})
			cmd := e.command("rotate")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-reached:
			case <-time.After(60 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("the run never reached %s:\n%s", op, out.String())
			}
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
			e.record(out.String())
			e.sb.Faults.Clear()
			e.assertTargetsWork()

			// The dead run's lock holds others off, a scheduled run being Busy
			// (exit 0), until lockTimeout after its last renewal.
			code, stdout, stderr := e.run("rotate")
			if code != 0 || !strings.HasPrefix(stdout, "Busy") {
				t.Fatalf("run beside the dead run's lock: exit %d:\n%s\n%s", code, stdout, stderr)
			}
			for deadline := time.Now().Add(30 * time.Second); strings.HasPrefix(stdout, "Busy") && time.Now().Before(deadline); {
				time.Sleep(time.Second) // polling the lock's expiry in real time
				code, stdout, stderr = e.run("rotate")
			}
			if code != 0 || !strings.HasPrefix(stdout, "Rotated") && !strings.HasPrefix(stdout, "NotDue") {
				t.Fatalf("resume exit %d:\n%s\n%s", code, stdout, stderr)
			}
			if len(e.sb.IC.Tokens()) != 1 {
				// A kill after promotion leaves only the old token's deletion.
				t.Fatalf("tokens left: %+v\n%s", e.sb.IC.Tokens(), stdout)
			}
			e.assertTargetsWork()
		})
	}
}

// CreateBearerToken's answer is lost after the token was created: the run
// stops (Interrupted: a 5xx is worth retrying) without touching a target,
// deletes the token nobody can hold, and the next run rotates; never a
// third token.
func TestE2ELostCreateAnswer(t *testing.T) {
	e := newEnv(t, sandbox.Options{Entra: true})
	oldID, _ := e.sb.SeedLiveToken(340 * 24 * time.Hour)
	e.sb.Faults.Inject("identitycenter:CreateBearerToken", sandbox.Fault{Status: 500, After: true})
	code, out, _ := e.run("rotate")
	if code != 1 || !strings.HasPrefix(out, "Interrupted") {
		t.Fatalf("exit %d: %s", code, out)
	}
	if toks := e.sb.IC.Tokens(); len(toks) != 1 || toks[0].ID != oldID {
		t.Fatalf("the token created by the lost call must be deleted: %+v", toks)
	}
	if n := e.sb.Faults.Count("identitycenter:CreateBearerToken"); n != 1 {
		t.Fatalf("CreateBearerToken sent %d times", n)
	}
	e.assertTargetsWork()
	if code, out, _ := e.run("rotate"); code != 0 || !strings.HasPrefix(out, "Rotated") {
		t.Fatalf("next run exit %d: %s", code, out)
	}
	e.assertTargetsWork()
}

// Throttling and 5xx answers on the way are retried by the clients; the
// rotation completes.
func TestE2EThrottlingAndServerErrors(t *testing.T) {
	e := newEnv(t, sandbox.Options{Entra: true})
	e.sb.SeedLiveToken(340 * 24 * time.Hour)
	e.sb.Faults.Inject("identitycenter:ListBearerTokens", sandbox.Fault{Status: 400, Body: `{"__type":"ThrottlingException","message":"Rate exceeded"}`})
	e.sb.Faults.Inject("secretsmanager:PutSecretValue", sandbox.Fault{Status: 500})
	e.sb.Faults.Inject("graph:PutSecrets", sandbox.Fault{Status: 429, Header: http.Header{"Retry-After": {"1"}}})
	code, out, errOut := e.run("rotate")
	if code != 0 || !strings.HasPrefix(out, "Rotated") {
		t.Fatalf("exit %d:\n%s\n%s", code, out, errOut)
	}
	e.assertTargetsWork()
}

func TestE2EOktaHandoffThenContinue(t *testing.T) {
	e := newEnv(t, sandbox.Options{Okta: "handoff"})
	e.sb.SeedLiveToken(340 * 24 * time.Hour)
	code, out, errOut := e.run("rotate")
	if code != 0 || !strings.HasPrefix(out, "AwaitingHandoff") {
		t.Fatalf("exit %d:\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"aws secretsmanager get-secret-value", "AWSPENDING", "rotate --continue", sandbox.OktaHandoffApp} {
		if !strings.Contains(out, want) {
			t.Fatalf("hand-off instructions lack %q:\n%s", want, out)
		}
	}
	if len(e.sb.IC.Tokens()) != 2 {
		t.Fatal("both tokens must be kept during a hand-off")
	}
	// A later run reminds and changes nothing.
	if code, out, _ := e.run("rotate"); code != 0 || !strings.HasPrefix(out, "AwaitingHandoff") {
		t.Fatalf("reminder exit %d: %s", code, out)
	}
	// The operator pastes the pending token in the Admin Console.
	pending, _ := e.sb.SM.Value(sandbox.StoreSecret, "AWSPENDING")
	var rec struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(pending), &rec); err != nil || rec.Token == "" {
		t.Fatalf("pending record: %v", err)
	}
	e.sb.Okta.SetTokenInAdminConsole(sandbox.OktaHandoffApp, rec.Token)
	code, out, errOut = e.run("rotate", "--continue")
	if code != 0 || !strings.HasPrefix(out, "Rotated") {
		t.Fatalf("continue exit %d:\n%s\n%s", code, out, errOut)
	}
	if len(e.sb.IC.Tokens()) != 1 {
		t.Fatalf("tokens: %+v", e.sb.IC.Tokens())
	}
	e.assertTargetsWork()
}

// The daemon rotates on its first tick, serves its endpoints, alerts Slack
// and exits 0 on SIGTERM.
func TestE2EDaemon(t *testing.T) {
	e := newEnv(t, sandbox.Options{Entra: true})
	e.sb.SeedLiveToken(340 * 24 * time.Hour)
	e.editConfig("schedule: \"@every 1h\"\n")
	d := e.startDaemon()
	metrics := d.waitMetrics(`scim_rotator_rotations_total{instance_name="default",result="Rotated"} 1`)
	for _, want := range []string{"scim_rotator_token_expiry_timestamp_seconds", "scim_rotator_last_success_timestamp_seconds", `scim_rotator_rotation_in_progress{instance_name="default"} 0`, "scim_rotator_step_duration_seconds", buildInfoSeries(t)} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if code, _ := d.get("/healthz"); code != 200 {
		t.Errorf("/healthz %d", code)
	}
	// The pass records its metrics before it marks the instance ready.
	d.waitReady()
	d.stop() // the pass alerts after it records its metrics; stop waits for it
	if len(e.sb.Slack.Received()) == 0 {
		t.Error("no Slack alert")
	}
	e.assertTargetsWork()
}

// daemon is a `scim-rotator run` of the binary, serving on a free loopback
// port.
type daemon struct {
	e    *env
	cmd  *exec.Cmd
	out  *bytes.Buffer
	addr string
}

func (e *env) startDaemon(args ...string) *daemon {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	d := &daemon{e: e, cmd: e.command(append([]string{"run", "--listen", addr}, args...)...), out: &bytes.Buffer{}, addr: addr}
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = d.cmd.Process.Kill() })
	return d
}

func (d *daemon) get(path string) (int, string) {
	resp, err := http.Get("http://" + d.addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitMetrics polls /metrics until it holds every line of want (60 s at
// most) and returns it.
func (d *daemon) waitMetrics(want ...string) string {
	d.e.t.Helper()
	ctx, cancel := context.WithTimeout(d.e.t.Context(), 60*time.Second)
	defer cancel()
	for {
		_, metrics := d.get("/metrics")
		if !slices.ContainsFunc(want, func(w string) bool { return !strings.Contains(metrics, w) }) {
			return metrics
		}
		select {
		case <-ctx.Done():
			d.e.t.Fatalf("/metrics never held %q:\n%s\n%s", want, metrics, d.out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitReady waits (10 s at most) for /readyz to answer 200: the pass that
// recorded the metrics a test waited for marks its instance ready just
// after. On a timeout the test fails with /readyz's last answer.
func (d *daemon) waitReady() {
	d.e.t.Helper()
	var last string
	ready := false
	defer func() { // runs on waitFor's Fatal too
		if !ready {
			d.e.t.Logf("/readyz answered last: %s", last)
		}
	}()
	waitFor(d.e.t, 10*time.Second, "/readyz to answer 200", func() bool {
		code, body := d.get("/readyz")
		last = fmt.Sprintf("%d %s", code, body)
		return code == 200
	})
	ready = true
}

// stop sends SIGTERM and expects a clean exit.
func (d *daemon) stop() {
	d.e.t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	err := d.cmd.Wait()
	d.e.record(d.out.String())
	if err != nil {
		d.e.t.Fatalf("daemon exit on SIGTERM: %v\n%s", err, d.out.String())
	}
}

// One-shot runs push their metrics, last success included even when not due.
func TestE2EPushgateway(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	e.sb.SeedLiveToken(340 * 24 * time.Hour)
	var mu sync.Mutex
	var bodies []string
	pg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, r.Method+" "+r.URL.Path+"\n"+string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer pg.Close()
	e.editConfig("metrics:\n  pushgatewayUrl: " + pg.URL + "\n")
	if code, out, _ := e.run("rotate"); code != 0 || !strings.HasPrefix(out, "Rotated") {
		t.Fatalf("rotate exit %d: %s", code, out)
	}
	if code, out, _ := e.run("rotate"); code != 0 || !strings.HasPrefix(out, "NotDue") {
		t.Fatalf("second rotate exit %d: %s", code, out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 2 {
		t.Fatalf("want a push per run, got %d", len(bodies))
	}
	for _, b := range bodies {
		if !strings.HasPrefix(b, "PUT /metrics/job/scim-rotator/instance_name/default\n") || !strings.Contains(b, "scim_rotator_last_success_timestamp_seconds") {
			t.Fatalf("push not grouped by instance, or lacks last success:\n%s", b)
		}
	}
}

// Each push carries the run's outcome as the one last-run series (what the
// chart's alerts read in cronjob mode).
func TestE2EPushgatewayLastRun(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	e.sb.SeedLiveToken(340 * 24 * time.Hour)
	pg := newFakePushgateway(t)
	e.editConfig("metrics:\n  pushgatewayUrl: " + pg.URL + "\n")
	before := float64(time.Now().Unix())
	for _, want := range []string{"Rotated", "NotDue"} {
		if code, out, _ := e.run("rotate"); code != 0 || !strings.HasPrefix(out, want) {
			t.Fatalf("rotate exit %d: %s, want %s", code, out, want)
		}
	}
	pushes := pg.pushes()
	if len(pushes) != 2 {
		t.Fatalf("%d pushes, want 2", len(pushes))
	}
	for i, want := range []string{"Rotated", "NotDue"} {
		got := gaugesByLabel(pushes[i], "scim_rotator_last_run_timestamp_seconds", "result")
		if len(got) != 1 || got[want] < before {
			t.Errorf("push %d: last run %v, want one %s series at the run's end", i, got, want)
		}
		// The build's series is pushed as /metrics has it (the grouping key adds instance_name).
		if got, want := series(pushes[i], "scim_rotator_build_info"), []string{buildInfoSeries(t)}; !slices.Equal(got, want) {
			t.Errorf("push %d: build info %q, want %q", i, got, want)
		}
	}
}

func TestE2EDemo(t *testing.T) {
	for _, okta := range []string{"api", "handoff"} {
		t.Run(okta, func(t *testing.T) {
			cmd := exec.Command(binary, "demo", "--okta", okta)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("demo: %v\n%s", err, out)
			}
			s := string(out)
			for _, want := range []string{"$ scim-rotator rotate", "Rotated:", "accepts: entra, okta, ssosync; on one it refuses: none", "it expires in 25 days", "(25 days left)", "Targets it would push the new token to: ssosync, entra, okta"} {
				if !strings.Contains(s, want) {
					t.Fatalf("demo output lacks %q:\n%s", want, s)
				}
			}
			// No Go syntax, no doubled outcome words, no trailing spaces.
			for _, bad := range []string{"map[", "Rotated: rotated", "NotDue: not due", "None:", "Dry run: None"} {
				if strings.Contains(s, bad) {
					t.Fatalf("demo output has %q:\n%s", bad, s)
				}
			}
			for _, line := range strings.Split(s, "\n") {
				if strings.TrimRight(line, " \t") != line {
					t.Fatalf("trailing space in %q", line)
				}
			}
			if strings.Contains(s, tokenPrefix) {
				t.Fatalf("demo printed a token value:\n%s", s)
			}
		})
	}
}

// demo --instances 3 rotates a fleet in the virtual sandbox: two of the
// instances behind an assumed role, each rotated, the output grouped by
// instance, exit 0.
func TestE2EDemoFleet(t *testing.T) {
	out, err := exec.Command(binary, "demo", "--instances", "3").CombinedOutput()
	s := string(out)
	if err != nil {
		t.Fatalf("demo --instances 3: %v\n%s", err, s)
	}
	names := []string{sandbox.InstanceName(1), sandbox.InstanceName(2), sandbox.InstanceName(3)}
	for _, name := range names {
		if n := strings.Count(s, "== instance "+name+" =="); n != 3 {
			t.Errorf("%s has %d groups (check, rotate, status), want 3", name, n)
		}
		if !regexp.MustCompile(`(?m)^  ` + name + ` +Rotated +\S+ +yes$`).MatchString(s) {
			t.Errorf("the fleet table does not show %s rotated", name)
		}
		if !strings.Contains(s, "instance "+name+" (d-") {
			t.Errorf("no Slack message names %s", name)
		}
	}
	for _, want := range []string{"assumes arn:aws:iam::", "acts as arn:aws:sts::", ":assumed-role/" + sandbox.RoleName + "/scim-rotator-" + names[1], "$ scim-rotator rotate", "$ scim-rotator status"} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if strings.Contains(s, tokenPrefix) || regexp.MustCompile(`(?m)^(FAIL|  FAIL) `).MatchString(s) {
		t.Errorf("demo printed a token value or a failure:\n%s", s)
	}
	var ee *exec.ExitError
	if err := exec.Command(binary, "demo", "--instances", "3", "--serve").Run(); !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("--instances with --serve: %v, want exit 2", err)
	}
	if t.Failed() {
		t.Log(s)
	}
}

// Misuse that needs the config: stage without --current on the
// identitycenter issuer and --expires outside issuer manual exit 2;
// --continue with no hand-off pending says so, changes nothing, exits 1;
// check's warnings (no live token recorded) exit 0, shown as WARN.
func TestE2EMisuseAndCheckLevels(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	e.sb.SeedLiveToken(340 * 24 * time.Hour)
	tokenFile := filepath.Join(e.files.Dir, "token")
	if err := os.WriteFile(tokenFile, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"stage", "--token-file", tokenFile},
		{"stage", "--current", "--token-id", "t", "--expires", "2027-01-01", "--token-file", tokenFile},
	} {
		if code, _, errOut := e.run(args...); code != 2 || !strings.Contains(errOut, "issuer") {
			t.Errorf("%q: exit %d: %s", args, code, errOut)
		}
	}
	code, out, _ := e.run("rotate", "--continue")
	if code != 1 || !strings.HasPrefix(out, "No hand-off is pending") || len(e.sb.IC.Tokens()) != 1 {
		t.Fatalf("--continue with nothing pending: exit %d, %d tokens: %s", code, len(e.sb.IC.Tokens()), out)
	}
	code, out, _ = e.run("check")
	if code != 0 || !strings.Contains(out, "WARN") || strings.Contains(out, "FAIL") || !strings.HasPrefix(out, "LEVEL") {
		t.Fatalf("check exit %d:\n%s", code, out)
	}
	code, out, _ = e.run("check", "-o", "json")
	var checks []struct {
		Level string `json:"level"`
	}
	if err := json.Unmarshal(checksOf(t, out), &checks); err != nil || code != 0 || len(checks) < 3 {
		t.Fatalf("check -o json exit %d: %v\n%s", code, err, out)
	}
}
