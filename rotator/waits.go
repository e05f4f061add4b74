package rotator

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// Progress as it happens: every step's start and end, and every wait (proof
// of use, the quiet period, a target's confirmation, a hand-off watch), go
// to one place, emit, as StepEvents: to Rotator.OnStep when it is set (the
// CLI's short lines on a terminal, the demo), else to the log (LogStep). A
// wait starts with its first look that proves nothing (a target that
// confirms at once reports no wait) and says what it waits for, since when,
// its deadline and what happens then; then, at each look and at least every
// WaitBeat, what it saw and when it looks next. Times are the run's
// clock's. No event holds a secret.

// WaitBeat is the longest a wait stays silent: a poll further apart is
// waited for in pieces of at most this, each reported.
const WaitBeat = time.Minute

// WaitKind is which of a wait's events a StepEvent is.
type WaitKind string

const (
	// WaitStart: the wait begins (what for, since when, the deadline).
	WaitStart WaitKind = "start"
	// WaitPoll: a look found nothing final yet, or a beat between looks.
	WaitPoll WaitKind = "poll"
)

// Wait is a step's wait, as reported by its events.
type Wait struct {
	Kind WaitKind
	// For is what it waits for, in words (log key waiting_for).
	For string
	// Since is when what it waits for could begin: the switch, the push,
	// the hand-off.
	Since time.Time
	// Deadline is when it gives up (zero: none); Then says what happens
	// then.
	Deadline time.Time
	Then     string
	// Seen is what the last look showed (poll events): the tokens' last
	// use and by whom, a target's own words.
	Seen string
	// NextCheck is when it looks next (poll events; zero: the next run).
	NextCheck time.Time
}

// ConfirmPoll is a target's look during Confirm that proved nothing yet.
type ConfirmPoll struct {
	// Seen is what the look showed, in the target's words (never a secret).
	Seen string
	// NextCheck is when it looks again.
	NextCheck time.Time
}

// Report tells the core of a look that proved nothing yet (req.Progress,
// when set): a target's Confirm calls it before each wait, and at least
// every WaitBeat while it waits.
func (req ConfirmRequest) Report(seen string, next time.Time) {
	if req.Progress != nil {
		req.Progress(ConfirmPoll{Seen: seen, NextCheck: next})
	}
}

// emit is the one place a run's progress goes.
func (r *Rotator) emit(e StepEvent) {
	if e.At.IsZero() {
		e.At = r.Clock.Now()
	}
	if r.OnStep != nil {
		r.OnStep(e)
		return
	}
	LogStep(r.Log, e)
}

// waiter reports one wait of a step.
type waiter struct {
	r            *Rotator
	step, target string
	wait         Wait
	started      bool
}

// newWait is the wait of step (of target) that w describes. It starts with
// the first look that proves nothing: a step whose first look proves what
// it waits for (a target that confirms at once) reports no wait.
func (r *Rotator) newWait(step, target string, w Wait) *waiter {
	return &waiter{r: r, step: step, target: target, wait: w}
}

// poll reports a look that proved nothing yet: what it saw, and when the
// next look is; the first also reports the wait's start.
func (wt *waiter) poll(seen string, next time.Time) {
	if !wt.started {
		wt.started = true
		ev := wt.wait
		ev.Kind = WaitStart
		wt.r.emit(StepEvent{Step: wt.step, Target: wt.target, Wait: &ev})
	}
	ev := wt.wait
	ev.Kind, ev.Seen, ev.NextCheck = WaitPoll, seen, next
	wt.r.emit(StepEvent{Step: wt.step, Target: wt.target, Wait: &ev})
}

// confirmPoll is poll for a target's Confirm (ConfirmRequest.Progress).
func (wt *waiter) confirmPoll(p ConfirmPoll) { wt.poll(p.Seen, p.NextCheck) }

// sleepReporting waits d on the run's clock, calling beat with the time
// it ends at once and then at least every WaitBeat: a wait is never silent
// for longer.
func (r *Rotator) sleepReporting(ctx context.Context, d time.Duration, beat func(next time.Time)) error {
	left := max(d, time.Millisecond)
	for {
		beat(r.Clock.Now().Add(left))
		piece := min(left, WaitBeat)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.Clock.After(piece):
		}
		if left -= piece; left <= 0 {
			return nil
		}
	}
}

// LogStep writes e as a log line with stable keys: step, target and detail;
// a wait's waiting_for, since, deadline and on_deadline, and a poll's
// last_seen and next_check (times as the logger writes them: RFC 3339; no
// next_check when the next run looks again).
func LogStep(log *zap.Logger, e StepEvent) {
	fields := []zap.Field{zap.String("step", e.Step)}
	if e.Wait == nil {
		fields = append(fields, zap.String("detail", e.Detail))
	}
	if e.Target != "" {
		fields = append(fields, zap.String("target", e.Target))
	}
	switch w := e.Wait; {
	case w != nil:
		fields = append(fields, zap.String("waiting_for", w.For), zap.Time("since", w.Since))
		if !w.Deadline.IsZero() {
			fields = append(fields, zap.Time("deadline", w.Deadline), zap.String("on_deadline", w.Then))
		}
		if w.Kind == WaitStart {
			log.Info("waiting", fields...)
			return
		}
		fields = append(fields, zap.String("last_seen", w.Seen))
		if !w.NextCheck.IsZero() { // zero: the next run looks again
			fields = append(fields, zap.Time("next_check", w.NextCheck))
		}
		log.Info("still waiting", fields...)
	case !e.Done:
		log.Info("step started", fields...)
	case LeftToNextRun(e.Err):
		log.Info("step left to the next run", append(fields, zap.String("reason", e.Err.Error()))...)
	case e.Err != nil:
		log.Warn("step failed", append(fields, zap.Bool("transient", isTransient(e.Err)), zap.Error(e.Err))...)
	default:
		log.Info("step done", fields...)
	}
}
