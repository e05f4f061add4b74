package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/push"
	dto "github.com/prometheus/client_model/go"

	"github.com/scim-rotator/scim-rotator/adapters/internal/safehttp"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

var _ rotator.Observer = (*Observer)(nil)

// Metric names, part of the chart's and users' alerting contract.
const (
	NameTokenExpiry   = "scim_rotator_token_expiry_timestamp_seconds"
	NameRotations     = "scim_rotator_rotations_total"
	NameLastSuccess   = "scim_rotator_last_success_timestamp_seconds"
	NameInProgress    = "scim_rotator_rotation_in_progress"
	NameStepDuration  = "scim_rotator_step_duration_seconds"
	NameTokenLastUsed = "scim_rotator_token_last_used_timestamp_seconds"
	NameLastRun       = "scim_rotator_last_run_timestamp_seconds"
	NameDisagreements = "scim_rotator_expiry_disagreements"
	NameBuildInfo     = "scim_rotator_build_info"
)

// LabelInstance is the label every series but NameBuildInfo carries: the
// configured instance's name (config.DefaultInstance for the single-instance
// file), so its values are bounded by the config.
const LabelInstance = "instance_name"

// tokenRoles bound the role label of NameTokenLastUsed.
var tokenRoles = map[string]bool{"live": true, "pending": true, "old": true}

// StepBuckets span a quick API call to a provisioning cycle that takes
// hours to prove a sync (Entra runs one every 40 minutes; Confirm may wait
// several).
var StepBuckets = []float64{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400}

// results are the rotations_total results exported as 0 from the start, so
// that rate() and increase() see the first one.
var results = []rotator.Reason{
	rotator.ReasonRotated, rotator.ReasonNotDue, rotator.ReasonRolledBack, rotator.ReasonFailed,
	rotator.ReasonBlocked, rotator.ReasonAwaitingHandoff, rotator.ReasonAwaitingToken, rotator.ReasonConfirmTimeout,
	rotator.ReasonOldTokenInUse, rotator.ReasonRevokedTokenUsed,
}

// known bounds the result label: any other value is counted as "Other".
var known = map[rotator.Reason]bool{
	rotator.ReasonRotated: true, rotator.ReasonNotDue: true, rotator.ReasonRolledBack: true,
	rotator.ReasonFailed: true, rotator.ReasonBlocked: true, rotator.ReasonAwaitingHandoff: true,
	rotator.ReasonAwaitingToken: true, rotator.ReasonExpiringSoon: true, rotator.ReasonConfirmTimeout: true,
	rotator.ReasonDryRun: true, rotator.ReasonOldTokenInUse: true, rotator.ReasonInterrupted: true,
	rotator.ReasonBusy: true, rotator.ReasonRevokedTokenUsed: true, rotator.ReasonExpiryDisagreement: true,
	rotator.ReasonWaiting: true,
}

// disagreementKinds bound the kind label of NameDisagreements; each is
// exported (0 when none) once a comparison has run.
var disagreementKinds = []rotator.DisagreementKind{rotator.UnknownToken, rotator.DateMismatch, rotator.DueNotRotating}

// Metrics is the Prometheus metrics of every instance; ForInstance gives an
// instance its Observer. Its labels are instance names, results, step names,
// target names and token roles: never a token id or value.
type Metrics struct {
	// expiry and lastSuccess have an instance's series only once a value is
	// known, rather than a misleading 0 (1970).
	expiry       *prometheus.GaugeVec
	lastSuccess  *prometheus.GaugeVec
	rotations    *prometheus.CounterVec
	inProgress   *prometheus.GaugeVec
	stepDuration *prometheus.HistogramVec
	// lastUsed has a series per instance and token role only while a use is
	// known.
	lastUsed *prometheus.GaugeVec
	// lastRun has one series per instance: the last run's end, labelled
	// with its result, so that an alert's `for` spans every run that ended
	// the same way and a one-shot push carries it like the daemon's scrape.
	lastRun       *prometheus.GaugeVec
	disagreements *prometheus.GaugeVec
	now           func() time.Time
}

// Build is what NameBuildInfo's labels say: the running build's version,
// VCS revision and Go version (cmd passes adapters/buildinfo's).
type Build struct{ Version, Revision, GoVersion string }

// New creates the metrics and registers them with reg (nil: not registered),
// with build's NameBuildInfo. Call it once per registry: registering twice
// panics.
func New(reg prometheus.Registerer, build Build) *Metrics { return newMetrics(reg, time.Now, build) }

func newMetrics(reg prometheus.Registerer, now func() time.Time, build Build) *Metrics {
	m := &Metrics{
		expiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: NameTokenExpiry,
			Help: "Unix time at which the live IAM Identity Center SCIM access token expires.",
		}, []string{LabelInstance}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: NameLastSuccess,
			Help: "Unix time of the last rotation that ended Rotated.",
		}, []string{LabelInstance}),
		rotations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameRotations,
			Help: "Rotation runs by result (Rotated, NotDue, RolledBack, Failed, Blocked, AwaitingHandoff, ...).",
		}, []string{LabelInstance, "result"}),
		inProgress: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: NameInProgress,
			Help: "1 while a rotation is in progress (including one waiting for a hand-off), else 0.",
		}, []string{LabelInstance}),
		stepDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    NameStepDuration,
			Help:    "Duration of rotation steps; target is empty for steps not tied to a target.",
			Buckets: StepBuckets,
		}, []string{LabelInstance, "step", "target"}),
		lastUsed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: NameTokenLastUsed,
			Help: "Unix time of the last successful SCIM call (not scim-rotator's own) made with the live, pending or old token, as CloudTrail recorded it.",
		}, []string{LabelInstance, "role"}),
		lastRun: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: NameLastRun,
			Help: "Unix time at which the last run ended; result is its outcome (one series per instance).",
		}, []string{LabelInstance, "result"}),
		disagreements: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: NameDisagreements,
			Help: "Disagreements between AWS Health's SCIM token expiry notices and what the rotator knows, by kind, at the last comparison.",
		}, []string{LabelInstance, "kind"}),
		now: now,
	}
	// The build's one series, without instance_name: the same for every
	// instance, it is in each instance's push as on /metrics.
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        NameBuildInfo,
		Help:        "Always 1; its labels say which build is running: version (release, module or devel), VCS revision, Go version.",
		ConstLabels: prometheus.Labels{"version": build.Version, "revision": build.Revision, "goversion": build.GoVersion},
	})
	buildInfo.Set(1)
	if reg != nil {
		reg.MustRegister(m.expiry, m.lastSuccess, m.rotations, m.inProgress, m.stepDuration, m.lastUsed, m.lastRun, m.disagreements, buildInfo)
	}
	return m
}

// ForInstance is the Observer of the instance name (a configured name: the
// label's values must stay bounded). Its results and in-progress gauge are
// exported as 0 from here on.
func (m *Metrics) ForInstance(name string) *Observer {
	for _, r := range results {
		m.rotations.WithLabelValues(name, string(r))
	}
	m.inProgress.WithLabelValues(name)
	return &Observer{m: m, name: name}
}

// Observer is one instance's rotator.Observer.
type Observer struct {
	m    *Metrics
	name string

	mu         sync.Mutex
	lastResult string // the result label of the instance's lastRun series
}

// StepDone observes how long a step took for a target ("" if none).
func (o *Observer) StepDone(step, target string, d time.Duration) {
	o.m.stepDuration.WithLabelValues(o.name, step, target).Observe(d.Seconds())
}

// RotationDone counts a run's result, sets the last run to now with that
// result; Rotated also sets the last success to now.
func (o *Observer) RotationDone(outcome rotator.Reason) {
	result := string(outcome)
	if !known[outcome] {
		result = "Other"
	}
	now := o.m.now()
	o.m.rotations.WithLabelValues(o.name, result).Inc()
	o.setLastRun(result, now)
	if outcome == rotator.ReasonRotated {
		o.LastSuccess(now)
	}
}

// setLastRun moves the instance's one lastRun series to result. The new
// series is set before the old one goes, so that a scrape never finds none.
func (o *Observer) setLastRun(result string, t time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.m.lastRun.WithLabelValues(o.name, result).Set(float64(t.UnixNano()) / 1e9)
	if o.lastResult != "" && o.lastResult != result {
		o.m.lastRun.DeleteLabelValues(o.name, o.lastResult)
	}
	o.lastResult = result
}

// ExpiryDisagreements sets, per kind, how many of AWS Health's expiry
// notices disagree with what the rotator knows (ds: the last comparison's).
func (o *Observer) ExpiryDisagreements(ds []rotator.Disagreement) {
	counts := map[rotator.DisagreementKind]int{}
	for _, d := range ds {
		counts[d.Kind]++
	}
	for _, k := range disagreementKinds {
		o.m.disagreements.WithLabelValues(o.name, string(k)).Set(float64(counts[k]))
	}
}

// LiveTokenExpiry sets the live token's expiry; the zero time removes the
// metric (no live token known).
func (o *Observer) LiveTokenExpiry(t time.Time) { o.setOrDrop(o.m.expiry, t) }

// LastSuccess sets the last successful rotation's time, for a one-shot run to
// seed from the store (e.g. when the current token was promoted): a Pushgateway
// push replaces the whole group, so a NotDue run would otherwise erase it.
// The zero time removes the metric.
func (o *Observer) LastSuccess(t time.Time) { o.setOrDrop(o.m.lastSuccess, t) }

// TokenLastUsed sets the last use of the token in role (live, pending or
// old; any other role is ignored, to bound the label); the zero time removes
// that role's series (no such token, or no use known).
func (o *Observer) TokenLastUsed(role string, t time.Time) {
	if !tokenRoles[role] {
		return
	}
	if t.IsZero() {
		o.m.lastUsed.DeleteLabelValues(o.name, role)
		return
	}
	o.m.lastUsed.WithLabelValues(o.name, role).Set(float64(t.UnixNano()) / 1e9)
}

// InProgress sets the in-progress gauge to 1 or 0.
func (o *Observer) InProgress(on bool) {
	v := 0.0
	if on {
		v = 1
	}
	o.m.inProgress.WithLabelValues(o.name).Set(v)
}

func (o *Observer) setOrDrop(v *prometheus.GaugeVec, t time.Time) {
	if t.IsZero() {
		v.DeleteLabelValues(o.name)
		return
	}
	v.WithLabelValues(o.name).Set(float64(t.UnixNano()) / 1e9)
}

// Handler serves g's metrics in the Prometheus exposition formats for /metrics.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// pushTimeout bounds a push (a variable so that the hang test can shorten it).
var pushTimeout = 30 * time.Second

// Pushgateway is where Push sends metrics: a URL without user info and,
// optionally, basic-auth credentials (config: metrics.pushgatewayUsername
// and ...PasswordEnv / ...PasswordFile).
type Pushgateway struct {
	URL      string
	Username string
	Password rotator.Secret
}

// Push sends instance's metrics of g to the Pushgateway pg under the
// grouping key job=<job>, instance_name=<instance> (PUT
// /metrics/job/<job>/instance_name/<instance>), replacing what that group
// held: one instance's run never erases another's. The pushed series leave
// the instance_name label to the grouping key (the Pushgateway adds it back
// to each; the client refuses a series that repeats a grouping label). The
// credentials go in an Authorization header, only over https (or http to a
// loopback host), never after a redirect; neither they nor the URL appear in
// an error.
func Push(ctx context.Context, pg Pushgateway, job, instance string, g prometheus.Gatherer) error {
	raw := pg.URL
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw // as push.New does
	}
	u, err := url.Parse(raw)
	switch {
	case err == nil && u.User != nil:
		return errors.New("push metrics: the pushgateway URL must not contain user info: set metrics.pushgatewayUsername and pushgatewayPasswordEnv or pushgatewayPasswordFile")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return errors.New("push metrics: the pushgateway URL is not an http(s) URL")
	case u.RawQuery != "" || u.Fragment != "":
		return errors.New("push metrics: the pushgateway URL must not have a query or fragment")
	}
	auth := pg.Username != "" || !pg.Password.IsZero()
	if p := config.URLProblem(raw); auth && p != "" {
		return errors.New("push metrics: with basic auth the pushgateway URL " + p)
	}
	base := u.String()
	p := push.New(base, job).Grouping(LabelInstance, instance).Gatherer(instanceOnly{g, instance}).Client(safehttp.Client(nil, pushTimeout))
	if auth {
		p = p.BasicAuth(pg.Username, pg.Password.Reveal())
	}
	if err := p.PushContext(ctx); err != nil {
		return fmt.Errorf("push metrics to the pushgateway: %w", sanitize(err, pg.URL, strings.TrimSuffix(base, "/"), pg.Password))
	}
	return nil
}

// instanceOnly gathers the series of one instance, without their
// instance_name label (series without one are kept as they are).
type instanceOnly struct {
	g    prometheus.Gatherer
	name string
}

func (o instanceOnly) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := o.g.Gather()
	var out []*dto.MetricFamily
	for _, mf := range mfs {
		var kept []*dto.Metric
		for _, m := range mf.Metric {
			// A gathered metric shares its label slice with the collector:
			// build a new one, never edit it in place.
			var labels []*dto.LabelPair
			other := false
			for _, l := range m.Label {
				if l.GetName() == LabelInstance {
					other = l.GetValue() != o.name
					continue
				}
				labels = append(labels, l)
			}
			if !other {
				kept = append(kept, &dto.Metric{Label: labels, Gauge: m.Gauge, Counter: m.Counter, Summary: m.Summary,
					Untyped: m.Untyped, Histogram: m.Histogram, TimestampMs: m.TimestampMs})
			}
		}
		if len(kept) > 0 {
			out = append(out, &dto.MetricFamily{Name: mf.Name, Help: mf.Help, Type: mf.Type, Unit: mf.Unit, Metric: kept})
		}
	}
	return out, err
}

// sanitize removes the pushgateway URL and credentials from err: push quotes
// the URL in status errors and net/http in transport errors.
func sanitize(err error, raw, base string, password rotator.Secret) error {
	pairs := []string{raw, "[pushgateway]", base, "[pushgateway]"}
	if !password.IsZero() {
		pairs = append(pairs, password.Reveal(), "[redacted]")
	}
	r := strings.NewReplacer(pairs...)
	var ue *url.Error
	if errors.As(err, &ue) {
		return &redactedError{msg: r.Replace(ue.Op + " [pushgateway]: " + ue.Err.Error()), err: ue.Err}
	}
	if msg := err.Error(); r.Replace(msg) != msg {
		return &redactedError{msg: r.Replace(msg)}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
