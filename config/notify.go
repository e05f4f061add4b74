package config

// setDefaults fills the slack block's defaults.
func (s *Slack) setDefaults() {}

// validate checks the slack block; key is "notify.slack".
func (s *Slack) validate(key string) error { return nil }
