package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Defaults.
const (
	DefaultRotateBefore   = 720 * time.Hour
	DefaultSchedule       = "@every 6h"
	DefaultConfirmTimeout = 90 * time.Minute
	DefaultLockTimeout    = 2 * time.Minute
	DefaultParallelism    = 4
	// TokenLifetime is how long an Identity Center SCIM token lives (documented).
	TokenLifetime = 365 * 24 * time.Hour
)

var (
	// AWS's pattern for an identity store id.
	identityStoreIDPattern = regexp.MustCompile(`^d-[0-9a-f]{10}$|^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	// Target and instance names become metric labels and store progress
	// keys (and an instance's name a role session name).
	namePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// CronParser parses `schedule` the way `run` does: standard 5-field specs and
// descriptors such as @every 6h or @daily.
var CronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// setDefaults fills every default; has is the set of top-level keys the
// file sets.
func (c *Config) setDefaults(has map[string]bool) {
	// Only an absent key takes a default: an explicit 0 is refused by validate.
	if !c.RotateBefore.IsSet() {
		c.RotateBefore.Duration = DefaultRotateBefore
	}
	if c.Schedule == "" {
		c.Schedule = DefaultSchedule
	}
	if !c.ConfirmTimeout.IsSet() {
		c.ConfirmTimeout.Duration = DefaultConfirmTimeout
	}
	if !c.LockTimeout.IsSet() {
		c.LockTimeout.Duration = DefaultLockTimeout
	}
	if !has["parallelism"] {
		c.Parallelism = DefaultParallelism
	}
	if c.Notify.Slack != nil {
		c.Notify.Slack.setDefaults()
	}
	if !c.Fleet() {
		c.setInstanceDefaults()
		c.resolved = []Instance{{Name: DefaultInstance, Config: c}}
		return
	}
	// usage.region defaults to each instance's identityCenter.region.
	c.Usage.setDefaults("")
	c.resolved = make([]Instance, len(c.Instances))
	for i, in := range c.Instances {
		v := c.instanceView(in)
		v.setInstanceDefaults()
		c.resolved[i] = Instance{Name: in.Name, Key: fmt.Sprintf("instances[%d].", i), AWS: in.AWS, Config: v}
	}
}

// setInstanceDefaults fills the defaults of the keys an instance owns; the
// regions default to its identityCenter.region.
func (c *Config) setInstanceDefaults() {
	ic := &c.IdentityCenter
	if ic.Issuer == "" {
		ic.Issuer = IssuerIdentityCenter
	}
	if c.Store.Region == "" {
		c.Store.Region = ic.Region
	}
	for i := range c.Targets {
		t := &c.Targets[i]
		if t.Block = t.blocks[t.Type]; t.Block != nil {
			t.Block.SetDefaults(c)
		}
	}
	c.Usage.setDefaults(ic.Region)
}

func (c *Config) validate(types TargetTypes) error {
	var errs []error
	add := func(key, msg string) { errs = append(errs, &Error{Key: key, Msg: msg}) }
	addErr := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	errs = append(errs, validateTimes("", &c.RotateBefore, &c.ConfirmTimeout, &c.LockTimeout)...)
	if _, err := CronParser.Parse(c.Schedule); err != nil {
		add("schedule", fmt.Sprintf("invalid cron spec %s: %s (use 5 fields such as \"0 */6 * * *\" or a descriptor such as \"@every 6h\")", Quote(c.Schedule), clip(err.Error(), 2*maxQuoted)))
	}
	if c.Parallelism < 1 {
		add("parallelism", fmt.Sprintf("must be at least 1 (omit the key for the default, %d), not %d", DefaultParallelism, c.Parallelism))
	}

	if c.Fleet() {
		errs = append(errs, c.validateInstances(types)...)
	} else {
		errs = append(errs, c.validateInstance("", types)...)
	}

	if c.Notify.Slack != nil {
		addErr(c.Notify.Slack.validate("notify.slack"))
	}
	addErr(c.Metrics.validate())
	addErr(c.Usage.validate("usage"))
	addErr(c.Health.validate("health"))
	return capErrors(errs)
}

// validateTimes checks the durations; prefix is "" or an instance's
// "instances[2]."; a nil duration is not checked (not overridden).
func validateTimes(prefix string, rotateBefore, confirmTimeout, lockTimeout *Duration) []error {
	var errs []error
	add := func(key, msg string) { errs = append(errs, &Error{Key: prefix + key, Msg: msg}) }
	if rotateBefore != nil {
		switch d := rotateBefore.Duration; {
		case d <= 0:
			add("rotateBefore", fmt.Sprintf("must be > 0 and shorter than a token's lifetime (8760h), not %s", d))
		case d >= TokenLifetime:
			add("rotateBefore", fmt.Sprintf("must be shorter than a token's lifetime (8760h); %s would rotate on every run", d))
		}
	}
	if confirmTimeout != nil {
		if d := confirmTimeout.Duration; d <= 0 {
			add("confirmTimeout", fmt.Sprintf("must be > 0 (omit the key for the default, 90m), not %s", d))
		}
	}
	if lockTimeout != nil {
		switch d := lockTimeout.Duration; {
		case d <= 0:
			add("lockTimeout", fmt.Sprintf("must be > 0 (omit the key for the default, 2m), not %s", d))
		case d < 10*time.Second:
			add("lockTimeout", fmt.Sprintf("must be at least 10s (%s leaves no time to renew the lock between calls)", d))
		}
	}
	return errs
}

// validateInstance checks the keys an instance owns (identityCenter, store,
// targets); prefix is "" in the single-instance form, else "instances[2].".
func (c *Config) validateInstance(prefix string, types TargetTypes) []error {
	var errs []error
	add := func(key, msg string) { errs = append(errs, &Error{Key: prefix + key, Msg: msg}) }
	addErr := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	ic := c.IdentityCenter
	switch ic.Issuer {
	case IssuerIdentityCenter, IssuerManual:
	default:
		add("identityCenter.issuer", fmt.Sprintf("unknown issuer %s: one of identitycenter, manual", Quote(ic.Issuer)))
	}
	if ic.Region == "" {
		add("identityCenter.region", "required")
	}
	switch {
	case ic.IdentityStoreID == "":
		add("identityCenter.identityStoreId", "required")
	case !identityStoreIDPattern.MatchString(ic.IdentityStoreID):
		add("identityCenter.identityStoreId", fmt.Sprintf("%s is not an identity store id (d- followed by 10 hex digits)", Quote(ic.IdentityStoreID)))
	}
	addErr(CheckURL(prefix+"identityCenter.endpoint", ic.Endpoint))
	addErr(CheckURL(prefix+"identityCenter.identityStoreEndpoint", ic.IdentityStoreEndpoint))
	addErr(checkSCIMEndpoint(prefix, ic))
	if ic.Issuer == IssuerManual && ic.SCIMEndpoint == "" && ic.TenantID == "" {
		add("identityCenter.scimEndpoint", "required with issuer manual (or set identityCenter.tenantId)")
	}

	if c.Store.SecretID == "" {
		add("store.secretId", "required")
	}
	addErr(CheckURL(prefix+"store.endpoint", c.Store.Endpoint))

	if len(c.Targets) == 0 {
		add("targets", "at least one target is required")
	}
	names := map[string]int{}
	for i := range c.Targets {
		addErr(c.validateTarget(prefix, i, names, types))
	}
	return errs
}

func (c *Config) validateTarget(prefix string, i int, names map[string]int, types TargetTypes) error {
	t := c.Targets[i]
	key := fmt.Sprintf("%stargets[%d]", prefix, i)
	var errs []error
	add := func(k, msg string) { errs = append(errs, &Error{Key: k, Msg: msg}) }

	switch {
	case t.Name == "":
		add(key+".name", "required")
	case !namePattern.MatchString(t.Name):
		add(key+".name", fmt.Sprintf("%s must be lower-case letters, digits and dashes", Quote(t.Name)))
	default:
		if j, dup := names[t.Name]; dup {
			add(key+".name", fmt.Sprintf("duplicate target name %s (also %stargets[%d])", Quote(t.Name), prefix, j))
		} else {
			names[t.Name] = i
		}
	}

	oneOf := strings.Join(types.Names(), ", ")
	if t.Type == "" {
		add(key+".type", "required: one of "+oneOf)
		return errors.Join(errs...)
	}
	if _, ok := types.lookup(t.Type); !ok {
		add(key+".type", fmt.Sprintf("unknown target type %s: one of %s", Quote(t.Type), oneOf))
		return errors.Join(errs...)
	}
	for _, typ := range types {
		if typ.Name != t.Type && t.blocks[typ.Name] != nil {
			add(key+"."+typ.Name, fmt.Sprintf("not allowed with type %s", t.Type))
		}
	}
	if t.Block == nil {
		add(key+"."+t.Type, "required with type "+t.Type)
		return errors.Join(errs...)
	}
	if err := t.Block.Validate(key+"."+t.Type, c); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// checkSCIMEndpoint checks identityCenter.scimEndpoint: a URL a token may be
// sent to and, unless allowCustomScimEndpoint, the documented endpoint of
// the configured region and tenant.
func checkSCIMEndpoint(prefix string, ic IdentityCenter) error {
	key := prefix + "identityCenter.scimEndpoint"
	if err := CheckURL(key, ic.SCIMEndpoint); err != nil || ic.SCIMEndpoint == "" || ic.AllowCustomScimEndpoint {
		return err
	}
	if p := SCIMEndpointProblem(ic.SCIMEndpoint, ic.Region, ic.TenantID); p != "" {
		return &Error{Key: key, Msg: Quote(ic.SCIMEndpoint) + " " + p + "; set identityCenter.allowCustomScimEndpoint: true to use it anyway"}
	}
	return nil
}

// validate checks the metrics block. The Pushgateway URL must be https when
// basic-auth credentials travel with it; without them it carries nothing
// secret and plain http (an in-cluster Pushgateway) is allowed.
func (m Metrics) validate() error {
	var errs []error
	add := func(k, msg string) { errs = append(errs, &Error{Key: "metrics." + k, Msg: msg}) }
	if m.HasAuth() {
		errs = append(errs, CheckURL("metrics.pushgatewayUrl", m.PushgatewayURL))
		if m.PushgatewayURL == "" {
			add("pushgatewayUrl", "required with pushgatewayUsername")
		}
		switch {
		case m.PushgatewayUsername == "":
			add("pushgatewayUsername", "required with metrics.pushgatewayPasswordEnv, metrics.pushgatewayPasswordFile or metrics.pushgatewayPasswordSecretsManager")
		case !m.PushgatewayPassword().Set():
			add("pushgatewayPasswordEnv", "required with metrics.pushgatewayUsername (or metrics.pushgatewayPasswordFile, or metrics.pushgatewayPasswordSecretsManager)")
		}
		if err := OneSecret("metrics.pushgatewayPassword", m.PushgatewayPassword(), false); err != nil {
			errs = append(errs, err)
		}
	} else {
		errs = append(errs, checkHTTPURL("metrics.pushgatewayUrl", m.PushgatewayURL))
	}
	return errors.Join(errs...)
}

// Errors returns the individual *Error values inside err (joined or single).
func Errors(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var ce *Error
		if errors.As(e, &ce) {
			out = append(out, ce)
		}
	}
	walk(err)
	return out
}
