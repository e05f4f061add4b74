package entra

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/internal/retry"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// DefaultPollInterval is how often Confirm reads the job while it waits for a
// sync cycle (cycles run about every 40 minutes; Graph throttles per app).
const DefaultPollInterval = time.Minute

// Options are the target's dependencies.
type Options struct {
	// Logger receives progress lines (never a token). Nil: no logging.
	Logger *zap.Logger
	// HTTPClient carries both the login and the Graph calls (nil: clients
	// over the trust store, with timeouts). Graph's default middleware (retry with Retry-After, gzip)
	// is kept on top of its transport.
	HTTPClient *http.Client
	// Clock paces Confirm's polling. Nil: the wall clock.
	Clock rotator.Clock
	// PollInterval overrides DefaultPollInterval.
	PollInterval time.Duration
	// ConfigKey is the entra block's path in the config file, used in
	// errors about it (default "targets[<name>].entra").
	ConfigKey string
	// Secrets reads the ...SecretsManager keys (the instance's AWS
	// credentials); nil when none is configured.
	Secrets config.SecretReader
}

// Target pushes the token to an Entra enterprise application's provisioning
// connection and proves the provisioning service uses it.
type Target struct {
	name   string
	cfg    Config
	api    graphAPI
	cred   azcore.TokenCredential // nil when built around a bare graphAPI
	scope  string
	log    *zap.Logger
	clock  rotator.Clock
	poll   time.Duration
	mu     sync.Mutex
	jobID  string // configured or discovered
	ruleID string // provisionOnDemand rule, read once from the job schema
}

var (
	_ rotator.Target    = (*Target)(nil)
	_ rotator.Inspector = (*Target)(nil)
)

// consoleLink is the enterprise application's provisioning page in the
// Entra admin center, for alerts.
func (t *Target) consoleLink() rotator.Link {
	return rotator.Link{Text: "Entra provisioning (" + t.name + ")",
		URL: "https://entra.microsoft.com/#view/Microsoft_AAD_IAM/ManagedAppMenuBlade/~/ProvisioningManagement/objectId/" + url.PathEscape(t.cfg.ServicePrincipalID)}
}

// New builds the target from its config: an azidentity credential (client
// secret, client certificate or workload identity) for the configured
// cloud, and a Graph client for the service principal's provisioning.
func New(ctx context.Context, name string, cfg Config, opts Options) (*Target, error) {
	key := opts.ConfigKey
	if key == "" {
		key = "targets[" + name + "].entra"
	}
	ep, custom, err := endpoints(cfg)
	if err != nil {
		return nil, &config.Error{Key: key + ".cloud", Msg: err.Error()}
	}
	// Nothing is called until the target is used, but a credential named
	// by a ...SecretsManager key is read now.
	cred, err := credential(ctx, key, cfg, ep, custom, opts.HTTPClient, opts.Secrets)
	if err != nil {
		return nil, err
	}
	adapter, err := requestAdapter(cred, ep, opts.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("%s: graph client: %w", key, err)
	}
	t := newTarget(name, cfg, newSDKGraph(adapter, cfg.ServicePrincipalID), opts)
	t.cred, t.scope = cred, ep.scope
	return t, nil
}

// newTarget builds the target around any graphAPI.
func newTarget(name string, cfg Config, api graphAPI, opts Options) *Target {
	t := &Target{name: name, cfg: cfg, api: api, log: opts.Logger, clock: opts.Clock, poll: opts.PollInterval, jobID: cfg.JobID}
	if t.log == nil {
		t.log = zap.NewNop()
	}
	t.log = t.log.With(zap.String("target", name), zap.String("service_principal", cfg.ServicePrincipalID))
	if t.clock == nil {
		t.clock = rotator.RealClock{}
	}
	if t.poll <= 0 {
		t.poll = DefaultPollInterval
	}
	return t
}

// Name is the configured target name.
func (t *Target) Name() string { return t.name }

func (t *Target) canary() *Canary {
	if c := t.cfg.Canary; c != nil && c.ObjectID != "" {
		return c
	}
	return nil
}

// Validate asks Entra to test cred against the SCIM endpoint before anything
// is saved (validateCredentials with explicit credentials).
func (t *Target) Validate(ctx context.Context, cred rotator.Credential) error {
	s, err := toSecrets(cred)
	if err != nil {
		return err
	}
	jobID, err := t.job(ctx)
	if err != nil {
		return err
	}
	if err := t.api.ValidateCredentials(ctx, jobID, &s); err != nil {
		return graphErr("test the new token from entra (validateCredentials)", err, s.SecretToken)
	}
	t.log.Info("entra accepted the token in a test connection", zap.String("step", "validate"), zap.String("job_id", jobID), zap.String("token_id", cred.TokenID))
	return nil
}

// Push saves cred as the provisioning connection's BaseAddress and
// SecretToken, then has Entra test the saved credentials. A job quarantined
// because of its credentials (before the rotation, or by a failed sync with
// the token being replaced) is started once afterwards: the new token is the
// cure.
func (t *Target) Push(ctx context.Context, cred rotator.Credential) (rotator.PushResult, error) {
	s, err := toSecrets(cred)
	if err != nil {
		return rotator.PushResult{}, err
	}
	j, err := t.currentJob(ctx)
	if err != nil {
		return rotator.PushResult{}, err
	}
	cure := credentialQuarantine(j)
	if j.Code == "Quarantine" && !cure {
		t.log.Warn("the provisioning job is quarantined for a reason a new token does not cure; leaving it quarantined",
			zap.String("job_id", j.ID), zap.String("quarantine_reason", j.Quarantine.Reason), zap.String("quarantine_error", j.Quarantine.ErrCode))
	}
	if err := t.api.PutSecrets(ctx, s); err != nil {
		return rotator.PushResult{}, graphErr("save the token in entra (PUT synchronization/secrets)", err, s.SecretToken)
	}
	t.log.Info("saved the token in entra", zap.String("step", "push"), zap.String("job_id", j.ID), zap.String("token_id", cred.TokenID))
	if err := t.api.ValidateCredentials(ctx, j.ID, nil); err != nil {
		return rotator.PushResult{}, graphErr("test the saved credentials from entra (validateCredentials)", err, s.SecretToken)
	}
	if cure {
		if err := t.api.Start(ctx, j.ID); err != nil {
			return rotator.PushResult{}, graphErr("start the provisioning job out of quarantine", err, s.SecretToken)
		}
		t.log.Info("started the provisioning job, quarantined because of its credentials", zap.String("step", "push"),
			zap.String("job_id", j.ID), zap.String("quarantine_error", j.Quarantine.ErrCode))
	}
	return rotator.PushResult{}, nil
}

// Test has Entra test the saved credentials against the SCIM endpoint. Graph
// never shows the saved token, so this proves that what is saved works, not
// byte equality with cred.
func (t *Target) Test(ctx context.Context, cred rotator.Credential) error {
	jobID, err := t.job(ctx)
	if err != nil {
		return err
	}
	if err := t.api.ValidateCredentials(ctx, jobID, nil); err != nil {
		return graphErr("test the saved credentials from entra (validateCredentials)", err, cred.Token.Reveal())
	}
	return nil
}

// Confirm proves the provisioning service uses the pushed token: with a
// canary, by provisioning it on demand; without one, by waiting for a sync
// cycle that began at or after req.Since to succeed.
func (t *Target) Confirm(ctx context.Context, req rotator.ConfirmRequest) error {
	jobID, err := t.job(ctx)
	if err != nil {
		return err
	}
	token := req.Credential.Token.Reveal()
	if c := t.canary(); c != nil {
		return t.until(ctx, req, func() (bool, string, error) { return t.provisionCanary(ctx, jobID, c, token) })
	}
	return t.until(ctx, req, func() (bool, string, error) {
		j, err := t.api.GetJob(ctx, jobID)
		if err != nil {
			return false, "", graphErr("read the provisioning job", err, token)
		}
		return cycleVerdict(j, req.Since)
	})
}

// until runs attempt until it proves the sync, fails for good, or the
// deadline passes. Transient errors (throttling after the SDK's own retries,
// 5xx) are waited out, at least as long as Graph's Retry-After asks.
func (t *Target) until(ctx context.Context, req rotator.ConfirmRequest, attempt func() (bool, string, error)) error {
	p := retry.Policy{Clock: t.clock, Deadline: req.Deadline,
		Delay: func(_ int, err error) (time.Duration, bool) {
			var w *waiting
			if !errors.As(err, &w) && !rotator.IsTransient(err) {
				return 0, false
			}
			return max(t.poll, retryAfter(err)), true
		},
		OnWait: func(_ int, wait time.Duration, err error) {
			t.log.Debug("waiting for entra to sync", zap.String("step", "confirm"), zap.String("detail", err.Error()), zap.Duration("wait", wait))
			req.Report(err.Error(), t.clock.Now().Add(wait))
		},
		Beat: rotator.WaitBeat,
	}
	res, err := p.Do(ctx, func(context.Context) error {
		done, detail, err := attempt()
		switch {
		case done && err == nil:
			t.log.Info("entra confirmed a sync with the new token", zap.String("step", "confirm"), zap.String("detail", detail))
			return nil
		case err != nil:
			return err
		}
		return &waiting{detail: detail}
	})
	switch {
	case res.Stop == retry.StopDeadline:
		return fmt.Errorf("confirm entra sync: %s: %w", err.Error(), rotator.ErrConfirmTimeout)
	case res.Stop == retry.StopCanceled:
		return fmt.Errorf("confirm entra sync: %w", ctx.Err())
	case err != nil:
		return fmt.Errorf("confirm entra sync: %w", err)
	}
	return nil
}

// waiting is a look at the job that proved nothing yet; its detail says
// what was seen.
type waiting struct{ detail string }

func (w *waiting) Error() string { return w.detail }

// cycleVerdict reads a job after a push: done when a cycle that began after
// since succeeded and the job is Active without quarantine; an error wrapping
// ErrTokenRejected when such a cycle failed on credentials, or the job was
// quarantined for them after since. EntryLevelErrors counts as success: the
// endpoint accepted the token and refused only some entries, which a token
// cannot fix.
func cycleVerdict(j job, since time.Time) (bool, string, error) {
	last := j.Last
	if last != nil && last.Began.After(since) {
		at := last.Began.UTC().Format(time.RFC3339)
		switch {
		case (last.State == "Succeeded" || last.State == "EntryLevelErrors") && j.Code == "Active" && j.Quarantine == nil:
			return true, fmt.Sprintf("sync cycle began %s: %s", at, last.State), nil
		case credentialFailure(last):
			return false, "", fmt.Errorf("sync cycle began %s failed on credentials (job %s): %s: %s: %w", at, j.Code, last.ErrCode, last.ErrMsg, rotator.ErrTokenRejected)
		}
	}
	if credentialQuarantine(j) && j.Quarantine.Began.After(since) {
		q := j.Quarantine
		return false, "", fmt.Errorf("job quarantined since %s because of its credentials: %s: %s: %w", q.Began.UTC().Format(time.RFC3339), q.ErrCode, q.ErrMsg, rotator.ErrTokenRejected)
	}
	began := "never"
	if last != nil {
		began = last.Began.UTC().Format(time.RFC3339) + " (" + last.State + ")"
	}
	return false, fmt.Sprintf("no sync cycle has begun since the push at %s (last began %s, job %s)", since.UTC().Format(time.RFC3339), began, j.Code), nil
}

// job returns the configured job id, or the one job the service principal
// has.
func (t *Target) job(ctx context.Context) (string, error) {
	t.mu.Lock()
	id := t.jobID
	t.mu.Unlock()
	if id != "" {
		return id, nil
	}
	j, err := t.currentJob(ctx)
	return j.ID, err
}

// currentJob reads the job, discovering it when no jobId is configured.
func (t *Target) currentJob(ctx context.Context) (job, error) {
	t.mu.Lock()
	id := t.jobID
	t.mu.Unlock()
	if id != "" {
		j, err := t.api.GetJob(ctx, id)
		if err != nil {
			return job{}, graphErr("read provisioning job "+id, err)
		}
		return j, nil
	}
	jobs, err := t.api.ListJobs(ctx)
	if err != nil {
		return job{}, graphErr("list the provisioning jobs", err)
	}
	j, err := pickJob(t.cfg.ServicePrincipalID, jobs)
	if err != nil {
		return job{}, err
	}
	t.mu.Lock()
	t.jobID = j.ID
	t.mu.Unlock()
	return j, nil
}

func pickJob(sp string, jobs []job) (job, error) {
	switch len(jobs) {
	case 0:
		return job{}, fmt.Errorf("service principal %s has no provisioning job: set up provisioning in the enterprise application first", sp)
	case 1:
		return jobs[0], nil
	}
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	return job{}, fmt.Errorf("service principal %s has %d provisioning jobs (%s): set jobId to one of them", sp, len(jobs), strings.Join(ids, ", "))
}

func toSecrets(cred rotator.Credential) (secrets, error) {
	switch {
	case cred.Token.IsZero():
		return secrets{}, errors.New("entra: refusing an empty token")
	case cred.SCIMEndpoint == "":
		return secrets{}, errors.New("entra: refusing an empty SCIM endpoint")
	}
	return secrets{BaseAddress: cred.SCIMEndpoint, SecretToken: cred.Token.Reveal()}, nil
}

// Abilities: with a canary, Confirm provisions it on demand, so the SCIM
// calls that follow show which token Entra really sends; alerts link the
// provisioning page.
func (t *Target) Abilities() rotator.Abilities {
	link := t.consoleLink()
	return rotator.Abilities{Canary: t.cfg.Canary != nil, Console: &link}
}
