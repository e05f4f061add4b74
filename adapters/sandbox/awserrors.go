package sandbox

import (
	"encoding/json"
	"net/http"
)

// The AWS fakes' errors, written once: one writer for the fakes that speak
// a JSON protocol (Identity Center's token API, Secrets Manager, CloudTrail,
// Health, Lambda) and one table of what every AWS fake answers an injected
// status with. STS speaks the query protocol and writes its errors as XML
// (sts.go), from the same table.

// awsFault is an AWS error answer: its code and message.
type awsFault struct{ code, msg string }

// faultKind is what an injected status stands for.
type faultKind int

const (
	faultInternal    faultKind = iota // any status not below
	faultBadRequest                   // 400
	faultDenied                       // 403
	faultThrottled                    // 429
	faultUnavailable                  // 503
)

func faultKindOf(status int) faultKind {
	switch status {
	case http.StatusBadRequest:
		return faultBadRequest
	case http.StatusForbidden:
		return faultDenied
	case http.StatusTooManyRequests:
		return faultThrottled
	case http.StatusServiceUnavailable:
		return faultUnavailable
	}
	return faultInternal
}

// awsFaults is each AWS fake's answer to an injected status, by its kind,
// in the service's own words: the codes differ from service to service
// (Secrets Manager's internal error is InternalServiceError, CloudTrail's
// InternalFailure), and some services answer throttling with a 400. A
// kind a fake does not list is answered as its internal error; a message
// not given is "injected fault".
var awsFaults = map[string]map[faultKind]awsFault{
	"identitycenter": {
		faultInternal:    {code: "InternalServerException"},
		faultBadRequest:  {code: "ValidationException"},
		faultDenied:      {code: "AccessDeniedException"},
		faultThrottled:   {code: "ThrottlingException"},
		faultUnavailable: {code: "ServiceUnavailableException"},
	},
	"secretsmanager": {
		faultInternal:    {code: "InternalServiceError"},
		faultBadRequest:  {code: "InvalidRequestException"},
		faultDenied:      {code: "AccessDeniedException"},
		faultThrottled:   {code: "ThrottlingException"},
		faultUnavailable: {code: "ServiceUnavailable"},
	},
	"cloudtrail": {
		faultInternal:    {code: "InternalFailure"},
		faultBadRequest:  {code: "ThrottlingException", msg: "Rate exceeded"},
		faultDenied:      {code: "AccessDeniedException"},
		faultThrottled:   {code: "ThrottlingException", msg: "Rate exceeded"},
		faultUnavailable: {code: "ServiceUnavailable"},
	},
	"health": {
		faultInternal:   {code: "InternalFailure"},
		faultBadRequest: {code: "ThrottlingException"},
		faultThrottled:  {code: "ThrottlingException"},
	},
	"lambda": {
		faultInternal:  {code: "ServiceException"},
		faultDenied:    {code: "AccessDeniedException", msg: "User: arn:aws:sts::" + smAccountID + ":assumed-role/scim-rotator/sandbox is not authorized to perform: lambda:InvokeFunction because no identity-based policy allows the lambda:InvokeFunction action"},
		faultThrottled: {code: "TooManyRequestsException", msg: "Rate Exceeded."},
	},
	"sts": {
		faultInternal:   {code: "InternalFailure"},
		faultBadRequest: {code: "Throttling"},
		faultDenied:     {code: "AccessDenied"},
		faultThrottled:  {code: "Throttling"},
	},
}

// awsFaultFor is fake's answer to an injected status.
func awsFaultFor(fake string, status int) awsFault {
	f, ok := awsFaults[fake][faultKindOf(status)]
	if !ok {
		f = awsFaults[fake][faultInternal]
	}
	if f.msg == "" {
		f.msg = "injected fault"
	}
	return f
}

// awsJSON is how a fake that speaks a JSON protocol spells its errors: the
// code in the X-Amzn-ErrorType header and in the body's "__type", the
// message in the body's "message".
type awsJSON struct {
	// fake is its row of awsFaults.
	fake        string
	contentType string
	// typePrefix precedes the code in "__type" (the service's namespace,
	// "com.amazonaws.health#"); headerSuffix follows it in the header
	// (Identity Center's ":http://internal.amazon.com/..."). AWS spells the
	// code both ways, so clients must parse both.
	typePrefix, headerSuffix string
	// restJSON is Lambda's REST-JSON shape: the code only in the header, the
	// body {"Type":"User" (or "Service" for a 5xx),"message":...}. Its
	// injected faults carry the header too, as the body does not name the
	// code.
	restJSON bool
}

var (
	icJSON     = awsJSON{fake: "identitycenter", contentType: icContentType, typePrefix: "com.amazonaws.identitystore#", headerSuffix: ":http://internal.amazon.com/coral/com.amazonaws.swbup.service/"}
	smJSON     = awsJSON{fake: "secretsmanager", contentType: smContentType}
	ctJSON     = awsJSON{fake: "cloudtrail", contentType: ctContentType, typePrefix: ctNamespace}
	hlJSON     = awsJSON{fake: "health", contentType: ctContentType, typePrefix: hlNamespace}
	lambdaJSON = awsJSON{fake: "lambda", contentType: "application/json", restJSON: true}
)

func (a awsJSON) body(status int, code, msg string) []byte {
	doc := map[string]string{"__type": a.typePrefix + code, "message": msg}
	if a.restJSON {
		typ := "User"
		if status >= 500 {
			typ = "Service"
		}
		doc = map[string]string{"Type": typ, "message": msg}
	}
	b, _ := json.Marshal(doc)
	return b
}

// write answers with an error.
func (a awsJSON) write(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", a.contentType)
	w.Header().Set("X-Amzn-ErrorType", code+a.headerSuffix)
	w.WriteHeader(status)
	_, _ = w.Write(a.body(status, code, msg))
}

// writeFault answers with an injected fault: its own body if it has one,
// else the fake's answer to its status (awsFaults).
func (a awsJSON) writeFault(ft *Fault, w http.ResponseWriter, r *http.Request) {
	if a.restJSON {
		w.Header().Set("X-Amzn-ErrorType", awsFaultFor(a.fake, ft.Status).code)
	}
	ft.Write(w, r, func(status int) (string, []byte) {
		f := awsFaultFor(a.fake, status)
		return a.contentType, a.body(status, f.code, f.msg)
	})
}
