package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshealth "github.com/aws/aws-sdk-go-v2/service/health"

	"github.com/scim-rotator/scim-rotator/adapters/internal/awsbase"
	"github.com/scim-rotator/scim-rotator/adapters/internal/safehttp/safehttptest"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// newWatch builds the watch against the sandbox's Health fake (virtual
// clock: retry waits take no real time).
func newTestWatch(t *testing.T) (*sandbox.Sandbox, *Watch) {
	t.Helper()
	sb := sandbox.Start(sandbox.Options{Virtual: true})
	t.Cleanup(sb.Close)
	w, err := New(t.Context(), config.Health{Enabled: true, Endpoint: sb.URL("health")}, Options{
		HTTPClient: sb.Client, AWSCredentials: sandbox.AWSCredentials(), Clock: sb.Clock, sdkOptions: noBackoff})
	if err != nil {
		t.Fatal(err)
	}
	return sb, w
}

func TestNoticesPagesAndReadsDetails(t *testing.T) {
	sb, w := newTestWatch(t)
	now := sb.Clock.Now()
	// 13 notices: several DescribeEvents pages (2 a page) and two
	// DescribeEventDetails batches (10 at most).
	want := map[string]time.Time{}
	for i := range 13 {
		exp := now.AddDate(0, 0, 30+i).Truncate(time.Second)
		arn := sb.Health.AddNotice(fmt.Sprintf("tok-%02d", i), exp)
		want[arn] = exp
	}
	sb.Faults.ResetCalls()
	notices, err := w.Notices(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(notices) != 13 {
		t.Fatalf("%d notices, want 13 (the EC2 event must be filtered out)", len(notices))
	}
	for _, n := range notices {
		if !n.Expires.Equal(want[n.EventARN]) || !strings.HasPrefix(n.TokenID, "tok-") || n.Region != sandbox.Region || n.Start.IsZero() {
			t.Fatalf("notice %+v, want expiry %s", n, want[n.EventARN])
		}
	}
	if c := sb.Faults.Count("health:DescribeEvents"); c != 7 {
		t.Fatalf("DescribeEvents called %d times, want 7 pages", c)
	}
	if c := sb.Faults.Count("health:DescribeEventDetails"); c != 2 {
		t.Fatalf("DescribeEventDetails called %d times, want 2 batches", c)
	}
}

func TestNoticesOddTextNeverFails(t *testing.T) {
	sb, w := newTestWatch(t)
	start := sb.Clock.Now().Truncate(time.Second)
	texts := []string{
		"",
		"Your token expires soon.",
		"expires on Thu Feb 30 10:00:00 UTC 2027", // no such day
		strings.Repeat("\x00\xff garbage ", 2000),
		"The SCIM access token expires in 89 days.", // relative only
	}
	for _, s := range texts {
		sb.Health.AddNoticeText(s, start)
	}
	notices, err := w.Notices(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(notices) != len(texts) {
		t.Fatalf("%d notices", len(notices))
	}
	for i, n := range notices[:4] {
		if !n.Expires.IsZero() {
			t.Fatalf("text %d read as %s", i, n.Expires)
		}
	}
	if got := notices[4].Expires; !got.Equal(start.AddDate(0, 0, 89)) {
		t.Fatalf("relative expiry %s", got)
	}
	res := w.Check(t.Context())
	if len(res) != 1 || res[0].Level != rotator.LevelWarn || !strings.Contains(res[0].Detail, "4 without a readable expiry date") {
		t.Fatalf("check %+v", res)
	}
}

func TestParseNotice(t *testing.T) {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	day := func(y int, m time.Month, d, h, min, s int) time.Time {
		return time.Date(y, m, d, h, min, s, 0, time.UTC)
	}
	cases := []struct {
		text string
		want time.Time
		id   string
	}{
		{sandbox.NoticeText(day(2027, 1, 30, 8, 9, 10), 89, ""), day(2027, 1, 30, 8, 9, 10), ""},
		{"...IAM Identity Center expires in 89 days on Sat Jan 30 08:09:10 UTC 2027.", day(2027, 1, 30, 8, 9, 10), ""},
		{"token expires on Mon Mar  5 12:00:00 UTC 2027", day(2027, 3, 5, 12, 0, 0), ""},
		{"Expiration date: 2027-03-05T12:00:00Z. Token ID: 1f2e3d4c-aaaa-bbbb-cccc-0123456789ab.", day(2027, 3, 5, 12, 0, 0), "1f2e3d4c-aaaa-bbbb-cccc-0123456789ab"},
		{"Your SCIM access token (token ID abcd1234efgh) will expire on March 5, 2027.", day(2027, 3, 5, 0, 0, 0), "abcd1234efgh"},
		{"expires on 5 March 2027", day(2027, 3, 5, 0, 0, 0), ""},
		{"expires at 2027-03-05 12:00 UTC", day(2027, 3, 5, 12, 0, 0), ""},
		{"expires in 30 days", start.AddDate(0, 0, 30), ""},
		{"expires\non\nWed Mar 03\n10:00:00 UTC 2027", day(2027, 3, 3, 10, 0, 0), ""},
		{"nothing here", time.Time{}, ""},
		{"expires on 1999-01-01", time.Time{}, ""},
	}
	for _, c := range cases {
		got, id := parseNotice(c.text, start)
		if !got.Equal(c.want) || id != c.id {
			t.Errorf("parseNotice(%q) = %s %q, want %s %q", c.text, got, id, c.want, c.id)
		}
	}
}

func TestSubscriptionRequiredWarns(t *testing.T) {
	sb, w := newTestWatch(t)
	sb.Health.SetSubscriptionRequired(true)
	_, err := w.Notices(t.Context())
	if !errors.Is(err, ErrSubscriptionRequired) || rotator.IsTransient(err) {
		t.Fatalf("err %v", err)
	}
	res := w.Check(t.Context())
	if len(res) != 1 || res[0].Level != rotator.LevelWarn || !strings.Contains(res[0].Detail, "SubscriptionRequiredException") || !strings.Contains(res[0].Fix, "support plan") {
		t.Fatalf("check %+v", res)
	}
}

func TestAccessDeniedFails(t *testing.T) {
	sb, w := newTestWatch(t)
	sb.Health.SetAccessDenied(true)
	_, err := w.Notices(t.Context())
	if !errors.Is(err, ErrAccessDenied) {
		t.Fatalf("err %v", err)
	}
	res := w.Check(t.Context())
	if len(res) != 1 || res[0].Level != rotator.LevelFail || !strings.Contains(res[0].Fix, "health:DescribeEvents") || !strings.Contains(res[0].Fix, "health:DescribeEventDetails") {
		t.Fatalf("check %+v", res)
	}
}

func TestCheckOK(t *testing.T) {
	sb, w := newTestWatch(t)
	sb.Health.AddNotice("", sb.Clock.Now().AddDate(0, 2, 0))
	res := w.Check(t.Context())
	if len(res) != 1 || res[0].Level != rotator.LevelOK || !strings.Contains(res[0].Detail, "1 open SCIM token expiry notices") {
		t.Fatalf("check %+v", res)
	}
	sb.Health.CloseNotices()
	if n, err := w.Notices(t.Context()); err != nil || len(n) != 0 {
		t.Fatalf("closed notices are not read: %v %v", n, err)
	}
}

func TestThrottlingRetriedThenTransient(t *testing.T) {
	sb, w := newTestWatch(t)
	sb.Health.AddNotice("", sb.Clock.Now().AddDate(0, 2, 0))
	sb.Faults.Inject("health:DescribeEvents", sandbox.Fault{Status: http.StatusBadRequest})
	if n, err := w.Notices(t.Context()); err != nil || len(n) != 1 {
		t.Fatalf("one throttle is retried: %v %v", n, err)
	}
	var faults []sandbox.Fault
	for range 5 {
		faults = append(faults, sandbox.Fault{Status: http.StatusServiceUnavailable})
	}
	sb.Faults.Inject("health:DescribeEventDetails", faults...)
	if _, err := w.Notices(t.Context()); err == nil || !rotator.IsTransient(err) {
		t.Fatalf("persistent 5xx: %v", err)
	}
}

func TestSignatureChecked(t *testing.T) {
	sb := sandbox.Start(sandbox.Options{Virtual: true})
	t.Cleanup(sb.Close)
	w, err := New(t.Context(), config.Health{Endpoint: sb.URL("health")}, Options{HTTPClient: sb.Client,
		AWSCredentials: staticCreds{}, Clock: sb.Clock})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Notices(t.Context()); err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Fatalf("a wrong secret key must be refused: %v", err)
	}
}

// staticCreds signs with the sandbox's key id and a wrong secret.
type staticCreds struct{}

func (staticCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: sandbox.AccessKeyID, SecretAccessKey: "wrong-secret", Source: "test"}, nil
}

func TestFakeRejectsWhatHealthRejects(t *testing.T) {
	_, w := newTestWatch(t)
	arns := make([]string, 11)
	for i := range arns {
		arns[i] = fmt.Sprintf("arn:aws:health:us-east-1::event/X/Y/Z_%d", i)
	}
	if _, err := w.api.DescribeEventDetails(t.Context(), &awshealth.DescribeEventDetailsInput{EventArns: arns}); err == nil || !strings.Contains(err.Error(), "ValidationException") {
		t.Fatalf("11 ARNs: %v", err)
	}
	out, err := w.api.DescribeEventDetails(t.Context(), &awshealth.DescribeEventDetailsInput{EventArns: arns[:1]})
	if err != nil || len(out.FailedSet) != 1 || len(out.SuccessfulSet) != 0 {
		t.Fatalf("unknown ARN: %+v %v", out, err)
	}
	if _, err := w.api.DescribeEvents(t.Context(), &awshealth.DescribeEventsInput{MaxResults: aws.Int32(5)}); err == nil || !strings.Contains(err.Error(), "ValidationException") {
		t.Fatalf("maxResults 5: %v", err)
	}
	if _, err := w.api.DescribeEvents(t.Context(), &awshealth.DescribeEventsInput{NextToken: aws.String("bogus")}); err == nil || !strings.Contains(err.Error(), "InvalidPaginationToken") {
		t.Fatalf("bogus token: %v", err)
	}
}

// noBackoff: retries without waiting (the SDK backs off on the wall clock).
var noBackoff = []func(*awshealth.Options){func(o *awshealth.Options) {
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		so.RateLimiter = ratelimit.None
	})
}}

// healthWire answers DescribeEvents with one notice and DescribeEventDetails
// with its text, in AWS JSON 1.1, recording each request's X-Amz-Target and
// SigV4 credential scope.
type healthWire struct {
	mu      sync.Mutex
	targets []string
	scopes  []string
}

func (h *healthWire) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	scope := ""
	if i := strings.Index(auth, "Credential="); i >= 0 {
		scope = strings.SplitN(strings.SplitN(auth[i+len("Credential="):], ",", 2)[0], "/", 2)[1]
	}
	target := r.Header.Get("X-Amz-Target")
	h.mu.Lock()
	h.targets = append(h.targets, target)
	h.scopes = append(h.scopes, scope)
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	const arn = "arn:aws:health:us-east-1::event/IAMIDENTITYCENTER/" + EventTypeCode + "/1"
	switch target {
	case "AWSHealth_20160804.DescribeEvents":
		fmt.Fprintf(w, `{"events":[{"arn":%q,"service":%q,"eventTypeCode":%q,"region":"us-east-1","startTime":1.7800704E9,"statusCode":"open"}]}`, arn, Service, EventTypeCode)
	case "AWSHealth_20160804.DescribeEventDetails":
		fmt.Fprintf(w, `{"successfulSet":[{"event":{"arn":%q},"eventDescription":{"latestDescription":"The SCIM access token expires on Sat Jan 30 08:09:10 UTC 2027."}}],"failedSet":[]}`, arn)
	default:
		w.Header().Set("X-Amzn-ErrorType", "UnknownOperationException")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"__type":"UnknownOperationException"}`)
	}
}

// The production path: no HTTP client, no credentials, no CA injected; the
// CA only in AWS_CA_BUNDLE, keys in the environment. The watch reads the
// notice, signed for each partition's Health region.
func TestProductionPathZeroOptions(t *testing.T) {
	for _, c := range []struct{ region, wantScope string }{
		{"", "us-east-1/health/aws4_request"},
		{"eu-west-1", "us-east-1/health/aws4_request"},
		{"cn-north-1", "cn-northwest-1/health/aws4_request"},
		{"us-gov-east-1", "us-gov-west-1/health/aws4_request"},
	} {
		t.Run(c.region, func(t *testing.T) {
			h := &healthWire{}
			srv := safehttptest.Production(t, h)
			w, err := New(t.Context(), config.Health{Enabled: true, Endpoint: srv.URL}, Options{Region: c.region})
			if err != nil {
				t.Fatal(err)
			}
			notices, err := w.Notices(t.Context())
			if err != nil {
				t.Fatalf("notices over the production path: %v", err)
			}
			if len(notices) != 1 || !notices[0].Expires.Equal(time.Date(2027, 1, 30, 8, 9, 10, 0, time.UTC)) {
				t.Fatalf("notices %+v", notices)
			}
			want := []string{"AWSHealth_20160804.DescribeEvents", "AWSHealth_20160804.DescribeEventDetails"}
			if !slices.Equal(h.targets, want) {
				t.Fatalf("targets %v, want %v", h.targets, want)
			}
			for _, s := range h.scopes {
				if !strings.HasSuffix(s, c.wantScope) {
					t.Fatalf("signed for %q, want .../%s", s, c.wantScope)
				}
			}
		})
	}
}

func TestEndpointPerPartition(t *testing.T) {
	for _, c := range []struct{ configured, region, endpoint, signing string }{
		{"", "", "https://health.us-east-1.amazonaws.com", "us-east-1"},
		{"", "eu-central-1", "https://health.us-east-1.amazonaws.com", "us-east-1"},
		{"", "cn-north-1", "https://health.cn-northwest-1.amazonaws.com.cn", "cn-northwest-1"},
		{"", "us-gov-east-1", "https://health.us-gov-west-1.amazonaws.com", "us-gov-west-1"},
		// Another partition's endpoint signs for its own region.
		{"https://health.cn-northwest-1.amazonaws.com.cn", "us-east-1", "https://health.cn-northwest-1.amazonaws.com.cn", "cn-northwest-1"},
		{"https://global.health.amazonaws.com", "us-gov-west-1", "https://global.health.amazonaws.com", "us-gov-west-1"},
		// A VPC endpoint names no region: the instance's partition's.
		{"https://vpce-0a1b.health.us-east-1.vpce.amazonaws.com", "cn-north-1", "https://vpce-0a1b.health.us-east-1.vpce.amazonaws.com", "cn-northwest-1"},
	} {
		e, r := Endpoint(c.configured, c.region)
		if e != c.endpoint || r != c.signing {
			t.Errorf("Endpoint(%q, %q) = %q, %q; want %q, %q", c.configured, c.region, e, r, c.endpoint, c.signing)
		}
	}
}

// A Health endpoint that never answers: the call ends with the client's
// timeout, not never.
func TestHangTimesOut(t *testing.T) {
	defer func(d time.Duration) { awsbase.Timeout = d }(awsbase.Timeout)
	awsbase.Timeout = 200 * time.Millisecond
	srv := safehttptest.Hanging(t)
	w, err := New(t.Context(), config.Health{Enabled: true, Endpoint: srv.URL}, Options{
		sdkOptions: []func(*awshealth.Options){func(o *awshealth.Options) { o.RetryMaxAttempts = 1 }}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.Notices(t.Context())
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("a hanging Health endpoint: %v, want a timeout", err)
	}
}
