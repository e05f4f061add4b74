package config

import (
	"regexp"
	"testing"
	"time"
)

// The duration patterns agree with time.ParseDuration: any, not negative,
// positive.
func TestSchemaDurationPatterns(t *testing.T) {
	any := regexp.MustCompile(DurationPattern)
	nonNegative := regexp.MustCompile(NonNegativeDurationPattern)
	positive := regexp.MustCompile(PositiveDurationPattern)
	for _, s := range []string{
		"0", "0s", "00m", "0.0h", ".0s", "720h", "90m", "1h30m", "1.5h", ".5s", "5.s", "+90m", "-1m", "-0s", "1µs", "1μs", "2us", "3ns", "10ms",
		"0h0m1s", "0h0m0s", "", "30d", "90 m", "120", "1", "h", ".s", "1h-30m", "--1s", "1e3s", "0x10s", " 90m",
	} {
		d, err := time.ParseDuration(s)
		ok := err == nil
		if got := any.MatchString(s); got != ok {
			t.Errorf("%q: DurationPattern %v, ParseDuration ok %v", s, got, ok)
		}
		// "-0s" is 0, which the loader takes; the pattern refuses every sign but +.
		if got, want := nonNegative.MatchString(s), ok && d >= 0 && s[0] != '-'; got != want {
			t.Errorf("%q: NonNegativeDurationPattern %v, want %v", s, got, want)
		}
		if got, want := positive.MatchString(s), ok && d > 0; got != want {
			t.Errorf("%q: PositiveDurationPattern %v, want %v", s, got, want)
		}
	}
}

// Every key the decoder knows is in the schema, and every object refuses
// other keys.
func TestSchemaHasEveryKey(t *testing.T) {
	s := JSONSchema(nil)
	for _, path := range [][]string{
		{"identityCenter", "identityStoreId"}, {"store", "secretId"}, {"targets", "*", "type"}, {"notify", "slack", "webhookUrlFile"},
		{"metrics", "pushgatewayPasswordFile"}, {"usage", "quietPeriod"}, {"health", "enabled"}, {"instances", "*", "aws", "externalId"},
		{"instances", "*", "targets", "*", "name"}, {"lockTimeout"}, {"parallelism"},
	} {
		n := s
		for _, k := range path {
			if k == "*" {
				n = n.Items
			} else {
				n = n.Properties[k]
			}
			if n == nil {
				t.Fatalf("no schema for %v", path)
			}
		}
	}
	var walk func(string, *Schema)
	walk = func(at string, n *Schema) {
		if n.Properties != nil && (n.AdditionalProperties == nil || *n.AdditionalProperties) {
			t.Errorf("%s: additionalProperties is not false", at)
		}
		for k, p := range n.Properties {
			walk(at+"."+k, p)
		}
		if n.Items != nil {
			walk(at+"[]", n.Items)
		}
	}
	walk("(top level)", s)
}
