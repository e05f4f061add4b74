package sandbox

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Instance is one IAM Identity Center instance of a fleet sandbox: its own
// identity store (with its SCIM tenant and tokens), store secret, target
// secret and the sync job reading it, all owned by Account. Every instance
// shares the sandbox's servers, as AWS's regional endpoints serve every
// account: a request reaches the fakes of the account of the credential
// that signed it (or of the ARN it names), and a fake refuses another
// account's credential.
type Instance struct {
	Name    string
	Account string
	// RoleARN and ExternalID are the role the instance's AWS calls assume
	// ("" for an instance reached with the base credentials).
	RoleARN    string
	ExternalID string

	IdentityStoreID string
	IC              *IdentityCenter
	// SM, Lambda and CloudTrail are the instance's account's fakes
	// (shared with the other instances of that account).
	SM         *SecretsManager
	Lambda     *Lambda
	CloudTrail *CloudTrail
	// StoreSecret is the store; TargetSecret the secretsmanager target,
	// read by the Lambda function Function.
	StoreSecret  string
	TargetSecret string
	Function     string

	s *Sandbox
	// idp: the instance holds the sandbox's Entra and Okta targets (only
	// the default instance does).
	idp bool
}

// InstanceName is the name Options.Instances gives instance i (from 1).
func InstanceName(i int) string { return fmt.Sprintf("org-%02d", i) }

// InstanceAccount is the account Options.Instances gives instance i > 1.
func InstanceAccount(i int) string { return fmt.Sprintf("2%011d", i) }

// RoleName is the name of every instance's role.
const RoleName = "scim-rotator"

// accountFakes are the AWS fakes of one account.
type accountFakes struct {
	sm     *SecretsManager
	lambda *Lambda
	ct     *CloudTrail
}

func (s *Sandbox) newCloudTrail(account string) *CloudTrail {
	ct := NewCloudTrail(s.Faults, Region, s.Clock.Now)
	ct.BindAccount(s.IAM, account)
	if s.opts.CloudTrailDelay > 0 {
		ct.SetDeliveryDelay(s.opts.CloudTrailDelay)
	}
	return ct
}

// account returns the fakes of account, creating them on first use.
func (s *Sandbox) account(account string) *accountFakes {
	if account == BaseAccount {
		return &accountFakes{sm: s.SM, lambda: s.Lambda, ct: s.CloudTrail}
	}
	if a := s.accounts[account]; a != nil {
		return a
	}
	a := &accountFakes{sm: NewSecretsManager(s.Faults, Region, s.Clock.Now), ct: s.newCloudTrail(account)}
	a.sm.BindAccount(s.IAM, account)
	a.lambda = NewLambda(s.Faults, Region, a.sm, func() string { return "" }, s.Client)
	a.lambda.BindAccount(s.IAM, account)
	s.routers["secretsmanager"].add(account, a.sm)
	s.routers["lambda"].add(account, a.lambda)
	s.routers["cloudtrail"].add(account, a.ct)
	s.accounts[account] = a
	return a
}

// defaultInstance is the sandbox's own instance (IdentityStoreID,
// StoreSecret, SSOSyncSecret, the Entra and Okta targets) under name.
func (s *Sandbox) defaultInstance(name string) *Instance {
	return &Instance{
		Name: name, Account: BaseAccount, IdentityStoreID: IdentityStoreID,
		IC: s.IC, SM: s.SM, Lambda: s.Lambda, CloudTrail: s.CloudTrail,
		StoreSecret: StoreSecret, TargetSecret: SSOSyncSecret, Function: SSOSyncFunction,
		s: s, idp: true,
	}
}

// AddInstance adds an instance in account (12 digits) with a new identity
// store, its store secret and a secretsmanager target read by a Lambda
// sync job. withRole registers the role arn:aws:iam::ACCOUNT:role/
// scim-rotator, trusting the base account with external id
// "sandbox-<name>"; the instance's fakes are then reachable only with
// credentials for that role (or any other of its account). Call it before
// the sandbox serves the instance (not concurrently with requests).
func (s *Sandbox) AddInstance(name, account string, withRole bool) *Instance {
	a := s.account(account)
	n := len(s.Instances) + 1
	inst := &Instance{
		Name: name, Account: account, IdentityStoreID: fmt.Sprintf("d-9067%06d", n),
		SM: a.sm, Lambda: a.lambda, CloudTrail: a.ct,
		StoreSecret: StoreSecret + "/" + name, TargetSecret: SSOSyncSecret + "-" + name, Function: SSOSyncFunction + "-" + name,
		s: s,
	}
	inst.IC = NewIdentityCenter(s.Faults, Region, inst.IdentityStoreID, s.Clock.Now)
	inst.IC.BindAccount(s.IAM, account)
	inst.IC.SetBaseURL(s.URL("identitycenter"))
	inst.IC.OnSCIMCall(a.ct.RecordSCIM)
	s.icByID.add(inst.IC)
	if withRole {
		inst.RoleARN = "arn:aws:iam::" + account + ":role/" + RoleName
		inst.ExternalID = "sandbox-" + name
		// The ARN is well formed by construction.
		_, _ = s.IAM.AddRole(inst.RoleARN, BaseAccount, inst.ExternalID)
	}
	a.lambda.AddConsumerOf(inst.Function, inst.TargetSecret, "", inst.IC.SCIMEndpoint)
	a.sm.CreateSecret(inst.StoreSecret)
	a.sm.CreateSecret(inst.TargetSecret)
	s.Instances = append(s.Instances, inst)
	return inst
}

// Instance returns the instance called name (nil if none).
func (s *Sandbox) Instance(name string) *Instance {
	for _, inst := range s.Instances {
		if inst.Name == name {
			return inst
		}
	}
	return nil
}

// SeedLiveToken creates the token provisioning uses today, created age
// ago, and gives it to the instance's targets.
func (inst *Instance) SeedLiveToken(age time.Duration) (id, value string) {
	if inst.idp {
		return inst.s.SeedLiveToken(age)
	}
	id, value = inst.IC.SeedToken(inst.s.Clock.Now().Add(-age))
	inst.SM.Put(inst.TargetSecret, value)
	return id, value
}

// TargetsHold reports, for each of the instance's targets, whether it holds
// a token the instance's SCIM endpoint accepts.
func (inst *Instance) TargetsHold() map[string]bool {
	if inst.idp {
		return inst.s.TargetsHold()
	}
	v, _ := inst.SM.Value(inst.TargetSecret, smCurrent)
	return map[string]bool{"ssosync": inst.IC.ValidToken(v)}
}

// FleetConfigMap is the sandbox's configuration in the fleet form of issue
// 11 (shared top-level keys, then instances: [{name, aws, identityCenter,
// store, targets}]). The STS endpoint is not a config key: processes get it
// from AWS_ENDPOINT_URL_STS (see WriteFiles).
func (s *Sandbox) FleetConfigMap(secretFiles map[string]string) map[string]any {
	c := s.sharedConfig(secretFiles)
	var list []any
	for _, inst := range s.Instances {
		m := s.instanceConfig(inst, secretFiles)
		m["name"] = inst.Name
		if inst.RoleARN != "" {
			m["aws"] = map[string]any{"roleArn": inst.RoleARN, "externalId": inst.ExternalID}
		}
		list = append(list, m)
	}
	c["instances"] = list
	return c
}

// icRouter serves many identity stores on one endpoint, as the regional
// token API and SCIM host do: the token API by the body's IdentityStoreId,
// SCIM by the tenant in the path; anything else goes to the default store.
type icRouter struct {
	def *IdentityCenter

	mu       sync.Mutex
	byStore  map[string]*IdentityCenter
	byTenant map[string]*IdentityCenter
}

func newICRouter(def *IdentityCenter) *icRouter {
	rt := &icRouter{def: def, byStore: map[string]*IdentityCenter{}, byTenant: map[string]*IdentityCenter{}}
	rt.add(def)
	return rt
}

func (rt *icRouter) add(ic *IdentityCenter) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.byStore[ic.identityStoreID] = ic
	rt.byTenant[ic.TenantID()] = ic
}

func (rt *icRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var ic *IdentityCenter
	if tenant, _, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/scim/v2/"); ok {
		rt.mu.Lock()
		ic = rt.byTenant[tenant]
		rt.mu.Unlock()
	} else {
		var req icRequest
		peekJSON(r, &req)
		if req.IdentityStoreID != nil {
			rt.mu.Lock()
			ic = rt.byStore[*req.IdentityStoreID]
			rt.mu.Unlock()
		}
	}
	if ic == nil {
		ic = rt.def
	}
	ic.ServeHTTP(w, r)
}

// smResourceAccount is the account of the ARN a Secrets Manager request
// names as SecretId ("" for a name).
func smResourceAccount(r *http.Request) string {
	var req struct{ SecretId string } //nolint:revive // the wire name
	peekJSON(r, &req)
	return arnAccount(req.SecretId)
}

// lambdaResourceAccount is the account of the full or partial ARN an
// Invoke names ("" for a name).
func lambdaResourceAccount(r *http.Request) string {
	rest, _ := strings.CutPrefix(r.URL.EscapedPath(), lambdaInvokePath)
	fn, _, _ := strings.Cut(rest, "/")
	fn, err := url.PathUnescape(fn)
	if err != nil {
		return ""
	}
	if a := arnAccount(fn); a != "" {
		return a
	}
	if a, _, ok := strings.Cut(fn, ":function:"); ok && len(a) == 12 {
		return a
	}
	return ""
}
