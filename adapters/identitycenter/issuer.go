package identitycenter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/internal/awsbase"
	"github.com/scim-rotator/scim-rotator/adapters/internal/safehttp"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// System is how this adapter names itself in check and status output.
const System = "identitycenter"

// requestTimeout bounds one HTTP request (a call of the token API, a proof);
// a var: the hang test shortens it.
var requestTimeout = 30 * time.Second

// maxPages bounds paging, in case the API keeps answering a NextToken.
const maxPages = 100

// Options are the adapter's dependencies; the zero value is usable.
type Options struct {
	Logger *zap.Logger
	// HTTPClient sends every request (nil: Go's default transport). It is
	// used through a copy that follows no redirect and has a timeout (30s
	// unless it has its own).
	HTTPClient *http.Client
	// Clock times retry delays (nil: the wall clock).
	Clock rotator.Clock
	// AWSCredentials signs the token API's requests (nil: the SDK's default
	// chain: environment, IRSA web identity, EKS Pod Identity, ...).
	AWSCredentials aws.CredentialsProvider
	// MaxAttempts bounds the attempts of a retryable call (0: the SDK's
	// standard 3). CreateBearerToken is always attempted once.
	MaxAttempts int
	// Version is the product's version; SCIM requests send the User-Agent
	// rotator.UserAgentPrefix + Version ("" : "dev"), so that CloudTrail's
	// record of them can be told from the identity providers' calls.
	Version string

	// identityStoreOptions are applied last to the identitystore client's
	// options (tests: no backoff between retries).
	identityStoreOptions []func(*identitystore.Options)
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	o.HTTPClient = safehttp.Client(o.HTTPClient, requestTimeout)
	if o.Clock == nil {
		o.Clock = rotator.RealClock{}
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	return o
}

// Issuer creates, lists and deletes SCIM access tokens through Identity
// Center's undocumented token API (see api.go).
type Issuer struct {
	cfg   config.IdentityCenter
	api   tokenAPI
	log   *zap.Logger
	clock rotator.Clock

	mu     sync.Mutex
	tenant *rotator.Tenant
}

var (
	_ rotator.Issuer    = (*Issuer)(nil)
	_ rotator.Inspector = (*Issuer)(nil)
)

// New builds the issuer from cfg. Empty Endpoint, SigningName and
// TargetPrefix get the defaults of api.go; credentials come from
// opts.AWSCredentials or the SDK's default chain.
func New(ctx context.Context, cfg config.IdentityCenter, opts Options) (*Issuer, error) {
	opts = opts.withDefaults()
	if cfg.IdentityStoreID == "" {
		return nil, fmt.Errorf("identity center issuer: identityStoreId is required")
	}
	creds := opts.AWSCredentials
	if creds == nil || cfg.Region == "" {
		// The shared AWS base (awsbase): the default chain behind one cache,
		// fetched over the trust store with a timeout.
		awsCfg, err := awsbase.Load(ctx, awsbase.Options{Region: cfg.Region, Credentials: creds})
		if err != nil {
			return nil, fmt.Errorf("identity center issuer: %w", err)
		}
		if creds == nil {
			creds = awsCfg.Credentials
		}
		if cfg.Region == "" {
			cfg.Region = awsCfg.Region
		}
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("identity center issuer: region is required (identityCenter.region or AWS_REGION)")
	}
	if creds == nil {
		return nil, fmt.Errorf("identity center issuer: no aws credentials provider")
	}
	cfg = withDefaults(cfg)
	if u, err := url.Parse(cfg.Endpoint); err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("identity center issuer: endpoint %q is not an absolute URL", cfg.Endpoint)
	}
	api := newClient(opts.HTTPClient, cfg.Endpoint, cfg.Region, cfg.SigningName, cfg.TargetPrefix, creds, opts.MaxAttempts, opts.Clock, opts.Logger)
	return newIssuer(cfg, api, opts), nil
}

// withDefaults fills the wire details left empty.
func withDefaults(cfg config.IdentityCenter) config.IdentityCenter {
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint(cfg.Region)
	}
	if cfg.SigningName == "" {
		cfg.SigningName = DefaultSigningName
	}
	if cfg.TargetPrefix == "" {
		cfg.TargetPrefix = DefaultTargetPrefix
	}
	cfg.TargetPrefix = strings.TrimSuffix(cfg.TargetPrefix, ".")
	return cfg
}

func newIssuer(cfg config.IdentityCenter, api tokenAPI, opts Options) *Issuer {
	opts = opts.withDefaults()
	return &Issuer{cfg: cfg, api: api, log: opts.Logger, clock: opts.Clock}
}

// Tokens is the issuer's token API: itself.
func (i *Issuer) Tokens() rotator.TokenAPI { return i }

// Tenant returns the configured tenant, or the identity store's only
// provisioning tenant. The answer is cached.
func (i *Issuer) Tenant(ctx context.Context) (rotator.Tenant, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.tenant != nil {
		return *i.tenant, nil
	}
	t, err := i.resolveTenant(ctx)
	if err != nil {
		return rotator.Tenant{}, err
	}
	i.tenant = &t
	return t, nil
}

// resolveTenant decides the tenant: cfg.TenantID when set (its endpoint from
// cfg.SCIMEndpoint, else from the tenant list, else the documented form),
// otherwise the only tenant ListProvisioningTenants answers.
func (i *Issuer) resolveTenant(ctx context.Context) (rotator.Tenant, error) {
	if i.cfg.TenantID != "" && i.cfg.SCIMEndpoint != "" {
		return rotator.Tenant{ID: i.cfg.TenantID, SCIMEndpoint: withSlash(i.cfg.SCIMEndpoint)}, nil
	}
	tenants, err := i.listTenants(ctx)
	if err != nil {
		return rotator.Tenant{}, fmt.Errorf("discover provisioning tenant: %w", err)
	}
	pick, err := i.pickTenant(tenants)
	if err != nil {
		return rotator.Tenant{}, err
	}
	endpoint := i.cfg.SCIMEndpoint // validated by config
	if endpoint == "" {
		if err := i.checkTenantEndpoint(pick); err != nil {
			return rotator.Tenant{}, fmt.Errorf("discover provisioning tenant: %w", err)
		}
		endpoint = pick.ScimEndpoint
	}
	if endpoint == "" {
		endpoint = SCIMEndpointFor(i.cfg.Region, pick.TenantID)
	}
	return rotator.Tenant{ID: pick.TenantID, SCIMEndpoint: withSlash(endpoint)}, nil
}

// checkTenantEndpoint refuses a tenant whose answered SCIM endpoint is not
// one the token may be sent to: not https (http only on loopback), or,
// unless identityCenter.allowCustomScimEndpoint, not the documented
// endpoint of the configured region and that tenant. The token is proved
// there, so an answer pointing elsewhere is a shape (or trust) error, never
// used silently.
func (i *Issuer) checkTenantEndpoint(t provisioningTenant) error {
	if t.ScimEndpoint == "" {
		return nil
	}
	problem := config.URLProblem(t.ScimEndpoint)
	if problem == "" && !i.cfg.AllowCustomScimEndpoint {
		problem = config.SCIMEndpointProblem(t.ScimEndpoint, i.cfg.Region, t.TenantID)
		if problem != "" {
			problem += " (set identityCenter.allowCustomScimEndpoint: true to trust it)"
		}
	}
	if problem == "" {
		return nil
	}
	shown := strconv.Quote(truncate(t.ScimEndpoint, 100))
	if u, err := url.Parse(t.ScimEndpoint); err != nil || u.User != nil {
		shown = "(not shown)"
	}
	return shapeErr(opListProvisioningTenants, "tenant %s has ScimEndpoint %s, which %s", t.TenantID, shown, problem)
}

func (i *Issuer) pickTenant(tenants []provisioningTenant) (provisioningTenant, error) {
	ids := make([]string, 0, len(tenants))
	for _, t := range tenants {
		if i.cfg.TenantID != "" && t.TenantID == i.cfg.TenantID {
			return t, nil
		}
		ids = append(ids, t.TenantID)
	}
	switch {
	case i.cfg.TenantID != "":
		// Configured but not listed: trust the configuration, warn.
		i.log.Warn("configured tenant is not among the identity store's provisioning tenants",
			zap.String("tenant_id", i.cfg.TenantID), zap.Strings("listed", ids))
		return provisioningTenant{TenantID: i.cfg.TenantID}, nil
	case len(tenants) == 0:
		return provisioningTenant{}, fmt.Errorf("identity store %s has no provisioning tenant: enable automatic provisioning in the IAM Identity Center console (Settings > Identity source > Automatic provisioning)", i.cfg.IdentityStoreID)
	case len(tenants) > 1:
		return provisioningTenant{}, fmt.Errorf("identity store %s has %d provisioning tenants (%s): set identityCenter.tenantId to one of them", i.cfg.IdentityStoreID, len(tenants), strings.Join(ids, ", "))
	}
	return tenants[0], nil
}

func (i *Issuer) listTenants(ctx context.Context) ([]provisioningTenant, error) {
	var all []provisioningTenant
	in := listTenantsInput{IdentityStoreID: i.cfg.IdentityStoreID}
	for page := 0; ; page++ {
		if page == maxPages {
			return nil, shapeErr(opListProvisioningTenants, "still answering NextToken after %d pages", maxPages)
		}
		out, err := i.api.listProvisioningTenants(ctx, in)
		if err != nil {
			return nil, awsbase.Mark(err)
		}
		all = append(all, *out.ProvisioningTenants...)
		if out.NextToken == nil || *out.NextToken == "" {
			return all, nil
		}
		in.NextToken = out.NextToken
	}
}

// ListTokens returns the tenant's tokens, oldest first.
func (i *Issuer) ListTokens(ctx context.Context) ([]rotator.TokenInfo, error) {
	t, err := i.Tenant(ctx)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	tokens, err := i.listTokens(ctx, t.ID)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return tokens, nil
}

func (i *Issuer) listTokens(ctx context.Context, tenantID string) ([]rotator.TokenInfo, error) {
	var all []rotator.TokenInfo
	in := listTokensInput{IdentityStoreID: i.cfg.IdentityStoreID, TenantID: tenantID}
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page == maxPages {
			return nil, shapeErr(opListBearerTokens, "still answering NextToken after %d pages", maxPages)
		}
		out, err := i.api.listBearerTokens(ctx, in)
		if err != nil {
			return nil, awsbase.Mark(err)
		}
		for _, bt := range *out.BearerTokens {
			created, _ := bt.CreationTime.parse() // validated
			expires, _ := bt.ExpirationTime.parse()
			all = append(all, rotator.TokenInfo{ID: bt.TokenID, Created: created, Expires: expires})
		}
		if out.NextToken == nil || *out.NextToken == "" {
			break
		}
		if seen[*out.NextToken] {
			return nil, shapeErr(opListBearerTokens, "NextToken repeats")
		}
		seen[*out.NextToken] = true
		in.NextToken = out.NextToken
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].Created.Before(all[b].Created) })
	return all, nil
}

// ErrTokenLimit means the tenant already holds the two tokens Identity Center
// allows: one has to be deleted before another can be created.
var ErrTokenLimit = errors.New("the tenant already holds the maximum of two tokens")

// CreateToken creates a token. It is sent exactly once; after an error the
// caller must list the tokens to find out whether one was created.
func (i *Issuer) CreateToken(ctx context.Context) (rotator.Token, error) {
	t, err := i.Tenant(ctx)
	if err != nil {
		return rotator.Token{}, fmt.Errorf("create token: %w", err)
	}
	out, err := i.api.createBearerToken(ctx, createTokenInput{IdentityStoreID: i.cfg.IdentityStoreID, TenantID: t.ID})
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && tokenLimitCodes[ae.Code] {
			return rotator.Token{}, fmt.Errorf("create token: %w: %w", ErrTokenLimit, err)
		}
		return rotator.Token{}, fmt.Errorf("create token: %w", awsbase.Mark(err))
	}
	// The value is shown only once: accept any answer that carries an id and
	// a value, and fill in what is missing rather than lose the token.
	switch {
	case out.TokenID == "" && out.Token == "":
		return rotator.Token{}, fmt.Errorf("create token: %w", shapeErr(opCreateBearerToken, `no "TokenId" and no "Token"; a token may have been created: list the tokens`))
	case out.Token == "":
		return rotator.Token{}, fmt.Errorf("create token: %w", shapeErr(opCreateBearerToken, `no "Token" for token %s; it was created but its value is lost: delete it`, out.TokenID))
	case out.TokenID == "":
		return rotator.Token{}, fmt.Errorf("create token: %w", shapeErr(opCreateBearerToken, `no "TokenId"; a token was created: list the tokens to find and delete it`))
	}
	created, err := out.CreationTime.parse()
	if err != nil {
		i.log.Warn("CreateBearerToken answer has no readable CreationTime; using now", zap.String("token_id", out.TokenID), zap.Error(err))
		created = i.clock.Now().UTC()
	}
	expires, err := out.ExpirationTime.parse()
	if err != nil {
		// Documented: a token expires one year after its creation.
		i.log.Warn("CreateBearerToken answer has no readable ExpirationTime; assuming one year", zap.String("token_id", out.TokenID), zap.Error(err))
		expires = created.AddDate(1, 0, 0)
	}
	i.log.Info("created scim access token", zap.String("token_id", out.TokenID), zap.Time("expires", expires))
	return rotator.Token{
		TokenInfo: rotator.TokenInfo{ID: out.TokenID, Created: created, Expires: expires},
		Value:     rotator.NewSecret(out.Token),
	}, nil
}

// DeleteToken deletes a token; one that no longer exists counts as deleted.
func (i *Issuer) DeleteToken(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("delete token: empty token id")
	}
	t, err := i.Tenant(ctx)
	if err != nil {
		return fmt.Errorf("delete token %s: %w", id, err)
	}
	err = i.api.deleteBearerToken(ctx, deleteTokenInput{IdentityStoreID: i.cfg.IdentityStoreID, TenantID: t.ID, TokenID: id})
	var ae *APIError
	if errors.As(err, &ae) && ae.Code == notFoundCode {
		// The same code answers an unknown tenant or identity store: only a
		// token list that succeeds without the token proves it is gone.
		tokens, lerr := i.listTokens(ctx, t.ID)
		if lerr != nil {
			return fmt.Errorf("delete token %s: %w (and listing the tokens to confirm it is gone failed: %v)", id, err, lerr)
		}
		for _, tok := range tokens {
			if tok.ID == id {
				return fmt.Errorf("delete token %s: %w, yet the token is still listed", id, err)
			}
		}
		i.log.Info("scim access token already deleted", zap.String("token_id", id))
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete token %s: %w", id, awsbase.Mark(err))
	}
	i.log.Info("deleted scim access token", zap.String("token_id", id))
	return nil
}

// Check runs the read-only preflight: credentials, ListProvisioningTenants,
// ListBearerTokens, each reported with what to do when it fails.
func (i *Issuer) Check(ctx context.Context) []rotator.CheckResult {
	res := make([]rotator.CheckResult, 0, 3)
	credCheck := rotator.CheckResult{System: System, Name: "aws credentials", Level: rotator.LevelFail}
	if creds, err := i.api.credentials(ctx); err != nil {
		credCheck.Detail = err.Error()
		credCheck.Fix = "give the daemon AWS credentials: IRSA (eks.amazonaws.com/role-arn on its ServiceAccount), EKS Pod Identity, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
	} else {
		credCheck.Level = rotator.LevelOK
		credCheck.Detail = "resolved from " + orUnknown(creds.Source)
	}
	res = append(res, credCheck)

	tenantCheck := rotator.CheckResult{System: System, Name: opListProvisioningTenants, Level: rotator.LevelFail}
	var tenantID string
	tenants, err := i.listTenants(ctx)
	if err != nil {
		tenantCheck.Detail = err.Error()
		tenantCheck.Fix = i.fixFor(opListProvisioningTenants, err)
	} else if pick, perr := i.pickTenant(tenants); perr != nil {
		tenantCheck.Detail = perr.Error()
		if len(tenants) == 0 {
			tenantCheck.Fix = "enable automatic provisioning in the IAM Identity Center console"
		} else {
			tenantCheck.Fix = "set identityCenter.tenantId"
		}
	} else if i.cfg.TenantID != "" && !containsTenant(tenants, i.cfg.TenantID) {
		tenantCheck.Detail = fmt.Sprintf("configured tenant %s is not among the identity store's tenants (%s)", i.cfg.TenantID, tenantIDs(tenants))
		tenantCheck.Fix = "correct identityCenter.tenantId (or remove it to discover the tenant)"
	} else if err := i.checkTenantEndpoint(pick); err != nil && i.cfg.SCIMEndpoint == "" {
		tenantCheck.Detail = err.Error()
		tenantCheck.Fix = "check the identity store's provisioning settings; set identityCenter.scimEndpoint, or identityCenter.allowCustomScimEndpoint: true if the endpoint is trusted"
	} else {
		tenantCheck.Level = rotator.LevelOK
		tenantID = pick.TenantID
		endpoint := pick.ScimEndpoint
		if i.cfg.SCIMEndpoint != "" {
			endpoint = i.cfg.SCIMEndpoint
		}
		tenantCheck.Detail = fmt.Sprintf("tenant %s, SCIM endpoint %s", pick.TenantID, orUnknown(endpoint))
	}
	res = append(res, tenantCheck)

	tokenCheck := rotator.CheckResult{System: System, Name: opListBearerTokens, Level: rotator.LevelFail}
	if tenantID == "" {
		tenantID = i.cfg.TenantID
	}
	if tenantID == "" {
		tokenCheck.Detail = "skipped: no provisioning tenant"
		tokenCheck.Fix = "fix " + opListProvisioningTenants + " first"
	} else if tokens, err := i.listTokens(ctx, tenantID); err != nil {
		tokenCheck.Detail = err.Error()
		tokenCheck.Fix = i.fixFor(opListBearerTokens, err)
	} else {
		tokenCheck.Level = rotator.LevelOK
		tokenCheck.Detail = describeTokens(tokens, i.clock.Now())
	}
	res = append(res, tokenCheck)
	return res
}

// fixFor says what to do about err from op.
func (i *Issuer) fixFor(op string, err error) string {
	var se *ShapeError
	var ae *APIError
	var ce *credentialsError
	var ue *url.Error
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("the undocumented API's answer changed shape: %s. Correct the wire details in adapters/identitycenter/api.go (or identityCenter.endpoint/signingName/targetPrefix), or use issuer: manual meanwhile", se.Detail)
	case errors.As(err, &ce):
		return "give the daemon AWS credentials (IRSA, EKS Pod Identity or environment variables)"
	case errors.As(err, &ae):
		if awsbase.Denied(err) || ae.Code == "UnauthorizedOperation" || ae.Code == "UnauthorizedException" {
			return fmt.Sprintf("allow the IAM action %s on Resource \"*\" for the daemon's role", iamActions[op])
		}
		switch ae.Code {
		case "InvalidSignatureException", "SignatureDoesNotMatch", "IncompleteSignatureException", "InvalidSignature":
			return fmt.Sprintf("the request signature was refused: check identityCenter.region (%s), identityCenter.signingName (%s, default %s) and the system clock", i.cfg.Region, i.cfg.SigningName, DefaultSigningName)
		case "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException", "ExpiredToken":
			return "the AWS credentials are not valid (expired session or wrong account): refresh them"
		case "UnknownOperationException", "InvalidAction":
			return fmt.Sprintf("the API does not know %s.%s: the undocumented API may have changed; check identityCenter.targetPrefix (default %s)", i.cfg.TargetPrefix, op, DefaultTargetPrefix)
		case notFoundCode:
			return fmt.Sprintf("check identityCenter.identityStoreId (%s) and identityCenter.tenantId, and that identityCenter.region (%s) is the instance's region", i.cfg.IdentityStoreID, i.cfg.Region)
		}
		if ae.StatusCode == http.StatusNotFound || ae.StatusCode == http.StatusMethodNotAllowed {
			return fmt.Sprintf("nothing answers the token API at %s: check identityCenter.endpoint (some regions use %s)", i.cfg.Endpoint, AltEndpoint(i.cfg.Region))
		}
		if ae.StatusCode >= 500 || awsbase.Transient(err) {
			return "AWS answered a temporary error: run check again later"
		}
	case errors.As(err, &ue):
		return fmt.Sprintf("cannot reach %s: check network egress to AWS, identityCenter.region, and identityCenter.endpoint (some regions use %s)", i.cfg.Endpoint, AltEndpoint(i.cfg.Region))
	}
	return "see the error; `check` makes only read-only calls, so it is safe to run again"
}

// Status describes the tenant and its tokens.
func (i *Issuer) Status(ctx context.Context) (rotator.SystemStatus, error) {
	st := rotator.SystemStatus{System: System, Fields: []rotator.Field{
		{Key: "issuer", Value: config.IssuerIdentityCenter},
		{Key: "region", Value: i.cfg.Region},
		{Key: "identityStoreId", Value: i.cfg.IdentityStoreID},
	}}
	t, err := i.Tenant(ctx)
	if err != nil {
		return st, fmt.Errorf("identity center status: %w", err)
	}
	st.Fields = append(st.Fields, rotator.Field{Key: "tenantId", Value: t.ID}, rotator.Field{Key: "scimEndpoint", Value: t.SCIMEndpoint})
	tokens, err := i.listTokens(ctx, t.ID)
	if err != nil {
		return st, fmt.Errorf("identity center status: %w", err)
	}
	// Each token's dates are in the report's tokens.
	ids := make([]string, 0, len(tokens))
	for _, t := range tokens {
		ids = append(ids, t.ID)
	}
	st.Fields = append(st.Fields, rotator.Field{Key: "tokenIds", Value: ids}, rotator.Field{Key: "tokenLimit", Value: maxTokens})
	return st, nil
}

// maxTokens is how many tokens Identity Center holds at most (documented).
const maxTokens = 2

func describeTokens(tokens []rotator.TokenInfo, now time.Time) string {
	if len(tokens) == 0 {
		return "no tokens"
	}
	parts := make([]string, 0, len(tokens))
	for _, t := range tokens {
		parts = append(parts, t.ID+" ("+describeToken(t, now)+")")
	}
	return fmt.Sprintf("%d of %d tokens: %s", len(tokens), maxTokens, strings.Join(parts, ", "))
}

func describeToken(t rotator.TokenInfo, now time.Time) string {
	s := "created " + t.Created.UTC().Format(time.DateOnly) + ", expires " + t.Expires.UTC().Format(time.DateOnly)
	if !now.Before(t.Expires) {
		return s + " (expired)"
	}
	return s + fmt.Sprintf(" (%d days left)", rotator.DaysLeft(t.Expires, now))
}

func containsTenant(tenants []provisioningTenant, id string) bool {
	for _, t := range tenants {
		if t.TenantID == id {
			return true
		}
	}
	return false
}

func tenantIDs(tenants []provisioningTenant) string {
	if len(tenants) == 0 {
		return "none"
	}
	ids := make([]string, 0, len(tenants))
	for _, t := range tenants {
		ids = append(ids, t.TenantID)
	}
	return strings.Join(ids, ", ")
}

func withSlash(u string) string {
	if strings.HasSuffix(u, "/") {
		return u
	}
	return u + "/"
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
