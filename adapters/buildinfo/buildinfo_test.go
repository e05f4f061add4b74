package buildinfo

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
)

const rev = "abcdef1234567890abcdef1234567890abcdef12"

// vcs is the build information of a build from a checkout: Go's settings and,
// since Go 1.24, the main module's version stamped from the checkout.
func vcs(version string, modified bool) *debug.BuildInfo {
	m := "false"
	if modified {
		m = "true"
	}
	return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/scim-rotator/scim-rotator", Version: version},
		Settings: []debug.BuildSetting{
			{Key: "-trimpath", Value: "true"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: "2026-12-07T21:00:00Z"},
			{Key: "vcs.modified", Value: m},
		}}
}

func module(version string) *debug.BuildInfo {
	return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/scim-rotator/scim-rotator", Version: version, Sum: "h1:x"}}
}

func TestResolve(t *testing.T) {
	platform := runtime.GOOS + "/" + runtime.GOARCH
	tests := []struct {
		name string
		set  string
		bi   *debug.BuildInfo
		ok   bool
		want Info
	}{
		{"ldflags set, from a checkout", "v9.9.9", vcs("v0.0.0-20261207210000-abcdef123456", false), true,
			Info{Version: "v9.9.9", Revision: rev, Time: "2026-12-07T21:00:00Z", Go: "go1.26.8", Platform: platform}},
		{"ldflags set, no vcs (-buildvcs=false)", "v9.9.9", module("(devel)"), true,
			Info{Version: "v9.9.9", Go: "go1.26.8", Platform: platform}},
		{"ldflags set, no build info", "v9.9.9", nil, false,
			Info{Version: "v9.9.9", Go: runtime.Version(), Platform: platform}},
		{"go install @v1.2.3", "", module("v1.2.3"), true,
			Info{Version: "v1.2.3", Go: "go1.26.8", Platform: platform}},
		{"go install @commit: pseudo-version", "", module("v0.0.0-20261207210000-abcdef123456"), true,
			Info{Version: "v0.0.0-20261207210000-abcdef123456", Revision: "abcdef123456", Time: "2026-12-07T21:00:00Z", Go: "go1.26.8", Platform: platform}},
		{"go install @commit after a tag", "", module("v1.2.4-0.20261207210000-abcdef123456"), true,
			Info{Version: "v1.2.4-0.20261207210000-abcdef123456", Revision: "abcdef123456", Time: "2026-12-07T21:00:00Z", Go: "go1.26.8", Platform: platform}},
		{"go install @commit after a pre-release", "", module("v1.2.3-rc.1.0.20261207210000-abcdef123456"), true,
			Info{Version: "v1.2.3-rc.1.0.20261207210000-abcdef123456", Revision: "abcdef123456", Time: "2026-12-07T21:00:00Z", Go: "go1.26.8", Platform: platform}},
		{"pre-release that is not a pseudo-version", "", module("v1.2.3-rc-1"), true,
			Info{Version: "v1.2.3-rc-1", Go: "go1.26.8", Platform: platform}},
		{"(devel) with vcs, modified", "", vcs("(devel)", true), true,
			Info{Version: Devel, Revision: rev, Time: "2026-12-07T21:00:00Z", Dirty: true, Go: "go1.26.8", Platform: platform}},
		{"checkout stamped with a pseudo-version (Go 1.24+), modified", "", vcs("v0.0.0-20261207210000-abcdef123456+dirty", true), true,
			Info{Version: Devel, Revision: rev, Time: "2026-12-07T21:00:00Z", Dirty: true, Go: "go1.26.8", Platform: platform}},
		{"checkout at a tag", "", vcs("v1.2.3", false), true,
			Info{Version: "v1.2.3", Revision: rev, Time: "2026-12-07T21:00:00Z", Go: "go1.26.8", Platform: platform}},
		{"(devel) without vcs (-buildvcs=false)", "", module("(devel)"), true,
			Info{Version: Devel, Go: "go1.26.8", Platform: platform}},
		{"no build info at all", "", nil, false,
			Info{Version: Devel, Go: runtime.Version(), Platform: platform}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Resolve(tt.set, tt.bi, tt.ok); got != tt.want {
				t.Errorf("Resolve(%q) =\n %+v\nwant\n %+v", tt.set, got, tt.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		info Info
		want string
	}{
		{Info{Version: Devel, Revision: rev, Time: "2026-12-07T21:00:00Z", Dirty: true, Go: "go1.26.8", Platform: "linux/amd64"},
			"scim-rotator devel (abcdef123456, 2026-12-07T21:00:00Z, +dirty) go1.26.8 linux/amd64"},
		{Info{Version: "v1.2.3", Revision: rev, Time: "2026-12-07T21:00:00Z", Go: "go1.26.8", Platform: "linux/arm64"},
			"scim-rotator v1.2.3 (abcdef123456, 2026-12-07T21:00:00Z) go1.26.8 linux/arm64"},
		{Info{Version: "v1.2.3", Go: "go1.26.8", Platform: "linux/amd64"},
			"scim-rotator v1.2.3 go1.26.8 linux/amd64"},
		{Info{Version: Devel, Revision: "abc", Go: "go1.26.8", Platform: "darwin/arm64"},
			"scim-rotator devel (abc) go1.26.8 darwin/arm64"},
	}
	for _, tt := range tests {
		if got := tt.info.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

// The JSON form has exactly the six keys of the contract, empty ones included.
func TestJSONKeys(t *testing.T) {
	b, err := json.Marshal(Info{Version: Devel})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"dirty", "go", "platform", "revision", "time", "version"}; !slices.Equal(keys, want) {
		t.Errorf("keys = %v, want %v", keys, want)
	}
}

// Get reads the test binary's own build information: it names a version
// and the running Go.
func TestGet(t *testing.T) {
	got := Get()
	if got.Version == "" || got.Go != runtime.Version() || got.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("Get() = %+v", got)
	}
}

// LdflagsPath names this package's Version: a move would silently leave the
// release build's -X pointing at nothing.
func TestLdflagsPath(t *testing.T) {
	if got := reflect.TypeFor[Info]().PkgPath() + ".Version"; got != LdflagsPath {
		t.Errorf("LdflagsPath = %q, want %q", LdflagsPath, got)
	}
}

// TestKoLdflags: the image's build (.ko.yaml) sets Version through LdflagsPath.
func TestKoLdflags(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", ".ko.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "-X "+LdflagsPath+"=") {
		t.Errorf(".ko.yaml does not set %s", LdflagsPath)
	}
	// The Lambda zips' bootstrap is built by .ci/release beside the image,
	// with the same flags.
	b, err = os.ReadFile(filepath.Join("..", "..", ".ci", "release"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `-ldflags "-s -w -X `+LdflagsPath+`=$version"`) || !strings.Contains(string(b), "-trimpath") {
		t.Errorf(".ci/release does not build the bootstrap with -trimpath and -ldflags \"-s -w -X %s=$version\" as .ko.yaml does", LdflagsPath)
	}
}
