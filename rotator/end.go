package rotator

import (
	"context"
	"time"
)

// How a failed step ends the run: the one place that tells a superseded run,
// a transient failure and a permanent one apart.
//
//	| the error                                        | the run ends                                  |
//	|--------------------------------------------------|-----------------------------------------------|
//	| another run wrote the record (busy, lock lost)   | Busy, or observed again (superseded)          |
//	| transient, or the process is being stopped       | Interrupted, everything kept, next run resumes |
//	| permanent, after a target may have been switched | rolled back (rollback.go)                     |
//	| permanent, otherwise                             | Failed, or Blocked, with its words; nothing undone |
//
// A transient failure before the rotation is recorded (failure.rot nil)
// records nothing; after, interrupted counts it until it is worth an alert.

// failKind is how a step's error is classified.
type failKind int

const (
	failSuperseded failKind = iota
	failTransient
	failPermanent
)

// kindOf classifies a step's error; ctx is the run's (a run being stopped
// is not a failure of the step).
func kindOf(ctx context.Context, err error) failKind {
	if lost, busy := lostOrBusy(err); lost || busy != nil {
		return failSuperseded
	}
	if ctx.Err() != nil || isTransient(err) {
		return failTransient
	}
	return failPermanent
}

// failure is a failed step and what a permanent failure of it means.
type failure struct {
	step, target string
	err          error
	// rot is the rotation (nil before it is recorded).
	rot *rotation
	// rollBack: a permanent failure rolls the rotation back. Otherwise it
	// ends the run with outcome (default Failed), message and next, and
	// nothing is undone.
	rollBack bool
	outcome  Reason
	message  string
	next     []string
}

func (f failure) name() string {
	if f.target == "" {
		return f.step
	}
	return f.step + " " + f.target
}

// end turns a failed step into the run's result.
func (x *exec) end(ctx context.Context, f failure) Result {
	switch kindOf(ctx, f.err) {
	case failSuperseded:
		res, _ := x.superseded(f.err, f.rot)
		return res
	case failTransient:
		if f.rot == nil {
			return x.notStarted(f)
		}
		return x.interrupted(ctx, f.rot, f.name(), f.err)
	}
	if f.rollBack {
		return x.rollback(ctx, f.rot, f.step, f.target, f.err)
	}
	res := Result{Outcome: f.outcome, Plan: x.plan, FailedStep: f.name(), Err: f.err, Message: f.message, NextActions: f.next}
	if res.Outcome == "" {
		res.Outcome = ReasonFailed
	}
	if f.rot != nil {
		res.Progress = &f.rot.progress
	}
	return res
}

// notStarted ends a run interrupted before its rotation was recorded:
// nothing is written, and a full store says itself how long it has been full.
func (x *exec) notStarted(f failure) Result {
	d, full := fullFor(f.err, x.r.Clock.Now())
	return Result{Outcome: ReasonInterrupted, Plan: x.plan, FailedStep: f.name(), Err: f.err, quiet: !full || d < time.Hour,
		Message: f.message + "; the error is worth retrying and the next run does"}
}
