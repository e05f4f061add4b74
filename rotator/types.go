package rotator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Tenant is the Identity Center provisioning tenant that holds the tokens.
type Tenant struct {
	ID string `json:"id"`
	// SCIMEndpoint is the SCIM base URL, ending in "/".
	SCIMEndpoint string `json:"scimEndpoint"`
}

// TokenInfo describes an Identity Center SCIM access token, never its value.
type TokenInfo struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

// Token is a token with its value.
type Token struct {
	TokenInfo
	Value Secret `json:"-"`
}

// Credential is what a target is given: where the SCIM endpoint is and the
// token to present to it.
type Credential struct {
	SCIMEndpoint string
	TokenID      string
	Token        Secret
}

// Record is one version in the store: a token, its value and where it works.
type Record struct {
	Token
	SCIMEndpoint string `json:"scimEndpoint"`
	// VersionID is the store's id for this version (for pending: the rotation id).
	VersionID string `json:"versionId,omitempty"`
	// Created is when the record was written.
	Recorded time.Time `json:"recorded"`
}

// Stage names, as Secrets Manager spells them.
const (
	StageCurrent  = "AWSCURRENT"
	StagePending  = "AWSPENDING"
	StagePrevious = "AWSPREVIOUS"
)

// StoreState is everything the store records.
type StoreState struct {
	Current *Record
	Pending *Record
	// Progress is the last recorded progress of the rotation in progress (or
	// of the last one), nil if none was recorded.
	Progress *Progress
	// Lock is the lease recorded in the state record (zero when nobody
	// holds it or its holder gave it up).
	Lock LockInfo
}

// VersionInfo describes a store version for status output.
type VersionInfo struct {
	ID      string    `json:"id"`
	Stages  []string  `json:"stages"`
	Created time.Time `json:"created"`
	TokenID string    `json:"tokenId,omitempty"`
}

// Phase is where a rotation stands.
type Phase string

const (
	// PhaseCreating: a token is about to be created; the tokens that existed
	// before are recorded so that one created by a run killed before it could
	// store the value is recognised as an orphan nobody can hold.
	PhaseCreating Phase = "Creating"
	// PhaseCreated: the new token is stored as pending; no target touched.
	PhaseCreated Phase = "Created"
	// PhasePushing: targets are being switched to the new token.
	PhasePushing Phase = "Pushing"
	// PhaseAwaitingHandoff: a human has to finish a target's change.
	PhaseAwaitingHandoff Phase = "AwaitingHandoff"
	// PhasePromoted: the new token is current; the old one may remain to delete.
	PhasePromoted Phase = "Promoted"
	// PhaseStuck: a step failed and rolling back was not safe; both tokens are kept.
	PhaseStuck Phase = "Stuck"
	// PhaseDone: the rotation finished (rotated or rolled back).
	PhaseDone Phase = "Done"
)

// TargetState is how far a target has come in a rotation.
type TargetState string

const (
	TargetUntouched TargetState = "Untouched"
	// TargetPushing: a push was started; the target may hold either token.
	TargetPushing         TargetState = "Pushing"
	TargetPushed          TargetState = "Pushed"
	TargetTested          TargetState = "Tested"
	TargetConfirmed       TargetState = "Confirmed"
	TargetAwaitingHandoff TargetState = "AwaitingHandoff"
	TargetRestored        TargetState = "Restored"
	TargetFailed          TargetState = "Failed"
)

// Progress is the durable progress of one rotation. It never holds a token
// value.
type Progress struct {
	RotationID string    `json:"rotationId"`
	Phase      Phase     `json:"phase"`
	StartedAt  time.Time `json:"startedAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
	OldTokenID string    `json:"oldTokenId,omitempty"`
	// PreexistingTokenIDs are the tokens that existed before CreateToken.
	PreexistingTokenIDs []string `json:"preexistingTokenIds,omitempty"`
	// HandoffSince is when the first target started waiting for a human.
	HandoffSince time.Time `json:"handoffSince,omitzero"`
	NewTokenID   string    `json:"newTokenId,omitempty"`
	// NewTokenExpires is when the new token expires.
	NewTokenExpires time.Time        `json:"newTokenExpires,omitzero"`
	Targets         []TargetProgress `json:"targets,omitempty"`
	LastError       string           `json:"lastError,omitempty"`
	Outcome         Reason           `json:"outcome,omitempty"`
	// FailingStep has failed with a transient error Failures times in a row
	// since FailingSince; humans are alerted only once it lasts.
	FailingStep  string    `json:"failingStep,omitempty"`
	FailingSince time.Time `json:"failingSince,omitzero"`
	Failures     int       `json:"failures,omitempty"`
	// RevokeOld marks an emergency rotation (`rotate --now --revoke-old`):
	// the old token is deleted as soon as every target is confirmed and
	// CloudTrail shows the new token in use, without a quiet period. It
	// stays set when a later run resumes the rotation.
	RevokeOld bool `json:"revokeOld,omitempty"`
	// RequestedBy is the AWS identity (ARN) of the process that asked for
	// the emergency rotation.
	RequestedBy string `json:"requestedBy,omitempty"`
	// Revoked is the old token a revoke-old rotation deleted, watched for
	// use after its deletion (RevokedTokenUsed).
	Revoked *Revocation `json:"revoked,omitempty"`
	// Wait is the wait a bounded run left to the next one (deadline.go).
	Wait *PendingWait `json:"wait,omitempty"`
}

// PendingWait is a wait a bounded run (RunOptions.Deadline) left to the next run:
// its step ("confirm", with its target, or "prove use") and since when it
// waits, so that the next run resumes it within its own bound
// (confirmTimeout from Since), not a new one. It never holds a token value.
type PendingWait struct {
	Step   string    `json:"step"`
	Target string    `json:"target,omitempty"`
	Since  time.Time `json:"since"`
}

// Revocation is an old token deleted by a revoke-old rotation, and what
// was seen of it: who still used it when it went, and the calls made with
// it since (each alerted once). It never holds a token value.
type Revocation struct {
	TokenID   string    `json:"tokenId"`
	DeletedAt time.Time `json:"deletedAt"`
	// Suspects are the clients other than the targets that still used the
	// token when it was deleted: probable users of the leak (at most
	// maxSuspects, the latest first).
	Suspects []ClientUse `json:"suspects,omitempty"`
	// Calls counts the SCIM calls with the token seen after its deletion
	// and alerted; LastCall is the latest of them.
	Calls    int       `json:"calls,omitempty"`
	LastCall time.Time `json:"lastCall,omitzero"`
	// CheckedUntil: every call before it was delivered and alerted; Recent
	// are the calls alerted at or after it (CloudTrail may still deliver
	// others of the same seconds). A later run alerts only calls from
	// CheckedUntil that are not in Recent: one store write per alert.
	CheckedUntil time.Time `json:"checkedUntil,omitzero"`
	Recent       []Use     `json:"recent,omitempty"`
}

// TargetProgress is one target's part of a rotation.
type TargetProgress struct {
	Name     string      `json:"name"`
	State    TargetState `json:"state"`
	PushedAt time.Time   `json:"pushedAt,omitzero"`
	// SwitchedAt is when the target is known to hold the new token: its
	// push answered, or the operator continued after a hand-off.
	SwitchedAt time.Time `json:"switchedAt,omitzero"`
	// CanaryAt is when the confirmation that triggers the target's canary
	// began: after it, the IdP's SCIM calls must use the new token.
	CanaryAt time.Time `json:"canaryAt,omitzero"`
	// CanaryDone is when that confirmation saw the canary synced: the
	// canary's SCIM calls fall between the two.
	CanaryDone time.Time `json:"canaryDone,omitzero"`
	// Handoff: a human made the change (so a failed proof waits for them).
	Handoff bool   `json:"handoff,omitempty"`
	Message string `json:"message,omitempty"`
}

// PushResult is what Push reports besides an error.
type PushResult struct {
	// Handoff is set when a human has to finish the change.
	Handoff *Handoff
}

// Handoff tells a human how to finish a target's change. It never holds the
// token: the core adds how to read it from the store.
type Handoff struct {
	// ConsoleURL is the page where the change is made.
	ConsoleURL string
	// Where says what that page is, or how to reach it without a link
	// (optional): the core words the one step that opens it.
	Where string
	// Steps are what to do there once it is open, in order.
	Steps []string
}

// ConfirmRequest bounds a confirmation.
type ConfirmRequest struct {
	Credential Credential
	// Since is when the credential was pushed: only evidence after it counts.
	Since time.Time
	// Deadline is when to give up with ErrConfirmTimeout.
	Deadline time.Time
	// OldTokenID is the token the target held before ("" if unknown).
	OldTokenID string
	// Usage, when set, is the run's reader of SCIM calls: a target that
	// looks in CloudTrail reads through it, so that the run reads each
	// event once (nil: the target's own source).
	Usage UsageSource
	// Progress, when set, is told of each look that proved nothing yet
	// and when the next one is (call Report): the core reports the wait.
	Progress func(ConfirmPoll)
}

// Level is how bad a check's finding is: only FAIL makes `check` exit 1.
type Level string

const (
	LevelOK   Level = "OK"
	LevelWarn Level = "WARN"
	LevelFail Level = "FAIL"
)

// CheckResult is one line of `check`.
type CheckResult struct {
	// System is the kind of system, as in SystemStatus.
	System string `json:"system"`
	// Target is the target's configured name (targets only).
	Target string `json:"target,omitempty"`
	Name   string `json:"name"`
	Level  Level  `json:"level"`
	Detail string `json:"detail,omitempty"`
	// Fix says what to do about a WARN or a FAIL.
	Fix string `json:"fix,omitempty"`
}

// Failed reports whether the check failed; a result without a level counts
// as failed, so a check that forgets to set one cannot pass.
func (c CheckResult) Failed() bool { return c.Level != LevelOK && c.Level != LevelWarn }

// SystemStatus is one system's part of `status`.
type SystemStatus struct {
	// System is the kind of system: identitycenter, secretsmanager-store,
	// secretsmanager-target, entra or okta.
	System string
	// Target is the target's configured name (targets only).
	Target string
	// Fields are the system's facts, in the order the table prints them.
	Fields []Field
}

// Field is one fact about a system: a stable lowerCamelCase key and a typed
// value (see `scim-rotator schema status`).
type Field struct {
	Key string
	// Value is a string, a bool, an int, a time.Time (RFC 3339 in UTC; zero
	// means never: null), a []string or nil (unknown).
	Value any
}

// systemJSON is SystemStatus as `status -o json` prints it: the facts are
// one object keyed by fact name, in the order of Fields.
type systemJSON struct {
	System string          `json:"system"`
	Target string          `json:"target,omitempty"`
	Facts  json.RawMessage `json:"facts"`
}

// MarshalJSON writes the facts as an object keyed by fact name, in the
// order of Fields (a key given twice keeps its first value), each value as
// jsonValue says.
func (s SystemStatus) MarshalJSON() ([]byte, error) {
	var facts bytes.Buffer
	facts.WriteByte('{')
	seen := map[string]bool{}
	for _, f := range s.Fields {
		if seen[f.Key] {
			continue
		}
		seen[f.Key] = true
		k, err := json.Marshal(f.Key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(f.jsonValue())
		if err != nil {
			return nil, fmt.Errorf("fact %s: %w", f.Key, err)
		}
		if facts.Len() > 1 {
			facts.WriteByte(',')
		}
		facts.Write(k)
		facts.WriteByte(':')
		facts.Write(v)
	}
	facts.WriteByte('}')
	return json.Marshal(systemJSON{System: s.System, Target: s.Target, Facts: facts.Bytes()})
}

// UnmarshalJSON reads what MarshalJSON writes, the facts in their order
// (values as encoding/json decodes into any).
func (s *SystemStatus) UnmarshalJSON(b []byte) error {
	var raw systemJSON
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*s = SystemStatus{System: raw.System, Target: raw.Target, Fields: []Field{}}
	if len(raw.Facts) == 0 || string(raw.Facts) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw.Facts))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("system %s: facts: want an object", raw.System)
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return err
		}
		s.Fields = append(s.Fields, Field{Key: t.(string), Value: v})
	}
	return nil
}

// jsonValue is the value as JSON carries it: times in UTC RFC 3339 (null
// when zero), lists as [] when empty.
func (f Field) jsonValue() any {
	switch x := f.Value.(type) {
	case time.Time:
		if x.IsZero() {
			return nil
		}
		return x.UTC().Format(time.RFC3339)
	case []string:
		if x == nil {
			return []string{}
		}
	}
	return f.Value
}

// Text is the value for humans: times in RFC 3339 ("never" when zero),
// lists as "a, b" ("none" when empty or nil), booleans as yes or no.
func (f Field) Text() string {
	switch x := f.Value.(type) {
	case nil:
		return "none"
	case string:
		return x
	case time.Time:
		if x.IsZero() {
			return "never"
		}
		return x.UTC().Format(time.RFC3339)
	case []string:
		if len(x) == 0 {
			return "none"
		}
		return strings.Join(x, ", ")
	case bool:
		if x {
			return "yes"
		}
		return "no"
	}
	return fmt.Sprint(f.Value)
}

// Reason is a CamelCase outcome used alike in logs, Slack and metrics.
type Reason string

const (
	ReasonRotated         Reason = "Rotated"
	ReasonNotDue          Reason = "NotDue"
	ReasonRolledBack      Reason = "RolledBack"
	ReasonFailed          Reason = "Failed"
	ReasonBlocked         Reason = "Blocked"
	ReasonAwaitingHandoff Reason = "AwaitingHandoff"
	ReasonAwaitingToken   Reason = "AwaitingToken"
	ReasonExpiringSoon    Reason = "ExpiringSoon"
	ReasonConfirmTimeout  Reason = "ConfirmTimeout"
	ReasonDryRun          Reason = "DryRun"
	// ReasonInterrupted: the process was asked to stop; the next run resumes.
	ReasonInterrupted Reason = "Interrupted"
)

// Event is what a Notifier is told. It never holds a token value.
type Event struct {
	Outcome    Reason
	Message    string
	Instance   string // identity store id
	Region     string
	RotationID string
	OldTokenID string
	NewTokenID string
	NewExpiry  time.Time
	DaysLeft   int
	Targets    []TargetProgress
	FailedStep string
	Error      string
	// NextActions are what a human should do next, in order.
	NextActions []string
	Links       []Link
}

// Link is a labelled URL for a human.
type Link struct {
	Text string
	URL  string
}

var (
	// ErrManual means a human has to do this in the console (manual issuer).
	ErrManual = errors.New("must be done by hand in the IAM Identity Center console")
	// ErrConfirmTimeout means no proof of a sync arrived before the deadline.
	ErrConfirmTimeout = errors.New("confirmation timed out")
	// ErrTokenRejected means the SCIM endpoint or a target refused the token.
	ErrTokenRejected = errors.New("token rejected")
)

// TransientError marks an error worth retrying on a later run or tick.
type TransientError struct{ Err error }

func (e *TransientError) Error() string { return e.Err.Error() }
func (e *TransientError) Unwrap() error { return e.Err }

// Transient wraps err as transient.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &TransientError{Err: err}
}

// IsTransient reports whether err is marked transient.
func IsTransient(err error) bool {
	var t *TransientError
	return errors.As(err, &t)
}

// LockRequest is a write of the store's state record by the run that holds
// (or takes) its lease.
type LockRequest struct {
	Owner string
	// Now is the caller's time, to judge whether another holder's lease ended.
	Now time.Time
	// Until is when the lease ends unless the holder writes again.
	Until time.Time
	// Progress is what the record says of the rotation; nil keeps what it
	// says now.
	Progress *Progress
	// Release ends the lease with this write: the record names no holder.
	Release bool
}

// LockInfo is who holds the store's lease lock.
type LockInfo struct {
	Owner    string    `json:"owner"`
	Acquired time.Time `json:"acquired"`
	Expires  time.Time `json:"expires"`
	// VersionID is the store version of the state record naming the lease.
	VersionID string `json:"versionId,omitempty"`
}

// Held reports whether anybody holds the lock at now.
func (l LockInfo) Held(now time.Time) bool { return l.Owner != "" && now.Before(l.Expires) }

// StoreFullError means the store takes no new version: Secrets Manager's
// version quota is reached (another writer on the secret). Since is when it
// last took one, as far as the store can tell; the error says which secret
// and why.
type StoreFullError struct {
	Err   error
	Since time.Time
}

func (e *StoreFullError) Error() string { return e.Err.Error() }
func (e *StoreFullError) Unwrap() error { return e.Err }

// fullFor reports how long err's store has taken no version (0: not full).
func fullFor(err error, now time.Time) (time.Duration, bool) {
	var f *StoreFullError
	if !errors.As(err, &f) {
		return 0, false
	}
	return now.Sub(f.Since), true
}

// BusyError says who holds the lock a run could not take.
type BusyError struct{ Lock LockInfo }

func (e *BusyError) Error() string {
	return "the store is locked by " + e.Lock.Owner + " until " + e.Lock.Expires.UTC().Format(time.RFC3339)
}
func (e *BusyError) Unwrap() error { return ErrBusy }

// Use is one SCIM call Identity Center recorded (a CloudTrail event).
type Use struct {
	// TokenID is the id of the token that authenticated the call
	// (userIdentity.accessKeyId; INFERRED to be the token id); "" for a
	// refused call that carried no token id (a token Identity Center does
	// not know, for instance one deleted since).
	TokenID   string    `json:"tokenId"`
	Time      time.Time `json:"time"`
	EventName string    `json:"eventName"`
	// ErrorCode is set when the call failed.
	ErrorCode string `json:"errorCode,omitempty"`
	UserAgent string `json:"userAgent,omitempty"`
	SourceIP  string `json:"sourceIp,omitempty"`
}

// UserAgentPrefix starts the User-Agent of every SCIM request the product
// itself makes; such calls never count as use.
const UserAgentPrefix = "scim-rotator/"

var (
	// ErrBusy means another run holds the store's lock.
	ErrBusy = errors.New("another run holds the lock")
	// ErrLockLost means the store's state record changed since this run
	// read or wrote it: another run took the lease over (or acted after
	// this run's lease lapsed). What this run decided may be stale.
	ErrLockLost = errors.New("the store's record changed under this run")
)

// More outcomes.
const (
	// ReasonBusy: another run holds the lock; nothing was changed.
	ReasonBusy Reason = "Busy"
	// ReasonOldTokenInUse: the old token is still used; nothing was deleted.
	ReasonOldTokenInUse Reason = "OldTokenInUse"
	// ReasonExpiryDisagreement: AWS Health announces an expiry the rotator
	// does not expect.
	ReasonExpiryDisagreement Reason = "ExpiryDisagreement"
	// ReasonRevokedTokenUsed: SCIM calls with a token a revoke-old rotation
	// deleted were seen after its deletion (a leak, or a forgotten client).
	ReasonRevokedTokenUsed Reason = "RevokedTokenUsed"
	// ReasonWaiting: a bounded run (RunOptions.Deadline) left a wait that
	// would pass its deadline to the next run, which resumes it.
	ReasonWaiting Reason = "Waiting"
)
