package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// requireTool finds a program the test needs: absent, the test is skipped
// on a developer's machine and fails in CI (.ci/run installs it).
func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (.ci/run installs it with apt-get)", name)
		}
		t.Skipf("%s is not installed", name)
	}
}

// Every command the product prints works when pasted into a shell: the
// serve banner's (sourcing its env.sh first), the hand-off's AWS CLI command
// that prints the pending token, and check's create-secret fixes; the AWS CLI
// ones with the real AWS CLI.
func TestE2EServePrintedCommandsWorkVerbatim(t *testing.T) {
	requireTool(t, "aws")
	requireTool(t, "jq")
	dir := filepath.Join(t.TempDir(), "sand box") // a space: paths must be quoted
	lines, _ := startServe(t, cleanEnv(dir), "--okta", "handoff", "--dir", dir)
	var source string
	var commands []string
	for _, l := range lines {
		switch l = strings.TrimPrefix(l, "  "); {
		case strings.HasPrefix(l, ". "):
			source = l
		case strings.HasPrefix(l, binary+" "):
			commands = append(commands, l)
		}
	}
	if source == "" || len(commands) < 4 {
		t.Fatalf("the banner must name env.sh and the commands by this binary's path (not on PATH):\n%s", strings.Join(lines, "\n"))
	}
	// sh runs a line as pasted into a new shell where env.sh was sourced.
	sh := func(line string) (int, string, string) {
		t.Helper()
		cmd := exec.Command("sh", "-c", source+"\n"+line)
		cmd.Env = cleanEnv(dir)
		return runCmd(t, cmd)
	}
	var printed []string
	for _, c := range commands {
		code, stdout, stderr := sh(c)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s\n%s", c, code, stdout, stderr)
		}
		if strings.Contains(stdout+stderr, tokenPrefix) {
			t.Fatalf("%s printed a token value", c)
		}
		printed = append(printed, stdout)
	}
	if last := printed[len(printed)-1]; !strings.HasPrefix(last, "AwaitingHandoff") {
		t.Fatalf("rotate --now with the Okta hand-off app: %s", last)
	}

	// The hand-off's command prints the pending token, and nothing else.
	awsLines := awsCommands(printed[len(printed)-1])
	if len(awsLines) != 1 || !strings.Contains(awsLines[0], "get-secret-value") {
		t.Fatalf("want the hand-off's get-secret-value command, got %q", awsLines)
	}
	code, stdout, stderr := sh(awsLines[0])
	if v := strings.TrimSpace(stdout); code != 0 || !strings.HasPrefix(v, tokenPrefix) || strings.ContainsAny(v, " \n\"{") {
		t.Fatalf("%s: exit %d, %d bytes out (want the token alone)\n%s", awsLines[0], code, len(stdout), stderr)
	}

	// check's fixes for a missing store secret and a missing target secret.
	cfgPath := filepath.Join(dir, "scim-rotator.yaml")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "secretId: scim-rotator/identity-center", "secretId: new/store-secret", 1)
	cfg = strings.Replace(cfg, "secretId: SSOSyncSCIMAccessToken", "secretId: new/sync-secret", 1)
	if cfg == string(b) || os.WriteFile(cfgPath, []byte(cfg), 0o600) != nil {
		t.Fatal("cannot point the config at missing secrets")
	}
	code, stdout, _ = sh(commands[0] + " 2>/dev/null")
	fixes := awsCommands(stdout)
	if code != 1 || len(fixes) != 2 {
		t.Fatalf("check with missing secrets: exit %d, fixes %q\n%s", code, fixes, stdout)
	}
	for _, f := range fixes {
		if code, stdout, stderr := sh(f); code != 0 || !strings.Contains(stdout, `"ARN"`) {
			t.Fatalf("%s: exit %d\n%s\n%s", f, code, stdout, stderr)
		}
	}
	if _, stdout, _ = sh(commands[0]); strings.Contains(stdout, "create-secret") {
		t.Fatalf("check still misses a secret after its fixes:\n%s", stdout)
	}
}

// startServe starts `demo --serve` with args in env and returns its banner,
// to "Press Ctrl-C" (the test fails without one within a minute). At the
// test's end it is stopped with SIGINT, and must exit 0, unless the test
// stopped it already.
func startServe(t *testing.T, env []string, args ...string) (banner []string, serve *exec.Cmd) {
	t.Helper()
	serve = exec.Command(binary, append([]string{"demo", "--serve"}, args...)...)
	serve.Env = env
	out, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var serveErr bytes.Buffer
	serve.Stderr = &serveErr
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if serve.ProcessState != nil {
			return
		}
		_ = serve.Process.Signal(syscall.SIGINT)
		if err := serve.Wait(); err != nil {
			t.Errorf("demo --serve on SIGINT: %v\n%s", err, serveErr.String())
		}
	})
	got := make(chan []string, 1)
	go func() {
		var lines []string
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if strings.HasPrefix(sc.Text(), "Press Ctrl-C") {
				break
			}
		}
		got <- lines
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case banner = <-got:
	case <-time.After(60 * time.Second):
		t.Fatalf("no banner:\n%s", serveErr.String())
	}
	if len(banner) == 0 || !strings.HasPrefix(banner[len(banner)-1], "Press Ctrl-C") {
		t.Fatalf("demo --serve ended before its banner:\n%s\n%s", strings.Join(banner, "\n"), serveErr.String())
	}
	return banner, serve
}

// awsCommands returns each "aws ..." command in out, to the end of its line.
func awsCommands(out string) []string {
	var cmds []string
	for _, l := range strings.Split(out, "\n") {
		if i := strings.Index(l, "aws secretsmanager "); i >= 0 {
			cmds = append(cmds, l[i:])
		}
	}
	return cmds
}

// cleanEnv is a new user's shell: no AWS settings of this machine but a
// profile and keys of their own (env.sh must override them), HOME in dir,
// and PATH as it is (the binary under test is not on it).
func cleanEnv(dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "SCIM_ROTATOR_") && !strings.HasPrefix(kv, "SSL_CERT_") {
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+dir, "AWS_PROFILE=work", "AWS_ACCESS_KEY_ID=AKIAUSERSOWNKEY00000", "AWS_SECRET_ACCESS_KEY=not-the-sandbox")
}
