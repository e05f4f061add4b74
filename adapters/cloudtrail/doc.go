// Package cloudtrail is the usage source: it reads the SCIM calls IAM
// Identity Center recorded in CloudTrail (LookupEvents, event source
// identitystore-scim.amazonaws.com) and reports which token made each, so the
// core can tell whether a token is in use. It decides nothing itself.
package cloudtrail
