package secretsmanager

// The state record: one version of the store secret, under the custom
// label SCIMROTATOR_STATE, that says how far the rotation has come and
// which run may act on it. Its schema (times RFC 3339 UTC):
//
//	{
//	  "kind": "scim-rotator/state",
//	  "lease": {                    // absent: nobody holds it
//	    "owner": "host/pid-42/a1b2c3",
//	    "acquired": "...",          // when this owner took it
//	    "expires": "..."            // it lapses then unless the owner writes again
//	  },
//	  "rotation": {                 // rotator.Progress: absent before the first rotation
//	    "rotationId", "phase", "startedAt", "updatedAt", "oldTokenId",
//	    "preexistingTokenIds", "handoffSince", "newTokenId", "newTokenExpires",
//	    "targets": [{"name", "state", "pushedAt", "switchedAt", "canaryAt",
//	                 "canaryDone", "handoff", "message"}],
//	    "lastError", "outcome", "failingStep", "failingSince", "failures",
//	    "wait": {"step", "target", "since"}  // a wait a bounded run left to the next
//	  }
//	}
//
// A write is a compare-and-swap in one call: the new record is put with
// PutSecretValue straight under SCIMROTATOR_STATE (which moves the label to
// it), with a VersionId derived from the record this store last read or
// wrote (or none, on a secret without one): its successor. Every run that
// decided on the same record writes under that same VersionId with its own
// value, and Secrets Manager refuses a second value for an existing
// VersionId (ResourceExistsException: versions never change), so of two runs
// that decided on the same record at most one writes; a retry of the same
// write (an answer lost in transit) is a no-op. A successor is kept at least
// 24 hours (Secrets Manager removes no younger version), so a store that read
// the labels more than 12 hours ago reads them again before it writes. The
// earlier form, kept for the one case the successor exists while the label
// has not moved: a version parked under SCIMROTATOR_STATE_NEXT, then
// UpdateSecretVersionStage naming RemoveFromVersionId (refused once the
// label has left that version).
//
// A holder gives its lease up without a new version: it attaches the label
// SCIMROTATOR_RELEASED to its record. A record that carries it names nobody;
// a new record never does (it is parked under another label), so taking the
// lease and writing the record are one atomic step.
//
// Earlier versions of scim-rotator kept the progress and the lock in
// versions of their own (SCIMROTATOR_PROGRESS, SCIMROTATOR_LOCK); until the
// first state record is written, Load reads those.
//
// Calls, with the labels this store last saw: Hold PutSecretValue (1; plus
// DescribeSecret when it is refused, to tell a busy record from a stale
// one); Release UpdateSecretVersionStage (1).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/internal/awsbase"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// Custom staging labels of the state record.
const (
	// StageState marks the state record.
	StageState = "SCIMROTATOR_STATE"
	// stateNext parks a new record until StageState moves to it.
	stateNext = "SCIMROTATOR_STATE_NEXT"
	// StageReleased on the state record means its lease was given up.
	StageReleased = "SCIMROTATOR_RELEASED"
	// Labels of earlier versions, read until a state record exists.
	legacyProgress = "SCIMROTATOR_PROGRESS"
	legacyLock     = "SCIMROTATOR_LOCK"
)

// InternalStage reports whether stage is one of the store's own labels
// (the state record's, and earlier versions'), not a token's.
func InternalStage(stage string) bool { return strings.HasPrefix(stage, "SCIMROTATOR_") }

// stateRecord is the state record's JSON.
type stateRecord struct {
	Kind     string            `json:"kind"`
	Lease    *leaseRecord      `json:"lease,omitempty"`
	Rotation *rotator.Progress `json:"rotation,omitempty"`
	// lockVersion is where an earlier version's lock record was.
	lockVersion string
}

type leaseRecord struct {
	Owner    string `json:"owner"`
	Acquired string `json:"acquired"`
	Expires  string `json:"expires"`
}

// decodeState reads a state record, or an earlier version's progress or
// lock record as one. A malformed lock record names nobody.
func decodeState(kind, s string) (*stateRecord, error) {
	switch kind {
	case kindProgress:
		var p rotator.Progress
		if err := json.Unmarshal([]byte(s), &p); err != nil {
			return nil, err
		}
		return &stateRecord{Rotation: &p}, nil
	case kindLock:
		var l leaseRecord
		if json.Unmarshal([]byte(s), &l) != nil {
			return &stateRecord{}, nil
		}
		return &stateRecord{Lease: &l}, nil
	}
	var rec stateRecord
	if err := json.Unmarshal([]byte(s), &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// lock is the lease rec names, as the record at versionID shows it; zero
// when it names nobody (released, absent or malformed).
func (rec stateRecord) lock(versionID string, released bool) rotator.LockInfo {
	l := rec.Lease
	if released || l == nil || l.Owner == "" {
		return rotator.LockInfo{}
	}
	acq, e1 := parseTime(l.Acquired)
	exp, e2 := parseTime(l.Expires)
	if e1 != nil || e2 != nil {
		return rotator.LockInfo{}
	}
	if versionID == "" {
		versionID = rec.lockVersion
	}
	return rotator.LockInfo{Owner: l.Owner, Acquired: acq, Expires: exp, VersionID: versionID}
}

func describeLock(l rotator.LockInfo) string {
	if l.Owner == "" {
		return "free"
	}
	return fmt.Sprintf("held by %s since %s until %s (version %s)", l.Owner, fmtTime(l.Acquired), fmtTime(l.Expires), l.VersionID)
}

// loadState reads the state record snap shows (or the earlier versions'
// records) and the version a Hold compares against ("" when none).
func (s *Store) loadState(ctx context.Context, snap *snapshot) (stateRecord, string, error) {
	if id := snap.holder[StageState]; id != "" {
		v, err := s.read(ctx, id)
		if err != nil {
			return stateRecord{}, "", err
		}
		if v.kind != kindState {
			// The label on something else: no record, but the next write
			// still takes the label from that version.
			s.log.Warn("the state label is on a version that is not a state record: read as empty", zap.String("version_id", id))
			return stateRecord{}, id, nil
		}
		return *v.state, id, nil
	}
	var rec stateRecord
	for _, l := range []string{legacyProgress, legacyLock} {
		id := snap.holder[l]
		if id == "" {
			continue
		}
		v, err := s.read(ctx, id)
		if err != nil {
			return stateRecord{}, "", err
		}
		switch {
		case v.kind == kindProgress && l == legacyProgress:
			rec.Rotation = v.state.Rotation
		case v.kind == kindLock && l == legacyLock:
			rec.Lease, rec.lockVersion = v.state.Lease, id
		}
	}
	return rec, "", nil
}

// base is the record a write compares against, as this store last read or
// wrote it.
func (s *Store) baseRecord(ctx context.Context) (stateRecord, string, bool, error) {
	if err := s.known(ctx); err != nil {
		return stateRecord{}, "", false, err
	}
	s.mu.Lock()
	id, released := s.base, s.labels[StageReleased] != "" && s.labels[StageReleased] == s.base
	s.mu.Unlock()
	if id == "" {
		// Nothing read yet, or a secret without a record (its legacy
		// records, if any, were read into the cache by Load).
		snap := &snapshot{holder: s.labelsCopy()}
		rec, _, err := s.loadState(ctx, snap)
		return rec, "", false, err
	}
	v, err := s.read(ctx, id)
	if err != nil || v.state == nil {
		return stateRecord{}, id, released, err
	}
	return *v.state, id, released, nil
}

func (s *Store) labelsCopy() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]string, len(s.labels))
	for k, v := range s.labels {
		m[k] = v
	}
	return m
}

// ceilSecond rounds t up to the second the record stores: a lease is never
// read as ending before its holder thinks.
func ceilSecond(t time.Time) time.Time {
	if u := t.Truncate(time.Second); !u.Equal(t) {
		return u.Add(time.Second)
	}
	return t
}

// Hold writes the state record for req.Owner (see rotator.Locker): Busy when
// the record this store last read names another owner's live lease, lost
// when the record has changed since.
func (s *Store) Hold(ctx context.Context, req rotator.LockRequest) error {
	if req.Owner == "" {
		return errors.New("hold lock: owner is empty")
	}
	if !req.Release && !req.Until.After(req.Now) {
		return fmt.Errorf("hold lock: until %s is not after now %s", fmtTime(req.Until), fmtTime(req.Now))
	}
	cur, base, released, err := s.baseRecord(ctx)
	if err != nil {
		return fmt.Errorf("hold lock: %w", err)
	}
	held := cur.lock(base, released)
	if held.Owner != req.Owner && held.Held(req.Now) {
		return fmt.Errorf("hold lock: %w", &rotator.BusyError{Lock: held})
	}
	next := stateRecord{Kind: kindState, Rotation: cur.Rotation}
	if req.Progress != nil {
		p := *req.Progress
		next.Rotation = &p
	}
	if !req.Release {
		acquired := req.Now
		if held.Owner == req.Owner {
			acquired = held.Acquired
		}
		next.Lease = &leaseRecord{Owner: req.Owner, Acquired: fmtTime(acquired), Expires: fmtTime(ceilSecond(req.Until))}
	}
	body, err := json.Marshal(next)
	if err != nil {
		return fmt.Errorf("hold lock: %w", err)
	}
	vid, err := s.swap(ctx, req, base, string(body), version{kind: kindState, state: &next})
	if err != nil {
		return fmt.Errorf("hold lock: %w", err)
	}
	s.mu.Lock()
	s.base, s.labels[StageState], s.readAt = vid, vid, s.clock.Now()
	s.mu.Unlock()
	s.log.Debug("wrote the state record", zap.String("owner", req.Owner), zap.String("version_id", vid), zap.Bool("release", req.Release))
	return nil
}

// stateNS derives a state record's VersionId from the one before it.
var stateNS = uuid.MustParse("0b7f7c1e-3d2a-4f5e-8c61-9a2b4c6d8e10")

// successor is the VersionId of the state record written after base (""
// for the secret's first): every run that read base writes under this one
// id, so at most one of them creates it.
func (s *Store) successor(base string) string {
	return uuid.NewSHA1(stateNS, []byte(s.secretID+"\x00"+base)).String()
}

// labelsTrusted is how long a state write relies on the labels this store
// read without reading them again: well inside the 24 hours Secrets
// Manager keeps any version, so base's successor, if another run wrote
// it, still exists (see swap).
const labelsTrusted = 12 * time.Hour

// swap writes body as the state record that follows base, in one call:
// PutSecretValue with the successor's VersionId, straight under
// StageState. Another run that wrote after base did so under the same
// VersionId, with another value, which Secrets Manager refuses
// (ResourceExistsException: versions never change); a retry of this very
// write (an answer lost in transit) is a no-op. The successor exists for 24
// hours at least, so labels read more than labelsTrusted ago are read again
// first. Should base's successor exist without the label having moved from
// base (no release writes that), the write falls back to parking the
// record and moving the label with RemoveFromVersionId (swapParked).
func (s *Store) swap(ctx context.Context, req rotator.LockRequest, base, body string, v version) (string, error) {
	s.mu.Lock()
	stale := s.clock.Now().Sub(s.readAt) > labelsTrusted
	s.mu.Unlock()
	if stale {
		snap, err := s.observe(ctx)
		if err != nil {
			return "", err
		}
		if at := snap.holder[StageState]; at != base {
			return "", s.judgeMoved(ctx, req, base, at, snap)
		}
	}
	vid := s.successor(base)
	in := &sm.PutSecretValueInput{SecretId: aws.String(s.secretID), ClientRequestToken: aws.String(vid),
		SecretString: aws.String(body), VersionStages: []string{StageState}}
	out, err := s.api.PutSecretValue(ctx, in)
	if code := awsbase.Code(err); err != nil && code != "ResourceExistsException" && code != "LimitExceededException" && !denied(err) {
		// The answer may have been lost after the work was done (the SDK
		// does not retry every status; a refusal is no such loss): the same
		// write again is a no-op then, and otherwise does it or fails the
		// same way.
		out, err = s.api.PutSecretValue(ctx, in)
	}
	switch {
	case err == nil && slices.Contains(out.VersionStages, StageState):
		s.wrote(vid, v)
		for _, l := range out.VersionStages {
			s.moved(l, vid) // AWSCURRENT too, on a secret's first version
		}
		return vid, nil
	case err == nil:
		// This very record was written before, and the label has moved on.
		return "", fmt.Errorf("the state record moved on from version %s: %w", vid, rotator.ErrLockLost)
	case awsbase.Code(err) != "ResourceExistsException":
		return "", s.putErr(ctx, err)
	}
	snap, derr := s.describe(ctx)
	if derr != nil {
		return "", wrapErr("PutSecretValue", s.secretID, err)
	}
	if at := snap.holder[StageState]; at != base {
		return "", s.judgeMoved(ctx, req, base, at, snap)
	}
	s.log.Warn("the state record's next version exists, but the record has not moved: writing it beside", zap.String("version_id", vid))
	return s.swapParked(ctx, req, base, body, v)
}

// swapParked writes body under a fresh VersionId parked under stateNext,
// then moves StageState onto it from base (RemoveFromVersionId): Secrets
// Manager refuses the move once the label has left base.
func (s *Store) swapParked(ctx context.Context, req rotator.LockRequest, base, body string, v version) (string, error) {
	// A fresh VersionId per write; the SDK reuses it across its retries, so
	// an answer lost in transit does not make two versions.
	vid := uuid.NewString()
	if err := s.put(ctx, vid, body, v, stateNext); err != nil {
		return "", err
	}
	in := &sm.UpdateSecretVersionStageInput{SecretId: aws.String(s.secretID), VersionStage: aws.String(StageState), MoveToVersionId: aws.String(vid)}
	if base != "" {
		in.RemoveFromVersionId = aws.String(base)
	}
	if _, err := s.api.UpdateSecretVersionStage(ctx, in); err != nil {
		if err := s.judgeMove(ctx, req, base, vid, err); err != nil {
			return "", err
		}
	}
	return vid, nil
}

// judgeMove tells what a refused or failed compare-and-swap means from a
// fresh read of the labels, not from its error code: the label on the new
// version means it was done (an answer lost in transit, a retry refused
// because the first try had worked); the label gone from base means another
// run wrote (Busy when its lease is live, lost otherwise).
func (s *Store) judgeMove(ctx context.Context, req rotator.LockRequest, base, vid string, moveErr error) error {
	werr := wrapErr("UpdateSecretVersionStage", s.secretID, moveErr)
	snap, err := s.describe(ctx)
	if err != nil {
		return werr
	}
	switch at := snap.holder[StageState]; at {
	case vid:
		return nil
	case base:
		return werr // not a lost race: the move failed with the label where it was
	default:
		return s.judgeMoved(ctx, req, base, at, snap)
	}
}

// judgeMoved: the state record moved from base to at, written by another
// run: Busy when that run's lease is live, lost otherwise. snap is the
// read that showed it (nil: the one this store keeps).
func (s *Store) judgeMoved(ctx context.Context, req rotator.LockRequest, base, at string, snap *snapshot) error {
	released := s.at(StageReleased) == at
	if snap != nil {
		released = snap.holder[StageReleased] == at
	}
	if at == "" {
		return fmt.Errorf("the state record's label left version %s: %w", orNone(base), rotator.ErrLockLost)
	}
	if v, err := s.read(ctx, at); err == nil && v.state != nil {
		l := v.state.lock(at, released)
		if l.Owner != req.Owner && l.Held(req.Now) {
			return &rotator.BusyError{Lock: l}
		}
	}
	return fmt.Errorf("the state record moved from version %s to %s: %w", orNone(base), orNone(at), rotator.ErrLockLost)
}

// Release gives owner's lease up by marking its record released, when the
// record this store last wrote is owner's.
func (s *Store) Release(ctx context.Context, owner string) error {
	cur, base, released, err := s.baseRecord(ctx)
	if err != nil || base == "" || released || cur.Lease == nil || cur.Lease.Owner != owner {
		return nil
	}
	for attempt := 0; attempt < 2; attempt++ {
		in := &sm.UpdateSecretVersionStageInput{VersionStage: aws.String(StageReleased), MoveToVersionId: aws.String(base)}
		if from := s.at(StageReleased); from != "" && from != base {
			in.RemoveFromVersionId = aws.String(from)
		}
		var fresh *snapshot
		err = s.moveStage(ctx, in, func(n *snapshot) bool {
			fresh = n
			return n.holder[StageReleased] == base || n.holder[StageState] != base
		})
		if err == nil {
			break
		}
		if fresh == nil {
			return fmt.Errorf("release lock: %w", err)
		}
		s.moved(StageReleased, fresh.holder[StageReleased]) // someone else's release moved it: try from there
	}
	if err != nil {
		return fmt.Errorf("release lock: %w", err)
	}
	s.moved(StageReleased, base)
	s.log.Info("released the store lock", zap.String("owner", owner), zap.String("version_id", base))
	return nil
}

// putErr wraps a failed PutSecretValue. A secret that takes no new version
// (LimitExceededException: Secrets Manager's version quota) is said to be
// full, with how many versions it took in the last day and since when it
// took none, from its version list.
func (s *Store) putErr(ctx context.Context, err error) error {
	werr := wrapErr("PutSecretValue", s.secretID, err)
	if awsbase.Code(err) != "LimitExceededException" {
		return werr
	}
	young, newest, lerr := s.versionAges(ctx)
	why := fmt.Sprintf("%d of its versions were created in the last 24 hours, the newest at %s", young, fmtTime(newest))
	if lerr != nil {
		why = "its versions could not be listed (" + lerr.Error() + ")"
	}
	full := fmt.Errorf("secret %s is full: Secrets Manager takes no new version of it (its version quota: every version is kept for 24 hours, and a secret with more than 100 it cannot remove takes none); %s. "+
		"scim-rotator writes a handful of versions per rotation and none while it waits or has nothing to do, so something else writes this secret: find it in CloudTrail (PutSecretValue on %s) and stop it, then wait for old versions to age out: %w",
		s.secretID, why, s.secretID, werr)
	return rotator.Transient(&rotator.StoreFullError{Err: full, Since: newest})
}

// versionAges counts the secret's versions, deprecated ones included,
// created in the last 24 hours (by the newest one's clock), and the newest
// one's creation time.
func (s *Store) versionAges(ctx context.Context) (young int, newest time.Time, err error) {
	in := &sm.ListSecretVersionIdsInput{SecretId: aws.String(s.secretID), IncludeDeprecated: aws.Bool(true)}
	var all []types.SecretVersionsListEntry
	for {
		page, err := s.api.ListSecretVersionIds(ctx, in)
		if err != nil {
			return 0, time.Time{}, wrapErr("ListSecretVersionIds", s.secretID, err)
		}
		all = append(all, page.Versions...)
		if page.NextToken == nil {
			break
		}
		in.NextToken = page.NextToken
	}
	for _, v := range all {
		if t := aws.ToTime(v.CreatedDate); t.After(newest) {
			newest = t
		}
	}
	for _, v := range all {
		if newest.Sub(aws.ToTime(v.CreatedDate)) < 24*time.Hour {
			young++
		}
	}
	return young, newest, nil
}
