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
//     AWSCURRENT moves. An AWSPENDING left on the AWSCURRENT version is the
//     tail of a promotion: the next rotation's pending token takes the label.
//   - PutSecretValue always names its stage: without VersionStages Secrets
//     Manager moves AWSCURRENT to the new version at once.
//   - The rotation's state is one more version, the state record (state.go):
//     the rotation's progress and the lease of the run acting on it, under
//     the custom label SCIMROTATOR_STATE. It holds no token.
//   - Versions never change, so what this store read or wrote is cached by
//     VersionId, and the labels it last saw (or moved) are kept: a run reads
//     the secret once, and writes without reading it again.
//
// Every write is a new version, which Secrets Manager keeps for at least 24
// hours; past 100 versions it removes only unlabelled ones older than that,
// and a secret with more than 100 it cannot remove takes no new version
// (LimitExceededException). A rotation writes about six (its start, the
// pending token, one per target before its push, the lease taken again after
// a long wait, its end); runs with nothing to do, and waits, write none.
//
// Secrets Manager attaches AWSCURRENT to the first version of a secret
// whatever VersionStages says: on an empty secret that is the first state
// record, read as "no current token". A current value that is not a
// scim-rotator record (the secret held the token before scim-rotator did) is
// an error telling the user to record the live token with `scim-rotator
// stage --current`.

import (
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

	"github.com/scim-rotator/scim-rotator/adapters/internal/awsbase"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// Kinds of version this package writes.
const (
	kindToken = "scim-rotator/token"
	kindState = "scim-rotator/state"
	kindNone  = "scim-rotator/none"
	// Written by earlier versions of scim-rotator (a version per progress
	// write and per lock renewal); read when no state record exists yet.
	kindProgress = "scim-rotator/progress"
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

	mu sync.Mutex
	// labels is label -> versionId as last read, updated by this store's
	// own writes.
	labels map[string]string
	// cache holds the decoded content of the versions read or written.
	cache map[string]version
	// base is the state record this store last read or wrote: what Hold
	// compares against ("" when the secret had none).
	base string
	// loaded: labels were read at least once.
	loaded bool
	// listed is every version (deprecated ones too) as the last listing
	// of the labels showed them; nil once this store wrote since.
	listed []rotator.VersionInfo
	// clock times the labels' reads (readAt): a state write trusts the
	// label it read for a bounded time only (state.go).
	clock  rotator.Clock
	readAt time.Time
}

var (
	_ rotator.Store         = (*Store)(nil)
	_ rotator.Inspector     = (*Store)(nil)
	_ rotator.VersionLister = (*Store)(nil)
	_ rotator.VersionQuota  = (*Store)(nil)
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
	s := newStore(c, cfg, opts.logger())
	if opts.Clock != nil {
		s.clock = opts.Clock
	}
	return s, nil
}

func newStore(c api, cfg config.Store, log *zap.Logger) *Store {
	return &Store{api: c, secretID: cfg.SecretID, region: cfg.Region, endpoint: cfg.Endpoint, clock: rotator.RealClock{},
		log: log.With(zap.String("secret", cfg.SecretID)), labels: map[string]string{}, cache: map[string]version{}}
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
	kind   string // kindToken, kindState, kindNone, a legacy kind, or "" (not ours)
	record *rotator.Record
	state  *stateRecord // kindState; a legacy progress or lock record as one
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
	case kindState, kindProgress, kindLock:
		st, err := decodeState(head.Kind, *s)
		if err != nil {
			return version{}, fmt.Errorf("version %s: malformed %s record", versionID, head.Kind)
		}
		return version{kind: head.Kind, state: st}, nil
	case kindNone:
		return version{kind: kindNone}, nil
	}
	return version{}, nil
}

// snapshot is what one DescribeSecret showed.
type snapshot struct {
	arn         string
	lastChanged time.Time
	stages      map[string][]string // versionId -> labels
	holder      map[string]string   // label -> versionId
}

func (s *Store) describe(ctx context.Context) (*snapshot, error) {
	out, err := s.api.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(s.secretID)})
	if err != nil {
		return nil, wrapErr("DescribeSecret", s.secretID, err)
	}
	snap := &snapshot{arn: aws.ToString(out.ARN), lastChanged: aws.ToTime(out.LastChangedDate),
		stages: out.VersionIdsToStages, holder: map[string]string{}}
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

// read returns version id's content, from the cache when this store has
// read or written it before.
func (s *Store) read(ctx context.Context, id string) (version, error) {
	s.mu.Lock()
	v, ok := s.cache[id]
	s.mu.Unlock()
	if ok {
		return v, nil
	}
	out, err := s.api.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(s.secretID), VersionId: aws.String(id)})
	if err != nil {
		return version{}, wrapErr("GetSecretValue", s.secretID, err)
	}
	v, err = decode(id, out.SecretString)
	if err != nil {
		return version{}, fmt.Errorf("secret %s: %w", s.secretID, err)
	}
	s.remember(id, v)
	return v, nil
}

func (s *Store) remember(id string, v version) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cache[id] = v
}

// wrote notes a version this store wrote: the listing is out of date.
func (s *Store) wrote(id string, v version) {
	s.remember(id, v)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listed = nil
}

// observe reads the labels and keeps them, forgetting cached versions no
// label names any more. It lists the versions (ListSecretVersionIds with
// IncludeDeprecated: the labels of each, and their creation times), so the
// run's headroom check (Quota) needs no call of its own.
func (s *Store) observe(ctx context.Context) (*snapshot, error) {
	snap, all, err := s.list(ctx)
	if err != nil {
		return nil, err
	}
	s.keep(snap)
	s.mu.Lock()
	s.listed = all
	s.mu.Unlock()
	return snap, nil
}

// keep makes snap's labels the ones this store knows.
func (s *Store) keep(snap *snapshot) {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.labels, s.loaded, s.readAt = snap.holder, true, now
	for id := range s.cache {
		if _, ok := snap.stages[id]; !ok {
			delete(s.cache, id)
		}
	}
}

// list reads every version of the secret, deprecated ones included, page by
// page (at most 100 a page, as documented): the labels as a snapshot (its
// lastChanged unknown), and each version's labels and creation time.
func (s *Store) list(ctx context.Context) (*snapshot, []rotator.VersionInfo, error) {
	snap := &snapshot{stages: map[string][]string{}, holder: map[string]string{}}
	all := []rotator.VersionInfo{}
	in := &sm.ListSecretVersionIdsInput{SecretId: aws.String(s.secretID), IncludeDeprecated: aws.Bool(true), MaxResults: aws.Int32(100)}
	for {
		page, err := s.api.ListSecretVersionIds(ctx, in)
		if err != nil {
			return nil, nil, wrapErr("ListSecretVersionIds", s.secretID, err)
		}
		snap.arn = aws.ToString(page.ARN)
		for _, v := range page.Versions {
			id := aws.ToString(v.VersionId)
			all = append(all, rotator.VersionInfo{ID: id, Stages: v.VersionStages, Created: aws.ToTime(v.CreatedDate)})
			if len(v.VersionStages) == 0 {
				continue
			}
			snap.stages[id] = v.VersionStages
			for _, l := range v.VersionStages {
				snap.holder[l] = id
			}
		}
		if page.NextToken == nil {
			return snap, all, nil
		}
		in.NextToken = page.NextToken
	}
}

// Secrets Manager's version quota (documented): past smQuota versions it
// removes unlabelled ones, but none younger than smKeep, and takes no new
// version when it cannot remove one.
const (
	smQuota = 100
	smKeep  = 24 * time.Hour
)

// Quota is every version against Secrets Manager's quota, as this run's
// Load listed them (rotator.VersionQuota): no call of its own unless this
// store has written since, or read nothing yet.
func (s *Store) Quota(ctx context.Context) (rotator.Quota, error) {
	s.mu.Lock()
	vs := s.listed
	s.mu.Unlock()
	if vs == nil {
		if _, err := s.observe(ctx); err != nil {
			return rotator.Quota{}, err
		}
		s.mu.Lock()
		vs = s.listed
		s.mu.Unlock()
	}
	return rotator.Quota{Name: "secret " + s.secretID, Limit: smQuota, Keep: smKeep, Versions: slices.Clone(vs),
		Hint: fmt.Sprintf("something else writes this secret: find it in CloudTrail (PutSecretValue on %s) and stop it, or wait for its versions to age out", s.secretID)}, nil
}

// known reads the labels unless this store has (its writes follow a Load in
// every run; this is for callers that write first).
func (s *Store) known(ctx context.Context) error {
	s.mu.Lock()
	loaded := s.loaded
	s.mu.Unlock()
	if loaded {
		return nil
	}
	snap, err := s.observe(ctx)
	if err != nil {
		return err
	}
	_, base, err := s.loadState(ctx, snap)
	s.mu.Lock()
	s.base = base
	s.mu.Unlock()
	return err
}

// at is the version carrying label as this store last saw it.
func (s *Store) at(label string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.labels[label]
}

// moved notes a label this store moved (to "" when removed).
func (s *Store) moved(label, to string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listed = nil
	if to == "" {
		delete(s.labels, label)
	} else {
		s.labels[label] = to
	}
}

func (s *Store) stageHint() string {
	return "record the live token with `scim-rotator stage --current --token-id ID --token-file FILE`"
}

// Load reads the whole record: the labels, then the current, pending and
// state versions (each read once per process: versions never change). A
// secret with no versions gives a zero StoreState.
func (s *Store) Load(ctx context.Context) (rotator.StoreState, error) {
	snap, err := s.observe(ctx)
	if err != nil {
		return rotator.StoreState{}, err
	}
	var st rotator.StoreState
	if cur := snap.holder[rotator.StageCurrent]; cur != "" {
		c, err := s.read(ctx, cur)
		if err != nil {
			return rotator.StoreState{}, err
		}
		switch c.kind {
		case kindToken:
			st.Current = c.record
		case kindNone, kindState, kindProgress, kindLock:
			// No token recorded as current yet.
		default:
			return rotator.StoreState{}, fmt.Errorf("secret %s: the current version %s is %w: %s", s.secretID, cur, ErrNotRecord, s.stageHint())
		}
	}
	if p := snap.holder[rotator.StagePending]; p != "" && p != snap.holder[rotator.StageCurrent] {
		c, err := s.read(ctx, p)
		if err != nil {
			return rotator.StoreState{}, err
		}
		if c.kind != kindToken {
			return rotator.StoreState{}, fmt.Errorf("secret %s: the pending version %s is %w", s.secretID, p, ErrNotRecord)
		}
		st.Pending = c.record
	}
	rec, base, err := s.loadState(ctx, snap)
	if err != nil {
		return rotator.StoreState{}, err
	}
	s.mu.Lock()
	s.base = base
	s.mu.Unlock()
	st.Progress = rec.Rotation
	st.Lock = rec.lock(base, slices.Contains(snap.stages[base], StageReleased))
	return st, nil
}

// ensureCurrent gives a secret with no current version a placeholder one, so
// that a pending token is never current by being the secret's first version.
func (s *Store) ensureCurrent(ctx context.Context, seed string) error {
	if s.at(rotator.StageCurrent) != "" {
		return nil
	}
	// Rare (a first write on an empty secret is a state record, which
	// becomes current): make sure from a fresh read before moving AWSCURRENT.
	if _, err := s.observe(ctx); err != nil || s.at(rotator.StageCurrent) != "" {
		return err
	}
	id := uuid.NewSHA1(placeholderNS, []byte(seed)).String()
	if _, err := s.api.PutSecretValue(ctx, &sm.PutSecretValueInput{
		SecretId:           aws.String(s.secretID),
		ClientRequestToken: aws.String(id),
		SecretString:       aws.String(placeholderValue),
		VersionStages:      []string{rotator.StageCurrent},
	}); err != nil {
		return wrapErr("PutSecretValue", s.secretID, err)
	}
	s.moved(rotator.StageCurrent, id)
	s.log.Info("secret had no current version: wrote a placeholder", zap.String("version_id", id))
	return nil
}

// put writes value as a new version labelled stage, and remembers it.
func (s *Store) put(ctx context.Context, id, value string, v version, stage string) error {
	out, err := s.api.PutSecretValue(ctx, &sm.PutSecretValueInput{
		SecretId:           aws.String(s.secretID),
		ClientRequestToken: aws.String(id),
		SecretString:       aws.String(value),
		VersionStages:      []string{stage}, // never omit: AWSCURRENT would move
	})
	if err != nil {
		return s.putErr(ctx, err)
	}
	s.wrote(id, v)
	for _, l := range out.VersionStages {
		s.moved(l, id) // AWSCURRENT too, on a secret's first version
	}
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
	if err := s.known(ctx); err != nil {
		return fmt.Errorf("put pending: %w", err)
	}
	if err := s.ensureCurrent(ctx, id); err != nil {
		return fmt.Errorf("put pending: %w", err)
	}
	rec.VersionID = id
	if err := s.put(ctx, id, body, version{kind: kindToken, record: &rec}, rotator.StagePending); err != nil {
		if awsbase.Code(err) == "ResourceExistsException" {
			return fmt.Errorf("put pending: rotation %s already has a different value recorded: %w", id, err)
		}
		return fmt.Errorf("put pending: %w", err)
	}
	s.log.Info("recorded pending token", zap.String("rotation_id", id), zap.String("token_id", rec.ID))
	return nil
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
		s.log.Info("label move reported an error but is done", zap.String("stage", aws.ToString(in.VersionStage)), zap.String("code", awsbase.Code(err)))
		return nil
	}
	return werr
}

// Promote makes rotation id's pending version current (AWSPREVIOUS follows
// the old current version). AWSPENDING stays on it until the next rotation's
// pending token takes the label. Idempotent.
func (s *Store) Promote(ctx context.Context, id string) error {
	if err := s.known(ctx); err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	cur := s.at(rotator.StageCurrent)
	if cur == id {
		return nil
	}
	if s.at(rotator.StagePending) != id {
		return fmt.Errorf("promote: secret %s has no pending version %s", s.secretID, id)
	}
	in := &sm.UpdateSecretVersionStageInput{VersionStage: aws.String(rotator.StageCurrent), MoveToVersionId: aws.String(id)}
	if cur != "" {
		in.RemoveFromVersionId = aws.String(cur)
	}
	if err := s.moveStage(ctx, in, func(n *snapshot) bool { return n.holder[rotator.StageCurrent] == id }); err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	s.moved(rotator.StageCurrent, id)
	s.moved(rotator.StagePrevious, cur)
	s.log.Info("promoted pending version to current", zap.String("rotation_id", id), zap.String("previous_version_id", cur))
	return nil
}

// DiscardPending removes AWSPENDING from rotation id's version; the version
// itself stays (deprecated) until Secrets Manager deletes it. Idempotent.
func (s *Store) DiscardPending(ctx context.Context, id string) error {
	if err := s.known(ctx); err != nil {
		return fmt.Errorf("discard pending: %w", err)
	}
	if s.at(rotator.StagePending) != id {
		return nil
	}
	if s.at(rotator.StageCurrent) == id {
		return fmt.Errorf("discard pending: version %s is already current; promote it instead", id)
	}
	err := s.moveStage(ctx, &sm.UpdateSecretVersionStageInput{
		VersionStage:        aws.String(rotator.StagePending),
		RemoveFromVersionId: aws.String(id),
	}, func(n *snapshot) bool { return n.holder[rotator.StagePending] != id })
	if err != nil {
		return fmt.Errorf("discard pending: remove AWSPENDING: %w", err)
	}
	s.moved(rotator.StagePending, "")
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
	if err := s.known(ctx); err != nil {
		return fmt.Errorf("put current: %w", err)
	}
	if cur := s.at(rotator.StageCurrent); cur != "" {
		v, err := s.read(ctx, cur)
		if err == nil && v.record != nil {
			if b, _ := encodeRecord(*v.record); b == body {
				s.log.Info("current version already holds this token", zap.String("token_id", rec.ID))
				return nil
			}
		}
	}
	vid := uuid.NewString()
	rec.VersionID = vid
	if err := s.put(ctx, vid, body, version{kind: kindToken, record: &rec}, rotator.StageCurrent); err != nil {
		return fmt.Errorf("put current: %w", err)
	}
	s.log.Info("recorded current token", zap.String("token_id", rec.ID), zap.String("version_id", vid))
	return nil
}

// ListVersions lists the secret's labelled versions, oldest first, for
// `status`.
func (s *Store) ListVersions(ctx context.Context) ([]rotator.VersionInfo, error) {
	var out []rotator.VersionInfo
	in := &sm.ListSecretVersionIdsInput{SecretId: aws.String(s.secretID)}
	for {
		page, err := s.api.ListSecretVersionIds(ctx, in)
		if err != nil {
			return nil, wrapErr("ListSecretVersionIds", s.secretID, err)
		}
		for _, v := range page.Versions {
			id := aws.ToString(v.VersionId)
			vi := rotator.VersionInfo{ID: id, Stages: v.VersionStages, Created: aws.ToTime(v.CreatedDate)}
			s.mu.Lock()
			if c, ok := s.cache[id]; ok && c.record != nil {
				vi.TokenID = c.record.ID
			}
			s.mu.Unlock()
			out = append(out, vi)
		}
		if page.NextToken == nil {
			break
		}
		in.NextToken = page.NextToken
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// RevealHint is the AWS CLI command that prints the token held under stage.
func (s *Store) RevealHint(stage string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "aws secretsmanager get-secret-value --secret-id %s --version-stage %s --region %s%s", s.secretID, stage, s.region, endpointFlag(s.endpoint))
	b.WriteString(" --query SecretString --output text | jq -r .token")
	return b.String()
}

// whereText names a region and, when set, an endpoint for a hint.
func whereText(region, endpoint string) string {
	if endpoint == "" {
		return "the region (" + region + ")"
	}
	return "the region (" + region + ") and endpoint (" + endpoint + ")"
}

// endpointFlag is the AWS CLI flag naming endpoint, empty when unset.
func endpointFlag(endpoint string) string {
	if endpoint == "" {
		return ""
	}
	return " --endpoint-url " + endpoint
}

const storeSystem = "secretsmanager-store"

// where names the store's region and endpoint for a hint.
func (s *Store) where() string { return whereText(s.region, s.endpoint) }

func (s *Store) iamFix(cmk bool) string {
	fix := "allow secretsmanager:DescribeSecret, GetSecretValue, PutSecretValue, UpdateSecretVersionStage and ListSecretVersionIds on " + s.secretID
	if cmk {
		fix += "; the secret uses a customer managed KMS key: also allow kms:Decrypt and kms:GenerateDataKey on it (via secretsmanager." + s.region + "." + config.AWSDomain(s.region) + ")"
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
		if awsbase.Code(err) == "ResourceNotFoundException" {
			res.Fix = "create the secret: aws secretsmanager create-secret --name " + s.secretID + " --region " + s.region + endpointFlag(s.endpoint)
		} else {
			res.Fix = fixFor(err, "Secrets Manager", s.iamFix(false), s.where())
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
		err = wrapErr("GetSecretValue", s.secretID, err)
		read.Detail = err.Error()
		read.Fix = fixFor(err, "Secrets Manager", s.iamFix(cmk), s.where())
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
	case v.kind == kindNone || v.kind == kindState || v.kind == kindProgress || v.kind == kindLock:
		read.Level = rotator.LevelOK
		read.Detail = "no token recorded as current yet"
	default:
		read.Detail = fmt.Sprintf("the current version %s is %v", cur, ErrNotRecord)
		read.Fix = s.stageHint()
	}
	return append(results, read)
}

// Status describes the secret and the lease; the versions themselves are
// in the report's storeVersions (ListVersions), the progress in its
// rotation.
func (s *Store) Status(ctx context.Context) (rotator.SystemStatus, error) {
	snap, err := s.describe(ctx) // its last change, which a listing lacks
	if err != nil {
		return rotator.SystemStatus{}, err
	}
	s.keep(snap)
	rec, base, err := s.loadState(ctx, snap)
	if err != nil {
		return rotator.SystemStatus{}, err
	}
	st := rotator.SystemStatus{System: storeSystem}
	add := func(k string, v any) { st.Fields = append(st.Fields, rotator.Field{Key: k, Value: v}) }
	add("secretArn", snap.arn)
	add("lastChanged", snap.lastChanged)
	add("labelledVersions", len(snap.stages))
	// A current version that is no scim-rotator record is worth a field:
	// rotations refuse to touch it.
	foreign := false
	if cur := snap.holder[rotator.StageCurrent]; cur != "" {
		c, err := s.read(ctx, cur)
		foreign = err != nil || c.kind == ""
	}
	add("currentIsRecord", !foreign)
	add("lock", describeLock(rec.lock(base, slices.Contains(snap.stages[base], StageReleased))))
	return st, nil
}
