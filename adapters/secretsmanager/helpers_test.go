package secretsmanager

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

const (
	testRegion = "eu-west-1"
	testSecret = "scim-rotator/token"
	canary     = "LEAKCANARY"
)

// env is one fake Secrets Manager behind TLS, a buffer logger, and
// everything the adapters produced, for the leak check.
type env struct {
	t      *testing.T
	fake   *sandbox.SecretsManager
	faults *sandbox.Faults
	srv    *httptest.Server
	logs   *syncBuffer

	mu       sync.Mutex
	produced []string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, faults: &sandbox.Faults{}, logs: &syncBuffer{}}
	e.fake = sandbox.NewSecretsManager(e.faults, testRegion, nil)
	e.srv = httptest.NewTLSServer(e.fake)
	t.Cleanup(e.srv.Close)
	t.Cleanup(e.assertNoLeak)
	return e
}

// opts are the options the sandbox would pass, plus no backoff between the
// SDK's retries so that tests do not wait.
func (e *env) opts(extra ...func(*sm.Options)) Options {
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(e.logs), zap.DebugLevel))
	return Options{
		Logger:         log,
		HTTPClient:     e.srv.Client(),
		Clock:          rotator.RealClock{},
		AWSCredentials: sandbox.AWSCredentials(),
		sdkOptions: append([]func(*sm.Options){func(o *sm.Options) {
			o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
				so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			})
		}}, extra...),
	}
}

func (e *env) store(extra ...func(*sm.Options)) *Store {
	e.t.Helper()
	s, err := NewStore(e.t.Context(), config.Store{SecretID: testSecret, Region: testRegion, Endpoint: e.srv.URL}, e.opts(extra...))
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// note records something an adapter produced (an error, a status, check
// results) for the leak check.
func (e *env) note(v any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch x := v.(type) {
	case nil:
	case error:
		e.produced = append(e.produced, x.Error())
	default:
		b, _ := json.Marshal(x)
		e.produced = append(e.produced, string(b), fmt.Sprintf("%+v", x))
	}
}

func (e *env) assertNoLeak() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range append(e.produced, e.logs.String()) {
		if strings.Contains(p, canary) {
			e.t.Errorf("a token value leaked: %s", p)
		}
	}
}

// must fails the test on err (after noting it).
func (e *env) must(err error) {
	e.t.Helper()
	e.note(err)
	if err != nil {
		e.t.Fatal(err)
	}
}

func record(id, value string) rotator.Record {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return rotator.Record{
		Token: rotator.Token{
			TokenInfo: rotator.TokenInfo{ID: id, Created: created, Expires: created.AddDate(1, 0, 0)},
			Value:     rotator.NewSecret(canary + "-" + value),
		},
		SCIMEndpoint: "https://scim.eu-west-1.amazonaws.com/abc/scim/v2/",
		Recorded:     created.Add(time.Minute),
	}
}

// rotation ids as the core makes them: 32-64 characters.
const (
	rot1 = "11111111-1111-4111-8111-111111111111"
	rot2 = "22222222-2222-4222-8222-222222222222"
)
