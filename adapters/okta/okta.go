package okta

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/okta/okta-sdk-golang/v2/okta"
	"github.com/okta/okta-sdk-golang/v2/okta/cache"
	"github.com/okta/okta-sdk-golang/v2/okta/query"
	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// System is how this adapter names itself in check and status output.
const System = "okta"

// Timing. Okta asks pollers of the System Log to wait 10-15 s between reads,
// and rate limits are per org and per endpoint family.
const (
	// pollInterval is the least time between two confirmation polls.
	pollInterval = 10 * time.Second
	// maxBackoff caps a wait for a rate limit to reset.
	maxBackoff = 60 * time.Second
	// throttleRetries is how often a one-shot call (push, test, check) is
	// retried after a 429.
	throttleRetries = 3
	// defaultConfirmTimeout applies when a ConfirmRequest has no deadline.
	defaultConfirmTimeout = 90 * time.Minute
	// maxLogPages bounds System Log paging in one poll (1000 events a page).
	maxLogPages = 20
)

// requestTimeout bounds each HTTP request (a var: the hang test shortens
// it; the SDK takes whole seconds).
var requestTimeout = 30 * time.Second

// Scopes the OAuth service app needs: read the app and its users, set the
// connection, read the System Log; with a canary also canaryScope (change
// the canary user's profile).
var Scopes = []string{"okta.apps.read", "okta.apps.manage", "okta.logs.read"}

// scopes are the scopes a target with cfg requests.
func scopes(cfg Config) []string {
	s := append([]string(nil), Scopes...)
	if cfg.CanaryUserID != "" {
		s = append(s, canaryScope)
	}
	return s
}

// Options are the adapter's dependencies; the zero value is usable.
type Options struct {
	Logger *zap.Logger
	// HTTPClient sends every request to Okta (nil: a client with a 60 s
	// timeout). Its transport is wrapped, not changed.
	HTTPClient *http.Client
	// Clock times polling and rate-limit waits (nil: the wall clock).
	Clock rotator.Clock
	// ConfigKey is the block's config path for error messages, e.g.
	// "targets[1].okta" (default "targets[<name>].okta").
	ConfigKey string
	// Secrets reads the ...SecretsManager keys (the instance's AWS
	// credentials); nil when none is configured.
	Secrets config.SecretReader
}

func (o Options) withDefaults(name string) Options {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Clock == nil {
		o.Clock = rotator.RealClock{}
	}
	if o.ConfigKey == "" {
		o.ConfigKey = "targets[" + name + "].okta"
	}
	return o
}

// appsAPI is the slice of the SDK's ApplicationResource the target uses.
type appsAPI interface {
	GetApplication(ctx context.Context, appID string, app okta.App, qp *query.Params) (okta.App, *okta.Response, error)
	GetDefaultProvisioningConnectionForApplication(ctx context.Context, appID string) (*okta.ProvisioningConnection, *okta.Response, error)
	SetDefaultProvisioningConnectionForApplication(ctx context.Context, appID string, body okta.ProvisioningConnectionRequest, qp *query.Params) (*okta.ProvisioningConnection, *okta.Response, error)
	GetApplicationUser(ctx context.Context, appID, userID string, qp *query.Params) (*okta.AppUser, *okta.Response, error)
}

// usersAPI is the slice of the SDK's UserResource the target uses: the
// partial update (POST) that changes the canary's profile.
type usersAPI interface {
	PartialUpdateUser(ctx context.Context, userID string, body okta.User, qp *query.Params) (*okta.User, *okta.Response, error)
}

// logsAPI is the slice of the SDK's LogEventResource the target uses.
type logsAPI interface {
	GetLogs(ctx context.Context, qp *query.Params) ([]*okta.LogEvent, *okta.Response, error)
}

// Target is an Okta app's provisioning connection.
type Target struct {
	name  string
	cfg   Config
	apps  appsAPI
	users usersAPI
	logs  logsAPI
	log   *zap.Logger
	clock rotator.Clock
	// oauth tells check which fix to suggest for auth errors.
	oauth bool

	mu sync.Mutex
	// decided caches the preflight's decision for this process.
	decided *decision
	// fellBack is set when Okta refused an api push in auto mode: the rest
	// of this process uses a hand-off, with this reason.
	fellBack string
}

var (
	_ rotator.Target           = (*Target)(nil)
	_ rotator.Inspector        = (*Target)(nil)
	_ rotator.HandoffDescriber = (*Target)(nil)
	// Not a rotator.Holder, on purpose: Okta never returns the token a
	// connection holds (the connections API answers authScheme and status
	// only; the Admin Console masks it), so the target cannot show which
	// token it holds, and must not pretend to.
)

// New builds the target from cfg with okta-sdk-golang. Every SDK option is
// set explicitly: the SDK also reads ~/.okta/okta.yaml, an .okta.yaml next
// to its own sources and OKTA_CLIENT_* / OKTA_TESTING_* environment variables
// before applying options, so an option left out could be changed from
// outside. Its GET cache is off (a cached System Log or app user would fake a
// confirmation) and its own 429 retries are off: the target waits for
// X-Rate-Limit-Reset itself, on opts.Clock, with a capped back-off.
func New(ctx context.Context, name string, cfg Config, opts Options) (*Target, error) {
	opts = opts.withDefaults(name)
	cfg.OrgURL = strings.TrimRight(cfg.OrgURL, "/")
	client, oauth, err := newSDKClient(ctx, cfg, opts.ConfigKey, opts.HTTPClient, opts.Secrets)
	if err != nil {
		return nil, err
	}
	return newTarget(name, cfg, client.Application, client.User, client.LogEvent, oauth, opts), nil
}

// newSDKClient builds the SDK client with every option set (see New).
func newSDKClient(ctx context.Context, cfg Config, key string, httpClient *http.Client, secrets config.SecretReader) (*okta.Client, bool, error) {
	if cfg.OrgURL == "" {
		return nil, false, &config.Error{Key: key + ".orgUrl", Msg: "required"}
	}
	if cfg.AppID == "" {
		return nil, false, &config.Error{Key: key + ".appId", Msg: "required"}
	}
	u, err := url.Parse(cfg.OrgURL)
	if err != nil || u.Host == "" {
		return nil, false, &config.Error{Key: key + ".orgUrl", Msg: fmt.Sprintf("%q is not a URL", cfg.OrgURL)}
	}
	plainHTTP := u.Scheme == "http"
	if plainHTTP && !isLoopback(u.Hostname()) {
		return nil, false, &config.Error{Key: key + ".orgUrl", Msg: "must use https"}
	}
	if err := checkSDKEnv(os.Environ()); err != nil {
		return nil, false, err
	}

	setters := []okta.ConfigSetter{
		okta.WithOrgUrl(cfg.OrgURL),
		okta.WithCache(false),
		okta.WithCacheManager(cache.NewNoOpCache()),
		okta.WithCacheTtl(0),
		okta.WithCacheTti(0),
		okta.WithHttpClientPtr(observeRateLimits(httpClient)),
		okta.WithConnectionTimeout(int64(requestTimeout / time.Second)),
		okta.WithRequestTimeout(int64(requestTimeout / time.Second)),
		okta.WithRateLimitMaxRetries(0),
		okta.WithRateLimitMaxBackOff(int64(maxBackoff / time.Second)),
		okta.WithProxyHost(""),
		okta.WithProxyPort(0),
		okta.WithProxyUsername(""),
		okta.WithProxyPassword(""),
		okta.WithUserAgentExtra("scim-rotator"),
		// http:// only reaches here for a loopback sandbox.
		okta.WithTestingDisableHttpsCheck(plainHTTP),
		okta.WithClientAssertion(""),
		// WithPrivateKey reads a file if its argument names one; an empty
		// string names none. A key goes in as a signer (PKCS#1 and PKCS#8).
		okta.WithPrivateKey(""),
	}
	oauth := cfg.ClientID != "" || cfg.PrivateKeyFile != "" || cfg.PrivateKeySecretsManager != nil
	if oauth {
		signer, err := keySigner(ctx, key, cfg, secrets)
		if err != nil {
			return nil, false, err
		}
		setters = append(setters,
			okta.WithAuthorizationMode("PrivateKey"),
			okta.WithToken(""),
			okta.WithClientId(cfg.ClientID),
			okta.WithScopes(scopes(cfg)),
			okta.WithPrivateKeyId(cfg.PrivateKeyID),
			okta.WithPrivateKeySigner(signer),
		)
	} else {
		token, err := config.ReadSecretFrom(ctx, key+".apiToken", cfg.APIToken(), secrets)
		if err != nil {
			return nil, false, err
		}
		setters = append(setters,
			okta.WithAuthorizationMode("SSWS"),
			okta.WithToken(token),
			okta.WithClientId(""),
			okta.WithScopes(nil),
			okta.WithPrivateKeyId(""),
			okta.WithPrivateKeySigner(nil),
		)
	}
	_, client, err := okta.NewClient(ctx, setters...)
	if err != nil {
		// The SDK's messages name the setting, never the token.
		return nil, false, fmt.Errorf("okta client for %s: %w", cfg.OrgURL, err)
	}
	return client, oauth, nil
}

// newTarget builds the target on the narrow slice of the SDK it uses.
func newTarget(name string, cfg Config, apps appsAPI, users usersAPI, logs logsAPI, oauth bool, opts Options) *Target {
	opts = opts.withDefaults(name)
	if cfg.Mode == "" {
		cfg.Mode = ModeAuto
	}
	if cfg.CanaryAttribute == "" {
		cfg.CanaryAttribute = DefaultCanaryAttribute
	}
	return &Target{
		name: name, cfg: cfg, apps: apps, users: users, logs: logs, oauth: oauth,
		log:   opts.Logger.With(zap.String("target", name), zap.String("okta_app_id", cfg.AppID)),
		clock: opts.Clock,
	}
}

// Name is the target's configured name.
func (t *Target) Name() string { return t.name }

func isLoopback(host string) bool {
	return host == "127.0.0.1" || host == "localhost" || host == "::1"
}

// keySigner loads the service app's private key (PEM: PKCS#1 RSA, or PKCS#8
// RSA or EC) as a JWS signer for the client assertion. The SDK itself takes
// only PKCS#1.
func keySigner(ctx context.Context, key string, cfg Config, secrets config.SecretReader) (jose.Signer, error) {
	if cfg.ClientID == "" {
		return nil, &config.Error{Key: key + ".clientId", Msg: "required with privateKeyFile"}
	}
	b, keyName, where, err := config.ReadKeyMaterial(ctx, key+".privateKey", cfg.PrivateKeyFile, cfg.PrivateKeySecretsManager, secrets)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, &config.Error{Key: keyName, Msg: fmt.Sprintf("%s holds no PEM private key", where)}
	}
	var parsed any
	switch block.Type {
	case "RSA PRIVATE KEY":
		parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		err = fmt.Errorf("unsupported PEM block %q", block.Type)
	}
	if err != nil {
		return nil, &config.Error{Key: keyName, Msg: fmt.Sprintf("%s: not a usable private key (want RSA or EC PEM): %v", where, err)}
	}
	var sk jose.SigningKey
	switch k := parsed.(type) {
	case *rsa.PrivateKey:
		sk = jose.SigningKey{Algorithm: jose.RS256, Key: k}
	case *ecdsa.PrivateKey:
		alg := map[int]jose.SignatureAlgorithm{256: jose.ES256, 384: jose.ES384, 521: jose.ES512}[k.Curve.Params().BitSize]
		if alg == "" {
			return nil, &config.Error{Key: key + ".privateKeyFile", Msg: "unsupported EC curve"}
		}
		sk = jose.SigningKey{Algorithm: alg, Key: k}
	default:
		return nil, &config.Error{Key: key + ".privateKeyFile", Msg: fmt.Sprintf("unsupported key type %T (want RSA or EC)", parsed)}
	}
	so := &jose.SignerOptions{}
	if cfg.PrivateKeyID != "" {
		so = so.WithHeader("kid", cfg.PrivateKeyID)
	}
	signer, err := jose.NewSigner(sk, so)
	if err != nil {
		return nil, &config.Error{Key: key + ".privateKeyFile", Msg: fmt.Sprintf("cannot sign with the key: %v", err)}
	}
	return signer, nil
}

// Abilities: with a canary, Confirm changes the canary's profile so Okta
// pushes it, and the SCIM calls that follow show which token Okta sends;
// alerts link the app's page in the Admin Console.
func (t *Target) Abilities() rotator.Abilities {
	link := t.consoleLink()
	return rotator.Abilities{Canary: t.cfg.CanaryUserID != "", Console: &link}
}
