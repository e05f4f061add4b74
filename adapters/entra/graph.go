package entra

import (
	"context"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"
)

// graphAPI is the slice of Microsoft Graph the target uses: one service
// principal's provisioning. sdkGraph implements it with msgraph-sdk-go; the
// methods speak plain Go types so the target's logic reads without the SDK's
// pointer-heavy models.
type graphAPI interface {
	ListJobs(ctx context.Context) ([]job, error)
	GetJob(ctx context.Context, jobID string) (job, error)
	// ValidateCredentials tests explicit credentials when creds is non-nil,
	// the saved ones otherwise.
	ValidateCredentials(ctx context.Context, jobID string, creds *secrets) error
	PutSecrets(ctx context.Context, s secrets) error
	Start(ctx context.Context, jobID string) error
	RuleIDs(ctx context.Context, jobID string) ([]string, error)
	ProvisionOnDemand(ctx context.Context, jobID, ruleID, objectID, objectType string) (key, value string, err error)
	// Assignment returns the principal type and display name of objectID's
	// assignment to the application; found is false when it has none.
	Assignment(ctx context.Context, objectID string) (principalType, displayName string, found bool, err error)
}

// secrets are the two provisioning secrets the target writes, always together.
type secrets struct {
	BaseAddress string
	SecretToken string // revealed token: never logged, never in an error
}

// job is what the target reads of a synchronization job.
type job struct {
	ID            string
	TemplateID    string
	Code          string // NotConfigured | NotRun | Active | Paused | Quarantine ("" if unknown)
	Interval      time.Duration
	ScheduleState string
	Last          *execution
	LastSuccess   *execution
	Quarantine    *quarantine
}

type execution struct {
	State   string // Succeeded | Failed | EntryLevelErrors
	Began   time.Time
	Ended   time.Time
	ErrCode string
	ErrMsg  string
}

type quarantine struct {
	Reason      string
	ErrCode     string
	ErrMsg      string
	Began       time.Time
	NextAttempt time.Time
	SeriesCount int64
}

// sdkGraph is graphAPI over msgraph-sdk-go, scoped to one service principal.
type sdkGraph struct {
	sync *serviceprincipals.ItemSynchronizationRequestBuilder
	sp   *serviceprincipals.ServicePrincipalItemRequestBuilder
}

func newSDKGraph(adapter abstractions.RequestAdapter, spID string) *sdkGraph {
	sp := serviceprincipals.NewServicePrincipalsRequestBuilderInternal(
		map[string]string{"baseurl": adapter.GetBaseUrl()}, adapter).ByServicePrincipalId(spID)
	return &sdkGraph{sp: sp, sync: sp.Synchronization()}
}

func (g *sdkGraph) jobItem(id string) *serviceprincipals.ItemSynchronizationJobsSynchronizationJobItemRequestBuilder {
	return g.sync.Jobs().BySynchronizationJobId(id)
}

func (g *sdkGraph) ListJobs(ctx context.Context) ([]job, error) {
	resp, err := g.sync.Jobs().Get(ctx, nil)
	if err != nil {
		return nil, err
	}
	var out []job
	for _, j := range resp.GetValue() {
		out = append(out, jobFromModel(j))
	}
	return out, nil
}

func (g *sdkGraph) GetJob(ctx context.Context, jobID string) (job, error) {
	j, err := g.jobItem(jobID).Get(ctx, nil)
	if err != nil {
		return job{}, err
	}
	return jobFromModel(j), nil
}

func secretPairs(s secrets) []models.SynchronizationSecretKeyStringValuePairable {
	pair := func(k models.SynchronizationSecret, v string) models.SynchronizationSecretKeyStringValuePairable {
		p := models.NewSynchronizationSecretKeyStringValuePair()
		p.SetKey(&k)
		p.SetValue(&v)
		return p
	}
	return []models.SynchronizationSecretKeyStringValuePairable{
		pair(models.BASEADDRESS_SYNCHRONIZATIONSECRET, s.BaseAddress),
		pair(models.SECRETTOKEN_SYNCHRONIZATIONSECRET, s.SecretToken),
	}
}

func (g *sdkGraph) ValidateCredentials(ctx context.Context, jobID string, creds *secrets) error {
	body := serviceprincipals.NewItemSynchronizationJobsItemValidateCredentialsPostRequestBody()
	saved := creds == nil
	body.SetUseSavedCredentials(&saved)
	if creds != nil {
		body.SetCredentials(secretPairs(*creds))
	}
	return g.jobItem(jobID).ValidateCredentials().Post(ctx, body, nil)
}

func (g *sdkGraph) PutSecrets(ctx context.Context, s secrets) error {
	body := serviceprincipals.NewItemSynchronizationSecretsPutRequestBody()
	body.SetValue(secretPairs(s))
	_, err := g.sync.Secrets().PutAsSecretsPutResponse(ctx, body, nil)
	return err
}

func (g *sdkGraph) Start(ctx context.Context, jobID string) error {
	return g.jobItem(jobID).Start().Post(ctx, nil)
}

func (g *sdkGraph) RuleIDs(ctx context.Context, jobID string) ([]string, error) {
	schema, err := g.jobItem(jobID).Schema().Get(ctx, nil)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, r := range schema.GetSynchronizationRules() {
		if id := deref(r.GetId()); id != "" {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func (g *sdkGraph) ProvisionOnDemand(ctx context.Context, jobID, ruleID, objectID, objectType string) (string, string, error) {
	subject := models.NewSynchronizationJobSubject()
	subject.SetObjectId(&objectID)
	subject.SetObjectTypeName(&objectType)
	param := models.NewSynchronizationJobApplicationParameters()
	param.SetRuleId(&ruleID)
	param.SetSubjects([]models.SynchronizationJobSubjectable{subject})
	body := serviceprincipals.NewItemSynchronizationJobsItemProvisionOnDemandPostRequestBody()
	body.SetParameters([]models.SynchronizationJobApplicationParametersable{param})
	resp, err := g.jobItem(jobID).ProvisionOnDemand().Post(ctx, body, nil)
	if err != nil {
		return "", "", err
	}
	if resp == nil {
		return "", "", nil
	}
	return deref(resp.GetKey()), deref(resp.GetValue()), nil
}

func (g *sdkGraph) Assignment(ctx context.Context, objectID string) (string, string, bool, error) {
	filter := "principalId eq " + objectID
	resp, err := g.sp.AppRoleAssignedTo().Get(ctx, &serviceprincipals.ItemAppRoleAssignedToRequestBuilderGetRequestConfiguration{
		QueryParameters: &serviceprincipals.ItemAppRoleAssignedToRequestBuilderGetQueryParameters{Filter: &filter},
	})
	if err != nil {
		return "", "", false, err
	}
	for _, a := range resp.GetValue() {
		if id := a.GetPrincipalId(); id != nil && id.String() == objectID {
			return deref(a.GetPrincipalType()), deref(a.GetPrincipalDisplayName()), true, nil
		}
	}
	return "", "", false, nil
}

func jobFromModel(m models.SynchronizationJobable) job {
	j := job{ID: deref(m.GetId()), TemplateID: deref(m.GetTemplateId())}
	if s := m.GetSchedule(); s != nil {
		if iv := s.GetInterval(); iv != nil {
			if d, err := iv.ToDuration(); err == nil {
				j.Interval = d
			}
		}
		if st := s.GetState(); st != nil {
			j.ScheduleState = st.String()
		}
	}
	st := m.GetStatus()
	if st == nil {
		return j
	}
	if c := st.GetCode(); c != nil {
		j.Code = c.String()
	}
	j.Last = executionFromModel(st.GetLastExecution())
	j.LastSuccess = executionFromModel(st.GetLastSuccessfulExecution())
	if q := st.GetQuarantine(); q != nil {
		jq := &quarantine{Began: timeOf(q.GetCurrentBegan()), NextAttempt: timeOf(q.GetNextAttempt()), SeriesCount: deref(q.GetSeriesCount())}
		if r := q.GetReason(); r != nil {
			jq.Reason = r.String()
		}
		if e := q.GetError(); e != nil {
			jq.ErrCode, jq.ErrMsg = deref(e.GetCode()), deref(e.GetMessage())
		}
		j.Quarantine = jq
	}
	return j
}

func executionFromModel(m models.SynchronizationTaskExecutionable) *execution {
	if m == nil {
		return nil
	}
	e := &execution{Began: timeOf(m.GetTimeBegan()), Ended: timeOf(m.GetTimeEnded())}
	if s := m.GetState(); s != nil {
		e.State = s.String()
	}
	if er := m.GetError(); er != nil {
		e.ErrCode, e.ErrMsg = deref(er.GetCode()), deref(er.GetMessage())
	}
	// Graph writes "never" as 0001-01-01T00:00:00Z.
	if e.Began.IsZero() && e.State == "" {
		return nil
	}
	return e
}

func timeOf(t *time.Time) time.Time {
	if t == nil || t.Year() <= 1 {
		return time.Time{}
	}
	return *t
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
