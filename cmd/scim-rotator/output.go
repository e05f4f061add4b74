package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

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

// maxWidth is the widest line a human report writes (a terminal split in
// two, a CI log, a ticket).
const maxWidth = 120

// wrappedTable writes rows as table does, but no line is wider than
// maxWidth: the last column's text wraps under itself, or, when the other
// columns leave it too little room (or a word would not fit), on lines of
// its own under its row.
func wrappedTable(w io.Writer, indent string, rows [][]string) {
	if len(rows) == 0 {
		return
	}
	last := len(rows[0]) - 1
	widths := make([]int, last)
	for _, r := range rows {
		for i := range last {
			widths[i] = max(widths[i], utf8.RuneCountInString(r[i]))
		}
	}
	col := utf8.RuneCountInString(indent)
	for _, n := range widths {
		col += n + 2
	}
	const minDetail = 40
	for _, r := range rows {
		// A word that would have to be cut beside the row (an ARN, a URL)
		// is kept whole under it, where the line is wider.
		under := maxWidth-col < minDetail || longestWord(r[last]) > maxWidth-col
		var b strings.Builder
		b.WriteString(indent)
		for i := range last {
			b.WriteString(r[i])
			if i < last-1 || !under {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(r[i])+2))
			}
		}
		if under {
			fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
			for _, l := range wrapWords(r[last], maxWidth-len(indent)-4) {
				fmt.Fprintln(w, indent+"    "+l)
			}
			continue
		}
		lines := wrapWords(r[last], maxWidth-col)
		if len(lines) == 0 {
			lines = []string{""}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String()+lines[0], " "))
		for _, l := range lines[1:] {
			fmt.Fprintln(w, strings.Repeat(" ", col)+l)
		}
	}
}

// wrapLine writes prefix and s, wrapped to maxWidth, each line after the
// first indented by indent.
func wrapLine(w io.Writer, prefix, s, indent string) {
	for i, l := range wrap(prefix+s, maxWidth, maxWidth-utf8.RuneCountInString(indent)) {
		if i > 0 {
			l = indent + l
		}
		fmt.Fprintln(w, l)
	}
}

func longestWord(s string) int {
	n := 0
	for _, w := range words(s) {
		n = max(n, utf8.RuneCountInString(w.text))
	}
	return n
}

// word is a unit of wrapped text; whole is a command, never cut.
type word struct {
	text  string
	whole bool
}

// words splits s at spaces, but keeps a command whole so that it can be
// pasted: a `quoted` command, and an AWS CLI command that ends the text
// ("create the secret: aws secretsmanager create-secret ...").
func words(s string) []word {
	var out []word
	var cmd string
	if i := strings.Index(s, ": aws "); i >= 0 {
		s, cmd = s[:i+1], strings.TrimSpace(s[i+2:])
	}
	for s != "" {
		s = strings.TrimLeft(s, " \t\n")
		start := strings.IndexByte(s, '`')
		if start < 0 {
			for _, f := range strings.Fields(s) {
				out = append(out, word{text: f})
			}
			break
		}
		end := strings.IndexByte(s[start+1:], '`')
		if end < 0 {
			end = len(s) - start - 1
		}
		// The quoted command with what touches it ("`a b`," or "(`a b`)").
		from := strings.LastIndexAny(s[:start], " \t\n") + 1
		to := start + 1 + end + 1
		if k := strings.IndexAny(s[min(to, len(s)):], " \t\n"); k >= 0 {
			to += k
		} else {
			to = len(s)
		}
		for _, f := range strings.Fields(s[:from]) {
			out = append(out, word{text: f})
		}
		out = append(out, word{text: strings.Join(strings.Fields(s[from:to]), " "), whole: true})
		s = s[to:]
	}
	if cmd != "" {
		out = append(out, word{text: cmd, whole: true})
	}
	return out
}

// wrapWords breaks s into lines of at most width characters at spaces; a
// word longer than width (an ARN) is cut, but a command (see words) is kept
// whole on a line of its own, however long.
func wrapWords(s string, width int) []string { return wrap(s, width, width) }

// wrap is wrapWords with a first line of first characters, the others of
// rest.
func wrap(s string, first, rest int) []string {
	var lines []string
	var cur []rune
	width := func() int {
		if len(lines) == 0 {
			return max(first, 1)
		}
		return max(rest, 1)
	}
	for _, w := range words(s) {
		rw := []rune(w.text)
		if len(cur) > 0 && len(cur)+1+len(rw) <= width() {
			cur = append(append(cur, ' '), rw...)
			continue
		}
		if len(cur) > 0 {
			lines = append(lines, string(cur))
			cur = nil
		}
		for n := width(); !w.whole && len(rw) > n; n = width() {
			lines = append(lines, string(rw[:n]))
			rw = rw[n:]
		}
		cur = rw
	}
	if len(cur) > 0 {
		lines = append(lines, string(cur))
	}
	return lines
}

// section writes a table with a header row, or, with no row under the
// header, "WHAT: none".
func section(w io.Writer, indent, what string, rows [][]string) {
	if len(rows) < 2 {
		fmt.Fprintf(w, "%s%s: none\n", indent, what)
		return
	}
	table(w, indent, rows)
}
