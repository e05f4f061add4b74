package okta

import (
	"net/url"
	"strings"
	"time"

	"github.com/scim-rotator/scim-rotator/rotator"
)

// Everything in this file is INFERRED, not documented by Okta: the Admin
// Console's URL scheme, and how to make Okta push a canary user. Keep such
// guesses here, in one place, so they can be corrected together.

// adminConsoleURL is the app's Provisioning > Integration page
// ("API credentials") in the Admin Console. Okta's admin host is the org's
// host with "-admin" added to its first label (acme.okta.com ->
// acme-admin.okta.com); pages of an app instance live under
// /admin/app/{appName}/instance/{appId}/ and the provisioning integration
// tab's fragment is #tab-user-management/api-credentials (as seen in admin
// console links; not a documented interface). A custom domain or a local
// sandbox keeps its host. Without the app's name the app list is the best
// link there is.
func adminConsoleURL(orgURL, appName, appID string) string {
	u, err := url.Parse(orgURL)
	if err != nil || u.Host == "" {
		return orgURL
	}
	host := u.Hostname()
	if first, rest, ok := strings.Cut(host, "."); ok && isOktaDomain(rest) && !strings.HasSuffix(first, "-admin") {
		host = first + "-admin." + rest
	}
	if p := u.Port(); p != "" {
		host += ":" + p
	}
	base := u.Scheme + "://" + host
	if appName == "" {
		return base + "/admin/apps/active"
	}
	return base + "/admin/app/" + url.PathEscape(appName) + "/instance/" + url.PathEscape(appID) + "/#tab-user-management/api-credentials"
}

// consoleLink is the app's provisioning page, for alerts. The app's name is
// known once the preflight ran; before, the link is the app list.
func (t *Target) consoleLink() rotator.Link {
	t.mu.Lock()
	name := ""
	if t.decided != nil {
		name = t.decided.App.Name
	}
	t.mu.Unlock()
	return rotator.Link{Text: "Okta app (" + t.name + ")", URL: adminConsoleURL(t.cfg.OrgURL, name, t.cfg.AppID)}
}

// isOktaDomain reports whether domain is one of Okta's own org domains, where
// the Admin Console has its own -admin host.
func isOktaDomain(domain string) bool {
	switch domain {
	case "okta.com", "oktapreview.com", "okta-emea.com", "okta-gov.com", "okta.mil", "trexcloud.com":
		return true
	}
	return false
}

// INFERRED: how to make Okta push the canary now.
//
// Okta pushes profile *changes* to an app with "Update User Attributes"
// (PUSH_PROFILE_UPDATES) enabled: when a mapped attribute of the Okta user
// changes, Okta updates the app user and pushes it to the SCIM server. An
// update that changes nothing may push nothing, so re-saving an unchanged
// profile proves nothing. The canary is therefore a real change: the
// canary's Okta user profile attribute canaryAttribute (default displayName)
// is set, with the Users API's partial update (POST /api/v1/users/{id}), to
// canaryValue, which holds the time and so differs on every rotation.
//
// Why displayName: it is a base attribute of every Okta user profile, the AWS
// IAM Identity Center app maps it to the SCIM user's displayName by default,
// it is not used to sign in, and nothing but a human reads it. That a change
// of it reaches the app as a push is the inference (an org whose mapping
// leaves it out must name a mapped attribute, e.g. nickName, in
// canaryAttribute). This overwrites the attribute on every rotation: the
// canary must be a dedicated user, never a person's account. If no push
// comes, the System Log path still confirms on Okta's next push of any user.
//
// Setting it needs okta.users.manage (OAuth) or an admin role that may edit
// the user (Super Administrator, Organization Administrator, or a Group
// Administrator for the canary's group): an Application Administrator may not.

// canaryScope is the OAuth scope that lets the target change the canary.
const canaryScope = "okta.users.manage"

// canaryPrefix starts every canaryValue.
const canaryPrefix = "scim-rotator canary "

// canaryValue is what the canary attribute is set to at t.
func canaryValue(t time.Time) string {
	return canaryPrefix + t.UTC().Format(time.RFC3339)
}
