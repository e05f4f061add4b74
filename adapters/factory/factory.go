package factory

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/cloudtrail"
	"github.com/scim-rotator/scim-rotator/adapters/entra"
	"github.com/scim-rotator/scim-rotator/adapters/handoff"
	"github.com/scim-rotator/scim-rotator/adapters/health"
	"github.com/scim-rotator/scim-rotator/adapters/identitycenter"
	"github.com/scim-rotator/scim-rotator/adapters/okta"
	"github.com/scim-rotator/scim-rotator/adapters/secretsmanager"
	"github.com/scim-rotator/scim-rotator/adapters/slack"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// Options are what the process gives every adapter. Zero values mean
// production defaults: the SDKs' default credential chains and HTTP clients
// and the wall clock.
type Options struct {
	Logger         *zap.Logger
	Clock          rotator.Clock
	HTTPClient     *http.Client
	AWSCredentials aws.CredentialsProvider
	Observer       rotator.Observer
	// ObserverFor, when set, gives each instance its own Observer (metrics
	// labelled with the instance's name); otherwise every instance has
	// Observer.
	ObserverFor func(instance string) rotator.Observer
	// Version is the product's version, for the User-Agent of its own SCIM
	// requests (empty: "dev").
	Version string
	// STSEndpoint is where instances' roles are assumed and identities
	// asked (empty: $AWS_ENDPOINT_URL_STS, else the SDK's endpoint).
	STSEndpoint string
	// InstanceClock, when set, gives an instance its own clock (a virtual
	// sandbox keeps one per account); otherwise every instance uses Clock.
	InstanceClock func(instance string) rotator.Clock

	// configKey is the config path of the target being built, for errors.
	configKey string
	// usage is the instance's usage source (nil with usage.source none)
	// and usagePolicy its config, for the targets that prove with it.
	usage       rotator.UsageSource
	usagePolicy config.Usage
	// secrets reads the instance's ...SecretsManager keys with its AWS
	// credentials.
	secrets *secretReader
}

// issuer is what the issuer constructors return.
type issuer interface {
	rotator.Issuer
	rotator.Inspector
}

type issuerConstructor func(ctx context.Context, cfg config.IdentityCenter, o Options) (issuer, error)

// targetType is a targets[].type: its block (decoded, defaulted and
// validated by the config loader) and its constructor.
type targetType struct {
	config.TargetType
	build func(ctx context.Context, name string, block config.TargetBlock, o Options) (rotator.Target, error)
}

// usageSource is what the usage constructors return.
type usageSource interface {
	rotator.UsageSource
	rotator.Inspector
}

// listTokens lists Identity Center's tokens (the issuer's ListTokens).
type listTokens func(context.Context) ([]rotator.TokenInfo, error)

type usageConstructor func(ctx context.Context, cfg *config.Config, tokens listTokens, o Options) (usageSource, error)

// issuerConstructors maps identityCenter.issuer to its adapter.
var issuerConstructors = map[string]issuerConstructor{
	config.IssuerIdentityCenter: func(ctx context.Context, cfg config.IdentityCenter, o Options) (issuer, error) {
		return identitycenter.New(ctx, cfg, icOptions(o))
	},
	config.IssuerManual: func(_ context.Context, cfg config.IdentityCenter, o Options) (issuer, error) {
		return identitycenter.NewManual(cfg, icOptions(o))
	},
}

// targetTypes is every targets[].type, in the order errors list them: the
// one place a target type is named. Its block lives in its adapter package.
var targetTypes = []targetType{
	{secretsmanager.TargetType, func(ctx context.Context, name string, b config.TargetBlock, o Options) (rotator.Target, error) {
		return secretsmanager.NewTarget(ctx, name, *b.(*secretsmanager.TargetConfig), smOptions(o))
	}},
	{entra.TargetType, func(ctx context.Context, name string, b config.TargetBlock, o Options) (rotator.Target, error) {
		return entra.New(ctx, name, *b.(*entra.Config), entra.Options{Logger: o.Logger, HTTPClient: o.HTTPClient, Clock: o.Clock, ConfigKey: o.configKey, Secrets: o.secretsOrNil()})
	}},
	{okta.TargetType, func(ctx context.Context, name string, b config.TargetBlock, o Options) (rotator.Target, error) {
		return okta.New(ctx, name, *b.(*okta.Config), okta.Options{Logger: o.Logger, HTTPClient: o.HTTPClient, Clock: o.Clock, ConfigKey: o.configKey, Secrets: o.secretsOrNil()})
	}},
	{handoff.TargetType, func(_ context.Context, name string, b config.TargetBlock, o Options) (rotator.Target, error) {
		return handoff.New(name, *b.(*handoff.Config), handoff.Options{Logger: o.Logger, Clock: o.Clock, Usage: o.usage,
			DeliveryDelay: o.usagePolicy.DeliveryDelay.Duration, PollInterval: o.usagePolicy.PollInterval.Duration, ConfigKey: o.configKey})
	}},
}

// TargetTypes is what config.Load and config.Parse are given: every target
// type this build knows.
func TargetTypes() config.TargetTypes {
	ts := make(config.TargetTypes, len(targetTypes))
	for i, t := range targetTypes {
		ts[i] = t.TargetType
	}
	return ts
}

// usageConstructors maps usage.source to its adapter; none is no source
// (deletion relies on the targets' own confirmations).
var usageConstructors = map[string]usageConstructor{
	config.UsageSourceCloudTrail: func(ctx context.Context, cfg *config.Config, tokens listTokens, o Options) (usageSource, error) {
		return cloudtrail.New(ctx, cfg.Usage, cfg.IdentityCenter.Region, cloudtrail.Options{Logger: o.Logger, HTTPClient: o.HTTPClient,
			Clock: o.Clock, AWSCredentials: o.AWSCredentials, Tokens: tokens})
	},
	config.UsageSourceNone: func(context.Context, *config.Config, listTokens, Options) (usageSource, error) { return nil, nil },
}

// healthConstructor builds the expiry watch of an instance in region (its
// partition chooses Health's endpoint and signing region).
type healthConstructor func(ctx context.Context, cfg config.Health, region string, o Options) (rotator.ExpiryWatch, error)

// healthConstructors maps health.enabled to the expiry watch; off is none.
var healthConstructors = map[bool]healthConstructor{
	true: func(ctx context.Context, cfg config.Health, region string, o Options) (rotator.ExpiryWatch, error) {
		return health.New(ctx, cfg, health.Options{Logger: o.Logger, Region: region, HTTPClient: o.HTTPClient, Clock: o.Clock, AWSCredentials: o.AWSCredentials})
	},
	false: func(context.Context, config.Health, string, Options) (rotator.ExpiryWatch, error) { return nil, nil },
}

// secretsOrNil is the instance's secret reader as an interface: nil (not a
// nil pointer) when build runs without one.
func (o Options) secretsOrNil() config.SecretReader {
	if o.secrets == nil {
		return nil
	}
	return o.secrets
}

func icOptions(o Options) identitycenter.Options {
	return identitycenter.Options{Logger: o.Logger, HTTPClient: o.HTTPClient, Clock: o.Clock, AWSCredentials: o.AWSCredentials, Version: o.Version}
}

func smOptions(o Options) secretsmanager.Options {
	return secretsmanager.Options{Logger: o.Logger, HTTPClient: o.HTTPClient, Clock: o.Clock, AWSCredentials: o.AWSCredentials}
}

// Instance is one Identity Center instance, wired.
type Instance struct {
	// Name is the instance's name (config.DefaultInstance in the
	// single-instance form).
	Name    string
	Rotator *rotator.Rotator
	// Identity is the AWS identity the instance's calls act as
	// (sts:GetCallerIdentity): its role's, or the base credentials'.
	Identity func(ctx context.Context) (account, arn string, err error)
	// Secrets reads the instance's ...SecretsManager keys (those read
	// after the build: metrics.pushgatewayPasswordSecretsManager).
	Secrets config.SecretReader
	// SecretsRead lists the ...SecretsManager keys the build read.
	SecretsRead func() []SecretRead
}

// Build wires the rotator of a configuration's only instance (the demo,
// tests and single-instance callers); a fleet of several is an error.
func Build(ctx context.Context, cfg *config.Config, o Options) (*rotator.Rotator, error) {
	all := cfg.InstanceList()
	if len(all) != 1 {
		names := make([]string, len(all))
		for i, in := range all {
			names[i] = in.Name
		}
		return nil, &config.Error{Key: "instances", Msg: fmt.Sprintf("%d instances (%s): choose one", len(all), strings.Join(names, ", "))}
	}
	in, err := BuildInstance(ctx, all[0], o)
	if err != nil {
		return nil, err
	}
	return in.Rotator, nil
}

// BuildFleet wires the instances named (every instance when names is
// empty), in the file's order, each with its own adapters, store, lock and
// usage source. An unknown name is a *config.Error naming it; the first
// instance that cannot be built fails the whole call (BuildInstance builds
// one at a time for callers that go on without it).
func BuildFleet(ctx context.Context, cfg *config.Config, o Options, names []string) ([]Instance, error) {
	sel, err := cfg.Select(names)
	if err != nil {
		return nil, err
	}
	out := make([]Instance, 0, len(sel))
	for _, in := range sel {
		inst, err := BuildInstance(ctx, in, o)
		if err != nil {
			return nil, err
		}
		out = append(out, inst)
	}
	return out, nil
}

// BuildInstance wires one instance's rotator from a validated configuration.
// Every credential is resolved here, so a missing env var or unreadable file
// fails before anything runs (with a *config.Error naming the key). With
// aws.roleArn, every AWS client of the instance assumes the role. An
// instance of the fleet form names itself in errors and logs, and alerts
// name it with its identity store id.
func BuildInstance(ctx context.Context, in config.Instance, o Options) (Instance, error) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.InstanceClock != nil {
		if c := o.InstanceClock(in.Name); c != nil {
			o.Clock = c
		}
	}
	if o.Clock == nil {
		o.Clock = rotator.RealClock{}
	}
	if o.ObserverFor != nil {
		o.Observer = o.ObserverFor(in.Name)
	}
	fleet := in.Key != ""
	if fleet {
		o.Logger = o.Logger.With(zap.String("instance", in.Name))
	}
	o, identity, err := instanceAWS(ctx, in, o)
	var r *rotator.Rotator
	if err == nil {
		o.secrets = newSecretReader(in.Config.IdentityCenter.Region, o)
		r, err = build(ctx, in.Key, in.Config, o)
	}
	if err != nil {
		if fleet {
			err = fmt.Errorf("instance %s: %w", in.Name, err)
		}
		return Instance{}, err
	}
	if fleet {
		// Alerts say which instance by name, and still give its store id.
		r.Instance, r.Region = in.Name, in.Config.IdentityCenter.IdentityStoreID+", "+in.Config.IdentityCenter.Region
	}
	return Instance{Name: in.Name, Rotator: r, Identity: identity, Secrets: o.secrets, SecretsRead: o.secrets.reads}, nil
}

// build wires a rotator from an instance's configuration; key prefixes the
// config keys errors name ("instances[2].", or "").
func build(ctx context.Context, key string, cfg *config.Config, o Options) (*rotator.Rotator, error) {
	ic := cfg.IdentityCenter
	newIssuer, ok := issuerConstructors[ic.Issuer]
	if !ok {
		return nil, &config.Error{Key: key + "identityCenter.issuer", Msg: fmt.Sprintf("unknown issuer %q", ic.Issuer)}
	}
	iss, err := newIssuer(ctx, ic, o)
	if err != nil {
		return nil, within("identityCenter", key+"identityCenter.", err)
	}
	// The identity store's network rules, read with the documented API
	// whatever the issuer: they can refuse this host's SCIM proof.
	network, err := identitycenter.NewNetwork(ctx, ic, icOptions(o))
	if err != nil {
		return nil, fmt.Errorf("identityCenter: %w", err)
	}
	store, err := secretsmanager.NewStore(ctx, cfg.Store, smOptions(o))
	if err != nil {
		return nil, within("store", key+"store.", err)
	}
	r := &rotator.Rotator{
		Issuer: iss,
		Prover: identitycenter.NewProver(icOptions(o)), Network: network, Store: store,
		Observer: o.Observer, Clock: o.Clock, Log: o.Logger,
		RotateBefore: cfg.RotateBefore.Duration, ConfirmTimeout: cfg.ConfirmTimeout.Duration,
		LockTimeout: cfg.LockTimeout.Duration,
		UsagePolicy: rotator.UsagePolicy{QuietPeriod: cfg.Usage.QuietPeriod.Duration,
			DeliveryDelay: cfg.Usage.DeliveryDelay.Duration, PollInterval: cfg.Usage.PollInterval.Duration},
		Instance: ic.IdentityStoreID, Region: ic.Region,
		Links: []rotator.Link{{Text: "IAM Identity Center settings (AWS console)",
			URL: fmt.Sprintf("https://%s.console.aws.amazon.com/singlesignon/home?region=%s#/instances/settings", ic.Region, ic.Region)}},
	}
	newUsage, ok := usageConstructors[cfg.Usage.Source]
	if !ok {
		return nil, &config.Error{Key: "usage.source", Msg: fmt.Sprintf("unknown source %q", cfg.Usage.Source)}
	}
	usage, err := newUsage(ctx, cfg, rotator.TokensOf(iss).ListTokens, o)
	if err != nil {
		return nil, within("usage", "usage.", err)
	}
	if usage != nil {
		r.Usage = usage
		o.usage = usage
	}
	o.usagePolicy = cfg.Usage
	watch, err := healthConstructors[cfg.Health.Enabled](ctx, cfg.Health, cfg.IdentityCenter.Region, o)
	if err != nil {
		return nil, within("health", "health.", err)
	}
	if watch != nil {
		r.Health = watch
	}
	for i, t := range cfg.Targets {
		j := slices.IndexFunc(targetTypes, func(tt targetType) bool { return tt.Name == t.Type })
		if j < 0 || t.Block == nil {
			return nil, &config.Error{Key: fmt.Sprintf("%stargets[%d].type", key, i), Msg: fmt.Sprintf("unknown target type %q", t.Type)}
		}
		o.configKey = fmt.Sprintf("%stargets[%d].%s", key, i, t.Type)
		tg, err := targetTypes[j].build(ctx, t.Name, t.Block, o)
		if err != nil {
			return nil, within("target "+t.Name, fmt.Sprintf("%stargets[%d].", key, i), err)
		}
		r.Targets = append(r.Targets, tg)
	}
	if s := cfg.Notify.Slack; s != nil {
		n, err := slack.New(ctx, *s, slack.Options{Logger: o.Logger, HTTPClient: o.HTTPClient, Clock: o.Clock, Secrets: o.secretsOrNil()})
		if err != nil {
			return nil, within("notify.slack", "notify.slack.", err)
		}
		r.Notifier = n
	}
	return r, nil
}

// within prefixes a build error with what failed ("target entra: ..."),
// unless it is made of configuration errors whose keys already say where
// (targets[1].entra.clientSecretEnv): an error names each key once.
func within(what, keyPrefix string, err error) error {
	ces := config.Errors(err)
	named := len(ces) > 0
	for _, ce := range ces {
		named = named && strings.HasPrefix(ce.Key, keyPrefix)
	}
	if named {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}
