// Package safehttp builds the HTTP clients the adapters send credentials
// with: every one has a timeout, none follows a redirect, and all trust the
// one trust store (Go's roots plus AWS_CA_BUNDLE, see RootCAs).
package safehttp

import (
	"net/http"
	"time"
)

// Client returns a copy of c (nil: a client over Transport, the trust store)
// that never follows a redirect and gives up after timeout, unless c has a
// timeout of its own. c itself is not changed: the sandbox shares one.
//
// A redirect is refused because the request carries a bearer token (or a
// signed request, a webhook path, basic auth): following a Location would
// hand it to wherever the answer points, and net/http keeps the
// Authorization header on a same-host redirect.
func Client(c *http.Client, timeout time.Duration) *http.Client {
	var out http.Client
	if c != nil {
		out = *c
	}
	if out.Transport == nil {
		out.Transport = Transport()
	}
	if out.Timeout <= 0 {
		out.Timeout = timeout
	}
	out.CheckRedirect = NoRedirect
	return &out
}

// NoRedirect is a CheckRedirect that returns the 3xx answer itself, so the
// caller sees it as the failure it is.
func NoRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
