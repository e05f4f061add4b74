// Package rotator is the rotation core of scim-rotator: the small interfaces
// its adapters implement (Issuer, Store with its lease lock, Target, Prover,
// UsageSource, Notifier), a pure Plan that turns observed state and the
// current time into a decision (plan.go, its words in explain.go), and the
// executor that carries a plan out under the store's lock, one target at a
// time through an explicit transition table (transitions.go), ends a failed
// step in one place (end.go: superseded, interrupted, rolled back or failed),
// resumes it after a crash, rolls it back on a permanent failure, and deletes the old
// token only once CloudTrail shows it unused (usage.go). Before a token
// exists, a store with a version quota must have room for every write of
// the rotation (headroom.go). Hand-offs to a
// human are announced and watched in one place (handoff.go, worded by
// paste.go); an emergency
// rotation (--revoke-old) deletes the old token without a quiet period and
// watches it afterwards (revoke.go). Check and Status ask every system
// through Guard (guard.go): one system's panic or hang is that system's
// failure, never the command's.
//
// It trusts nothing the store says that Identity Center can check, and it
// imports no adapter and no cloud SDK: a token's path through this package
// reads as the algorithm (lock -> plan -> issuer -> store -> targets ->
// proof of use -> promote -> quiet -> delete -> notifier).
package rotator
