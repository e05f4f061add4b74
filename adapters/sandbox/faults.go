package sandbox

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
)

// Fault is an injected failure for one call of one operation.
type Fault struct {
	// Pass lets this call through untouched, to fault a later one.
	Pass bool
	// Status is the HTTP status to answer with (500, 429, ...).
	Status int
	// Body replaces the fake's own error body for Status when set.
	Body string
	// Header is added to the answer (Retry-After, X-Rate-Limit-Reset, ...).
	Header http.Header
	// After performs the operation first and then answers with the fault:
	// the caller cannot tell that the work was done (an "unclear result").
	After bool
	// Hang blocks until the caller gives up (its context or timeout ends).
	Hang bool
	// Hook runs when the fault fires, before the answer is written (tests use
	// it to kill a process between two steps); for a Hold, when the wait
	// begins.
	Hook func()
	// Hold makes the call wait, before the fake does anything, until the
	// channel is closed; then the rest of the fault applies (with Pass, the
	// call goes on untouched). A caller that gives up meanwhile gets no
	// answer and nothing is done. Tests use it to pause a process inside a
	// step while another one runs.
	Hold <-chan struct{}
	// Match, when set, limits the fault to the calls it returns true for
	// (body is the request's body): a call it does not match passes and
	// leaves the fault at the head of the queue. Needs a fake that calls
	// BeginRequest; Begin matches nothing.
	Match func(r *http.Request, body []byte) bool
	// Repeat keeps the fault queued after it fires: with Match, an outage
	// for as long as Match says (a window of the sandbox's clock).
	Repeat bool
}

// Faults is a queue of faults per operation name, shared by all fakes. An
// operation's name is "<system>:<Operation>", e.g. "identitycenter:CreateBearerToken",
// "secretsmanager:PutSecretValue", "graph:PutSecrets", "okta:SetConnection".
type Faults struct {
	mu    sync.Mutex
	queue map[string][]Fault
	calls []string
}

// Inject queues faults for op; each fires on one call, in order.
func (f *Faults) Inject(op string, faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.queue == nil {
		f.queue = map[string][]Fault{}
	}
	f.queue[op] = append(f.queue[op], faults...)
}

// Clear drops every queued fault.
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = nil
}

// Calls returns the operations called so far, in order.
func (f *Faults) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// Count returns how many times op was called.
func (f *Faults) Count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c == op {
			n++
		}
	}
	return n
}

// ResetCalls forgets the recorded calls.
func (f *Faults) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

// Begin records a call of op and returns the fault to apply to it, if any.
// A fake calls it once per request, before doing any work:
//
//	ft := faults.Begin(op)
//	if ft.Before() { ft.Write(w, r, defaultBody); return }
//	... do the work ...
//	if ft.AfterWork() { ft.Write(w, r, defaultBody); return }
func (f *Faults) Begin(op string) *Fault { return f.BeginRequest(op, nil) }

// BeginRequest is Begin for a fake that lets faults see the request: Match
// is tried on it, and a Hold also ends when its caller leaves. It reads r's
// body when the fault queued first needs it and puts it back, so the fake
// reads it as usual.
func (f *Faults) BeginRequest(op string, r *http.Request) *Fault {
	if f == nil {
		return nil
	}
	var body []byte
	if r != nil && r.Body != nil && f.needsRequest(op) {
		// Also, net/http notices a caller that went away only once the body
		// has been read.
		body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	ft, ok := f.take(op, r, body)
	if !ok {
		return nil
	}
	if ft.Hold != nil {
		if ft.Hook != nil {
			ft.Hook()
			ft.Hook = nil
		}
		var left <-chan struct{} // nil: wait for Hold alone
		if r != nil {
			left = r.Context().Done()
		}
		select {
		case <-ft.Hold:
		case <-left:
			// The caller left (a killed process): nothing is done.
			return &Fault{Hang: true}
		}
	}
	if ft.Pass {
		return nil
	}
	return &ft
}

// needsRequest reports whether the fault queued first for op looks at the
// request.
func (f *Faults) needsRequest(op string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.queue[op]
	return len(q) > 0 && (q[0].Match != nil || q[0].Hold != nil)
}

// take records the call and dequeues the fault queued first for op when it
// applies to the call.
func (f *Faults) take(op string, r *http.Request, body []byte) (Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, op)
	q := f.queue[op]
	if len(q) == 0 {
		return Fault{}, false
	}
	ft := q[0]
	if ft.Match != nil && (r == nil || !ft.Match(r, body)) {
		return Fault{}, false
	}
	if !ft.Repeat {
		f.queue[op] = q[1:]
	}
	return ft, true
}

// Before reports whether the fault replaces the work.
func (ft *Fault) Before() bool { return ft != nil && !ft.After }

// AfterWork reports whether the fault is answered after the work was done.
func (ft *Fault) AfterWork() bool { return ft != nil && ft.After }

// Write answers with the fault. defaultBody gives the fake's own error body
// for a status when the fault has none.
func (ft *Fault) Write(w http.ResponseWriter, r *http.Request, defaultBody func(status int) (contentType string, body []byte)) {
	if ft.Hook != nil {
		ft.Hook()
	}
	if ft.Hang {
		// net/http notices a client that went away only once the request
		// body has been read: drain it, then wait for the client to leave.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
		// A server that hangs never answers: abort without writing, or
		// net/http would send 200 with an empty body, which a client whose
		// TLS close_notify reached us before its TCP close may still read
		// (its transport uses a response that raced the connection's close).
		panic(http.ErrAbortHandler)
	}
	for k, vs := range ft.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	status := ft.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	ct, body := "text/plain", []byte(ft.Body)
	if strings.HasPrefix(ft.Body, "{") {
		ct = "application/json"
	}
	if ft.Body == "" && defaultBody != nil {
		ct, body = defaultBody(status)
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
