package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// IsLoopback reports whether host (without port) is a loopback host:
// localhost, 127.0.0.0/8 or ::1. Only these may be reached over plain http
// with a credential (a local sandbox, a sidecar).
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// URLProblem says why v is not a URL a token or credential may be sent to,
// or "" when it is one: an absolute https URL (http only for a loopback
// host) without user info. The answer never quotes v: it may hold a secret.
func URLProblem(v string) string {
	u, err := url.Parse(v)
	switch {
	case err == nil && u.User != nil:
		return "must not contain user info (user:password@): credentials never go in a URL"
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return "is not an absolute https URL"
	case u.Scheme == "http" && !IsLoopback(u.Hostname()):
		return "must use https (http is allowed only for a loopback host: 127.0.0.0/8, ::1, localhost)"
	}
	return ""
}

// CheckURL accepts an empty value or a URL URLProblem accepts. The value is
// quoted (cut short) unless it has user info.
func CheckURL(key, v string) error {
	if v == "" {
		return nil
	}
	p := URLProblem(v)
	switch {
	case p == "":
		return nil
	case hasUserInfo(v):
		return &Error{Key: key, Msg: p}
	}
	return &Error{Key: key, Msg: QuoteURL(v) + " " + p}
}

func hasUserInfo(v string) bool {
	u, err := url.Parse(v)
	return err == nil && u.User != nil
}

// checkHTTPURL is checkURL for a URL that carries no credential: plain http
// is allowed to any host.
func checkHTTPURL(key, v string) error {
	if v == "" {
		return nil
	}
	if u, err := url.Parse(v); err == nil && u.Scheme == "http" && u.Host != "" && u.User == nil {
		return nil
	}
	return CheckURL(key, v)
}

// QuoteURL quotes v for an error, user info removed even when v does not
// parse.
func QuoteURL(v string) string {
	if u, err := url.Parse(v); err == nil && u.User != nil {
		u.User = nil
		return Quote(u.String())
	}
	if _, rest, ok := strings.Cut(v, "://"); ok {
		authority := rest
		if i := strings.IndexAny(rest, "/?#"); i >= 0 {
			authority = rest[:i]
		}
		if j := strings.LastIndex(authority, "@"); j >= 0 {
			v = strings.Replace(v, authority[:j+1], "", 1)
		}
	}
	return Quote(v)
}

// AWSDomain is the domain of AWS's endpoints in region: amazonaws.com.cn in
// the China regions, amazonaws.com elsewhere (commercial and GovCloud).
func AWSDomain(region string) string { return PartitionOf(region).DNSSuffix }

// scimEndpointPattern is the documented SCIM endpoint,
// https://scim.<region>.<domain>/<tenantId>/scim/v2/.
var scimEndpointPattern = regexp.MustCompile(`^https://scim\.([a-z]{2}(?:-[a-z]+)+-[0-9]+)\.(amazonaws\.com(?:\.cn)?)/([A-Za-z0-9-]+)/scim/v2/?$`)

// SCIMEndpointProblem says why endpoint is not the SCIM endpoint AWS
// documents for region and tenantID (either may be empty: not checked), or
// "" when it is. The token is sent there, so anything else needs
// identityCenter.allowCustomScimEndpoint.
func SCIMEndpointProblem(endpoint, region, tenantID string) string {
	m := scimEndpointPattern.FindStringSubmatch(endpoint)
	switch {
	case m == nil:
		return "is not an IAM Identity Center SCIM endpoint (https://scim.<region>.amazonaws.com/<tenantId>/scim/v2/)"
	case m[2] != AWSDomain(m[1]):
		return fmt.Sprintf("is not an IAM Identity Center SCIM endpoint: region %s is under %s", m[1], AWSDomain(m[1]))
	case region != "" && m[1] != region:
		return fmt.Sprintf("is in region %s, not %s", m[1], region)
	case tenantID != "" && m[3] != tenantID:
		return fmt.Sprintf("names tenant %s, not %s", clip(m[3], maxQuoted), clip(tenantID, maxQuoted))
	}
	return ""
}
