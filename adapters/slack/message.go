package slack

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/scim-rotator/scim-rotator/rotator"
)

// Block Kit limits (https://api.slack.com/reference/block-kit/blocks): Slack
// rejects the whole message with invalid_blocks when one is exceeded, so
// caller text is cut to fit.
const (
	maxHeader  = 150
	maxSection = 3000
	maxField   = 2000
	maxError   = 2000 // leaves room in the failure section for the step
)

type look struct{ emoji, title string }

// looks is how each outcome is presented.
var looks = map[rotator.Reason]look{
	rotator.ReasonRotated:         {":white_check_mark:", "SCIM token rotated"},
	rotator.ReasonRolledBack:      {":leftwards_arrow_with_hook:", "rotation rolled back, the old token is still live"},
	rotator.ReasonFailed:          {":x:", "rotation failed"},
	rotator.ReasonBlocked:         {":no_entry:", "rotation blocked"},
	rotator.ReasonAwaitingHandoff: {":raising_hand:", "a human has to finish a target"},
	rotator.ReasonAwaitingToken:   {":key:", "a human has to create the new token"},
	rotator.ReasonExpiringSoon:    {":warning:", "SCIM token expiring soon"},
	rotator.ReasonConfirmTimeout:  {":hourglass:", "no sync confirmed before the deadline"},
	rotator.ReasonNotDue:          {":zzz:", "rotation not due"},
	rotator.ReasonDryRun:          {":memo:", "dry run"},
	rotator.ReasonWaiting:         {":hourglass_flowing_sand:", "rotation waiting, the next run resumes it"},
	// A token deleted as leaked (--revoke-old) is still presented.
	rotator.ReasonRevokedTokenUsed: {":rotating_light:", "a revoked token is still being used"},
}

var stateEmoji = map[rotator.TargetState]string{
	rotator.TargetUntouched:       ":white_circle:",
	rotator.TargetPushed:          ":arrow_up:",
	rotator.TargetTested:          ":ballot_box_with_check:",
	rotator.TargetConfirmed:       ":white_check_mark:",
	rotator.TargetAwaitingHandoff: ":raising_hand:",
	rotator.TargetRestored:        ":leftwards_arrow_with_hook:",
	rotator.TargetFailed:          ":x:",
}

// Message builds the webhook payload for ev: a header with the outcome and
// the instance (a fleet's instance name, whose identity store id and region
// the factory puts in Region: "prod (d-1234567890, us-east-1)"), a
// summary, the Identity Center instance, token ids and expiry, each target's
// result, the failed step with its error, the next actions and links, and a
// plain text fallback for notifications. It is pure: it shows only what ev
// holds (ids, never token values: rotator.Event holds none). The channel is
// left empty; Notify sets the configured one.
func Message(ev rotator.Event) slack.WebhookMessage {
	lk, ok := looks[ev.Outcome]
	if !ok {
		lk = look{":information_source:", "rotation update"}
	}
	outcome := string(ev.Outcome)
	if outcome == "" {
		outcome = "Update"
	}

	// The header names the instance (a fleet instance's name, else the
	// identity store id): one channel may hear from several instances.
	header := lk.emoji + " " + outcome + ": " + lk.title
	if ev.Instance != "" {
		header += " · " + ev.Instance
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, cut(header, maxHeader), true, false)),
	}
	summary := ev.Message
	if summary == "" {
		summary = upperFirst(lk.title) + "."
	}
	blocks = append(blocks, section(escape(summary)))

	if fields := facts(ev); len(fields) > 0 {
		blocks = append(blocks, slack.NewSectionBlock(nil, fields, nil))
	}
	if len(ev.Targets) > 0 {
		var sb strings.Builder
		sb.WriteString("*Targets*")
		for _, t := range ev.Targets {
			e, ok := stateEmoji[t.State]
			if !ok {
				e = ":grey_question:"
			}
			fmt.Fprintf(&sb, "\n%s *%s*: %s", e, escape(t.Name), escape(string(t.State)))
			if t.Message != "" {
				sb.WriteString(" — " + escape(t.Message))
			}
		}
		blocks = append(blocks, section(sb.String()))
	}
	if ev.FailedStep != "" || ev.Error != "" {
		var sb strings.Builder
		step := ev.FailedStep
		if step == "" {
			step = "unknown"
		}
		fmt.Fprintf(&sb, "*Failed step:* `%s`", escape(noBackticks(step)))
		if ev.Error != "" {
			fmt.Fprintf(&sb, "\n```%s```", escape(noBackticks(cut(ev.Error, maxError))))
		}
		blocks = append(blocks, section(sb.String()))
	}
	if len(ev.NextActions) > 0 {
		var sb strings.Builder
		sb.WriteString("*Next actions*")
		for i, a := range ev.NextActions {
			fmt.Fprintf(&sb, "\n%d. %s", i+1, escape(a))
		}
		blocks = append(blocks, section(sb.String()))
	}
	if links := linkList(ev.Links); links != "" {
		blocks = append(blocks, section("*Links*\n"+links))
	}
	ctx := "scim-rotator"
	if ev.RotationID != "" {
		ctx += " · rotation `" + escape(noBackticks(ev.RotationID)) + "`"
	}
	blocks = append(blocks, slack.NewDividerBlock(),
		slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, cut(ctx, maxSection), false, false)))

	return slack.WebhookMessage{
		Text:   fallback(ev, outcome, lk),
		Blocks: &slack.Blocks{BlockSet: blocks},
	}
}

// facts are the key/value fields: where, which tokens, until when.
func facts(ev rotator.Event) []*slack.TextBlockObject {
	var fields []*slack.TextBlockObject
	add := func(label, value string) {
		fields = append(fields, slack.NewTextBlockObject(slack.MarkdownType, cut("*"+label+"*\n"+value, maxField), false, false))
	}
	if ev.Instance != "" || ev.Region != "" {
		v := code(ev.Instance)
		if ev.Instance == "" {
			v = "unknown instance"
		}
		if ev.Region != "" {
			v += " (" + escape(ev.Region) + ")"
		}
		add("Identity Center", v)
	}
	if ev.OldTokenID != "" {
		add("Old token", code(ev.OldTokenID))
	}
	if ev.NewTokenID != "" {
		add("New token", code(ev.NewTokenID))
	}
	switch {
	case !ev.NewExpiry.IsZero():
		label := "New token expires"
		if ev.Outcome == rotator.ReasonExpiringSoon || ev.NewTokenID == "" {
			label = "Token expires"
		}
		add(label, ev.NewExpiry.UTC().Format("2006-01-02 15:04 MST")+" ("+daysLeft(ev.DaysLeft)+")")
	case ev.Outcome == rotator.ReasonExpiringSoon:
		add("Token expires", daysLeft(ev.DaysLeft))
	}
	return fields
}

func fallback(ev rotator.Event, outcome string, lk look) string {
	parts := []string{"scim-rotator " + outcome + ": " + lk.title}
	if ev.Instance != "" {
		in := "instance " + ev.Instance
		if ev.Region != "" {
			in += " (" + ev.Region + ")"
		}
		parts = append(parts, in)
	}
	if ev.NewTokenID != "" {
		parts = append(parts, "new token "+ev.NewTokenID)
	}
	if !ev.NewExpiry.IsZero() || ev.Outcome == rotator.ReasonExpiringSoon {
		parts = append(parts, daysLeft(ev.DaysLeft))
	}
	if ev.FailedStep != "" {
		parts = append(parts, "failed step "+ev.FailedStep)
	}
	return cut(escape(strings.Join(parts, "; ")), maxSection)
}

func daysLeft(n int) string {
	switch {
	case n < -1:
		return fmt.Sprintf("expired %d days ago", -n)
	case n == -1:
		return "expired 1 day ago"
	case n == 0:
		return "expires today"
	case n == 1:
		return "1 day left"
	}
	return fmt.Sprintf("%d days left", n)
}

// linkList renders links as mrkdwn links. Links rather than buttons: a
// button posted by a bare incoming webhook shows a warning when clicked,
// because no app handles the interaction. Only http(s) URLs are linked.
func linkList(links []rotator.Link) string {
	var out []string
	for _, l := range links {
		u, err := url.Parse(l.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			continue
		}
		text := l.Text
		if text == "" {
			text = u.Host
		}
		// In <url|text>, '|' and '>' end the URL: percent-encode them.
		href := strings.NewReplacer("|", "%7C", ">", "%3E", "<", "%3C", "&", "&amp;").Replace(l.URL)
		out = append(out, "• <"+href+"|"+escape(text)+">")
	}
	return strings.Join(out, "\n")
}

func section(text string) *slack.SectionBlock {
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, cut(text, maxSection), false, false), nil, nil)
}

func code(s string) string { return "`" + escape(noBackticks(s)) + "`" }

// escape escapes the three characters Slack's mrkdwn treats as control
// characters, so caller text cannot forge links or mentions.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func noBackticks(s string) string { return strings.ReplaceAll(s, "`", "'") }

// cut shortens s to at most n characters, ending in an ellipsis when cut.
// A cut through an open code block is closed again.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)[:n-4]
	out := string(r) + "…"
	if strings.Count(out, "```")%2 == 1 {
		out += "```"
	}
	return out
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return strings.ToUpper(string(r)) + s[n:]
}
