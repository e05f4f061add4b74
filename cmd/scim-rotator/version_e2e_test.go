package main

import (
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

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

// A build from this checkout without -X is devel, with the revision Go
// stamped from the checkout. Go stamps it only when the build sees a .git
// directory (not a worktree's .git file) and -buildvcs is not false: without
// it there is nothing to check here (Resolve's table covers the logic).
func TestE2EVersionDevel(t *testing.T) {
	bi, err := buildinfo.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	var rev string
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			rev = s.Value
		}
	}
	if rev == "" {
		t.Skip("the test binary carries no VCS information (-buildvcs=false in GOFLAGS, no git, or a git worktree, whose .git is a file go build does not read)")
	}
	if v := bi.Main.Version; v != "(devel)" && !regexp.MustCompile(`-\d{14}-[0-9a-f]{12}(\+dirty)?$`).MatchString(v) {
		t.Skipf("the checkout is at the tag %s: that is its version, not devel", v)
	}
	if out, err := exec.CommandContext(t.Context(), "git", "rev-parse", "HEAD").Output(); err == nil && strings.TrimSpace(string(out)) != rev {
		t.Errorf("the binary's vcs.revision %s is not HEAD %s", rev, out)
	}
	code, line := runBinary(t, binary, "version")
	m := regexp.MustCompile(`^scim-rotator devel \(([0-9a-f]{12}), (\S+?)(, \+dirty)?\) (\S+) (\S+)\n$`).FindStringSubmatch(line)
	if code != 0 || m == nil || m[1] != rev[:12] || m[4] != runtime.Version() || m[5] != runtime.GOOS+"/"+runtime.GOARCH {
		t.Fatalf("version exit %d: %q, want scim-rotator devel (%s, <time>[, +dirty]) %s %s/%s", code, line, rev[:12], runtime.Version(), runtime.GOOS, runtime.GOARCH)
	}
	if code, flag := runBinary(t, binary, "--version"); code != 0 || flag != line {
		t.Errorf("--version exit %d: %q, want %q", code, flag, line)
	}
	info := versionJSON(t, binary)
	if info.Version != "devel" || info.Revision != rev || info.Time != m[2] || info.Dirty != (m[3] != "") {
		t.Errorf("version -o json = %+v, want devel, %s, %s, dirty %v", info, rev, m[2], m[3] != "")
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
