package main

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/metrics"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// pushMetrics sets up metrics for a one-shot run and returns the function
// that pushes them to the Pushgateway when metrics.pushgatewayUrl is set.
// Each instance is pushed as its own group (instance_name=<name>).
func (a *app) pushMetrics(ctx context.Context, u unit) func(context.Context) {
	name, cfg, rot := u.name, u.cfg, u.rot
	if cfg.Metrics.PushgatewayURL == "" {
		return func(context.Context) {}
	}
	pg := metrics.Pushgateway{URL: cfg.Metrics.PushgatewayURL, Username: cfg.Metrics.PushgatewayUsername}
	if cfg.Metrics.HasAuth() {
		pw, err := config.ReadSecretFrom(ctx, "metrics.pushgatewayPassword", cfg.Metrics.PushgatewayPassword(), u.secrets)
		if err != nil {
			// The run goes on: metrics never stop a rotation.
			a.log.Error("metrics will not be pushed", zap.Error(err))
			return func(context.Context) {}
		}
		pg.Password = rotator.NewSecret(pw)
	}
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, buildMetrics()).ForInstance(name)
	rot.Observer = m
	return func(ctx context.Context) {
		// A push replaces the whole group: carry the last success over from
		// the store, or a run that was not due would erase it.
		var seen *rotator.Observed
		if obs, err := rot.Observe(ctx); err == nil {
			seen = &obs
			if pr := obs.Store.Progress; pr != nil && pr.Outcome == rotator.ReasonRotated {
				m.LastSuccess(pr.UpdatedAt)
			}
		}
		// The daemon compares AWS Health's notices on every tick; a one-shot
		// run does it here, so that its pushed group carries the
		// disagreements (scim_rotator_expiry_disagreements) too.
		if _, err := rot.HealthDisagreements(ctx, seen); err != nil {
			a.log.Warn("expiry watch", zap.Error(err))
		}
		if err := metrics.Push(ctx, pg, "scim-rotator", name, reg); err != nil {
			a.log.Warn("push metrics", zap.Error(err))
		}
	}
}
