package rotator

import (
	"context"
	"time"
)

// Issuer creates, lists and deletes IAM Identity Center SCIM access tokens.
// The identitycenter adapter calls the console's internal API; the manual
// issuer answers ErrManual where a human has to act in the console.
type Issuer interface {
	// Tenant returns the provisioning tenant and its SCIM endpoint.
	Tenant(ctx context.Context) (Tenant, error)
	// ListTokens returns every token of the tenant (never values).
	ListTokens(ctx context.Context) ([]TokenInfo, error)
	// CreateToken creates a token and returns its value, which is shown only
	// once. It is not idempotent and must not be retried blindly: the core
	// reconciles with ListTokens after any error.
	CreateToken(ctx context.Context) (Token, error)
	// DeleteToken deletes a token. Deleting a token that no longer exists
	// succeeds.
	DeleteToken(ctx context.Context, id string) error
}

// Store is the durable record of the rotation, modelled on Secrets Manager's
// rotation stages: the live token is current, a rotation's new token is
// pending until promoted, the one before is previous.
type Store interface {
	// Load reads the whole record. A store with nothing recorded yet returns
	// a zero StoreState, not an error.
	Load(ctx context.Context) (StoreState, error)
	// PutPending records rec as the pending version of rotation id. Calling it
	// again with the same id and value is a no-op.
	PutPending(ctx context.Context, id string, rec Record) error
	// SaveProgress records how far the rotation has come. It holds no token
	// value.
	SaveProgress(ctx context.Context, p Progress) error
	// Promote makes rotation id's pending version current; the version that
	// was current becomes previous. Idempotent.
	Promote(ctx context.Context, id string) error
	// DiscardPending drops rotation id's pending version. Idempotent.
	DiscardPending(ctx context.Context, id string) error
	// PutCurrent records rec as current outside a rotation (`stage --current`).
	PutCurrent(ctx context.Context, rec Record) error
	// RevealHint tells a human how to print the value held under stage
	// (for example the AWS CLI command); it never contains the value.
	RevealHint(stage string) string
}

// Target is a system that presents the token to the SCIM endpoint: an IdP's
// provisioning connection, or a secret a sync job reads. Every method is
// idempotent; the core calls them in the order Validate, Push, Test, Confirm.
type Target interface {
	// Name is the target's configured name.
	Name() string
	// Validate proves cred works for this target without changing what the
	// target holds (Entra: validateCredentials with explicit credentials).
	// Targets with no such test return nil.
	Validate(ctx context.Context, cred Credential) error
	// Push makes the target hold cred. A non-nil Handoff in the result means
	// a human has to finish the change; the core then waits for `rotate
	// --continue`.
	Push(ctx context.Context, cred Credential) (PushResult, error)
	// Test runs the target's own test connection and checks that the target
	// now holds cred (Entra: validateCredentials with the saved credentials).
	Test(ctx context.Context, cred Credential) error
	// Confirm waits until the target has provably synced with the credential
	// pushed at req.Since, or until req.Deadline (then an error wrapping
	// ErrConfirmTimeout).
	Confirm(ctx context.Context, req ConfirmRequest) error
}

// Prover proves a token against the SCIM endpoint itself
// (GET {scimEndpoint}ServiceProviderConfig), before any target is switched.
type Prover interface {
	// ProveToken returns an error wrapping ErrTokenRejected when the endpoint
	// refuses the token.
	ProveToken(ctx context.Context, cred Credential) error
}

// Inspector is the read-only side of an adapter, used by `check` and
// `status`. Issuers, stores and targets implement it.
type Inspector interface {
	// Check runs read-only preflight calls and reports each one.
	Check(ctx context.Context) []CheckResult
	// Status describes the system's current state for `status`.
	Status(ctx context.Context) (SystemStatus, error)
}

// HandoffDescriber is implemented by targets whose push can wait for a
// human: it describes the pending hand-off again (for reminders on later
// runs) without changing anything.
type HandoffDescriber interface {
	DescribeHandoff(ctx context.Context) (*Handoff, error)
}

// Linker is implemented by targets that can point a human at their console
// page; alerts include the link.
type Linker interface {
	ConsoleLink() Link
}

// Notifier tells humans about outcomes (Slack). A notifier failure never
// fails a rotation.
type Notifier interface {
	Notify(ctx context.Context, ev Event) error
}

// Observer receives measurements (Prometheus). Methods must not block.
type Observer interface {
	StepDone(step, target string, d time.Duration)
	RotationDone(outcome Reason)
	LiveTokenExpiry(t time.Time)
	InProgress(bool)
}
