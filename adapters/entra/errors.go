package entra

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/scim-rotator/scim-rotator/rotator"
)

// GraphError is a Microsoft Graph call that failed: which call, the HTTP
// status, and Graph's error code and message (from *odataerrors.ODataError).
// Its text never holds a token: the target redacts the value it sent.
type GraphError struct {
	Op      string
	Status  int
	Code    string
	Message string
	// RetryAfter is what Graph asked to wait (429/503), 0 if nothing.
	RetryAfter time.Duration
	err        error
}

func (e *GraphError) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteString(": graph")
	if e.Status != 0 {
		fmt.Fprintf(&b, " %d", e.Status)
	}
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

func (e *GraphError) Unwrap() error { return e.err }

// graphErr turns an SDK error into an error naming the Graph code and
// message, redacting the given token values, and marks it transient or a
// token rejection where that is known. It never calls ODataError.Error,
// which panics on a body without a message.
func graphErr(op string, err error, redact ...string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var done *GraphError
	if errors.As(err, &done) {
		return err // already described and classified
	}
	ge := &GraphError{Op: op}
	var od *odataerrors.ODataError
	var api *abstractions.ApiError
	var auth *azidentity.AuthenticationFailedError
	switch {
	case errors.As(err, &od):
		ge.Status = od.ResponseStatusCode
		if me := od.GetErrorEscaped(); me != nil {
			ge.Code, ge.Message = deref(me.GetCode()), deref(me.GetMessage())
		}
		if h := od.GetResponseHeaders(); h != nil {
			if v := h.Get("Retry-After"); len(v) > 0 {
				ge.RetryAfter = parseRetryAfter(v[0])
			}
		}
	case errors.As(err, &api):
		// An error answer that is not an OData body (a proxy's HTML page).
		ge.Status, ge.Message = api.ResponseStatusCode, api.Message
	default:
		// Transport errors, token acquisition failures, decoding errors.
		ge.Message = err.Error()
	}
	msg := ge.Message
	for _, s := range redact {
		if s != "" {
			ge.Message = strings.ReplaceAll(ge.Message, s, "[redacted]")
		}
	}
	switch {
	case od != nil || api != nil:
		ge.err = errors.New(strings.TrimSpace(ge.Code + " " + ge.Message))
	case msg == ge.Message:
		ge.err = err
	default:
		// The wrapped error holds the value we redacted: keep only our copy.
		ge.err = errors.New(ge.Message)
	}
	switch {
	case isTokenRejection(ge):
		return &rejected{ge}
	case ge.Status == http.StatusTooManyRequests || ge.Status >= 500:
		return rotator.Transient(ge)
	case ge.Status == 0 && !errors.As(err, &auth):
		// No answer at all (connection refused, timeout): worth retrying.
		return rotator.Transient(ge)
	}
	return ge
}

// rejected is a GraphError that also matches rotator.ErrTokenRejected.
type rejected struct{ *GraphError }

func (r *rejected) Unwrap() []error { return []error{r.GraphError, rotator.ErrTokenRejected} }

func parseRetryAfter(v string) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

// retryAfter returns what a failed call asked to wait, 0 if nothing.
func retryAfter(err error) time.Duration {
	var ge *GraphError
	if errors.As(err, &ge) {
		return ge.RetryAfter
	}
	return 0
}

func isStatus(err error, statuses ...int) bool {
	var ge *GraphError
	if !errors.As(err, &ge) {
		return false
	}
	for _, s := range statuses {
		if ge.Status == s {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// INFERRED: how Entra reports that the SCIM endpoint refused a token. Graph
// documents neither the HTTP status of a failed validateCredentials nor the
// codes a quarantine carries; what follows comes from observed portal and
// API messages ("SystemForCrossDomainIdentityManagementCredentialValidation…",
// "…Unauthorized", "HTTP/401 Unauthorized"). Every guess is in this block.
// ---------------------------------------------------------------------------

// credentialWords appear in codes and messages about refused SCIM credentials.
var credentialWords = []string{"credential", "unauthorized", "http/401", "http/403", "forbidden", "secrettoken", "invalidtoken", "authenticat"}

func mentionsCredentials(code, msg string) bool {
	s := strings.ToLower(code + " " + msg)
	for _, w := range credentialWords {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// isTokenRejection reports whether a failed validateCredentials means the
// SCIM endpoint refused the token (as opposed to being unreachable).
func isTokenRejection(ge *GraphError) bool {
	code := strings.ToLower(ge.Code)
	if !strings.Contains(code, "systemforcrossdomainidentitymanagement") {
		return false
	}
	if strings.HasSuffix(code, "credentialvalidationfailure") || strings.HasSuffix(code, "unauthorized") {
		return true
	}
	// "…CredentialValidationUnavailable" is also reported for a 401 seen by
	// the service; only its message tells.
	m := strings.ToLower(ge.Message)
	return strings.Contains(m, "401") || strings.Contains(m, "403") || strings.Contains(m, "unauthorized")
}

// credentialQuarantine reports whether the job is quarantined because the
// SCIM endpoint refused its credentials, the one quarantine a new token
// cures. A job quarantined for anything else (TooManyDeletes, escrow
// thresholds) is left for a human.
func credentialQuarantine(j job) bool {
	if j.Code != "Quarantine" || j.Quarantine == nil {
		return false
	}
	switch j.Quarantine.Reason {
	case "EncounteredQuarantineException", "Unknown", "":
		return mentionsCredentials(j.Quarantine.ErrCode, j.Quarantine.ErrMsg)
	}
	return false
}

// credentialFailure reports whether an execution failed on credentials.
func credentialFailure(e *execution) bool {
	return e != nil && e.State == "Failed" && mentionsCredentials(e.ErrCode, e.ErrMsg)
}
