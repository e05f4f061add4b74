// Package safehttptest is a test server that answers every request with a
// redirect, to check that a client carrying a credential does not follow it.
package safehttptest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// Server redirects every request to /elsewhere/<path> with status and counts
// the requests that arrive there.
type Server struct {
	*httptest.Server
	followed atomic.Int32
}

// New starts a redirecting server (TLS when tls; use its Client()), closed
// when the test ends.
func New(t testing.TB, status int, tls bool) *Server {
	s := &Server{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/elsewhere") {
			s.followed.Add(1)
			w.WriteHeader(http.StatusOK)
			return
		}
		http.Redirect(w, r, "/elsewhere"+r.URL.Path, status)
	})
	if tls {
		s.Server = httptest.NewTLSServer(h)
	} else {
		s.Server = httptest.NewServer(h)
	}
	t.Cleanup(s.Close)
	return s
}

// Followed is how many redirects were followed.
func (s *Server) Followed() int { return int(s.followed.Load()) }
