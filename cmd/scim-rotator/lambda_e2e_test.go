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
	logs *bytes.Buffer
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
	f := &function{t: t, url: "http://" + addr + "/2015-03-31/functions/function/invocations", logs: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = &lockedWriter{w: f.logs}, &lockedWriter{w: f.logs}
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

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
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
