package identitycenter

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// Manual is the `manual` issuer: it knows the tenant and its SCIM endpoint
// from the configuration, and has no token API (Tokens is nil): a human
// lists, creates and deletes tokens in the IAM Identity Center console.
// It makes no AWS call.
type Manual struct {
	cfg    config.IdentityCenter
	tenant rotator.Tenant
	log    *zap.Logger
}

var (
	_ rotator.Issuer    = (*Manual)(nil)
	_ rotator.Inspector = (*Manual)(nil)
)

// NewManual builds the manual issuer. The SCIM endpoint is cfg.SCIMEndpoint,
// or the documented https://scim.{region}.amazonaws.com/{tenantId}/scim/v2/
// built from cfg.Region and cfg.TenantID.
func NewManual(cfg config.IdentityCenter, opts Options) (*Manual, error) {
	opts = opts.withDefaults()
	t := rotator.Tenant{ID: cfg.TenantID}
	switch {
	case cfg.SCIMEndpoint != "":
		u, err := url.Parse(cfg.SCIMEndpoint)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("manual issuer: scimEndpoint %q is not an absolute URL", cfg.SCIMEndpoint)
		}
		t.SCIMEndpoint = withSlash(cfg.SCIMEndpoint)
		if t.ID == "" {
			// https://scim.{region}.amazonaws.com/{tenantId}/scim/v2/
			t.ID, _, _ = strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
		}
	case cfg.TenantID != "" && cfg.Region != "":
		t.SCIMEndpoint = SCIMEndpointFor(cfg.Region, cfg.TenantID)
	default:
		return nil, fmt.Errorf("manual issuer: set identityCenter.scimEndpoint, or identityCenter.region and identityCenter.tenantId")
	}
	return &Manual{cfg: cfg, tenant: t, log: opts.Logger}, nil
}

// Tenant returns the configured tenant.
func (m *Manual) Tenant(context.Context) (rotator.Tenant, error) { return m.tenant, nil }

// Tokens is nil: the manual issuer has no token API. A human generates and
// deletes tokens in the console and stages them (`scim-rotator stage`).
func (m *Manual) Tokens() rotator.TokenAPI { return nil }

// Check reports the configured tenant; there is nothing remote to call.
func (m *Manual) Check(context.Context) []rotator.CheckResult {
	return []rotator.CheckResult{{
		System: System,
		Name:   "manual issuer",
		Level:  rotator.LevelOK,
		Detail: fmt.Sprintf("tenant %s, SCIM endpoint %s; tokens are generated and deleted by hand in the IAM Identity Center console", orUnknown(m.tenant.ID), m.tenant.SCIMEndpoint),
	}}
}

// Status describes the configured tenant.
func (m *Manual) Status(context.Context) (rotator.SystemStatus, error) {
	return rotator.SystemStatus{System: System, Fields: []rotator.Field{
		{Key: "issuer", Value: config.IssuerManual},
		{Key: "region", Value: m.cfg.Region},
		{Key: "identityStoreId", Value: m.cfg.IdentityStoreID},
		{Key: "tenantId", Value: orUnknown(m.tenant.ID)},
		{Key: "scimEndpoint", Value: m.tenant.SCIMEndpoint},
		// Tokens are not visible to the manual issuer: the console shows them
		// (Settings > Identity source > Automatic provisioning).
		{Key: "tokensVisible", Value: false},
	}}, nil
}
