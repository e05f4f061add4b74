package entra

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/scim-rotator/scim-rotator/rotator"
)

// permissionsFix explains what Graph needs when it refuses a call.
const permissionsFix = "grant the app registration the Microsoft Graph application permission Application.ReadWrite.OwnedBy " +
	"and make its service principal an owner of the enterprise application's service principal (servicePrincipalId; " +
	"owning the app registration is not enough), or grant Synchronization.ReadWrite.All; then grant admin consent"

// System names Entra targets in check and status.
const System = "entra"

// Check signs in, reads the provisioning job and, if configured, the
// canary's assignment. Nothing is changed.
func (t *Target) Check(ctx context.Context) []rotator.CheckResult {
	var out []rotator.CheckResult
	add := func(name string, level rotator.Level, detail, fix string) {
		out = append(out, rotator.CheckResult{System: System, Target: t.name, Name: name, Level: level, Detail: detail, Fix: fix})
	}

	if t.cred != nil {
		_, err := t.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{t.scope}})
		if err != nil {
			add("token", rotator.LevelFail, "cannot sign in: "+oneLine(err.Error()),
				"check tenantId, clientId and the client secret, certificate or workload identity federation of the app registration")
			return out
		}
		add("token", rotator.LevelOK, fmt.Sprintf("signed in to tenant %s for %s", t.cfg.TenantID, t.scope), "")
	}

	j, err := t.currentJob(ctx)
	if err != nil {
		add("job", rotator.LevelFail, err.Error(), fixFor(err, "check servicePrincipalId (the object id of the enterprise application's service principal) and jobId"))
		return out
	}
	detail := fmt.Sprintf("job %s (template %s): %s, every %s, schedule %s", j.ID, j.TemplateID, j.Code, j.Interval, j.ScheduleState)
	switch {
	case j.Code == "Active" || j.Code == "NotRun":
		add("job", rotator.LevelOK, detail, "")
	case credentialQuarantine(j):
		add("job", rotator.LevelWarn, detail+"; quarantined because of its credentials ("+j.Quarantine.ErrCode+"): the next rotation pushes a token and starts it", "")
	case j.Code == "Quarantine":
		add("job", rotator.LevelFail, detail+"; quarantined: "+j.Quarantine.Reason+" "+j.Quarantine.ErrCode,
			"resolve the quarantine in the enterprise application's Provisioning page, then restart provisioning")
	default:
		add("job", rotator.LevelFail, detail, "turn provisioning on (Provisioning Status: On) in the enterprise application, or confirmation will wait for a sync that never runs")
	}

	if c := t.canary(); c != nil {
		typ, display, found, err := t.api.Assignment(ctx, c.ObjectID)
		switch {
		case err != nil:
			ge := graphErr("read the application's assignments", err)
			add("canary", rotator.LevelFail, ge.Error(), fixFor(ge, "check canary.objectId"))
		case !found:
			add("canary", rotator.LevelFail, fmt.Sprintf("%s %s is not assigned to the application", c.ObjectType, c.ObjectID),
				"assign it in the enterprise application's Users and groups (a user assigned only through a group is not listed: use the group as canary), or remove canary")
		case !strings.EqualFold(typ, c.ObjectType):
			add("canary", rotator.LevelFail, fmt.Sprintf("%s is assigned as a %s, not a %s", c.ObjectID, typ, c.ObjectType), "set canary.objectType to "+typ)
		default:
			rule, err := t.rule(ctx, j.ID)
			if err != nil {
				add("canary", rotator.LevelFail, err.Error(), fixFor(err, ""))
				break
			}
			add("canary", rotator.LevelOK, fmt.Sprintf("%s %s (%s) is assigned; provisionOnDemand rule %s", c.ObjectType, c.ObjectID, display, rule), "")
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
	st := rotator.SystemStatus{System: System, Target: t.name}
	j, err := t.currentJob(ctx)
	if err != nil {
		return st, err
	}
	add := func(k string, v any) { st.Fields = append(st.Fields, rotator.Field{Key: k, Value: v}) }
	add("servicePrincipal", t.cfg.ServicePrincipalID)
	add("job", j.ID)
	add("code", j.Code)
	if j.Interval > 0 {
		add("interval", j.Interval.String())
	}
	if e := j.Last; e != nil {
		add("lastExecution", e.State)
		add("lastExecutionBegan", e.Began)
		add("lastExecutionEnded", e.Ended)
		if e.ErrCode != "" {
			add("lastExecutionError", e.ErrCode+": "+firstLine(e.ErrMsg))
		}
	} else {
		add("lastExecution", "never")
	}
	if e := j.LastSuccess; e != nil {
		add("lastSuccessfulExecution", e.Ended)
	}
	if q := j.Quarantine; q != nil {
		add("quarantineReason", q.Reason)
		add("quarantineError", q.ErrCode+": "+firstLine(q.ErrMsg))
		add("quarantineSince", q.Began)
		add("quarantineNextAttempt", q.NextAttempt)
	}
	return st, nil
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
