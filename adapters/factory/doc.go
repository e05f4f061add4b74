// Package factory turns a loaded configuration into a wired rotator: one
// name -> constructor map per adapter role (issuers, targets), in one file,
// with no self-registration. Adding a target type is one adapter package (its
// config block, defaults, validation, constructor, console link) and one
// entry in targetTypes, the list config.Load is given.
package factory
