package config

// Health configures the independent expiry watch: AWS Health's
// AWS_IAMIDENTITYCENTER_SCIM_BEARER_TOKEN_EXPIRY_NOTIFICATION events,
// compared with the tokens the rotator lists.
type Health struct {
	// Enabled turns the watch on (default off: it needs a Business or
	// Enterprise support plan, and health:DescribeEvents and
	// health:DescribeEventDetails).
	Enabled bool `yaml:"enabled"`
	// Endpoint overrides AWS Health's global endpoint
	// (https://health.us-east-1.amazonaws.com): a VPC endpoint, the sandbox.
	Endpoint string `yaml:"endpoint"`
}

// validate checks the health block; key is "health".
func (h *Health) validate(key string) error {
	return CheckURL(key+".endpoint", h.Endpoint)
}
