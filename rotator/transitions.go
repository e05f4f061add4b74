package rotator

// The per-target state machine of a rotation. Every target starts
// Untouched; before any target is switched, every Untouched target has
// validated the new token (so no target is switched to a token another one
// refuses). Then each target in turn walks this table.
//
// A state's step runs only after the state is durably saved (write-ahead):
// the transition into Pushing is saved before the push, so a run that dies
// during a push leaves a target the record calls Pushing (it may hold either
// token), never one it calls Untouched. A failed save stops the run before
// the step (Interrupted; the next run resumes from the record).
//
//	| state           | step     | event      | next            | then                       |
//	|-----------------|----------|------------|-----------------|----------------------------|
//	| Untouched       | begin    | ok         | Pushing         | save, then push            |
//	| Pushing         | push     | ok         | Pushed          | save, then test            |
//	| Pushing         | push     | handoff    | AwaitingHandoff | save, end: AwaitingHandoff |
//	| AwaitingHandoff | wait     | continued  | Pushed          | save, then test            |
//	| AwaitingHandoff | wait     | waiting    | AwaitingHandoff | end: AwaitingHandoff       |
//	| AwaitingHandoff | wait     | proven     | Confirmed       | save, next target          |
//	| Pushed          | test     | ok         | Tested          | save, then confirm         |
//	| Tested          | confirm  | ok         | Confirmed       | save, next target          |
//	| Confirmed       | -        |            |                 | next target                |
//	| any             | any      | transient  | (unchanged)     | save, end: Interrupted     |
//	| any             | any      | failed     | Failed          | roll back                  |
//
// "transient" is an error marked rotator.Transient after the adapter's own
// retries (throttling, 5xx, timeouts, connection resets) or a lost lock: the
// state is kept and the next run resumes. "failed" is anything else (a
// refused token, a 4xx retrying cannot fix, a confirmation that proves
// failure): the rotation rolls back. "proven" is a HandoffWatcher whose own
// evidence (CloudTrail) shows the human's change: it needs no test or
// second confirmation (handoff.go).

// targetStep is what the executor does for a target in a state.
type targetStep string

const (
	stepBegin   targetStep = "begin"
	stepPush    targetStep = "push"
	stepWait    targetStep = "wait"
	stepTest    targetStep = "test"
	stepConfirm targetStep = "confirm"
	stepNone    targetStep = ""
)

// targetEvent is how a step ended.
type targetEvent string

const (
	evOK        targetEvent = "ok"
	evHandoff   targetEvent = "handoff"
	evContinued targetEvent = "continued"
	evWaiting   targetEvent = "waiting"
	evProven    targetEvent = "proven"
	evTransient targetEvent = "transient"
	evFailed    targetEvent = "failed"
)

// stepOf is the step each state runs.
var stepOf = map[TargetState]targetStep{
	TargetUntouched:       stepBegin,
	TargetPushing:         stepPush,
	TargetAwaitingHandoff: stepWait,
	TargetPushed:          stepTest,
	TargetTested:          stepConfirm,
	TargetConfirmed:       stepNone,
}

type transitionKey struct {
	from TargetState
	on   targetEvent
}

// transitions is the table above; transient and failed apply to every state
// and are handled by next.
var transitions = map[transitionKey]TargetState{
	{TargetUntouched, evOK}:              TargetPushing,
	{TargetPushing, evOK}:                TargetPushed,
	{TargetPushing, evHandoff}:           TargetAwaitingHandoff,
	{TargetAwaitingHandoff, evContinued}: TargetPushed,
	{TargetAwaitingHandoff, evWaiting}:   TargetAwaitingHandoff,
	{TargetAwaitingHandoff, evProven}:    TargetConfirmed,
	{TargetPushed, evOK}:                 TargetTested,
	{TargetTested, evOK}:                 TargetConfirmed,
}

// next is the state after event in state from; ok is false for a pair the
// table does not have (a bug: the executor stops without acting).
func next(from TargetState, ev targetEvent) (TargetState, bool) {
	switch ev {
	case evTransient:
		return from, true
	case evFailed:
		return TargetFailed, true
	}
	to, ok := transitions[transitionKey{from, ev}]
	return to, ok
}

// resumeState is where a target recorded by an earlier run picks up. A
// Failed or Restored target whose push was attempted may hold either token:
// it is pushed again; one never pushed starts over.
func resumeState(tp TargetProgress) TargetState {
	switch tp.State {
	case TargetFailed, TargetRestored:
		if !tp.PushedAt.IsZero() {
			return TargetPushing
		}
		return TargetUntouched
	case "":
		return TargetUntouched
	}
	return tp.State
}

// possiblySwitched: a push was attempted, so the target may hold the new token.
func possiblySwitched(tp TargetProgress) bool {
	switch tp.State {
	case TargetPushing, TargetPushed, TargetTested, TargetConfirmed, TargetAwaitingHandoff:
		return true
	case TargetFailed:
		return !tp.PushedAt.IsZero()
	}
	return false
}
