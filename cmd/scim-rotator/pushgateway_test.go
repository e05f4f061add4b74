package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
)

// fakePushgateway records every push, decoded from the format it was sent in.
type fakePushgateway struct {
	*httptest.Server
	t      *testing.T
	mu     sync.Mutex
	groups []map[string]*dto.MetricFamily
}

func newFakePushgateway(t *testing.T) *fakePushgateway {
	t.Helper()
	return startFakePushgateway(t, httptest.NewServer)
}

// startFakePushgateway is newFakePushgateway served by start
// (httptest.NewTLSServer: over TLS, with the sandbox's certificate).
func startFakePushgateway(t *testing.T, start func(http.Handler) *httptest.Server) *fakePushgateway {
	t.Helper()
	pg := &fakePushgateway{t: t}
	pg.Server = start(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		dec := expfmt.NewDecoder(bytes.NewReader(b), expfmt.ResponseFormat(http.Header{"Content-Type": r.Header.Values("Content-Type")}))
		group := map[string]*dto.MetricFamily{}
		for {
			mf := &dto.MetricFamily{}
			if err := dec.Decode(mf); err == io.EOF {
				break
			} else if err != nil {
				t.Errorf("push is not in the exposition format: %v", err)
				break
			}
			group[mf.GetName()] = mf
		}
		pg.mu.Lock()
		pg.groups = append(pg.groups, group)
		pg.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(pg.Close)
	return pg
}

func (pg *fakePushgateway) pushes() []map[string]*dto.MetricFamily {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	return slices.Clone(pg.groups)
}

// gaugesByLabel is each gauge of the family name in a push, keyed by its label's value.
func gaugesByLabel(group map[string]*dto.MetricFamily, name, label string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range group[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				out[l.GetValue()] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

// series is each gauge of the family name in a push as the exposition
// format writes it: name{label="value",...} value.
func series(group map[string]*dto.MetricFamily, name string) []string {
	var out []string
	for _, m := range group[name].GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetName()+"="+strconv.Quote(l.GetValue()))
		}
		out = append(out, name+"{"+strings.Join(ls, ",")+"} "+strconv.FormatFloat(m.GetGauge().GetValue(), 'g', -1, 64))
	}
	return out
}

// A one-shot run pushes with basic auth from metrics.pushgatewayUsername and
// the password file; the password appears in no output.
func TestE2EPushgatewayBasicAuth(t *testing.T) {
	const password = "PGW-LEAKCANARY-pass"
	e := newEnv(t, sandbox.Options{})
	e.sb.SeedLiveToken(340 * 24 * time.Hour)
	var mu sync.Mutex
	var users []string
	pg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		mu.Lock()
		users = append(users, user)
		mu.Unlock()
		if !ok || user != "rotator" || pass != password {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer pg.Close()
	pwFile := filepath.Join(t.TempDir(), "pgw-password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.editConfig("metrics:\n  pushgatewayUrl: " + pg.URL + "\n  pushgatewayUsername: rotator\n  pushgatewayPasswordFile: " + pwFile + "\n")
	code, out, errOut := e.run("rotate")
	if code != 0 || !strings.HasPrefix(out, "Rotated") {
		t.Fatalf("rotate exit %d: %s\n%s", code, out, errOut)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(users) != 1 || users[0] != "rotator" {
		t.Fatalf("pushes with users %q, want one as rotator\n%s", users, errOut)
	}
	if strings.Contains(errOut, "push metrics") {
		t.Errorf("the push failed:\n%s", errOut)
	}
	if strings.Contains(out+errOut, password) {
		t.Error("the Pushgateway password was printed")
	}
}
