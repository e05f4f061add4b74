package config

import (
	"strings"
	"testing"
	"time"
)

const usageBase = `identityCenter:
  region: eu-central-1
  identityStoreId: d-1234567890
store:
  secretId: s
targets:
  - name: ssosync
    type: secretsmanager
    secretsmanager:
      secretId: x
`

func TestUsageDefaults(t *testing.T) {
	c, err := parse([]byte(usageBase))
	if err != nil {
		t.Fatal(err)
	}
	u := c.Usage
	if u.Source != "cloudtrail" || u.Region != "eu-central-1" || u.QuietPeriod.Duration != 15*time.Minute ||
		u.DeliveryDelay.Duration != 15*time.Minute || u.PollInterval.Duration != 30*time.Second {
		t.Fatalf("usage defaults = %+v", u)
	}
}

func TestUsage(t *testing.T) {
	cases := []struct {
		name, block string
		want        Usage // checked when err is ""
		err         string
	}{
		{name: "none", block: "source: none", want: Usage{Source: "none", Region: "eu-central-1",
			QuietPeriod: Duration{Duration: 15 * time.Minute}, DeliveryDelay: Duration{Duration: 15 * time.Minute}, PollInterval: Duration{Duration: 30 * time.Second}}},
		{name: "sandbox", block: "source: CloudTrail\n  region: us-east-1\n  endpoint: http://127.0.0.1:8443\n  quietPeriod: 3s\n  deliveryDelay: 2s\n  pollInterval: 1s",
			want: Usage{Source: "cloudtrail", Region: "us-east-1", Endpoint: "http://127.0.0.1:8443",
				QuietPeriod: Duration{Duration: 3 * time.Second}, DeliveryDelay: Duration{Duration: 2 * time.Second}, PollInterval: Duration{Duration: time.Second}}},
		{name: "negative", block: "quietPeriod: -5m\n  deliveryDelay: -1s\n  pollInterval: -1ms",
			err: "usage.quietPeriod: must be positive, not -5m0s\nusage.deliveryDelay: must be positive, not -1s\nusage.pollInterval: must be positive, not -1ms"},
		{name: "ftp endpoint", block: "endpoint: ftp://cloudtrail.example.com", err: `usage.endpoint: "ftp://cloudtrail.example.com" is not an absolute https URL`},
		{name: "relative endpoint", block: "endpoint: cloudtrail.example.com", err: `usage.endpoint: "cloudtrail.example.com" is not an absolute https URL`},
		{name: "not a map", block: "none", err: "usage: must be a mapping of keys to values"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := parse([]byte(usageBase + "usage:\n  " + c.block + "\n"))
			if c.err != "" {
				var got []string
				for _, e := range Errors(err) {
					got = append(got, e.Error())
				}
				if strings.Join(got, "\n") != c.err {
					t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := cfg.Usage
			for _, d := range []*Duration{&got.QuietPeriod, &got.DeliveryDelay, &got.PollInterval} {
				*d = Duration{Duration: d.Duration}
			}
			if got != c.want {
				t.Fatalf("usage = %+v, want %+v", cfg.Usage, c.want)
			}
		})
	}
}
