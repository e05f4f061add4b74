package identitycenter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/rotator"
)

// proveTimeout bounds one proof: the endpoint answers in well under a second
// (a var: the hang test shortens it).
var proveTimeout = 15 * time.Second

// Prover proves a token against the SCIM endpoint itself with the cheapest
// documented call, GET {endpoint}ServiceProviderConfig: 200 with a valid
// token, 401 without one.
type Prover struct {
	http      *http.Client
	log       *zap.Logger
	userAgent string
}

var _ rotator.Prover = (*Prover)(nil)

// NewProver returns a Prover sending with opts.HTTPClient.
func NewProver(opts Options) *Prover {
	opts = opts.withDefaults()
	return &Prover{http: opts.HTTPClient, log: opts.Logger, userAgent: rotator.UserAgentPrefix + opts.Version}
}

// ProveToken returns nil on 200, an error wrapping rotator.ErrTokenRejected
// on 401/403, a (permanent) error on a redirect, and a transient error
// otherwise.
func (p *Prover) ProveToken(ctx context.Context, cred rotator.Credential) error {
	if cred.SCIMEndpoint == "" {
		return fmt.Errorf("prove token: no SCIM endpoint")
	}
	if cred.Token.IsZero() {
		return fmt.Errorf("prove token %s: %w: empty token", cred.TokenID, rotator.ErrTokenRejected)
	}
	ctx, cancel := context.WithTimeout(ctx, proveTimeout)
	defer cancel()
	u := withSlash(cred.SCIMEndpoint) + "ServiceProviderConfig"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("prove token: build request for %s: %w", u, err)
	}
	req.Header.Set("Authorization", "Bearer "+cred.Token.Reveal())
	req.Header.Set("Accept", "application/scim+json, application/json")
	// The product's own calls must never count as use of a token.
	req.Header.Set("User-Agent", p.userAgent)
	resp, err := p.http.Do(req)
	if err != nil {
		return rotator.Transient(fmt.Errorf("prove token %s at %s: %w", cred.TokenID, u, err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	p.log.Debug("proved token against scim endpoint", zap.String("token_id", cred.TokenID), zap.Int("status", resp.StatusCode))
	switch {
	case resp.StatusCode == http.StatusOK:
		return nil
	case resp.StatusCode >= 300 && resp.StatusCode <= 399:
		// Never followed (the client refuses redirects: the token would go
		// along); an endpoint that redirects is not the SCIM endpoint.
		return fmt.Errorf("prove token %s at %s: HTTP %d redirect refused: the SCIM endpoint must answer itself", cred.TokenID, u, resp.StatusCode)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("prove token %s at %s: %w: HTTP %d%s", cred.TokenID, u, rotator.ErrTokenRejected, resp.StatusCode, scimDetail(body, cred.Token))
	default:
		return rotator.Transient(fmt.Errorf("prove token %s at %s: HTTP %d%s", cred.TokenID, u, resp.StatusCode, scimDetail(body, cred.Token)))
	}
}

// scimDetail returns ": <detail>" from a SCIM error body, scrubbed of the
// token value in case an endpoint echoes it.
func scimDetail(body []byte, token rotator.Secret) string {
	var e struct {
		Detail string `json:"detail"`
	}
	if json.Unmarshal(body, &e) != nil || e.Detail == "" {
		return ""
	}
	d := e.Detail
	if v := token.Reveal(); v != "" {
		d = strings.ReplaceAll(d, v, "[redacted]")
	}
	return ": " + printable(truncate(d, 200))
}
