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
	"math"
	"net"
	"net/http"
	"slices"
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
//     page (SetPageSize makes pages smaller), with an opaque NextToken that is
//     valid only with the same parameters (InvalidNextTokenException
//     otherwise), and counts the pages it answered (Pages);
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
// It can be seeded with a busy directory's traffic (AddTraffic: a day of
// 100k calls is a few MB; each event's record is written when a page holds
// it).
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
	// pageSize is the most events a page holds (0: ctMaxResults).
	pageSize int
	// keyID maps a token id to the accessKeyId recorded (nil: the same).
	keyID func(tokenID string) string
	seq   int
	// events are ordered by (at, seq): newest first is from the end.
	events  []ctEvent
	traffic []*ctTraffic
	pages   int
}

// ctEvent is one recorded management event, compact: what many events share
// (the client, the operation) is one ctCall, and the CloudTrailEvent JSON is
// written when a page holds the event.
type ctEvent struct {
	seq       int
	at        int64 // eventTime in Unix seconds, as CloudTrail records it (to the second)
	delivered int64 // Unix nanoseconds: when a lookup first sees it
	keyID     string
	call      *ctCall
}

// ctCall is what events of one client share.
type ctCall struct {
	name, source, tenant, userAgent, sourceIP, errorCode, errorMessage string
	// raw, when set, is the CloudTrailEvent verbatim (AddRawEvent).
	raw string
}

// ctTraffic is a client's steady calls (AddTraffic), recorded as the clock
// passes them.
type ctTraffic struct {
	Traffic
	call *ctCall
	next time.Time
}

// Traffic is a SCIM client's steady calls, recorded as CloudTrail events
// without going through the SCIM endpoint: a busy directory's day.
type Traffic struct {
	// From and Until bound the calls: one at From, then every Every, before
	// Until. Calls in the future are recorded once the clock passes them.
	From, Until time.Time
	Every       time.Duration
	// Call is every call's template (its Time is ignored).
	Call SCIMCall
	// TokenID, when set, names the token a call at that time presented,
	// asked once the clock has passed it (a client switched to a new token);
	// else Call.TokenID.
	TokenID func(at time.Time) string
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
// service; 0: 50). Tests of paging use a few, so that a handful of events
// spans pages (AWS may answer fewer than MaxResults with a NextToken).
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
	ct.recordLocked(c.Time, c.TokenID, newCTCall(c), ct.delay)
}

func newCTCall(c SCIMCall) *ctCall {
	return &ctCall{name: c.Operation, source: SCIMEventSource, tenant: c.TenantID, userAgent: c.UserAgent, sourceIP: c.SourceIP,
		errorCode: c.ErrorCode, errorMessage: c.ErrorMessage}
}

// recordLocked inserts an event at its place in (at, seq) order: nearly
// always the end.
func (ct *CloudTrail) recordLocked(at time.Time, tokenID string, call *ctCall, delay time.Duration) {
	ct.seq++
	if ct.keyID != nil && tokenID != "" {
		tokenID = ct.keyID(tokenID)
	}
	e := ctEvent{seq: ct.seq, at: at.Unix(), delivered: at.Add(delay).UnixNano(), keyID: tokenID, call: call}
	i := len(ct.events)
	for i > 0 && ct.events[i-1].at > e.at {
		i--
		if len(ct.events)-i > 64 {
			i = sort.Search(len(ct.events), func(j int) bool { return ct.events[j].at > e.at })
			break
		}
	}
	ct.events = slices.Insert(ct.events, i, e)
}

// AddTraffic seeds a client's steady calls (see Traffic). The calls up to
// now are recorded at once, as delivered (they are in the past); later ones
// as the clock passes them, after the delivery delay.
func (ct *CloudTrail) AddTraffic(tr Traffic) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	if tr.Every <= 0 {
		tr.Every = time.Second
	}
	t := &ctTraffic{Traffic: tr, call: newCTCall(tr.Call), next: tr.From}
	ct.traffic = append(ct.traffic, t)
	ct.flowLocked(0)
}

// flowLocked records the traffic's calls up to now, delivered delay after
// each call's time (those already that old: at once).
func (ct *CloudTrail) flowLocked(delay time.Duration) {
	now := ct.now()
	for _, t := range ct.traffic {
		for ; !t.next.After(now) && t.next.Before(t.Until); t.next = t.next.Add(t.Every) {
			id := t.Call.TokenID
			if t.TokenID != nil {
				id = t.TokenID(t.next)
			}
			ct.recordLocked(t.next, id, t.call, delay)
		}
	}
}

// AddRawEvent records an identitystore-scim event at at whose CloudTrailEvent
// is raw verbatim (tests: malformed or unexpected records). It is delivered
// at once.
func (ct *CloudTrail) AddRawEvent(at time.Time, raw string) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	ct.recordLocked(at, "", &ctCall{name: "ListUsers", source: SCIMEventSource, raw: raw}, 0)
}

// EventsBetween counts the events with an event time in [from, to]
// (benchmarks: the events a wait had to read).
func (ct *CloudTrail) EventsBetween(from, to time.Time) int {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	ct.flowLocked(ct.delay)
	lo := sort.Search(len(ct.events), func(i int) bool { return ct.events[i].at >= ctCeil(from) })
	hi := sort.Search(len(ct.events), func(i int) bool { return ct.events[i].at > ctFloor(to) })
	return max(hi-lo, 0)
}

// Pages returns how many LookupEvents pages the fake answered.
func (ct *CloudTrail) Pages() int {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return ct.pages
}

// EventCount returns how many events were recorded, delivered or not.
func (ct *CloudTrail) EventCount() int {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	ct.flowLocked(ct.delay)
	return len(ct.events)
}

// Delivered returns how many events a lookup would see now.
func (ct *CloudTrail) Delivered() int {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	ct.flowLocked(ct.delay)
	now, n := ct.now().UnixNano(), 0
	for _, e := range ct.events {
		if e.delivered <= now {
			n++
		}
	}
	return n
}

func ctEventID(seq int) string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", seq, seq)
}

// record is the event's CloudTrailEvent JSON.
func (ct *CloudTrail) record(e *ctEvent) string {
	c := e.call
	if c.raw != "" {
		return c.raw
	}
	id := ctEventID(e.seq)
	rec := map[string]any{
		"eventVersion":       "1.10",
		"userIdentity":       map[string]any{"type": "WebIdentityUser", "accountId": ct.Account(), "accessKeyId": e.keyID},
		"eventTime":          time.Unix(e.at, 0).UTC().Format(time.RFC3339),
		"eventSource":        c.source,
		"eventName":          c.name,
		"awsRegion":          ct.region,
		"sourceIPAddress":    c.sourceIP,
		"userAgent":          c.userAgent,
		"requestParameters":  map[string]any{"tenantId": c.tenant},
		"responseElements":   nil,
		"requestID":          id,
		"eventID":            id,
		"readOnly":           true,
		"eventType":          "AwsApiCall",
		"managementEvent":    true,
		"recipientAccountId": ct.Account(),
		"eventCategory":      "Management",
	}
	if e.keyID == "" {
		// A token that matched none authenticates no one.
		rec["userIdentity"] = map[string]any{"type": "Unknown", "accountId": ct.Account()}
	}
	if c.errorCode != "" {
		rec["errorCode"], rec["errorMessage"] = c.errorCode, c.errorMessage
	}
	b, _ := json.Marshal(rec)
	return string(b)
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

// ctPageToken is what the fake's opaque NextToken carries: the last event
// served (the next page starts below it in newest-first order), the delivery
// cut-off of the first page (so that events delivered meanwhile do not shift
// pages) and the parameters it is valid for.
type ctPageToken struct {
	At     int64  `json:"a"`
	Seq    int    `json:"s"`
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
	}
	ct.flowLocked(ct.delay)
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
	tok := ctPageToken{Cutoff: now.UnixNano(), Params: params, At: math.MaxInt64}
	if req.NextToken != nil {
		b, err := base64.RawURLEncoding.DecodeString(*req.NextToken)
		if err != nil || json.Unmarshal(b, &tok) != nil || tok.Params != params {
			return bad("InvalidNextTokenException", "Invalid NextToken.")
		}
	}
	// Event times are whole seconds, StartTime and EndTime inclusive.
	lo := max(ctCeil(start), ctCeil(now.Add(-ctRetention)))
	hi := ctFloor(end)
	// Newest first: from the last event below the cursor (and at or before
	// EndTime) down to StartTime; among equal times the later recorded first.
	i := sort.Search(len(ct.events), func(j int) bool {
		e := &ct.events[j]
		return e.at > hi || e.at > tok.At || e.at == tok.At && e.seq >= tok.Seq
	}) - 1
	out := make([]map[string]any, 0, limit)
	var last *ctEvent
	for ; i >= 0 && ct.events[i].at >= lo; i-- {
		e := &ct.events[i]
		if e.delivered > tok.Cutoff || key != "" && !e.matches(key, value) {
			continue
		}
		if len(out) == limit {
			// One more hit: the page is not the last.
			tok.At, tok.Seq = last.at, last.seq
			b, _ := json.Marshal(tok)
			ct.pages++
			return 0, "", "", map[string]any{"Events": out, "NextToken": base64.RawURLEncoding.EncodeToString(b)}
		}
		ev := map[string]any{
			"EventId": ctEventID(e.seq), "EventName": e.call.name, "ReadOnly": "true",
			"EventTime": json.Number(fmt.Sprint(e.at)), "EventSource": e.call.source,
			"Resources": []any{}, "CloudTrailEvent": ct.record(e),
		}
		if e.keyID != "" {
			ev["AccessKeyId"] = e.keyID
		}
		out = append(out, ev)
		last = e
	}
	ct.pages++
	return 0, "", "", map[string]any{"Events": out}
}

// ctCeil and ctFloor are t's whole second up and down, in Unix seconds.
func ctCeil(t time.Time) int64 {
	if t.Nanosecond() == 0 {
		return t.Unix()
	}
	return t.Unix() + 1
}

func ctFloor(t time.Time) int64 { return t.Unix() }

func (e *ctEvent) matches(key, value string) bool {
	switch key {
	case "EventSource":
		return e.call.source == value
	case "EventName":
		return e.call.name == value
	case "EventId":
		return ctEventID(e.seq) == value
	case "AccessKeyId":
		return e.keyID != "" && e.keyID == value
	case "ReadOnly":
		return value == "true"
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

// BusyDirectory seeds a directory's sync traffic: perDay SCIM calls a day,
// evenly spaced from from until until, each with the token the sync job's
// secret (the secretsmanager target) holds when the clock passes the call,
// so that a rotation's new token is used from its push on. A day of 100k
// calls costs a few MB.
func (s *Sandbox) BusyDirectory(perDay int, from, until time.Time) {
	s.CloudTrail.AddTraffic(Traffic{From: from, Until: until, Every: 24 * time.Hour / time.Duration(perDay),
		Call: SCIMCall{Operation: "GetUser", TenantID: s.IC.TenantID(), UserAgent: "ssosync/2.1 (busy directory)", SourceIP: "198.51.100.20"},
		TokenID: func(time.Time) string {
			v, _ := s.SM.Value(SSOSyncSecret, smCurrent)
			return s.IC.tokenID(v)
		}})
}
