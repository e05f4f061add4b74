package metrics

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/internal/safehttp/safehttptest"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// The production path: the Pushgateway's CA only in AWS_CA_BUNDLE (the one
// trust store every client shares), over https with basic auth.
func TestProductionPathPush(t *testing.T) {
	m, reg := newTest(t)
	m.RotationDone(rotator.ReasonRotated)
	pg := &pushgateway{}
	srv := safehttptest.Production(t, pg)
	if err := Push(t.Context(), Pushgateway{URL: srv.URL, Username: "ci", Password: rotator.NewSecret("pw")}, "scim-rotator", "prod", reg); err != nil {
		t.Fatalf("push over the production path: %v", err)
	}
	if pg.families[NameRotations] == nil || pg.auth == "" {
		t.Fatalf("the pushgateway got families %v, Authorization %q", keys(pg.families), pg.auth)
	}
}

// A Pushgateway that accepts the connection and never answers: the push
// ends with its timeout.
func TestPushHangTimesOut(t *testing.T) {
	defer func(d time.Duration) { pushTimeout = d }(pushTimeout)
	pushTimeout = time.Second
	_, reg := newTest(t)
	srv := safehttptest.Hanging(t)
	err := Push(t.Context(), Pushgateway{URL: srv.URL}, "scim-rotator", "prod", reg)
	if !errors.Is(err, context.DeadlineExceeded) && (err == nil || !strings.Contains(err.Error(), "Timeout")) {
		t.Fatalf("a hanging pushgateway: %v, want a timeout", err)
	}
}
