package cloudtrail

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	ct "github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

const op = "cloudtrail:LookupEvents"

// env is the sandbox (virtual clock: waits take no real time) and a Source
// built with the official client against its CloudTrail fake.
type env struct {
	t      *testing.T
	sb     *sandbox.Sandbox
	src    *Source
	tokens []rotator.TokenInfo
	// tokensErr is what the Tokens option returns.
	tokensErr error
}

func newEnv(t *testing.T) *env {
	t.Helper()
	sb := sandbox.Start(sandbox.Options{Virtual: true})
	t.Cleanup(sb.Close)
	e := &env{t: t, sb: sb}
	src, err := New(t.Context(), config.Usage{Endpoint: sb.URL("cloudtrail")}, sandbox.Region, Options{
		HTTPClient: sb.Client, AWSCredentials: sandbox.AWSCredentials(), Clock: sb.Clock,
		Tokens: func(context.Context) ([]rotator.TokenInfo, error) { return e.tokens, e.tokensErr },
		sdkOptions: []func(*ct.Options){func(o *ct.Options) {
			o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
				so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			})
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.src = src
	return e
}

// token seeds a token created a day ago and lists it.
func (e *env) token() (id, value string) {
	id, value = e.sb.IC.SeedToken(e.sb.Clock.Now().Add(-24 * time.Hour))
	e.tokens = append(e.tokens, rotator.TokenInfo{ID: id})
	return id, value
}

func (e *env) call(value, ua string) {
	e.t.Helper()
	if _, err := e.sb.CallSCIM(e.t.Context(), value, ua); err != nil {
		e.t.Fatal(err)
	}
}

// deliver moves the clock past the fake's delivery delay.
func (e *env) deliver() { e.sb.Clock.Advance(sandbox.DefaultCloudTrailDelay + time.Second) }

func TestUsesPagesAndOrders(t *testing.T) {
	e := newEnv(t)
	e.sb.CloudTrail.SetPageSize(3)
	a, av := e.token()
	b, bv := e.token()
	start := e.sb.Clock.Now()
	for i := range 4 {
		e.call(av, "Okta SCIM Client 1.0.0")
		e.sb.Clock.Advance(time.Second)
		if i%2 == 0 {
			e.call(bv, rotator.UserAgentPrefix+"1.2.3 (proof)")
			e.sb.Clock.Advance(time.Second)
		}
	}
	e.call("not-a-token", "curl/8.0") // refused, authenticated nobody
	e.deliver()
	e.sb.Faults.ResetCalls()
	before := e.sb.Clock.Now()
	uses, err := e.src.Uses(t.Context(), start, e.sb.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if n := e.sb.Faults.Count(op); n != 3 {
		t.Errorf("LookupEvents calls = %d, want 3 pages of at most 3 for 7 events", n)
	}
	if waited := e.sb.Clock.Now().Sub(before); waited < 2*lookupInterval {
		t.Errorf("3 pages were paced by %s, want at least %s", waited, 2*lookupInterval)
	}
	var got []string
	refused := 0
	for i, u := range uses {
		if u.TokenID == "" {
			// The refused call comes with no token id, for who still calls
			// with a token Identity Center no longer knows.
			if u.UserAgent != "curl/8.0" || u.ErrorCode == "" || i != len(uses)-1 {
				t.Errorf("anonymous use %d = %+v", i, u)
			}
			refused++
			continue
		}
		got = append(got, u.TokenID[len(u.TokenID)-4:]+" "+u.UserAgent)
		if i > 0 && u.Time.Before(uses[i-1].Time) {
			t.Errorf("not oldest first: %v after %v", u.Time, uses[i-1].Time)
		}
		if u.EventName != "ListUsers" || u.SourceIP != "127.0.0.1" || u.ErrorCode != "" || u.Time.Before(start.Truncate(time.Second)) {
			t.Errorf("use %d = %+v", i, u)
		}
	}
	ua, own := "Okta SCIM Client 1.0.0", rotator.UserAgentPrefix+"1.2.3 (proof)"
	sa, sb := a[len(a)-4:], b[len(b)-4:]
	want := []string{sa + " " + ua, sb + " " + own, sa + " " + ua, sa + " " + ua, sb + " " + own, sa + " " + ua}
	if strings.Join(got, "|") != strings.Join(want, "|") || refused != 1 {
		t.Errorf("uses (%d refused):\n%s\nwant:\n%s", refused, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestUsesWindowAndDeliveryDelay(t *testing.T) {
	e := newEnv(t)
	_, v := e.token()
	e.sb.CloudTrail.SetDeliveryDelay(5 * time.Minute)
	from := e.sb.Clock.Now()
	e.call(v, "sync-job/1.0")
	e.sb.Clock.Advance(4 * time.Minute)
	uses, err := e.src.Uses(t.Context(), from, e.sb.Clock.Now())
	if err != nil || len(uses) != 0 {
		t.Fatalf("before the delivery delay: %v, %v; want nothing yet", uses, err)
	}
	e.sb.Clock.Advance(2 * time.Minute)
	// CloudTrail records times to the second: a call at "to" is outside
	// [from, to) only when "to" is a whole second.
	now := e.sb.Clock.Now()
	e.sb.Clock.Advance(now.Truncate(time.Second).Add(time.Second).Sub(now))
	to := e.sb.Clock.Now()
	e.call(v, "sync-job/1.0") // at "to": outside [from, to)
	e.sb.Clock.Advance(6 * time.Minute)
	uses, err = e.src.Uses(t.Context(), from, to)
	if err != nil || len(uses) != 1 || uses[0].UserAgent != "sync-job/1.0" {
		t.Fatalf("after the delay: %+v, %v; want the one call in [from, to)", uses, err)
	}
	if uses, err := e.src.Uses(t.Context(), to, from); err != nil || len(uses) != 0 {
		t.Errorf("empty window: %v, %v", uses, err)
	}
}

func TestUsesRefusedCallKeepsErrorCode(t *testing.T) {
	e := newEnv(t)
	id, v := e.sb.IC.SeedToken(e.sb.Clock.Now().Add(-366 * 24 * time.Hour)) // expired
	from := e.sb.Clock.Now()
	e.call(v, "forgotten-job/0.1")
	e.deliver()
	uses, err := e.src.Uses(t.Context(), from, e.sb.Clock.Now())
	if err != nil || len(uses) != 1 {
		t.Fatalf("uses = %+v, %v", uses, err)
	}
	if uses[0].TokenID != id || uses[0].ErrorCode == "" {
		t.Errorf("refused call = %+v, want token %s with an errorCode", uses[0], id)
	}
}

func TestThrottlingThenSuccess(t *testing.T) {
	e := newEnv(t)
	_, v := e.token()
	from := e.sb.Clock.Now()
	e.call(v, "x")
	e.deliver()
	e.sb.Faults.Inject(op, sandbox.Fault{Status: http.StatusBadRequest}, sandbox.Fault{Status: http.StatusTooManyRequests})
	before := e.sb.Clock.Now()
	uses, err := e.src.Uses(t.Context(), from, before)
	if err != nil || len(uses) != 1 {
		t.Fatalf("after two throttles: %v, %v; want the SDK's retryer to succeed", uses, err)
	}
	// The SDK's retries (without backoff here) went through the pacer,
	// which slowed down after each throttle.
	if waited := e.sb.Clock.Now().Sub(before); waited < 3*lookupInterval {
		t.Errorf("3 attempts, 2 of them throttled, were paced by %s: want at least %s", waited, 3*lookupInterval)
	}
	if n := e.sb.Faults.Count(op); n != 3 {
		t.Errorf("calls = %d, want 3", n)
	}

	// Throttled past the SDK's attempts: asked again while the context
	// lasts, slower; when it ends, a transient error, never "no use".
	e.sb.Faults.ResetCalls()
	e.sb.Faults.Inject(op, sandbox.Fault{Status: 400}, sandbox.Fault{Status: 400}, sandbox.Fault{Status: 400}, sandbox.Fault{Status: 400}, sandbox.Fault{Status: 400})
	if uses, err = e.src.Uses(t.Context(), from, e.sb.Clock.Now()); err != nil || len(uses) != 1 || e.sb.Faults.Count(op) != 6 {
		t.Fatalf("after 5 throttles: %v, %v (%d calls); want the sixth call to answer", uses, err, e.sb.Faults.Count(op))
	}
	if d := e.src.pacer.interval(); d <= lookupInterval {
		t.Errorf("after 5 throttles the pacer spaces calls by %s: want slower than %s", d, lookupInterval)
	}
	ctx, cancel := context.WithCancel(t.Context())
	for range 100 {
		e.sb.Faults.Inject(op, sandbox.Fault{Status: 400})
	}
	e.src.api = &cancelAfter{e.src.api, 20, cancel}
	uses, err = e.src.Uses(ctx, from, e.sb.Clock.Now())
	if err == nil || uses != nil || !rotator.IsTransient(err) || !strings.Contains(err.Error(), "ThrottlingException") {
		t.Fatalf("throttled until the context ended: %v, %v; want a transient ThrottlingException", uses, err)
	}
	e.sb.Faults.Clear()
	e.src.api = e.src.api.(*cancelAfter).lookupAPI
	e.sb.Faults.Inject(op, sandbox.Fault{Status: 503}, sandbox.Fault{Status: 500}, sandbox.Fault{Status: 503})
	if _, err := e.src.Uses(t.Context(), from, e.sb.Clock.Now()); !rotator.IsTransient(err) {
		t.Fatalf("5xx: %v, want transient", err)
	}
}

// cancelAfter cancels the context once n calls have answered.
type cancelAfter struct {
	lookupAPI
	n      int
	cancel func()
}

func (c *cancelAfter) LookupEvents(ctx context.Context, in *ct.LookupEventsInput, o ...func(*ct.Options)) (*ct.LookupEventsOutput, error) {
	out, err := c.lookupAPI.LookupEvents(ctx, in, o...)
	if c.n--; c.n <= 0 {
		c.cancel()
	}
	return out, err
}

func TestFailureOnALaterPage(t *testing.T) {
	e := newEnv(t)
	e.sb.CloudTrail.SetPageSize(3)
	_, v := e.token()
	from := e.sb.Clock.Now()
	for range 5 {
		e.call(v, "x")
	}
	e.deliver()
	e.sb.Faults.Inject(op, sandbox.Fault{Pass: true}, sandbox.Fault{Status: 500}, sandbox.Fault{Status: 500}, sandbox.Fault{Status: 500})
	if uses, err := e.src.Uses(t.Context(), from, e.sb.Clock.Now()); err == nil || uses != nil {
		t.Fatalf("page 2 failed: %d uses, %v; want an error and no partial answer", len(uses), err)
	}
}

func TestAccessDenied(t *testing.T) {
	e := newEnv(t)
	e.sb.CloudTrail.SetAccessDenied(true)
	_, err := e.src.Uses(t.Context(), e.sb.Clock.Now().Add(-time.Hour), e.sb.Clock.Now())
	if !errors.Is(err, ErrAccessDenied) || rotator.IsTransient(err) || !strings.Contains(err.Error(), IAMStatement) {
		t.Fatalf("denied: %v; want ErrAccessDenied, permanent, naming the statement", err)
	}
}

func TestMalformedEventsSkipped(t *testing.T) {
	e := newEnv(t)
	id, v := e.token()
	from := e.sb.Clock.Now()
	at := from.Add(time.Second)
	for _, raw := range []string{
		"not json", "{{{", "[]", "null", `"a string"`,
		`{"eventSource":"s3.amazonaws.com","eventTime":"` + at.Format(time.RFC3339) + `"}`,
		`{"eventTime":"yesterday"` + strings.Repeat(" ", 300<<10) + `}`, // too large
	} {
		e.sb.CloudTrail.AddRawEvent(at, raw)
	}
	// Odd but readable: wrong types and controls are neutralised, the top-level
	// EventTime stands in for an unreadable eventTime.
	e.sb.CloudTrail.AddRawEvent(at, `{"eventTime":5,"eventName":["x"],"userIdentity":{"accessKeyId":"`+id+`"},"userAgent":"evil\u001b[31m\nagent`+strings.Repeat("x", 400)+`","sourceIPAddress":7}`)
	e.sb.CloudTrail.AddRawEvent(at, `{"eventTime":"`+at.Format(time.RFC3339)+`","userIdentity":"weird"}`) // no token: not a use
	e.call(v, "ok/1")
	e.deliver()
	l, err := e.src.lookup(t.Context(), from, e.sb.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if l.skipped != 7 || l.anonymous != 1 || len(l.uses) != 2 {
		t.Fatalf("skipped %d, anonymous %d, uses %+v; want 7, 1 and 2", l.skipped, l.anonymous, l.uses)
	}
	odd, good := l.uses[1], l.uses[0] // the odd one is a second later
	if odd.TokenID != id || !strings.HasPrefix(odd.UserAgent, "evil[31magent") || len(odd.UserAgent) > maxUserAgent+len("…") || odd.SourceIP != "" || !odd.Time.Equal(at.Truncate(time.Second)) {
		t.Errorf("odd event = %+v", odd)
	}
	if good.UserAgent != "ok/1" {
		t.Errorf("good event = %+v", good)
	}
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(e *env)
		levels string // Level of each result, in order
		want   string // in the last result's Detail or Fix
	}{
		{"denied", func(e *env) { e.sb.CloudTrail.SetAccessDenied(true) }, "FAIL", IAMStatement},
		{"no events", func(e *env) { e.token() }, "OK WARN", "canary"},
		{"mismatched accessKeyId", func(e *env) {
			_, v := e.token()
			e.call(v, "Okta SCIM Client 1.0.0")
			e.tokens = []rotator.TokenInfo{{ID: "some-other-id"}}
		}, "OK FAIL", "usage.source: none"},
		{"one deleted token", func(e *env) {
			_, v := e.token()
			_, w := e.token()
			e.call(v, "a")
			e.call(w, "b")
			e.tokens = e.tokens[1:]
		}, "OK WARN", "deleted"},
		{"manual issuer", func(e *env) {
			_, v := e.token()
			e.call(v, "a")
			e.tokensErr = fmt.Errorf("list tokens: %w", rotator.ErrManual)
		}, "OK WARN", "console"},
		{"own calls only", func(e *env) {
			_, v := e.token()
			e.call(v, rotator.UserAgentPrefix+"dev")
		}, "OK OK", "only scim-rotator's own calls"},
		{"ok", func(e *env) {
			id, v := e.token()
			e.token()
			e.call(v, "Okta SCIM Client 1.0.0")
			e.tokens[0].ID = id
		}, "OK OK", `seen in use: %ID%: last used`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.sb.Clock.Advance(time.Hour)
			c.setup(e)
			e.deliver()
			res := e.src.Check(t.Context())
			var levels []string
			for _, r := range res {
				levels = append(levels, string(r.Level))
				if r.System != "cloudtrail" {
					t.Errorf("result %+v: wrong system", r)
				}
			}
			if strings.Join(levels, " ") != c.levels {
				t.Errorf("levels = %v, want %s: %+v", levels, c.levels, res)
			}
			last := res[len(res)-1]
			want := c.want
			if len(e.tokens) > 0 {
				want = strings.ReplaceAll(want, "%ID%", e.tokens[0].ID)
			}
			if !strings.Contains(last.Detail+" "+last.Fix, want) {
				t.Errorf("last result %+v does not say %q", last, want)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	e := newEnv(t)
	a, av := e.token()
	e.token() // a second token, never used
	e.call(av, "Okta SCIM Client 1.0.0")
	e.call(av, rotator.UserAgentPrefix+"dev")
	e.sb.CloudTrail.AddRawEvent(e.sb.Clock.Now(), "garbage")
	e.deliver()
	st, err := e.src.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for _, f := range st.Fields {
		got[f.Key] = f.Value
	}
	if got["latestScimCalls"] != 2 || fmt.Sprint(got["latestTokensSeen"]) != "["+a+"]" || got["latestUnreadableEvents"] != 1 ||
		!got["latestSince"].(time.Time).Equal(e.sb.Clock.Now().Add(-24*time.Hour).UTC()) {
		t.Errorf("status fields: %v", got)
	}
	if e.sb.CloudTrail.Pages() != 1 {
		t.Errorf("status read %d pages, want 1", e.sb.CloudTrail.Pages())
	}
}

// Latest reads newest first and stops when told, or at its budget, saying
// how far back it read; a window read to its start is complete.
func TestLatest(t *testing.T) {
	e := newEnv(t)
	a, av := e.token()
	b, bv := e.token()
	from := e.sb.Clock.Now()
	e.call(bv, "old-job/1")
	e.sb.Clock.Advance(time.Minute)
	mid := e.sb.Clock.Now().Truncate(time.Second)
	for range 120 {
		e.call(av, "busy/1")
		e.sb.Clock.Advance(time.Second)
	}
	e.deliver()
	now := e.sb.Clock.Now()

	seenA := func(page []rotator.Use) bool {
		return slices.ContainsFunc(page, func(u rotator.Use) bool { return u.TokenID == a })
	}
	pages := e.sb.CloudTrail.Pages()
	r, err := e.src.Latest(t.Context(), rotator.UsageQuery{From: from, To: now, Pages: 20, Enough: seenA})
	if err != nil || r.Pages != 1 || e.sb.CloudTrail.Pages()-pages != 1 || r.Complete || r.Events != 50 || len(r.Uses) != 50 || !r.Since.After(mid) {
		t.Fatalf("stop at a's first page: %d pages, %d events, complete %v, since %v, %v", r.Pages, r.Events, r.Complete, r.Since, err)
	}
	if r.Uses[0].Time.After(r.Uses[49].Time) || r.Since != r.Uses[0].Time {
		t.Errorf("uses not oldest first, or since %v is not the oldest read", r.Since)
	}
	r, err = e.src.Latest(t.Context(), rotator.UsageQuery{From: from, To: now, Pages: 2})
	if err != nil || r.Pages != 2 || r.Complete || r.Events != 100 {
		t.Fatalf("budget of 2: %+v, %v", r, err)
	}
	told := 0 // Enough is told every page, the last too
	r, err = e.src.Latest(t.Context(), rotator.UsageQuery{From: from, To: now, Pages: 20, Enough: func(page []rotator.Use) bool { told += len(page); return false }})
	if err != nil || r.Pages != 3 || !r.Complete || r.Events != 121 || !r.Since.Equal(from.Truncate(time.Second)) || r.Uses[0].TokenID != b {
		t.Fatalf("the whole window: %d pages, %d events, complete %v, since %v, %v", r.Pages, r.Events, r.Complete, r.Since, err)
	}
	if told != 121 {
		t.Errorf("Enough was told %d calls of 121", told)
	}
}
