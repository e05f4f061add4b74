package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
)

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
