package health

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// INFERRED: everything in this file. AWS documents the event type code and
// service, but the expiry date is only in the description's free text, and
// AWS publishes no example of it. The one text found (the e-mail AWS sends
// for the same notice, as quoted publicly with the date redacted) reads:
//
//	The SCIM access token used to automatically provision users and groups
//	from your IdP to IAM Identity Center expires in 89 days on xxx xx:xx:xx
//	UTC yyyy.
//
// which looks like Java's Date.toString ("Wed Mar 05 12:34:56 UTC 2025").
// So the date is read after "expires"/"expiration" in several plausible
// formats, falling back to "expires in N days" counted from the event's
// start; a token id is read when the text names one ("token ID <id>").
// Odd text never fails: it leaves the date zero (status shows the notice,
// compare only checks its token id).

// maxText bounds how much of a description is read.
const maxText = 8 << 10

// dateLayouts are tried, longest first, on the text after "expires".
var dateLayouts = []string{
	"Mon Jan _2 15:04:05 MST 2006",  // Java Date.toString, as in the e-mail
	"Mon Jan 2 15:04:05 MST 2006",   // the same with one space
	"Mon, 02 Jan 2006 15:04:05 MST", // RFC 1123
	"2006-01-02T15:04:05Z07:00",     // RFC 3339
	"2006-01-02 15:04:05 MST",
	"2006-01-02 15:04 MST",
	"January 2, 2006, 15:04:05 MST",
	"January 2, 2006 15:04:05 MST",
	"January 2, 2006 15:04 MST",
	"Jan 2, 2006 15:04:05 MST",
	"January 2, 2006",
	"Jan 2, 2006",
	"2 January 2006",
	"02 Jan 2006",
	"2006-01-02",
}

var (
	// expiresAt finds where a date may follow.
	expiresAt = regexp.MustCompile(`(?i)\b(?:expires?|expiring|expiration(?: date)?(?: is)?|will expire)\b(?:\s+in\s+\d+\s+days?)?\s*(?:on|at|:)?\s*`)
	// inDays is the fallback "expires in N days".
	inDays = regexp.MustCompile(`(?i)\bexpir\w*\s+in\s+(\d{1,3})\s+days?\b`)
	// tokenIDIn finds a token id the text names.
	tokenIDIn = regexp.MustCompile(`(?i)\b(?:access\s+)?token\s+(?:id|identifier)\s*[:=]?\s*["'(]?([A-Za-z0-9][A-Za-z0-9-]{2,63})`)
)

// parseNotice reads the expiry and the token id from a notice's
// description; start is when Health raised it. Either may be zero.
func parseNotice(text string, start time.Time) (expires time.Time, tokenID string) {
	if len(text) > maxText {
		text = text[:maxText]
	}
	text = strings.Join(strings.Fields(text), " ")
	// An id holds a digit: "token ID is ..." names none.
	if m := tokenIDIn.FindStringSubmatch(text); m != nil && strings.ContainsAny(m[1], "0123456789") {
		tokenID = m[1]
	}
	for _, loc := range expiresAt.FindAllStringIndex(text, -1) {
		if t, ok := dateAt(text[loc[1]:]); ok {
			return t, tokenID
		}
	}
	if m := inDays.FindStringSubmatch(text); m != nil && !start.IsZero() {
		n, _ := strconv.Atoi(m[1])
		return start.UTC().AddDate(0, 0, n), tokenID
	}
	return time.Time{}, tokenID
}

// dateAt parses the longest prefix of s that is a date in one of
// dateLayouts (UTC unless the text names a zone).
func dateAt(s string) (time.Time, bool) {
	words := strings.Fields(s)
	for n := min(len(words), 7); n > 0; n-- {
		cand := strings.TrimRight(strings.Join(words[:n], " "), ".,;)")
		for _, layout := range dateLayouts {
			if t, err := time.Parse(layout, cand); err == nil && t.Year() >= 2000 && t.Year() < 2200 {
				return t.UTC(), true
			}
		}
	}
	return time.Time{}, false
}
