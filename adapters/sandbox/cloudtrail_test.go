package sandbox

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ct "github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
)

func newCTTest(t *testing.T, signingRegion string) (*CloudTrail, *Clock, *ct.Client) {
	t.Helper()
	clock := NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), true)
	fake := NewCloudTrail(&Faults{}, Region, clock.Now)
	srv := httptest.NewTLSServer(fake)
	t.Cleanup(srv.Close)
	c := ct.New(ct.Options{Region: signingRegion, Credentials: AWSCredentials(), BaseEndpoint: aws.String(srv.URL),
		HTTPClient: srv.Client(), RetryMaxAttempts: 1})
	return fake, clock, c
}

func scimSource() []types.LookupAttribute {
	return []types.LookupAttribute{{AttributeKey: types.LookupAttributeKeyEventSource, AttributeValue: aws.String(SCIMEventSource)}}
}

func TestCloudTrailLookupEvents(t *testing.T) {
	fake, clock, c := newCTTest(t, Region)
	fake.SetPageSize(3)
	t0 := clock.Now()
	for i := range 4 {
		fake.RecordSCIM(SCIMCall{Time: t0.Add(time.Duration(i) * time.Second), Operation: "ListUsers", TokenID: "tok-1",
			UserAgent: "Okta SCIM Client 1.0.0", SourceIP: "203.0.113.7"})
	}
	clock.Advance(DefaultCloudTrailDelay + 4*time.Second)
	in := &ct.LookupEventsInput{LookupAttributes: scimSource(), StartTime: aws.Time(t0), EndTime: aws.Time(clock.Now())}
	out, err := c.LookupEvents(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Events) != 3 || out.NextToken == nil || !out.Events[0].EventTime.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("page 1: %d events, next %v, first at %v; want 3 newest first and a NextToken", len(out.Events), out.NextToken, out.Events[0].EventTime)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(out.Events[0].CloudTrailEvent)), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["eventSource"] != SCIMEventSource || rec["userAgent"] != "Okta SCIM Client 1.0.0" || rec["sourceIPAddress"] != "203.0.113.7" ||
		rec["userIdentity"].(map[string]any)["accessKeyId"] != "tok-1" || aws.ToString(out.Events[0].AccessKeyId) != "tok-1" {
		t.Errorf("record = %v", rec)
	}

	// A NextToken is valid only with the same parameters.
	other := *in
	other.NextToken = out.NextToken
	other.StartTime = aws.Time(t0.Add(time.Second))
	if _, err := c.LookupEvents(t.Context(), &other); smCode(err) != "InvalidNextTokenException" {
		t.Errorf("NextToken with other parameters: %v", err)
	}
	in.NextToken = out.NextToken
	out, err = c.LookupEvents(t.Context(), in)
	if err != nil || len(out.Events) != 1 || out.NextToken != nil {
		t.Fatalf("page 2: %v, %v", out, err)
	}

	bad := []struct {
		name string
		in   ct.LookupEventsInput
		code string
	}{
		{"two attributes", ct.LookupEventsInput{LookupAttributes: append(scimSource(), types.LookupAttribute{AttributeKey: types.LookupAttributeKeyEventName, AttributeValue: aws.String("ListUsers")})}, "InvalidLookupAttributesException"},
		{"max results", ct.LookupEventsInput{MaxResults: aws.Int32(51)}, "InvalidMaxResultsException"},
		{"time range", ct.LookupEventsInput{StartTime: aws.Time(t0), EndTime: aws.Time(t0.Add(-time.Second))}, "InvalidTimeRangeException"},
		{"next token", ct.LookupEventsInput{NextToken: aws.String("forged")}, "InvalidNextTokenException"},
	}
	for _, b := range bad {
		if _, err := c.LookupEvents(t.Context(), &b.in); smCode(err) != b.code {
			t.Errorf("%s: %v, want %s", b.name, err, b.code)
		}
	}
	fake.SetAccessDenied(true)
	if _, err := c.LookupEvents(t.Context(), in); smCode(err) != "AccessDeniedException" {
		t.Errorf("denied: %v", err)
	}
}

func TestCloudTrailDeliveryAndSigning(t *testing.T) {
	fake, clock, c := newCTTest(t, Region)
	fake.SetDeliveryDelay(10 * time.Minute)
	fake.RecordSCIM(SCIMCall{Time: clock.Now(), Operation: "ListUsers", TokenID: "tok-1"})
	look := func() int {
		out, err := c.LookupEvents(t.Context(), &ct.LookupEventsInput{LookupAttributes: scimSource()})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Events)
	}
	clock.Advance(9 * time.Minute)
	if n := look(); n != 0 {
		t.Errorf("%d events before the delivery delay", n)
	}
	clock.Advance(time.Minute)
	if n := look(); n != 1 {
		t.Errorf("%d events after the delivery delay, want 1", n)
	}

	_, _, wrongRegion := newCTTest(t, "eu-west-1")
	if _, err := wrongRegion.LookupEvents(t.Context(), &ct.LookupEventsInput{}); smCode(err) != "InvalidSignatureException" {
		t.Errorf("signed for another region: %v", err)
	}
}

func TestSCIMCallsBecomeEvents(t *testing.T) {
	sb := Start(Options{Virtual: true, Entra: true})
	defer sb.Close()
	id, value := sb.SeedLiveToken(time.Hour)
	if code, err := sb.CallSCIM(t.Context(), value, "forgotten-job/1.0"); err != nil || code != 200 {
		t.Fatalf("CallSCIM: %d, %v", code, err)
	}
	if code, _ := sb.CallSCIM(t.Context(), "wrong", "forgotten-job/1.0"); code != 401 {
		t.Fatalf("CallSCIM with a wrong token: %d", code)
	}
	if n := sb.CloudTrail.EventCount(); n != 2 {
		t.Fatalf("%d events recorded, want 2", n)
	}
	sb.Clock.Advance(DefaultCloudTrailDelay)
	c := ct.New(ct.Options{Region: Region, Credentials: AWSCredentials(), BaseEndpoint: aws.String(sb.URL("cloudtrail")), HTTPClient: sb.Client})
	out, err := c.LookupEvents(t.Context(), &ct.LookupEventsInput{LookupAttributes: scimSource()})
	if err != nil || len(out.Events) != 2 {
		t.Fatalf("lookup: %v, %v", out, err)
	}
	var refused, ok map[string]any
	_ = json.Unmarshal([]byte(aws.ToString(out.Events[0].CloudTrailEvent)), &refused)
	_ = json.Unmarshal([]byte(aws.ToString(out.Events[1].CloudTrailEvent)), &ok)
	if ok["userIdentity"].(map[string]any)["accessKeyId"] != id || ok["userAgent"] != "forgotten-job/1.0" || ok["errorCode"] != nil || ok["sourceIPAddress"] != "127.0.0.1" {
		t.Errorf("successful call's event = %v", ok)
	}
	if refused["errorCode"] == nil || refused["userIdentity"].(map[string]any)["accessKeyId"] != nil {
		t.Errorf("refused call's event = %v", refused)
	}
}

func TestKeepCallingSCIM(t *testing.T) {
	sb := Start(Options{})
	defer sb.Close()
	id, value := sb.SeedLiveToken(time.Hour)
	calls := make(chan SCIMCall, 100)
	sb.IC.OnSCIMCall(func(c SCIMCall) {
		select {
		case calls <- c:
		default:
		}
	})
	stop := sb.KeepCallingSCIM(value, "forgotten-job/1.0", time.Millisecond)
	for range 3 {
		c := <-calls
		if c.TokenID != id || c.UserAgent != "forgotten-job/1.0" || c.ErrorCode != "" || c.Operation != "ListUsers" {
			t.Errorf("call = %+v", c)
		}
	}
	stop()
}

// A busy directory's day: 100k calls seeded as traffic, read newest first in
// pages of 50 (the service's), counted; the traffic's later calls are
// recorded as the clock passes them, with the token of that time.
func TestCloudTrailTraffic(t *testing.T) {
	fake, clock, c := newCTTest(t, Region)
	now := clock.Now()
	token := "tok-old"
	fake.AddTraffic(Traffic{From: now.Add(-24 * time.Hour), Until: now.Add(time.Hour), Every: 864 * time.Millisecond,
		Call:    SCIMCall{Operation: "GetUser", UserAgent: "Entra/1.0", SourceIP: "203.0.113.9"},
		TokenID: func(time.Time) string { return token }})
	if n := fake.EventCount(); n != 100_001 {
		t.Fatalf("%d events seeded, want 100001 (both ends of the day)", n)
	}
	in := &ct.LookupEventsInput{LookupAttributes: scimSource(), MaxResults: aws.Int32(50)}
	var seen int
	last := now.Add(time.Hour)
	for page := range 3 {
		out, err := c.LookupEvents(t.Context(), in)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Events) != 50 || out.NextToken == nil {
			t.Fatalf("page %d: %d events, next %v", page, len(out.Events), out.NextToken)
		}
		for _, e := range out.Events {
			if e.EventTime.After(last) {
				t.Fatalf("page %d: %v after %v: not newest first", page, e.EventTime, last)
			}
			last = *e.EventTime
			seen++
		}
		in.NextToken = out.NextToken
	}
	if fake.Pages() != 3 || seen != 150 || now.Sub(last) > 3*time.Minute {
		t.Fatalf("pages %d, events %d, oldest %v before now", fake.Pages(), seen, now.Sub(last))
	}
	// An hour later the client uses another token: those calls carry it.
	token = "tok-new"
	clock.Advance(time.Hour)
	out, err := c.LookupEvents(t.Context(), &ct.LookupEventsInput{LookupAttributes: scimSource(), MaxResults: aws.Int32(1),
		EndTime: aws.Time(clock.Now().Add(-time.Minute))})
	if err != nil || len(out.Events) != 1 || aws.ToString(out.Events[0].AccessKeyId) != "tok-new" {
		t.Fatalf("%v, %v", out, err)
	}
	if n := fake.EventCount(); n != 104_167 {
		t.Fatalf("%d events after an hour, want 104167", n)
	}
}

// The e2e tests' hooks: Delivered follows the delivery delay, SetPageSize
// sets the page, SetAccessKeyID rewrites the accessKeyId of later events.
func TestCloudTrailTestHooks(t *testing.T) {
	fake, clock, c := newCTTest(t, Region)
	t0 := clock.Now()
	fake.SetAccessKeyID(func(id string) string { return "ASIA-" + id })
	for range 4 {
		fake.RecordSCIM(SCIMCall{Time: t0, Operation: "ListUsers", TokenID: "tok-1", UserAgent: "job/1.0"})
	}
	if fake.Delivered() != 0 || fake.EventCount() != 4 {
		t.Fatalf("before the delay: %d delivered of %d", fake.Delivered(), fake.EventCount())
	}
	clock.Advance(DefaultCloudTrailDelay)
	if fake.Delivered() != 4 {
		t.Fatalf("after the delay: %d delivered", fake.Delivered())
	}
	fake.SetPageSize(50)
	out, err := c.LookupEvents(t.Context(), &ct.LookupEventsInput{LookupAttributes: scimSource()})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Events) != 4 || out.NextToken != nil || aws.ToString(out.Events[0].AccessKeyId) != "ASIA-tok-1" {
		t.Fatalf("%d events, next %v, accessKeyId %q", len(out.Events), out.NextToken, aws.ToString(out.Events[0].AccessKeyId))
	}
}
