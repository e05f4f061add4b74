package handoff

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/scim-rotator/scim-rotator/config"
)

// TargetType is the handoff target type (targets[].type: handoff).
var TargetType = config.TargetType{Name: "handoff", NewBlock: func() config.TargetBlock { return new(Config) }}

// Config is the block of a handoff target: a SCIM client configured by hand.
type Config struct {
	// Instructions say where the token is pasted (required).
	Instructions string `yaml:"instructions"`
	// ConsoleURL is the page where it is pasted (optional, https only).
	ConsoleURL string `yaml:"consoleUrl"`
	// UserAgent is a substring of the User-Agent CloudTrail records for the
	// client's SCIM calls (optional): it tells this client from others.
	UserAgent string `yaml:"userAgent"`
}

// maxInstructions bounds the instructions: they are repeated in every
// reminder and Slack message.
const maxInstructions = 1000

// SetDefaults trims the block's values.
func (c *Config) SetDefaults(*config.Config) {
	c.Instructions = strings.TrimSpace(c.Instructions)
	c.ConsoleURL = strings.TrimSpace(c.ConsoleURL)
	c.UserAgent = strings.TrimSpace(c.UserAgent)
}

// Validate checks the block; key is its path, e.g. "targets[1].handoff".
// A handoff target needs proof of use from CloudTrail: nothing else can
// see that the token was pasted, so without it the error names the
// target's type key.
func (c *Config) Validate(key string, root *config.Config) error {
	var errs []error
	add := func(k, msg string) { errs = append(errs, &config.Error{Key: k, Msg: msg}) }
	if root != nil && root.Usage.Source != config.UsageSourceCloudTrail {
		add(strings.TrimSuffix(key, "."+TargetType.Name)+".type", fmt.Sprintf("handoff needs usage.source: cloudtrail (it is %s): only CloudTrail can show that the pasted token is in use",
			config.Quote(root.Usage.Source)))
	}
	switch n := len([]rune(c.Instructions)); {
	case n == 0:
		add(key+".instructions", "required: where in the client's console the token is pasted, e.g. \"Admin console > Apps > ... > Auto-provisioning: paste the token, Save\"")
	case n > maxInstructions:
		add(key+".instructions", fmt.Sprintf("at most %d characters, not %d", maxInstructions, n))
	}
	if c.ConsoleURL != "" {
		if msg := consoleURLProblem(c.ConsoleURL); msg != "" {
			add(key+".consoleUrl", msg)
		}
	}
	if len(c.UserAgent) > 256 {
		add(key+".userAgent", "at most 256 characters (CloudTrail's userAgent is cut there)")
	}
	return errors.Join(errs...)
}

// consoleURLProblem says why u is not a console link for humans: it must
// be an absolute https URL without user info.
func consoleURLProblem(u string) string {
	p, err := url.Parse(u)
	switch {
	case err == nil && p.User != nil:
		return "must not contain user info (user:password@)"
	case err != nil || p.Host == "":
		return config.QuoteURL(u) + " is not an absolute https URL"
	case p.Scheme != "https":
		return config.QuoteURL(u) + " must use https"
	}
	return ""
}

// ConfigSchema states in the config's JSON Schema what Validate enforces
// key by key: the instructions.
func (*Config) ConfigSchema(s *config.Schema) {
	s.Required = []string{"instructions"}
	s.Properties["instructions"].Pattern = `\S`
	s.Properties["instructions"].MaxLength = new(maxInstructions)
}
