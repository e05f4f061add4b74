package cloudtrail

import (
	"encoding/json"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/scim-rotator/scim-rotator/rotator"
)

// maxRecord bounds the CloudTrailEvent JSON read (CloudTrail caps an event
// at 256 KB).
const maxRecord = 256 << 10

// Field bounds: any SCIM caller, authenticated or not, chooses its
// User-Agent, and what is read here reaches logs and Slack.
const (
	maxUserAgent = 256
	maxField     = 128
)

// record is the part of a CloudTrail record (the CloudTrailEvent JSON) that
// is read. Fields are decoded leniently (see lenient).
type record struct {
	EventTime       lenient  `json:"eventTime"`
	EventName       lenient  `json:"eventName"`
	EventSource     lenient  `json:"eventSource"`
	UserIdentity    identity `json:"userIdentity"`
	ErrorCode       lenient  `json:"errorCode"`
	UserAgent       lenient  `json:"userAgent"`
	SourceIPAddress lenient  `json:"sourceIPAddress"`
}

// identity is the record's userIdentity; anything but an object reads as
// empty.
type identity struct {
	AccessKeyID lenient `json:"accessKeyId"`
}

func (id *identity) UnmarshalJSON(b []byte) error {
	type plain identity
	var p plain
	if json.Unmarshal(b, &p) == nil {
		*id = identity(p)
	}
	return nil
}

// lenient is a JSON string field that takes any value: a string as is,
// null or a missing key as "", anything else as "" (not a reason to drop
// the whole event).
type lenient string

func (l *lenient) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*l = lenient(s)
	}
	return nil
}

// parseEvent reads one event. It returns why the event cannot be used
// (then the Use is zero): no readable record, not a SCIM event, no time.
func parseEvent(e *types.Event) (rotator.Use, string) {
	raw := aws.ToString(e.CloudTrailEvent)
	if raw == "" {
		return rotator.Use{}, "no CloudTrailEvent"
	}
	if len(raw) > maxRecord {
		return rotator.Use{}, "CloudTrailEvent larger than 256 KB"
	}
	var r record
	if !strings.HasPrefix(strings.TrimSpace(raw), "{") || json.Unmarshal([]byte(raw), &r) != nil {
		return rotator.Use{}, "CloudTrailEvent is not a JSON object"
	}
	if src := string(r.EventSource); src != "" && src != EventSource {
		return rotator.Use{}, "eventSource is not " + EventSource
	}
	at, err := time.Parse(time.RFC3339, string(r.EventTime))
	if err != nil {
		if e.EventTime == nil || e.EventTime.IsZero() {
			return rotator.Use{}, "no readable eventTime"
		}
		at = *e.EventTime
	}
	name := string(r.EventName)
	if name == "" {
		name = aws.ToString(e.EventName)
	}
	id := tokenIDOf(&r)
	if id == "" {
		id = aws.ToString(e.AccessKeyId)
	}
	return rotator.Use{
		TokenID:   printable(id, maxField),
		Time:      at.UTC(),
		EventName: printable(name, maxField),
		ErrorCode: printable(string(r.ErrorCode), maxField),
		UserAgent: printable(string(r.UserAgent), maxUserAgent),
		SourceIP:  printable(string(r.SourceIPAddress), maxField),
	}, ""
}

// printable drops control and other non-printable characters and cuts s
// to n bytes (on a rune boundary, marking the cut).
func printable(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, s)
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
