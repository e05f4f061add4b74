package main

import (
	"encoding/json"
	"io"
	"math"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/rotator"
)

// The documents status, check and rotate print with -o json: one per
// command, the same shape for one instance and for many (`scim-rotator
// schema NAME` prints each one's JSON Schema). Each field here is in its
// schema; within a schemaVersion fields are only ever added.

// document is what -o json prints: the process's exit code and one entry
// per selected instance, in the config's order.
type document[T any] struct {
	SchemaVersion int `json:"schemaVersion"`
	ExitCode      int `json:"exitCode"`
	Instances     []T `json:"instances"`
}

func newDocument[T any](code int, instances []T) document[T] {
	if instances == nil {
		instances = []T{}
	}
	return document[T]{SchemaVersion: schemaVersion, ExitCode: code, Instances: instances}
}

// panicked is the error of an instance whose command panicked (a bug that
// escaped every guard): the others still report.
const panicked = "scim-rotator panicked for this instance (a bug: the log has its stack); a rotation in progress resumes on the next run"

// writeDocument writes v as indented JSON.
func writeDocument(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// statusEntry is one instance in `status -o json`: its report, or the
// error that kept it from being built.
type statusEntry struct {
	Name  string `json:"name"`
	Error string `json:"error,omitempty"`
	*rotator.StatusReport
}

// checkEntry is one instance in `check -o json`.
type checkEntry struct {
	Name     string                `json:"name"`
	ExitCode int                   `json:"exitCode"`
	Checks   []rotator.CheckResult `json:"checks"`
}

// rotateEntry is one instance in `rotate -o json`: what its run ended
// with, the rotation it acted on and what happens next.
type rotateEntry struct {
	Name string `json:"name"`
	// Outcome is empty when no run was made (a configuration error,
	// --continue with no hand-off pending): Message says why.
	Outcome         rotator.Reason    `json:"outcome,omitempty"`
	ExitCode        int               `json:"exitCode"`
	Message         string            `json:"message"`
	Requested       *requested        `json:"requested,omitempty"`
	RotationID      string            `json:"rotationId,omitempty"`
	OldTokenID      string            `json:"oldTokenId,omitempty"`
	NewTokenID      string            `json:"newTokenId,omitempty"`
	NewTokenExpires time.Time         `json:"newTokenExpires,omitzero"`
	Phase           rotator.Phase     `json:"phase,omitempty"`
	FailedStep      string            `json:"failedStep,omitempty"`
	Error           string            `json:"error,omitempty"`
	Targets         []targetResult    `json:"targets"`
	Plan            *planResult       `json:"plan,omitempty"`
	NextActions     []string          `json:"nextActions"`
	RetryAt         time.Time         `json:"retryAt,omitzero"`
	Lock            *rotator.LockInfo `json:"lock,omitempty"`
	Steps           []stepResult      `json:"steps"`
	StartedAt       time.Time         `json:"startedAt"`
	EndedAt         time.Time         `json:"endedAt"`
	DurationSeconds float64           `json:"durationSeconds"`
}

// requested is what rotate was asked for: its flags.
type requested struct {
	Now       bool `json:"now"`
	DryRun    bool `json:"dryRun"`
	Continue  bool `json:"continue"`
	RevokeOld bool `json:"revokeOld"`
}

func requestedBy(o rotator.RunOptions) *requested {
	return &requested{Now: o.Now, DryRun: o.DryRun, Continue: o.Continue, RevokeOld: o.RevokeOld}
}

// targetResult is one target's state in the rotation a run acted on.
type targetResult struct {
	Name       string              `json:"name"`
	State      rotator.TargetState `json:"state"`
	Detail     string              `json:"detail,omitempty"`
	Handoff    bool                `json:"handoff,omitempty"`
	PushedAt   time.Time           `json:"pushedAt,omitzero"`
	SwitchedAt time.Time           `json:"switchedAt,omitzero"`
}

// planResult is what a run decided, as a dry run prints it.
type planResult struct {
	Action      rotator.Action `json:"action"`
	Reason      rotator.Reason `json:"reason,omitempty"`
	Message     string         `json:"message"`
	Steps       []string       `json:"steps"`
	Targets     []string       `json:"targets"`
	DueAt       time.Time      `json:"dueAt,omitzero"`
	LiveTokenID string         `json:"liveTokenId,omitempty"`
}

// stepResult is one step a run took and how long it took.
type stepResult struct {
	Step            string    `json:"step"`
	Target          string    `json:"target,omitempty"`
	StartedAt       time.Time `json:"startedAt"`
	DurationSeconds float64   `json:"durationSeconds"`
	Error           string    `json:"error,omitempty"`
}

// seconds is d in seconds, to the millisecond.
func seconds(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }

// stepTimes records the steps a run takes (rotator.Rotator.OnStep) with
// their durations, by the rotator's clock.
type stepTimes struct {
	clock rotator.Clock
	mu    sync.Mutex
	steps []stepResult
	// open are the steps started and not yet ended, by step and target.
	open map[[2]string][]int
}

func newStepTimes(clock rotator.Clock) *stepTimes {
	return &stepTimes{clock: clock, steps: []stepResult{}, open: map[[2]string][]int{}}
}

// also is an OnStep that records each step and then does what the run
// would do without it: tell next, or, when next is nil, log the event
// (rotator.LogStep), so that recording the steps costs no log line.
func (s *stepTimes) also(next func(rotator.StepEvent), log *zap.Logger) func(rotator.StepEvent) {
	return func(ev rotator.StepEvent) {
		s.observe(ev)
		if next != nil {
			next(ev)
			return
		}
		rotator.LogStep(log, ev)
	}
}

// observe records ev: a start opens a step, an end closes the oldest open
// one of the same step and target; a wait's reports are neither.
func (s *stepTimes) observe(ev rotator.StepEvent) {
	if ev.Wait != nil {
		return
	}
	now := ev.At
	if now.IsZero() {
		now = s.clock.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := [2]string{ev.Step, ev.Target}
	if !ev.Done {
		s.open[key] = append(s.open[key], len(s.steps))
		s.steps = append(s.steps, stepResult{Step: ev.Step, Target: ev.Target, StartedAt: now.UTC()})
		return
	}
	i := len(s.steps)
	if open := s.open[key]; len(open) > 0 {
		i, s.open[key] = open[0], open[1:]
	} else {
		s.steps = append(s.steps, stepResult{Step: ev.Step, Target: ev.Target, StartedAt: now.UTC()})
	}
	s.steps[i].DurationSeconds = seconds(now.Sub(s.steps[i].StartedAt))
	if ev.Err != nil {
		s.steps[i].Error = ev.Err.Error()
	}
}

// list is the steps so far (a step still open has the time until now).
func (s *stepTimes) list() []stepResult {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]stepResult, len(s.steps))
	copy(out, s.steps)
	for _, open := range s.open {
		for _, i := range open {
			out[i].DurationSeconds = seconds(now.Sub(out[i].StartedAt))
		}
	}
	return out
}

// rotateResult is a run's entry in `rotate -o json`. targets are the
// configured targets, which a plan that starts or resumes a rotation
// pushes to.
func rotateResult(name string, res rotator.Result, targets []string) rotateEntry {
	o := rotateEntry{Name: name, Outcome: res.Outcome, ExitCode: res.ExitCode(), Message: res.Message,
		FailedStep: res.FailedStep, Targets: []targetResult{}, NextActions: []string{}, Lock: res.Lock, Steps: []stepResult{},
		Requested: requestedBy(res.Requested)}
	if res.Err != nil {
		o.Error = res.Err.Error()
	}
	o.NextActions = append(o.NextActions, res.NextActions...)
	if p := res.Plan; p.Action != "" {
		pr := &planResult{Action: p.Action, Reason: p.Reason, Message: p.Message(), Steps: append([]string{}, p.Steps()...),
			Targets: []string{}, DueAt: p.DueAt}
		if p.Action == rotator.ActionStart || p.Action == rotator.ActionResume {
			pr.Targets = append(pr.Targets, targets...)
		}
		if p.Live != nil {
			pr.LiveTokenID = p.Live.ID
		}
		o.Plan, o.RetryAt = pr, p.RetryAt
		o.RotationID, o.OldTokenID, o.NewTokenID = p.RotationID, p.OldTokenID, p.NewTokenID
	}
	// The rotation this run acted on; a run that found nothing due acted
	// on none (the record is the last rotation's, long finished).
	if pr := res.Progress; pr != nil && res.Outcome != rotator.ReasonNotDue {
		o.RotationID, o.OldTokenID, o.NewTokenID = pr.RotationID, pr.OldTokenID, pr.NewTokenID
		o.NewTokenExpires, o.Phase = pr.NewTokenExpires, pr.Phase
		for _, t := range pr.Targets {
			o.Targets = append(o.Targets, targetResult{Name: t.Name, State: t.State, Detail: t.Message, Handoff: t.Handoff,
				PushedAt: t.PushedAt, SwitchedAt: t.SwitchedAt})
		}
	}
	return o
}

// timed sets a run's start, end and duration.
func (o *rotateEntry) timed(start, end time.Time) {
	o.StartedAt, o.EndedAt, o.DurationSeconds = start.UTC(), end.UTC(), seconds(end.Sub(start))
}
