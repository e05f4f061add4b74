// Package config is scim-rotator's YAML schema: strict decoding (unknown keys
// are errors), defaults, then validation whose every message names the exact
// key. Secrets are never written in the file: keys ending in Env or File name
// where to read them, and ReadSecret reads them. It imports nothing of ours:
// a target's type-specific block is its adapter package's (TargetType), and
// the loader is given the list of types by the factory. JSONSchema is the
// file's JSON Schema, generated from the same types (Schemer adds what
// validation enforces key by key), for `scim-rotator config schema`, the
// chart and editors.
package config
