package config

import "testing"

func TestPartitions(t *testing.T) {
	tests := []struct {
		region, id, suffix, health string
	}{
		{"us-east-1", "aws", "amazonaws.com", "https://health.us-east-1.amazonaws.com"},
		{"eu-west-1", "aws", "amazonaws.com", "https://health.us-east-1.amazonaws.com"},
		{"ap-southeast-2", "aws", "amazonaws.com", "https://health.us-east-1.amazonaws.com"},
		{"cn-north-1", "aws-cn", "amazonaws.com.cn", "https://health.cn-northwest-1.amazonaws.com.cn"},
		{"cn-northwest-1", "aws-cn", "amazonaws.com.cn", "https://health.cn-northwest-1.amazonaws.com.cn"},
		{"us-gov-west-1", "aws-us-gov", "amazonaws.com", "https://health.us-gov-west-1.amazonaws.com"},
		{"us-gov-east-1", "aws-us-gov", "amazonaws.com", "https://health.us-gov-west-1.amazonaws.com"},
	}
	for _, tt := range tests {
		p := PartitionOf(tt.region)
		if p.ID != tt.id || p.DNSSuffix != tt.suffix || p.HealthEndpoint() != tt.health || AWSDomain(tt.region) != tt.suffix {
			t.Errorf("PartitionOf(%s) = %+v (health %s), want %s %s %s", tt.region, p, p.HealthEndpoint(), tt.id, tt.suffix, tt.health)
		}
	}
}

func TestRegionOfEndpoint(t *testing.T) {
	tests := map[string]string{
		"https://health.us-east-1.amazonaws.com":                "us-east-1",
		"https://health.cn-northwest-1.amazonaws.com.cn/":       "cn-northwest-1",
		"https://health.us-gov-west-1.amazonaws.com:443/x":      "us-gov-west-1",
		"https://up.sso.eu-west-1.amazonaws.com/identitystore/": "eu-west-1",
		"https://vpce-0abc.health.vpce.amazonaws.com":           "",
		"https://127.0.0.1:4443":                                "",
		"https://proxy.example.com/health":                      "",
	}
	for in, want := range tests {
		if got := RegionOfEndpoint(in); got != want {
			t.Errorf("RegionOfEndpoint(%q) = %q, want %q", in, got, want)
		}
	}
}
