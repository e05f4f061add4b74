package sandbox

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Wire details of Secrets Manager (documented: AWS JSON 1.1, target prefix
// "secretsmanager.", SigV4 signing name "secretsmanager").
const (
	smSigningName  = "secretsmanager"
	smTargetPrefix = "secretsmanager."
	smContentType  = "application/x-amz-json-1.1"
	smAccountID    = "123456789012"
	smCurrent      = "AWSCURRENT"
	smPrevious     = "AWSPREVIOUS"
)

// SecretsManager fakes AWS Secrets Manager (POST /, AWS JSON 1.1,
// X-Amz-Target "secretsmanager.<Op>", SigV4 signing name "secretsmanager") with
// the real staging-label semantics:
//
//   - PutSecretValue without VersionStages attaches AWSCURRENT; the first
//     version of a secret always gets AWSCURRENT, whatever VersionStages says.
//   - A label is unique per secret: attaching it to a version removes it from
//     the version that held it.
//   - When AWSCURRENT moves off a version, AWSPREVIOUS moves to that version.
//   - ClientRequestToken (32-64 characters) is required by PutSecretValue (the
//     SDK fills it in); it becomes the VersionId. Same token and same value is
//     a no-op answering the existing version; same token and another value is
//     ResourceExistsException.
//   - UpdateSecretVersionStage refuses (InvalidParameterException) to move a
//     label held by another version unless RemoveFromVersionId names that
//     version, and refuses a RemoveFromVersionId that does not hold the label
//     (a compare-and-swap: every request runs under one mutex, so concurrent
//     moves race as they would against the real service).
//   - Versions with no label are deprecated: left out of DescribeSecret and of
//     ListSecretVersionIds unless IncludeDeprecated, still readable by
//     VersionId. ListSecretVersionIds answers VersionId, VersionStages (absent
//     when none) and CreatedDate per version, at most MaxResults (1 to 100,
//     default 100) a page, with a NextToken while more remain (SetPageSize
//     serves smaller pages, as the service may).
//   - The version quota, as documented: Secrets Manager removes unlabelled
//     versions when a secret has more than 100, but never one created less
//     than 24 hours ago (by the fake's clock). A PutSecretValue that would
//     leave a secret with more than 100 versions none of which can go is
//     refused with LimitExceededException (its text INFERRED); nothing
//     changes then.
//
// Secrets are found by name, by full ARN, or by ARN without the random
// six-character suffix.
//
// Operation names for Faults:
//
//	secretsmanager:CreateSecret
//	secretsmanager:DescribeSecret
//	secretsmanager:GetSecretValue
//	secretsmanager:PutSecretValue
//	secretsmanager:UpdateSecretVersionStage
//	secretsmanager:ListSecretVersionIds
//
// Any other X-Amz-Target is recorded as "secretsmanager:<Op>" and answered
// UnknownOperationException.
type SecretsManager struct {
	owner
	faults *Faults
	region string
	now    func() time.Time

	mu      sync.Mutex
	secrets map[string]*smSecret // by name
	// pageSize, when set, caps ListSecretVersionIds' pages below
	// MaxResults, as the service may ("might return fewer results than the
	// maximum even when there are more results available").
	pageSize int
}

// SetPageSize makes ListSecretVersionIds answer at most n versions a page
// whatever MaxResults asks (0: MaxResults, default 100), so that clients
// are seen to follow NextToken.
func (sm *SecretsManager) SetPageSize(n int) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	sm.pageSize = n
}

type smSecret struct {
	name        string
	arn         string
	created     time.Time
	lastChanged time.Time
	versions    []*smVersion // in creation order
	// written is when every version ever created was (removed ones too),
	// and refused counts the PutSecretValue calls the quota refused.
	written []time.Time
	refused int
}

// The version quota (documented): more than smMaxVersions versions are
// trimmed to it, removing only unlabelled ones at least smKeepVersions old.
const (
	smMaxVersions  = 100
	smKeepVersions = 24 * time.Hour
)

type smVersion struct {
	id      string
	str     *string
	bin     []byte
	stages  []string
	created time.Time
}

// NewSecretsManager returns an empty fake for region. faults may be nil. now
// is the fake's clock for CreatedDate and friends (nil: time.Now).
func NewSecretsManager(faults *Faults, region string, now func() time.Time) *SecretsManager {
	if now == nil {
		now = time.Now
	}
	return &SecretsManager{faults: faults, region: region, now: now, secrets: map[string]*smSecret{}}
}

// CreateSecret creates an empty secret (no version) for test setup and
// returns its ARN. It is a no-op returning the ARN if the secret exists.
func (sm *SecretsManager) CreateSecret(name string) string {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if s, ok := sm.secrets[name]; ok {
		return s.arn
	}
	return sm.createLocked(name).arn
}

// Put adds a version holding value to secret as PutSecretValue would (no
// stages: AWSCURRENT) and returns its version id. For test setup, e.g. a
// value that is not a scim-rotator record. It creates the secret if needed.
func (sm *SecretsManager) Put(secret, value string, stages ...string) string {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	s := sm.findLocked(secret)
	if s == nil {
		s = sm.createLocked(secret)
	}
	var st []string
	if len(stages) > 0 {
		st = stages
	}
	v := &smVersion{id: smUUID(), str: &value, created: sm.now()}
	sm.addVersionLocked(s, v, st)
	return v.id
}

// Stages returns versionId -> staging labels of every labelled version of
// secret (nil if the secret does not exist).
func (sm *SecretsManager) Stages(secret string) map[string][]string {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	s := sm.findLocked(secret)
	if s == nil {
		return nil
	}
	return s.stagesMap()
}

// Value returns the SecretString of the version of secret labelled stage.
func (sm *SecretsManager) Value(secret, stage string) (string, bool) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	s := sm.findLocked(secret)
	if s == nil {
		return "", false
	}
	v := s.byStage(stage)
	if v == nil || v.str == nil {
		return "", false
	}
	return *v.str, true
}

// Written returns when each version of secret was created, removed ones
// included, oldest first.
func (sm *SecretsManager) Written(secret string) []time.Time {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if s := sm.findLocked(secret); s != nil {
		return slices.Clone(s.written)
	}
	return nil
}

// MostWritten is the most versions of secret created within any window.
func (sm *SecretsManager) MostWritten(secret string, window time.Duration) int {
	ts := sm.Written(secret)
	most, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= window {
			j++
		}
		most = max(most, i-j+1)
	}
	return most
}

// Refused counts the PutSecretValue calls on secret the version quota
// refused (LimitExceededException).
func (sm *SecretsManager) Refused(secret string) int {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if s := sm.findLocked(secret); s != nil {
		return s.refused
	}
	return 0
}

// VersionCount returns how many versions secret has, deprecated ones included.
func (sm *SecretsManager) VersionCount(secret string) int {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	s := sm.findLocked(secret)
	if s == nil {
		return 0
	}
	return len(s.versions)
}

func (sm *SecretsManager) createLocked(name string) *smSecret {
	now := sm.now()
	s := &smSecret{
		name:        name,
		arn:         fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", sm.region, sm.Account(), name, smRandomSuffix()),
		created:     now,
		lastChanged: now,
	}
	sm.secrets[name] = s
	return s
}

func (sm *SecretsManager) findLocked(id string) *smSecret {
	if s, ok := sm.secrets[id]; ok {
		return s
	}
	if strings.HasPrefix(id, "arn:") {
		for _, s := range sm.secrets {
			// A partial ARN lacks the "-XXXXXX" suffix.
			if s.arn == id || s.arn[:len(s.arn)-7] == id {
				return s
			}
		}
	}
	return nil
}

func (s *smSecret) version(id string) *smVersion {
	for _, v := range s.versions {
		if v.id == id {
			return v
		}
	}
	return nil
}

func (s *smSecret) byStage(stage string) *smVersion {
	for _, v := range s.versions {
		if slices.Contains(v.stages, stage) {
			return v
		}
	}
	return nil
}

func (s *smSecret) stagesMap() map[string][]string {
	m := map[string][]string{}
	for _, v := range s.versions {
		if len(v.stages) > 0 {
			m[v.id] = slices.Clone(v.stages)
		}
	}
	return m
}

// attachLocked attaches label to v, removing it from whichever version held
// it; AWSPREVIOUS follows AWSCURRENT's old version.
func (sm *SecretsManager) attachLocked(s *smSecret, v *smVersion, label string) {
	old := s.byStage(label)
	if old == v {
		return
	}
	if old != nil {
		old.stages = slices.DeleteFunc(old.stages, func(l string) bool { return l == label })
	}
	v.stages = append(v.stages, label)
	if label == smCurrent && old != nil {
		sm.attachLocked(s, old, smPrevious)
	}
	s.lastChanged = sm.now()
}

func (sm *SecretsManager) detachLocked(s *smSecret, v *smVersion, label string) {
	v.stages = slices.DeleteFunc(v.stages, func(l string) bool { return l == label })
	s.lastChanged = sm.now()
}

// addVersionLocked adds v with stages (nil: AWSCURRENT). The first version
// always gets AWSCURRENT.
func (sm *SecretsManager) addVersionLocked(s *smSecret, v *smVersion, stages []string) {
	first := len(s.versions) == 0
	s.written = append(s.written, v.created)
	s.versions = append(s.versions, v)
	if stages == nil {
		stages = []string{smCurrent}
	}
	for _, l := range stages {
		sm.attachLocked(s, v, l)
	}
	if first && !slices.Contains(v.stages, smCurrent) {
		sm.attachLocked(s, v, smCurrent)
	}
	s.lastChanged = sm.now()
}

// ServeHTTP answers the Secrets Manager JSON API.
func (sm *SecretsManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, smTargetPrefix)
	if !ok || op == "" {
		op = target
	}
	ft := sm.faults.BeginRequest("secretsmanager:"+op, r)
	if ft.Before() {
		smJSON.writeFault(ft, w, r)
		return
	}
	if r.Method != http.MethodPost || (r.URL.Path != "/" && r.URL.Path != "") {
		smJSON.write(w, http.StatusNotFound, "UnknownOperationException", "only POST / is supported")
		return
	}
	body, err := sm.verify(r, smSigningName, sm.region, "secretsmanager:"+op, "arn:aws:secretsmanager:"+sm.region+":"+sm.Account()+":secret:*")
	if err != nil {
		code := "InvalidSignatureException"
		if isWrongAccount(err) {
			code = "AccessDeniedException"
		} else if r.Header.Get("Authorization") == "" {
			code = "MissingAuthenticationTokenException"
		} else if strings.Contains(err.Error(), "unknown access key") {
			code = "UnrecognizedClientException"
		}
		smJSON.write(w, http.StatusBadRequest, code, err.Error())
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != smContentType {
		smJSON.write(w, http.StatusBadRequest, "SerializationException", fmt.Sprintf("unsupported Content-Type %q", ct))
		return
	}
	if !ok {
		smJSON.write(w, http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("unknown operation %q", target))
		return
	}
	var req smRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		smJSON.write(w, http.StatusBadRequest, "SerializationException", "cannot decode request body")
		return
	}

	sm.mu.Lock()
	answer, e := sm.doLocked(op, &req)
	sm.mu.Unlock()

	if ft.AfterWork() {
		smJSON.writeFault(ft, w, r)
		return
	}
	if e != nil {
		smJSON.write(w, e.status, e.code, e.msg)
		return
	}
	w.Header().Set("Content-Type", smContentType)
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(answer)
}

// smRequest is the union of the request fields of the supported operations.
type smRequest struct {
	SecretID            *string  `json:"SecretId"`
	Name                *string  `json:"Name"`
	Description         *string  `json:"Description"`
	KmsKeyID            *string  `json:"KmsKeyId"`
	ClientRequestToken  *string  `json:"ClientRequestToken"`
	SecretString        *string  `json:"SecretString"`
	SecretBinary        []byte   `json:"SecretBinary"`
	VersionStages       []string `json:"VersionStages"`
	VersionID           *string  `json:"VersionId"`
	VersionStage        *string  `json:"VersionStage"`
	MoveToVersionID     *string  `json:"MoveToVersionId"`
	RemoveFromVersionID *string  `json:"RemoveFromVersionId"`
	IncludeDeprecated   *bool    `json:"IncludeDeprecated"`
	MaxResults          *int     `json:"MaxResults"`
	NextToken           *string  `json:"NextToken"`
}

type smErr struct {
	status    int
	code, msg string
}

func smBad(code, msg string) *smErr { return &smErr{http.StatusBadRequest, code, msg} }

var smSecretNotFound = smBad("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")

// smTime is a timestamp as AWS JSON writes it: epoch seconds, fractional.
func smTime(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func (sm *SecretsManager) doLocked(op string, req *smRequest) (any, *smErr) {
	if op == "CreateSecret" {
		return sm.createSecretLocked(req)
	}
	if req.SecretID == nil || *req.SecretID == "" {
		return nil, smBad("InvalidParameterException", "You must specify a SecretId.")
	}
	s := sm.findLocked(*req.SecretID)
	switch op {
	case "DescribeSecret", "GetSecretValue", "PutSecretValue", "UpdateSecretVersionStage", "ListSecretVersionIds":
		if s == nil {
			return nil, smSecretNotFound
		}
	default:
		return nil, smBad("UnknownOperationException", fmt.Sprintf("unknown operation %q", op))
	}
	switch op {
	case "DescribeSecret":
		return map[string]any{
			"ARN":                s.arn,
			"Name":               s.name,
			"CreatedDate":        smTime(s.created),
			"LastChangedDate":    smTime(s.lastChanged),
			"VersionIdsToStages": s.stagesMap(),
		}, nil
	case "GetSecretValue":
		return sm.getLocked(s, req)
	case "PutSecretValue":
		return sm.putLocked(s, req)
	case "UpdateSecretVersionStage":
		return sm.updateStageLocked(s, req)
	default: // ListSecretVersionIds
		return sm.listLocked(s, req)
	}
}

func smCheckToken(tok *string) *smErr {
	if tok == nil {
		return nil
	}
	if n := len(*tok); n < 32 || n > 64 {
		return smBad("ValidationException", "1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length between 32 and 64")
	}
	return nil
}

func (sm *SecretsManager) createSecretLocked(req *smRequest) (any, *smErr) {
	if req.Name == nil || *req.Name == "" {
		return nil, smBad("InvalidParameterException", "You must specify a Name.")
	}
	if err := smCheckToken(req.ClientRequestToken); err != nil {
		return nil, err
	}
	if _, ok := sm.secrets[*req.Name]; ok {
		return nil, smBad("ResourceExistsException", fmt.Sprintf("The operation failed because the secret %s already exists.", *req.Name))
	}
	if req.SecretString != nil && req.SecretBinary != nil {
		return nil, smBad("InvalidParameterException", "You can't specify both a binary secret value and a string secret value in the same secret.")
	}
	s := sm.createLocked(*req.Name)
	answer := map[string]any{"ARN": s.arn, "Name": s.name}
	if req.SecretString != nil || req.SecretBinary != nil {
		id := smUUID()
		if req.ClientRequestToken != nil {
			id = *req.ClientRequestToken
		}
		sm.addVersionLocked(s, &smVersion{id: id, str: req.SecretString, bin: req.SecretBinary, created: sm.now()}, nil)
		answer["VersionId"] = id
	}
	return answer, nil
}

func (sm *SecretsManager) getLocked(s *smSecret, req *smRequest) (any, *smErr) {
	var v *smVersion
	switch {
	case req.VersionID != nil:
		v = s.version(*req.VersionID)
		if v == nil {
			return nil, smBad("ResourceNotFoundException", fmt.Sprintf("Secrets Manager can't find the specified secret value for VersionId: %s", *req.VersionID))
		}
		if req.VersionStage != nil && !slices.Contains(v.stages, *req.VersionStage) {
			return nil, smBad("ResourceNotFoundException", fmt.Sprintf("Secrets Manager can't find the specified secret value for VersionId: %s and staging label: %s", *req.VersionID, *req.VersionStage))
		}
	default:
		stage := smCurrent
		if req.VersionStage != nil {
			stage = *req.VersionStage
		}
		v = s.byStage(stage)
		if v == nil {
			return nil, smBad("ResourceNotFoundException", fmt.Sprintf("Secrets Manager can't find the specified secret value for staging label: %s", stage))
		}
	}
	answer := map[string]any{
		"ARN":           s.arn,
		"Name":          s.name,
		"VersionId":     v.id,
		"VersionStages": slices.Clone(v.stages),
		"CreatedDate":   smTime(v.created),
	}
	if v.str != nil {
		answer["SecretString"] = *v.str
	}
	if v.bin != nil {
		answer["SecretBinary"] = v.bin
	}
	return answer, nil
}

// roomLocked makes room for one more version, removing the oldest
// unlabelled versions at least smKeepVersions old while the secret would
// have more than smMaxVersions; false when it still would.
func (sm *SecretsManager) roomLocked(s *smSecret) bool {
	now := sm.now()
	for len(s.versions) >= smMaxVersions {
		i := slices.IndexFunc(s.versions, func(v *smVersion) bool { return len(v.stages) == 0 && now.Sub(v.created) >= smKeepVersions })
		if i < 0 {
			return false
		}
		s.versions = slices.Delete(s.versions, i, i+1)
	}
	return true
}

func (sm *SecretsManager) putLocked(s *smSecret, req *smRequest) (any, *smErr) {
	if req.ClientRequestToken == nil {
		// The SDK and the CLI always generate one; a raw request must.
		return nil, smBad("InvalidParameterException", "You must provide a ClientRequestToken.")
	}
	if err := smCheckToken(req.ClientRequestToken); err != nil {
		return nil, err
	}
	if (req.SecretString == nil) == (req.SecretBinary == nil) {
		return nil, smBad("InvalidParameterException", "You must provide either SecretString or SecretBinary, but not both.")
	}
	for _, l := range req.VersionStages {
		if l == "" || len(l) > 256 {
			return nil, smBad("InvalidParameterException", "Invalid staging label.")
		}
	}
	id := *req.ClientRequestToken
	if v := s.version(id); v != nil {
		same := (v.str == nil) == (req.SecretString == nil) &&
			(v.str == nil || *v.str == *req.SecretString) && bytes.Equal(v.bin, req.SecretBinary)
		if !same {
			// Never echo either value.
			return nil, smBad("ResourceExistsException", fmt.Sprintf("A version with VersionId %s already exists with a different value. You can't modify an existing version; you can only create new versions.", id))
		}
		return map[string]any{"ARN": s.arn, "Name": s.name, "VersionId": v.id, "VersionStages": slices.Clone(v.stages)}, nil
	}
	if !sm.roomLocked(s) {
		s.refused++
		return nil, smBad("LimitExceededException", fmt.Sprintf("You have exceeded the maximum number of versions (%d) for the secret %s. Versions created in the last 24 hours cannot be removed.", smMaxVersions, s.name))
	}
	v := &smVersion{id: id, str: req.SecretString, bin: req.SecretBinary, created: sm.now()}
	// Absent VersionStages (nil) attaches AWSCURRENT. INFERRED: an explicit
	// empty list attaches nothing (a deprecated version, unless it is the
	// first one).
	sm.addVersionLocked(s, v, req.VersionStages)
	return map[string]any{"ARN": s.arn, "Name": s.name, "VersionId": v.id, "VersionStages": slices.Clone(v.stages)}, nil
}

// updateStageLocked moves or removes a label, as documented for
// RemoveFromVersionId: "If the staging label you are trying to attach to one
// version is already attached to a different version, then you must include
// this parameter and specify the version that the label is to be removed
// from. If the label is attached and you either do not specify this
// parameter, or the version ID does not match, then the operation fails."
// Holding sm.mu, the check and the move are one atomic step, as the lease
// lock of the store assumes of the real service. Error texts: the
// "can't be empty" one is the real service's (quoted alike by moto and other
// emulators); the others are INFERRED (code InvalidParameterException, the
// wording of an emulator or ours).
func (sm *SecretsManager) updateStageLocked(s *smSecret, req *smRequest) (any, *smErr) {
	if req.VersionStage == nil || *req.VersionStage == "" {
		return nil, smBad("InvalidParameterException", "You must specify a VersionStage.")
	}
	label := *req.VersionStage
	holder := s.byStage(label)
	var from *smVersion
	if req.RemoveFromVersionID != nil {
		from = s.version(*req.RemoveFromVersionID)
		switch {
		case holder != nil && holder != from && req.MoveToVersionID != nil:
			return nil, smBad("InvalidParameterException", fmt.Sprintf("When you move staging label %s, if you specify RemoveFromVersionId, it must be set to the version that currently has the staging label %s.", label, label))
		case from == nil || holder != from:
			return nil, smBad("InvalidParameterException", fmt.Sprintf("The staging label %s is not attached to the version %s, so it can't be removed from it.", label, *req.RemoveFromVersionID))
		}
	}
	if req.MoveToVersionID == nil {
		if from == nil {
			return nil, smBad("InvalidParameterException", "You must specify MoveToVersionId, RemoveFromVersionId, or both.")
		}
		if label == smCurrent {
			// INFERRED from "a secret always has an AWSCURRENT version":
			// AWSCURRENT can only be moved, never just removed.
			return nil, smBad("InvalidParameterException", "You can't remove the staging label AWSCURRENT; move it to another version instead.")
		}
		sm.detachLocked(s, from, label)
		return map[string]any{"ARN": s.arn, "Name": s.name}, nil
	}
	to := s.version(*req.MoveToVersionID)
	if to == nil {
		return nil, smBad("ResourceNotFoundException", fmt.Sprintf("Secrets Manager can't find the specified secret version: %s", *req.MoveToVersionID))
	}
	if holder != nil && holder != to && from != holder {
		return nil, smBad("InvalidParameterException", fmt.Sprintf("The parameter RemoveFromVersionId can't be empty. Staging label %s is currently attached to version %s, so you must explicitly reference that version in RemoveFromVersionId.", label, holder.id))
	}
	sm.attachLocked(s, to, label)
	return map[string]any{"ARN": s.arn, "Name": s.name}, nil
}

func (sm *SecretsManager) listLocked(s *smSecret, req *smRequest) (any, *smErr) {
	var all []map[string]any
	for _, v := range s.versions {
		if len(v.stages) == 0 && (req.IncludeDeprecated == nil || !*req.IncludeDeprecated) {
			continue
		}
		e := map[string]any{"VersionId": v.id, "CreatedDate": smTime(v.created)}
		if len(v.stages) > 0 {
			e["VersionStages"] = slices.Clone(v.stages)
		}
		all = append(all, e)
	}
	start := 0
	if req.NextToken != nil {
		n, err := strconv.Atoi(*req.NextToken)
		if err != nil || n < 0 || n > len(all) {
			return nil, smBad("InvalidNextTokenException", "The NextToken value is invalid.")
		}
		start = n
	}
	size := 100
	if req.MaxResults != nil {
		if *req.MaxResults < 1 || *req.MaxResults > 100 {
			return nil, smBad("InvalidParameterException", "MaxResults must be between 1 and 100.")
		}
		size = *req.MaxResults
	}
	if sm.pageSize > 0 {
		size = min(size, sm.pageSize)
	}
	end := min(start+size, len(all))
	answer := map[string]any{"ARN": s.arn, "Name": s.name, "Versions": all[start:end]}
	if all == nil {
		answer["Versions"] = []any{}
	}
	if end < len(all) {
		answer["NextToken"] = strconv.Itoa(end)
	}
	return answer, nil
}

func smUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func smRandomSuffix() string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}
