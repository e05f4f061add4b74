package identitycenter

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

const (
	testRegion  = "eu-west-1"
	testStoreID = "d-1234567890"
	// canary is a token value no output may ever contain.
	canary = "LEAKCANARY-3f9a1c7e5b2d4860"
)

// fakeClock advances only when told; After fires at once and records the
// delay asked for, so retries never wait on the wall clock.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	delays []time.Duration
	// block makes After never fire (to test cancellation during a wait).
	block bool
	// onAfter runs when After is called.
	onAfter func()
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.delays = append(c.delays, d)
	ch := make(chan time.Time, 1)
	if !c.block {
		ch <- c.now.Add(d)
	}
	hook := c.onAfter
	c.mu.Unlock()
	if hook != nil {
		hook()
	}
	return ch
}

func (c *fakeClock) Delays() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.delays...)
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Sync() error { return nil }

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is the sandbox fake behind a TLS httptest server, and an issuer using
// the real signer against it.
type env struct {
	t      *testing.T
	faults *sandbox.Faults
	ic     *sandbox.IdentityCenter
	srv    *httptest.Server
	clock  *fakeClock
	logs   *syncBuffer
	cfg    config.IdentityCenter
	opts   Options
	// seeded are the values of the tokens seeded by seed.
	seeded []string
	// outputs collects every error, status and check text produced, for the
	// leak check.
	outputs []string
}

var epoch = time.Date(2025, 3, 1, 9, 30, 15, 250_000_000, time.UTC)

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, faults: &sandbox.Faults{}, clock: &fakeClock{now: epoch}, logs: &syncBuffer{}}
	e.ic = sandbox.NewIdentityCenter(e.faults, testRegion, testStoreID, e.clock.Now)
	e.srv = httptest.NewTLSServer(e.ic)
	t.Cleanup(e.srv.Close)
	e.ic.SetBaseURL(e.srv.URL)
	e.cfg = config.IdentityCenter{
		Issuer:          config.IssuerIdentityCenter,
		Region:          testRegion,
		IdentityStoreID: testStoreID,
		Endpoint:        e.srv.URL + "/identitystore/",
		// The sandbox's SCIM endpoint is on 127.0.0.1.
		AllowCustomScimEndpoint: true,
	}
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewDevelopmentEncoderConfig()), e.logs, zapcore.DebugLevel)
	e.opts = Options{
		Logger:         zap.New(core),
		HTTPClient:     e.srv.Client(),
		Clock:          e.clock,
		AWSCredentials: sandbox.AWSCredentials(),
	}
	return e
}

// seed adds a token to the fake and remembers its value for the leak check.
func (e *env) seed(created time.Time) (id, value string) {
	id, value = e.ic.SeedToken(created)
	e.seeded = append(e.seeded, value)
	return id, value
}

func (e *env) issuer(mods ...func(*config.IdentityCenter)) *Issuer {
	e.t.Helper()
	cfg := e.cfg
	for _, m := range mods {
		m(&cfg)
	}
	iss, err := New(e.t.Context(), cfg, e.opts)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	return iss
}

// record keeps err's text (and anything else printable) for the leak check.
func (e *env) record(vs ...any) {
	for _, v := range vs {
		switch v := v.(type) {
		case nil:
		case error:
			if v != nil {
				e.outputs = append(e.outputs, v.Error())
			}
		case string:
			e.outputs = append(e.outputs, v)
		default:
			b, _ := json.Marshal(v)
			e.outputs = append(e.outputs, string(b))
		}
	}
}

// assertNoLeak fails if any recorded output or log line holds one of values.
func (e *env) assertNoLeak(values ...string) {
	e.t.Helper()
	all := append([]string{e.logs.String()}, e.outputs...)
	for _, v := range append(append(values, e.seeded...), canary) {
		if v == "" {
			continue
		}
		for _, out := range all {
			if strings.Contains(out, v) {
				e.t.Fatalf("token value leaked into output: %q", out)
			}
		}
	}
}

// stubAPI is a hand-written tokenAPI for the cases the fake cannot produce.
type stubAPI struct {
	tenants []provisioningTenant
	create  createTokenOutput
	calls   int
	// fail is what each operation (opListBearerTokens...) fails with.
	fail map[string]error
}

func (s *stubAPI) credentials(context.Context) (aws.Credentials, error) {
	return aws.Credentials{Source: "stub"}, nil
}

func (s *stubAPI) listProvisioningTenants(context.Context, listTenantsInput) (*listTenantsOutput, error) {
	s.calls++
	if err := s.fail[opListProvisioningTenants]; err != nil {
		return nil, err
	}
	ts := s.tenants
	return &listTenantsOutput{ProvisioningTenants: &ts}, nil
}

func (s *stubAPI) listBearerTokens(context.Context, listTokensInput) (*listTokensOutput, error) {
	s.calls++
	if err := s.fail[opListBearerTokens]; err != nil {
		return nil, err
	}
	return &listTokensOutput{BearerTokens: &[]bearerToken{}}, nil
}

func (s *stubAPI) createBearerToken(context.Context, createTokenInput) (*createTokenOutput, error) {
	s.calls++
	if err := s.fail[opCreateBearerToken]; err != nil {
		return nil, err
	}
	out := s.create
	return &out, nil
}

func (s *stubAPI) deleteBearerToken(context.Context, deleteTokenInput) error {
	s.calls++
	return s.fail[opDeleteBearerToken]
}

var _ rotator.Clock = (*fakeClock)(nil)
