package main

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
)

// The first week's edges, in the binary (issue 25 §3, §4).

// bare runs the binary in dir with no config anywhere: no
// $SCIM_ROTATOR_CONFIG, HOME in dir.
func bare(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SCIM_ROTATOR_") && !strings.HasPrefix(kv, "HOME=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "HOME="+dir)
	return runCmd(t, cmd)
}

// With no config file, the error says where it looked, in order, and how
// to get a starting file; the file `config example` prints is one the
// loader takes (what is left is a credential to provide).
func TestE2ENoConfigSaysWhereItLooked(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := bare(t, dir, "status")
	want := "error: no config file; looked at:\n  --config: not given\n  $SCIM_ROTATOR_CONFIG: not set\n  ./scim-rotator.yaml: does not exist\n" +
		"To start one: scim-rotator config example > scim-rotator.yaml, edit it, then run scim-rotator check.\n" +
		"To try a working one against a local sandbox: scim-rotator demo --serve\n"
	if code != exitUsage || errOut != want {
		t.Fatalf("exit %d, stderr:\n%s\nwant:\n%s", code, errOut, want)
	}
	code, example, errOut := bare(t, dir, "config", "example")
	if code != 0 || os.WriteFile(filepath.Join(dir, "scim-rotator.yaml"), []byte(example), 0o600) != nil {
		t.Fatalf("config example: exit %d: %s", code, errOut)
	}
	code, _, errOut = bare(t, dir, "status")
	if code != exitUsage || !strings.HasPrefix(errOut, "error: targets[1].entra.clientSecretEnv: environment variable ENTRA_CLIENT_SECRET is not set") {
		t.Fatalf("the example: exit %d, want the first credential it names:\n%s", code, errOut)
	}
}

// A mistyped key or flag is answered with the closest known one; a second
// YAML document is refused at its line.
func TestE2EDidYouMeanAndSecondDocument(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "--outptu", "json"}, "error: unknown flag: --outptu; did you mean --output?\n"},
		{[]string{"rotate", "--dryrun"}, "error: unknown flag: --dryrun; did you mean --dry-run?\n"},
		{[]string{"check", "--log-levle", "warn"}, "error: unknown flag: --log-levle; did you mean --log-level?\n"},
	} {
		if code, _, errOut := e.run(tc.args...); code != exitUsage || errOut != tc.want {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
	b, err := os.ReadFile(e.files.Config)
	if err != nil {
		t.Fatal(err)
	}
	e.editConfig("rotatebefore: 1440h\n")
	if code, _, errOut := e.run("check"); code != exitUsage || !strings.Contains(errOut, "rotatebefore: unknown key: did you mean rotateBefore? (known keys: ") {
		t.Errorf("mistyped key: exit %d: %s", code, errOut)
	}
	line := strings.Count(string(b), "\n") + 1
	if err := os.WriteFile(e.files.Config, append(b, "---\nrotateBefore: 1440h\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := e.run("check"); code != exitUsage || !strings.Contains(errOut, "a second YAML document starts at line "+strconv.Itoa(line)+" (---)") {
		t.Errorf("second document: exit %d, want 2 naming line %d: %s", code, line, errOut)
	}
}

// check's table fits 120 columns (a command in a fix is never cut, and
// may be longer); status hides the store's own versions unless --all, and
// --log-level warn leaves out the info lines.
func TestE2ECheckWidthStatusAllAndLogLevel(t *testing.T) {
	e := newEnv(t, sandbox.Options{Entra: true, Okta: "api"})
	e.sb.SeedLiveToken(30 * 24 * time.Hour)
	code, out, errOut := e.run("check")
	if code != 0 {
		t.Fatalf("check exit %d:\n%s\n%s", code, out, errOut)
	}
	for _, l := range strings.Split(out, "\n") {
		if utf8.RuneCountInString(l) > maxWidth && !strings.HasPrefix(strings.TrimSpace(l), "aws ") {
			t.Errorf("check line of %d columns: %q", utf8.RuneCountInString(l), l)
		}
	}
	code, out, errOut = e.run("rotate", "--now", "--log-level", "warn")
	if code != 0 || !strings.HasPrefix(out, "Rotated") {
		t.Fatalf("rotate --now exit %d:\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(errOut, "INFO") {
		t.Errorf("--log-level warn wrote info lines:\n%s", errOut)
	}
	_, out, _ = e.run("status")
	if strings.Contains(out, "SCIMROTATOR_") || !strings.Contains(out, "--all lists them") || !strings.Contains(out, "AWSCURRENT") {
		t.Errorf("status shows the state record's versions, or no token's:\n%s", out)
	}
	_, out, _ = e.run("status", "--all")
	if !strings.Contains(out, "SCIMROTATOR_STATE") || strings.Contains(out, "--all lists them") {
		t.Errorf("status --all:\n%s", out)
	}
	if _, out, _ = e.run("status", "-o", "json"); !strings.Contains(out, "SCIMROTATOR_STATE") {
		t.Errorf("status -o json lost the state record's version:\n%s", out)
	}
}

// Shell completion completes flag values, and --instance with the names in
// the config; `completion bash` prints the script the README sources.
func TestE2ECompletion(t *testing.T) {
	dir := t.TempDir()
	fleet := "instances:\n" +
		"  - {name: prod, identityCenter: {region: us-east-1, identityStoreId: d-1234567890}, store: {secretId: a}, targets: [{name: s, type: secretsmanager, secretsmanager: {secretId: s}}]}\n" +
		"  - {name: dev, identityCenter: {region: us-east-1, identityStoreId: d-1234567891}, store: {secretId: b}, targets: [{name: s, type: secretsmanager, secretsmanager: {secretId: s}}]}\n"
	cfg := filepath.Join(dir, "fleet.yaml")
	if err := os.WriteFile(cfg, []byte(fleet), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "-o", ""}, "table\njson\n"},
		{[]string{"check", "--output", "j"}, "json\n"},
		{[]string{"version", "-o", ""}, "text\njson\n"},
		{[]string{"rotate", "-o", ""}, "text\njson\n"},
		{[]string{"schema", ""}, "status\ncheck\nrotate\nconfig\n"},
		{[]string{"rotate", "--log-format", ""}, "console\njson\n"},
		{[]string{"status", "--log-level", ""}, "debug\ninfo\nwarn\nerror\n"},
		{[]string{"demo", "--okta", ""}, "api\nhandoff\nnone\n"},
		{[]string{"status", "--config", cfg, "--instance", ""}, "prod\ndev\n"},
		{[]string{"rotate", "--config", cfg, "--instance", "d"}, "dev\n"},
		{[]string{"rotate", "--instance", ""}, ""}, // no config here: nothing to offer
	} {
		code, out, errOut := bare(t, dir, append([]string{"__complete"}, tc.args...)...)
		if want := tc.want + ":4\n"; code != 0 || out != want {
			t.Errorf("complete %q: exit %d, %q, want %q\n%s", tc.args, code, out, want, errOut)
		}
	}
	if code, out, _ := bare(t, dir, "completion", "bash"); code != 0 || !strings.Contains(out, "__start_scim-rotator") {
		t.Errorf("completion bash: exit %d:\n%.200s", code, out)
	}
}

// `demo --serve --okta handoff` plays the Okta admin as --handoff plays the
// SCIM client's, and says so: `rotate --now` leaves the token pending, the
// sandbox pastes it 20 s later, and `rotate --continue` then finishes the
// rotation. Without --dir, its directory of fake credentials is removed
// when it stops (SIGTERM here; Ctrl-C is the same path).
func TestE2EServeOktaHandoffPlaysTheAdminAndCleansUp(t *testing.T) {
	home := t.TempDir()
	banner, serve := startServe(t, cleanEnv(home), "--okta", "handoff")
	text := strings.Join(banner, "\n")
	containsAll(t, "the banner", text, "The sandbox plays the admin of the Okta app amazon_aws_sso: 20s after a rotation leaves a token pending it pastes it",
		"the directory above is removed then; --dir keeps one")
	var envFile string
	for _, l := range banner {
		if s, ok := strings.CutPrefix(strings.TrimSpace(l), ". "); ok {
			envFile = strings.Trim(s, "'")
		}
	}
	dir := filepath.Dir(envFile)
	if _, err := os.Stat(envFile); err != nil {
		t.Fatalf("env.sh %q: %v\n%s", envFile, err, text)
	}
	run := func(args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command("sh", "-c", ". '"+envFile+"' && exec '"+binary+"' "+strings.Join(args, " "))
		cmd.Env = cleanEnv(home)
		code, stdout, stderr := runCmd(t, cmd)
		if strings.Contains(stdout+stderr, tokenPrefix) {
			t.Fatalf("%v printed a token value", args)
		}
		return code, stdout + stderr
	}
	if code, out := run("rotate", "--now"); code != 0 || !strings.HasPrefix(out, "AwaitingHandoff") {
		t.Fatalf("rotate --now exit %d:\n%s", code, out)
	}
	time.Sleep(adminDelay + 2*time.Second) // the admin's paste (real time: the served sandbox's)
	if code, out := run("rotate", "--continue"); code != 0 || !strings.Contains(out, "Rotated") {
		t.Fatalf("rotate --continue after the sandbox pasted: exit %d:\n%s", code, out)
	}
	_ = serve.Process.Signal(syscall.SIGTERM)
	if err := serve.Wait(); err != nil {
		t.Fatalf("demo --serve on SIGTERM: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("demo --serve left its directory %s behind: %v", dir, err)
	}
}
