package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/push"

	"github.com/scim-rotator/scim-rotator/adapters/internal/safehttp"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

var _ rotator.Observer = (*Metrics)(nil)

// Metric names, part of the chart's and users' alerting contract.
const (
	NameTokenExpiry   = "scim_rotator_token_expiry_timestamp_seconds"
	NameRotations     = "scim_rotator_rotations_total"
	NameLastSuccess   = "scim_rotator_last_success_timestamp_seconds"
	NameInProgress    = "scim_rotator_rotation_in_progress"
	NameStepDuration  = "scim_rotator_step_duration_seconds"
	NameTokenLastUsed = "scim_rotator_token_last_used_timestamp_seconds"
)

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
}

// known bounds the result label: any other value is counted as "Other".
var known = map[rotator.Reason]bool{
	rotator.ReasonRotated: true, rotator.ReasonNotDue: true, rotator.ReasonRolledBack: true,
	rotator.ReasonFailed: true, rotator.ReasonBlocked: true, rotator.ReasonAwaitingHandoff: true,
	rotator.ReasonAwaitingToken: true, rotator.ReasonExpiringSoon: true, rotator.ReasonConfirmTimeout: true,
	rotator.ReasonDryRun: true,
}

// Metrics is the Prometheus Observer. Its labels are results, step names and
// target names: never a token id or value.
type Metrics struct {
	// expiry and lastSuccess are label-less vectors so that they are absent,
	// rather than a misleading 0 (1970), until a value is known.
	expiry       *prometheus.GaugeVec
	lastSuccess  *prometheus.GaugeVec
	rotations    *prometheus.CounterVec
	inProgress   prometheus.Gauge
	stepDuration *prometheus.HistogramVec
	// lastUsed has a series per token role only while a use is known.
	lastUsed *prometheus.GaugeVec
	now      func() time.Time
}

// New creates the metrics and registers them with reg (nil: not registered).
// Call it once per registry: registering twice panics.
func New(reg prometheus.Registerer) *Metrics { return newMetrics(reg, time.Now) }

func newMetrics(reg prometheus.Registerer, now func() time.Time) *Metrics {
	m := &Metrics{
		expiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: NameTokenExpiry,
			Help: "Unix time at which the live IAM Identity Center SCIM access token expires.",
		}, nil),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: NameLastSuccess,
			Help: "Unix time of the last rotation that ended Rotated.",
		}, nil),
		rotations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameRotations,
			Help: "Rotation runs by result (Rotated, NotDue, RolledBack, Failed, Blocked, AwaitingHandoff, ...).",
		}, []string{"result"}),
		inProgress: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: NameInProgress,
			Help: "1 while a rotation is in progress (including one waiting for a hand-off), else 0.",
		}),
		stepDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    NameStepDuration,
			Help:    "Duration of rotation steps; target is empty for steps not tied to a target.",
			Buckets: StepBuckets,
		}, []string{"step", "target"}),
		lastUsed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: NameTokenLastUsed,
			Help: "Unix time of the last successful SCIM call (not scim-rotator's own) made with the live, pending or old token, as CloudTrail recorded it.",
		}, []string{"role"}),
		now: now,
	}
	for _, r := range results {
		m.rotations.WithLabelValues(string(r))
	}
	if reg != nil {
		reg.MustRegister(m.expiry, m.lastSuccess, m.rotations, m.inProgress, m.stepDuration, m.lastUsed)
	}
	return m
}

// StepDone observes how long a step took for a target ("" if none).
func (m *Metrics) StepDone(step, target string, d time.Duration) {
	m.stepDuration.WithLabelValues(step, target).Observe(d.Seconds())
}

// RotationDone counts a run's result; Rotated also sets the last success to now.
func (m *Metrics) RotationDone(outcome rotator.Reason) {
	result := string(outcome)
	if !known[outcome] {
		result = "Other"
	}
	m.rotations.WithLabelValues(result).Inc()
	if outcome == rotator.ReasonRotated {
		m.LastSuccess(m.now())
	}
}

// LiveTokenExpiry sets the live token's expiry; the zero time removes the
// metric (no live token known).
func (m *Metrics) LiveTokenExpiry(t time.Time) { setOrDrop(m.expiry, t) }

// LastSuccess sets the last successful rotation's time, for a one-shot run to
// seed from the store (e.g. when the current token was promoted): a Pushgateway
// push replaces the whole group, so a NotDue run would otherwise erase it.
// The zero time removes the metric.
func (m *Metrics) LastSuccess(t time.Time) { setOrDrop(m.lastSuccess, t) }

// TokenLastUsed sets the last use of the token in role (live, pending or
// old; any other role is ignored, to bound the label); the zero time removes
// that role's series (no such token, or no use known).
func (m *Metrics) TokenLastUsed(role string, t time.Time) {
	if !tokenRoles[role] {
		return
	}
	if t.IsZero() {
		m.lastUsed.DeleteLabelValues(role)
		return
	}
	m.lastUsed.WithLabelValues(role).Set(float64(t.UnixNano()) / 1e9)
}

// InProgress sets the in-progress gauge to 1 or 0.
func (m *Metrics) InProgress(on bool) {
	if on {
		m.inProgress.Set(1)
	} else {
		m.inProgress.Set(0)
	}
}

func setOrDrop(v *prometheus.GaugeVec, t time.Time) {
	if t.IsZero() {
		v.Reset()
		return
	}
	v.WithLabelValues().Set(float64(t.UnixNano()) / 1e9)
}

// Handler serves g's metrics in the Prometheus exposition formats for /metrics.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// pushTimeout bounds a push.
const pushTimeout = 30 * time.Second

// Pushgateway is where Push sends metrics: a URL without user info and,
// optionally, basic-auth credentials (config: metrics.pushgatewayUsername
// and ...PasswordEnv / ...PasswordFile).
type Pushgateway struct {
	URL      string
	Username string
	Password rotator.Secret
}

// Push sends g's metrics to the Pushgateway pg under the grouping key
// job=<job> (PUT /metrics/job/<job>), replacing what the group held. The
// credentials go in an Authorization header, only over https (or http to a
// loopback host), never after a redirect; neither they nor the URL appear in
// an error.
func Push(ctx context.Context, pg Pushgateway, job string, g prometheus.Gatherer) error {
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
	p := push.New(base, job).Gatherer(g).Client(safehttp.Client(nil, pushTimeout))
	if auth {
		p = p.BasicAuth(pg.Username, pg.Password.Reveal())
	}
	if err := p.PushContext(ctx); err != nil {
		return fmt.Errorf("push metrics to the pushgateway: %w", sanitize(err, pg.URL, strings.TrimSuffix(base, "/"), pg.Password))
	}
	return nil
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
