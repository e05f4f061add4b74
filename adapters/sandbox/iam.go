package sandbox

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// BaseAccount is the account of the sandbox's base credentials
// (AccessKeyID): the account every fake belongs to unless bound to another.
const BaseAccount = smAccountID

// BaseARN is the identity the base credentials act as.
const BaseARN = "arn:aws:iam::" + BaseAccount + ":user/sandbox"

// defaultIAM knows only the base credentials: the verifier of every fake not
// bound to a sandbox's IAM.
var defaultIAM = NewIAM(nil)

// IAM is the sandbox's view of AWS identities: every credential it has
// issued (the base credentials and those STS hands out for assumed roles),
// with the account and identity each acts as, and the roles STS may assume.
type IAM struct {
	now func() time.Time

	mu    sync.Mutex
	creds map[string]*Principal // by access key id
	roles map[string]*Role      // by ARN
	// assumed counts the credentials issued per role ARN (AssumeRole and
	// AssumeRoleWithWebIdentity).
	assumed map[string]int
}

// Principal is who signed a request.
type Principal struct {
	AccessKeyID string
	Account     string
	ARN         string
	// Expires is zero for long-term credentials.
	Expires         time.Time
	secretAccessKey string
	sessionToken    string
}

// Role is a role STS lets a caller assume.
type Role struct {
	ARN     string
	Account string
	Name    string
	// TrustedAccount is the account whose principals may assume it.
	TrustedAccount string
	// ExternalID, when set, must be given by the caller (sts:ExternalId).
	ExternalID string
	// WebIdentityToken, when set, is the web identity token the role
	// trusts for AssumeRoleWithWebIdentity: it stands for the trust
	// policy's OIDC provider and its aud and sub conditions, which the
	// sandbox does not check one by one.
	WebIdentityToken string
}

// NewIAM returns an IAM holding the base credentials. now is its clock for
// the expiry of issued credentials (nil: time.Now).
func NewIAM(now func() time.Time) *IAM {
	if now == nil {
		now = time.Now
	}
	i := &IAM{now: now, creds: map[string]*Principal{}, roles: map[string]*Role{}, assumed: map[string]int{}}
	i.creds[AccessKeyID] = &Principal{AccessKeyID: AccessKeyID, Account: BaseAccount, ARN: BaseARN, secretAccessKey: SecretAccessKey}
	return i
}

func (i *IAM) principal(accessKeyID string) *Principal {
	if i == nil {
		i = defaultIAM
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.creds[accessKeyID]
}

// AddRole registers role roleARN (arn:aws:iam::ACCOUNT:role/NAME) that
// principals of trustedAccount may assume, giving externalID when it is set.
func (i *IAM) AddRole(roleARN, trustedAccount, externalID string) (*Role, error) {
	acct, name, ok := parseRoleARN(roleARN)
	if !ok {
		return nil, fmt.Errorf("malformed role arn %q", roleARN)
	}
	r := &Role{ARN: roleARN, Account: acct, Name: name, TrustedAccount: trustedAccount, ExternalID: externalID}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.roles[roleARN] = r
	return r, nil
}

// AddWebIdentityRole registers role roleARN (arn:aws:iam::ACCOUNT:role/
// NAME) that AssumeRoleWithWebIdentity issues credentials of to a caller
// presenting token, as an EKS pod's projected service account token is
// trusted through the cluster's OIDC provider (IRSA).
func (i *IAM) AddWebIdentityRole(roleARN, token string) (*Role, error) {
	acct, name, ok := parseRoleARN(roleARN)
	if !ok {
		return nil, fmt.Errorf("malformed role arn %q", roleARN)
	}
	if token == "" {
		return nil, errors.New("a web identity role trusts a token: give one")
	}
	r := &Role{ARN: roleARN, Account: acct, Name: name, WebIdentityToken: token}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.roles[roleARN] = r
	return r, nil
}

// AssumeRoleCount is how many times roleARN was assumed successfully, by
// AssumeRole or AssumeRoleWithWebIdentity.
func (i *IAM) AssumeRoleCount(roleARN string) int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.assumed[roleARN]
}

// parseRoleARN splits arn:aws:iam::123456789012:role/path/NAME.
func parseRoleARN(arn string) (account, name string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" || len(parts[4]) != 12 || !strings.HasPrefix(parts[5], "role/") {
		return "", "", false
	}
	for _, c := range parts[4] {
		if c < '0' || c > '9' {
			return "", "", false
		}
	}
	name = parts[5][strings.LastIndex(parts[5], "/")+1:]
	return parts[4], name, name != ""
}

// errAccessDenied is an AssumeRole refusal; its text is STS's message.
type errAccessDenied struct{ msg string }

func (e *errAccessDenied) Error() string { return e.msg }

// assumeRole issues temporary credentials for roleARN to caller, as STS
// does, or refuses with an *errAccessDenied.
func (i *IAM) assumeRole(caller *Principal, roleARN, session, externalID string, d time.Duration) (*Principal, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	r := i.roles[roleARN]
	if r == nil || r.TrustedAccount == "" || r.TrustedAccount != caller.Account || (r.ExternalID != "" && r.ExternalID != externalID) {
		// STS says the same whether the role is missing, does not trust the
		// caller or wants another external id.
		return nil, &errAccessDenied{fmt.Sprintf("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller.ARN, roleARN)}
	}
	return i.issue(r, session, d), nil
}

// assumeRoleWithWebIdentity issues temporary credentials for roleARN to
// the holder of token, or refuses with an *errAccessDenied (STS's words for
// a trust policy that does not allow the token).
func (i *IAM) assumeRoleWithWebIdentity(roleARN, session, token string, d time.Duration) (*Principal, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	r := i.roles[roleARN]
	if r == nil || r.WebIdentityToken == "" || r.WebIdentityToken != token {
		return nil, &errAccessDenied{"Not authorized to perform sts:AssumeRoleWithWebIdentity"}
	}
	return i.issue(r, session, d), nil
}

// issue makes temporary credentials of role r for session d long and
// records them, so that every fake bound to i accepts them as r's account's.
// i.mu is held.
func (i *IAM) issue(r *Role, session string, d time.Duration) *Principal {
	p := &Principal{
		AccessKeyID:     "ASIA" + randomUpper(16),
		Account:         r.Account,
		ARN:             "arn:aws:sts::" + r.Account + ":assumed-role/" + r.Name + "/" + session,
		Expires:         i.now().Add(d).UTC().Truncate(time.Second),
		secretAccessKey: randomUpper(40),
		sessionToken:    "FwoGZXIvYXdzE" + randomUpper(120),
	}
	i.creds[p.AccessKeyID] = p
	i.assumed[r.ARN]++
	return p
}

func randomUpper(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for k := range b {
		b[k] = alphabet[int(b[k])%len(alphabet)]
	}
	return string(b)
}

// accountOf is the account of the credential that signed r ("" if none
// the sandbox issued). It does not verify the signature: the fake the
// request is routed to does.
func (i *IAM) accountOf(r *http.Request) string {
	_, rest, _ := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	key, _, _ := strings.Cut(rest, "/")
	if p := i.principal(key); p != nil {
		return p.Account
	}
	return ""
}

// owner makes a fake belong to one account: it accepts only requests signed
// by a credential of that account. The zero owner is the base account,
// verified against the base credentials alone.
type owner struct {
	iam     *IAM
	account string
}

// BindAccount makes the fake belong to account and verify signatures
// against the credentials iam has issued. Call it before serving.
func (o *owner) BindAccount(iam *IAM, account string) {
	o.iam, o.account = iam, account
}

// Account is the account the fake belongs to.
func (o *owner) Account() string {
	if o.account == "" {
		return BaseAccount
	}
	return o.account
}

// errWrongAccount is a request signed by a credential of another account:
// its text is the AccessDeniedException message AWS gives for a resource no
// resource-based policy shares (INFERRED: the wording is AWS's usual one,
// "User: ARN is not authorized to perform: ACTION on resource: RESOURCE").
type errWrongAccount struct{ msg string }

func (e *errWrongAccount) Error() string { return e.msg }

// verify checks r's signature and that its signer is of the fake's account.
// action and resource only word the refusal.
func (o *owner) verify(r *http.Request, service, region, action, resource string) ([]byte, error) {
	i := o.iam
	if i == nil {
		i = defaultIAM
	}
	body, p, err := i.verifySigV4(r, service, region)
	if err != nil {
		return body, err
	}
	if p.Account != o.Account() {
		return body, &errWrongAccount{fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s because no resource-based policy allows the %s action", p.ARN, action, resource, action)}
	}
	return body, nil
}

// isWrongAccount reports whether err is a refusal of another account's
// credential.
func isWrongAccount(err error) bool {
	var wa *errWrongAccount
	return errors.As(err, &wa)
}

// accountRouter serves one regional endpoint for many accounts, as AWS
// does: a request goes to the fake of the account its resource ARN names,
// else of the account whose credential signed it, else to base (which then
// refuses it with its own error).
type accountRouter struct {
	iam  *IAM
	base http.Handler
	// resourceAccount returns the account of the ARN r names ("" for a
	// plain name).
	resourceAccount func(r *http.Request) string

	mu        sync.Mutex
	byAccount map[string]http.Handler
}

func newAccountRouter(iam *IAM, base http.Handler, resourceAccount func(*http.Request) string) *accountRouter {
	return &accountRouter{iam: iam, base: base, resourceAccount: resourceAccount, byAccount: map[string]http.Handler{}}
}

func (a *accountRouter) add(account string, h http.Handler) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.byAccount[account] = h
}

func (a *accountRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	acct := ""
	if a.resourceAccount != nil {
		acct = a.resourceAccount(r)
	}
	if acct == "" {
		acct = a.iam.accountOf(r)
	}
	a.mu.Lock()
	h := a.byAccount[acct]
	a.mu.Unlock()
	if h == nil {
		h = a.base
	}
	h.ServeHTTP(w, r)
}

// arnAccount is the account field of arn ("" if s is not an ARN).
func arnAccount(s string) string {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[4]
}

// peekJSON decodes r's JSON body into v and restores the body.
func peekJSON(r *http.Request, v any) {
	body, err := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err == nil {
		_ = json.Unmarshal(body, v)
	}
}
