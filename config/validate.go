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
	// TokenLifetime is how long an Identity Center SCIM token lives (documented).
	TokenLifetime = 365 * 24 * time.Hour
)

var (
	// AWS's pattern for an identity store id.
	identityStoreIDPattern = regexp.MustCompile(`^d-[0-9a-f]{10}$|^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	// Target names become metric labels and store progress keys.
	targetNamePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// CronParser parses `schedule` the way `run` does: standard 5-field specs and
// descriptors such as @every 6h or @daily.
var CronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func (c *Config) setDefaults() {
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
	if c.Notify.Slack != nil {
		c.Notify.Slack.setDefaults()
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

	switch d := c.RotateBefore.Duration; {
	case d <= 0:
		add("rotateBefore", fmt.Sprintf("must be > 0 and shorter than a token's lifetime (8760h), not %s", d))
	case d >= TokenLifetime:
		add("rotateBefore", fmt.Sprintf("must be shorter than a token's lifetime (8760h); %s would rotate on every run", d))
	}
	if d := c.ConfirmTimeout.Duration; d <= 0 {
		add("confirmTimeout", fmt.Sprintf("must be > 0 (omit the key for the default, 90m), not %s", d))
	}
	switch d := c.LockTimeout.Duration; {
	case d <= 0:
		add("lockTimeout", fmt.Sprintf("must be > 0 (omit the key for the default, 2m), not %s", d))
	case d < 10*time.Second:
		add("lockTimeout", fmt.Sprintf("must be at least 10s (%s leaves no time to renew the lock between calls)", d))
	}
	if _, err := CronParser.Parse(c.Schedule); err != nil {
		add("schedule", fmt.Sprintf("invalid cron spec %s: %s (use 5 fields such as \"0 */6 * * *\" or a descriptor such as \"@every 6h\")", Quote(c.Schedule), clip(err.Error(), 2*maxQuoted)))
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
	addErr(CheckURL("identityCenter.endpoint", ic.Endpoint))
	addErr(checkSCIMEndpoint(ic))
	if ic.Issuer == IssuerManual && ic.SCIMEndpoint == "" && ic.TenantID == "" {
		add("identityCenter.scimEndpoint", "required with issuer manual (or set identityCenter.tenantId)")
	}

	if c.Store.SecretID == "" {
		add("store.secretId", "required")
	}
	addErr(CheckURL("store.endpoint", c.Store.Endpoint))

	if len(c.Targets) == 0 {
		add("targets", "at least one target is required")
	}
	names := map[string]int{}
	for i := range c.Targets {
		addErr(c.validateTarget(i, names, types))
	}

	if c.Notify.Slack != nil {
		addErr(c.Notify.Slack.validate("notify.slack"))
	}
	addErr(c.Metrics.validate())
	addErr(c.Usage.validate("usage"))
	addErr(c.Health.validate("health"))
	return capErrors(errs)
}

func (c *Config) validateTarget(i int, names map[string]int, types TargetTypes) error {
	t := c.Targets[i]
	key := fmt.Sprintf("targets[%d]", i)
	var errs []error
	add := func(k, msg string) { errs = append(errs, &Error{Key: k, Msg: msg}) }

	switch {
	case t.Name == "":
		add(key+".name", "required")
	case !targetNamePattern.MatchString(t.Name):
		add(key+".name", fmt.Sprintf("%s must be lower-case letters, digits and dashes", Quote(t.Name)))
	default:
		if j, dup := names[t.Name]; dup {
			add(key+".name", fmt.Sprintf("duplicate target name %s (also targets[%d])", Quote(t.Name), j))
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
func checkSCIMEndpoint(ic IdentityCenter) error {
	const key = "identityCenter.scimEndpoint"
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
		pw := m.PushgatewayPasswordEnv != "" || m.PushgatewayPasswordFile != ""
		switch {
		case m.PushgatewayUsername == "":
			add("pushgatewayUsername", "required with pushgatewayPasswordEnv or pushgatewayPasswordFile")
		case !pw:
			add("pushgatewayPasswordEnv", "required with pushgatewayUsername: set pushgatewayPasswordEnv or pushgatewayPasswordFile")
		}
		if m.PushgatewayPasswordEnv != "" && m.PushgatewayPasswordFile != "" {
			add("pushgatewayPasswordEnv", "set only one of metrics.pushgatewayPasswordEnv and metrics.pushgatewayPasswordFile")
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
