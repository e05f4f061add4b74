package awsbase

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"

	"github.com/scim-rotator/scim-rotator/rotator"
)

// The one rule every AWS adapter applies to a failed call.

// retryables classifies errors as the SDK's standard retryer does;
// throttles as its adaptive retryer does.
var (
	retryables = retry.IsErrorRetryables(retry.DefaultRetryables)
	throttles  = retry.IsErrorThrottles(retry.DefaultThrottles)
)

// Throttled reports whether AWS refused the call for its rate
// (ThrottlingException, TooManyRequestsException, ...): a caller sharing
// the rate should slow down and call again, never give up while it has time.
func Throttled(err error) bool {
	return err != nil && throttles.IsErrorThrottle(err) == aws.TrueTernary
}

// Transient reports whether err is worth a later run or tick: the SDK's own
// rules call it retryable (throttling, 5xx, connection errors and timeouts;
// the SDK already retried it), and it is not the caller's context being
// cancelled, which no later try cures (a dial cut short by a cancel is a
// retryable connection error to the SDK).
func Transient(err error) bool {
	return err != nil && !errors.Is(err, context.Canceled) && retryables.IsErrorRetryable(err) == aws.TrueTernary
}

// Mark is err marked rotator.Transient when Transient(err), else err.
func Mark(err error) error {
	if Transient(err) {
		return rotator.Transient(err)
	}
	return err
}

// Code is AWS's error code in err's chain ("ThrottlingException"), "" when
// AWS did not answer.
func Code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// Denied reports whether AWS refused the call for want of a permission: the
// one answer that earns an IAM hint. (A service's own denials, KMS's or
// Identity Center's Unauthorized*, are its adapter's to add.)
func Denied(err error) bool {
	switch Code(err) {
	case "AccessDeniedException", "AccessDenied":
		return true
	}
	return false
}

// APIError is AWS's answer to a call: "<call>: <code>: <message>", then
// "; <hint>" when the adapter has one. Its chain keeps the SDK's error (the
// code, the HTTP status, the retry classification) and Kind, the sentinel
// an adapter maps the answer to (errors.Is(err, cloudtrail.ErrAccessDenied)).
// AWS's messages name resources and principals, never a secret's value.
type APIError struct {
	// Call names the call: "cloudtrail LookupEvents", "secretsmanager
	// GetSecretValue <secret>".
	Call, Code, Message, Hint string
	Kind                      error
	err                       error
}

func (e *APIError) Error() string {
	s := e.Call + ": " + e.Code + ": " + e.Message
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

// Unwrap keeps the SDK's error.
func (e *APIError) Unwrap() error { return e.err }

// Is reports whether target is the sentinel the adapter mapped the answer to.
func (e *APIError) Is(target error) bool { return e.Kind != nil && target == e.Kind }

// Wrap is err from call: an *APIError when AWS answered (adjust, when
// given, edits it: clips the message, adds a hint or a Kind), otherwise
// "<call>: <err>"; marked rotator.Transient when Transient(err).
func Wrap(call string, err error, adjust ...func(*APIError)) error {
	if err == nil {
		return nil
	}
	out := fmt.Errorf("%s: %w", call, err)
	var ae smithy.APIError
	if errors.As(err, &ae) {
		a := &APIError{Call: call, Code: ae.ErrorCode(), Message: ae.ErrorMessage(), err: err}
		for _, f := range adjust {
			f(a)
		}
		out = a
	}
	// Classified by the SDK's error, not by the text the call adds to it.
	if Transient(err) {
		return rotator.Transient(out)
	}
	return out
}
