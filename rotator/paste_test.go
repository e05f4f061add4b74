package rotator

import (
	"strings"
	"testing"
)

// A hand-off says each action once, in the order the admin does it: open
// the page (once, the link and where it is together), the steps before the
// paste, check the endpoint, paste, the steps after; with the operator's own
// instructions (which say where to paste and to save), the paste step is
// theirs and nothing around it says paste or save again.
func TestPasteSaysEachActionOnceInOrder(t *testing.T) {
	r := &Rotator{Store: &fakeStore{}}
	tg := &fakeTarget{name: "okta"}
	for _, tc := range []struct {
		name  string
		paste Paste
		order []string // each once, in this order
	}{
		{"steps of its own", Paste{ConsoleURL: "https://console.example/app", Where: "the Admin Console's app page",
			Before: []string{"Click Edit"}, EndpointField: "the Base URL", SCIMEndpoint: "https://scim.example/v2/", Field: "API Token", TokenID: "tok-2",
			After: []string{"Click Test API Credentials", "Click Save"}},
			[]string{"Print the new token", "Open https://console.example/app (the Admin Console's app page)", "Click Edit", "Check that the Base URL is https://scim.example/v2/",
				"Paste the new token (id tok-2) into API Token", "Click Test API Credentials", "Click Save"}},
		{"the operator's instructions", Paste{ConsoleURL: "https://admin.example/", Where: "the SCIM client's admin console",
			SCIMEndpoint: "https://scim.example/v2/", TokenID: "tok-2", Instructions: "Apps > AWS > Auto-provisioning: paste the token, Save",
			After: []string{"Let the client sync"}},
			[]string{"Print the new token", "Open https://admin.example/ (the SCIM client's admin console)", "Check that the SCIM endpoint (base URL) there is https://scim.example/v2/",
				"With the new token (id tok-2), copied from the command's output", "Apps > AWS > Auto-provisioning: paste the token, Save", "Let the client sync"}},
		{"no link", Paste{Where: "the Okta Admin Console's Applications, search for app id 0oa1", Field: "API Token", After: []string{"Click Save"}},
			[]string{"Print the new token", "Open the Okta Admin Console's Applications, search for app id 0oa1", "Paste the new token into API Token", "Click Save"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			steps := r.handoffSteps(tg, tc.paste.Handoff())
			all := strings.Join(steps, "\n")
			at := -1
			for _, w := range tc.order {
				i := strings.Index(all, w)
				if i < 0 || i < at || strings.Count(all, w) != 1 {
					t.Fatalf("%q: not once, after the steps before it:\n%s", w, all)
				}
				at = i
			}
			for _, action := range []string{"Open ", "aste ", "Save"} {
				if n := strings.Count(all, action); n > 1 {
					t.Errorf("%q said %d times:\n%s", action, n, all)
				}
			}
		})
	}
}
