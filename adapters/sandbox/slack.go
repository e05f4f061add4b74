package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"unicode/utf8"
)

// slackWebhookPath is the fake's webhook path. Real webhook URLs carry their
// secret in the path (/services/T…/B…/<secret>), so tests look for this exact
// string in errors and logs to prove the URL never leaks.
const slackWebhookPath = "/services/T00SANDBOX/B00SANDBOX/SbxWebhookSecret7c1e9a"

// Slack fakes a Slack incoming webhook (https://hooks.slack.com/services/...).
//
// It checks what Slack checks, as documented for incoming webhooks and Block
// Kit: POST only, a JSON body (Content-Type application/json), a message
// with text and/or blocks, at most 50 blocks of the types the notifier uses
// (section, header, context, divider, actions), text objects of type
// plain_text or mrkdwn, header text plain_text of at most 150 characters,
// section text of at most 3000 and section fields of at most 2000 (ten at
// most). It answers like Slack: 200 with the body "ok"; 400 "invalid_payload"
// for a body that is not a JSON message, 400 "no_text" when there is neither
// text nor blocks, 400 "invalid_blocks" for bad blocks; 404 "no_service" on
// any other path; 405 for other methods.
//
// Operation names for Faults: "slack:Post" (one per request on the webhook
// path). A 429 fault should carry a Retry-After header, as Slack's does.
type Slack struct {
	faults *Faults

	mu   sync.Mutex
	msgs []json.RawMessage
}

// NewSlack returns a fake webhook. faults may be nil.
func NewSlack(faults *Faults) *Slack { return &Slack{faults: faults} }

// Path is the webhook path to append to the server URL. It looks like a real
// webhook path, secret part included.
func (s *Slack) Path() string { return slackWebhookPath }

// Messages returns the accepted payloads, in order, as posted.
func (s *Slack) Messages() []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]json.RawMessage(nil), s.msgs...)
}

// Received returns the accepted payloads decoded.
func (s *Slack) Received() []SlackMessage {
	var out []SlackMessage
	for _, raw := range s.Messages() {
		var m SlackMessage
		_ = json.Unmarshal(raw, &m) // validated on the way in
		out = append(out, m)
	}
	return out
}

// Reset forgets the accepted payloads.
func (s *Slack) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = nil
}

// SlackMessage is a typed view of a webhook payload.
type SlackMessage struct {
	Text    string       `json:"text"`
	Channel string       `json:"channel"`
	Blocks  []SlackBlock `json:"blocks"`
}

// SlackBlock is a typed view of a layout block.
type SlackBlock struct {
	Type    string      `json:"type"`
	BlockID string      `json:"block_id"`
	Text    *SlackText  `json:"text"`
	Fields  []SlackText `json:"fields"`
	// Elements are a context block's text objects or an actions block's
	// buttons (Text set, URL the link).
	Elements []SlackElement `json:"elements"`
}

// SlackText is a text object.
type SlackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// SlackElement is a context element or a button.
type SlackElement struct {
	Type string `json:"type"`
	// Text is a context element's text (a string) or a button's label (a
	// text object).
	Text json.RawMessage `json:"text"`
	URL  string          `json:"url"`
}

// Header returns the header block's text, "" if none.
func (m SlackMessage) Header() string {
	for _, b := range m.Blocks {
		if b.Type == "header" && b.Text != nil {
			return b.Text.Text
		}
	}
	return ""
}

// AllText joins the fallback text and every text in every block, for
// content assertions.
func (m SlackMessage) AllText() string {
	var sb strings.Builder
	sb.WriteString(m.Text)
	for _, b := range m.Blocks {
		if b.Text != nil {
			sb.WriteString("\n" + b.Text.Text)
		}
		for _, f := range b.Fields {
			sb.WriteString("\n" + f.Text)
		}
		for _, e := range b.Elements {
			var s string
			var t SlackText
			if json.Unmarshal(e.Text, &s) == nil {
				sb.WriteString("\n" + s)
			} else if json.Unmarshal(e.Text, &t) == nil {
				sb.WriteString("\n" + t.Text)
			}
			if e.URL != "" {
				sb.WriteString("\n" + e.URL)
			}
		}
	}
	return sb.String()
}

func (s *Slack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != slackWebhookPath {
		slackAnswer(w, http.StatusNotFound, "no_service")
		return
	}
	// Read the body first: net/http notices a client that gave up (and
	// ends r.Context(), which a Hang fault waits on) only once it is read.
	body, readErr := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	ft := s.faults.Begin("slack:Post")
	if ft.Before() {
		ft.Write(w, r, slackFaultBody)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		slackAnswer(w, http.StatusMethodNotAllowed, "invalid_method")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" || readErr != nil {
		slackAnswer(w, http.StatusBadRequest, "invalid_payload")
		return
	}
	if code := validateSlackPayload(body); code != "" {
		slackAnswer(w, http.StatusBadRequest, code)
		return
	}
	s.mu.Lock()
	s.msgs = append(s.msgs, json.RawMessage(bytes.Clone(body)))
	s.mu.Unlock()
	if ft.AfterWork() {
		ft.Write(w, r, slackFaultBody)
		return
	}
	slackAnswer(w, http.StatusOK, "ok")
}

// slackAnswer writes a webhook answer: Slack answers text/html with a bare
// word ("ok", "invalid_blocks", ...).
func slackAnswer(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func slackFaultBody(status int) (string, []byte) {
	switch {
	case status == http.StatusTooManyRequests:
		return "text/html", []byte("rate_limited")
	case status >= 500:
		return "text/html", []byte("<html><body>Internal Server Error</body></html>")
	}
	return "text/html", []byte(http.StatusText(status))
}

// Block Kit limits (https://api.slack.com/reference/block-kit/blocks).
const (
	slackMaxBlocks       = 50
	slackMaxHeaderText   = 150
	slackMaxSectionText  = 3000
	slackMaxSectionField = 2000
	slackMaxFields       = 10
	slackMaxContextElems = 10
	slackMaxActionElems  = 25
	slackMaxButtonText   = 75
	slackMaxButtonURL    = 3000
	slackMaxBlockID      = 255
)

// slackPayload is the webhook message. Unknown top-level keys are rejected:
// the notifier must send only what Slack documents.
type slackPayload struct {
	Text            *string           `json:"text"`
	Blocks          []json.RawMessage `json:"blocks"`
	Channel         string            `json:"channel"`
	Username        string            `json:"username"`
	IconEmoji       string            `json:"icon_emoji"`
	IconURL         string            `json:"icon_url"`
	ThreadTS        string            `json:"thread_ts"`
	Mrkdwn          *bool             `json:"mrkdwn"`
	UnfurlLinks     *bool             `json:"unfurl_links"`
	UnfurlMedia     *bool             `json:"unfurl_media"`
	Parse           string            `json:"parse"`
	ReplaceOriginal bool              `json:"replace_original"`
	DeleteOriginal  bool              `json:"delete_original"`
	ResponseType    string            `json:"response_type"`
	ReplyBroadcast  bool              `json:"reply_broadcast"`
}

type slackTextObj struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Emoji    *bool  `json:"emoji"`
	Verbatim *bool  `json:"verbatim"`
}

type slackBlockWire struct {
	Type     string            `json:"type"`
	BlockID  string            `json:"block_id"`
	Text     *slackTextObj     `json:"text"`
	Fields   []slackTextObj    `json:"fields"`
	Elements []json.RawMessage `json:"elements"`
	Level    int               `json:"level"`
	Expand   bool              `json:"expand"`
}

type slackButtonWire struct {
	Type     string        `json:"type"`
	Text     *slackTextObj `json:"text"`
	ActionID string        `json:"action_id"`
	URL      string        `json:"url"`
	Value    string        `json:"value"`
	Style    string        `json:"style"`
}

// validateSlackPayload returns "" for a valid message, otherwise Slack's
// error code.
func validateSlackPayload(body []byte) string {
	var p slackPayload
	if slackStrictJSON(body, &p) != nil {
		return "invalid_payload"
	}
	if (p.Text == nil || strings.TrimSpace(*p.Text) == "") && len(p.Blocks) == 0 {
		return "no_text"
	}
	if len(p.Blocks) > slackMaxBlocks {
		return "invalid_blocks"
	}
	for _, raw := range p.Blocks {
		if err := validateSlackBlock(raw); err != nil {
			return "invalid_blocks"
		}
	}
	return ""
}

func validateSlackBlock(raw json.RawMessage) error {
	var b slackBlockWire
	if err := slackStrictJSON(raw, &b); err != nil {
		return err
	}
	if utf8.RuneCountInString(b.BlockID) > slackMaxBlockID {
		return fmt.Errorf("block_id too long")
	}
	switch b.Type {
	case "header":
		if b.Text == nil || b.Text.Type != "plain_text" || b.Fields != nil || b.Elements != nil {
			return fmt.Errorf("header needs plain_text text only")
		}
		return validateSlackText(*b.Text, slackMaxHeaderText)
	case "section":
		if b.Elements != nil || (b.Text == nil && len(b.Fields) == 0) {
			return fmt.Errorf("section needs text or fields")
		}
		if b.Text != nil {
			if err := validateSlackText(*b.Text, slackMaxSectionText); err != nil {
				return err
			}
		}
		if len(b.Fields) > slackMaxFields {
			return fmt.Errorf("too many fields")
		}
		for _, f := range b.Fields {
			if err := validateSlackText(f, slackMaxSectionField); err != nil {
				return err
			}
		}
	case "context":
		if b.Text != nil || b.Fields != nil || len(b.Elements) == 0 || len(b.Elements) > slackMaxContextElems {
			return fmt.Errorf("context needs 1..10 elements")
		}
		for _, e := range b.Elements {
			var t slackTextObj
			if err := slackStrictJSON(e, &t); err != nil {
				return err
			}
			if err := validateSlackText(t, slackMaxSectionText); err != nil {
				return err
			}
		}
	case "divider":
		if b.Text != nil || b.Fields != nil || b.Elements != nil {
			return fmt.Errorf("divider takes no content")
		}
	case "actions":
		if b.Text != nil || b.Fields != nil || len(b.Elements) == 0 || len(b.Elements) > slackMaxActionElems {
			return fmt.Errorf("actions needs 1..25 elements")
		}
		for _, e := range b.Elements {
			var btn slackButtonWire
			if err := slackStrictJSON(e, &btn); err != nil {
				return err
			}
			if btn.Type != "button" || btn.Text == nil || btn.Text.Type != "plain_text" {
				return fmt.Errorf("actions elements must be buttons with plain_text")
			}
			if err := validateSlackText(*btn.Text, slackMaxButtonText); err != nil {
				return err
			}
			if len(btn.URL) > slackMaxButtonURL || (btn.Style != "" && btn.Style != "primary" && btn.Style != "danger") {
				return fmt.Errorf("bad button")
			}
		}
	default:
		return fmt.Errorf("unsupported block type %q", b.Type)
	}
	return nil
}

func validateSlackText(t slackTextObj, max int) error {
	switch {
	case t.Type != "plain_text" && t.Type != "mrkdwn":
		return fmt.Errorf("text type %q", t.Type)
	case t.Text == "":
		return fmt.Errorf("empty text")
	case utf8.RuneCountInString(t.Text) > max:
		return fmt.Errorf("text longer than %d", max)
	case t.Emoji != nil && t.Type != "plain_text":
		return fmt.Errorf("emoji is only for plain_text")
	case t.Verbatim != nil && t.Type != "mrkdwn":
		return fmt.Errorf("verbatim is only for mrkdwn")
	}
	return nil
}

// slackStrictJSON decodes one JSON value, rejecting unknown fields and trailing data.
func slackStrictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("trailing data")
	}
	return nil
}
