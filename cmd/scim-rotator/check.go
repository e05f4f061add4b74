package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

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
			code, _, err := a.report(cmd.Context(), r, func(ctx context.Context, u unit, w io.Writer) (any, int) {
				results := checkInstance(ctx, a.log, u)
				if r.table() {
					printChecks(w, results)
				}
				n := 0
				for _, c := range results {
					if c.Failed() {
						n++
					}
				}
				failed.Add(int64(n))
				switch {
				case u.err != nil:
					return results, exitUsage
				case n > 0:
					return results, exitFailed
				}
				return results, exitOK
			})
			if err != nil {
				return err
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
		"(grouped; -o json: an object keyed by name) and the exit code is the worst of them.\n"+
		"--timeout bounds the whole command: a system that has not answered by then is a FAIL\n"+
		"\"timed out after ...\", and every result is still printed.",
		"  scim-rotator check\n  scim-rotator check -o json\n  scim-rotator check --instance prod\n  scim-rotator check --timeout 30s",
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
// identity it acts as (when known), then every system's own checks.
func checkInstance(ctx context.Context, log *zap.Logger, u unit) []rotator.CheckResult {
	if u.err != nil {
		return []rotator.CheckResult{{System: "config", Name: "load", Level: rotator.LevelFail, Detail: u.err.Error(),
			Fix: "correct the configuration key the message names"}}
	}
	results := []rotator.CheckResult{{System: "config", Name: "load", Level: rotator.LevelOK, Detail: "loaded, every credential resolved"}}
	if u.identity != nil {
		type who struct{ account, arn string }
		id, err := rotator.Guard(ctx, log, "aws identity", func() (who, error) {
			account, arn, err := u.identity(ctx)
			return who{account, arn}, err
		})
		account, arn := id.account, id.arn
		if err != nil {
			results = append(results, rotator.CheckResult{System: "aws", Name: "identity", Level: rotator.LevelFail,
				Detail: "sts:GetCallerIdentity: " + err.Error(),
				Fix:    "check the base credentials and, with aws.roleArn, that the role trusts them (and the external id)"})
		} else {
			results = append(results, rotator.CheckResult{System: "aws", Name: "identity", Level: rotator.LevelOK,
				Detail: fmt.Sprintf("acts as %s (account %s)", arn, account)})
		}
	}
	return append(results, u.rot.Check(ctx)...)
}
