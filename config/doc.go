// Package config is scim-rotator's YAML schema: strict decoding (unknown keys
// are errors), defaults, then validation whose every message names the exact
// key. Secrets are never written in the file: keys ending in Env or File name
// where to read them, and ReadSecret reads them. It imports nothing of ours.
package config
