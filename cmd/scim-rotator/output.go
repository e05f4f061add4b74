package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

func printErr(w io.Writer, err error) {
	if ces := config.Errors(err); len(ces) > 1 {
		fmt.Fprintln(w, "error: invalid configuration:")
		for _, ce := range ces {
			fmt.Fprintln(w, "  "+ce.Error())
		}
		return
	}
	fmt.Fprintln(w, "error:", err)
}

func targetNames(rot *rotator.Rotator) []string {
	names := make([]string, 0, len(rot.Targets))
	for _, t := range rot.Targets {
		names = append(names, t.Name())
	}
	return names
}

// outcomeText is the message without a leading outcome word that repeats
// the outcome ("NotDue" then "not due: ...").
func outcomeText(outcome rotator.Reason, msg string) string {
	var words []string
	start := 0
	s := string(outcome)
	for i := 1; i <= len(s); i++ {
		if i == len(s) || 'A' <= s[i] && s[i] <= 'Z' {
			words = append(words, strings.ToLower(s[start:i]))
			start = i
		}
	}
	if rest, ok := strings.CutPrefix(msg, strings.Join(words, " ")+": "); ok && s != "" {
		return rest
	}
	return msg
}

// actionWords says what `rotate` would do, for humans ("rotate would ...").
func actionWords(a rotator.Action) string {
	switch a {
	case rotator.ActionNone:
		return "do nothing"
	case rotator.ActionStart:
		return "start a rotation"
	case rotator.ActionResume:
		return "resume the rotation in progress"
	case rotator.ActionFinish:
		return "finish the rotation"
	case rotator.ActionWait:
		return "wait"
	case rotator.ActionBlocked:
		return "stop: it is blocked"
	}
	return string(a)
}

// printResult writes a run's outcome for humans (stdout); logs go to stderr.
// targets are the configured targets, listed under a dry run's steps.
func printResult(w io.Writer, res rotator.Result, targets []string) {
	if res.Outcome == rotator.ReasonDryRun {
		p := res.Plan
		fmt.Fprintf(w, "Dry run: rotate would %s.\n  %s\n", actionWords(p.Action), outcomeText(p.Reason, p.Message()))
		for i, s := range p.Steps() {
			fmt.Fprintf(w, "  %d. %s\n", i+1, s)
		}
		if p.Action == rotator.ActionStart || p.Action == rotator.ActionResume {
			fmt.Fprintln(w, "  Targets it would push the new token to: "+listText(targets))
		}
		fmt.Fprintln(w, "Nothing was changed.")
		return
	}
	fmt.Fprintf(w, "%s: %s\n", res.Outcome, outcomeText(res.Outcome, res.Message))
	if res.Err != nil && !strings.Contains(res.Message, res.Err.Error()) {
		fmt.Fprintf(w, "  error (%s): %v\n", res.FailedStep, res.Err)
	}
	if pr := res.Progress; pr != nil && len(pr.Targets) > 0 && res.Outcome != rotator.ReasonNotDue {
		rows := [][]string{{"TARGET", "STATE", "DETAIL"}}
		for _, t := range pr.Targets {
			rows = append(rows, []string{t.Name, string(t.State), t.Message})
		}
		table(w, "  ", rows)
	}
	if len(res.NextActions) > 0 {
		fmt.Fprintln(w, "Next:")
		for i, s := range res.NextActions {
			fmt.Fprintf(w, "  %d. %s\n", i+1, s)
		}
	}
}

func listText(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}

// table writes aligned columns with no trailing spaces, each line indented.
func table(w io.Writer, indent string, rows [][]string) {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, indent+strings.Join(r, "\t"))
	}
	_ = tw.Flush()
	for _, line := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02")
}
