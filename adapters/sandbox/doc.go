// Package sandbox holds in-process fakes of every system scim-rotator talks to
// (Identity Center's token API and SCIM endpoint, Secrets Manager, Microsoft
// Graph and its login endpoint, Okta, a Slack webhook). They speak the real
// wire formats and check what the real services check, so the official SDKs
// can be driven against them: adapter tests, the end-to-end tests and
// `scim-rotator demo` all use them. Every fake records its calls and accepts
// injected faults (5xx, throttling, hangs, answers lost after the work was done).
//
// AWS accounts are modelled too: an STS fake issues credentials for assumed
// roles and for web identities (IRSA's AssumeRoleWithWebIdentity), every AWS fake belongs to an account and refuses another's
// credentials, and a sandbox can host a fleet of Identity Center instances,
// each in its own account (Options.Instances, AddInstance).
package sandbox
