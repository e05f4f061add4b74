// Package factory turns a loaded configuration into a wired rotator: one
// name -> constructor map per adapter role (issuers, targets), in one file,
// with no self-registration. Adding a target type is one adapter package and
// one line in targetConstructors.
package factory
