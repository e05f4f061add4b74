package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The sandbox's stand-in for a SCIM client the product cannot configure
// (Google Workspace, JumpCloud, OneLogin, PingOne, a home-grown one): the
// handoff target's other side.
const (
	// HandoffTarget is the handoff target's name in the sandbox's config.
	HandoffTarget = "google"
	// HandoffUserAgent is the User-Agent the fake client sends (and the
	// target's userAgent): a made-up one, as the real IdPs' are not
	// documented.
	HandoffUserAgent = "sandbox-idp/1.0 (a SCIM client configured by hand)"
	// HandoffAddr is the fake client's own source address (a loopback
	// address of its own, so CloudTrail shows it apart from the others).
	HandoffAddr = "127.0.0.7"
	// HandoffInstructions are the target's instructions in the config.
	HandoffInstructions = "Admin console > Apps > Web and mobile apps > Amazon Web Services > Auto-provisioning: paste the token into Access token, Save"
)

// SCIMClient fakes an identity provider whose SCIM connection only a human
// can change: an admin pastes a token into its console (Paste); from then
// on each of its syncs (Sync) is a SCIM call with that token, its user
// agent and its own address, which the Identity Center fake answers and
// CloudTrail records, as for a real IdP.
type SCIMClient struct {
	sb        *Sandbox
	userAgent string
	client    *http.Client

	mu    sync.Mutex
	token string
	syncs int
}

// NewSCIMClient returns a client sending userAgent from addr (a loopback
// address; "" for the default).
func (s *Sandbox) NewSCIMClient(userAgent, addr string) *SCIMClient {
	c := &SCIMClient{sb: s, userAgent: userAgent, client: s.Client}
	if tr, ok := s.Client.Transport.(*http.Transport); ok && addr != "" {
		tr = tr.Clone()
		d := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(addr)}}
		tr.DialContext = d.DialContext
		c.client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	}
	return c
}

// Paste is the admin pasting token into the client's console and saving.
func (c *SCIMClient) Paste(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.token = token
}

// Holds reports whether the client holds a token the SCIM endpoint accepts.
func (c *SCIMClient) Holds() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sb.IC.ValidToken(c.token)
}

// Syncs counts the syncs made.
func (c *SCIMClient) Syncs() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.syncs
}

// Sync is one provisioning call (GET Users) with the token it holds; it
// returns the HTTP status. A client holding no token makes no call.
func (c *SCIMClient) Sync(ctx context.Context) (int, error) {
	c.mu.Lock()
	token := c.token
	c.syncs++
	c.mu.Unlock()
	if token == "" {
		return 0, errors.New("no token pasted")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.sb.IC.SCIMEndpoint()+"Users?count=1", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/scim+json")
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("scim client sync: %s", strings.ReplaceAll(err.Error(), token, "[token]"))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}

// KeepSyncing syncs every interval of wall-clock time (never the sandbox
// clock, which a background caller must not move) until stop is called.
func (c *SCIMClient) KeepSyncing(every time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			_, _ = c.Sync(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}

// handoffConsole is the fake client's admin console: a page for the link
// the hand-off names (nothing is pasted through it; the sandbox pastes with
// Paste, playing the admin).
func handoffConsole() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "sandbox SCIM client console: "+HandoffInstructions+"\n(in the sandbox, SCIMClient.Paste plays the admin)\n")
	})
}

// PlayAdmin plays the SCIM client's admin in real time: once a token has
// been pending (AWSPENDING in the store secret) for after, it is pasted into
// the client, as an admin who read the hand-off would. stop ends it.
func (s *Sandbox) PlayAdmin(after time.Duration) (stop func()) {
	return s.playAdmin(after, s.SCIM.Paste)
}

// PlayOktaAdmin plays the admin of the Okta app that takes its token by
// hand (Okta "handoff"): once a token has been pending for after, it is
// pasted in the app's Provisioning > Integration page and saved. stop ends
// it.
func (s *Sandbox) PlayOktaAdmin(after time.Duration) (stop func()) {
	app, _ := s.OktaApp()
	return s.playAdmin(after, func(token string) { s.Okta.SetTokenInAdminConsole(app, token) })
}

// playAdmin pastes the pending token with paste once it has been pending
// for after (again at each tick: pasting the same token changes nothing).
func (s *Sandbox) playAdmin(after time.Duration, paste func(token string)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		var seen string
		var since time.Time
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			v, _ := s.SM.Value(StoreSecret, "AWSPENDING")
			token := recordToken(v)
			switch {
			case token == "":
				seen = ""
			case token != seen:
				seen, since = token, time.Now()
			case time.Since(since) >= after:
				paste(token)
			}
		}
	}()
	return func() { cancel(); <-done }
}

// recordToken is the token of a store record ("" if none).
func recordToken(record string) string {
	var rec struct {
		Token string `json:"token"`
	}
	_ = json.Unmarshal([]byte(record), &rec)
	return rec.Token
}
