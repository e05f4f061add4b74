package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/scim-rotator/scim-rotator/rotator"
)

// check's table fits 120 columns whatever its details: a long detail wraps
// under its own row (in its column when the other columns leave room, else
// on lines of its own), a word longer than a line (an ARN) is cut, and no
// word is lost or moved to another row. So do the fixes under the table.
func TestCheckTableFits120Columns(t *testing.T) {
	words := strings.Repeat("the quick brown fox jumps over the lazy dog ", 8)
	arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + strings.Repeat("x", 50)
	for _, tc := range []struct {
		name, check, long string
		under             bool // the detail goes on lines of its own
	}{
		{"room beside", "token", words + "at last", false},
		{"too little room beside", "describe secret " + strings.Repeat("a-very-long-secret-name-", 2), words + arn, true},
		{"a word too long beside", "token", words + arn, true},
		{"a word too long for any line", "token", words + arn + strings.Repeat("y", 120), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			long := tc.long
			results := []rotator.CheckResult{
				{System: "secretsmanager-store", Name: tc.check, Level: rotator.LevelOK, Detail: long},
				{System: "entra", Target: "entra", Name: "job", Level: rotator.LevelWarn, Detail: "short detail", Fix: long},
			}
			var buf bytes.Buffer
			printChecks(&buf, results)
			out := buf.String()
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			for _, l := range lines {
				if n := utf8.RuneCountInString(l); n > maxWidth {
					t.Errorf("line of %d columns: %q", n, l)
				}
			}
			// The first row's detail is every line from the row to the next row.
			first, second := strings.Index(out, "OK     "), strings.Index(out, "WARN   ")
			if first < 0 || second < first {
				t.Fatalf("rows not found:\n%s", out)
			}
			row := strings.SplitN(out[first:second], "\n", 2)
			detail := row[1]
			if !tc.under {
				detail = row[0][strings.Index(row[0], "the quick"):] + "\n" + row[1]
			} else if strings.Contains(row[0], "quick") {
				t.Errorf("the detail shares its row with columns too wide for it:\n%s", out)
			}
			if longestWord(long) <= maxWidth-4 && !strings.Contains(out, arn) && strings.Contains(long, arn) {
				t.Errorf("the ARN was cut:\n%s", out)
			}
			if got, want := strings.Join(strings.Fields(detail), ""), strings.Join(strings.Fields(long), ""); got != want {
				t.Errorf("detail reads\n%q\nwant\n%q", got, want)
			}
			if !strings.Contains(out, "fix (entra entra job): the quick brown fox") {
				t.Errorf("fix line:\n%s", out)
			}
		})
	}
}

// checkRows is check's table output with each row's wrapped lines (and each
// fix's) joined back onto it, one row a line, for tests that look for a
// row's words.
func checkRows(out string) string {
	var b strings.Builder
	for i, l := range strings.Split(out, "\n") {
		if i > 0 && (strings.HasPrefix(l, " ") || l == "") && !strings.HasPrefix(l, "==") {
			if l != "" {
				b.WriteString(" " + strings.TrimSpace(l))
				continue
			}
		}
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(l)
	}
	return b.String()
}

// A command in a detail or a fix is never cut, so it can be pasted: a
// `quoted` one and an AWS CLI command ending the text stay on one line.
func TestWrapKeepsCommandsWhole(t *testing.T) {
	prose := strings.Repeat("the quick brown fox jumps over the lazy dog ", 3)
	aws := "aws secretsmanager create-secret --name new/store-secret --region us-east-1 --endpoint-url https://127.0.0.1:40000"
	quoted := "`scim-rotator stage --current --token-id ID --token-file FILE`"
	for _, tc := range []struct{ text, whole string }{
		{prose + "create the secret: " + aws, aws},
		{prose + "record the live token with " + quoted + ", then rotate", quoted + ","},
		{prose + "(" + quoted + ")", "(" + quoted + ")"},
	} {
		lines := wrapWords(tc.text, 60)
		found := false
		for _, l := range lines {
			found = found || strings.Contains(l, tc.whole)
		}
		if !found {
			t.Errorf("%q cut:\n%s", tc.whole, strings.Join(lines, "\n"))
		}
		if got, want := strings.Join(lines, " "), strings.Join(strings.Fields(tc.text), " "); got != want {
			t.Errorf("words lost or moved:\n%q\nwant\n%q", got, want)
		}
	}
	var buf bytes.Buffer
	printChecks(&buf, []rotator.CheckResult{{System: "secretsmanager-store", Name: "describe secret", Level: rotator.LevelFail, Detail: "not found", Fix: "create the secret: " + aws}})
	if !strings.Contains(buf.String(), "\n  "+aws+"\n") && !strings.Contains(buf.String(), " "+aws+"\n") {
		t.Errorf("the fix's command is not on one line:\n%s", buf.String())
	}
}

// status says "none" for an empty section instead of a bare header, and
// lists the store's own versions (its state record) only with --all.
func TestStatusEmptySectionsAndInternalVersions(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	rep := rotator.StatusReport{
		Versions: []rotator.VersionInfo{
			{ID: "v-state", Stages: []string{"SCIMROTATOR_STATE"}, Created: at},
			{ID: "v-released", Stages: []string{"SCIMROTATOR_STATE_NEXT", "SCIMROTATOR_RELEASED"}, Created: at},
		},
		Rotation: &rotator.Progress{RotationID: "r1", Phase: rotator.PhasePushing},
		Systems:  []rotator.SystemStatus{{System: "cloudtrail"}},
	}
	var buf bytes.Buffer
	printStatus(&buf, rep, false)
	out := buf.String()
	containsAll(t, "status", out, "Identity Center tokens: none\n", "Store versions: none\n",
		"(2 more: scim-rotator's own state record; --all lists them)\n", "  Targets: none\n", "\ncloudtrail\n  none\n")
	for _, bare := range []string{"IDENTITY CENTER TOKEN", "STORE VERSION", "TARGET  ", "SCIMROTATOR_"} {
		if strings.Contains(out, bare) {
			t.Errorf("status without --all shows %q:\n%s", bare, out)
		}
	}
	buf.Reset()
	rep.Versions = append(rep.Versions, rotator.VersionInfo{ID: "v-token", Stages: []string{"AWSCURRENT"}, TokenID: "t1", Created: at})
	printStatus(&buf, rep, true)
	containsAll(t, "status --all", buf.String(), "STORE VERSION", "v-state", "SCIMROTATOR_STATE_NEXT, SCIMROTATOR_RELEASED", "v-token")
	if strings.Contains(buf.String(), "--all lists them") {
		t.Errorf("status --all still says versions are hidden:\n%s", buf.String())
	}
	buf.Reset()
	printStatus(&buf, rep, false)
	if out := buf.String(); !strings.Contains(out, "v-token") || strings.Contains(out, "v-state") {
		t.Errorf("status lists the token's version and hides the state record's:\n%s", out)
	}
}

// A fix longer than a line keeps its command whole on a line of its own,
// however long the command.
func TestFixKeepsALongCommandWhole(t *testing.T) {
	aws := "aws secretsmanager create-secret --name " + strings.Repeat("very-long-secret-name/", 6) + " --region us-east-1"
	var buf bytes.Buffer
	wrapLine(&buf, "fix (store): ", strings.Repeat("some words first ", 8)+"then create the secret: "+aws, "  ")
	if !strings.Contains(buf.String(), "\n  "+aws+"\n") {
		t.Fatalf("the command is cut:\n%s", buf.String())
	}
	for _, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if utf8.RuneCountInString(l) > maxWidth && !strings.HasPrefix(l, "  aws ") {
			t.Errorf("line of %d columns: %q", utf8.RuneCountInString(l), l)
		}
	}
}
