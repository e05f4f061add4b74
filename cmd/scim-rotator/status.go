package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scim-rotator/scim-rotator/adapters/secretsmanager"
	"github.com/scim-rotator/scim-rotator/rotator"
)

func (a *app) statusCmd() *cobra.Command {
	var r reportFlags
	var window time.Duration
	var all bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show tokens, store versions, any rotation in progress and each target's state (read-only)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("usage-window") && (window <= 0 || window > maxUsageWindow) {
				return usageErr(fmt.Errorf("--usage-window %s: a duration above 0 and at most %s (CloudTrail keeps 90 days)", window, maxUsageWindow))
			}
			run, err := a.report(cmd.Context(), r, func(ctx context.Context, u unit, w io.Writer) (any, int) {
				if u.err != nil {
					printErr(w, u.err)
					return statusEntry{Name: u.name, Error: u.err.Error()}, exitUsage
				}
				u.rot.UsagePolicy.StatusWindow = window
				rep := u.rot.Status(ctx)
				if r.table() {
					printStatus(w, rep, all)
				}
				return statusEntry{Name: u.name, StatusReport: &rep}, exitOK
			})
			if err != nil {
				return err
			}
			code := run.code
			if run.deadline != nil {
				code = worse(code, exitFailed)
			}
			if !r.table() {
				entries := make([]statusEntry, len(run.values))
				for i, v := range run.values {
					e, ok := v.(statusEntry)
					if !ok { // its command panicked: the log has the stack
						e = statusEntry{Name: run.f.units[i].name, Error: panicked}
					}
					entries[i] = e
				}
				if err := writeDocument(a.stdout, newDocument(code, entries)); err != nil {
					return err
				}
			}
			if run.deadline != nil {
				return &exitError{code: code, err: fmt.Errorf("%v: the systems that had not answered are listed under errors", run.deadline)}
			}
			return exitWith(code)
		},
	}
	a.addReportFlags(cmd, &r)
	cmd.Flags().DurationVar(&window, "usage-window", 0, "read this whole window of CloudTrail (e.g. 24h) for exact call counts: one LookupEvents call per 50 SCIM calls, about 2 a second (100k calls a day: 2,000 calls, about 17 minutes; raise --timeout)")
	cmd.Flags().BoolVar(&all, "all", false, "also list the store's own versions (its state record, labelled SCIMROTATOR_*); -o json always lists them")
	return describe(cmd, "status changes nothing. -o json is a stable contract: one document, {\"schemaVersion\": 1,\n"+
		"\"exitCode\": N, \"instances\": [{\"name\": ..., ...}]}, whose JSON Schema `scim-rotator schema status`\n"+
		"prints; errors reading a system are listed, the rest still shows.\n"+
		"Each token's last use is read from CloudTrail newest first, and the read stops once every token\n"+
		"has been seen (at most 20 pages of 50 events): the calls are counted back to the time it reached.\n"+
		"--usage-window 24h reads the whole window for exact counts, at one LookupEvents call per 50 calls.\n"+
		"With instances in the config, the report is grouped by instance (-o json: an entry per instance).\n"+
		"--timeout bounds the whole command: a system that has not answered by then is listed under errors\n"+
		"as \"timed out after ...\", and the report is still printed.",
		"  scim-rotator status\n  scim-rotator status --all\n  scim-rotator status -o json | jq '.instances[0].next'\n  scim-rotator status --usage-window 24h --timeout 30m\n  scim-rotator status --instance prod -o json | jq '.instances[] | {name, next}'\n  scim-rotator status --timeout 30s",
		"0  the report was printed (a system that could not be read is listed under errors)\n1  --timeout expired before every system answered (the report was printed)")
}

// maxUsageWindow is as far back as CloudTrail's LookupEvents reads.
const maxUsageWindow = 90 * 24 * time.Hour

// printStatus writes rep for humans; the store's own versions (its state
// record) only with all. An empty section says "none".
func printStatus(w io.Writer, rep rotator.StatusReport, all bool) {
	rows := [][]string{{"IDENTITY CENTER TOKEN", "CREATED", "EXPIRES", "DAYS LEFT", "ROLE", "LAST USED", "BY", "FROM", "CALLS READ"}}
	for _, t := range rep.Tokens {
		role := "-"
		switch {
		case t.Live:
			role = "live"
		case t.Pending:
			role = "pending (new)"
		}
		last, by, from, calls := "-", "-", "-", "0"
		if t.UseUnknown {
			// CloudTrail did not answer: not known, never "unused".
			last, calls = "unknown", "unknown"
		} else if u := rep.Usage; u != nil && t.Use == nil {
			last = "none in " + u.Window
			if !u.Complete {
				last = fmt.Sprintf("not seen in the last %d events, since %s", u.Events, u.Since.UTC().Format(time.RFC3339))
			}
		}
		if u := t.Use; u != nil {
			last, by, from, calls = u.Last.UTC().Format(time.RFC3339), orDash(u.UserAgent), orDash(u.SourceIP), strconv.Itoa(u.Calls)
		}
		rows = append(rows, []string{t.ID, day(t.Created), day(t.Expires), strconv.Itoa(t.DaysLeft), role, last, by, from, calls})
	}
	section(w, "", "Identity Center tokens", rows)
	if u := rep.Usage; u != nil {
		fmt.Fprintln(w, usageWords(*u))
	}
	fmt.Fprintf(w, "\nNext: rotate would %s.\n  %s\n", actionWords(rep.Next.Action), outcomeText(rep.Next.Reason, rep.Next.Message))
	fmt.Fprintln(w)
	rows = [][]string{{"STORE VERSION", "STAGES", "TOKEN", "CREATED"}}
	hidden := 0
	for _, v := range rep.Versions {
		if !all && internalVersion(v) {
			hidden++
			continue
		}
		rows = append(rows, []string{v.ID, listText(v.Stages), orDash(v.TokenID), v.Created.UTC().Format(time.RFC3339)})
	}
	section(w, "", "Store versions", rows)
	if hidden > 0 {
		fmt.Fprintf(w, "(%d more: scim-rotator's own state record; --all lists them)\n", hidden)
	}
	if h := rep.Headroom; h != nil {
		verdict := "enough for a rotation"
		if h.Short() {
			verdict = "NOT enough for a rotation: a rotation stops before creating its token"
		}
		fmt.Fprintf(w, "Store headroom: %s (%s)\n", h.Words(rep.GeneratedAt), verdict)
	}
	if l := rep.Lock; l != nil {
		fmt.Fprintf(w, "\nLocked by %s since %s, until %s\n", l.Owner, l.Acquired.UTC().Format(time.RFC3339), l.Expires.UTC().Format(time.RFC3339))
	}
	if pr := rep.Rotation; pr != nil {
		fmt.Fprintf(w, "\nRotation %s: %s (started %s, old token %s, new token %s)\n", pr.RotationID, pr.Phase, pr.StartedAt.UTC().Format(time.RFC3339), orDash(pr.OldTokenID), orDash(pr.NewTokenID))
		rows = [][]string{{"TARGET", "STATE", "DETAIL"}}
		for _, t := range pr.Targets {
			rows = append(rows, []string{t.Name, string(t.State), t.Message})
		}
		section(w, "  ", "Targets", rows)
		if pr.LastError != "" {
			fmt.Fprintf(w, "  last error: %s\n", pr.LastError)
		}
		if wt := pr.Wait; wt != nil {
			fmt.Fprintf(w, "  left to the next run: %s%s, waiting since %s\n", wt.Step, strings.TrimSuffix(" "+wt.Target, " "), wt.Since.UTC().Format(time.RFC3339))
		}
	}
	if rv := rep.Revoked; rv != nil {
		fmt.Fprintf(w, "\nRevoked token %s: deleted %s by an emergency rotation (--revoke-old) requested by %s; %d call(s) with it alerted (RevokedTokenUsed)\n",
			rv.TokenID, rv.DeletedAt.UTC().Format(time.RFC3339), orDash(rv.RequestedBy), rv.Alerted)
		for _, c := range rv.Suspects {
			fmt.Fprintf(w, "  still used it when deleted: %q from %s, last at %s\n", c.UserAgent, orDash(c.SourceIP), c.Last.UTC().Format(time.RFC3339))
		}
		if len(rv.Calls) > 0 {
			rows = [][]string{{"CALL WITH THE REVOKED TOKEN (24 H)", "OPERATION", "BY", "FROM", "ANSWER"}}
			for _, u := range rv.Calls {
				answer := "accepted"
				if u.ErrorCode != "" {
					answer = "refused (" + u.ErrorCode + ")"
				}
				rows = append(rows, []string{u.Time.UTC().Format(time.RFC3339), orDash(u.EventName), orDash(u.UserAgent), orDash(u.SourceIP), answer})
			}
			table(w, "  ", rows)
		}
	}
	for _, s := range rep.Systems {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(s.System+" "+s.Target))
		rows = nil
		for _, f := range s.Fields {
			rows = append(rows, []string{f.Key, f.Text()})
		}
		if len(rows) == 0 {
			fmt.Fprintln(w, "  none")
			continue
		}
		table(w, "  ", rows)
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(w, "\nerror: %s\n", e)
	}
}

// usageWords says what status read of CloudTrail for the tokens' use.
func usageWords(u rotator.UsageReport) string {
	if u.Complete {
		return fmt.Sprintf("CloudTrail: the whole last %s read (%d events, %d LookupEvents calls): calls counted since %s", u.Window, u.Events, u.Pages, u.Since.UTC().Format(time.RFC3339))
	}
	how := fmt.Sprintf("it stopped once every token was seen, or at its budget of %d pages", u.PageBudget)
	if u.PageBudget == 0 {
		how = "it stopped at LookupEvents' own bound"
	}
	return fmt.Sprintf("CloudTrail: the latest %d events read, newest first (%d LookupEvents calls): calls counted since %s; %s. `status --usage-window %s` reads the whole window for exact counts (one call per 50 events, about 2 a second)",
		u.Events, u.Pages, u.Since.UTC().Format(time.RFC3339), how, strings.TrimSuffix(strings.TrimSuffix(u.Window, "0s"), "0m"))
}

// internalVersion: every label of v is the store's own (its state record),
// none a token's.
func internalVersion(v rotator.VersionInfo) bool {
	return len(v.Stages) > 0 && !slices.ContainsFunc(v.Stages, func(s string) bool { return !secretsmanager.InternalStage(s) })
}
