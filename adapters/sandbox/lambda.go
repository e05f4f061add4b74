package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Wire details of Lambda's Invoke (documented: REST-JSON,
// POST /2015-03-31/functions/{FunctionName}/invocations, SigV4 signing name
// "lambda", errors named by the X-Amzn-ErrorType header).
const (
	lambdaSigningName = "lambda"
	lambdaInvokePath  = "/2015-03-31/functions/"
	// LambdaUserAgent is the User-Agent of a consumer's SCIM calls.
	LambdaUserAgent = "sync-job/1.0"
)

// Lambda fakes AWS Lambda's Invoke for the functions that consume a target
// secret (a sync job such as ssosync): a registered consumer reads the
// secret's AWSCURRENT value from the sandbox's Secrets Manager, takes the
// token from it (the whole value, or one key of its JSON object) and makes a
// SCIM call with it, GET {scim}Users?filter=userName eq "sync-check" with
// User-Agent sync-job/1.0, as a sync run would.
//
// Invocation types: Event answers 202 with an empty body, RequestResponse 200
// with the function's result ({"scimStatus":N}), DryRun 204 without running
// it. AWS runs an Event invocation soon after answering; the fake runs it
// before answering, so that a caller sees its effect at once. An unknown
// function is 404 ResourceNotFoundException; a request not signed with the
// sandbox's credentials is 403.
//
// Functions are found by name, by partial ARN (123456789012:function:name) or
// by full ARN, with an optional version or alias (ignored).
//
// Operation name for Faults: lambda:Invoke.
type Lambda struct {
	owner
	// SCIMClient makes the consumers' SCIM calls (nil: http.DefaultClient).
	SCIMClient *http.Client

	faults *Faults
	region string
	sm     *SecretsManager
	scim   func() string

	mu        sync.Mutex
	functions map[string]*lambdaConsumer
	calls     []LambdaInvocation
}

type lambdaConsumer struct {
	secretID, jsonKey string
	// scim is the SCIM endpoint it syncs to (nil: the Lambda's).
	scim func() string
}

// LambdaInvocation is one invocation as tests inspect it.
type LambdaInvocation struct {
	Function string
	Type     string
	// SCIMStatus is the HTTP status of the consumer's SCIM call (0: it made
	// none, e.g. the secret held no token).
	SCIMStatus int
}

// NewLambda returns a Lambda fake for region whose consumers read secrets
// from sm and call the SCIM endpoint scimEndpoint returns (ending in "/").
func NewLambda(faults *Faults, region string, sm *SecretsManager, scimEndpoint func() string, scim *http.Client) *Lambda {
	return &Lambda{SCIMClient: scim, faults: faults, region: region, sm: sm, scim: scimEndpoint, functions: map[string]*lambdaConsumer{}}
}

// AddConsumer registers function name as a consumer of secretID: the token
// is the whole value, or the string at jsonKey of its JSON object.
func (l *Lambda) AddConsumer(name, secretID, jsonKey string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.functions[name] = &lambdaConsumer{secretID: secretID, jsonKey: jsonKey}
}

// AddConsumerOf is AddConsumer for a function syncing to its own SCIM
// endpoint (one account may hold several instances' sync jobs).
func (l *Lambda) AddConsumerOf(name, secretID, jsonKey string, scimEndpoint func() string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.functions[name] = &lambdaConsumer{secretID: secretID, jsonKey: jsonKey, scim: scimEndpoint}
}

// FunctionARN is the ARN of function name.
func (l *Lambda) FunctionARN(name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", l.region, l.Account(), name)
}

// Invocations returns the invocations so far, in order.
func (l *Lambda) Invocations() []LambdaInvocation {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]LambdaInvocation(nil), l.calls...)
}

// ServeHTTP answers Invoke.
func (l *Lambda) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ft := l.faults.Begin("lambda:Invoke")
	if ft.Before() {
		lambdaJSON.writeFault(ft, w, r)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), lambdaInvokePath)
	fnEsc, ok2 := strings.CutSuffix(rest, "/invocations")
	if !ok || !ok2 || r.Method != http.MethodPost || fnEsc == "" || strings.Contains(fnEsc, "/") {
		lambdaJSON.write(w, http.StatusNotFound, "UnknownOperationException", "only POST /2015-03-31/functions/{FunctionName}/invocations is supported")
		return
	}
	if _, err := l.verify(r, lambdaSigningName, l.region, "lambda:InvokeFunction", l.FunctionARN(fnEsc)); err != nil {
		code := "InvalidSignatureException"
		if isWrongAccount(err) {
			code = "AccessDeniedException"
		} else if strings.Contains(err.Error(), "unknown access key") {
			code = "UnrecognizedClientException"
		}
		lambdaJSON.write(w, http.StatusForbidden, code, err.Error())
		return
	}
	fn, err := url.PathUnescape(fnEsc)
	if err != nil {
		lambdaJSON.write(w, http.StatusBadRequest, "InvalidParameterValueException", "invalid function name")
		return
	}
	name := l.functionName(fn)
	l.mu.Lock()
	c := l.functions[name]
	l.mu.Unlock()
	if c == nil {
		lambdaJSON.write(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+l.FunctionARN(name))
		return
	}
	typ := r.Header.Get("X-Amz-Invocation-Type")
	if typ == "" {
		typ = "RequestResponse"
	}
	switch typ {
	case "Event", "RequestResponse", "DryRun":
	default:
		lambdaJSON.write(w, http.StatusBadRequest, "InvalidParameterValueException", "1 validation error detected: Value '"+typ+"' at 'invocationType' failed to satisfy constraint")
		return
	}
	status := 0
	if typ != "DryRun" {
		status = l.run(c)
	}
	l.mu.Lock()
	l.calls = append(l.calls, LambdaInvocation{Function: name, Type: typ, SCIMStatus: status})
	l.mu.Unlock()
	if ft.AfterWork() {
		lambdaJSON.writeFault(ft, w, r)
		return
	}
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	switch typ {
	case "Event":
		w.WriteHeader(http.StatusAccepted)
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"scimStatus":%d}`, status)
	}
}

// functionName strips an ARN's prefix and a version or alias.
func (l *Lambda) functionName(fn string) string {
	if i := strings.Index(fn, "function:"); i >= 0 {
		fn = fn[i+len("function:"):]
	}
	name, _, _ := strings.Cut(fn, ":")
	return name
}

// run is the consumer's sync: read the token, make one SCIM call.
func (l *Lambda) run(c *lambdaConsumer) int {
	v, ok := l.sm.Value(c.secretID, smCurrent)
	if !ok {
		return 0
	}
	token := v
	if c.jsonKey != "" {
		var obj map[string]any
		if json.Unmarshal([]byte(v), &obj) != nil {
			return 0
		}
		if token, ok = obj[c.jsonKey].(string); !ok {
			return 0
		}
	}
	if token == "" {
		return 0
	}
	endpoint := l.scim
	if c.scim != nil {
		endpoint = c.scim
	}
	u := strings.TrimSuffix(endpoint(), "/") + "/Users?filter=" + url.QueryEscape(`userName eq "sync-check"`)
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/scim+json")
	req.Header.Set("User-Agent", LambdaUserAgent)
	client := l.SCIMClient
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode
}
