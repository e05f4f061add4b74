package config

import (
	"regexp"
	"strings"
)

// regionPattern is an AWS region name (us-east-1, cn-northwest-1, us-gov-west-1).
var regionPattern = regexp.MustCompile(`^[a-z]{2}(?:-[a-z]+)+-[0-9]+$`)

// Partition is the AWS partition a region belongs to, with what the product
// needs of it to call AWS's endpoints by itself.
type Partition struct {
	// ID is the partition's name in ARNs: aws, aws-cn, aws-us-gov.
	ID string
	// DNSSuffix is the domain of its endpoints.
	DNSSuffix string
	// HealthRegion is where its AWS Health global endpoint lives and what
	// requests to it are signed for.
	HealthRegion string
}

// The partitions the product knows (AWS's endpoints.json).
var (
	PartitionAWS   = Partition{ID: "aws", DNSSuffix: "amazonaws.com", HealthRegion: "us-east-1"}
	PartitionChina = Partition{ID: "aws-cn", DNSSuffix: "amazonaws.com.cn", HealthRegion: "cn-northwest-1"}
	PartitionGov   = Partition{ID: "aws-us-gov", DNSSuffix: "amazonaws.com", HealthRegion: "us-gov-west-1"}
)

// PartitionOf is region's partition (aws for a region it does not know).
func PartitionOf(region string) Partition {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return PartitionChina
	case strings.HasPrefix(region, "us-gov-"):
		return PartitionGov
	}
	return PartitionAWS
}

// HealthEndpoint is the AWS Health global endpoint of p.
func (p Partition) HealthEndpoint() string {
	return "https://health." + p.HealthRegion + "." + p.DNSSuffix
}

// RegionOfEndpoint is the region in an AWS endpoint's host
// (https://<service>.<region>.amazonaws.com[.cn]/...), or "" when the host
// names none (a VPC endpoint's DNS name, a proxy, the sandbox).
func RegionOfEndpoint(endpoint string) string {
	host := endpoint
	if i := strings.Index(host, "://"); i >= 0 {
		host = host[i+3:]
	}
	if i := strings.IndexAny(host, "/:?#"); i >= 0 {
		host = host[:i]
	}
	labels := strings.Split(host, ".")
	for i, l := range labels {
		if l == "amazonaws" && i >= 2 {
			r := labels[i-1]
			if regionPattern.MatchString(r) {
				return r
			}
		}
	}
	return ""
}
