package okta

import (
	"net/url"
	"strings"

	"github.com/scim-rotator/scim-rotator/rotator"
)

// Everything in this file is inferred, not documented by Okta: the Admin
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

// ConsoleLink is the app's provisioning page, for alerts. The app's name is
// known once the preflight ran; before, the link is the app list.
func (t *Target) ConsoleLink() rotator.Link {
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

// canaryTouch is the profile Okta is sent to make it push the canary: the
// app user's own profile, unchanged. Okta documents that updating an app
// user's profile pushes it to a provisioning-enabled app; that it does so for
// an unchanged profile is inferred. If it does not, the System Log path still
// confirms on Okta's next push of any user.
func canaryTouch(profile any) any { return profile }
