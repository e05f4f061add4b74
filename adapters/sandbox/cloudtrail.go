package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Wire details of CloudTrail (documented: AWS JSON 1.1, SigV4 signing name
// "cloudtrail", X-Amz-Target "CloudTrail_20131101.<Op>"; older SDKs send the
// fully qualified "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.<Op>",
// which the service also accepts).
const (
	ctSigningName = "cloudtrail"
	ctTarget      = "CloudTrail_20131101.LookupEvents"
	ctTargetLong  = "com.amazonaws.cloudtrail.v20131101." + ctTarget
	ctContentType = "application/x-amz-json-1.1"
	ctNamespace   = "com.amazonaws.cloudtrail.v20131101#"
	// ctMaxResults is LookupEvents' documented maximum (and default) page size.
	ctMaxResults = 50
	// ctRetention: LookupEvents sees the last 90 days (documented).
	ctRetention = 90 * 24 * time.Hour
	// ctPageSize is deliberately small so that every lookup with a few events
	// pages (AWS may answer fewer than MaxResults with a NextToken).
	ctPageSize = 3
	// SCIMEventSource is the event source of Identity Center's SCIM calls.
	SCIMEventSource = "identitystore-scim.amazonaws.com"
	// DefaultCloudTrailDelay is the fake's delivery delay unless set.
	DefaultCloudTrailDelay = 500 * time.Millisecond
)

// ctAttributeKeys are LookupEvents' documented attribute keys.
var ctAttributeKeys = map[string]bool{
	"EventId": true, "EventName": true, "ReadOnly": true, "Username": true,
	"ResourceType": true, "ResourceName": true, "EventSource": true, "AccessKeyId": true,
}

// CloudTrail fakes AWS CloudTrail's LookupEvents (POST /, AWS JSON 1.1,
// SigV4 signing name "cloudtrail") over the management events the sandbox
// records: every SCIM call the Identity Center fake answers (RecordSCIM),
// delivered a configurable delay after the call, as CloudTrail delivers
// minutes late. Like the service it:
//
//   - returns events newest first, at most MaxResults (1..50, default 50) per
//     page, here at most 3, with an opaque NextToken that is valid only with
//     the same parameters (InvalidNextTokenException otherwise);
//   - takes at most one lookup attribute (InvalidLookupAttributesException),
//     StartTime and EndTime inclusive, StartTime after EndTime being
//     InvalidTimeRangeException; events older than 90 days are gone;
//   - answers AccessDeniedException when SetAccessDenied is on (an IAM policy
//     without cloudtrail:LookupEvents).
//
// Throttling (ThrottlingException, documented at about 2 lookups per second
// per account and region) is not enforced on its own: inject it with Faults
// (status 400 or 429 gets a ThrottlingException body).
//
// Operation name for Faults: cloudtrail:LookupEvents.
type CloudTrail struct {
	owner
	faults *Faults
	region string
	now    func() time.Time

	mu     sync.Mutex
	delay  time.Duration
	denied bool
	// pageSize is the most events a page holds (0: ctPageSize).
	pageSize int
	// keyID maps a token id to the accessKeyId recorded (nil: the same).
	keyID  func(tokenID string) string
	seq    int
	events []*ctEvent // in recording order
}

// ctEvent is one recorded management event.
type ctEvent struct {
	id        string
	at        time.Time // eventTime, to the second as CloudTrail records it
	delivered time.Time // when a lookup first sees it
	name      string
	source    string
	keyID     string
	readOnly  bool
	record    string // the CloudTrailEvent JSON
}

// SCIMCall is one call the SCIM endpoint answered, as CloudTrail records it.
type SCIMCall struct {
	Time time.Time
	// Operation is the event name (ListUsers, GetUser, CreateUser, ...).
	Operation string
	// TokenID is the id of the token presented, "" when it matched none.
	TokenID   string
	TenantID  string
	UserAgent string
	SourceIP  string
	// ErrorCode and ErrorMessage are set when the call was refused.
	ErrorCode    string
	ErrorMessage string
}

// NewCloudTrail returns the fake for region. faults may be nil; now is the
// fake's clock (nil: time.Now), which delivery follows.
func NewCloudTrail(faults *Faults, region string, now func() time.Time) *CloudTrail {
	if now == nil {
		now = time.Now
	}
	return &CloudTrail{faults: faults, region: region, now: now, delay: DefaultCloudTrailDelay}
}

// SetDeliveryDelay sets how long after a call its event becomes visible.
func (ct *CloudTrail) SetDeliveryDelay(d time.Duration) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	ct.delay = d
}

// SetAccessDenied makes every LookupEvents answer AccessDeniedException, as
// for a caller whose IAM policy lacks cloudtrail:LookupEvents.
func (ct *CloudTrail) SetAccessDenied(on bool) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	ct.denied = on
}

// SetPageSize sets the most events a page holds (at most 50, as the
// service; 0: the fake's default of 3, which makes every lookup page). Tests
// with a busy SCIM endpoint use 50: at LookupEvents' pace (about two pages a
// second) pages of 3 cannot keep up with a client calling several times a
// second, where the service's pages of 50 can.
func (ct *CloudTrail) SetPageSize(n int) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	ct.pageSize = min(n, ctMaxResults)
}

// SetAccessKeyID makes every later event record f(token id) as its
// accessKeyId (nil: the token id): an account where the inference that
// accessKeyId is the token id does not hold.
func (ct *CloudTrail) SetAccessKeyID(f func(tokenID string) string) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	ct.keyID = f
}

// RecordSCIM records a SCIM call as an identitystore-scim event, the shape
// of AWS's documented example. The fields AWS's documentation does not show
// for a refused call (errorCode's values) are the sandbox's guess; see
// IdentityCenter.serveSCIM.
func (ct *CloudTrail) RecordSCIM(c SCIMCall) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	at := c.Time.UTC().Truncate(time.Second)
	id := ct.nextIDLocked()
	if ct.keyID != nil && c.TokenID != "" {
		c.TokenID = ct.keyID(c.TokenID)
	}
	rec := map[string]any{
		"eventVersion":       "1.10",
		"userIdentity":       map[string]any{"type": "WebIdentityUser", "accountId": ct.Account(), "accessKeyId": c.TokenID},
		"eventTime":          at.Format(time.RFC3339),
		"eventSource":        SCIMEventSource,
		"eventName":          c.Operation,
		"awsRegion":          ct.region,
		"sourceIPAddress":    c.SourceIP,
		"userAgent":          c.UserAgent,
		"requestParameters":  map[string]any{"tenantId": c.TenantID},
		"responseElements":   nil,
		"requestID":          id,
		"eventID":            id,
		"readOnly":           true,
		"eventType":          "AwsApiCall",
		"managementEvent":    true,
		"recipientAccountId": ct.Account(),
		"eventCategory":      "Management",
	}
	if c.TokenID == "" {
		// A token that matched none authenticates no one.
		rec["userIdentity"] = map[string]any{"type": "Unknown", "accountId": ct.Account()}
	}
	if c.ErrorCode != "" {
		rec["errorCode"], rec["errorMessage"] = c.ErrorCode, c.ErrorMessage
	}
	b, _ := json.Marshal(rec)
	ct.events = append(ct.events, &ctEvent{id: id, at: at, delivered: c.Time.Add(ct.delay), name: c.Operation,
		source: SCIMEventSource, keyID: c.TokenID, readOnly: true, record: string(b)})
}

// AddRawEvent records an identitystore-scim event at at whose CloudTrailEvent
// is raw verbatim (tests: malformed or unexpected records). It is delivered
// at once.
func (ct *CloudTrail) AddRawEvent(at time.Time, raw string) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	at = at.UTC().Truncate(time.Second)
	ct.events = append(ct.events, &ctEvent{id: ct.nextIDLocked(), at: at, delivered: at, name: "ListUsers",
		source: SCIMEventSource, readOnly: true, record: raw})
}

// EventCount returns how many events were recorded, delivered or not.
func (ct *CloudTrail) EventCount() int {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return len(ct.events)
}

// Delivered returns how many events a lookup would see now.
func (ct *CloudTrail) Delivered() int {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	now, n := ct.now(), 0
	for _, e := range ct.events {
		if !e.delivered.After(now) {
			n++
		}
	}
	return n
}

func (ct *CloudTrail) nextIDLocked() string {
	ct.seq++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", ct.seq, ct.seq)
}

// ctLookupRequest is LookupEvents' request (timestamps as epoch seconds).
type ctLookupRequest struct {
	LookupAttributes []struct {
		AttributeKey   *string `json:"AttributeKey"`
		AttributeValue *string `json:"AttributeValue"`
	} `json:"LookupAttributes"`
	StartTime     *float64 `json:"StartTime"`
	EndTime       *float64 `json:"EndTime"`
	EventCategory *string  `json:"EventCategory"`
	MaxResults    *int     `json:"MaxResults"`
	NextToken     *string  `json:"NextToken"`
}

// ctPageToken is what the fake's opaque NextToken carries: where the next
// page starts, the delivery cut-off of the first page (so that events
// delivered meanwhile do not shift pages) and the parameters it is valid for.
type ctPageToken struct {
	Offset int    `json:"o"`
	Cutoff int64  `json:"c"`
	Params string `json:"p"`
}

func (ct *CloudTrail) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op := target
	if target == ctTarget || target == ctTargetLong {
		op = "LookupEvents"
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		ctJSON.write(w, http.StatusBadRequest, "SerializationException", "cannot read request body")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	ft := ct.faults.BeginRequest("cloudtrail:"+op, r)
	if ft.Before() {
		ctJSON.writeFault(ft, w, r)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		ctJSON.write(w, http.StatusNotFound, "UnknownOperationException", "only POST / is served")
		return
	}
	if _, err := ct.verify(r, ctSigningName, ct.region, "cloudtrail:LookupEvents", "arn:aws:cloudtrail:"+ct.region+":"+ct.Account()+":trail/*"); err != nil {
		code := "InvalidSignatureException"
		if isWrongAccount(err) {
			code = "AccessDeniedException"
		} else if strings.Contains(err.Error(), "security token") {
			code = "UnrecognizedClientException"
		}
		ctJSON.write(w, http.StatusBadRequest, code, err.Error())
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != ctContentType {
		ctJSON.write(w, http.StatusBadRequest, "SerializationException", fmt.Sprintf("unsupported Content-Type %q", ct))
		return
	}
	if op != "LookupEvents" {
		ctJSON.write(w, http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("unknown operation %q", target))
		return
	}
	var req ctLookupRequest
	if err := json.Unmarshal(body, &req); err != nil {
		ctJSON.write(w, http.StatusBadRequest, "SerializationException", "cannot decode request body")
		return
	}
	ct.mu.Lock()
	status, code, msg, answer := ct.lookupLocked(req)
	ct.mu.Unlock()
	if ft.AfterWork() {
		ctJSON.writeFault(ft, w, r)
		return
	}
	if code != "" {
		ctJSON.write(w, status, code, msg)
		return
	}
	w.Header().Set("Content-Type", ctContentType)
	_ = json.NewEncoder(w).Encode(answer)
}

func (ct *CloudTrail) lookupLocked(req ctLookupRequest) (int, string, string, any) {
	bad := func(code, msg string) (int, string, string, any) { return http.StatusBadRequest, code, msg, nil }
	if ct.denied {
		return bad("AccessDeniedException", "User: arn:aws:iam::"+smAccountID+":user/sandbox is not authorized to perform: cloudtrail:LookupEvents because no identity-based policy allows the cloudtrail:LookupEvents action")
	}
	if len(req.LookupAttributes) > 1 {
		return bad("InvalidLookupAttributesException", "You can only specify one lookup attribute.")
	}
	var key, value string
	if len(req.LookupAttributes) == 1 {
		a := req.LookupAttributes[0]
		if a.AttributeKey == nil || !ctAttributeKeys[*a.AttributeKey] || a.AttributeValue == nil || *a.AttributeValue == "" {
			return bad("InvalidLookupAttributesException", "Invalid lookup attribute.")
		}
		key, value = *a.AttributeKey, *a.AttributeValue
	}
	if req.EventCategory != nil && *req.EventCategory != "insight" {
		return bad("InvalidEventCategoryException", "Invalid event category.")
	}
	if req.EventCategory != nil {
		// Insights events: the sandbox has none.
		return 0, "", "", map[string]any{"Events": []any{}}
	}
	limit := ctMaxResults
	if req.MaxResults != nil {
		if *req.MaxResults < 1 || *req.MaxResults > ctMaxResults {
			return bad("InvalidMaxResultsException", "MaxResults must be between 1 and 50.")
		}
		limit = *req.MaxResults
	}
	if ct.pageSize > 0 {
		limit = min(limit, ct.pageSize)
	} else {
		limit = min(limit, ctPageSize)
	}
	now := ct.now()
	start, end := now.Add(-ctRetention), now
	if req.StartTime != nil {
		start = epoch(*req.StartTime)
	}
	if req.EndTime != nil {
		end = epoch(*req.EndTime)
	}
	if start.After(end) {
		return bad("InvalidTimeRangeException", "Start time must be before end time.")
	}
	params := ctParamsHash(key, value, req.StartTime, req.EndTime)
	tok := ctPageToken{Cutoff: now.UnixNano(), Params: params}
	if req.NextToken != nil {
		b, err := base64.RawURLEncoding.DecodeString(*req.NextToken)
		if err != nil || json.Unmarshal(b, &tok) != nil || tok.Params != params || tok.Offset < 0 {
			return bad("InvalidNextTokenException", "Invalid NextToken.")
		}
	}
	cutoff := time.Unix(0, tok.Cutoff)
	var hits []*ctEvent
	// Newest recorded first, then a stable sort by time: newest first, and
	// among equal times (to the second) the later recorded first.
	for i := len(ct.events) - 1; i >= 0; i-- {
		e := ct.events[i]
		if e.delivered.After(cutoff) || e.at.Before(start) || e.at.After(end) || e.at.Before(now.Add(-ctRetention)) {
			continue
		}
		if key != "" && !e.matches(key, value) {
			continue
		}
		hits = append(hits, e)
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].at.After(hits[j].at) })
	if tok.Offset > len(hits) {
		return bad("InvalidNextTokenException", "Invalid NextToken.")
	}
	page := hits[tok.Offset:min(tok.Offset+limit, len(hits))]
	out := make([]map[string]any, 0, len(page))
	for _, e := range page {
		ev := map[string]any{
			"EventId": e.id, "EventName": e.name, "ReadOnly": fmt.Sprint(e.readOnly),
			"EventTime": json.Number(fmt.Sprint(e.at.Unix())), "EventSource": e.source,
			"Resources": []any{}, "CloudTrailEvent": e.record,
		}
		if e.keyID != "" {
			ev["AccessKeyId"] = e.keyID
		}
		out = append(out, ev)
	}
	answer := map[string]any{"Events": out}
	if next := tok.Offset + len(page); next < len(hits) {
		tok.Offset = next
		b, _ := json.Marshal(tok)
		answer["NextToken"] = base64.RawURLEncoding.EncodeToString(b)
	}
	return 0, "", "", answer
}

func (e *ctEvent) matches(key, value string) bool {
	switch key {
	case "EventSource":
		return e.source == value
	case "EventName":
		return e.name == value
	case "EventId":
		return e.id == value
	case "AccessKeyId":
		return e.keyID != "" && e.keyID == value
	case "ReadOnly":
		return fmt.Sprint(e.readOnly) == value
	}
	return false // Username, ResourceType, ResourceName: SCIM events have none
}

func ctParamsHash(key, value string, start, end *float64) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%v\x00%v", key, value, deref(start), deref(end)))
	return hex.EncodeToString(sum[:8])
}

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

func epoch(sec float64) time.Time {
	return time.Unix(0, int64(sec*1e9)).UTC()
}

// remoteIP is the caller's address as CloudTrail's sourceIPAddress shows it.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// CallSCIM makes one SCIM call (GET Users) with token, sending userAgent, as
// any SCIM client would: the sandbox's way to show a foreign consumer (a
// forgotten sync job) using a token. It returns the HTTP status.
func (s *Sandbox) CallSCIM(ctx context.Context, token, userAgent string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.IC.SCIMEndpoint()+"Users?count=1", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/scim+json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := s.Client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("call scim: %s", strings.ReplaceAll(err.Error(), token, "[token]"))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}

// KeepCallingSCIM makes a SCIM call with token every interval of wall-clock
// time (not the sandbox clock, which a background caller must not move)
// until stop is called: a consumer that keeps using a token.
func (s *Sandbox) KeepCallingSCIM(token, userAgent string, every time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			_, _ = s.CallSCIM(ctx, token, userAgent)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}
