// Package health reads AWS Health's SCIM token expiry notices
// (AWS_IAMIDENTITYCENTER_SCIM_BEARER_TOKEN_EXPIRY_NOTIFICATION): the
// rotator's independent expiry watch, which still works when the token API
// changes shape. The one place for the notice text's reading is inferred.go.
package health
