package health

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

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
		HTTPClient: sb.Client, AWSCredentials: sandbox.AWSCredentials(), Clock: sb.Clock})
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
	if _, err := w.api.DescribeEventDetails(t.Context(), &describeEventDetailsInput{EventArns: arns}); err == nil || !strings.Contains(err.Error(), "ValidationException") {
		t.Fatalf("11 ARNs: %v", err)
	}
	out, err := w.api.DescribeEventDetails(t.Context(), &describeEventDetailsInput{EventArns: arns[:1]})
	if err != nil || len(out.FailedSet) != 1 || len(out.SuccessfulSet) != 0 {
		t.Fatalf("unknown ARN: %+v %v", out, err)
	}
	if _, err := w.api.DescribeEvents(t.Context(), &describeEventsInput{MaxResults: 5}); err == nil || !strings.Contains(err.Error(), "ValidationException") {
		t.Fatalf("maxResults 5: %v", err)
	}
	if _, err := w.api.DescribeEvents(t.Context(), &describeEventsInput{NextToken: "bogus"}); err == nil || !strings.Contains(err.Error(), "InvalidPaginationToken") {
		t.Fatalf("bogus token: %v", err)
	}
}
