package config

import "testing"

func TestClosest(t *testing.T) {
	known := []string{"endpoint", "format", "jsonKey", "region", "secretId", "trigger", "quietPeriod", "deliveryDelay", "output", "log-level", "log-format"}
	for _, tc := range []struct{ word, want string }{
		{"formt", "format"},
		{"quietperiod", "quietPeriod"}, // case only
		{"secretID", "secretId"},
		{"regoin", "region"},
		{"outptu", "output"},
		{"log-levle", "log-level"},
		{"jsonkey", "jsonKey"},
		{"deliverDelay", "deliveryDelay"},
		{"x", ""}, // one letter is closer to nothing
		{"unrelated", ""},
		{"tenantId", ""},
	} {
		if got := Closest(tc.word, known); got != tc.want {
			t.Errorf("Closest(%q) = %q, want %q", tc.word, got, tc.want)
		}
	}
}
