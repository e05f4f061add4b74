// Package rotator is the rotation core of scim-rotator: the small interfaces
// its adapters implement (Issuer, Store with its lease lock, Target, Prover,
// UsageSource, Notifier), a pure Plan that turns observed state and the
// current time into a decision (plan.go, its words in explain.go), and the
// executor (exec.go) that carries a plan out under the store's lock, one
// target at a time through an explicit transition table (transitions.go),
// resumes it after a crash, and deletes the old token only once CloudTrail
// shows it unused (usage.go). How a run ends short of done is end.go's:
// superseded, interrupted, waiting for a hand-off, rolled back, failed, or
// leaving a wait that would pass its deadline to the next run (a bounded
// run: the rules are deadline.go's).
// The executor's methods live in those two files only; the files named by
// concept hold the rules and words it applies: hand-offs (handoff.go,
// worded by paste.go), an emergency rotation (--revoke-old: the old token
// deleted without a quiet period and watched afterwards, revoke.go), a
// refused proof of a new token judged against the recorded current token
// and the identity store's network rules (network.go: refused alike, both
// tokens are kept), and, before a token exists, a store with a version
// quota must have room for every write of the rotation (headroom.go). Check and Status ask every system
// through Guard (guard.go): one system's panic or hang is that system's
// failure, never the command's.
//
// It trusts nothing the store says that Identity Center can check, and it
// imports no adapter and no cloud SDK: a token's path through this package
// reads as the algorithm (lock -> plan -> issuer -> store -> targets ->
// proof of use -> promote -> quiet -> delete -> notifier).
package rotator
