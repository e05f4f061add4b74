package sandbox

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Wire details of AWS Health (documented: AWS JSON 1.1, SigV4 signing name
// "health" in us-east-1, X-Amz-Target "AWSHealth_20160804.<Op>").
const (
	hlSigningName = "health"
	hlRegion      = "us-east-1"
	hlTargetPfx   = "AWSHealth_20160804."
	hlNamespace   = "com.amazonaws.health#"
	// HealthEventType and HealthService are the SCIM token expiry notice's.
	HealthEventType = "AWS_IAMIDENTITYCENTER_SCIM_BEARER_TOKEN_EXPIRY_NOTIFICATION"
	HealthService   = "IAMIDENTITYCENTER"
	// hlPageSize is deliberately small so that a few notices page.
	hlPageSize = 2
)

// Health fakes AWS Health's DescribeEvents and DescribeEventDetails over
// the notices added to it, plus one unrelated EC2 event (so that a reader
// that forgets the filter reads it). Like the service it:
//
//   - filters on eventTypeCodes, services and eventStatusCodes (at most 10
//     values each), pages with an opaque nextToken valid only with the same
//     filter, maxResults 10..100 (pages here hold at most 2);
//   - answers DescribeEventDetails for 1..10 ARNs, unknown ones in failedSet;
//   - answers SubscriptionRequiredException (no Business or Enterprise
//     support plan) or AccessDeniedException when set to.
//
// Operation names for Faults: health:DescribeEvents, health:DescribeEventDetails.
type Health struct {
	faults *Faults
	now    func() time.Time
	// iam verifies signatures (nil: the base credentials alone).
	iam *IAM

	mu           sync.Mutex
	subscription bool
	denied       bool
	seq          int
	events       []*hlEvent
}

type hlEvent struct {
	arn, typeCode, service, region, status, text string
	start                                        time.Time
}

// NewHealth returns the fake; now is its clock (nil: time.Now).
func NewHealth(faults *Faults, now func() time.Time) *Health {
	if now == nil {
		now = time.Now
	}
	h := &Health{faults: faults, now: now, subscription: true}
	h.events = append(h.events, &hlEvent{arn: "arn:aws:health:us-east-1::event/EC2/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED_0001",
		typeCode: "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED", service: "EC2", region: Region, status: "upcoming", start: now(),
		text: "An EC2 instance is scheduled for retirement."})
	return h
}

// VerifyWith makes the fake accept every credential iam has issued (an
// assumed role's, a web identity's), of any account: the fake holds one set
// of notices, which every account's callers read. Call it before serving.
func (h *Health) VerifyWith(iam *IAM) { h.iam = iam }

// NoticeText is a notice's description as AWS words it, after the e-mail AWS
// sends for the same notice (the API's exact text is not published; see
// adapters/health/inferred.go). A token id, when given, is appended as
// "Token ID: <id>." (the sandbox's guess of how a text would name one).
func NoticeText(expires time.Time, days int, tokenID string) string {
	s := fmt.Sprintf("We're contacting you because you automatically provision users and groups from your corporate identity provider (IdP) to IAM Identity Center, a process which uses the SCIM protocol (System for Cross-domain Identity Management). "+
		"The SCIM access token used to automatically provision users and groups from your IdP to IAM Identity Center expires in %d days on %s.\n\n"+
		"Action is required before the expiration date to ensure that SCIM automatic provisioning isn't interrupted.",
		days, expires.UTC().Format("Mon Jan 02 15:04:05 MST 2006"))
	if tokenID != "" {
		s += " Token ID: " + tokenID + "."
	}
	return s
}

// AddNotice raises an expiry notice for a token expiring at expires, worded
// as AWS words it, started now; it returns the event's ARN.
func (h *Health) AddNotice(tokenID string, expires time.Time) string {
	now := h.now()
	return h.AddNoticeText(NoticeText(expires, int(expires.Sub(now).Hours()/24), tokenID), now)
}

// AddNoticeText raises an expiry notice with a verbatim description (odd
// texts) started at start; it returns the event's ARN.
func (h *Health) AddNoticeText(text string, start time.Time) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	arn := fmt.Sprintf("arn:aws:health:%s::event/%s/%s/%s_%04d", hlRegion, HealthService, HealthEventType, HealthEventType, h.seq)
	h.events = append(h.events, &hlEvent{arn: arn, typeCode: HealthEventType, service: HealthService, region: Region,
		status: "open", start: start.UTC(), text: text})
	return arn
}

// CloseNotices closes every open expiry notice (as after the token's date).
func (h *Health) CloseNotices() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.events {
		if e.typeCode == HealthEventType {
			e.status = "closed"
		}
	}
}

// SetSubscriptionRequired makes every call answer
// SubscriptionRequiredException, as for an account on a Basic or Developer
// support plan.
func (h *Health) SetSubscriptionRequired(on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subscription = !on
}

// SetAccessDenied makes every call answer AccessDeniedException, as for a
// caller without health:DescribeEvents and health:DescribeEventDetails.
func (h *Health) SetAccessDenied(on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.denied = on
}

func (h *Health) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), hlTargetPfx)
	ft := h.faults.Begin("health:" + op)
	if ft.Before() {
		hlJSON.writeFault(ft, w, r)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		hlJSON.write(w, http.StatusNotFound, "UnknownOperationException", "only POST / is served")
		return
	}
	iam := h.iam
	if iam == nil {
		iam = defaultIAM
	}
	body, signer, err := iam.verifySigV4(r, hlSigningName, hlRegion)
	if err != nil {
		hlJSON.write(w, http.StatusBadRequest, "InvalidSignatureException", err.Error())
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != ctContentType {
		hlJSON.write(w, http.StatusBadRequest, "SerializationException", fmt.Sprintf("unsupported Content-Type %q", ct))
		return
	}
	h.mu.Lock()
	var status int
	var code, msg string
	var answer any
	switch {
	case h.denied:
		status, code, msg = http.StatusBadRequest, "AccessDeniedException", "User: "+signer.ARN+" is not authorized to perform: health:"+op
	case !h.subscription:
		status, code, msg = http.StatusBadRequest, "SubscriptionRequiredException", "The AWS Premium Support Subscription is required to use this service."
	case op == "DescribeEvents":
		status, code, msg, answer = h.describeEventsLocked(body)
	case op == "DescribeEventDetails":
		status, code, msg, answer = h.describeDetailsLocked(body)
	default:
		status, code, msg = http.StatusBadRequest, "UnknownOperationException", "unknown operation "+strconv.Quote(op)
	}
	h.mu.Unlock()
	if ft.AfterWork() {
		hlJSON.writeFault(ft, w, r)
		return
	}
	if code != "" {
		hlJSON.write(w, status, code, msg)
		return
	}
	w.Header().Set("Content-Type", ctContentType)
	_ = json.NewEncoder(w).Encode(answer)
}

type hlFilter struct {
	EventTypeCodes   []string `json:"eventTypeCodes"`
	Services         []string `json:"services"`
	EventStatusCodes []string `json:"eventStatusCodes"`
}

func (h *Health) describeEventsLocked(body []byte) (int, string, string, any) {
	bad := func(code, msg string) (int, string, string, any) { return http.StatusBadRequest, code, msg, nil }
	var req struct {
		Filter     *hlFilter `json:"filter"`
		MaxResults *int      `json:"maxResults"`
		NextToken  *string   `json:"nextToken"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return bad("SerializationException", "cannot decode request body")
	}
	if req.MaxResults != nil && (*req.MaxResults < 10 || *req.MaxResults > 100) {
		return bad("ValidationException", "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value between 10 and 100")
	}
	f := hlFilter{}
	if req.Filter != nil {
		f = *req.Filter
	}
	for _, l := range [][]string{f.EventTypeCodes, f.Services, f.EventStatusCodes} {
		if len(l) > 10 {
			return bad("ValidationException", "a filter list has more than 10 members")
		}
	}
	params, _ := json.Marshal(f)
	offset := 0
	if req.NextToken != nil {
		b, err := base64.RawURLEncoding.DecodeString(*req.NextToken)
		p, o, ok := strings.Cut(string(b), "\x00")
		n, aerr := strconv.Atoi(o)
		if err != nil || !ok || aerr != nil || p != string(params) || n < 0 {
			return bad("InvalidPaginationToken", "Invalid pagination token")
		}
		offset = n
	}
	in := func(v string, l []string) bool {
		if len(l) == 0 {
			return true
		}
		for _, x := range l {
			if x == v {
				return true
			}
		}
		return false
	}
	var hits []*hlEvent
	for _, e := range h.events {
		if in(e.typeCode, f.EventTypeCodes) && in(e.service, f.Services) && in(e.status, f.EventStatusCodes) {
			hits = append(hits, e)
		}
	}
	if offset > len(hits) {
		return bad("InvalidPaginationToken", "Invalid pagination token")
	}
	page := hits[offset:min(offset+hlPageSize, len(hits))]
	out := make([]any, 0, len(page))
	for _, e := range page {
		out = append(out, e.wire())
	}
	answer := map[string]any{"events": out}
	if next := offset + len(page); next < len(hits) {
		answer["nextToken"] = base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%s\x00%d", params, next))
	}
	return 0, "", "", answer
}

func (h *Health) describeDetailsLocked(body []byte) (int, string, string, any) {
	var req struct {
		EventArns []string `json:"eventArns"`
		Locale    string   `json:"locale"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return http.StatusBadRequest, "SerializationException", "cannot decode request body", nil
	}
	if len(req.EventArns) < 1 || len(req.EventArns) > 10 {
		return http.StatusBadRequest, "ValidationException", "1 validation error detected: Value at 'eventArns' failed to satisfy constraint: Member must have length less than or equal to 10 and greater than or equal to 1", nil
	}
	if req.Locale != "" && req.Locale != "en" {
		return http.StatusBadRequest, "UnsupportedLocale", "unsupported locale " + strconv.Quote(req.Locale), nil
	}
	ok, failed := []any{}, []any{}
	for _, arn := range req.EventArns {
		var found *hlEvent
		for _, e := range h.events {
			if e.arn == arn {
				found = e
			}
		}
		if found == nil {
			failed = append(failed, map[string]any{"eventArn": arn, "errorName": "NotFound", "errorMessage": "event not found"})
			continue
		}
		ok = append(ok, map[string]any{"event": found.wire(), "eventDescription": map[string]any{"latestDescription": found.text},
			"eventMetadata": map[string]any{}})
	}
	return 0, "", "", map[string]any{"successfulSet": ok, "failedSet": failed}
}

// wire is the event as DescribeEvents answers it (times in epoch seconds).
func (e *hlEvent) wire() map[string]any {
	return map[string]any{"arn": e.arn, "service": e.service, "eventTypeCode": e.typeCode, "eventTypeCategory": "accountNotification",
		"region": e.region, "startTime": json.Number(strconv.FormatInt(e.start.Unix(), 10)), "lastUpdatedTime": json.Number(strconv.FormatInt(e.start.Unix(), 10)),
		"statusCode": e.status, "eventScopeCode": "ACCOUNT_SPECIFIC"}
}
