package config

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Usage sources: where proof of use (which token Identity Center's SCIM
// calls used) comes from.
const (
	// UsageSourceCloudTrail reads identitystore-scim events with LookupEvents.
	UsageSourceCloudTrail = "cloudtrail"
	// UsageSourceNone turns proof of use off: deletion then relies on the
	// targets' own confirmations.
	UsageSourceNone = "none"
)

// UsageSources lists the values usage.source accepts.
var UsageSources = []string{UsageSourceCloudTrail, UsageSourceNone}

// Defaults of the usage block.
const (
	DefaultQuietPeriod   = 15 * time.Minute
	DefaultDeliveryDelay = 15 * time.Minute
	DefaultPollInterval  = 30 * time.Second
)

// Usage configures proof of use: CloudTrail's record of the SCIM calls
// Identity Center received, and how long to wait for it.
type Usage struct {
	// Source is cloudtrail (default) or none.
	Source string `yaml:"source"`
	// Region is where CloudTrail is read (default identityCenter.region:
	// SCIM events are logged in the instance's region).
	Region string `yaml:"region"`
	// Endpoint overrides CloudTrail's endpoint (a VPC endpoint, the sandbox).
	Endpoint string `yaml:"endpoint"`
	// QuietPeriod is how long the old token must go unused before deletion.
	QuietPeriod Duration `yaml:"quietPeriod"`
	// DeliveryDelay is how late CloudTrail may deliver an event.
	DeliveryDelay Duration `yaml:"deliveryDelay"`
	// PollInterval is how often to look while waiting.
	PollInterval Duration `yaml:"pollInterval"`
}

// setDefaults fills the usage block's defaults; icRegion is
// identityCenter.region.
func (u *Usage) setDefaults(icRegion string) {
	u.Source = strings.ToLower(strings.TrimSpace(u.Source))
	if u.Source == "" {
		u.Source = UsageSourceCloudTrail
	}
	if u.Region == "" {
		u.Region = icRegion
	}
	for _, d := range []struct {
		v   *Duration
		def time.Duration
	}{{&u.QuietPeriod, DefaultQuietPeriod}, {&u.DeliveryDelay, DefaultDeliveryDelay}, {&u.PollInterval, DefaultPollInterval}} {
		if d.v.Duration == 0 {
			d.v.Duration = d.def
		}
	}
}

// validate checks the usage block; key is "usage".
func (u *Usage) validate(key string) error {
	var errs []error
	add := func(k, msg string) { errs = append(errs, &Error{Key: key + "." + k, Msg: msg}) }
	switch u.Source {
	case UsageSourceCloudTrail, UsageSourceNone:
	default:
		add("source", fmt.Sprintf("unknown source %q: one of %s", u.Source, strings.Join(UsageSources, ", ")))
	}
	if err := CheckURL(key+".endpoint", u.Endpoint); err != nil {
		errs = append(errs, err)
	}
	for _, d := range []struct {
		k string
		v time.Duration
	}{{"quietPeriod", u.QuietPeriod.Duration}, {"deliveryDelay", u.DeliveryDelay.Duration}, {"pollInterval", u.PollInterval.Duration}} {
		if d.v < 0 {
			add(d.k, fmt.Sprintf("must be positive, not %s", d.v))
		}
	}
	return errors.Join(errs...)
}
