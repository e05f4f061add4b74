package rotator

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"
	"go.uber.org/zap"
)

// Daemon runs one instance's rotator on a cron schedule (`scim-rotator run`;
// a Fleet runs several): each tick does what `rotate` does (rotate if due,
// resume a rotation in progress), one pass at a time, and then watches the
// live token's expiry.
type Daemon struct {
	// Name is the instance's name, for /readyz (empty: the rotator's
	// Instance).
	Name    string
	Rotator *Rotator
	// Schedule is a cron spec parsed by Parser.
	Schedule string
	Parser   cron.Parser
	// TickTimeout bounds one tick (0: unbounded): its context ends then, and
	// Healthy turns false while a tick runs past it. See TickBound.
	TickTimeout time.Duration

	// running is set from the tick that starts a pass until the pass ends.
	running atomic.Bool
	ready   atomic.Bool
	mu      sync.Mutex
	// tickStart is when the running tick started (zero: none running), on
	// the rotator's clock.
	tickStart time.Time
	// alerted remembers when each alert of the expiry watches (a reason, a
	// Health disagreement) was last sent.
	alerted map[string]time.Time
}

// Ready reports whether the last tick could read the state of every system.
func (d *Daemon) Ready() bool { return d.ready.Load() }

// TickMargin is what a tick may take besides waiting for confirmations:
// issue, store, push, test, promote and delete are a few API calls each.
const TickMargin = 30 * time.Minute

// TickBound is the bound `run` gives a tick: each target may wait up to
// confirmTimeout for its sync to be confirmed (one after another), plus
// TickMargin. It is the chart's CronJob deadline for the same config. A tick
// cut off there resumes where it stopped on the next tick.
func TickBound(confirmTimeout time.Duration, targets int) time.Duration {
	return time.Duration(max(targets, 1))*confirmTimeout + TickMargin
}

// Healthy reports false while a tick has run past TickTimeout. Its context
// ended at the bound, so a tick still running is stuck in something that
// ignores its context (a call without a timeout): a restart is the cure.
func (d *Daemon) Healthy() bool {
	if d.TickTimeout <= 0 {
		return true
	}
	d.mu.Lock()
	start := d.tickStart
	d.mu.Unlock()
	return start.IsZero() || d.Rotator.Clock.Now().Sub(start) <= d.TickTimeout
}

// Run ticks now and then on the schedule until ctx ends: a fleet of one
// (see Fleet.Run).
func (d *Daemon) Run(ctx context.Context) error {
	f := &Fleet{Daemons: []*Daemon{d}, Schedule: d.Schedule, Parser: d.Parser, Parallelism: 1, Log: d.Rotator.Log}
	return f.Run(ctx)
}

// name is the daemon's instance name for humans (i: its place in a fleet).
func (d *Daemon) name(i int) string {
	switch {
	case d.Name != "":
		return d.Name
	case d.Rotator.Instance != "":
		return d.Rotator.Instance
	}
	return fmt.Sprintf("#%d", i+1)
}

// Tick is one pass: run the rotator within TickTimeout (wall-clock, like
// every deadline the SDKs keep), then the expiry watch (which may alert
// about a rotation the bound cut off).
func (d *Daemon) Tick(ctx context.Context) Result {
	d.mu.Lock()
	d.tickStart = d.Rotator.Clock.Now()
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.tickStart = time.Time{}
		d.mu.Unlock()
	}()
	runCtx := ctx
	if d.TickTimeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, d.TickTimeout)
		defer cancel()
	}
	res := d.Rotator.Run(runCtx, RunOptions{})
	d.ready.Store(!(res.FailedStep == "observe"))
	d.watchExpiry(ctx, res)
	d.watchHealth(ctx)
	return res
}

// watchExpiry alerts ExpiringSoon when the live token is inside the
// rotation window and the rotation cannot progress on its own (blocked,
// waiting for a human, or failing), at most once a day per reason.
func (d *Daemon) watchExpiry(ctx context.Context, res Result) {
	switch res.Outcome {
	case ReasonBlocked, ReasonAwaitingHandoff, ReasonAwaitingToken, ReasonFailed, ReasonRolledBack, ReasonInterrupted:
	default:
		return
	}
	live := res.Plan.Live
	r := d.Rotator
	now := r.Clock.Now()
	if live == nil || now.Before(res.Plan.DueAt) || r.Notifier == nil {
		return
	}
	if !d.due(string(res.Outcome), now) {
		return
	}
	days := DaysLeft(live.Expires, now)
	ev := r.event(res)
	ev.Outcome, ev.DaysLeft = ReasonExpiringSoon, days
	ev.Message = fmt.Sprintf("the live SCIM token %s expires in %d days (%s) and rotation is %s: %s",
		live.ID, days, live.Expires.UTC().Format("2006-01-02"), res.Outcome, res.Message)
	if err := r.notify(ctx, ev); err != nil {
		r.Log.Warn("expiry alert not sent", zap.Error(err))
	}
}

// due reports whether the alert named key may be sent now (at most once a
// day each) and, if so, records it as sent.
func (d *Daemon) due(key string, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.alerted == nil {
		d.alerted = map[string]time.Time{}
	}
	if last, seen := d.alerted[key]; seen && now.Sub(last) < 24*time.Hour {
		return false
	}
	d.alerted[key] = now
	return true
}

// watchHealth compares AWS Health's expiry notices with what the rotator
// knows (see HealthDisagreements) and alerts ExpiryDisagreement, at most once
// a day per disagreement. A failure to read Health or the tokens is logged
// only: check reports it.
func (d *Daemon) watchHealth(ctx context.Context) {
	r := d.Rotator
	if r.Health == nil || (r.Notifier == nil && r.Observer == nil) || ctx.Err() != nil {
		return
	}
	plan, found, err := r.compareHealth(ctx, nil)
	if err != nil {
		r.Log.Warn("expiry watch", zap.Error(err))
		return
	}
	if r.Notifier == nil {
		return
	}
	now := r.Clock.Now()
	var fresh []Disagreement
	for _, dis := range found {
		if d.due(dis.Key(), now) {
			fresh = append(fresh, dis)
		}
	}
	if len(fresh) == 0 {
		return
	}
	ev := r.event(Result{Outcome: ReasonExpiryDisagreement, Plan: plan})
	ev.Message = disagreementSummary(fresh)
	ev.NextActions = []string{"compare the tokens in `scim-rotator status` with the AWS Health event and the IAM Identity Center console",
		"if the token API changed shape, rotate by hand before the announced date"}
	if err := r.notify(ctx, ev); err != nil {
		r.Log.Warn("expiry disagreement alert not sent", zap.Error(err))
	}
}

// cronLogger adapts zap to cron's logger.
type cronLogger struct{ l *zap.Logger }

func (c cronLogger) Info(msg string, kv ...any) {
	c.l.Debug("cron: "+msg, zap.Any("details", kv))
}

func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, zap.Error(err), zap.Any("details", kv))
}
