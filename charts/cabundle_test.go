package charts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// caProbeEnv names the addresses the TestCAProbe subprocess dials (comma-separated); unset, that
// test is only a helper and skips.
const caProbeEnv = "SCIM_ROTATOR_CA_PROBE"

// testCA is a CA that signs one TLS server certificate for 127.0.0.1.
type testCA struct {
	pem    []byte
	server tls.Certificate
}

func newTestCA(t *testing.T, name string) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name + " server"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, caCert, &srvKey.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return testCA{
		pem:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		server: tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey},
	}
}

// serveTLS accepts TLS handshakes on a loopback port with ca's server certificate until the test
// ends, and returns the address.
func serveTLS(t *testing.T, ca testCA) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{ca.server}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				_ = c.(*tls.Conn).Handshake()
			}()
		}
	}()
	return ln.Addr().String()
}

// writeAtomic lays out a ConfigMap or Secret volume as the kubelet's atomic writer does: the
// files in a timestamped directory, ..data pointing at it, and each item a symlink through ..data
// (Go's SSL_CERT_DIR reader skips links within the directory that contain no slash).
func writeAtomic(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	ts := "..2026_01_02_03_04_05.000000001"
	if err := os.MkdirAll(filepath.Join(dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, ts, name), b, 0o444); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(ts, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

// probe runs TestCAProbe in a subprocess with exactly env (as a pod gets it: nothing of this
// machine's, whose SSL_CERT_FILE and SSL_CERT_DIR would hide what the pod does) and returns, per
// address, "ok" or the handshake's error.
func probe(t *testing.T, env []string, addrs ...string) map[string]string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCAProbe$", "-test.v")
	cmd.Env = append(env, caProbeEnv+"="+strings.Join(addrs, ","))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("probe: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "probe "); ok {
			addr, result, _ := strings.Cut(rest, " ")
			got[addr] = result
		}
	}
	return got
}

// TestCAProbe is the subprocess of TestCABundleTrust: it dials each address with Go's default TLS
// configuration, whose roots are the system pool (crypto/x509 reads SSL_CERT_FILE or its default
// files, then every directory of SSL_CERT_DIR, once per process).
func TestCAProbe(t *testing.T) {
	addrs := os.Getenv(caProbeEnv)
	if addrs == "" {
		t.Skip("the subprocess of TestCABundleTrust")
	}
	for _, addr := range strings.Split(addrs, ",") {
		c, err := tls.Dial("tcp", addr, &tls.Config{})
		result := "ok"
		if err != nil {
			result = strings.ReplaceAll(err.Error(), "\n", " ")
		} else {
			c.Close()
		}
		fmt.Printf("probe %s %s\n", addr, result)
	}
}

// podOf renders the chart with set and returns its (first) CronJob's container and volumes.
func podOf(t *testing.T, set ...string) (corev1.Container, map[string]corev1.Volume) {
	t.Helper()
	m := renderVariant(t, valuesArgs("", set...), set, 1)
	spec := m.cronJobs[0].Spec.JobTemplate.Spec.Template.Spec
	vols := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		vols[v.Name] = v
	}
	return spec.Containers[0], vols
}

// TestCABundleTrust: a chart with caBundle whose pod trusts both the system roots and the private
// CA. The pod's environment and mounts, as rendered, are reproduced under a temporary root: the
// image's system bundle (distroless keeps it at /etc/ssl/certs/ca-certificates.crt) holding a
// "public" CA, and the CA ConfigMap laid out as the kubelet does, with a key the chart does not
// pick. A subprocess with the rendered environment (paths mapped to that root) then handshakes
// with a server signed by each CA, and with one no root knows.
func TestCABundleTrust(t *testing.T) {
	system, private, stranger := newTestCA(t, "public root"), newTestCA(t, "corp proxy CA"), newTestCA(t, "stranger")
	systemAddr, privateAddr, strangerAddr := serveTLS(t, system), serveTLS(t, private), serveTLS(t, stranger)

	c, vols := podOf(t, "caBundle.configMap.name=corp-ca", "caBundle.configMap.key=corp-ca.pem")
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env[e.Name] = e.Value
		}
	}
	if _, ok := env["SSL_CERT_FILE"]; ok {
		t.Fatalf("the pod sets SSL_CERT_FILE=%q: the system bundle must stay Go's default", env["SSL_CERT_FILE"])
	}
	dirs := strings.Split(env["SSL_CERT_DIR"], ":")
	if len(dirs) != 2 || dirs[0] != "/etc/ssl/certs" {
		t.Fatalf("SSL_CERT_DIR = %q, want the image's /etc/ssl/certs and then the CA's directory", env["SSL_CERT_DIR"])
	}

	root := t.TempDir()
	var caMounted bool
	for _, dir := range dirs {
		mapped := filepath.Join(root, dir)
		var mount *corev1.VolumeMount
		for i, vm := range c.VolumeMounts {
			if vm.MountPath == dir {
				mount = &c.VolumeMounts[i]
			}
		}
		if mount == nil {
			// A directory of the image: its system bundle.
			if err := os.MkdirAll(mapped, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(mapped, "ca-certificates.crt"), system.pem, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		vol := vols[mount.Name]
		if vol.ConfigMap == nil || vol.ConfigMap.Name != "corp-ca" || !mount.ReadOnly || mount.SubPath != "" {
			t.Fatalf("%s is mounted from %s (read-only %v, subPath %q), want the whole ConfigMap corp-ca read-only", dir, js(vol), mount.ReadOnly, mount.SubPath)
		}
		// The ConfigMap's data; only the items the chart picks are mounted.
		data := map[string][]byte{"corp-ca.pem": private.pem, "other.pem": stranger.pem}
		files := map[string][]byte{}
		for _, it := range vol.ConfigMap.Items {
			files[it.Path] = data[it.Key]
		}
		if len(files) != 1 || files["ca.crt"] == nil {
			t.Fatalf("items %s, want the key corp-ca.pem as ca.crt", js(vol.ConfigMap.Items))
		}
		writeAtomic(t, mapped, files)
		caMounted = true
	}
	if !caMounted {
		t.Fatalf("no directory of SSL_CERT_DIR %q is the CA's mount (mounts %s)", env["SSL_CERT_DIR"], js(c.VolumeMounts))
	}

	var podEnv []string
	for k, v := range env {
		if k == "SSL_CERT_DIR" {
			var mapped []string
			for _, d := range dirs {
				mapped = append(mapped, filepath.Join(root, d))
			}
			v = strings.Join(mapped, ":")
		}
		podEnv = append(podEnv, k+"="+v)
	}
	got := probe(t, podEnv, systemAddr, privateAddr, strangerAddr)
	if got[systemAddr] != "ok" {
		t.Errorf("a server signed by a system root: %s", got[systemAddr])
	}
	if got[privateAddr] != "ok" {
		t.Errorf("a server signed by the private CA: %s", got[privateAddr])
	}
	if !strings.Contains(got[strangerAddr], "certificate signed by unknown authority") {
		t.Errorf("a server signed by a CA nobody added: %q, want unknown authority", got[strangerAddr])
	}

	// Without caBundle the same pod trusts no private CA: what the test sees is the chart's doing.
	c, _ = podOf(t)
	var plain []string
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			plain = append(plain, e.Name+"="+e.Value)
		}
		if e.Name == "SSL_CERT_DIR" {
			t.Errorf("SSL_CERT_DIR is set without caBundle: %q", e.Value)
		}
	}
	if got := probe(t, plain, privateAddr); !strings.Contains(got[privateAddr], "unknown authority") {
		t.Errorf("without caBundle, a server signed by the private CA: %q, want unknown authority", got[privateAddr])
	}
}

// TestCABundleVariants: the CA from a Secret, and a different directory, in both modes and in the
// one-off commands' pods (the rotator's pod template, env and volumes).
func TestCABundleVariants(t *testing.T) {
	c, vols := podOf(t, "caBundle.secret.name=corp-ca", "caBundle.secret.key=ca.pem", "caBundle.mountPath=/etc/corp-ca", "caBundle.systemCertDir=/etc/ssl/certs:/etc/pki/tls/certs")
	v := vols["ca-bundle"]
	if v.Secret == nil || v.Secret.SecretName != "corp-ca" || len(v.Secret.Items) != 1 || v.Secret.Items[0].Key != "ca.pem" {
		t.Errorf("ca-bundle volume %s, want the Secret corp-ca's key ca.pem", js(v))
	}
	var dir string
	for _, e := range c.Env {
		if e.Name == "SSL_CERT_DIR" {
			dir = e.Value
		}
	}
	if dir != "/etc/ssl/certs:/etc/pki/tls/certs:/etc/corp-ca" {
		t.Errorf("SSL_CERT_DIR = %q", dir)
	}
	m := renderVariant(t, valuesArgs("", "mode=deployment", "caBundle.configMap.name=corp-ca", "caBundle.configMap.key=ca.crt"), []string{"mode=deployment"}, 0)
	spec := m.deployments[0].Spec.Template.Spec
	if !strings.Contains(js(spec.Containers[0].Env), "SSL_CERT_DIR") || !strings.Contains(js(spec.Volumes), "corp-ca") {
		t.Errorf("deployment pod lacks the CA: env %s volumes %s", js(spec.Containers[0].Env), js(spec.Volumes))
	}
	// The one-off commands' pods (NOTES) are the rotator's: the CA too, the stage pod included.
	m = renderVariant(t, valuesArgs("", "caBundle.configMap.name=corp-ca", "caBundle.configMap.key=ca.crt"), nil, 1)
	n := 0
	for _, cj := range m.oneOffs {
		spec := cj.Spec.JobTemplate.Spec.Template.Spec
		if strings.Contains(js(spec.Containers[0].Env), `"name":"SSL_CERT_DIR"`) && strings.Contains(js(spec.Volumes), "corp-ca") {
			n++
		}
	}
	if n != len(oneOffCommands) || len(m.oneOffs) != len(oneOffCommands) {
		t.Errorf("%d of the %d one-off CronJobs' pods get the CA, want %d", n, len(m.oneOffs), len(oneOffCommands))
	}
}

// TestCABundleRejects: one source, a key, and a directory of its own.
func TestCABundleRejects(t *testing.T) {
	ca := []string{"caBundle.configMap.name=corp-ca", "caBundle.configMap.key=ca.crt"}
	checkRejects(t, []rejectCase{
		{"both sources", append(ca, "caBundle.secret.name=s", "caBundle.secret.key=k"), "set configMap or secret, not both"},
		{"no key", []string{"caBundle.configMap.name=corp-ca"}, "key"},
		{"inside the config mount", append(ca, "caBundle.mountPath=/etc/scim-rotator/ca"), "overlaps /etc/scim-rotator"},
		{"over the system certificates", append(ca, "caBundle.mountPath=/etc/ssl/certs"), "overlaps /etc/ssl/certs"},
		{"inside the secret files", append(ca, "existingSecret=s", "secretFiles.enabled=true", "caBundle.mountPath=/var/run/secrets/scim-rotator/ca"), "overlaps /var/run/secrets/scim-rotator"},
		{"SSL_CERT_DIR in extraEnv", append(ca, "extraEnv[0].name=SSL_CERT_DIR", "extraEnv[0].value=/x"), "extraEnv sets SSL_CERT_DIR"},
		{"relative directory", append(ca, "caBundle.mountPath=ca"), "mountPath"},
	})
}

// caBundleValues are the caBundle values the render checks compare against.
type caBundleValues struct {
	ConfigMap     struct{ Name, Key string } `json:"configMap"`
	Secret        struct{ Name, Key string } `json:"secret"`
	MountPath     string                     `json:"mountPath"`
	SystemCertDir string                     `json:"systemCertDir"`
}

// source is the ConfigMap or Secret the CA comes from ("" without caBundle).
func (c caBundleValues) source() string {
	if c.ConfigMap.Name != "" {
		return "configMap " + c.ConfigMap.Name + " key " + c.ConfigMap.Key
	}
	if c.Secret.Name != "" {
		return "secret " + c.Secret.Name + " key " + c.Secret.Key
	}
	return ""
}

// checkCAMount checks the CA's volume and mount in a rendered pod against the values: the one key
// picked, read-only, where SSL_CERT_DIR lists it.
func checkCAMount(t *testing.T, vm corev1.VolumeMount, vol corev1.Volume, v values) {
	t.Helper()
	var got string
	var items []corev1.KeyToPath
	switch {
	case vol.ConfigMap != nil:
		got, items = "configMap "+vol.ConfigMap.Name, vol.ConfigMap.Items
	case vol.Secret != nil:
		got, items = "secret "+vol.Secret.SecretName, vol.Secret.Items
	}
	if len(items) == 1 {
		got += " key " + items[0].Key
	}
	if got != v.CABundle.source() || !vm.ReadOnly || vm.MountPath != v.CABundle.MountPath || vm.SubPath != "" {
		t.Errorf("ca-bundle: %s at %s (read-only %v), want %s at %s", got, vm.MountPath, vm.ReadOnly, v.CABundle.source(), v.CABundle.MountPath)
	}
}
