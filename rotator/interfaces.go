package rotator

import (
	"context"
	"time"
)

// Issuer is where IAM Identity Center SCIM access tokens come from. Every
// issuer knows the provisioning tenant; what else it can do it says with
// Tokens: the identitycenter issuer's token API lists, creates and deletes
// tokens, the manual issuer has none (a human does that in the console and
// stages the token), and the rotator then never lists, creates or deletes
// one.
type Issuer interface {
	// Tenant returns the provisioning tenant and its SCIM endpoint.
	Tenant(ctx context.Context) (Tenant, error)
	// Tokens is the issuer's token API, nil when it has none.
	Tokens() TokenAPI
}

// TokenAPI lists, creates and deletes tokens (the identitycenter issuer).
type TokenAPI interface {
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
// pending until promoted, the one before is previous. Besides the tokens it
// keeps one state record: the rotation's progress and the lease of the run
// acting on it (Locker). Every write is a new version the real service keeps
// for a day, so the core writes only what the next run needs.
type Store interface {
	// Load reads the whole record, the lease included. A store with nothing
	// recorded yet returns a zero StoreState, not an error. The state record
	// it read is what the next Hold compares against.
	Load(ctx context.Context) (StoreState, error)
	// PutPending records rec as the pending version of rotation id. Calling it
	// again with the same id and value is a no-op.
	PutPending(ctx context.Context, id string, rec Record) error
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
	// Every store holds the state record and its lease.
	Locker
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
	// Abilities says what else the target can do (the zero value: nothing).
	Abilities() Abilities
}

// Abilities are a target's optional abilities, asked for when needed (a
// console link may change once the target has looked its system up).
type Abilities struct {
	// WatchesHandoff: the target's Confirm proves a hand-off on its own
	// evidence (CloudTrail shows the pasted token in use by the client), so
	// every run checks it, not only `rotate --continue`. A Confirm whose
	// Deadline is not after now looks once and returns an error wrapping
	// ErrConfirmTimeout when there is no proof yet.
	WatchesHandoff bool
	// Canary: Confirm makes the IdP provision a canary user, so the SCIM
	// calls that follow show which token the IdP really sends.
	Canary bool
	// Console, when set, points a human at the target's console page;
	// alerts include it.
	Console *Link
}

// Prover proves a token against the SCIM endpoint itself
// (GET {scimEndpoint}ServiceProviderConfig), before any target is switched.
type Prover interface {
	// ProveToken returns an error wrapping ErrTokenRejected when the endpoint
	// refuses the token.
	ProveToken(ctx context.Context, cred Credential) error
}

// NetworkReader reads the identity store's network rules
// (identitystore:DescribeIdentityStore). They can refuse this host's SCIM
// calls whatever the token, so a refused proof is read against them.
type NetworkReader interface {
	NetworkRules(ctx context.Context) (NetworkRules, error)
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
	// TokenLastUsed is the last successful SCIM call (not the product's own)
	// authenticated by the token in role "live", "pending" or "old"; zero
	// drops the series.
	TokenLastUsed(role string, t time.Time)
	// ExpiryDisagreements is the last comparison of AWS Health's expiry
	// notices with what the rotator knows (none: they agree).
	ExpiryDisagreements(ds []Disagreement)
}

// Locker keeps the state record: the progress of the rotation and the
// lease of the one run that may act on it. Writing the record is a
// compare-and-swap against the version this store last read (Load) or
// wrote, so of two runs that decided on the same record at most one writes;
// the lease in the record keeps every other run out until it ends. The
// Secrets Manager store writes the record under a VersionId derived from
// the one it read, which Secrets Manager creates at most once. The lease's
// times come from the caller's clock.
type Locker interface {
	// Hold writes the state record: req.Owner's lease until req.Until (or
	// no lease with req.Release) and req.Progress (nil: the progress as
	// recorded). It fails with an error wrapping ErrBusy, that errors.As
	// finds as a *BusyError naming the holder, when another owner's lease
	// is live at req.Now; with one wrapping ErrLockLost when the record has
	// changed since this store last read or wrote it (another run acted:
	// observe again).
	Hold(ctx context.Context, req LockRequest) error
	// Release gives owner's lease up without a new version, when the
	// record is still the one owner last wrote. Releasing a lease one does
	// not hold succeeds and changes nothing.
	Release(ctx context.Context, owner string) error
}

// VersionLister is implemented by stores that can list their versions, for
// `status` (not read by rotations: it is one more call).
type VersionLister interface {
	ListVersions(ctx context.Context) ([]VersionInfo, error)
}

// VersionQuota is implemented by stores with a quota of versions (Secrets
// Manager). Before a token is created the run checks that the store can
// take every write of the rotation; check and status show the headroom.
type VersionQuota interface {
	// Quota lists every version, deprecated (unlabelled) ones included, as
	// the store's last Load saw them (no call of its own when Load listed
	// them), or as they are now when nothing was read yet.
	Quota(ctx context.Context) (Quota, error)
}

// Holder is implemented by targets that can show which token they hold now
// (the secretsmanager target reads its secret back). Rollback uses it to
// prove a target never left the old token.
type Holder interface {
	// Holds reports whether the target holds cred's token now. It compares
	// values without revealing them.
	Holds(ctx context.Context, cred Credential) (bool, error)
}

// UsageSource tells which token authenticated the SCIM calls Identity Center
// received (CloudTrail's identitystore-scim events). It reports what it saw;
// the core decides what counts as use.
type UsageSource interface {
	// Uses returns the SCIM calls recorded with an event time in [from, to),
	// oldest first: the whole window. An error never means "no use".
	Uses(ctx context.Context, from, to time.Time) ([]Use, error)
	// Latest reads the calls of [q.From, q.To) newest first, a page at a
	// time (CloudTrail's order), and stops when q.Enough says so or after
	// q.Pages pages: what a question about the last use costs depends on
	// the question, not on how busy the directory is. An error never means
	// "no use"; a read that stopped early says how far back it reached.
	Latest(ctx context.Context, q UsageQuery) (UsageRead, error)
}

// UsageQuery is a newest-first read (UsageSource.Latest).
type UsageQuery struct {
	From, To time.Time
	// Pages bounds the pages read (0: none but the window's start).
	Pages int
	// Enough, when set, is told the calls of each page, newest first; true
	// ends the read.
	Enough func(page []Use) bool
}

// UsageRead is what a newest-first read saw.
type UsageRead struct {
	// Uses are the calls read, oldest first.
	Uses []Use
	// Events counts the events read (unreadable ones included) and Pages
	// the pages.
	Events, Pages int
	// Complete: the window was read back to its start. Otherwise the read
	// reaches back to Since (the oldest event read): no call before it was
	// read.
	Complete bool
	Since    time.Time
}
