package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
)

// The bootstrap as Lambda runs it: built as the release builds it (-tags
// lambda.norpc), served by AWS's Runtime Interface Emulator on a loopback
// port, configured only as the template configures it (the config's text
// in SCIM_ROTATOR_CONFIG_YAML), against the sandbox.

// riePkg is the Runtime Interface Emulator, pinned as in .ci/tools.
const riePkg = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d"

var (
	bootstrapOnce sync.Once
	bootstrapPath string
	bootstrapErr  error
)

// bootstrap builds the binary as the release's zips hold it.
func bootstrap(t *testing.T) string {
	t.Helper()
	bootstrapOnce.Do(func() {
		bootstrapPath = filepath.Join(filepath.Dir(binary), "bootstrap")
		out, err := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bootstrapPath, ".").CombinedOutput()
		if err != nil {
			bootstrapErr = fmt.Errorf("build bootstrap: %v\n%s", err, out)
		}
	})
	if bootstrapErr != nil {
		t.Fatal(bootstrapErr)
	}
	return bootstrapPath
}

// rie finds the pinned emulator on PATH (.ci/run puts it there) or builds
// it where .ci/tools would.
func rie(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p
	}
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "scim-rotator-tools", "aws-lambda-rie@"+riePkg[strings.LastIndex(riePkg, "@")+1:])
	p := filepath.Join(dir, "aws-lambda-rie")
	if _, err := os.Stat(p); err != nil {
		cmd := exec.Command("go", "install", riePkg)
		cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("install %s: %v\n%s", riePkg, err, out)
		}
	}
	return p
}

// function is the bootstrap served by the emulator.
type function struct {
	t    *testing.T
	url  string
	logs *logBuffer
}

// serveFunction starts the emulator with the sandbox's config as the
// template passes it and an invocation timeout (the function's Timeout).
func (e *env) serveFunction(timeout time.Duration) *function {
	t := e.t
	t.Helper()
	cfg, err := os.ReadFile(e.files.Config)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(rie(t), "--runtime-interface-emulator-address", addr, bootstrap(t))
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), e.files.Env...)
	cmd.Env = append(cmd.Env, "HOME="+e.files.Dir, "SCIM_ROTATOR_CONFIG=", "SCIM_ROTATOR_CONFIG_YAML="+string(cfg),
		fmt.Sprintf("AWS_LAMBDA_FUNCTION_TIMEOUT=%d", int(timeout.Seconds())))
	f := &function{t: t, url: "http://" + addr + "/2015-03-31/functions/function/invocations", logs: &logBuffer{}}
	cmd.Stdout, cmd.Stderr = f.logs, f.logs // one writer: exec copies both with one goroutine
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); e.record(f.logs.String()) })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("the emulator did not listen on %s:\n%s", addr, f.logs)
		}
	}
}

// logBuffer is the emulator's output, written by exec's copying goroutine
// and read by the test.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// invoke invokes the function and returns its answer: the document, or
// Lambda's error (errorType, errorMessage).
func (f *function) invoke(payload string) (doc any, errType, errMsg string) {
	f.t.Helper()
	resp, err := http.Post(f.url, "application/json", strings.NewReader(payload))
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var e struct {
		Type    string `json:"errorType"`
		Message string `json:"errorMessage"`
	}
	if json.Unmarshal(body, &e) == nil && e.Type != "" {
		return nil, e.Type, e.Message
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		f.t.Fatalf("invoke %s: not a JSON document (%v):\n%s", payload, err, body)
	}
	return doc, "", ""
}

// check and status answer their JSON documents; a bad payload is an error
// naming its field, and nothing is run.
func TestE2ELambdaReadOnly(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	f := e.serveFunction(60 * time.Second)
	for _, cmd := range []string{"check", "status"} {
		doc, typ, msg := f.invoke(`{"command": "` + cmd + `"}`)
		if typ != "" || doc == nil {
			t.Fatalf("%s: %s %s\n%s", cmd, typ, msg, f.logs)
		}
	}
	created := e.sb.IC.CreatedCount()
	for payload, field := range map[string]string{
		`{"command": "rotate", "now": "yes"}`:      "now",
		`{"command": "check", "now": true}`:        "now",
		`{"command": "rotate", "revokeOld": true}`: "revokeOld",
		`{"command": "rotate", "token": "x"}`:      "token",
	} {
		doc, typ, msg := f.invoke(payload)
		if doc != nil || typ != "ExitCode2" || !strings.Contains(msg, `"`+field+`"`) {
			t.Errorf("%s: %v %s %s, want ExitCode2 naming %q", payload, doc, typ, msg, field)
		}
	}
	if e.sb.IC.CreatedCount() != created {
		t.Error("a bad payload created a token")
	}
}

// outcome is a rotate document's one instance's outcome.
func outcomeOf(t *testing.T, doc any) (string, float64) {
	t.Helper()
	d, _ := doc.(map[string]any)
	insts, _ := d["instances"].([]any)
	if len(insts) != 1 {
		t.Fatalf("a rotate document with %d instances: %v", len(insts), doc)
	}
	inst, _ := insts[0].(map[string]any)
	outcome, _ := inst["outcome"].(string)
	code, _ := d["exitCode"].(float64)
	return outcome, code
}

// The schedule's invocations as the template makes them: a live token that
// is not due is left alone; a rotation asked for at once (`{"command":
// "rotate", "now": true}`) is bounded by each invocation's time (a 3-second
// function: --deadline 2s), ends Waiting, and the scheduled invocations
// after it finish it: one new token, the old one deleted after its quiet
// period, the targets on a token Identity Center accepts all along. The
// function's logs are JSON lines with each run's outcome (the template's
// metric filters read them).
func TestE2ELambdaRotatesAcrossInvocations(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	oldID, oldValue := e.sb.SeedLiveToken(100 * 24 * time.Hour) // 265 days left: not due
	e.stageLive(oldID, oldValue)
	f := e.serveFunction(3 * time.Second)
	scheduled := `{"version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012", "time": "2026-12-08T00:00:00Z", "region": "us-east-1", "resources": [], "detail": {}}`

	doc, typ, msg := f.invoke(scheduled)
	if outcome, code := outcomeOf(t, doc); typ != "" || outcome != "NotDue" || code != 0 {
		t.Fatalf("a scheduled invocation before the window: %s (exit %v) %s %s\n%v\n%s", outcome, code, typ, msg, doc, f.logs)
	}
	doc, typ, msg = f.invoke(`{"command": "rotate", "now": true}`)
	if typ != "" {
		t.Fatalf("rotate now: %s %s\n%s", typ, msg, f.logs)
	}
	outcomes := []string{}
	for outcome, _ := outcomeOf(t, doc); ; {
		outcomes = append(outcomes, outcome)
		if outcome == "Rotated" {
			break
		}
		if outcome != "Waiting" || len(outcomes) > 40 {
			t.Fatalf("outcomes %v: want Waiting until Rotated\n%s", outcomes, f.logs)
		}
		if ids := e.tokenIDs(); len(ids) > 2 || !strings.Contains(strings.Join(ids, " "), oldID) {
			t.Fatalf("while waiting: tokens %v; the old token %s must be kept", ids, oldID)
		}
		e.assertTargetsWork()
		time.Sleep(200 * time.Millisecond)
		if doc, typ, msg = f.invoke(scheduled); typ != "" {
			t.Fatalf("a scheduled invocation after %v: %s %s\n%s", outcomes, typ, msg, f.logs)
		}
		outcome, _ = outcomeOf(t, doc)
	}
	if len(outcomes) < 2 {
		t.Fatalf("outcomes %v: the first invocation was to end Waiting (a 2 s deadline, a longer quiet period)", outcomes)
	}
	newID := e.storeTokenID("AWSCURRENT")
	if ids := e.tokenIDs(); len(ids) != 1 || ids[0] != newID || newID == oldID {
		t.Fatalf("want only the new token %s, have %v", newID, ids)
	}
	e.assertTargetsWork()
	for _, o := range []string{"Waiting", "Rotated"} {
		if !regexp.MustCompile(`"outcome": ?"` + o + `"`).MatchString(f.logs.String()) {
			t.Errorf("no JSON log line with the outcome %s:\n%s", o, f.logs)
		}
	}
	t.Logf("outcomes: %v", outcomes)
}

// readmeInvokes are the README's "Deploy on AWS Lambda" invocations, each a
// script of its lines (the payload written, `aws lambda invoke`, `jq`) by
// the file it answers into (check.json, continue.json).
func readmeInvokes(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "### Deploy on AWS Lambda")
	end := strings.Index(text[start+1:], "\n### ")
	if start < 0 || end < 0 {
		t.Fatal("README has no Deploy on AWS Lambda section")
	}
	out := map[string]string{}
	var script []string
	for _, line := range strings.Split(text[start:start+1+end], "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, `echo '{"command"`):
			script = []string{line}
		case strings.HasPrefix(line, "aws lambda invoke ") && len(script) == 1:
			script = append(script, line)
		case strings.HasPrefix(line, "jq . ") && len(script) == 2:
			out[strings.TrimPrefix(line, "jq . ")] = strings.Join(append(script, line), "\n")
			script = nil
		}
	}
	return out
}

// The README's Lambda section, followed against the sandbox with the AWS
// CLI (the emulator stands in for Lambda's Invoke API, $FN for the
// function's name): the first check, a rotation that waits for the Okta
// admin's paste, the paste, then the README's `continue`, which finishes it.
func TestE2ELambdaREADME(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the AWS CLI is not installed (.ci/run installs it)")
		}
		t.Skip("the AWS CLI is not installed")
	}
	invokes := readmeInvokes(t)
	for _, file := range []string{"check.json", "continue.json"} {
		if invokes[file] == "" {
			t.Fatalf("the README's Lambda section has no `aws lambda invoke ... %s`", file)
		}
	}
	e := newEnv(t, sandbox.Options{Okta: "handoff"})
	e.sb.SeedLiveToken(340 * 24 * time.Hour)
	f := e.serveFunction(60 * time.Second)
	dir := t.TempDir()
	cli := func(file string) map[string]any {
		t.Helper()
		cmd := exec.Command("sh", "-ec", invokes[file])
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "FN=function", "AWS_ENDPOINT_URL="+strings.TrimSuffix(f.url, "/2015-03-31/functions/function/invocations"),
			"AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=example", "AWS_DEFAULT_REGION=us-east-1",
			"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s\n%s", invokes[file], err, out, f.logs)
		}
		b, err := os.ReadFile(filepath.Join(dir, file))
		var doc map[string]any
		if err == nil {
			err = json.Unmarshal(b, &doc)
		}
		if err != nil || doc["errorType"] != nil {
			t.Fatalf("%s: %v %s\n%s", file, err, b, f.logs)
		}
		return doc
	}
	if doc := cli("check.json"); doc["exitCode"] != float64(0) {
		t.Fatalf("check: %v", doc)
	}
	// The scheduled run starts a rotation that waits for the Okta admin.
	doc, typ, msg := f.invoke(`{"command": "rotate", "now": true}`)
	if outcome, _ := outcomeOf(t, doc); typ != "" && !strings.Contains(msg, "AwaitingHandoff") || typ == "" && outcome != "AwaitingHandoff" {
		t.Fatalf("rotate: %v %s %s", doc, typ, msg)
	}
	pending, _ := e.sb.SM.Value(sandbox.StoreSecret, "AWSPENDING")
	var rec struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(pending), &rec); err != nil || rec.Token == "" {
		t.Fatalf("pending record: %v", err)
	}
	e.sb.Okta.SetTokenInAdminConsole(sandbox.OktaHandoffApp, rec.Token)
	doc2 := cli("continue.json")
	if outcome, _ := outcomeOf(t, doc2); outcome != "Rotated" && outcome != "Waiting" {
		t.Fatalf("continue: %v\n%s", doc2, f.logs)
	}
}
