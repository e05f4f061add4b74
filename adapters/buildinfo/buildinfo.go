package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// LdflagsPath is the -X path that sets Version at build time, as the release
// build (.ko.yaml's ldflags, which TestKoLdflags keeps in step) passes it:
//
//	go build -ldflags "-X github.com/scim-rotator/scim-rotator/adapters/buildinfo.Version=v1.2.3" ./cmd/scim-rotator
const LdflagsPath = "github.com/scim-rotator/scim-rotator/adapters/buildinfo.Version"

// Version is the release version, set at build time with
// -ldflags "-X <LdflagsPath>=v1.2.3"; empty otherwise.
var Version string

// Devel is the version of a build from a checkout without a release version.
const Devel = "devel"

// Info is what a build says about itself. Its JSON form is the contract of
// `scim-rotator version -o json`: exactly these six keys, always present.
type Info struct {
	Version  string `json:"version"`
	Revision string `json:"revision"` // the VCS revision, "" if unknown
	Time     string `json:"time"`     // the revision's commit time (RFC 3339), "" if unknown
	Dirty    bool   `json:"dirty"`    // the tree had uncommitted changes
	Go       string `json:"go"`       // the Go version that built it
	Platform string `json:"platform"` // GOOS/GOARCH
}

// Get is the running binary's Info.
func Get() Info {
	bi, ok := debug.ReadBuildInfo()
	return Resolve(Version, bi, ok)
}

// Resolve decides a build's Info from the version set at build time and the
// build information Go embedded (ok false: none). The version is, first
// found: setVersion; the main module's version (`go install ...@v1.2.3`, or
// a tag Go stamped from the checkout); else Devel. Since Go 1.24 a build
// from a checkout without a tag stamps a pseudo-version
// (v0.0.0-20261207210000-abcdef123456+dirty): that says no more than the
// revision and its time, so it is Devel too. The revision, time and dirty
// flag come from the VCS settings; without them (a module download has
// none), from a pseudo-version when the version is one.
func Resolve(setVersion string, bi *debug.BuildInfo, ok bool) Info {
	info := Info{Version: strings.TrimSpace(setVersion), Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if !ok || bi == nil {
		if info.Version == "" {
			info.Version = Devel
		}
		return info
	}
	if bi.GoVersion != "" {
		info.Go = bi.GoVersion
	}
	vcs := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision, vcs = s.Value, true
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Dirty = s.Value == "true"
		}
	}
	mod := bi.Main.Version
	rev, at, pseudo := parsePseudo(mod)
	if !vcs && pseudo {
		info.Revision, info.Time = rev, at
	}
	if info.Version != "" {
		return info
	}
	switch {
	case mod == "" || mod == "(devel)" || (vcs && pseudo):
		info.Version = Devel
	default:
		info.Version = mod
	}
	return info
}

// parsePseudo returns the revision and time of a pseudo-version
// (vX.Y.Z-[pre.]0.yyyymmddhhmmss-abcdef123456 or vX.0.0-yyyymmddhhmmss-abcdef123456,
// with any +build suffix such as +dirty or +incompatible); ok false when v is
// not one.
func parsePseudo(v string) (rev, at string, ok bool) {
	v, _, _ = strings.Cut(v, "+")
	parts := strings.Split(v, "-")
	if len(parts) < 3 || !strings.HasPrefix(v, "v") {
		return "", "", false
	}
	rev = parts[len(parts)-1]
	stamp := parts[len(parts)-2]
	if i := strings.LastIndex(stamp, "."); i >= 0 {
		stamp = stamp[i+1:]
	}
	t, err := time.Parse("20060102150405", stamp)
	if err != nil || len(rev) != 12 || strings.Trim(rev, "0123456789abcdef") != "" {
		return "", "", false
	}
	return rev, t.UTC().Format(time.RFC3339), true
}

// String is the human form of the version command and --version, e.g.
//
//	scim-rotator v1.2.3 (abcdef123456, 2026-12-07T21:00:00Z) go1.26.8 linux/amd64
//	scim-rotator devel (abcdef123456, 2026-12-07T21:00:00Z, +dirty) go1.26.8 linux/amd64
//
// The parentheses list what is known of the source: the revision's first 12
// characters, its time, +dirty.
func (i Info) String() string {
	var src []string
	if r := i.Revision; r != "" {
		src = append(src, r[:min(12, len(r))])
	}
	if i.Time != "" {
		src = append(src, i.Time)
	}
	if i.Dirty {
		src = append(src, "+dirty")
	}
	s := "scim-rotator " + i.Version
	if len(src) > 0 {
		s += " (" + strings.Join(src, ", ") + ")"
	}
	return fmt.Sprintf("%s %s %s", s, i.Go, i.Platform)
}
