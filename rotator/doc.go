// Package rotator is the rotation core of scim-rotator: the small interfaces
// its adapters implement (Issuer, Store, Target, Notifier), a pure Plan that
// turns observed state and the current time into a decision, and the steps that
// carry a plan out, resume it after a crash, and roll it back on failure.
//
// It imports no adapter and no cloud SDK: a token's path through this package
// reads as the algorithm (plan -> issuer -> store -> targets -> promote -> notifier).
package rotator
