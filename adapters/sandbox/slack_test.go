package sandbox

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestSlackWebhook(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	valid := `{"text":"fallback","channel":"#ops","replace_original":false,"delete_original":false,"blocks":[` +
		`{"type":"header","text":{"type":"plain_text","text":":x: Failed","emoji":true}},` +
		`{"type":"section","text":{"type":"mrkdwn","text":"*Targets*"},"fields":[{"type":"mrkdwn","text":"*Old*\n` + "`t1`" + `"}]},` +
		`{"type":"divider"},` +
		`{"type":"context","elements":[{"type":"mrkdwn","text":"scim-rotator"}]},` +
		`{"type":"actions","elements":[{"type":"button","text":{"type":"plain_text","text":"AWS console"},"url":"https://console.aws.amazon.com/"}]}]}`
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		wantStatus  int
		wantBody    string
	}{
		{name: "valid blocks", body: valid, wantStatus: 200, wantBody: "ok"},
		{name: "text only", body: `{"text":"hello"}`, wantStatus: 200, wantBody: "ok"},
		{name: "charset in content type", contentType: "application/json; charset=utf-8", body: `{"text":"hello"}`, wantStatus: 200, wantBody: "ok"},
		{name: "wrong path", path: "/services/T1/B1/wrong", body: `{"text":"hello"}`, wantStatus: 404, wantBody: "no_service"},
		{name: "GET", method: http.MethodGet, wantStatus: 405, wantBody: "invalid_method"},
		{name: "form encoded", contentType: "application/x-www-form-urlencoded", body: `payload={"text":"x"}`, wantStatus: 400, wantBody: "invalid_payload"},
		{name: "not JSON", body: `{"text":`, wantStatus: 400, wantBody: "invalid_payload"},
		{name: "unknown top-level key", body: `{"text":"x","colour":"red"}`, wantStatus: 400, wantBody: "invalid_payload"},
		{name: "no text, no blocks", body: `{"channel":"#ops"}`, wantStatus: 400, wantBody: "no_text"},
		{name: "unknown block type", body: `{"blocks":[{"type":"video"}]}`, wantStatus: 400, wantBody: "invalid_blocks"},
		{name: "header in mrkdwn", body: `{"blocks":[{"type":"header","text":{"type":"mrkdwn","text":"*x*"}}]}`, wantStatus: 400, wantBody: "invalid_blocks"},
		{name: "header too long", body: `{"blocks":[{"type":"header","text":{"type":"plain_text","text":"` + long(151) + `"}}]}`, wantStatus: 400, wantBody: "invalid_blocks"},
		{name: "header at the limit", body: `{"blocks":[{"type":"header","text":{"type":"plain_text","text":"` + long(150) + `"}}]}`, wantStatus: 200, wantBody: "ok"},
		{name: "section too long", body: `{"blocks":[{"type":"section","text":{"type":"mrkdwn","text":"` + long(3001) + `"}}]}`, wantStatus: 400, wantBody: "invalid_blocks"},
		{name: "section at the limit", body: `{"blocks":[{"type":"section","text":{"type":"mrkdwn","text":"` + long(3000) + `"}}]}`, wantStatus: 200, wantBody: "ok"},
		{name: "section field too long", body: `{"blocks":[{"type":"section","fields":[{"type":"mrkdwn","text":"` + long(2001) + `"}]}]}`, wantStatus: 400, wantBody: "invalid_blocks"},
		{name: "empty section", body: `{"blocks":[{"type":"section"}]}`, wantStatus: 400, wantBody: "invalid_blocks"},
		{name: "bad text type", body: `{"blocks":[{"type":"section","text":{"type":"markdown","text":"x"}}]}`, wantStatus: 400, wantBody: "invalid_blocks"},
		{name: "empty text", body: `{"blocks":[{"type":"section","text":{"type":"mrkdwn","text":""}}]}`, wantStatus: 400, wantBody: "invalid_blocks"},
		{name: "emoji on mrkdwn", body: `{"blocks":[{"type":"section","text":{"type":"mrkdwn","text":"x","emoji":true}}]}`, wantStatus: 400, wantBody: "invalid_blocks"},
		{name: "unknown block key", body: `{"blocks":[{"type":"divider","colour":"red"}]}`, wantStatus: 400, wantBody: "invalid_blocks"},
		{name: "empty context", body: `{"blocks":[{"type":"context","elements":[]}]}`, wantStatus: 400, wantBody: "invalid_blocks"},
		{name: "action not a button", body: `{"blocks":[{"type":"actions","elements":[{"type":"static_select","text":{"type":"plain_text","text":"x"}}]}]}`, wantStatus: 400, wantBody: "invalid_blocks"},
		{name: "too many blocks", body: `{"blocks":[` + strings.TrimSuffix(strings.Repeat(`{"type":"divider"},`, 51), ",") + `]}`, wantStatus: 400, wantBody: "invalid_blocks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			faults := &Faults{}
			s := NewSlack(faults)
			method, path, ct := tt.method, tt.path, tt.contentType
			if method == "" {
				method = http.MethodPost
			}
			if path == "" {
				path = s.Path()
			}
			if ct == "" {
				ct = "application/json"
			}
			req := httptest.NewRequestWithContext(t.Context(), method, path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", ct)
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus || rec.Body.String() != tt.wantBody {
				t.Errorf("answer = %d %q, want %d %q", rec.Code, rec.Body.String(), tt.wantStatus, tt.wantBody)
			}
			wantStored := 0
			if tt.wantStatus == 200 {
				wantStored = 1
			}
			if got := len(s.Messages()); got != wantStored {
				t.Errorf("stored %d messages, want %d", got, wantStored)
			}
		})
	}
}

func TestSlackWebhookView(t *testing.T) {
	s := NewSlack(nil)
	body := `{"text":"fb","channel":"#ops","blocks":[{"type":"header","text":{"type":"plain_text","text":"Rotated"}},` +
		`{"type":"section","text":{"type":"mrkdwn","text":"main"},"fields":[{"type":"mrkdwn","text":"f1"}]},` +
		`{"type":"context","elements":[{"type":"mrkdwn","text":"ctx"}]},` +
		`{"type":"actions","elements":[{"type":"button","text":{"type":"plain_text","text":"Open"},"url":"https://x.example/"}]}]}`
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, s.Path(), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("status %d %s", rec.Code, rec.Body)
	}
	got := s.Received()
	if len(got) != 1 || got[0].Header() != "Rotated" || got[0].Channel != "#ops" {
		t.Fatalf("Received() = %+v", got)
	}
	all := got[0].AllText()
	for _, w := range []string{"fb", "Rotated", "main", "f1", "ctx", "Open", "https://x.example/"} {
		if !strings.Contains(all, w) {
			t.Errorf("AllText lacks %q: %q", w, all)
		}
	}
	s.Reset()
	if len(s.Messages()) != 0 {
		t.Error("Reset kept messages")
	}
}

func TestSlackWebhookFaults(t *testing.T) {
	faults := &Faults{}
	s := NewSlack(faults)
	faults.Inject("slack:Post",
		Fault{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"30"}}},
		Fault{Status: http.StatusServiceUnavailable, After: true},
	)
	post := func() *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, s.Path(), strings.NewReader(`{"text":"x"}`))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec
	}
	if rec := post(); rec.Code != 429 || rec.Header().Get("Retry-After") != "30" || rec.Body.String() != "rate_limited" {
		t.Errorf("first post = %d %q Retry-After=%q", rec.Code, rec.Body, rec.Header().Get("Retry-After"))
	}
	if len(s.Messages()) != 0 {
		t.Error("a throttled post was stored")
	}
	if rec := post(); rec.Code != 503 {
		t.Errorf("second post = %d", rec.Code)
	}
	if len(s.Messages()) != 1 {
		t.Error("an After fault must store the message before failing")
	}
	if rec := post(); rec.Code != 200 {
		t.Errorf("third post = %d", rec.Code)
	}
	if n := faults.Count("slack:Post"); n != 3 {
		t.Errorf("slack:Post count = %d, want 3", n)
	}
}
