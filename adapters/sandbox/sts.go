package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Wire details of STS (Query protocol, API version 2011-06-15), as the
// official client speaks it: POST / with a form body Action=...&Version=...,
// XML answers in the namespace below, errors as <ErrorResponse>.
const (
	stsSigningName = "sts"
	stsVersion     = "2011-06-15"
	stsNamespace   = "https://sts.amazonaws.com/doc/2011-06-15/"
	// stsDefaultDuration is AssumeRole's default DurationSeconds.
	stsDefaultDuration = time.Hour
)

// stsSessionName is RoleSessionName's documented pattern and length.
var stsSessionName = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

// STS fakes the AWS Security Token Service's AssumeRole,
// AssumeRoleWithWebIdentity and GetCallerIdentity over the credentials and roles of an IAM: AssumeRole
// issues temporary credentials (ASIA...) bound to the role's account, which
// every fake bound to that IAM then accepts as that account's; an unknown
// role, a caller of an untrusted account or a wrong ExternalId is
// AccessDenied ("User: CALLER is not authorized to perform: sts:AssumeRole
// on resource: ROLE", the same text for all three, as AWS's troubleshooting
// pages quote it).
//
// AssumeRoleWithWebIdentity is unsigned, as AWS serves it: the web identity
// token is the credential. It issues credentials of a role registered with
// IAM.AddWebIdentityRole to a caller presenting that role's token; an empty
// or too short token is a ValidationError, another token AccessDenied
// ("Not authorized to perform sts:AssumeRoleWithWebIdentity").
//
// Every call is counted per action and role (Count), so that a test can
// assert how often credentials were fetched.
//
// Operation names for Faults: sts:AssumeRole, sts:AssumeRoleWithWebIdentity,
// sts:GetCallerIdentity.
type STS struct {
	faults *Faults
	region string
	iam    *IAM

	mu sync.Mutex
	// calls counts the calls answered per action and RoleArn ("" for none).
	calls map[[2]string]int
}

// NewSTS returns the STS fake for region over iam. faults may be nil.
func NewSTS(faults *Faults, region string, iam *IAM) *STS {
	return &STS{faults: faults, region: region, iam: iam, calls: map[[2]string]int{}}
}

// Count is how many calls of action (AssumeRole, AssumeRoleWithWebIdentity,
// GetCallerIdentity) STS received, whatever their answer; with roleARN set,
// only those naming that role.
func (s *STS) Count(action, roleARN string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if roleARN != "" {
		return s.calls[[2]string{action, roleARN}]
	}
	n := 0
	for k, c := range s.calls {
		if k[0] == action {
			n += c
		}
	}
	return n
}

type stsError struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

type stsMetadata struct {
	RequestID string `xml:"RequestId"`
}

type stsAssumeRoleResponse struct {
	XMLName         xml.Name    `xml:"AssumeRoleResponse"`
	Xmlns           string      `xml:"xmlns,attr"`
	AccessKeyID     string      `xml:"AssumeRoleResult>Credentials>AccessKeyId"`
	SecretAccessKey string      `xml:"AssumeRoleResult>Credentials>SecretAccessKey"`
	SessionToken    string      `xml:"AssumeRoleResult>Credentials>SessionToken"`
	Expiration      string      `xml:"AssumeRoleResult>Credentials>Expiration"`
	AssumedRoleID   string      `xml:"AssumeRoleResult>AssumedRoleUser>AssumedRoleId"`
	AssumedRoleARN  string      `xml:"AssumeRoleResult>AssumedRoleUser>Arn"`
	Metadata        stsMetadata `xml:"ResponseMetadata"`
}

// stsWebIdentityResponse is AssumeRoleWithWebIdentity's documented answer.
type stsWebIdentityResponse struct {
	XMLName         xml.Name    `xml:"AssumeRoleWithWebIdentityResponse"`
	Xmlns           string      `xml:"xmlns,attr"`
	Subject         string      `xml:"AssumeRoleWithWebIdentityResult>SubjectFromWebIdentityToken"`
	Audience        string      `xml:"AssumeRoleWithWebIdentityResult>Audience"`
	AssumedRoleARN  string      `xml:"AssumeRoleWithWebIdentityResult>AssumedRoleUser>Arn"`
	AssumedRoleID   string      `xml:"AssumeRoleWithWebIdentityResult>AssumedRoleUser>AssumedRoleId"`
	SessionToken    string      `xml:"AssumeRoleWithWebIdentityResult>Credentials>SessionToken"`
	SecretAccessKey string      `xml:"AssumeRoleWithWebIdentityResult>Credentials>SecretAccessKey"`
	Expiration      string      `xml:"AssumeRoleWithWebIdentityResult>Credentials>Expiration"`
	AccessKeyID     string      `xml:"AssumeRoleWithWebIdentityResult>Credentials>AccessKeyId"`
	Provider        string      `xml:"AssumeRoleWithWebIdentityResult>Provider"`
	Metadata        stsMetadata `xml:"ResponseMetadata"`
}

type stsCallerIdentityResponse struct {
	XMLName  xml.Name    `xml:"GetCallerIdentityResponse"`
	Xmlns    string      `xml:"xmlns,attr"`
	Arn      string      `xml:"GetCallerIdentityResult>Arn"`
	UserID   string      `xml:"GetCallerIdentityResult>UserId"`
	Account  string      `xml:"GetCallerIdentityResult>Account"`
	Metadata stsMetadata `xml:"ResponseMetadata"`
}

func stsWrite(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(v)
}

// stsFail writes STS's error shape.
func stsFail(w http.ResponseWriter, status int, code, msg string) {
	stsWrite(w, status, stsErrorOf(status, code, msg))
}

// stsErrorOf is STS's error; Type is Sender for the caller's faults.
func stsErrorOf(status int, code, msg string) stsError {
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	return stsError{Xmlns: stsNamespace, Type: typ, Code: code, Message: msg, RequestID: smUUID()}
}

// stsFaultBody is STS's answer to an injected status (awsFaults).
func stsFaultBody(status int) (string, []byte) {
	f := awsFaultFor("sts", status)
	b, _ := xml.Marshal(stsErrorOf(status, f.code, f.msg))
	return "text/xml", b
}

// ServeHTTP answers the Query API.
func (s *STS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, p, err := s.iam.verifySigV4(r, stsSigningName, s.region)
	form, _ := url.ParseQuery(string(body))
	action := form.Get("Action")
	s.mu.Lock()
	s.calls[[2]string{action, form.Get("RoleArn")}]++
	s.mu.Unlock()
	ft := s.faults.Begin("sts:" + action)
	if ft.Before() {
		ft.Write(w, r, stsFaultBody)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		stsFail(w, http.StatusNotFound, "InvalidAction", "only POST / is served")
		return
	}
	// The one unsigned action: its token is the credential.
	if action == "AssumeRoleWithWebIdentity" && r.Header.Get("Authorization") == "" {
		err = nil
	}
	if err != nil {
		code := "SignatureDoesNotMatch"
		switch {
		case r.Header.Get("Authorization") == "":
			code = "MissingAuthenticationToken"
		case strings.Contains(err.Error(), "expired"):
			code = "ExpiredToken"
		case strings.Contains(err.Error(), "unknown access key"):
			code = "InvalidClientTokenId"
		}
		stsFail(w, http.StatusForbidden, code, err.Error())
		return
	}
	if form.Get("Version") != stsVersion {
		stsFail(w, http.StatusBadRequest, "InvalidParameterValue", "unsupported Version "+strconv.Quote(form.Get("Version")))
		return
	}
	switch action {
	case "AssumeRole":
		s.assumeRole(w, p, form)
	case "AssumeRoleWithWebIdentity":
		s.assumeRoleWithWebIdentity(w, form)
	case "GetCallerIdentity":
		stsWrite(w, http.StatusOK, stsCallerIdentityResponse{Xmlns: stsNamespace, Arn: p.ARN, UserID: userID(p), Account: p.Account, Metadata: stsMetadata{smUUID()}})
	default:
		stsFail(w, http.StatusBadRequest, "InvalidAction", "Could not find operation "+action+" for version "+stsVersion)
	}
}

// stsRoleParams validates the parameters both AssumeRole actions share
// (RoleArn, RoleSessionName, DurationSeconds); false: the error is written.
func stsRoleParams(w http.ResponseWriter, form url.Values) (roleARN, session string, d time.Duration, ok bool) {
	roleARN, session = form.Get("RoleArn"), form.Get("RoleSessionName")
	if roleARN == "" || len(roleARN) < 20 {
		stsFail(w, http.StatusBadRequest, "ValidationError", "1 validation error detected: Value at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20")
		return "", "", 0, false
	}
	if !stsSessionName.MatchString(session) {
		stsFail(w, http.StatusBadRequest, "ValidationError", "1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*")
		return "", "", 0, false
	}
	d = stsDefaultDuration
	if v := form.Get("DurationSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 900 || n > 43200 {
			stsFail(w, http.StatusBadRequest, "ValidationError", "1 validation error detected: Value at 'durationSeconds' failed to satisfy constraint")
			return "", "", 0, false
		}
		d = time.Duration(n) * time.Second
	}
	return roleARN, session, d, true
}

func (s *STS) assumeRoleWithWebIdentity(w http.ResponseWriter, form url.Values) {
	roleARN, session, d, ok := stsRoleParams(w, form)
	if !ok {
		return
	}
	// Documented: WebIdentityToken is 4 to 20000 characters.
	if tok := form.Get("WebIdentityToken"); len(tok) < 4 || len(tok) > 20000 {
		stsFail(w, http.StatusBadRequest, "ValidationError", "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4")
		return
	}
	p, err := s.iam.assumeRoleWithWebIdentity(roleARN, session, form.Get("WebIdentityToken"), d)
	if err != nil {
		stsFail(w, http.StatusForbidden, "AccessDenied", err.Error())
		return
	}
	stsWrite(w, http.StatusOK, stsWebIdentityResponse{
		Xmlns: stsNamespace, Subject: "system:serviceaccount:scim-rotator:scim-rotator", Audience: "sts.amazonaws.com",
		AssumedRoleARN: p.ARN, AssumedRoleID: userID(p), SessionToken: p.sessionToken, SecretAccessKey: p.secretAccessKey,
		Expiration: p.Expires.Format(time.RFC3339), AccessKeyID: p.AccessKeyID, Provider: "oidc.eks." + s.region + ".amazonaws.com/id/SANDBOX",
		Metadata: stsMetadata{smUUID()},
	})
}

func (s *STS) assumeRole(w http.ResponseWriter, caller *Principal, form url.Values) {
	roleARN, session, d, ok := stsRoleParams(w, form)
	if !ok {
		return
	}
	p, err := s.iam.assumeRole(caller, roleARN, session, form.Get("ExternalId"), d)
	if err != nil {
		stsFail(w, http.StatusForbidden, "AccessDenied", err.Error())
		return
	}
	stsWrite(w, http.StatusOK, stsAssumeRoleResponse{
		Xmlns: stsNamespace, AccessKeyID: p.AccessKeyID, SecretAccessKey: p.secretAccessKey, SessionToken: p.sessionToken,
		Expiration: p.Expires.Format(time.RFC3339), AssumedRoleID: userID(p), AssumedRoleARN: p.ARN, Metadata: stsMetadata{smUUID()},
	})
}

// userID is GetCallerIdentity's UserId: a role's id and the session name
// for an assumed role, the user's id otherwise (made up, stable).
func userID(p *Principal) string {
	if i := strings.Index(p.ARN, ":assumed-role/"); i >= 0 {
		role, session, _ := strings.Cut(p.ARN[i+len(":assumed-role/"):], "/")
		return "AROA" + idOf(p.Account+role) + ":" + session
	}
	return "AIDA" + idOf(p.ARN)
}

// idOf is a stable 17-character id derived from s.
func idOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return strings.ToUpper(hex.EncodeToString(sum[:]))[:17]
}
