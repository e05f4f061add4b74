package cloudtrail

// INFERRED: everything in this file rests on an inference that AWS does not
// document, checked live by Check (see /work/shared/research/cloudtrail-usage.md).
//
// The userIdentity.accessKeyId of an identitystore-scim event is the id of
// the SCIM access token that authenticated the call, as ListBearerTokens
// (and the console) spell it. Evidence: the field is present on calls that
// have no IAM principal, and AWS notes that tokens created before September
// 2024 must be rotated before their calls appear, which ties events to the
// token's identity. Until such a token is rotated, its calls are missing:
// a quiet old token may only mean "not logged".
//
// If the inference is wrong for an account (Check finds successful recent
// calls whose accessKeyId matches no listed token), proof of use must be
// turned off there with usage.source: none.

// tokenIDOf returns the id of the token that authenticated a call, from
// the event's userIdentity.accessKeyId.
func tokenIDOf(r *record) string { return string(r.UserIdentity.AccessKeyID) }

// inferenceFix is what to do when the inference does not hold.
const inferenceFix = "set usage.source: none: in this account the SCIM events' userIdentity.accessKeyId is not the token id ListBearerTokens returns, so CloudTrail cannot tell which token is used (deletion then relies on the targets' own confirmations)"
