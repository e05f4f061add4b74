package charts

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The release's tools, pinned as in .ci/tools (TestCIToolPins keeps them in
// step). .ci/run puts the pinned builds first on PATH.
var (
	koTool     = &tool{name: "ko", pkg: "github.com/google/ko@v0.19.1"}
	craneTool  = &tool{name: "crane", pkg: "github.com/google/go-containerregistry/cmd/crane@v0.22.1"}
	cosignTool = &tool{name: "cosign", pkg: "github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5"}
)

// releaseTestEnv turns on TestRelease: it builds the image for two platforms
// and the release's tools (several minutes cold), so `go test ./...` leaves it
// to .ci/run, which runs it on its own.
const releaseTestEnv = "SCIM_ROTATOR_RELEASE_TEST"

// TestReleaseBadInput: .ci/release refuses bad input with exit 2, naming the
// cause, before it builds or pushes anything.
func TestReleaseBadInput(t *testing.T) {
	tree := releaseTree(t)
	ok := []string{"REGISTRY=127.0.0.1:1", "COSIGN_KEY=" + filepath.Join(tree, "no.key")}
	for _, tc := range []struct {
		name  string
		args  []string
		env   []string
		dirty bool
		want  string
	}{
		{"no registry", []string{"0.1.0"}, []string{"COSIGN_KEY=x.key"}, false, "REGISTRY is not set"},
		{"not semver", []string{"0.1"}, ok, false, "'0.1' is not a semantic version"},
		{"build metadata", []string{"0.1.0+abc"}, ok, false, "is not a semantic version"},
		{"leading zero", []string{"01.1.0"}, ok, false, "is not a semantic version"},
		{"no key", []string{"0.1.0"}, ok[:1], false, "COSIGN_KEY is not set"},
		{"dirty tree", []string{"0.1.0"}, ok, true, "the working tree is dirty"},
		{"no version", nil, ok, false, "usage: .ci/release"},
		{"two versions", []string{"0.1.0", "0.2.0"}, ok, false, "usage: .ci/release"},
		{"unknown flag", []string{"--sign", "0.1.0"}, ok, false, "usage: .ci/release"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.dirty {
				p := filepath.Join(tree, "README.md")
				orig, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = os.WriteFile(p, orig, 0o644) })
				if err := os.WriteFile(p, append(orig, "x\n"...), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.CommandContext(t.Context(), filepath.Join(tree, ".ci", "release"), tc.args...)
			// PATH without the tools: a refusal must come before any is needed.
			cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}, tc.env...)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("exit: %v, want 2\n%s", err, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("output does not say %q:\n%s", tc.want, out)
			}
			if strings.Contains(string(out), "building") {
				t.Errorf("a refused release started building:\n%s", out)
			}
		})
	}
}

// TestRelease runs .ci/release as a release does, against a registry on
// 127.0.0.1 and a base image made here (no registry here serves distroless),
// then checks what a user installs: the image for both platforms, its user
// and contents, the binary's version, the SBOM, the signature, the
// reproducibility of the build and the chart from OCI pinning the image by
// digest. A release that fails after pushing the image pushes no chart.
func TestRelease(t *testing.T) {
	if os.Getenv(releaseTestEnv) == "" {
		t.Skipf("set %s=1 to build and verify a release against a local registry (.ci/run does)", releaseTestEnv)
	}
	const version = "v0.0.0-test.1"
	ko, crane, cosign := koTool.get(t), craneTool.get(t), cosignTool.get(t)
	_ = helm(t)
	registry := serveRegistry(t, crane)
	base := pushBase(t, crane, registry)
	keys := t.TempDir()
	for _, k := range []string{"release", "other"} {
		run(t, []string{"COSIGN_PASSWORD=test"}, cosign, "generate-key-pair", "--output-key-prefix", filepath.Join(keys, k))
	}
	tree := releaseTree(t)
	env := []string{
		"REGISTRY=" + registry, "BASE_IMAGE=" + base,
		"COSIGN_KEY=" + filepath.Join(keys, "release.key"), "COSIGN_PASSWORD=test",
		// Nothing here reaches the public transparency log.
		"COSIGN_TLOG_UPLOAD=false",
		"PATH=" + strings.Join([]string{filepath.Dir(ko), filepath.Dir(crane), filepath.Dir(cosign), filepath.Dir(helm(t)), os.Getenv("PATH")}, string(os.PathListSeparator)),
	}
	out := run(t, env, filepath.Join(tree, ".ci", "release"), version)
	got := releaseLines(t, out)
	image := got["image"]
	digest := image[strings.LastIndex(image, "@")+1:]
	repo := registry + "/scim-rotator"
	if image != repo+"@"+digest || !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("image %q, want %s@sha256:...", image, repo)
	}
	if want := repo + ":" + strings.Replace(digest, ":", "-", 1) + ".sig"; got["signature"] != want {
		t.Errorf("signature %q, want %q", got["signature"], want)
	}

	t.Run("index lists both platforms", func(t *testing.T) {
		var index struct {
			Manifests []struct {
				Platform struct{ OS, Architecture string }
			}
		}
		decodeJSON(t, run(t, nil, crane, "manifest", image), &index)
		var platforms []string
		for _, m := range index.Manifests {
			platforms = append(platforms, m.Platform.OS+"/"+m.Platform.Architecture)
		}
		if strings.Join(platforms, ",") != "linux/amd64,linux/arm64" {
			t.Errorf("platforms %v, want linux/amd64 and linux/arm64", platforms)
		}
		for _, p := range []string{"linux/amd64", "linux/arm64"} {
			if d := strings.TrimSpace(run(t, nil, crane, "digest", "--platform", p, image)); got["image-"+p] != repo+"@"+d {
				t.Errorf("release printed %s %q, the index has %s", p, got["image-"+p], d)
			}
		}
	})

	var binary string
	binDir := t.TempDir() // outlives the subtest that fills it
	t.Run("amd64 image: user, entrypoint, no shell", func(t *testing.T) {
		var cfg struct {
			Config struct {
				User       string
				Entrypoint []string
			}
		}
		decodeJSON(t, run(t, nil, crane, "config", "--platform", "linux/amd64", image), &cfg)
		if cfg.Config.User != "65532:65532" {
			t.Errorf("user %q, want 65532:65532", cfg.Config.User)
		}
		if len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != "/ko-app/scim-rotator" {
			t.Errorf("entrypoint %q, want the binary alone (the chart passes only args)", cfg.Config.Entrypoint)
		}
		binary = exportImage(t, crane, image, cfg.Config.Entrypoint, binDir)
	})

	t.Run("the binary says the version", func(t *testing.T) {
		if binary == "" {
			t.Skip("no binary exported")
		}
		if out := run(t, nil, binary, "version"); !strings.Contains(out, "scim-rotator "+version+" ") {
			t.Errorf("version printed %q, want %s", out, version)
		}
		var v struct {
			Version, Revision string
			Dirty             bool
		}
		decodeJSON(t, run(t, nil, binary, "version", "-o", "json"), &v)
		head := strings.TrimSpace(run(t, nil, "git", "-C", tree, "rev-parse", "HEAD"))
		if v.Version != version || v.Revision != head || v.Dirty {
			t.Errorf("version -o json: %+v, want version %s, revision %s, clean", v, version, head)
		}
	})

	t.Run("SBOM attached", func(t *testing.T) {
		if want := repo + ":" + strings.Replace(digest, ":", "-", 1) + ".sbom"; got["sbom"] != want {
			t.Errorf("sbom %q, want %q", got["sbom"], want)
		}
		amd64 := got["image-linux/amd64"]
		sbom := got["sbom-linux/amd64"]
		if want := repo + ":" + strings.Replace(amd64[strings.LastIndex(amd64, "@")+1:], ":", "-", 1) + ".sbom"; sbom != want {
			t.Fatalf("amd64 sbom %q, want %q", sbom, want)
		}
		var m struct {
			Layers []struct{ Digest, MediaType string }
		}
		decodeJSON(t, run(t, nil, crane, "manifest", sbom), &m)
		if len(m.Layers) != 1 || !strings.Contains(m.Layers[0].MediaType, "spdx") {
			t.Fatalf("sbom manifest layers %+v, want one SPDX document", m.Layers)
		}
		doc := run(t, nil, crane, "blob", repo+"@"+m.Layers[0].Digest)
		if !strings.Contains(doc, "github.com/aws/aws-sdk-go-v2/service/secretsmanager") {
			t.Errorf("the SBOM does not name github.com/aws/aws-sdk-go-v2/service/secretsmanager:\n%.500s", doc)
		}
		// The README's way to read it.
		if got := run(t, nil, cosign, "download", "sbom", "--platform", "linux/amd64", image); got != doc {
			t.Errorf("cosign download sbom --platform linux/amd64 gave another document:\n%.300s", got)
		}
	})

	t.Run("signature", func(t *testing.T) {
		verify := func(key string) (string, error) {
			return runErr(nil, cosign, "verify", "--key", filepath.Join(keys, key+".pub"), "--insecure-ignore-tlog=true", image)
		}
		if out, err := verify("release"); err != nil {
			t.Errorf("cosign verify with the release key: %v\n%s", err, out)
		}
		if out, err := verify("other"); err == nil {
			t.Errorf("cosign verify with another key passed:\n%s", out)
		}
	})

	t.Run("Lambda zips: one executable bootstrap, the release's version", func(t *testing.T) {
		checkLambdaZips(t, tree, got, version)
	})

	t.Run("same commit, same digest", func(t *testing.T) {
		again := releaseLines(t, run(t, env, filepath.Join(tree, ".ci", "release"), version))
		// The zips' SHA-256 too: byte-identical bytes from the same commit.
		for _, k := range []string{"image", "chart", "lambda-linux/arm64", "lambda-linux/amd64"} {
			if again[k] != got[k] {
				t.Errorf("second build's %s %s, first %s", k, again[k], got[k])
			}
		}
	})

	t.Run("chart from OCI pins the image", func(t *testing.T) {
		dir := t.TempDir()
		chartRef := "oci://" + registry + "/charts/scim-rotator"
		if !strings.HasPrefix(got["chart"], chartRef+":"+version+"@sha256:") {
			t.Errorf("chart %q, want %s:%s@sha256:...", got["chart"], chartRef, version)
		}
		if _, err := runHelm(t, "pull", chartRef, "--version", version, "--plain-http", "-d", dir); err != nil {
			t.Fatal(err)
		}
		// The README pins the chart by the reference the release printed.
		if _, err := runHelm(t, "pull", got["chart"], "--plain-http", "-d", t.TempDir()); err != nil {
			t.Errorf("helm pull %s: %v", got["chart"], err)
		}
		tgz := filepath.Join(dir, "scim-rotator-"+version+".tgz")
		show, err := runHelm(t, "show", "chart", tgz)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"version: " + version, "appVersion: " + version} {
			if !strings.Contains(show, want) {
				t.Errorf("Chart.yaml lacks %q:\n%s", want, show)
			}
		}
		manifests, err := runHelm(t, "template", "scim-rotator", tgz, "-f", filepath.Join(chartDir, "ci", "cronjob-values.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(manifests, "image: "+image+"\n"); n == 0 {
			t.Errorf("helm template does not run %s:\n%s", image, grepLines(manifests, "image:"))
		}
		if n := strings.Count(manifests, "image: "); n != strings.Count(manifests, "image: "+image+"\n") {
			t.Errorf("an image other than %s is rendered:\n%s", image, grepLines(manifests, "image:"))
		}
	})

	t.Run("--no-sign: no signature", func(t *testing.T) {
		unsigned := append(env[:len(env):len(env)], "COSIGN_KEY=")
		out := run(t, unsigned, filepath.Join(tree, ".ci", "release"), "--no-sign", "v0.0.0-test.3")
		if strings.Contains(out, "signature ") || !strings.Contains(out, "chart oci://"+registry+"/charts/scim-rotator:v0.0.0-test.3@") {
			t.Errorf("release --no-sign printed:\n%s", out)
		}
	})

	t.Run("a failed signature pushes no chart", func(t *testing.T) {
		bad := append(env[:len(env):len(env)], "COSIGN_PASSWORD=wrong")
		if out, err := runErr(bad, filepath.Join(tree, ".ci", "release"), "v0.0.0-test.2"); err == nil {
			t.Fatalf("release with a key it cannot open passed:\n%s", out)
		}
		tags := run(t, nil, crane, "ls", registry+"/charts/scim-rotator")
		if strings.Contains(tags, "test.2") {
			t.Errorf("a chart was pushed for a release whose signing failed: %s", tags)
		}
	})
}

// releaseTree is a git repository holding the working tree's files (tracked
// and untracked, not ignored) in one commit dated as HEAD, so .ci/release,
// which builds only clean trees, builds what is being tested.
func releaseTree(t *testing.T) string {
	t.Helper()
	top := strings.TrimSpace(run(t, nil, "git", "-C", chartDir, "rev-parse", "--show-toplevel"))
	date := strings.TrimSpace(run(t, nil, "git", "-C", top, "log", "-1", "--format=%cI"))
	files := run(t, nil, "git", "-C", top, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	dst := t.TempDir()
	for _, f := range strings.Split(strings.TrimRight(files, "\x00"), "\x00") {
		fi, err := os.Lstat(filepath.Join(top, f))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the working tree
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(top, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"GIT_AUTHOR_DATE=" + date, "GIT_COMMITTER_DATE=" + date,
		"GIT_AUTHOR_NAME=release test", "GIT_AUTHOR_EMAIL=release@test.invalid",
		"GIT_COMMITTER_NAME=release test", "GIT_COMMITTER_EMAIL=release@test.invalid"}
	run(t, env, "git", "-C", dst, "init", "-q")
	run(t, env, "git", "-C", dst, "add", "-A")
	run(t, env, "git", "-C", dst, "commit", "-q", "-m", "release test")
	return dst
}

// serveRegistry starts `crane registry serve` on a free loopback port and
// returns its host:port; the registry stops with the test.
func serveRegistry(t *testing.T, crane string) string {
	t.Helper()
	cmd := exec.Command(crane, "registry", "serve", "--address", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	port := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`serving on port (\d+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				port <- m[1]
			}
		}
	}()
	select {
	case p := <-port:
		return "127.0.0.1:" + p
	case <-time.After(30 * time.Second):
		t.Fatal("crane registry serve printed no port in 30 s")
		return ""
	}
}

// pushBase makes the stand-in for distroless/static:nonroot and pushes it
// for both platforms: one layer with Debian's CA bundle, tzdata, /etc/passwd
// and /etc/group with nonroot (65532) and a 1777 /tmp; user 65532:65532.
func pushBase(t *testing.T, crane, registry string) string {
	t.Helper()
	layer := filepath.Join(t.TempDir(), "base.tar")
	writeBaseLayer(t, layer)
	ref := registry + "/base"
	var platforms []string
	for _, arch := range []string{"amd64", "arm64"} {
		tag := ref + ":" + arch
		run(t, nil, crane, "append", "--oci-empty-base", "-f", layer, "-t", tag)
		run(t, nil, crane, "mutate", "--set-platform", "linux/"+arch, "--user", "65532:65532", "-t", tag, tag)
		platforms = append(platforms, "-m", tag)
	}
	run(t, nil, crane, append([]string{"index", "append", "-t", ref + ":nonroot"}, platforms...)...)
	return ref + "@" + strings.TrimSpace(run(t, nil, crane, "digest", ref+":nonroot"))
}

func writeBaseLayer(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	epoch := time.Unix(0, 0)
	add := func(name string, mode int64, typ byte, body []byte) {
		h := &tar.Header{Name: name, Mode: mode, Typeflag: typ, Size: int64(len(body)), ModTime: epoch, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	dir := func(name string, mode int64) { add(name, mode, tar.TypeDir, nil) }
	for _, d := range []string{"etc/", "etc/ssl/", "etc/ssl/certs/", "home/", "usr/", "usr/share/"} {
		dir(d, 0o755)
	}
	dir("home/nonroot/", 0o700)
	dir("tmp/", 0o1777)
	add("etc/passwd", 0o644, tar.TypeReg, []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"))
	add("etc/group", 0o644, tar.TypeReg, []byte("root:x:0:\nnonroot:x:65532:\n"))
	ca, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Fatalf("Debian's CA bundle (apt-get install ca-certificates): %v", err)
	}
	add("etc/ssl/certs/ca-certificates.crt", 0o644, tar.TypeReg, ca)
	zi := "/usr/share/zoneinfo"
	err = filepath.WalkDir(zi, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := "usr/share/zoneinfo" + strings.TrimPrefix(p, zi)
		switch {
		case d.IsDir():
			dir(name+"/", 0o755)
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			add(name, 0o644, tar.TypeReg, b)
		}
		return nil // tzdata's symlinks are left out: Go reads the regular files
	})
	if err != nil {
		t.Fatalf("tzdata (apt-get install tzdata): %v", err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// exportImage flattens the amd64 image's filesystem, fails if it holds a
// shell, and returns the entrypoint binary written into dir.
func exportImage(t *testing.T, crane, image string, entrypoint []string, dir string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), crane, "export", "--platform", "linux/amd64", image, "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	want := strings.TrimPrefix(entrypoint[0], "/")
	bin := filepath.Join(dir, "scim-rotator")
	found := false
	tr := tar.NewReader(stdout)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("crane export: %v\n%s", err, stderr.String())
		}
		name := strings.TrimLeft(h.Name, "./")
		switch filepath.Base(name) {
		case "sh", "bash", "ash", "dash", "busybox":
			t.Errorf("the image holds a shell: /%s", name)
		}
		if name == want {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(bin, b, 0o755); err != nil {
				t.Fatal(err)
			}
			found = true
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("crane export: %v\n%s", err, stderr.String())
	}
	if !found {
		t.Fatalf("the image has no %s", entrypoint[0])
	}
	return bin
}

// releaseLines reads .ci/release's summary ("KIND REF" a line) into a map.
func releaseLines(t *testing.T, out string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(l, " "); ok {
			got[k] = v
		}
	}
	for _, k := range []string{"image", "image-linux/amd64", "image-linux/arm64", "sbom", "sbom-linux/amd64", "sbom-linux/arm64", "chart",
		"lambda-linux/arm64", "lambda-linux/amd64"} {
		if got[k] == "" {
			t.Fatalf("release printed no %q line:\n%s", k, out)
		}
	}
	return got
}

// run runs name with args (env added to the test's environment) and returns
// its stdout, failing the test with stderr when it fails.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	out, err := runErr(env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return out
}

// runErr runs name and returns its stdout, or on failure stdout and stderr.
func runErr(env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%v in %.300s", err, s)
	}
}

func grepLines(s, sub string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			fmt.Fprintln(&b, l)
		}
	}
	return b.String()
}

// TestCIToolPins keeps the tools the tests install in step with the ones
// .ci/tools pins for CI and the release: CI puts those first on PATH, so a
// test pinning another version would quietly test with CI's.
func TestCIToolPins(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", ".ci", "tools"))
	if err != nil {
		t.Fatal(err)
	}
	pkgs, tags, ok := strings.Cut(string(b), "declare -A TOOL_TAGS")
	if !ok {
		t.Fatal(".ci/tools declares no TOOL_TAGS")
	}
	pins := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s*\[([a-z-]+)\]=(\S+)$`).FindAllStringSubmatch(pkgs, -1) {
		pins[m[1]] = m[2]
	}
	for _, tl := range []*tool{helmTool, promtoolTool, koTool, craneTool, cosignTool, helmDocsTool} {
		if pins[tl.name] != tl.pkg {
			t.Errorf(".ci/tools pins %s to %q, the tests to %q", tl.name, pins[tl.name], tl.pkg)
		}
	}
	if !strings.Contains(tags, "[promtool]="+promtoolTags+"\n") {
		t.Errorf(".ci/tools does not build promtool with -tags %s", promtoolTags)
	}
}

var helmDocsTool = &tool{name: "helm-docs", pkg: "github.com/norwoodj/helm-docs/cmd/helm-docs@v1.14.2"}

// TestChartREADMEGenerated: the chart's README is what helm-docs makes of
// README.md.gotmpl and values.yaml's comments, so the values table cannot
// fall behind values.yaml.
func TestChartREADMEGenerated(t *testing.T) {
	out := run(t, nil, helmDocsTool.get(t), "--chart-search-root", ".", "--chart-to-generate", chartDir,
		"--template-files", "README.md.gotmpl", "--dry-run", "--log-level", "error")
	have, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if out != string(have) {
		t.Errorf("%s/README.md is not what helm-docs generates: run\n  helm-docs --chart-search-root charts --template-files README.md.gotmpl\n(%s)", chartDir, firstDiff(string(have), out))
	}
}

// firstDiff names the first line where a and b differ.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d: %q, generated %q", i+1, x, y)
		}
	}
	return "they differ"
}

// checkLambdaZips: each zip .ci/release printed exists under tree with the
// SHA-256 it printed (and SHA256SUMS lists), holds exactly one entry, an
// executable regular file bootstrap for its architecture dated at the
// commit, and the one this machine can run says the release's version.
func checkLambdaZips(t *testing.T, tree string, got map[string]string, version string) {
	t.Helper()
	commit := strings.TrimSpace(run(t, nil, "git", "-C", tree, "log", "-1", "--format=%ct"))
	sums, err := os.ReadFile(filepath.Join(tree, "dist", "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"arm64", "amd64"} {
		path, sum, ok := strings.Cut(got["lambda-linux/"+arch], " sha256:")
		if !ok || path != "dist/scim-rotator-lambda-linux-"+arch+".zip" {
			t.Fatalf("lambda-linux/%s %q, want dist/scim-rotator-lambda-linux-%s.zip sha256:...", arch, got["lambda-linux/"+arch], arch)
		}
		b, err := os.ReadFile(filepath.Join(tree, path))
		if err != nil {
			t.Fatal(err)
		}
		if h := fmt.Sprintf("%x", sha256.Sum256(b)); h != sum {
			t.Errorf("%s: SHA-256 %s, the release printed %s", path, h, sum)
		}
		if !strings.Contains(string(sums), sum+"  "+filepath.Base(path)+"\n") {
			t.Errorf("SHA256SUMS does not list %s %s:\n%s", sum, filepath.Base(path), sums)
		}
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" {
			names := []string{}
			for _, f := range zr.File {
				names = append(names, f.Name)
			}
			t.Fatalf("%s holds %q, want bootstrap alone", path, names)
		}
		f := zr.File[0]
		if m := f.Mode(); m != 0o755 {
			t.Errorf("%s: bootstrap mode %v, want -rwxr-xr-x", path, m)
		}
		// A zip's time has 2-second steps.
		if want := time.Unix(mustAtoi(t, commit)/2*2, 0).UTC(); !f.Modified.UTC().Equal(want) {
			t.Errorf("%s: bootstrap dated %s, want the commit's %s", path, f.Modified.UTC(), want)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		bin, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		exe := filepath.Join(t.TempDir(), "bootstrap")
		if err := os.WriteFile(exe, bin, 0o755); err != nil {
			t.Fatal(err)
		}
		ef, err := elf.Open(exe)
		if err != nil {
			t.Fatalf("%s: bootstrap is not an ELF binary: %v", path, err)
		}
		machine := map[string]elf.Machine{"arm64": elf.EM_AARCH64, "amd64": elf.EM_X86_64}[arch]
		if ef.Machine != machine {
			t.Errorf("%s: bootstrap is for %v, want %v", path, ef.Machine, machine)
		}
		ef.Close()
		if arch == runtime.GOARCH {
			if out := run(t, nil, exe, "version"); !strings.Contains(out, "scim-rotator "+version+" ") {
				t.Errorf("%s: ./bootstrap version printed %q, want %s", path, out, version)
			}
		}
	}
}

func mustAtoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
