package identitycenter

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTimestampParse(t *testing.T) {
	tests := []struct {
		raw     string
		want    time.Time
		wantErr string
	}{
		{raw: `1713363979.436`, want: time.Date(2024, 4, 17, 14, 26, 19, 436_000_000, time.UTC)},
		{raw: `1713363979`, want: time.Date(2024, 4, 17, 14, 26, 19, 0, time.UTC)},
		{raw: `1713363979.4`, want: time.Date(2024, 4, 17, 14, 26, 19, 400_000_000, time.UTC)},
		{raw: `1.713363979436E9`, want: time.Date(2024, 4, 17, 14, 26, 19, 436_000_000, time.UTC)},
		{raw: `1713363979436`, want: time.Date(2024, 4, 17, 14, 26, 19, 436_000_000, time.UTC)},
		{raw: `"2024-04-17T14:26:19.436Z"`, want: time.Date(2024, 4, 17, 14, 26, 19, 436_000_000, time.UTC)},
		{raw: `"2024-04-17T16:26:19+02:00"`, want: time.Date(2024, 4, 17, 14, 26, 19, 0, time.UTC)},
		{raw: `"2024-04-17T14:26:19.436+0000"`, want: time.Date(2024, 4, 17, 14, 26, 19, 436_000_000, time.UTC)},
		{raw: `"1713363979.436"`, want: time.Date(2024, 4, 17, 14, 26, 19, 436_000_000, time.UTC)},
		{raw: `null`, wantErr: "missing"},
		{raw: `"next tuesday"`, wantErr: `not an ISO 8601 time or epoch seconds: "next tuesday"`},
		{raw: `-5`, wantErr: "not a plausible epoch time"},
		{raw: `{"seconds":1}`, wantErr: "not a number of epoch seconds"},
		// Outside 2015-2200: a misread field, not an expired or eternal token.
		{raw: `1`, wantErr: "1970-01-01T00:00:01Z is outside 2015-2200"},
		{raw: `1420070399`, wantErr: "2014-12-31T23:59:59Z is outside 2015-2200"},
		{raw: `1420070400`, want: time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)},
		{raw: `7258118399`, want: time.Date(2199, 12, 31, 23, 59, 59, 0, time.UTC)},
		{raw: `7258118400`, wantErr: "2200-01-01T00:00:00Z is outside 2015-2200"},
		{raw: `99999999999`, wantErr: "is outside 2015-2200"},
		{raw: `"0001-01-01T00:00:00Z"`, wantErr: "0001-01-01T00:00:00Z is outside 2015-2200"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			var ts timestamp
			if err := json.Unmarshal([]byte(tt.raw), &ts); err != nil {
				t.Fatalf("decoding must never fail: %v", err)
			}
			got, err := ts.parse()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parse = %v, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) {
				t.Fatalf("parse = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// TestAnswerShapes: validation tells a changed answer from an empty one.
func TestAnswerShapes(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		tenants bool
		wantErr string
	}{
		{name: "tenants verified shape", tenants: true, body: `{"ProvisioningTenants":[{"TenantId":"t","ScimEndpoint":"https://scim.eu-west-1.amazonaws.com/t/scim/v2/","CreationTime":1713363979.436}]}`},
		{name: "no tenants is a valid answer", tenants: true, body: `{"ProvisioningTenants":[]}`},
		{name: "tenants renamed", tenants: true, body: `{"Tenants":[]}`, wantErr: `no "ProvisioningTenants" array`},
		{name: "tenant without id", tenants: true, body: `{"ProvisioningTenants":[{"Id":"t"}]}`, wantErr: `ProvisioningTenants[0] has no "TenantId"`},
		{name: "tenant time unreadable", tenants: true, body: `{"ProvisioningTenants":[{"TenantId":"t","CreationTime":"yesterday"}]}`, wantErr: "ProvisioningTenants[0].CreationTime"},
		{name: "tokens inferred shape", body: `{"BearerTokens":[{"TokenId":"a","CreationTime":1713363979.436,"ExpirationTime":1744899979.436}]}`},
		{name: "no tokens is a valid answer", body: `{"BearerTokens":[]}`},
		{name: "tokens array missing", body: `{"Tokens":[]}`, wantErr: `no "BearerTokens" array`},
		{name: "tokens array null", body: `{"BearerTokens":null}`, wantErr: `no "BearerTokens" array`},
		{name: "token without id", body: `{"BearerTokens":[{"CreationTime":1,"ExpirationTime":2}]}`, wantErr: `BearerTokens[0] has no "TokenId"`},
		{name: "token without expiry", body: `{"BearerTokens":[{"TokenId":"a","CreationTime":1713363979}]}`, wantErr: `BearerTokens[0] has no "ExpirationTime"`},
		{name: "token time before 2015", body: `{"BearerTokens":[{"TokenId":"a","CreationTime":1,"ExpirationTime":1744899979}]}`, wantErr: `BearerTokens[0].CreationTime: 1970-01-01T00:00:01Z is outside 2015-2200`},
		{name: "token expiry after 2200", body: `{"BearerTokens":[{"TokenId":"a","CreationTime":1713363979,"ExpirationTime":"9999-01-01T00:00:00Z"}]}`, wantErr: `BearerTokens[0].ExpirationTime: 9999-01-01T00:00:00Z is outside 2015-2200`},
		{name: "tenant time before 2015", tenants: true, body: `{"ProvisioningTenants":[{"TenantId":"t","CreationTime":0.5}]}`, wantErr: "ProvisioningTenants[0].CreationTime: 1970-01-01T00:00:00Z is outside 2015-2200"},
		{name: "token time unreadable", body: `{"BearerTokens":[{"TokenId":"a","CreationTime":1713363979,"ExpirationTime":"Thu, 17 Apr 2025"}]}`, wantErr: `BearerTokens[0].ExpirationTime: not an ISO 8601 time`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.tenants {
				var out listTenantsOutput
				if err := json.Unmarshal([]byte(tt.body), &out); err != nil {
					t.Fatal(err)
				}
				err = out.validate()
			} else {
				var out listTokensOutput
				if err := json.Unmarshal([]byte(tt.body), &out); err != nil {
					t.Fatal(err)
				}
				err = out.validate()
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				return
			}
			var se *ShapeError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("validate = %v, want ShapeError containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseAPIError(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header string
		body   string
		want   APIError
	}{
		{
			name: "header with url suffix wins", status: 400,
			header: "ResourceNotFoundException:http://internal.amazon.com/coral/com.amazonaws.swbup/",
			body:   `{"__type":"com.amazonaws.identitystore#Other","message":"Tenant not found"}`,
			want:   APIError{Code: "ResourceNotFoundException", Message: "Tenant not found", StatusCode: 400},
		},
		{
			name: "body __type with namespace", status: 400,
			body: `{"__type":"com.amazonaws.identitystore#ValidationException","Message":"bad"}`,
			want: APIError{Code: "ValidationException", Message: "bad", StatusCode: 400},
		},
		{
			name: "body code field", status: 403,
			body: `{"code":"AccessDeniedException","message":"no"}`,
			want: APIError{Code: "AccessDeniedException", Message: "no", StatusCode: 403},
		},
		{
			name: "html page", status: 502,
			body: "<html>\n<body>Bad Gateway</body></html>",
			want: APIError{Code: "", Message: "<html> <body>Bad Gateway</body></html>", StatusCode: 502},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseAPIError(tt.status, tt.header, []byte(tt.body))
			if *got != tt.want {
				t.Fatalf("parseAPIError = %+v, want %+v", *got, tt.want)
			}
		})
	}
	if got := (&APIError{StatusCode: 502}).Error(); got != "HTTP 502" {
		t.Fatalf("Error() = %q", got)
	}
}

// The defaults of each partition (aws, aws-cn, aws-us-gov).
func TestDefaults(t *testing.T) {
	for _, c := range []struct{ region, endpoint, alt, scim string }{
		{"eu-west-1", "https://up.sso.eu-west-1.amazonaws.com/identitystore/", "https://up-sso.eu-west-1.amazonaws.com/identitystore/", "https://scim.eu-west-1.amazonaws.com/t-1/scim/v2/"},
		{"cn-north-1", "https://up.sso.cn-north-1.amazonaws.com.cn/identitystore/", "https://up-sso.cn-north-1.amazonaws.com.cn/identitystore/", "https://scim.cn-north-1.amazonaws.com.cn/t-1/scim/v2/"},
		{"us-gov-west-1", "https://up.sso.us-gov-west-1.amazonaws.com/identitystore/", "https://up-sso.us-gov-west-1.amazonaws.com/identitystore/", "https://scim.us-gov-west-1.amazonaws.com/t-1/scim/v2/"},
	} {
		if got := DefaultEndpoint(c.region); got != c.endpoint {
			t.Errorf("DefaultEndpoint(%s) = %s, want %s", c.region, got, c.endpoint)
		}
		if got := AltEndpoint(c.region); got != c.alt {
			t.Errorf("AltEndpoint(%s) = %s, want %s", c.region, got, c.alt)
		}
		if got := SCIMEndpointFor(c.region, "t-1"); got != c.scim {
			t.Errorf("SCIMEndpointFor(%s) = %s, want %s", c.region, got, c.scim)
		}
	}
}
