package identitycenter

// This file is THE one place for the wire details of IAM Identity Center's
// undocumented token API (the one its console uses to list, create and delete
// SCIM access tokens). AWS documents no public API for these tokens; what
// follows comes from /work/shared/research/identity-center.md, which separates
// what was seen on the wire from what is inferred. When AWS changes the API,
// correct it here (or override endpoint, signingName and targetPrefix in the
// config) and nowhere else; `scim-rotator check` reports when an answer no
// longer has the shape below.
//
// VERIFIED (captured console traffic):
//   - POST https://up.sso.{region}.{domain}/identitystore/ (domain
//     amazonaws.com, amazonaws.com.cn in the China regions: INFERRED for
//     aws-cn and aws-us-gov from AWS's endpoint naming)
//   - Content-Type: application/x-amz-json-1.1
//   - X-Amz-Target: AWSIdentityStoreService.ListProvisioningTenants
//   - SigV4, signing name "identitystore", the instance's region
//   - ListProvisioningTenants request {"IdentityStoreId"} and answer
//     {"ProvisioningTenants":[{"TenantId","ScimEndpoint","CreationTime"}]}
//   - timestamps as JSON numbers of epoch seconds with fractions
//     (1713363979.436)
//   - errors in the AWS JSON protocol: the code in the X-Amzn-ErrorType header
//     or the body's "__type" ("ns#Code" or "Code:url"), the text in
//     "message" or "Message"
//   - some regions answer on the host up-sso.{region}.{domain} instead
//     (set identityCenter.endpoint to AltEndpoint(region) there)
//
// INFERRED (no capture; the same service's naming, and a clone of Identity
// Center by another cloud that mirrors these fields):
//   - ListBearerTokens  {"IdentityStoreId","TenantId","NextToken"?}
//     -> {"BearerTokens":[{"TokenId","CreationTime","ExpirationTime"}],"NextToken"?}
//   - CreateBearerToken {"IdentityStoreId","TenantId"}
//     -> {"TokenId","Token","CreationTime","ExpirationTime"}
//   - DeleteBearerToken {"IdentityStoreId","TenantId","TokenId"} -> {}
//   - the two-token limit answers ServiceQuotaExceededException or
//     ConflictException (tokenLimitCodes)
//   - timestamps may come as ISO 8601 strings too, so both are accepted
//   - ListProvisioningTenants may page with NextToken like the other lists

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go"

	"github.com/scim-rotator/scim-rotator/config"
)

// Defaults for the wire details; config.IdentityCenter overrides each one.
const (
	// DefaultSigningName is the SigV4 signing name (VERIFIED).
	DefaultSigningName = "identitystore"
	// DefaultTargetPrefix prefixes the operation in X-Amz-Target (VERIFIED).
	DefaultTargetPrefix = "AWSIdentityStoreService"
	// ContentType is the AWS JSON protocol version 1.1 (VERIFIED).
	ContentType = "application/x-amz-json-1.1"
)

// Operation names, as they follow the target prefix in X-Amz-Target.
const (
	opListProvisioningTenants = "ListProvisioningTenants" // VERIFIED
	opListBearerTokens        = "ListBearerTokens"        // INFERRED
	opCreateBearerToken       = "CreateBearerToken"       // INFERRED
	opDeleteBearerToken       = "DeleteBearerToken"       // INFERRED
)

// IAM actions guarding each operation (documented in the IAM service
// authorization reference, with no resource types: Resource "*").
var iamActions = map[string]string{
	opListProvisioningTenants: "sso-directory:ListProvisioningTenants",
	opListBearerTokens:        "sso-directory:ListBearerTokens",
	opCreateBearerToken:       "sso-directory:CreateBearerToken",
	opDeleteBearerToken:       "sso-directory:DeleteBearerToken",
}

// tokenLimitCodes are the error codes taken to mean "the tenant already holds
// two tokens" (INFERRED: no capture of the console hitting the limit).
var tokenLimitCodes = map[string]bool{
	"ServiceQuotaExceededException": true,
	"ConflictException":             true,
	"LimitExceededException":        true,
}

// notFoundCode answers a delete of a token that no longer exists (INFERRED,
// the AWS JSON protocol's usual code).
const notFoundCode = "ResourceNotFoundException"

// DefaultEndpoint is the token API's URL in region (VERIFIED host).
func DefaultEndpoint(region string) string {
	return "https://up.sso." + region + "." + config.AWSDomain(region) + "/identitystore/"
}

// AltEndpoint is the host variant some regions use instead.
func AltEndpoint(region string) string {
	return "https://up-sso." + region + "." + config.AWSDomain(region) + "/identitystore/"
}

// SCIMEndpointFor is a tenant's documented SCIM endpoint (amazonaws.com.cn
// in the China regions).
func SCIMEndpointFor(region, tenantID string) string {
	return "https://scim." + region + "." + config.AWSDomain(region) + "/" + tenantID + "/scim/v2/"
}

// Requests. Pointers are omitted when nil, as the console omits them.

type listTenantsInput struct {
	IdentityStoreID string  `json:"IdentityStoreId"`
	NextToken       *string `json:"NextToken,omitempty"`
}

type listTokensInput struct {
	IdentityStoreID string  `json:"IdentityStoreId"`
	TenantID        string  `json:"TenantId"`
	NextToken       *string `json:"NextToken,omitempty"`
}

type createTokenInput struct {
	IdentityStoreID string `json:"IdentityStoreId"`
	TenantID        string `json:"TenantId"`
}

type deleteTokenInput struct {
	IdentityStoreID string `json:"IdentityStoreId"`
	TenantID        string `json:"TenantId"`
	TokenID         string `json:"TokenId"`
}

// Answers. Pointer and raw fields let validation tell "absent" from "empty",
// so a change of shape is reported instead of read as "no tokens".

type listTenantsOutput struct {
	ProvisioningTenants *[]provisioningTenant `json:"ProvisioningTenants"`
	NextToken           *string               `json:"NextToken"`
}

type provisioningTenant struct {
	TenantID     string    `json:"TenantId"`
	ScimEndpoint string    `json:"ScimEndpoint"`
	CreationTime timestamp `json:"CreationTime"`
}

type listTokensOutput struct {
	BearerTokens *[]bearerToken `json:"BearerTokens"`
	NextToken    *string        `json:"NextToken"`
}

type bearerToken struct {
	TokenID        string    `json:"TokenId"`
	CreationTime   timestamp `json:"CreationTime"`
	ExpirationTime timestamp `json:"ExpirationTime"`
}

type createTokenOutput struct {
	TokenID        string    `json:"TokenId"`
	Token          string    `json:"Token"`
	CreationTime   timestamp `json:"CreationTime"`
	ExpirationTime timestamp `json:"ExpirationTime"`
}

// ShapeError means an answer of the undocumented API did not have the
// expected shape: AWS probably changed it.
type ShapeError struct {
	Op     string
	Detail string
}

func (e *ShapeError) Error() string {
	return fmt.Sprintf("%s answer has an unexpected shape: %s", e.Op, e.Detail)
}

func shapeErr(op, format string, args ...any) error {
	return &ShapeError{Op: op, Detail: fmt.Sprintf(format, args...)}
}

// validate checks a ListProvisioningTenants answer.
func (o *listTenantsOutput) validate() error {
	if o.ProvisioningTenants == nil {
		return shapeErr(opListProvisioningTenants, `no "ProvisioningTenants" array`)
	}
	for i, t := range *o.ProvisioningTenants {
		if t.TenantID == "" {
			return shapeErr(opListProvisioningTenants, `ProvisioningTenants[%d] has no "TenantId"`, i)
		}
		// CreationTime is informational: only an unparseable one is an error.
		if t.CreationTime.present() {
			if _, err := t.CreationTime.parse(); err != nil {
				return shapeErr(opListProvisioningTenants, "ProvisioningTenants[%d].CreationTime: %v", i, err)
			}
		}
	}
	return nil
}

// validate checks a ListBearerTokens answer.
func (o *listTokensOutput) validate() error {
	if o.BearerTokens == nil {
		return shapeErr(opListBearerTokens, `no "BearerTokens" array`)
	}
	for i, t := range *o.BearerTokens {
		if t.TokenID == "" {
			return shapeErr(opListBearerTokens, `BearerTokens[%d] has no "TokenId"`, i)
		}
		for name, ts := range map[string]timestamp{"CreationTime": t.CreationTime, "ExpirationTime": t.ExpirationTime} {
			if !ts.present() {
				return shapeErr(opListBearerTokens, "BearerTokens[%d] has no %q", i, name)
			}
			if _, err := ts.parse(); err != nil {
				return shapeErr(opListBearerTokens, "BearerTokens[%d].%s: %v", i, name, err)
			}
		}
	}
	return nil
}

// timestamp is a time as the API answers it: a JSON number of epoch seconds
// with fractions (VERIFIED), or an ISO 8601 string (INFERRED, accepted to be
// safe). Decoding never fails, so that an odd timestamp cannot make a
// CreateBearerToken answer (whose token value is shown only once) unreadable;
// parse reports the problem instead.
type timestamp struct{ raw json.RawMessage }

func (t *timestamp) UnmarshalJSON(b []byte) error {
	t.raw = append(json.RawMessage(nil), b...)
	return nil
}

func (t timestamp) present() bool {
	s := string(bytes.TrimSpace(t.raw))
	return s != "" && s != "null"
}

// parse returns the time held; the zero time and an error when it is absent
// or unreadable. Timestamps are not secret, so the error quotes them.
func (t timestamp) parse() (time.Time, error) {
	v, err := t.parseAny()
	if err != nil {
		return v, err
	}
	// A token's times fall between Identity Center's launch and its
	// expiry a year ahead: anything else is a misread field (milliseconds
	// as seconds, a zero), not a token that "expired" in 1970 or lives for
	// ever, and must not drive a rotation.
	if v.Before(minTime) || !v.Before(maxTime) {
		return time.Time{}, fmt.Errorf("%s is outside 2015-2200", v.Format(time.RFC3339))
	}
	return v, nil
}

// The plausible range of a timestamp (see parse).
var (
	minTime = time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

func (t timestamp) parseAny() (time.Time, error) {
	if !t.present() {
		return time.Time{}, fmt.Errorf("missing")
	}
	s := string(bytes.TrimSpace(t.raw))
	if s[0] == '"' {
		var str string
		if err := json.Unmarshal(t.raw, &str); err != nil {
			return time.Time{}, fmt.Errorf("unreadable string %s", truncate(s, 40))
		}
		return parseTimeString(str)
	}
	return parseEpoch(s)
}

// parseEpoch reads decimal epoch seconds, keeping the fraction exact.
// Values too large to be seconds are taken as milliseconds (defensive).
func parseEpoch(s string) (time.Time, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, fmt.Errorf("not a number of epoch seconds: %s", truncate(s, 40))
	}
	if f <= 0 {
		return time.Time{}, fmt.Errorf("not a plausible epoch time: %s", truncate(s, 40))
	}
	if f > 1e11 { // year 5138 in seconds: must be milliseconds
		return time.UnixMilli(int64(f)).UTC(), nil
	}
	sec, frac, _ := strings.Cut(s, ".")
	whole, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || strings.ContainsAny(frac, "eE") {
		// Exponent notation: float precision, rounded to microseconds.
		return time.UnixMicro(int64(math.Round(f * 1e6))).UTC(), nil
	}
	var nsec int64
	if frac != "" {
		frac = (frac + "000000000")[:9]
		if nsec, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return time.Time{}, fmt.Errorf("not a number of epoch seconds: %s", truncate(s, 40))
		}
	}
	return time.Unix(whole, nsec).UTC(), nil
}

var isoLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
}

func parseTimeString(s string) (time.Time, error) {
	for _, layout := range isoLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if t, err := parseEpoch(s); err == nil { // a number sent as a string
		return t, nil
	}
	return time.Time{}, fmt.Errorf("not an ISO 8601 time or epoch seconds: %q", truncate(s, 40))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// APIError is an error answer of the token API in the AWS JSON protocol.
// It implements the interfaces aws/retry classifies errors by (ErrorCode,
// HTTPStatusCode).
type APIError struct {
	// Code is the bare error code ("ResourceNotFoundException"), empty when
	// the answer carried none.
	Code       string
	Message    string
	StatusCode int
}

func (e *APIError) Error() string {
	code := e.Code
	if code == "" {
		code = "HTTP " + strconv.Itoa(e.StatusCode)
	}
	if e.Message == "" {
		return code
	}
	return code + ": " + e.Message
}

// ErrorCode returns the AWS error code (for aws/retry).
func (e *APIError) ErrorCode() string { return e.Code }

// ErrorMessage returns the AWS error message.
func (e *APIError) ErrorMessage() string { return e.Message }

// HTTPStatusCode returns the HTTP status (for aws/retry).
func (e *APIError) HTTPStatusCode() int { return e.StatusCode }

// ErrorFault says whose fault the answer is, by its status: with ErrorCode
// and ErrorMessage it makes APIError a smithy.APIError, so awsbase reads
// its code as it reads the SDK's.
func (e *APIError) ErrorFault() smithy.ErrorFault {
	switch {
	case e.StatusCode >= 500:
		return smithy.FaultServer
	case e.StatusCode >= 400:
		return smithy.FaultClient
	}
	return smithy.FaultUnknown
}

// parseAPIError reads an error answer: the code from the X-Amzn-ErrorType
// header or the body's "__type" / "code", reduced to what follows '#' and
// precedes ':'; the message from "message" or "Message". A body that is not
// JSON (a proxy's HTML page) gives a short, printable excerpt as message.
func parseAPIError(status int, headerType string, body []byte) *APIError {
	e := &APIError{StatusCode: status}
	var doc struct {
		Type     string `json:"__type"`
		Code     string `json:"code"`
		Message  string `json:"message"`
		Message2 string `json:"Message"`
	}
	jsonErr := json.Unmarshal(body, &doc)
	code := headerType
	if code == "" {
		code = doc.Type
	}
	if code == "" {
		code = doc.Code
	}
	e.Code = sanitizeCode(code)
	e.Message = doc.Message
	if e.Message == "" {
		e.Message = doc.Message2
	}
	if jsonErr != nil && e.Message == "" {
		e.Message = printable(truncate(strings.TrimSpace(string(body)), 120))
	}
	return e
}

func sanitizeCode(code string) string {
	if i := strings.LastIndex(code, "#"); i >= 0 {
		code = code[i+1:]
	}
	if i := strings.Index(code, ":"); i >= 0 {
		code = code[:i]
	}
	return strings.TrimSpace(code)
}

func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
