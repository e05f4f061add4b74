package okta

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/okta/okta-sdk-golang/v2/okta"
	"github.com/okta/okta-sdk-golang/v2/okta/query"

	"github.com/scim-rotator/scim-rotator/rotator"
)

// Check runs read-only calls: the app (credentials and permissions), the
// mode that applies and why, the System Log and the canary.
func (t *Target) Check(ctx context.Context) []rotator.CheckResult {
	var out []rotator.CheckResult

	app, err := t.getApp(ctx)
	res := rotator.CheckResult{System: System, Target: t.name, Name: "app " + t.cfg.AppID, Level: rotator.LevelOK}
	if err != nil {
		res.Level, res.Detail, res.Fix = rotator.LevelFail, err.Error(), t.fixFor(err, "okta.apps.read")
		return append(out, res)
	}
	res.Detail = fmt.Sprintf("%s: app %q (%s), %s", t.cfg.OrgURL, app.Label, app.Name, app.Status)
	out = append(out, res)

	// The mode, decided afresh.
	var conn *okta.ProvisioningConnection
	var connErr error
	if t.cfg.Mode != ModeHandoff {
		conn, connErr = t.getConnection(ctx)
	}
	mode, reason, err := decideMode(t.cfg.Mode, app.Name, conn, connErr)
	res = rotator.CheckResult{System: System, Target: t.name, Name: "provisioning mode", Level: rotator.LevelOK}
	switch {
	case err != nil:
		res.Level = rotator.LevelFail
		res.Detail, res.Fix = "cannot read the provisioning connection: "+err.Error(), t.fixFor(err, "okta.apps.read")
	case mode == ModeAPI:
		res.Detail = "api: " + reason + ". Setting the token needs okta.apps.manage or an admin role that can edit this app (not tested here: it would change the app)"
		if t.cfg.Mode == ModeAPI && connErr == nil && conn.AuthScheme != authToken && !slices.Contains(tokenApps, app.Name) {
			res.Level = rotator.LevelFail
			res.Detail = fmt.Sprintf("mode api is configured but the connection answers authScheme %s for %s", orUnknown(conn.AuthScheme), app.Name)
			res.Fix = "Okta does not take this app's token through its API: set mode: auto or handoff"
		} else if t.cfg.Mode == ModeAPI && connErr != nil {
			res.Level = rotator.LevelFail
			res.Detail = "mode api is configured but the connection cannot be read: " + connErr.Error()
			res.Fix = "set mode: auto or handoff, or fix the app id and permissions"
		}
	default:
		res.Detail = "handoff: " + reason + ". Each rotation waits for an operator to paste the token at " +
			adminConsoleURL(t.cfg.OrgURL, app.Name, t.cfg.AppID) + " and run `scim-rotator rotate --continue`"
	}
	out = append(out, res)

	// The System Log.
	res = rotator.CheckResult{System: System, Target: t.name, Name: "system log"}
	_, err = t.readLogPage(ctx, t.clock.Now().Add(-time.Hour), 1, "ASCENDING")
	if err != nil {
		res.Level, res.Detail, res.Fix = rotator.LevelFail, err.Error(), t.fixFor(err, "okta.logs.read")
		if t.cfg.CanaryUserID != "" {
			// The canary alone can still confirm a rotation.
			res.Level = rotator.LevelWarn
			res.Detail += " (the canary alone can still confirm)"
		}
	} else {
		res.Level = rotator.LevelOK
		res.Detail = "readable: provisioning events of the app confirm a rotation"
	}
	out = append(out, res)

	// The canary.
	res = rotator.CheckResult{System: System, Target: t.name, Name: "canary", Level: rotator.LevelOK}
	if t.cfg.CanaryUserID == "" {
		res.Level = rotator.LevelWarn
		res.Detail = "none: confirmation waits for Okta's own pushes in the System Log, which may not come before confirmTimeout; set canaryUserId to a test user assigned to the app"
	} else {
		u, err := t.getAppUser(ctx, t.cfg.CanaryUserID)
		if err != nil {
			res.Level, res.Detail = rotator.LevelFail, err.Error()
			res.Fix = t.fixFor(err, "okta.apps.read")
			if statusOf(err) == 404 {
				res.Fix = fmt.Sprintf("assign user %s to the app (Assignments tab) or clear canaryUserId", t.cfg.CanaryUserID)
			}
		} else {
			if u.SyncState == "ERROR" {
				// Okta failed its last push to this user; a rotation's
				// confirmation needs a fresh SYNCHRONIZED.
				res.Level = rotator.LevelWarn
				res.Fix = "look at the user's provisioning error in the app's Assignments tab (Okta retries it); a rotation confirms on the next successful push"
			}
			res.Detail = fmt.Sprintf("user %s (%s) is assigned: syncState %s, lastSync %s. ", t.cfg.CanaryUserID, appUserName(u), orUnknown(u.SyncState), fmtTime(u.LastSync)) +
				canaryDuty(t.cfg.CanaryAttribute, t.oauth)
		}
	}
	return append(out, res)
}

// canaryDuty says what each rotation does to the canary, and what that needs
// (not tested here: it would change the user).
func canaryDuty(attr string, oauth bool) string {
	need := "an admin role that may edit the user (Super or Organization Administrator, or Group Administrator of its group; not Application Administrator)"
	if oauth {
		need = "the scope " + canaryScope + " and " + need
	}
	return fmt.Sprintf("Each rotation sets its Okta profile attribute %s to %q to make Okta push it: it must be a dedicated canary user, never a person's account, and %s must be mapped to the app. Changing it needs %s",
		attr, canaryPrefix+"<RFC 3339 time>", attr, need)
}

// fixFor says what to do about a failed read needing scope.
func (t *Target) fixFor(err error, scope string) string {
	switch codeOf(err) {
	case "invalid_scope":
		return fmt.Sprintf("Okta refused to grant the scopes %s: grant all of them to the service app (Applications > the service app > Okta API Scopes)", strings.Join(scopes(t.cfg), ", "))
	case "invalid_client":
		return "Okta refused the service app's client assertion: check clientId, privateKeyFile and privateKeyId against the app's public keys (Applications > the service app > General)"
	}
	switch statusOf(err) {
	case 401:
		if t.oauth {
			return "Okta refused the service app's credentials: check clientId, privateKeyFile and privateKeyId against the app's public keys in Okta (Applications > the service app > General), and that it does not require DPoP"
		}
		return "Okta refused the API token: it is invalid, expired or revoked. Create one in Security > API > Tokens as an admin who can manage this app, and update apiTokenEnv/apiTokenFile"
	case 403:
		if t.oauth {
			return fmt.Sprintf("grant the service app the scopes %s (Applications > the service app > Okta API Scopes) and an admin role that covers this app (Admin roles tab); missing here: %s", strings.Join(scopes(t.cfg), ", "), scope)
		}
		return "the API token acts as its admin: that admin needs a role that can read and edit this app and read the System Log (Super Administrator, or Application Administrator for this app plus Report Administrator)"
	case 404:
		return fmt.Sprintf("app %s does not exist in %s: copy the id from the app's Admin Console URL (.../instance/<appId>/)", t.cfg.AppID, t.cfg.OrgURL)
	case 429:
		return "Okta's rate limit is exhausted: run again after it resets"
	}
	return "check orgUrl and the network path to Okta, then run again"
}

func appUserName(u *okta.AppUser) string {
	if u.Credentials != nil && u.Credentials.UserName != "" {
		return u.Credentials.UserName
	}
	return "no user name"
}

func fmtTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// readLogPage reads one page of the app's System Log.
func (t *Target) readLogPage(ctx context.Context, since time.Time, limit int64, order string) ([]*okta.LogEvent, error) {
	var page []*okta.LogEvent
	err := t.call(ctx, "get logs", throttleRetries, func(ctx context.Context) error {
		var resp *okta.Response
		var err error
		page, resp, err = t.logs.GetLogs(ctx, query.NewQueryParams(
			query.WithSince(since.UTC().Format("2006-01-02T15:04:05.000Z")),
			query.WithFilter(fmt.Sprintf(`target.id eq %q`, t.cfg.AppID)),
			query.WithSortOrder(order),
			query.WithLimit(limit),
		))
		return wrapErr("get system log", resp, err, rotator.Secret{})
	})
	return page, err
}

// Status describes the app, the mode, the connection, the canary and the
// last provisioning event of the past day.
func (t *Target) Status(ctx context.Context) (rotator.SystemStatus, error) {
	st := rotator.SystemStatus{System: System, Target: t.name}
	add := func(k string, v any) { st.Fields = append(st.Fields, rotator.Field{Key: k, Value: v}) }
	add("orgUrl", t.cfg.OrgURL)
	app, err := t.getApp(ctx)
	if err != nil {
		return st, fmt.Errorf("okta status: %w", err)
	}
	add("appId", t.cfg.AppID)
	add("appLabel", app.Label)
	add("appName", app.Name)
	add("appStatus", app.Status)
	add("modeConfigured", t.cfg.Mode)
	var conn *okta.ProvisioningConnection
	var connErr error
	if t.cfg.Mode != ModeHandoff {
		conn, connErr = t.getConnection(ctx)
		if connErr != nil {
			add("connectionError", connErr.Error())
		} else {
			add("connectionAuthScheme", orUnknown(conn.AuthScheme))
			add("connectionStatus", orUnknown(conn.Status))
		}
	}
	if mode, reason, err := decideMode(t.cfg.Mode, app.Name, conn, connErr); err == nil {
		add("mode", mode)
		add("modeReason", reason)
	}
	if t.cfg.CanaryUserID != "" {
		add("canaryUserId", t.cfg.CanaryUserID)
		if u, err := t.getAppUser(ctx, t.cfg.CanaryUserID); err != nil {
			add("canaryError", err.Error())
		} else {
			add("canarySyncState", orUnknown(u.SyncState))
			var last time.Time
			if u.LastSync != nil {
				last = *u.LastSync
			}
			add("canaryLastSync", last)
			add("canaryAttribute", t.cfg.CanaryAttribute)
		}
	}
	events, err := t.readLogPage(ctx, t.clock.Now().Add(-24*time.Hour), 100, "DESCENDING")
	switch {
	case err != nil:
		add("systemLogError", err.Error())
	default:
		// DESCENDING: the first one is the latest; none in the past 24h
		// leaves both fields null.
		var at time.Time
		var detail any
		if evs := logEvidence(events, time.Time{}); len(evs) > 0 {
			at, detail = evs[0].At, evs[0].Detail
		}
		add("lastProvisioningEvent", at)
		add("lastProvisioningEventDetail", detail)
	}
	return st, nil
}
