package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	ourbuildinfo "github.com/scim-rotator/scim-rotator/adapters/buildinfo"
)

// runBinary runs bin with args and returns its exit code and stdout (stderr
// is appended on failure to start).
func runBinary(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), stdout.String()
	} else if err != nil {
		t.Fatalf("%s %v: %v\n%s", bin, args, err, stderr.String())
	}
	return 0, stdout.String()
}

// versionJSON runs `version -o json` and checks it has exactly the six keys
// of the contract.
func versionJSON(t *testing.T, bin string) ourbuildinfo.Info {
	t.Helper()
	code, out := runBinary(t, bin, "version", "-o", "json")
	if code != 0 {
		t.Fatalf("version -o json exit %d: %s", code, out)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("version -o json: %v\n%s", err, out)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"dirty", "go", "platform", "revision", "time", "version"}; !slices.Equal(keys, want) {
		t.Errorf("version -o json keys %v, want %v", keys, want)
	}
	var info ourbuildinfo.Info
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatal(err)
	}
	return info
}

// A release build's version is the one -X set: `version`, `--version` and
// `version -o json` say it.
func TestE2EVersionLdflags(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "scim-rotator")
	if out, err := exec.CommandContext(t.Context(), "go", "build", "-ldflags", "-X "+ourbuildinfo.LdflagsPath+"=v9.9.9", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	platform := runtime.GOOS + "/" + runtime.GOARCH
	code, line := runBinary(t, bin, "version")
	if code != 0 || !strings.HasPrefix(line, "scim-rotator v9.9.9 ") || !strings.HasSuffix(line, " "+runtime.Version()+" "+platform+"\n") {
		t.Errorf("version exit %d: %q, want scim-rotator v9.9.9 ... %s %s", code, line, runtime.Version(), platform)
	}
	if code, flag := runBinary(t, bin, "--version"); code != 0 || flag != line {
		t.Errorf("--version exit %d: %q, want %q", code, flag, line)
	}
	info := versionJSON(t, bin)
	if info.Version != "v9.9.9" || info.Go != runtime.Version() || info.Platform != platform {
		t.Errorf("version -o json = %+v", info)
	}
	if code, out := runBinary(t, bin, "version", "-o", "yaml"); code != exitUsage {
		t.Errorf("version -o yaml exit %d, want %d: %s", code, exitUsage, out)
	}
}

// `go install ./cmd/scim-rotator` from a checkout (the README's install) is
// devel with the checkout's revision and time, and +dirty once the tree is
// modified. The build runs in a fresh clone (a .git directory, as a user's
// checkout has, where a git worktree has a file) with -buildvcs=auto, whatever
// this machine's GOFLAGS say.
func TestE2EVersionDevel(t *testing.T) {
	top, err := exec.CommandContext(t.Context(), "git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("git rev-parse: %v", err)
	}
	clone := filepath.Join(t.TempDir(), "src")
	if out, err := exec.CommandContext(t.Context(), "git", "clone", "-q", strings.TrimSpace(string(top)), clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(t.Context(), "git", "-C", clone, "log", "-1", "--format=%H %cI").Output()
	if err != nil {
		t.Fatal(err)
	}
	rev, when, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	commitTime, err := time.Parse(time.RFC3339, when)
	if err != nil {
		t.Fatal(err)
	}
	install := func() string {
		t.Helper()
		gobin := t.TempDir()
		cmd := exec.CommandContext(t.Context(), "go", "install", "./cmd/scim-rotator")
		cmd.Dir = clone
		cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=-buildvcs=auto")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go install: %v\n%s", err, out)
		}
		return filepath.Join(gobin, "scim-rotator")
	}
	for _, dirty := range []bool{false, true} {
		if dirty {
			if err := os.WriteFile(filepath.Join(clone, "README.md"), []byte("modified\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		bin := install()
		code, line := runBinary(t, bin, "version")
		want := fmt.Sprintf("scim-rotator devel (%s, %s) %s %s/%s\n", rev[:12], commitTime.UTC().Format(time.RFC3339), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		if dirty {
			want = strings.Replace(want, ") ", ", +dirty) ", 1)
		}
		if code != 0 || line != want {
			t.Errorf("dirty %v: version exit %d: %q, want %q", dirty, code, line, want)
		}
		if code, flag := runBinary(t, bin, "--version"); code != 0 || flag != line {
			t.Errorf("--version exit %d: %q, want %q", code, flag, line)
		}
		info := versionJSON(t, bin)
		if info.Version != "devel" || info.Revision != rev || info.Dirty != dirty {
			t.Errorf("version -o json = %+v, want devel, %s, dirty %v", info, rev, dirty)
		}
	}
}

// buildInfoSeries is the scim_rotator_build_info series the test binary
// exports, as the exposition format writes it: the version and revision its
// `version -o json` says, the Go that built it.
func buildInfoSeries(t *testing.T) string {
	t.Helper()
	info := versionJSON(t, binary)
	return fmt.Sprintf(`scim_rotator_build_info{goversion=%q,revision=%q,version=%q} 1`, runtime.Version(), info.Revision, info.Version)
}
