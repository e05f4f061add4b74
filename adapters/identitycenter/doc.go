// Package identitycenter issues IAM Identity Center SCIM access tokens. AWS
// documents no API for them, so the Issuer speaks the console's internal,
// SigV4-signed token API, whose wire details all live in api.go; Manual is the
// fallback that leaves creating and deleting tokens to a human; Prover proves
// a token against the SCIM endpoint itself.
package identitycenter
