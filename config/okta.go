package config

// setDefaults fills the okta block's defaults.
func (t *OktaTarget) setDefaults() {}

// validate checks the okta block; key is its path, e.g. "targets[1].okta".
// Errors are *Error values naming the exact key (join several with errors.Join).
func (t *OktaTarget) validate(key string) error { return nil }
