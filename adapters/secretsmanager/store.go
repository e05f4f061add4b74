package secretsmanager

// The store's design, mirroring AWS's own rotation Lambdas:
//
//   - Every token is a version of the one secret, holding the JSON
//     {"kind":"scim-rotator/token","tokenId","token","created","expires",
//     "scimEndpoint","recorded"} (times RFC 3339, UTC, second precision, so a
//     record read back and written again is byte-identical).
//   - The live token carries AWSCURRENT, a rotation's new token AWSPENDING
//     (its VersionId is the rotation id, passed as ClientRequestToken), the
//     token before AWSPREVIOUS, which Secrets Manager moves by itself when
//     AWSCURRENT moves.
//   - Every step first reads DescribeSecret().VersionIdsToStages and does only
//     what is not done yet, so a crashed step is simply called again. An
//     AWSPENDING left on a version that is not AWSCURRENT means a rotation is
//     in progress; on the AWSCURRENT version it is the tail of a promotion.
//   - PutSecretValue always names its stage: without VersionStages Secrets
//     Manager moves AWSCURRENT to the new version at once.
//   - The rotation's progress (never a token) is a version of its own,
//     {"kind":"scim-rotator/progress",...}, carrying the custom label
//     SCIMROTATOR_PROGRESS, which PutSecretValue moves to each new progress
//     version. Caveat: each progress write is a new version. Secrets Manager
//     keeps the 100 most recent versions plus all from the last 24 hours and
//     asks for no more than one PutSecretValue per 10 minutes sustained; a
//     rotation writes a handful, and unchanged progress is not written, so the
//     version quota is not at risk, but a rotation loop gone wild would be.
//   - Secrets Manager attaches AWSCURRENT to the first version of a secret
//     whatever VersionStages says. So that a first pending token or progress
//     record never becomes current by accident, a secret with no current
//     version first gets a placeholder {"kind":"scim-rotator/none"} as
//     AWSCURRENT (deterministic VersionId, so a retry is a no-op). Load reads
//     a placeholder (or progress, or lock) current version as "no current
//     token".
//   - A current value that is not a scim-rotator record (the secret held the
//     token before scim-rotator did) is an error telling the user to record
//     the live token with `scim-rotator stage --current`.
//   - The lease lock (lock.go) is the custom label SCIMROTATOR_LOCK on a
//     version {"kind":"scim-rotator/lock","owner","acquired","expires"} (no
//     secret). Taking it writes a new lock version parked under
//     SCIMROTATOR_LOCK_NEXT, then moves SCIMROTATOR_LOCK onto it with
//     UpdateSecretVersionStage naming RemoveFromVersionId (or, when no version
//     carries the label, naming none). Secrets Manager refuses that move once
//     the label has left the named version (or, without RemoveFromVersionId,
//     once it is attached anywhere): a compare-and-swap. ASSUMPTION: the
//     service checks and moves the label atomically, so of two moves from the
//     same version at most one succeeds; AWS documents the refusal, not its
//     atomicity under concurrency. Caveat: every acquisition and renewal is a
//     PutSecretValue, so a new version, and Secrets Manager removes unlabelled
//     versions only past 100 and only once they are 24 hours old. The core
//     renews at most every lockTimeout/2: with the default 2m, a run waiting
//     an hour for a confirmation writes 60 versions that all count for a day
//     against the secret's version quota (past it PutSecretValue fails, for
//     the token record too), far above AWS's advice of one PutSecretValue per
//     10 minutes sustained. Long waits want a long lockTimeout.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// StageProgress is the custom staging label of the progress version.
const StageProgress = "SCIMROTATOR_PROGRESS"

// Kinds of version this package writes.
const (
	kindToken    = "scim-rotator/token"
	kindProgress = "scim-rotator/progress"
	kindNone     = "scim-rotator/none"
	kindLock     = "scim-rotator/lock"
)

// placeholderValue is the SecretString of the placeholder current version.
const placeholderValue = `{"kind":"` + kindNone + `"}`

// placeholderNS derives the placeholder's VersionId from the rotation that
// needed it.
var placeholderNS = uuid.MustParse("6f1c3b1e-4a55-4b0e-9a4c-3d0c2f1e5a77")

// ErrNotRecord means the secret's current value was not written by
// scim-rotator.
var ErrNotRecord = errors.New("not a scim-rotator record")

// Store is the rotation's durable record in one Secrets Manager secret.
type Store struct {
	api      api
	secretID string
	region   string
	endpoint string
	log      *zap.Logger

	mu           sync.Mutex
	lastProgress []byte // progress JSON last read or written
	// held is the lock this process holds as last written or read, by
	// owner: the version we moved SCIMROTATOR_LOCK to, so that Verify needs
	// one DescribeSecret and Renew and Release no read at all.
	held map[string]rotator.LockInfo
}

var (
	_ rotator.Store     = (*Store)(nil)
	_ rotator.Inspector = (*Store)(nil)
)

// NewStore builds the store for cfg (cfg.Region is already defaulted by the
// config loader).
func NewStore(ctx context.Context, cfg config.Store, opts Options) (*Store, error) {
	if cfg.SecretID == "" {
		return nil, errors.New("store.secretId: required")
	}
	c, err := newClient(ctx, cfg.Region, cfg.Endpoint, opts)
	if err != nil {
		return nil, fmt.Errorf("secretsmanager store: %w", err)
	}
	return newStore(c, cfg, opts.logger()), nil
}

func newStore(c api, cfg config.Store, log *zap.Logger) *Store {
	return &Store{api: c, secretID: cfg.SecretID, region: cfg.Region, endpoint: cfg.Endpoint,
		log: log.With(zap.String("secret", cfg.SecretID))}
}

// tokenRecord is a token version's JSON. Field order is fixed, so the same
// Record always gives the same bytes.
type tokenRecord struct {
	Kind         string `json:"kind"`
	TokenID      string `json:"tokenId"`
	Token        string `json:"token"`
	Created      string `json:"created,omitempty"`
	Expires      string `json:"expires,omitempty"`
	SCIMEndpoint string `json:"scimEndpoint"`
	Recorded     string `json:"recorded,omitempty"`
}

type progressRecord struct {
	Kind string `json:"kind"`
	rotator.Progress
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339, s)
}

func encodeRecord(rec rotator.Record) (string, error) {
	if rec.Value.IsZero() {
		return "", errors.New("record has no token value")
	}
	if rec.ID == "" {
		return "", errors.New("record has no token id")
	}
	b, err := json.Marshal(tokenRecord{
		Kind:         kindToken,
		TokenID:      rec.ID,
		Token:        rec.Value.Reveal(),
		Created:      fmtTime(rec.Created),
		Expires:      fmtTime(rec.Expires),
		SCIMEndpoint: rec.SCIMEndpoint,
		Recorded:     fmtTime(rec.Recorded),
	})
	return string(b), err
}

// version is one version's decoded content.
type version struct {
	kind     string // kindToken, kindProgress, kindNone, kindLock, or "" (not ours)
	record   *rotator.Record
	progress *rotator.Progress
	lock     *rotator.LockInfo // nil for a malformed lock record
}

// decode reads a version's value. Errors never quote the value (a JSON syntax
// error would quote a character of it).
func decode(versionID string, s *string) (version, error) {
	if s == nil {
		return version{}, nil
	}
	var head struct {
		Kind string `json:"kind"`
	}
	if json.Unmarshal([]byte(*s), &head) != nil {
		return version{}, nil
	}
	switch head.Kind {
	case kindToken:
		var tr tokenRecord
		if json.Unmarshal([]byte(*s), &tr) != nil || tr.Token == "" {
			return version{}, fmt.Errorf("version %s: malformed %s record", versionID, kindToken)
		}
		rec := &rotator.Record{
			Token:        rotator.Token{TokenInfo: rotator.TokenInfo{ID: tr.TokenID}, Value: rotator.NewSecret(tr.Token)},
			SCIMEndpoint: tr.SCIMEndpoint,
			VersionID:    versionID,
		}
		var e1, e2, e3 error
		rec.Created, e1 = parseTime(tr.Created)
		rec.Expires, e2 = parseTime(tr.Expires)
		rec.Recorded, e3 = parseTime(tr.Recorded)
		if err := errors.Join(e1, e2, e3); err != nil {
			return version{}, fmt.Errorf("version %s: malformed time in %s record", versionID, kindToken)
		}
		return version{kind: kindToken, record: rec}, nil
	case kindProgress:
		var pr progressRecord
		if err := json.Unmarshal([]byte(*s), &pr); err != nil {
			return version{}, fmt.Errorf("version %s: malformed %s record", versionID, kindProgress)
		}
		return version{kind: kindProgress, progress: &pr.Progress}, nil
	case kindNone:
		return version{kind: kindNone}, nil
	case kindLock:
		// A malformed lock is no error: the lock code treats it as free.
		return version{kind: kindLock, lock: decodeLock(versionID, *s)}, nil
	}
	return version{}, nil
}

// snapshot is what the secret shows: labels, versions and the decoded
// content of the labelled versions scim-rotator reads.
type snapshot struct {
	arn         string
	lastChanged time.Time
	stages      map[string][]string // versionId -> labels
	holder      map[string]string   // label -> versionId
	contents    map[string]version  // versionId -> content (read ones only)
	versions    []rotator.VersionInfo
}

func (s *Store) describe(ctx context.Context) (*snapshot, error) {
	out, err := s.api.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(s.secretID)})
	if err != nil {
		return nil, wrapErr("DescribeSecret", s.secretID, err)
	}
	snap := &snapshot{arn: aws.ToString(out.ARN), lastChanged: aws.ToTime(out.LastChangedDate),
		stages: out.VersionIdsToStages, holder: map[string]string{}, contents: map[string]version{}}
	if snap.stages == nil {
		snap.stages = map[string][]string{}
	}
	for id, labels := range snap.stages {
		for _, l := range labels {
			snap.holder[l] = id
		}
	}
	return snap, nil
}

func (s *Store) read(ctx context.Context, snap *snapshot, versionID string) (version, error) {
	if v, ok := snap.contents[versionID]; ok {
		return v, nil
	}
	out, err := s.api.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(s.secretID), VersionId: aws.String(versionID)})
	if err != nil {
		return version{}, wrapErr("GetSecretValue", s.secretID, err)
	}
	v, err := decode(versionID, out.SecretString)
	if err != nil {
		return version{}, fmt.Errorf("secret %s: %w", s.secretID, err)
	}
	snap.contents[versionID] = v
	return v, nil
}

// load reads the labelled versions scim-rotator uses and the version list.
func (s *Store) load(ctx context.Context) (*snapshot, error) {
	snap, err := s.describe(ctx)
	if err != nil {
		return nil, err
	}
	for _, label := range []string{rotator.StageCurrent, rotator.StagePending, rotator.StagePrevious, StageProgress} {
		if id := snap.holder[label]; id != "" {
			if _, err := s.read(ctx, snap, id); err != nil {
				return nil, err
			}
		}
	}
	in := &sm.ListSecretVersionIdsInput{SecretId: aws.String(s.secretID)}
	for {
		out, err := s.api.ListSecretVersionIds(ctx, in)
		if err != nil {
			return nil, wrapErr("ListSecretVersionIds", s.secretID, err)
		}
		for _, v := range out.Versions {
			id := aws.ToString(v.VersionId)
			vi := rotator.VersionInfo{ID: id, Stages: v.VersionStages, Created: aws.ToTime(v.CreatedDate)}
			if c, ok := snap.contents[id]; ok && c.record != nil {
				vi.TokenID = c.record.ID
			}
			snap.versions = append(snap.versions, vi)
		}
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	sort.SliceStable(snap.versions, func(i, j int) bool { return snap.versions[i].Created.Before(snap.versions[j].Created) })
	return snap, nil
}

func (s *Store) stageHint() string {
	return "record the live token with `scim-rotator stage --current --token-id ID --token-file FILE`"
}

// Load reads the whole record. A secret with no versions gives a zero
// StoreState.
func (s *Store) Load(ctx context.Context) (rotator.StoreState, error) {
	snap, err := s.load(ctx)
	if err != nil {
		return rotator.StoreState{}, err
	}
	var st rotator.StoreState
	if len(snap.stages) == 0 {
		return st, nil
	}
	cur := snap.holder[rotator.StageCurrent]
	if cur != "" {
		switch c := snap.contents[cur]; c.kind {
		case kindToken:
			st.Current = c.record
		case kindNone, kindProgress, kindLock:
			// No token recorded as current yet.
		default:
			return rotator.StoreState{}, fmt.Errorf("secret %s: the current version %s is %w: %s", s.secretID, cur, ErrNotRecord, s.stageHint())
		}
	}
	if p := snap.holder[rotator.StagePending]; p != "" && p != cur {
		c := snap.contents[p]
		if c.kind != kindToken {
			return rotator.StoreState{}, fmt.Errorf("secret %s: the pending version %s is %w", s.secretID, p, ErrNotRecord)
		}
		st.Pending = c.record
	}
	if p := snap.holder[rotator.StagePrevious]; p != "" {
		if c := snap.contents[p]; c.kind == kindToken {
			st.Previous = c.record
		}
	}
	if p := snap.holder[StageProgress]; p != "" {
		if c := snap.contents[p]; c.kind == kindProgress {
			st.Progress = c.progress
			if b, err := json.Marshal(progressRecord{Kind: kindProgress, Progress: *c.progress}); err == nil {
				s.mu.Lock()
				s.lastProgress = b
				s.mu.Unlock()
			}
		}
	}
	st.Versions = snap.versions
	return st, nil
}

// ensureCurrent gives a secret with no current version a placeholder one, so
// that the next labelled write does not become AWSCURRENT by being first.
// The placeholder is written with the label park: AWSCURRENT, or, where snap
// may be stale because other runs write at the same time (the lock), a label
// the next write moves away, so that the placeholder becomes current only by
// being the secret's first version and never takes AWSCURRENT off a token.
func (s *Store) ensureCurrent(ctx context.Context, snap *snapshot, seed, park string) error {
	if snap.holder[rotator.StageCurrent] != "" {
		return nil
	}
	id := uuid.NewSHA1(placeholderNS, []byte(seed)).String()
	_, err := s.api.PutSecretValue(ctx, &sm.PutSecretValueInput{
		SecretId:           aws.String(s.secretID),
		ClientRequestToken: aws.String(id),
		SecretString:       aws.String(placeholderValue),
		VersionStages:      []string{park},
	})
	if err != nil {
		return wrapErr("PutSecretValue", s.secretID, err)
	}
	s.log.Info("secret had no current version: wrote a placeholder", zap.String("version_id", id))
	return nil
}

// PutPending records rec as the pending version of rotation id (the
// VersionId). Calling it again with the same id and value is a no-op; with
// another value it fails (Secrets Manager versions are immutable).
func (s *Store) PutPending(ctx context.Context, id string, rec rotator.Record) error {
	if n := len(id); n < 32 || n > 64 {
		return fmt.Errorf("put pending: rotation id %q must be 32 to 64 characters (it becomes the secret's VersionId)", id)
	}
	body, err := encodeRecord(rec)
	if err != nil {
		return fmt.Errorf("put pending: %w", err)
	}
	snap, err := s.describe(ctx)
	if err != nil {
		return fmt.Errorf("put pending: %w", err)
	}
	if other := snap.holder[rotator.StagePending]; other != "" && other != id && other != snap.holder[rotator.StageCurrent] {
		// Persisting the new value wins: it is shown only once.
		s.log.Warn("moving AWSPENDING off another rotation's version", zap.String("rotation_id", id), zap.String("version_id", other))
	}
	if err := s.ensureCurrent(ctx, snap, id, rotator.StageCurrent); err != nil {
		return fmt.Errorf("put pending: %w", err)
	}
	out, err := s.api.PutSecretValue(ctx, &sm.PutSecretValueInput{
		SecretId:           aws.String(s.secretID),
		ClientRequestToken: aws.String(id),
		SecretString:       aws.String(body),
		VersionStages:      []string{rotator.StagePending}, // never omit: AWSCURRENT would move
	})
	if err != nil {
		if errorCode(err) == "ResourceExistsException" {
			return fmt.Errorf("put pending: rotation %s already has a different value recorded: %w", id, wrapErr("PutSecretValue", s.secretID, err))
		}
		return fmt.Errorf("put pending: %w", wrapErr("PutSecretValue", s.secretID, err))
	}
	s.log.Info("recorded pending token", zap.String("rotation_id", id), zap.String("token_id", rec.ID),
		zap.Strings("stages", out.VersionStages))
	return nil
}

// SaveProgress writes p as a new progress version carrying
// SCIMROTATOR_PROGRESS, unless it equals the recorded progress.
func (s *Store) SaveProgress(ctx context.Context, p rotator.Progress) error {
	body, err := json.Marshal(progressRecord{Kind: kindProgress, Progress: p})
	if err != nil {
		return fmt.Errorf("save progress: %w", err)
	}
	s.mu.Lock()
	same, known := bytes.Equal(body, s.lastProgress), s.lastProgress != nil
	s.mu.Unlock()
	if same {
		return nil
	}
	if !known {
		if done, err := s.prepareProgress(ctx, p, body); err != nil || done {
			return err
		}
	}
	// Otherwise this process read or wrote the progress version and, holding
	// the lock, is its only writer: the secret has a current version and the
	// progress differs, so the write is all that is needed.
	//
	// A fresh VersionId per write; the SDK reuses it across its retries, so
	// an answer lost in transit does not make two versions.
	vid := uuid.NewString()
	if _, err := s.api.PutSecretValue(ctx, &sm.PutSecretValueInput{
		SecretId:           aws.String(s.secretID),
		ClientRequestToken: aws.String(vid),
		SecretString:       aws.String(string(body)),
		VersionStages:      []string{StageProgress},
	}); err != nil {
		return fmt.Errorf("save progress: %w", wrapErr("PutSecretValue", s.secretID, err))
	}
	s.setLastProgress(body)
	s.log.Debug("saved progress", zap.String("rotation_id", p.RotationID), zap.String("phase", string(p.Phase)), zap.String("version_id", vid))
	return nil
}

// prepareProgress readies a first progress write of this process: done when
// the recorded progress already equals body; a secret with no version gets
// its placeholder current version first.
func (s *Store) prepareProgress(ctx context.Context, p rotator.Progress, body []byte) (done bool, err error) {
	snap, err := s.describe(ctx)
	if err != nil {
		return false, fmt.Errorf("save progress: %w", err)
	}
	if id := snap.holder[StageProgress]; id != "" {
		out, err := s.api.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(s.secretID), VersionId: aws.String(id)})
		if err != nil {
			return false, fmt.Errorf("save progress: %w", wrapErr("GetSecretValue", s.secretID, err))
		}
		if aws.ToString(out.SecretString) == string(body) {
			s.setLastProgress(body)
			return true, nil
		}
	}
	if err := s.ensureCurrent(ctx, snap, p.RotationID+"/progress", rotator.StageCurrent); err != nil {
		return false, fmt.Errorf("save progress: %w", err)
	}
	return false, nil
}

func (s *Store) setLastProgress(b []byte) {
	s.mu.Lock()
	s.lastProgress = b
	s.mu.Unlock()
}

func has(snap *snapshot, versionID, label string) bool {
	return slices.Contains(snap.stages[versionID], label)
}

// moveStage runs UpdateSecretVersionStage. When the call fails (an answer
// lost after the work was done, a retry refused because the label already
// moved), it reads the labels again and succeeds if done() now holds.
func (s *Store) moveStage(ctx context.Context, in *sm.UpdateSecretVersionStageInput, done func(*snapshot) bool) error {
	in.SecretId = aws.String(s.secretID)
	_, err := s.api.UpdateSecretVersionStage(ctx, in)
	if err == nil {
		return nil
	}
	werr := wrapErr("UpdateSecretVersionStage", s.secretID, err)
	if snap, derr := s.describe(ctx); derr == nil && done(snap) {
		s.log.Info("label move reported an error but is done", zap.String("stage", aws.ToString(in.VersionStage)), zap.String("code", errorCode(err)))
		return nil
	}
	return werr
}

// Promote makes rotation id's pending version current (AWSPREVIOUS follows
// the old current version), then removes AWSPENDING from it. Idempotent.
func (s *Store) Promote(ctx context.Context, id string) error {
	snap, err := s.describe(ctx)
	if err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	cur := snap.holder[rotator.StageCurrent]
	if cur != id {
		if !has(snap, id, rotator.StagePending) {
			return fmt.Errorf("promote: secret %s has no pending version %s (its labels: %s)", s.secretID, id, strings.Join(snap.stages[id], ", "))
		}
		in := &sm.UpdateSecretVersionStageInput{VersionStage: aws.String(rotator.StageCurrent), MoveToVersionId: aws.String(id)}
		if cur != "" {
			in.RemoveFromVersionId = aws.String(cur)
		}
		if err := s.moveStage(ctx, in, func(n *snapshot) bool { return n.holder[rotator.StageCurrent] == id }); err != nil {
			return fmt.Errorf("promote: %w", err)
		}
		s.log.Info("promoted pending version to current", zap.String("rotation_id", id), zap.String("previous_version_id", cur))
	}
	return s.removePending(ctx, snap, id, "promote")
}

// removePending removes AWSPENDING from version id if snap shows it there.
func (s *Store) removePending(ctx context.Context, snap *snapshot, id, what string) error {
	if !has(snap, id, rotator.StagePending) {
		return nil
	}
	err := s.moveStage(ctx, &sm.UpdateSecretVersionStageInput{
		VersionStage:        aws.String(rotator.StagePending),
		RemoveFromVersionId: aws.String(id),
	}, func(n *snapshot) bool { return !has(n, id, rotator.StagePending) })
	if err != nil {
		return fmt.Errorf("%s: remove AWSPENDING: %w", what, err)
	}
	return nil
}

// DiscardPending removes AWSPENDING from rotation id's version; the version
// itself stays (deprecated) until Secrets Manager deletes it. Idempotent.
func (s *Store) DiscardPending(ctx context.Context, id string) error {
	snap, err := s.describe(ctx)
	if err != nil {
		return fmt.Errorf("discard pending: %w", err)
	}
	if snap.holder[rotator.StageCurrent] == id && has(snap, id, rotator.StagePending) {
		return fmt.Errorf("discard pending: version %s is already current; promote it instead", id)
	}
	if err := s.removePending(ctx, snap, id, "discard pending"); err != nil {
		return err
	}
	s.log.Info("discarded pending version", zap.String("rotation_id", id))
	return nil
}

// PutCurrent records rec as current outside a rotation, as a new version;
// a no-op if the current version already holds exactly rec.
func (s *Store) PutCurrent(ctx context.Context, rec rotator.Record) error {
	body, err := encodeRecord(rec)
	if err != nil {
		return fmt.Errorf("put current: %w", err)
	}
	out, err := s.api.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(s.secretID), VersionStage: aws.String(rotator.StageCurrent)})
	switch {
	case err == nil && aws.ToString(out.SecretString) == body:
		s.log.Info("current version already holds this token", zap.String("token_id", rec.ID))
		return nil
	case err != nil && errorCode(err) != "ResourceNotFoundException":
		return fmt.Errorf("put current: %w", wrapErr("GetSecretValue", s.secretID, err))
	}
	vid := uuid.NewString()
	if _, err := s.api.PutSecretValue(ctx, &sm.PutSecretValueInput{
		SecretId:           aws.String(s.secretID),
		ClientRequestToken: aws.String(vid),
		SecretString:       aws.String(body),
		VersionStages:      []string{rotator.StageCurrent},
	}); err != nil {
		return fmt.Errorf("put current: %w", wrapErr("PutSecretValue", s.secretID, err))
	}
	s.log.Info("recorded current token", zap.String("token_id", rec.ID), zap.String("version_id", vid))
	return nil
}

// RevealHint is the AWS CLI command that prints the token held under stage.
func (s *Store) RevealHint(stage string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "aws secretsmanager get-secret-value --secret-id %s --version-stage %s --region %s%s", s.secretID, stage, s.region, endpointFlag(s.endpoint))
	b.WriteString(" --query SecretString --output text | jq -r .token")
	return b.String()
}

// endpointFlag is the AWS CLI flag naming endpoint, empty when unset.
func endpointFlag(endpoint string) string {
	if endpoint == "" {
		return ""
	}
	return " --endpoint-url " + endpoint
}

const storeSystem = "secretsmanager-store"

func (s *Store) iamFix(cmk bool) string {
	fix := "allow secretsmanager:DescribeSecret, GetSecretValue, PutSecretValue, UpdateSecretVersionStage and ListSecretVersionIds on " + s.secretID
	if cmk {
		fix += "; the secret uses a customer managed KMS key: also allow kms:Decrypt and kms:GenerateDataKey on it (via secretsmanager." + s.region + ".amazonaws.com)"
	}
	return fix
}

// Check runs read-only calls: DescribeSecret, then reading the current
// version when there is one.
func (s *Store) Check(ctx context.Context) []rotator.CheckResult {
	res := rotator.CheckResult{System: storeSystem, Name: "describe secret " + s.secretID, Level: rotator.LevelFail}
	out, err := s.api.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(s.secretID)})
	if err != nil {
		res.Detail = wrapErr("DescribeSecret", s.secretID, err).Error()
		if errorCode(err) == "ResourceNotFoundException" {
			res.Fix = "create the secret: aws secretsmanager create-secret --name " + s.secretID + " --region " + s.region + endpointFlag(s.endpoint)
		} else {
			res.Fix = s.iamFix(false)
		}
		return []rotator.CheckResult{res}
	}
	cmk := aws.ToString(out.KmsKeyId) != "" && !strings.HasSuffix(aws.ToString(out.KmsKeyId), "alias/aws/secretsmanager")
	res.Level = rotator.LevelOK
	res.Detail = fmt.Sprintf("%s, %d labelled versions", aws.ToString(out.ARN), len(out.VersionIdsToStages))
	results := []rotator.CheckResult{res}

	read := rotator.CheckResult{System: storeSystem, Name: "read current version", Level: rotator.LevelFail}
	var cur string
	for id, labels := range out.VersionIdsToStages {
		if slices.Contains(labels, rotator.StageCurrent) {
			cur = id
		}
	}
	if cur == "" {
		read.Level = rotator.LevelOK
		read.Detail = "no version yet; " + s.stageHint() + " or let the first rotation create one"
		return append(results, read)
	}
	gv, err := s.api.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(s.secretID), VersionId: aws.String(cur)})
	if err != nil {
		read.Detail = wrapErr("GetSecretValue", s.secretID, err).Error()
		read.Fix = s.iamFix(cmk)
		return append(results, read)
	}
	v, err := decode(cur, gv.SecretString)
	switch {
	case err != nil:
		read.Detail = err.Error()
		read.Fix = s.stageHint()
	case v.kind == kindToken:
		read.Level = rotator.LevelOK
		read.Detail = fmt.Sprintf("current token %s (version %s)", v.record.ID, cur)
	case v.kind == kindNone || v.kind == kindProgress || v.kind == kindLock:
		read.Level = rotator.LevelOK
		read.Detail = "no token recorded as current yet"
	default:
		read.Detail = fmt.Sprintf("the current version %s is %v", cur, ErrNotRecord)
		read.Fix = s.stageHint()
	}
	return append(results, read)
}

// Status lists the secret's labelled versions, the recorded progress and the
// lock.
func (s *Store) Status(ctx context.Context) (rotator.SystemStatus, error) {
	snap, err := s.load(ctx)
	if err != nil {
		return rotator.SystemStatus{}, err
	}
	lock, err := s.lockHolder(ctx, snap)
	if err != nil {
		return rotator.SystemStatus{}, err
	}
	// The versions themselves are in the report's storeVersions, the
	// progress in its rotation.
	st := rotator.SystemStatus{System: storeSystem}
	add := func(k string, v any) { st.Fields = append(st.Fields, rotator.Field{Key: k, Value: v}) }
	add("secretArn", snap.arn)
	add("lastChanged", snap.lastChanged)
	add("labelledVersions", len(snap.versions))
	// A current version that is no scim-rotator record is worth a field:
	// rotations refuse to touch it.
	foreign := false
	for _, v := range snap.versions {
		c := snap.contents[v.ID]
		foreign = foreign || slices.Contains(v.Stages, rotator.StageCurrent) && c.kind != kindToken && c.kind != kindProgress && c.kind != kindNone && c.kind != kindLock
	}
	add("currentIsRecord", !foreign)
	add("lock", describeLock(lock))
	return st, nil
}
