package rotator

// The per-target state machine of a rotation. Every target starts
// Untouched; before any target is switched, every Untouched target has
// validated the new token (so no target is switched to a token another one
// refuses). Then each target in turn walks this table: a state names its
// step; how the step ended (the event) picks the row, which says the next
// state, whether entering it is written to the store's record before its
// step runs (write-ahead), and whether the run ends there. walk reads
// nothing else, so the table and the executor cannot drift apart.
//
//	| state           | step    | event     | next            | write first      | run               |
//	|-----------------|---------|-----------|-----------------|------------------|-------------------|
//	| Untouched       | begin   | ok        | Pushing         | yes              | goes on: push     |
//	| Pushing         | push    | ok        | Pushed          |                  | goes on: test     |
//	| Pushing         | push    | handoff   | AwaitingHandoff | yes, lease given | ends: hand-off    |
//	| AwaitingHandoff | wait    | continued | Pushed          |                  | goes on: test     |
//	| AwaitingHandoff | wait    | waiting   | AwaitingHandoff |                  | ends: hand-off    |
//	| AwaitingHandoff | wait    | proven    | Confirmed       |                  | next target       |
//	| Pushed          | test    | ok        | Tested          |                  | goes on: confirm  |
//	| Tested          | confirm | ok        | Confirmed       |                  | next target       |
//	| Tested          | confirm | deadline  | Tested          | when not yet (+) | ends: Waiting     |
//	| Confirmed       | (done)  |           |                 |                  | next target       |
//	| any             | any     | transient | (unchanged)     | the failure (*)  | ends: Interrupted |
//	| any             | any     | failed    | Failed          |                  | ends: roll back   |
//	| another state   |         |           |                 |                  | ends: Interrupted |
//
// Only Pushing and a hand-off are written before they start: a run that
// dies during a push leaves a target the record calls Pushing (it may hold
// either token), never one it calls Untouched, and a hand-off's wait is on
// record before the run ends. The states in between are not written: a run
// stopped after one of them pushes again (every target step is idempotent),
// and the next write carries them. A failed write stops the run before the
// step (Interrupted; the next run resumes from the record).
//
// "transient" is an error marked rotator.Transient after the adapter's own
// retries (throttling, 5xx, timeouts, connection resets) or a lost lock: the
// state is kept and the next run resumes; (*) interrupted records the
// failing step until it is worth an alert. "failed" is anything else (a
// refused token, a 4xx retrying cannot fix, a confirmation that proves
// failure): the rotation rolls back. "deadline" is a confirmation a
// bounded run leaves to the next run (deadline.go): (+) written, unless the
// record says so already, as the run's last write: Tested, so that the next
// run asks again and never pushes again. "proven" is a target watching its
// hand-off (Abilities.WatchesHandoff) whose own evidence (CloudTrail) shows
// the human's change: it needs no test or second confirmation (handoff.go). A state with no step (Failed and
// Restored are resumed as Pushing or Untouched first, resumeState) is a bug:
// the run stops without acting.

// targetStep is what the executor does for a target in a state.
type targetStep string

const (
	stepBegin   targetStep = "begin"
	stepPush    targetStep = "push"
	stepWait    targetStep = "wait"
	stepTest    targetStep = "test"
	stepConfirm targetStep = "confirm"
	stepDone    targetStep = "done"
)

// targetEvent is how a step ended.
type targetEvent string

const (
	evOK        targetEvent = "ok"
	evHandoff   targetEvent = "handoff"
	evContinued targetEvent = "continued"
	evWaiting   targetEvent = "waiting"
	evProven    targetEvent = "proven"
	evDeadline  targetEvent = "deadline"
	evTransient targetEvent = "transient"
	evFailed    targetEvent = "failed"
)

// runEnd is what a row does to the run: goes on, or ends it one way.
type runEnd int

const (
	goOn         runEnd = iota
	endHandoff          // the run ends waiting for a human (AwaitingHandoff)
	endInterrupt        // the state is kept; the next run resumes (Interrupted)
	endRollback         // the rotation is rolled back
	endWait             // a wait is left to the next run (Waiting)
)

// transition is one row of the table.
type transition struct {
	next TargetState
	// writeFirst: entering next is written before next's step runs.
	writeFirst bool
	end        runEnd
}

// stepOf is the step each state runs; a state not listed has none.
var stepOf = map[TargetState]targetStep{
	TargetUntouched:       stepBegin,
	TargetPushing:         stepPush,
	TargetAwaitingHandoff: stepWait,
	TargetPushed:          stepTest,
	TargetTested:          stepConfirm,
	TargetConfirmed:       stepDone,
}

type transitionKey struct {
	from TargetState
	on   targetEvent
}

// transitions is the table above, but for the rows of every state (anyState).
var transitions = map[transitionKey]transition{
	{TargetUntouched, evOK}:              {next: TargetPushing, writeFirst: true},
	{TargetPushing, evOK}:                {next: TargetPushed},
	{TargetPushing, evHandoff}:           {next: TargetAwaitingHandoff, writeFirst: true, end: endHandoff},
	{TargetAwaitingHandoff, evContinued}: {next: TargetPushed},
	{TargetAwaitingHandoff, evWaiting}:   {next: TargetAwaitingHandoff, end: endHandoff},
	{TargetAwaitingHandoff, evProven}:    {next: TargetConfirmed},
	{TargetPushed, evOK}:                 {next: TargetTested},
	{TargetTested, evOK}:                 {next: TargetConfirmed},
	{TargetTested, evDeadline}:           {next: TargetTested, end: endWait},
}

// anyState are the rows that apply in every state with a step; next is
// the state itself where it is empty.
var anyState = map[targetEvent]transition{
	evTransient: {end: endInterrupt},
	evFailed:    {next: TargetFailed, end: endRollback},
}

// next is the row for event in state from; ok is false for a pair the
// table does not have, or a state with no step (a bug: the executor stops
// without acting).
func next(from TargetState, ev targetEvent) (transition, bool) {
	if _, ok := stepOf[from]; !ok {
		return transition{}, false
	}
	if row, ok := anyState[ev]; ok {
		if row.next == "" {
			row.next = from
		}
		return row, true
	}
	row, ok := transitions[transitionKey{from, ev}]
	return row, ok
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
