package okta

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/okta/okta-sdk-golang/v2/okta"

	"github.com/scim-rotator/scim-rotator/rotator"
)

// APIError is an error answer from Okta: its HTTP status, errorCode (E0000001,
// E0000006, ...) and errorSummary, with the causes it gave.
type APIError struct {
	Op      string
	Status  int
	Code    string
	Summary string
	Causes  []string
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: okta answered HTTP %d", e.Op, e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Summary != "" {
		b.WriteString(": " + e.Summary)
	}
	if len(e.Causes) > 0 {
		b.WriteString(" (" + strings.Join(e.Causes, "; ") + ")")
	}
	return b.String()
}

// ThrottledError is Okta's 429 (E0000047) after the target gave up waiting.
type ThrottledError struct {
	Op string
	// Reset is when Okta said the limit resets (zero if it did not say).
	Reset time.Time
}

func (e *ThrottledError) Error() string {
	s := e.Op + ": okta rate limit exceeded (HTTP 429 E0000047)"
	if !e.Reset.IsZero() {
		s += "; it resets at " + e.Reset.UTC().Format(time.RFC3339)
	}
	return s
}

// statusOf returns the HTTP status of an Okta error answer, or 0.
func statusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	var te *ThrottledError
	if errors.As(err, &te) {
		return http.StatusTooManyRequests
	}
	return 0
}

// codeOf returns Okta's errorCode of an error answer, or "".
func codeOf(err error) string {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// wrapErr turns what the SDK returned into an *APIError (marked transient
// for 5xx) or a transient network error. secret, when set, is scrubbed from
// the text: Okta is not known to echo a token, but an error must never carry
// one.
func wrapErr(op string, resp *okta.Response, err error, secret rotator.Secret) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var oe *okta.Error
	if errors.As(err, &oe) {
		ae := &APIError{Op: op, Code: oe.ErrorCode, Summary: scrub(oe.ErrorSummary, secret)}
		if ae.Code == "" {
			ae.Code = oe.ErrorMessage // OAuth errors: invalid_client, invalid_scope, ...
		}
		if ae.Summary == "" {
			ae.Summary = scrub(oe.ErrorDescription, secret)
		}
		if resp != nil && resp.Response != nil {
			ae.Status = resp.StatusCode
		}
		for _, c := range oe.ErrorCauses {
			for k, v := range c {
				ae.Causes = append(ae.Causes, scrub(fmt.Sprintf("%s: %v", k, v), secret))
			}
		}
		if ae.Status >= 500 {
			return rotator.Transient(ae)
		}
		return ae
	}
	// Network errors, timeouts, undecodable answers: worth another try.
	return rotator.Transient(fmt.Errorf("%s: %s", op, scrub(err.Error(), secret)))
}

func scrub(s string, secret rotator.Secret) string {
	if v := secret.Reveal(); v != "" && strings.Contains(s, v) {
		return strings.ReplaceAll(s, v, "[redacted]")
	}
	return s
}
