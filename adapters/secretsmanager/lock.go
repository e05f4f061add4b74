package secretsmanager

// The lease lock (see the store's header comment for the labels and the
// atomicity assumption). Each operation and its Secrets Manager calls, when
// this process remembers the version it moved the label to:
//
//   - Acquire: DescribeSecret, GetSecretValue of the holder's version (none
//     when no version carries the label, or it is our own), PutSecretValue of
//     the new lock version (after a placeholder AWSCURRENT on a secret with no
//     version at all), UpdateSecretVersionStage: 4 calls when taking over or
//     waiting out another run's lease, 3 on a free lock.
//   - Renew: PutSecretValue, UpdateSecretVersionStage from our version: 2.
//   - Verify: DescribeSecret: 1.
//   - Release: UpdateSecretVersionStage removing the label from our version: 1.
//   - LockState: DescribeSecret, GetSecretValue: 2.
//
// Without that memory, Renew, Verify and Release first read who holds the
// label (DescribeSecret, GetSecretValue). A refused or failed label move is
// judged by what a fresh DescribeSecret shows, not by its error code: the
// label on the version we moved it to means the move was done (an answer lost
// in transit, a retry refused because the first try had worked); the label
// gone from the version we named means another run moved it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/rotator"
)

// Custom staging labels of the lock.
const (
	// StageLock marks the version whose value names the lock's holder.
	StageLock = "SCIMROTATOR_LOCK"
	// stageLockNext parks a new lock version until StageLock moves to it:
	// PutSecretValue needs some label, or it would move AWSCURRENT.
	stageLockNext = "SCIMROTATOR_LOCK_NEXT"
)

// lockAttempts bounds how often Acquire starts over when the label moved
// between its read and its move and the lock then looked free again.
const lockAttempts = 3

// lockRecord is a lock version's JSON.
type lockRecord struct {
	Kind     string `json:"kind"`
	Owner    string `json:"owner"`
	Acquired string `json:"acquired"`
	Expires  string `json:"expires"`
}

// decodeLock reads a lock record; nil when it is malformed.
func decodeLock(versionID, s string) *rotator.LockInfo {
	var lr lockRecord
	if json.Unmarshal([]byte(s), &lr) != nil || lr.Owner == "" {
		return nil
	}
	acq, e1 := parseTime(lr.Acquired)
	exp, e2 := parseTime(lr.Expires)
	if e1 != nil || e2 != nil {
		return nil
	}
	return &rotator.LockInfo{Owner: lr.Owner, Acquired: acq, Expires: exp, VersionID: versionID}
}

func describeLock(l rotator.LockInfo) string {
	if l.Owner == "" {
		return "free"
	}
	return fmt.Sprintf("held by %s since %s until %s (version %s)", l.Owner, fmtTime(l.Acquired), fmtTime(l.Expires), l.VersionID)
}

// lockHolder reads who holds the label in snap. A version carrying the label
// with a value that is not a lock record holds nobody: the label is taken
// over like an expired lease (VersionID set, Owner empty).
func (s *Store) lockHolder(ctx context.Context, snap *snapshot) (rotator.LockInfo, error) {
	id := snap.holder[StageLock]
	if id == "" {
		return rotator.LockInfo{}, nil
	}
	if mine, ok := s.heldAt(id); ok {
		return mine, nil
	}
	v, err := s.read(ctx, snap, id)
	if err != nil {
		return rotator.LockInfo{}, err
	}
	if v.lock == nil {
		s.log.Warn("the lock label is on a version that is not a lock record: treated as free", zap.String("version_id", id))
		return rotator.LockInfo{VersionID: id}, nil
	}
	return *v.lock, nil
}

// heldAt returns the lock this process remembers holding at version id.
func (s *Store) heldAt(id string) (rotator.LockInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.held {
		if l.VersionID == id {
			return l, true
		}
	}
	return rotator.LockInfo{}, false
}

func (s *Store) remembered(owner string) (rotator.LockInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.held[owner]
	return l, ok
}

func (s *Store) remember(l rotator.LockInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held == nil {
		s.held = map[string]rotator.LockInfo{}
	}
	s.held[l.Owner] = l
}

func (s *Store) forget(owner string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.held, owner)
}

func checkLockRequest(req rotator.LockRequest) error {
	if req.Owner == "" {
		return errors.New("lock owner is empty")
	}
	if !req.Until.After(req.Now) {
		return fmt.Errorf("lock until %s is not after now %s", fmtTime(req.Until), fmtTime(req.Now))
	}
	return nil
}

// putLock writes a new lock version naming l.Owner, parked under
// stageLockNext, and returns its VersionId.
func (s *Store) putLock(ctx context.Context, l rotator.LockInfo) (string, error) {
	body, err := json.Marshal(lockRecord{Kind: kindLock, Owner: l.Owner, Acquired: fmtTime(l.Acquired), Expires: fmtTime(l.Expires)})
	if err != nil {
		return "", err
	}
	// A fresh VersionId per write; the SDK reuses it across its retries.
	vid := uuid.NewString()
	if _, err := s.api.PutSecretValue(ctx, &sm.PutSecretValueInput{
		SecretId:           aws.String(s.secretID),
		ClientRequestToken: aws.String(vid),
		SecretString:       aws.String(string(body)),
		VersionStages:      []string{stageLockNext}, // never omit: AWSCURRENT would move
	}); err != nil {
		return "", wrapErr("PutSecretValue", s.secretID, err)
	}
	return vid, nil
}

// moveLock moves StageLock from version from ("" when no version carries
// it) to version to: the compare-and-swap. When it fails, after is the fresh
// read that judged it (nil if that read failed too).
func (s *Store) moveLock(ctx context.Context, from, to string) (after *snapshot, err error) {
	in := &sm.UpdateSecretVersionStageInput{VersionStage: aws.String(StageLock), MoveToVersionId: aws.String(to)}
	if from != "" {
		in.RemoveFromVersionId = aws.String(from)
	}
	err = s.moveStage(ctx, in, func(n *snapshot) bool {
		after = n
		return n.holder[StageLock] == to
	})
	return after, err
}

// Acquire takes the lock for req.Owner until req.Until: when no version
// carries the label, when the holder's lease ended before req.Now, or when
// req.Owner holds it already (then it renews, keeping the acquired time).
func (s *Store) Acquire(ctx context.Context, req rotator.LockRequest) error {
	if err := checkLockRequest(req); err != nil {
		return fmt.Errorf("acquire lock: %w", err)
	}
	snap, err := s.describe(ctx)
	if err != nil {
		return fmt.Errorf("acquire lock: %w", err)
	}
	for attempt := 1; ; attempt++ {
		held, err := s.lockHolder(ctx, snap)
		if err != nil {
			return fmt.Errorf("acquire lock: %w", err)
		}
		if held.Owner != req.Owner && held.Held(req.Now) {
			s.forget(req.Owner)
			return fmt.Errorf("acquire lock: %w", &rotator.BusyError{Lock: held})
		}
		l := rotator.LockInfo{Owner: req.Owner, Acquired: req.Now, Expires: req.Until}
		if held.Owner == req.Owner {
			l.Acquired = held.Acquired
		}
		if err := s.ensureCurrent(ctx, snap, "lock", stageLockNext); err != nil {
			return fmt.Errorf("acquire lock: %w", err)
		}
		next, err := s.putLock(ctx, l)
		if err != nil {
			return fmt.Errorf("acquire lock: %w", err)
		}
		l.VersionID = next
		after, err := s.moveLock(ctx, held.VersionID, next)
		if err == nil {
			s.remember(l)
			s.log.Info("took the store lock", zap.String("owner", l.Owner), zap.String("version_id", next),
				zap.String("previous_owner", held.Owner), zap.Time("until", l.Expires))
			return nil
		}
		if after == nil || after.holder[StageLock] == held.VersionID {
			// Not a lost race: the move failed with the label where it was.
			return fmt.Errorf("acquire lock: %w", err)
		}
		if attempt == lockAttempts {
			return fmt.Errorf("acquire lock: the lock label kept moving under %d attempts: %w", lockAttempts, rotator.Transient(err))
		}
		// Another run moved the label first: judge again what it now holds.
		s.log.Info("lost a race for the store lock: reading it again", zap.String("owner", req.Owner))
		snap = after
	}
}

// mine returns owner's lock: as remembered, else as read from the store
// (ok false when owner does not hold the label).
func (s *Store) mine(ctx context.Context, owner string) (l rotator.LockInfo, ok bool, err error) {
	if l, ok := s.remembered(owner); ok {
		return l, true, nil
	}
	snap, err := s.describe(ctx)
	if err != nil {
		return rotator.LockInfo{}, false, err
	}
	l, err = s.lockHolder(ctx, snap)
	if err != nil || l.Owner != owner {
		return rotator.LockInfo{}, false, err
	}
	s.remember(l)
	return l, true, nil
}

func lockLost(owner string) error {
	return fmt.Errorf("lock of %s: %w", owner, rotator.ErrLockLost)
}

// Renew moves req.Owner's lease to req.Until with a new lock version, moving
// the label from the version req.Owner holds: ErrLockLost when the label has
// left it.
func (s *Store) Renew(ctx context.Context, req rotator.LockRequest) error {
	if err := checkLockRequest(req); err != nil {
		return fmt.Errorf("renew lock: %w", err)
	}
	cur, ok, err := s.mine(ctx, req.Owner)
	if err != nil {
		return fmt.Errorf("renew lock: %w", err)
	}
	if !ok {
		return fmt.Errorf("renew lock: %w", lockLost(req.Owner))
	}
	l := rotator.LockInfo{Owner: req.Owner, Acquired: cur.Acquired, Expires: req.Until}
	next, err := s.putLock(ctx, l)
	if err != nil {
		return fmt.Errorf("renew lock: %w", err)
	}
	l.VersionID = next
	after, err := s.moveLock(ctx, cur.VersionID, next)
	if err != nil {
		if after != nil && after.holder[StageLock] != cur.VersionID {
			s.forget(req.Owner)
			return fmt.Errorf("renew lock: %w", lockLost(req.Owner))
		}
		return fmt.Errorf("renew lock: %w", err)
	}
	s.remember(l)
	s.log.Debug("renewed the store lock", zap.String("owner", l.Owner), zap.String("version_id", next), zap.Time("until", l.Expires))
	return nil
}

// Verify checks with one DescribeSecret that the label is still on the
// version owner last moved it to. It cannot tell whether owner's lease has
// run out: it has no clock, and the caller knows when it last renewed.
func (s *Store) Verify(ctx context.Context, owner string) error {
	snap, err := s.describe(ctx)
	if err != nil {
		return fmt.Errorf("verify lock: %w", err)
	}
	at := snap.holder[StageLock]
	if l, ok := s.remembered(owner); ok {
		if at == l.VersionID {
			return nil
		}
		s.forget(owner)
		return fmt.Errorf("verify lock: %w", lockLost(owner))
	}
	l, err := s.lockHolder(ctx, snap)
	if err != nil {
		return fmt.Errorf("verify lock: %w", err)
	}
	if l.Owner != owner {
		return fmt.Errorf("verify lock: %w", lockLost(owner))
	}
	s.remember(l)
	return nil
}

// Release removes the label from owner's version. When the label has left
// it already, there is nothing to release.
func (s *Store) Release(ctx context.Context, owner string) error {
	l, ok, err := s.mine(ctx, owner)
	if err != nil {
		return fmt.Errorf("release lock: %w", err)
	}
	if !ok {
		return nil
	}
	err = s.moveStage(ctx, &sm.UpdateSecretVersionStageInput{
		VersionStage:        aws.String(StageLock),
		RemoveFromVersionId: aws.String(l.VersionID),
	}, func(n *snapshot) bool { return n.holder[StageLock] != l.VersionID })
	if err != nil {
		return fmt.Errorf("release lock: %w", err)
	}
	s.forget(owner)
	s.log.Info("released the store lock", zap.String("owner", owner), zap.String("version_id", l.VersionID))
	return nil
}

// LockState reads who holds the lock (zero when no version carries the
// label), whether or not the lease has run out.
func (s *Store) LockState(ctx context.Context) (rotator.LockInfo, error) {
	snap, err := s.describe(ctx)
	if err != nil {
		return rotator.LockInfo{}, fmt.Errorf("lock state: %w", err)
	}
	l, err := s.lockHolder(ctx, snap)
	if err != nil {
		return rotator.LockInfo{}, fmt.Errorf("lock state: %w", err)
	}
	if l.Owner == "" {
		return rotator.LockInfo{}, nil
	}
	return l, nil
}
