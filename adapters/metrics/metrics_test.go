package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/scim-rotator/scim-rotator/adapters/internal/safehttp/safehttptest"
	"github.com/scim-rotator/scim-rotator/rotator"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// testBuild is the build the tests' metrics say is running.
var testBuild = Build{Version: "v1.2.3", Revision: "abcdef1234567890abcdef1234567890abcdef12", GoVersion: "go1.26.8"}

// newTest is the Observer of the instance prod.
func newTest(t *testing.T) (*Observer, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	return newMetrics(reg, func() time.Time { return t0 }, testBuild).ForInstance("prod"), reg
}

func TestInitialState(t *testing.T) {
	_, reg := newTest(t)
	// Pre-initialised results at 0; expiry and last success absent until
	// known; the build's one series, without instance_name.
	want := `
# HELP scim_rotator_build_info Always 1; its labels say which build is running: version (release, module or devel), VCS revision, Go version.
# TYPE scim_rotator_build_info gauge
scim_rotator_build_info{goversion="go1.26.8",revision="abcdef1234567890abcdef1234567890abcdef12",version="v1.2.3"} 1
# HELP scim_rotator_rotation_in_progress 1 while a rotation is in progress (including one waiting for a hand-off), else 0.
# TYPE scim_rotator_rotation_in_progress gauge
scim_rotator_rotation_in_progress{instance_name="prod"} 0
# HELP scim_rotator_rotations_total Rotation runs by result (Rotated, NotDue, RolledBack, Failed, Blocked, AwaitingHandoff, ...).
# TYPE scim_rotator_rotations_total counter
scim_rotator_rotations_total{instance_name="prod",result="AwaitingHandoff"} 0
scim_rotator_rotations_total{instance_name="prod",result="AwaitingToken"} 0
scim_rotator_rotations_total{instance_name="prod",result="Blocked"} 0
scim_rotator_rotations_total{instance_name="prod",result="ConfirmTimeout"} 0
scim_rotator_rotations_total{instance_name="prod",result="Failed"} 0
scim_rotator_rotations_total{instance_name="prod",result="NotDue"} 0
scim_rotator_rotations_total{instance_name="prod",result="OldTokenInUse"} 0
scim_rotator_rotations_total{instance_name="prod",result="RevokedTokenUsed"} 0
scim_rotator_rotations_total{instance_name="prod",result="RolledBack"} 0
scim_rotator_rotations_total{instance_name="prod",result="Rotated"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, NameTokenExpiry, NameLastSuccess, NameStepDuration, NameLastRun, NameDisagreements); err != nil || n != 0 {
		t.Errorf("expiry/last success/steps/last run/disagreements exported before any value: %d %v", n, err)
	}
}

func TestObserver(t *testing.T) {
	m, reg := newTest(t)
	expiry := time.Date(2026, 6, 1, 0, 0, 0, 500_000_000, time.UTC)

	m.InProgress(true)
	if got := testutil.ToFloat64(m.m.inProgress); got != 1 {
		t.Errorf("in progress = %v, want 1", got)
	}
	m.StepDone("Confirm", "entra-prod", 42*time.Minute)
	m.StepDone("Confirm", "entra-prod", 2*time.Second)
	m.StepDone("CreateToken", "", 800*time.Millisecond)
	m.LiveTokenExpiry(expiry)
	m.RotationDone(rotator.ReasonRotated)
	m.RotationDone(rotator.ReasonNotDue)
	m.RotationDone(rotator.ReasonNotDue)
	m.RotationDone("SomethingNew")
	m.InProgress(false)

	checks := []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"in progress back to 0", m.m.inProgress, 0},
		{"Rotated", m.m.rotations.WithLabelValues("prod", "Rotated"), 1},
		{"NotDue", m.m.rotations.WithLabelValues("prod", "NotDue"), 2},
		{"Failed untouched", m.m.rotations.WithLabelValues("prod", "Failed"), 0},
		{"unknown result bounded to Other", m.m.rotations.WithLabelValues("prod", "Other"), 1},
		{"expiry", m.m.expiry, float64(expiry.Unix()) + 0.5},
		{"last success = now at Rotated", m.m.lastSuccess, float64(t0.Unix())},
	}
	for _, c := range checks {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(m.m.rotations); n != len(results)+1 {
		t.Errorf("rotations_total has %d series, want %d (%d pre-initialised + Other)", n, len(results)+1, len(results))
	}

	// Histogram: count and sum per (step, target).
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	h := histograms(mfs, NameStepDuration)
	if got := h["prod/Confirm/entra-prod"]; got == nil || got.GetSampleCount() != 2 || got.GetSampleSum() != 42*60+2 {
		t.Errorf("Confirm/entra-prod histogram = %v, want 2 samples summing 2522", got)
	}
	if got := h["prod/CreateToken/"]; got == nil || got.GetSampleCount() != 1 {
		t.Errorf("CreateToken histogram = %v", got)
	}
	if got := h["prod/Confirm/entra-prod"]; got != nil {
		b := got.GetBucket()
		if len(b) != len(StepBuckets) || b[len(b)-1].GetUpperBound() != 86400 {
			t.Errorf("buckets = %v", b)
		}
	}

	// Zero times remove the gauges; an explicit seed sets last success.
	m.LiveTokenExpiry(time.Time{})
	m.LastSuccess(time.Time{})
	if n, _ := testutil.GatherAndCount(reg, NameTokenExpiry, NameLastSuccess); n != 0 {
		t.Errorf("zero times left %d series", n)
	}
	m.LastSuccess(t0.Add(-time.Hour))
	if got := testutil.ToFloat64(m.m.lastSuccess); got != float64(t0.Add(-time.Hour).Unix()) {
		t.Errorf("seeded last success = %v", got)
	}
}

func histograms(mfs []*dto.MetricFamily, name string) map[string]*dto.Histogram {
	out := map[string]*dto.Histogram{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, mm := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range mm.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			out[l[LabelInstance]+"/"+l["step"]+"/"+l["target"]] = mm.GetHistogram()
		}
	}
	return out
}

func TestHandler(t *testing.T) {
	m, reg := newTest(t)
	m.RotationDone(rotator.ReasonFailed)
	srv := httptest.NewServer(Handler(reg))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `scim_rotator_rotations_total{instance_name="prod",result="Failed"} 1`) {
		t.Errorf("GET /metrics = %d\n%s", resp.StatusCode, body)
	}
}

// pushgateway is a fake Pushgateway recording what it was sent.
type pushgateway struct {
	mu       sync.Mutex
	status   int
	method   string
	path     string
	auth     string
	families map[string]*dto.MetricFamily
}

func (p *pushgateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.method, p.path, p.auth = r.Method, r.URL.EscapedPath(), r.Header.Get("Authorization")
	p.families = map[string]*dto.MetricFamily{}
	dec := expfmt.NewDecoder(r.Body, expfmt.ResponseFormat(r.Header))
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err != nil {
			if !errors.Is(err, io.EOF) {
				http.Error(w, "bad body: "+err.Error(), http.StatusBadRequest)
				return
			}
			break
		}
		p.families[mf.GetName()] = &mf
	}
	if p.status != 0 {
		http.Error(w, "pushgateway says no", p.status)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func TestPush(t *testing.T) {
	m, reg := newTest(t)
	m.RotationDone(rotator.ReasonRotated)
	m.LiveTokenExpiry(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
	m.StepDone("Push", "okta-prod", time.Second)

	pg := &pushgateway{}
	srv := httptest.NewServer(pg)
	defer srv.Close()

	if err := Push(t.Context(), Pushgateway{URL: srv.URL + "/"}, "scim-rotator", "prod", reg); err != nil {
		t.Fatalf("Push: %v", err)
	}
	if pg.method != http.MethodPut || pg.path != "/metrics/job/scim-rotator/instance_name/prod" {
		t.Errorf("request = %s %s, want PUT /metrics/job/scim-rotator/instance_name/prod", pg.method, pg.path)
	}
	if pg.auth != "" {
		t.Errorf("unexpected Authorization %q", pg.auth)
	}
	rot := pg.families[NameRotations]
	if rot == nil {
		t.Fatalf("pushed families %v lack %s", keys(pg.families), NameRotations)
	}
	var rotated float64 = -1
	for _, mm := range rot.GetMetric() {
		if len(mm.GetLabel()) != 1 {
			t.Errorf("pushed labels %v: want result only (the grouping key carries instance_name)", mm.GetLabel())
		}
		if mm.GetLabel()[0].GetValue() == "Rotated" {
			rotated = mm.GetCounter().GetValue()
		}
	}
	if rotated != 1 {
		t.Errorf("pushed Rotated = %v, want 1", rotated)
	}
	for _, name := range []string{NameTokenExpiry, NameLastSuccess, NameInProgress, NameStepDuration} {
		if pg.families[name] == nil {
			t.Errorf("pushed families lack %s", name)
		}
	}
	if got := pg.families[NameTokenExpiry].GetMetric()[0].GetGauge().GetValue(); got != float64(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC).Unix()) {
		t.Errorf("pushed expiry = %v", got)
	}
	// The build's series goes with every instance's push, as it is.
	if got := labelsOf(pg.families[NameBuildInfo]); len(got) != 1 || got[0] != `goversion="go1.26.8",revision="abcdef1234567890abcdef1234567890abcdef12",version="v1.2.3" 1` {
		t.Errorf("pushed %s = %q", NameBuildInfo, got)
	}
}

// labelsOf is each gauge of mf as its labels and value.
func labelsOf(mf *dto.MetricFamily) []string {
	var out []string
	for _, m := range mf.GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetName()+"="+strconv.Quote(l.GetValue()))
		}
		out = append(out, strings.Join(ls, ",")+" "+strconv.FormatFloat(m.GetGauge().GetValue(), 'g', -1, 64))
	}
	return out
}

// New says which build is running: the version, revision and Go it is
// given (cmd gives the running binary's: its e2e tests check them).
func TestBuildInfo(t *testing.T) {
	reg := prometheus.NewRegistry()
	b := Build{Version: "v9.9.9", Revision: "0123456789ab", GoVersion: runtime.Version()}
	New(reg, b)
	want := fmt.Sprintf(`
# HELP scim_rotator_build_info Always 1; its labels say which build is running: version (release, module or devel), VCS revision, Go version.
# TYPE scim_rotator_build_info gauge
scim_rotator_build_info{goversion=%q,revision=%q,version=%q} 1
`, runtime.Version(), b.Revision, b.Version)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), NameBuildInfo); err != nil {
		t.Error(err)
	}
}

// Each instance has its own series, and its push carries its own only.
func TestInstances(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newMetrics(reg, func() time.Time { return t0 }, testBuild)
	prod, staging := m.ForInstance("prod"), m.ForInstance("staging")
	prod.RotationDone(rotator.ReasonRotated)
	staging.RotationDone(rotator.ReasonFailed)
	staging.InProgress(true)
	staging.LiveTokenExpiry(t0)
	prod.LiveTokenExpiry(t0)
	prod.LiveTokenExpiry(time.Time{}) // drops prod's series only
	want := `
# HELP scim_rotator_rotation_in_progress 1 while a rotation is in progress (including one waiting for a hand-off), else 0.
# TYPE scim_rotator_rotation_in_progress gauge
scim_rotator_rotation_in_progress{instance_name="prod"} 0
scim_rotator_rotation_in_progress{instance_name="staging"} 1
# HELP scim_rotator_token_expiry_timestamp_seconds Unix time at which the live IAM Identity Center SCIM access token expires.
# TYPE scim_rotator_token_expiry_timestamp_seconds gauge
scim_rotator_token_expiry_timestamp_seconds{instance_name="staging"} 1.7487792e+09
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), NameInProgress, NameTokenExpiry); err != nil {
		t.Error(err)
	}
	for inst, want := range map[string]float64{"prod/Rotated": 1, "prod/Failed": 0, "staging/Rotated": 0, "staging/Failed": 1} {
		name, result, _ := strings.Cut(inst, "/")
		if got := testutil.ToFloat64(m.rotations.WithLabelValues(name, result)); got != want {
			t.Errorf("rotations_total{%s} = %v, want %v", inst, got, want)
		}
	}

	pg := &pushgateway{}
	srv := httptest.NewServer(pg)
	defer srv.Close()
	if err := Push(t.Context(), Pushgateway{URL: srv.URL}, "scim-rotator", "staging", reg); err != nil {
		t.Fatalf("Push: %v", err)
	}
	if pg.path != "/metrics/job/scim-rotator/instance_name/staging" {
		t.Errorf("pushed to %s", pg.path)
	}
	var failed, n float64
	for _, mm := range pg.families[NameRotations].GetMetric() {
		n++
		if mm.GetLabel()[0].GetValue() == "Failed" {
			failed = mm.GetCounter().GetValue()
		}
	}
	if failed != 1 || n != float64(len(results)) || pg.families[NameLastSuccess] != nil {
		t.Errorf("pushed for staging: Failed %v, %v results, last success %v: want staging's own only", failed, n, pg.families[NameLastSuccess])
	}
}

func keys(m map[string]*dto.MetricFamily) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestPushCredentialsNeverInErrors(t *testing.T) {
	const pass = "PGWPASS-LEAKCANARY-77"
	_, reg := newTest(t)
	pg := &pushgateway{}
	srv := httptest.NewServer(pg)
	defer srv.Close()
	creds := func(u string) Pushgateway {
		return Pushgateway{URL: u, Username: "rotator", Password: rotator.NewSecret(pass)}
	}

	// Credentials go in the Authorization header.
	if err := Push(t.Context(), creds(srv.URL), "scim-rotator", "prod", reg); err != nil {
		t.Fatalf("Push: %v", err)
	}
	if pg.auth != "Basic cm90YXRvcjpQR1dQQVNTLUxFQUtDQU5BUlktNzc=" { // rotator:PGWPASS-LEAKCANARY-77
		t.Errorf("Authorization = %q", pg.auth)
	}

	pg.status = http.StatusInternalServerError
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	redirect := safehttptest.New(t, http.StatusTemporaryRedirect, false)

	tests := []struct {
		name     string
		ctx      context.Context
		pg       Pushgateway
		job      string
		contains string
	}{
		{name: "5xx", ctx: t.Context(), pg: creds(srv.URL + "/some/prefix"), job: "scim-rotator", contains: "unexpected status code 500"},
		{name: "connection refused", ctx: t.Context(), pg: creds(deadURL), job: "scim-rotator", contains: "[pushgateway]"},
		{name: "cancelled", ctx: cancelled, pg: creds(srv.URL), job: "scim-rotator", contains: "context canceled"},
		{name: "empty job", ctx: t.Context(), pg: creds(srv.URL), job: "", contains: "job name is empty"},
		{name: "query", ctx: t.Context(), pg: creds(srv.URL + "/?token=" + pass), job: "j", contains: "must not have a query"},
		{name: "bad scheme", ctx: t.Context(), pg: creds("ftp://h"), job: "j", contains: "not an http(s) URL"},
		{name: "user info in the URL", ctx: t.Context(), pg: Pushgateway{URL: strings.Replace(srv.URL, "http://", "http://rotator:"+pass+"@", 1)}, job: "j", contains: "must not contain user info"},
		{name: "basic auth over plain http", ctx: t.Context(), pg: creds("http://pushgateway.example:9091"), job: "j", contains: "with basic auth the pushgateway URL must use https"},
		{name: "redirect not followed", ctx: t.Context(), pg: creds(redirect.URL), job: "j", contains: "unexpected status code 307"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Push(tt.ctx, tt.pg, tt.job, "prod", reg)
			if err == nil || !strings.Contains(err.Error(), tt.contains) {
				t.Fatalf("Push error = %v, want it to contain %q", err, tt.contains)
			}
			// The host:port may appear (a dial error names it); the URL and
			// the credentials may not.
			for _, bad := range []string{pass, "//rotator", srv.URL, deadURL, redirect.URL} {
				if strings.Contains(err.Error(), bad) {
					t.Errorf("error leaks %q: %v", bad, err)
				}
			}
		})
	}
	if redirect.Followed() != 0 {
		t.Error("a redirect was followed with the credentials")
	}
}

func TestTokenLastUsed(t *testing.T) {
	m, reg := newTest(t)
	if n, _ := testutil.GatherAndCount(reg, NameTokenLastUsed); n != 0 {
		t.Fatalf("last used exported before any value: %d series", n)
	}
	live := time.Date(2026, 1, 2, 3, 4, 5, 500_000_000, time.UTC)
	m.TokenLastUsed("live", live)
	m.TokenLastUsed("old", live.Add(-time.Hour))
	m.TokenLastUsed("tok-123", live) // not a role: never a label
	want := `
# HELP scim_rotator_token_last_used_timestamp_seconds Unix time of the last successful SCIM call (not scim-rotator's own) made with the live, pending or old token, as CloudTrail recorded it.
# TYPE scim_rotator_token_last_used_timestamp_seconds gauge
scim_rotator_token_last_used_timestamp_seconds{instance_name="prod",role="live"} 1.7673230455e+09
scim_rotator_token_last_used_timestamp_seconds{instance_name="prod",role="old"} 1.7673194455e+09
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), NameTokenLastUsed); err != nil {
		t.Error(err)
	}
	m.TokenLastUsed("old", time.Time{})
	if n, _ := testutil.GatherAndCount(reg, NameTokenLastUsed); n != 1 {
		t.Errorf("zero time for old left %d series, want 1 (live)", n)
	}
	if got := testutil.ToFloat64(m.m.lastUsed.WithLabelValues("prod", "live")); got != float64(live.Unix())+0.5 {
		t.Errorf("live = %v", got)
	}
}

// The last run is one series per instance, labelled with its result: a run
// that ends the same way keeps the series (an alert's for: spans it), one that
// ends otherwise moves it.
func TestLastRun(t *testing.T) {
	reg := prometheus.NewRegistry()
	now := t0
	m := newMetrics(reg, func() time.Time { return now }, testBuild)
	prod, staging := m.ForInstance("prod"), m.ForInstance("staging")
	prod.RotationDone(rotator.ReasonFailed)
	now = now.Add(6 * time.Hour)
	prod.RotationDone(rotator.ReasonFailed)
	staging.RotationDone(rotator.ReasonNotDue)
	want := `
# HELP scim_rotator_last_run_timestamp_seconds Unix time at which the last run ended; result is its outcome (one series per instance).
# TYPE scim_rotator_last_run_timestamp_seconds gauge
scim_rotator_last_run_timestamp_seconds{instance_name="prod",result="Failed"} 1.7488008e+09
scim_rotator_last_run_timestamp_seconds{instance_name="staging",result="NotDue"} 1.7488008e+09
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), NameLastRun); err != nil {
		t.Error(err)
	}
	now = now.Add(6 * time.Hour)
	prod.RotationDone(rotator.ReasonOldTokenInUse)
	staging.RotationDone("SomethingNew")
	want = `
# HELP scim_rotator_last_run_timestamp_seconds Unix time at which the last run ended; result is its outcome (one series per instance).
# TYPE scim_rotator_last_run_timestamp_seconds gauge
scim_rotator_last_run_timestamp_seconds{instance_name="prod",result="OldTokenInUse"} 1.7488224e+09
scim_rotator_last_run_timestamp_seconds{instance_name="staging",result="Other"} 1.7488224e+09
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), NameLastRun); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(m.rotations.WithLabelValues("prod", "OldTokenInUse")); got != 1 {
		t.Errorf("rotations_total OldTokenInUse = %v, want 1 (a known result, not Other)", got)
	}
}

// Each comparison with AWS Health sets every kind, 0 when none disagrees.
func TestExpiryDisagreements(t *testing.T) {
	m, reg := newTest(t)
	m.ExpiryDisagreements([]rotator.Disagreement{{Kind: rotator.DateMismatch}, {Kind: rotator.DateMismatch}, {Kind: rotator.UnknownToken}})
	want := `
# HELP scim_rotator_expiry_disagreements Disagreements between AWS Health's SCIM token expiry notices and what the rotator knows, by kind, at the last comparison.
# TYPE scim_rotator_expiry_disagreements gauge
scim_rotator_expiry_disagreements{instance_name="prod",kind="DateMismatch"} 2
scim_rotator_expiry_disagreements{instance_name="prod",kind="DueNotRotating"} 0
scim_rotator_expiry_disagreements{instance_name="prod",kind="UnknownToken"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), NameDisagreements); err != nil {
		t.Error(err)
	}
	m.ExpiryDisagreements(nil)
	for _, k := range []string{"DateMismatch", "DueNotRotating", "UnknownToken"} {
		if got := testutil.ToFloat64(m.m.disagreements.WithLabelValues("prod", k)); got != 0 {
			t.Errorf("%s = %v after an agreeing comparison, want 0", k, got)
		}
	}
}
