package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

type stubDaemon struct{ healthy, ready bool }

func (s stubDaemon) Healthy() bool { return s.healthy }
func (s stubDaemon) Ready() bool   { return s.ready }
func (s stubDaemon) NotReady() []string {
	if s.ready {
		return nil
	}
	return []string{"prod"}
}

func TestHealthMux(t *testing.T) {
	tests := []struct {
		d               stubDaemon
		healthz, readyz int
	}{
		{stubDaemon{true, true}, 200, 200},
		{stubDaemon{false, true}, 503, 200}, // a tick overran its bound
		{stubDaemon{true, false}, 200, 503},
	}
	for _, tt := range tests {
		mux := healthMux(tt.d)
		for path, want := range map[string]int{"/healthz": tt.healthz, "/readyz": tt.readyz} {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != want {
				t.Errorf("%+v %s = %d, want %d", tt.d, path, rec.Code, want)
			}
		}
	}
}

func TestListenDefaultsToLoopback(t *testing.T) {
	cmd := (&app{}).runCmd()
	if got := cmd.Flags().Lookup("listen").DefValue; got != "127.0.0.1:8080" {
		t.Errorf("--listen default = %q, want 127.0.0.1:8080", got)
	}
}
