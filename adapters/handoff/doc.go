// Package handoff is the handoff target: any SCIM client the product cannot
// configure through an API (Google Workspace, JumpCloud, OneLogin, PingOne,
// a home-grown one). Its push asks a human to paste the new token, with the
// configured instructions and console link; its confirmation needs no
// human: CloudTrail must show the client calling with the new token and no
// longer with the old one (Abilities.WatchesHandoff: checked on every run).
//
// Its steps are worded by rotator.Paste, the one wording of a paste hand-off,
// which the okta target's hand-off mode uses too.
package handoff
