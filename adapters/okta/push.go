package okta

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/okta/okta-sdk-golang/v2/okta"
	"github.com/okta/okta-sdk-golang/v2/okta/query"
	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/rotator"
)

// Connection values Okta documents.
const (
	authToken     = "TOKEN"
	authOAuth2    = "OAUTH2"
	authUnknown   = "UNKNOWN"
	statusEnabled = "ENABLED"
)

// tokenApps are the apps for which Okta documents TOKEN auth in its
// Application Connections API.
var tokenApps = []string{"okta_org2org", "zscalerbyz"}

// appInfo is what the preflight learned about the app.
type appInfo struct {
	ID, Name, Label, Status string
}

// decision is how this app's token gets changed, and why.
type decision struct {
	Mode   string // ModeAPI or ModeHandoff
	Reason string
	App    appInfo
	// Conn is the connection as the preflight read it (nil if unreadable).
	Conn *okta.ProvisioningConnection
}

// decideMode is the pure decision of mode auto (and the sanity check of a
// configured mode). connErr is the error of GET .../connections/default.
//
//	configured  connection answer                      mode
//	api         anything                               api
//	handoff     anything                               handoff
//	auto        authScheme TOKEN                       api
//	auto        OAUTH2                                 handoff (not a token)
//	auto        UNKNOWN or empty, app documented       api (not configured yet)
//	auto        UNKNOWN or empty, app not documented   handoff
//	auto        HTTP 400 or 404                        handoff (API does not manage the app)
//	auto        any other error                        no decision (error)
func decideMode(configured, appName string, conn *okta.ProvisioningConnection, connErr error) (mode, reason string, err error) {
	switch configured {
	case ModeAPI:
		return ModeAPI, "mode api is configured", nil
	case ModeHandoff:
		return ModeHandoff, "mode handoff is configured", nil
	}
	documented := slices.Contains(tokenApps, appName)
	if connErr != nil {
		switch statusOf(connErr) {
		case 400, 404:
			return ModeHandoff, fmt.Sprintf("Okta's connections API does not manage app %s (%v)", appName, connErr), nil
		}
		return "", "", connErr
	}
	scheme := ""
	if conn != nil {
		scheme = conn.AuthScheme
	}
	switch {
	case scheme == authToken:
		return ModeAPI, fmt.Sprintf("the app's provisioning connection takes a token through Okta's API (authScheme TOKEN, status %s)", conn.Status), nil
	case scheme == authOAuth2:
		return ModeHandoff, "the app's provisioning connection uses OAuth 2.0, not a token", nil
	case documented:
		return ModeAPI, fmt.Sprintf("Okta documents token auth in its connections API for %s (connection not configured yet: authScheme %q)", appName, scheme), nil
	}
	return ModeHandoff, fmt.Sprintf("Okta's connections API answers authScheme %s for app %s: Okta documents API token auth only for %s, so the token has to be pasted in the Admin Console",
		orUnknown(scheme), orUnknown(appName), strings.Join(tokenApps, ", ")), nil
}

func orUnknown(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// preflight reads the app and its connection (read-only) and decides the
// mode. A hand-off configured explicitly needs only the app's name.
func (t *Target) preflight(ctx context.Context) (*decision, error) {
	app, err := t.getApp(ctx)
	if err != nil {
		return nil, err
	}
	d := &decision{App: app}
	var connErr error
	if t.cfg.Mode != ModeHandoff {
		d.Conn, connErr = t.getConnection(ctx)
	}
	d.Mode, d.Reason, err = decideMode(t.cfg.Mode, app.Name, d.Conn, connErr)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// resolve returns the decision for this process: the cached one, or a new
// preflight. A fallback after a rejected api push overrides it.
func (t *Target) resolve(ctx context.Context) (*decision, error) {
	t.mu.Lock()
	d, fellBack := t.decided, t.fellBack
	t.mu.Unlock()
	if d == nil {
		var err error
		if d, err = t.preflight(ctx); err != nil {
			return nil, err
		}
		t.mu.Lock()
		t.decided = d
		t.mu.Unlock()
		t.log.Info("okta provisioning mode", zap.String("configured", t.cfg.Mode), zap.String("mode", d.Mode), zap.String("reason", d.Reason))
	}
	if fellBack != "" {
		c := *d
		c.Mode, c.Reason = ModeHandoff, fellBack
		return &c, nil
	}
	return d, nil
}

func (t *Target) getApp(ctx context.Context) (appInfo, error) {
	var a okta.App
	err := t.call(ctx, "get app", throttleRetries, func(ctx context.Context) error {
		var resp *okta.Response
		var err error
		a, resp, err = t.apps.GetApplication(ctx, t.cfg.AppID, okta.NewApplication(), nil)
		return wrapErr("get app "+t.cfg.AppID, resp, err, rotator.Secret{})
	})
	if err != nil {
		return appInfo{}, err
	}
	app, ok := a.(*okta.Application)
	if !ok || app == nil {
		return appInfo{}, fmt.Errorf("get app %s: unexpected answer type %T", t.cfg.AppID, a)
	}
	return appInfo{ID: app.Id, Name: app.Name, Label: app.Label, Status: app.Status}, nil
}

func (t *Target) getConnection(ctx context.Context) (*okta.ProvisioningConnection, error) {
	var c *okta.ProvisioningConnection
	err := t.call(ctx, "get connection", throttleRetries, func(ctx context.Context) error {
		var resp *okta.Response
		var err error
		c, resp, err = t.apps.GetDefaultProvisioningConnectionForApplication(ctx, t.cfg.AppID)
		return wrapErr("get provisioning connection of app "+t.cfg.AppID, resp, err, rotator.Secret{})
	})
	if err == nil && c == nil {
		c = &okta.ProvisioningConnection{}
	}
	return c, err
}

// Validate returns nil: Okta has no way to test a token without saving it.
func (t *Target) Validate(context.Context, rotator.Credential) error { return nil }

// Push makes the app hold cred. In api mode it sets the token with the
// connections API and verifies the connection; in handoff mode it returns
// what an operator has to do. In auto mode an api push that Okta refuses
// (400/403/404, or a connection that is not ENABLED with TOKEN afterwards)
// becomes a hand-off. A credential without a token only describes the
// hand-off (the core's reminder on later runs).
func (t *Target) Push(ctx context.Context, cred rotator.Credential) (rotator.PushResult, error) {
	if cred.Token.IsZero() {
		return rotator.PushResult{}, fmt.Errorf("okta app %s: refusing to push an empty token", t.cfg.AppID)
	}
	d, err := t.resolve(ctx)
	if err != nil {
		if t.cfg.Mode == ModeHandoff {
			// A hand-off can do without the app's name.
			return rotator.PushResult{Handoff: t.handoff(nil, cred)}, nil
		}
		return rotator.PushResult{}, fmt.Errorf("okta preflight of app %s: %w", t.cfg.AppID, err)
	}
	if d.Mode == ModeHandoff {
		t.log.Info("okta token change handed to an operator", zap.String("reason", d.Reason), zap.String("token_id", cred.TokenID))
		return rotator.PushResult{Handoff: t.handoff(d, cred)}, nil
	}

	err = t.pushAPI(ctx, cred)
	if err == nil {
		t.log.Info("okta provisioning connection holds the new token (ENABLED, TOKEN)", zap.String("token_id", cred.TokenID))
		return rotator.PushResult{}, nil
	}
	if t.cfg.Mode == ModeAuto && rejected(err) {
		reason := "Okta refused the token through its connections API: " + err.Error()
		if statusOf(err) == 403 {
			reason += " (to use the API, grant okta.apps.manage or an admin role that can edit this app)"
		}
		t.mu.Lock()
		t.fellBack = reason
		t.mu.Unlock()
		t.log.Warn("okta api push rejected; falling back to a hand-off", zap.String("reason", reason), zap.String("token_id", cred.TokenID))
		c := *d
		c.Mode, c.Reason = ModeHandoff, reason
		return rotator.PushResult{Handoff: t.handoff(&c, cred)}, nil
	}
	return rotator.PushResult{}, fmt.Errorf("push token %s to okta app %s: %w", cred.TokenID, t.cfg.AppID, err)
}

// ConnectionStateError is a connection that is not ENABLED with TOKEN auth
// where it should be.
type ConnectionStateError struct {
	AuthScheme, Status string
}

func (e *ConnectionStateError) Error() string {
	return fmt.Sprintf("the app's provisioning connection is authScheme %s, status %s; want TOKEN and ENABLED", orUnknown(e.AuthScheme), orUnknown(e.Status))
}

// rejected reports whether Okta refused an api push (as opposed to failing
// transiently): a 400, 403 or 404 answer, or a connection left in the wrong
// state.
func rejected(err error) bool {
	var cse *ConnectionStateError
	if errors.As(err, &cse) {
		return true
	}
	switch statusOf(err) {
	case 400, 403, 404:
		return true
	}
	return false
}

// pushAPI sets the token and activates the connection, then reads it back.
func (t *Target) pushAPI(ctx context.Context, cred rotator.Credential) error {
	err := t.call(ctx, "set connection", throttleRetries, func(ctx context.Context) error {
		body := okta.ProvisioningConnectionRequest{Profile: &okta.ProvisioningConnectionProfile{AuthScheme: authToken, Token: cred.Token.Reveal()}}
		_, resp, err := t.apps.SetDefaultProvisioningConnectionForApplication(ctx, t.cfg.AppID, body, query.NewQueryParams(query.WithActivate(true)))
		return wrapErr("set provisioning connection of app "+t.cfg.AppID, resp, err, cred.Token)
	})
	if err != nil {
		return err
	}
	return t.verifyConnection(ctx)
}

// verifyConnection requires the connection to be ENABLED with TOKEN auth.
func (t *Target) verifyConnection(ctx context.Context) error {
	c, err := t.getConnection(ctx)
	if err != nil {
		return fmt.Errorf("verify the connection: %w", err)
	}
	if c.AuthScheme != authToken || c.Status != statusEnabled {
		return &ConnectionStateError{AuthScheme: c.AuthScheme, Status: c.Status}
	}
	return nil
}

// Test checks that the app took the token: in api mode the connection must
// be ENABLED with TOKEN auth (Okta never returns the token, and activating a
// connection is not documented to test it against the SCIM endpoint); in
// handoff mode there is nothing to read, and Confirm does the proving.
func (t *Target) Test(ctx context.Context, cred rotator.Credential) error {
	d, err := t.resolve(ctx)
	if err != nil {
		return fmt.Errorf("okta preflight of app %s: %w", t.cfg.AppID, err)
	}
	if d.Mode == ModeHandoff {
		return nil
	}
	if err := t.verifyConnection(ctx); err != nil {
		return fmt.Errorf("test okta app %s after pushing token %s: %w", t.cfg.AppID, cred.TokenID, err)
	}
	return nil
}

// DescribeHandoff describes the hand-off again, for the reminders of later
// runs (rotator.HandoffDescriber). It reads, and changes nothing.
func (t *Target) DescribeHandoff(ctx context.Context) (*rotator.Handoff, error) {
	d, err := t.resolve(ctx)
	if err != nil {
		d = nil // a reminder can do without the app's name
	}
	return t.handoff(d, rotator.Credential{}), nil
}

// handoff describes the operator's change in the one wording of a paste
// (adapters/handoff). It never holds the token: the core adds the command
// that prints it from the store.
func (t *Target) handoff(d *decision, cred rotator.Credential) *rotator.Handoff {
	appName, label := "", t.cfg.AppID
	if d != nil {
		appName = d.App.Name
		if d.App.Label != "" {
			label = fmt.Sprintf("%q (%s)", d.App.Label, t.cfg.AppID)
		}
	}
	console := adminConsoleURL(t.cfg.OrgURL, appName, t.cfg.AppID)
	where := fmt.Sprintf("the Okta Admin Console's Applications > %s > Provisioning > Integration", label)
	if appName == "" {
		where = fmt.Sprintf("the Okta Admin Console's Applications, search for app id %s, then Provisioning > Integration", t.cfg.AppID)
	}
	why := ""
	if d != nil {
		why = d.Reason
	}
	return rotator.Paste{
		ConsoleURL: console, Where: where, Before: []string{"Click Edit"},
		EndpointField: "the Base URL", SCIMEndpoint: cred.SCIMEndpoint,
		Field: "API Token", TokenID: cred.TokenID,
		After: []string{
			"Click Test API Credentials and wait for Okta's success message (if it fails, do not save: the old token keeps working)",
			"Click Save",
		},
		Why: why,
	}.Handoff()
}
