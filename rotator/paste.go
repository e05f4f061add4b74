package rotator

import "slices"

// Paste is a hand-off in which a human pastes the new token into a field of
// another system's console. Handoff turns it into the target's steps; the
// core adds the command that prints the token (never the token) before them
// and how the change is confirmed after them (handoff.go). Every target that
// hands a token to a human (okta's hand-off mode, the handoff target) words it
// through here, so no adapter borrows another's wording.
type Paste struct {
	// ConsoleURL is the page where the change is made ("" when unknown).
	ConsoleURL string
	// Where says what that page is, or how to reach it without the link;
	// the core words the one step that opens it.
	Where string
	// Before are the steps between opening the page and pasting.
	Before []string
	// EndpointField names where the SCIM endpoint is shown (default "the
	// SCIM endpoint (base URL) there"); SCIMEndpoint, when set, is the one
	// Identity Center reports, to check it against.
	EndpointField, SCIMEndpoint string
	// Field names where the token goes (default "the token field").
	Field string
	// Instructions, when set, are the operator's own words for the change
	// (where the field is, the paste, the save: a handoff target's
	// instructions); they are the paste step, so After must not repeat
	// what they say.
	Instructions string
	// TokenID names the token pasted (its id, never its value).
	TokenID string
	// After are the steps after pasting (test, save).
	After []string
	// Why says why a human has to do it (optional).
	Why string
}

// Handoff is the paste as the core announces it: each action once, in the
// order the admin does them (the core adds printing the token and opening
// the page before these steps).
func (p Paste) Handoff() *Handoff {
	steps := slices.Clone(p.Before)
	if p.SCIMEndpoint != "" {
		field := p.EndpointField
		if field == "" {
			field = "the SCIM endpoint (base URL) there"
		}
		steps = append(steps, "Check that "+field+" is "+p.SCIMEndpoint)
	}
	token := "the new token"
	if p.TokenID != "" {
		token += " (id " + p.TokenID + ")"
	}
	if p.Instructions != "" {
		steps = append(steps, "With "+token+", copied from the command's output straight into the field (never into chat, a ticket or a file): "+p.Instructions)
	} else {
		field := p.Field
		if field == "" {
			field = "the token field"
		}
		steps = append(steps, "Paste "+token+" into "+field+": copy it from the command's output straight into the field, never into chat, a ticket or a file")
	}
	steps = append(steps, p.After...)
	if p.Why != "" {
		steps = append(steps, "(Why by hand: "+p.Why+")")
	}
	return &Handoff{ConsoleURL: p.ConsoleURL, Where: p.Where, Steps: steps}
}
