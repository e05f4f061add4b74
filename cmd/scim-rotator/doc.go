// Command scim-rotator rotates the AWS IAM Identity Center SCIM access token
// before it expires.
//
// main.go only sets up signals and exits with the code the command chose.
// root.go is the root command, its global flags and the exit codes; each
// command has its file (rotate, status, check, stage, run, demo, config,
// version), report.go the preamble status and check share, instances.go
// the instance selection and the fleet loop, output.go the printing the
// commands share.
package main
