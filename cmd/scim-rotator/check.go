package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

func (a *app) checkCmd() *cobra.Command {
	var r reportFlags
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Read-only preflight: config, credentials and one read call on every system",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var failed atomic.Int64
			run, err := a.report(cmd.Context(), r, func(ctx context.Context, u unit, w io.Writer) (any, int) {
				results := checkInstance(ctx, a.log, u)
				if r.table() {
					printChecks(w, results)
				}
				n := 0
				for i, c := range results {
					if c.Failed() {
						n++
						results[i].Level = rotator.LevelFail // a result without a level counts as failed
					}
				}
				failed.Add(int64(n))
				code := exitOK
				switch {
				case u.err != nil:
					code = exitUsage
				case n > 0:
					code = exitFailed
				}
				return checkEntry{Name: u.name, ExitCode: code, Checks: results}, code
			})
			if err != nil {
				return err
			}
			code := run.code
			if !r.table() {
				entries := make([]checkEntry, len(run.values))
				for i, v := range run.values {
					e, ok := v.(checkEntry)
					if !ok { // its command panicked: the log has the stack
						e = checkEntry{Name: run.f.units[i].name, ExitCode: exitFailed, Checks: []rotator.CheckResult{{System: "scim-rotator",
							Name: "panic", Level: rotator.LevelFail, Detail: panicked, Fix: "report it with the log line that has the stack"}}}
					}
					entries[i] = e
				}
				if err := writeDocument(a.stdout, newDocument(code, entries)); err != nil {
					return err
				}
			}
			if n := failed.Load(); n > 0 {
				return &exitError{code: code, err: fmt.Errorf("%d check(s) failed", n)}
			}
			return exitWith(code)
		},
	}
	a.addReportFlags(cmd, &r)
	return describe(cmd, "Each check is OK, WARN (works, but worth fixing: e.g. no live token recorded, so a rotation\n"+
		"could not switch a target back) or FAIL (a rotation would fail). A WARN or FAIL says how to fix it.\n"+
		"Only a FAIL makes check exit 1. With instances in the config, each instance is checked on its own\n"+
		"(grouped; -o json: an entry per instance) and the exit code is the worst of them.\n"+
		"-o json prints one document whose JSON Schema `scim-rotator schema check` prints.\n"+
		"--timeout bounds the whole command: a system that has not answered by then is a FAIL\n"+
		"\"timed out after ...\", and every result is still printed.",
		"  scim-rotator check\n  scim-rotator check -o json | jq '.instances[].checks[] | select(.level != \"OK\")'\n  scim-rotator check --instance prod\n  scim-rotator check --timeout 30s",
		"0  every check is OK or WARN\n1  a check is FAIL")
}

// printChecks writes check results as an aligned table at most maxWidth
// wide (a long detail wraps under its row), each fix under the table.
func printChecks(w io.Writer, results []rotator.CheckResult) {
	rows := [][]string{{"LEVEL", "SYSTEM", "TARGET", "CHECK", "DETAIL"}}
	for _, c := range results {
		level := string(c.Level)
		if c.Failed() {
			level = string(rotator.LevelFail)
		}
		rows = append(rows, []string{level, c.System, orDash(c.Target), c.Name, c.Detail})
	}
	wrappedTable(w, "", rows)
	for _, c := range results {
		if c.Level != rotator.LevelOK && c.Fix != "" {
			wrapLine(w, fmt.Sprintf("fix (%s): ", strings.TrimSpace(c.System+" "+c.Target+" "+c.Name)), c.Fix, "  ")
		}
	}
}

// checkInstance is check's results for one instance: its config, the AWS
// identity it acts as (when known), then every system's own checks. The
// identity is asked at the same time as the systems, so that a slow STS
// never makes them report "timed out".
func checkInstance(ctx context.Context, log *zap.Logger, u unit) []rotator.CheckResult {
	if u.err != nil {
		return []rotator.CheckResult{{System: "config", Name: "load", Level: rotator.LevelFail, Detail: u.err.Error(),
			Fix: "correct the configuration key the message names"}}
	}
	results := []rotator.CheckResult{{System: "config", Name: "load", Level: rotator.LevelOK, Detail: "loaded, every credential resolved"}}
	results = append(results, secretChecks(ctx, u)...)
	identity := make(chan []rotator.CheckResult, 1)
	go func() { identity <- identityCheck(ctx, log, u) }()
	systems := u.rot.Check(ctx)
	results = append(results, <-identity...)
	return append(results, systems...)
}

// identityCheck is the AWS identity the instance acts as (none when unknown).
func identityCheck(ctx context.Context, log *zap.Logger, u unit) []rotator.CheckResult {
	if u.identity == nil {
		return nil
	}
	type who struct{ account, arn string }
	id, err := rotator.Guard(ctx, log, "aws identity", func() (who, error) {
		account, arn, err := u.identity(ctx)
		return who{account, arn}, err
	})
	if err != nil {
		return []rotator.CheckResult{{System: "aws", Name: "identity", Level: rotator.LevelFail,
			Detail: "sts:GetCallerIdentity: " + err.Error(),
			Fix:    "check the base credentials and, with aws.roleArn, that the role trusts them (and the external id)"}}
	}
	return []rotator.CheckResult{{System: "aws", Name: "identity", Level: rotator.LevelOK,
		Detail: fmt.Sprintf("acts as %s (account %s)", id.arn, id.account)}}
}

// secretChecks is one line per ...SecretsManager key: OK for each the
// instance's build read (one that could not be read failed the build,
// naming its key), and the Pushgateway's password, which only a one-shot
// run's push reads, read now. The key and the secret, never the value.
func secretChecks(ctx context.Context, u unit) []rotator.CheckResult {
	if u.secretsRead == nil {
		return nil
	}
	var out []rotator.CheckResult
	ok := func(key, secret string) {
		out = append(out, rotator.CheckResult{System: "config", Name: key, Level: rotator.LevelOK,
			Detail: "read from Secrets Manager secret " + secret + " (value not shown)"})
	}
	for _, s := range u.secretsRead() {
		ok(s.Key, s.Secret)
	}
	if ref := u.cfg.Metrics.PushgatewayPasswordSecretsManager; ref != nil && u.cfg.Metrics.PushgatewayURL != "" {
		key := "metrics.pushgatewayPasswordSecretsManager"
		if _, err := config.ReadSecretFrom(ctx, "metrics.pushgatewayPassword", u.cfg.Metrics.PushgatewayPassword(), u.secrets); err != nil {
			out = append(out, rotator.CheckResult{System: "config", Name: key, Level: rotator.LevelFail, Detail: err.Error(),
				Fix: "make the secret readable by the instance's AWS identity (secretsmanager:GetSecretValue), or correct the key"})
		} else {
			ok(key, ref.Describe())
		}
	}
	return out
}
