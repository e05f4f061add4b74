package awsbase

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/scim-rotator/scim-rotator/rotator"
)

// sdkAnswer is err as the SDK returns an error answer: the operation, the
// HTTP response with its status, the service's code and message.
func sdkAnswer(status int, code, msg string) error {
	return &smithy.OperationError{ServiceID: "Secrets Manager", OperationName: "GetSecretValue", Err: &awshttp.ResponseError{
		RequestID: "req-1",
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      &smithy.GenericAPIError{Code: code, Message: msg},
		},
	}}
}

// sdkSendFailure is err as the SDK returns a request that got no answer.
func sdkSendFailure(err error) error {
	return &smithy.OperationError{ServiceID: "Secrets Manager", OperationName: "GetSecretValue",
		Err: &smithyhttp.RequestSendError{Err: &url.Error{Op: "Post", URL: "https://secretsmanager.eu-west-1.amazonaws.com/", Err: err}}}
}

type retryableErr struct{ retry bool }

func (e retryableErr) Error() string        { return "marked by the service" }
func (e retryableErr) RetryableError() bool { return e.retry }

// TestClassify is the rule's table: which failures are transient, which are
// a denial, and the code each carries.
func TestClassify(t *testing.T) {
	dialCancelled := &net.OpError{Op: "dial", Net: "tcp", Err: context.Canceled}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}}
	readTimeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	tests := []struct {
		name      string
		err       error
		transient bool
		denied    bool
		code      string
	}{
		{"nil", nil, false, false, ""},
		{"ThrottlingException", sdkAnswer(400, "ThrottlingException", "Rate exceeded"), true, false, "ThrottlingException"},
		{"TooManyRequestsException", sdkAnswer(429, "TooManyRequestsException", "slow down"), true, false, "TooManyRequestsException"},
		{"Throttling (query protocol)", sdkAnswer(400, "Throttling", "Rate exceeded"), true, false, "Throttling"},
		{"RequestLimitExceeded", sdkAnswer(400, "RequestLimitExceeded", ""), true, false, "RequestLimitExceeded"},
		{"RequestTimeoutException", sdkAnswer(408, "RequestTimeoutException", ""), true, false, "RequestTimeoutException"},
		{"500", sdkAnswer(500, "InternalServiceError", "oops"), true, false, "InternalServiceError"},
		{"502 without a code", sdkAnswer(502, "", ""), true, false, ""},
		{"503", sdkAnswer(503, "ServiceUnavailableException", ""), true, false, "ServiceUnavailableException"},
		{"504", sdkAnswer(504, "", ""), true, false, ""},
		{"501 is no retry", sdkAnswer(501, "NotImplemented", ""), false, false, "NotImplemented"},
		{"AccessDeniedException", sdkAnswer(400, "AccessDeniedException", "User: x is not authorized"), false, true, "AccessDeniedException"},
		{"AccessDenied (query protocol)", sdkAnswer(403, "AccessDenied", "not authorized"), false, true, "AccessDenied"},
		{"KMSAccessDeniedException is the adapter's", sdkAnswer(400, "KMSAccessDeniedException", ""), false, false, "KMSAccessDeniedException"},
		{"UnauthorizedException is the adapter's", sdkAnswer(401, "UnauthorizedException", ""), false, false, "UnauthorizedException"},
		{"ValidationException", sdkAnswer(400, "ValidationException", "bad"), false, false, "ValidationException"},
		{"ResourceNotFoundException", sdkAnswer(400, "ResourceNotFoundException", ""), false, false, "ResourceNotFoundException"},
		{"404 without a code", sdkAnswer(404, "", ""), false, false, ""},
		{"marked retryable by the service", fmt.Errorf("call: %w", retryableErr{true}), true, false, ""},
		{"marked not retryable", fmt.Errorf("call: %w", retryableErr{false}), false, false, ""},
		{"connection refused", sdkSendFailure(&net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}), true, false, ""},
		{"connection reset", sdkSendFailure(reset), true, false, ""},
		{"connection reset, bare", reset, true, false, ""},
		{"read timeout", &url.Error{Op: "Post", URL: "https://x", Err: readTimeout}, true, false, ""},
		{"no such host", &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}, false, false, ""},
		{"context.Canceled", context.Canceled, false, false, ""},
		{"context.Canceled, wrapped", fmt.Errorf("ListBearerTokens: %w", context.Canceled), false, false, ""},
		// A dial cut short by a cancel is a retryable connection error to the
		// SDK: the guard is what keeps it permanent.
		{"dial cancelled", &url.Error{Op: "Post", URL: "https://x", Err: dialCancelled}, false, false, ""},
		{"send cancelled, as the SDK says it", &smithy.OperationError{Err: &smithy.CanceledError{Err: context.Canceled}}, false, false, ""},
		// A deadline is the SDK's: a bare or an HTTP client's timeout is
		// retryable, an operation the SDK ended for its context is not.
		{"context.DeadlineExceeded", context.DeadlineExceeded, true, false, ""},
		{"client timeout", &url.Error{Op: "Post", URL: "https://x", Err: context.DeadlineExceeded}, true, false, ""},
		{"send deadline, as the SDK says it", &smithy.OperationError{Err: &smithy.CanceledError{Err: context.DeadlineExceeded}}, false, false, ""},
		{"plain error", errors.New("encode request: bad"), false, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Transient(tt.err); got != tt.transient {
				t.Errorf("Transient = %v, want %v", got, tt.transient)
			}
			if got := rotator.IsTransient(Mark(tt.err)); got != tt.transient {
				t.Errorf("Mark marked transient: %v, want %v", got, tt.transient)
			}
			if got := Denied(tt.err); got != tt.denied {
				t.Errorf("Denied = %v, want %v", got, tt.denied)
			}
			if got := Code(tt.err); got != tt.code {
				t.Errorf("Code = %q, want %q", got, tt.code)
			}
			w := Wrap("secretsmanager GetSecretValue app/scim", tt.err)
			if tt.err == nil {
				if w != nil {
					t.Fatalf("Wrap(nil) = %v", w)
				}
				return
			}
			if rotator.IsTransient(w) != tt.transient || !errors.Is(w, tt.err) || Code(w) != tt.code {
				t.Errorf("Wrap = %v: transient %v, code %q, keeps the cause %v", w, rotator.IsTransient(w), Code(w), errors.Is(w, tt.err))
			}
		})
	}
}

var errNotAllowed = errors.New("cloudtrail:LookupEvents is not allowed")

// TestWrap: the text an adapter's error has, and what its chain keeps.
func TestWrap(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		adjust []func(*APIError)
		want   string
		kind   bool
	}{
		{"answer", sdkAnswer(400, "ValidationException", "bad stage"), nil, "secretsmanager PutSecretValue app/scim: ValidationException: bad stage", false},
		{"answer, no message", sdkAnswer(500, "InternalServiceError", ""), nil, "secretsmanager PutSecretValue app/scim: InternalServiceError: ", false},
		{"no answer", errors.New("dial tcp: connection refused"), nil, "secretsmanager PutSecretValue app/scim: dial tcp: connection refused", false},
		{"adjusted", sdkAnswer(400, "AccessDeniedException", "User: x is not authorized\nto"), []func(*APIError){func(e *APIError) {
			e.Message = strings.ReplaceAll(e.Message, "\n", " ")
			e.Hint, e.Kind = "allow it with the IAM statement {}", errNotAllowed
		}}, "secretsmanager PutSecretValue app/scim: AccessDeniedException: User: x is not authorized to; allow it with the IAM statement {}", true},
		{"adjust needs an answer", context.Canceled, []func(*APIError){func(e *APIError) { e.Kind = errNotAllowed }}, "secretsmanager PutSecretValue app/scim: context canceled", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Wrap("secretsmanager PutSecretValue app/scim", tt.err, tt.adjust...)
			if err.Error() != tt.want {
				t.Errorf("Wrap = %q, want %q", err, tt.want)
			}
			if errors.Is(err, errNotAllowed) != tt.kind {
				t.Errorf("errors.Is(err, kind) = %v, want %v", !tt.kind, tt.kind)
			}
			var ae *APIError
			if errors.As(err, &ae) != (Code(tt.err) != "") {
				t.Errorf("errors.As(*APIError) = %v for %v", ae, tt.err)
			}
		})
	}
	// The marked error is still the adapter's *APIError underneath.
	var ae *APIError
	if err := Wrap("cloudtrail LookupEvents", sdkAnswer(503, "ServiceUnavailable", "")); !rotator.IsTransient(err) || !errors.As(err, &ae) || ae.Code != "ServiceUnavailable" {
		t.Fatalf("Wrap(503) = %#v", err)
	}
}

// TestWrapNoSecret: the text is the call, AWS's code and message only; what
// else the SDK's chain carries (a request's URL with its query, a request
// id) stays out of it.
func TestWrapNoSecret(t *testing.T) {
	const canary = "SECRET-CANARY-5b0e"
	inner := &url.Error{Op: "Post", URL: "https://secretsmanager.eu-west-1.amazonaws.com/?X-Amz-Security-Token=" + canary, Err: errors.New("x")}
	err := &smithy.OperationError{ServiceID: "Secrets Manager", OperationName: "PutSecretValue", Err: &awshttp.ResponseError{
		RequestID: canary,
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 400}},
			Err:      fmt.Errorf("%w (%w)", &smithy.GenericAPIError{Code: "ValidationException", Message: "bad"}, inner),
		},
	}}
	if !strings.Contains(err.Error(), canary) {
		t.Fatal("test broken: the SDK's text does not carry the canary")
	}
	if got := Wrap("secretsmanager PutSecretValue app/scim", err).Error(); strings.Contains(got, canary) {
		t.Fatalf("secret in %q", got)
	}
}
