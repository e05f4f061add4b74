// Package okta is the okta target: it puts a new SCIM token into an Okta
// app's provisioning connection and proves that Okta provisions with it.
//
// Okta documents its Application Connections API (token auth) for a few apps
// only (Org2Org, Zscaler); the AWS IAM Identity Center app is not one of them.
// So the target decides per app: where the API takes a token it sets it and
// verifies the connection (mode api); elsewhere it hands the change to an
// operator with the exact Admin Console page and steps (mode handoff). Either
// way Confirm waits for evidence from Okta itself (a canary app user's sync
// state, the System Log) before the rotation may delete the old token.
package okta
