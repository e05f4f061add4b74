package entra

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/scim-rotator/scim-rotator/rotator"
)

// permissionsFix explains what Graph needs when it refuses a call.
const permissionsFix = "grant the app registration the Microsoft Graph application permission Application.ReadWrite.OwnedBy " +
	"and make its service principal an owner of the enterprise application's service principal (servicePrincipalId; " +
	"owning the app registration is not enough), or grant Synchronization.ReadWrite.All; then grant admin consent"

func (t *Target) system() string { return "entra:" + t.name }

// Check signs in, reads the provisioning job and, if configured, the
// canary's assignment. Nothing is changed.
func (t *Target) Check(ctx context.Context) []rotator.CheckResult {
	var out []rotator.CheckResult
	add := func(name string, ok bool, detail, fix string) {
		out = append(out, rotator.CheckResult{System: t.system(), Name: name, OK: ok, Detail: detail, Fix: fix})
	}

	if t.cred != nil {
		_, err := t.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{t.scope}})
		if err != nil {
			add("token", false, "cannot sign in: "+oneLine(err.Error()),
				"check tenantId, clientId and the client secret, certificate or workload identity federation of the app registration")
			return out
		}
		add("token", true, fmt.Sprintf("signed in to tenant %s for %s", t.cfg.TenantID, t.scope), "")
	}

	j, err := t.currentJob(ctx)
	if err != nil {
		add("job", false, err.Error(), fixFor(err, "check servicePrincipalId (the object id of the enterprise application's service principal) and jobId"))
		return out
	}
	detail := fmt.Sprintf("job %s (template %s): %s, every %s, schedule %s", j.ID, j.TemplateID, j.Code, j.Interval, j.ScheduleState)
	switch {
	case j.Code == "Active" || j.Code == "NotRun":
		add("job", true, detail, "")
	case credentialQuarantine(j):
		add("job", true, detail+"; quarantined because of its credentials ("+j.Quarantine.ErrCode+"): the next rotation pushes a token and starts it", "")
	case j.Code == "Quarantine":
		add("job", false, detail+"; quarantined: "+j.Quarantine.Reason+" "+j.Quarantine.ErrCode,
			"resolve the quarantine in the enterprise application's Provisioning page, then restart provisioning")
	default:
		add("job", false, detail, "turn provisioning on (Provisioning Status: On) in the enterprise application, or confirmation will wait for a sync that never runs")
	}

	if c := t.canary(); c != nil {
		typ, display, found, err := t.api.Assignment(ctx, c.ObjectID)
		switch {
		case err != nil:
			ge := graphErr("read the application's assignments", err)
			add("canary", false, ge.Error(), fixFor(ge, "check canary.objectId"))
		case !found:
			add("canary", false, fmt.Sprintf("%s %s is not assigned to the application", c.ObjectType, c.ObjectID),
				"assign it in the enterprise application's Users and groups (a user assigned only through a group is not listed: use the group as canary), or remove canary")
		case !strings.EqualFold(typ, c.ObjectType):
			add("canary", false, fmt.Sprintf("%s is assigned as a %s, not a %s", c.ObjectID, typ, c.ObjectType), "set canary.objectType to "+typ)
		default:
			rule, err := t.rule(ctx, j.ID)
			if err != nil {
				add("canary", false, err.Error(), fixFor(err, ""))
				break
			}
			add("canary", true, fmt.Sprintf("%s %s (%s) is assigned; provisionOnDemand rule %s", c.ObjectType, c.ObjectID, display, rule), "")
		}
	}
	return out
}

// fixFor explains permissions when Graph refused the call.
func fixFor(err error, otherwise string) string {
	if isStatus(err, http.StatusUnauthorized, http.StatusForbidden) {
		return permissionsFix
	}
	return otherwise
}

// Status reports the job's code, its last execution and its quarantine.
func (t *Target) Status(ctx context.Context) (rotator.SystemStatus, error) {
	st := rotator.SystemStatus{System: t.system()}
	j, err := t.currentJob(ctx)
	if err != nil {
		return st, err
	}
	add := func(k, v string) { st.Fields = append(st.Fields, rotator.Field{Key: k, Value: v}) }
	add("servicePrincipal", t.cfg.ServicePrincipalID)
	add("job", j.ID)
	add("code", j.Code)
	if j.Interval > 0 {
		add("interval", j.Interval.String())
	}
	if e := j.Last; e != nil {
		add("lastExecution", e.State)
		add("lastExecutionBegan", stamp(e.Began))
		add("lastExecutionEnded", stamp(e.Ended))
		if e.ErrCode != "" {
			add("lastExecutionError", e.ErrCode+": "+firstLine(e.ErrMsg))
		}
	} else {
		add("lastExecution", "never")
	}
	if e := j.LastSuccess; e != nil {
		add("lastSuccessfulExecution", stamp(e.Ended))
	}
	if q := j.Quarantine; q != nil {
		add("quarantineReason", q.Reason)
		add("quarantineError", q.ErrCode+": "+firstLine(q.ErrMsg))
		add("quarantineSince", stamp(q.Began))
		add("quarantineNextAttempt", stamp(q.NextAttempt))
	}
	return st, nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// oneLine collapses a multi-line message (azidentity's errors carry the
// login endpoint's answer on later lines).
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 800 {
		s = s[:800] + "…"
	}
	return s
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
