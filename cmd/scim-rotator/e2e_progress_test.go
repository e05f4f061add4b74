package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
)

// Progress (issue 25): `rotate --now` reports its waits as they happen.
// The real binary runs through a quiet period of 12s polled every 2s, and
// its lines are read as they arrive: the quiet period's lines must come
// while it waits, long before the process ends. In a Pod (--log-format
// json, stderr not a terminal) they are log lines with stable keys; on a
// terminal (a pseudo-terminal here) short lines for a human.
func TestE2EProgressDuringTheQuietPeriod(t *testing.T) {
	for _, mode := range []string{"json", "console"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, sandbox.Options{})
			oldID, oldValue := e.sb.SeedLiveToken(340 * 24 * time.Hour)
			e.stageLive(oldID, oldValue)
			e.setConfig("quietPeriod: 3s", "quietPeriod: 12s")
			e.setConfig("pollInterval: 250ms", "pollInterval: 2s")

			cmd := e.command("rotate", "--now", "--log-format", mode)
			var stdout strings.Builder
			cmd.Stdout = &stdout
			// The binary writes to w (a pipe, or a terminal), the test
			// reads r as the lines arrive.
			r, w, err := os.Pipe()
			if mode == "console" {
				r, w, err = openPTY()
			}
			if err != nil {
				t.Skipf("no %s: %v", mode, err)
			}
			defer r.Close()
			cmd.Stderr = w
			lines := readLines(r)
			err = cmd.Start()
			w.Close() // the binary holds it now: its exit ends the reads
			if err != nil {
				t.Fatal(err)
			}
			err = cmd.Wait()
			exited := time.Now()
			all := lines.until(exited.Add(2 * time.Second))
			var text []string
			for _, l := range all {
				text = append(text, l.text)
			}
			e.record(stdout.String(), strings.Join(text, "\n"))
			if err != nil || !strings.HasPrefix(stdout.String(), "Rotated") {
				t.Fatalf("rotate --now: %v\n%s\n%s", err, stdout.String(), strings.Join(text, "\n"))
			}

			var start *line
			var polls []line
			for i, l := range all {
				switch mode {
				case "json":
					var m map[string]any
					if json.Unmarshal([]byte(l.text), &m) != nil || m["step"] != "quiet" {
						continue
					}
					for _, k := range []string{"waiting_for", "since", "deadline", "on_deadline"} {
						if m[k] == nil && (m["msg"] == "waiting" || m["msg"] == "still waiting") {
							t.Fatalf("a wait's line without %s: %s", k, l.text)
						}
					}
					switch m["msg"] {
					case "waiting":
						start = &all[i]
					case "still waiting":
						if m["next_check"] == nil || !strings.Contains(m["last_seen"].(string), oldID) {
							t.Fatalf("a poll line must say what it saw of the old token and when it looks next: %s", l.text)
						}
						polls = append(polls, l)
					}
				case "console":
					switch {
					case strings.HasPrefix(l.text, "  wait quiet "):
						if !strings.Contains(l.text, oldID) || !strings.Contains(l.text, "deadline") || !strings.Contains(l.text, "then ") {
							t.Fatalf("the wait's line must say what for, the deadline and what then: %q", l.text)
						}
						start = &all[i]
					case strings.HasPrefix(l.text, "  ..   quiet "):
						if !strings.Contains(l.text, "the old token "+oldID) || !strings.Contains(l.text, "next check in") {
							t.Fatalf("a poll line must say what it saw of the old token and when it looks next: %q", l.text)
						}
						polls = append(polls, l)
					case strings.Contains(l.text, "waiting_for"):
						t.Fatalf("on a terminal the progress is for a human, not log fields: %q", l.text)
					}
				}
			}
			if start == nil || len(polls) < 4 {
				t.Fatalf("want the quiet period's start and a line at each poll (2s apart over 12s), got start %v and %d polls:\n%s",
					start != nil, len(polls), strings.Join(text, "\n"))
			}
			// The lines came while it waited: the first poll's long before
			// the end, and none further apart than a poll or two.
			if d := exited.Sub(polls[0].at); d < 8*time.Second {
				t.Fatalf("the first poll line came only %s before the process ended", d)
			}
			for i := 1; i < len(polls); i++ {
				if gap := polls[i].at.Sub(polls[i-1].at); gap > 5*time.Second {
					t.Fatalf("%s between two poll lines (pollInterval 2s)", gap)
				}
			}
		})
	}
}

// line is a line of output and when the test read it.
type line struct {
	text string
	at   time.Time
}

// lineReader reads lines as they arrive.
type lineReader struct {
	mu    sync.Mutex
	lines []line
	done  chan struct{}
}

func readLines(r io.Reader) *lineReader {
	lr := &lineReader{done: make(chan struct{})}
	go func() {
		defer close(lr.done)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lr.mu.Lock()
			lr.lines = append(lr.lines, line{text: strings.TrimRight(sc.Text(), "\r"), at: time.Now()})
			lr.mu.Unlock()
		}
	}()
	return lr
}

// until is every line read once the output ended (or by deadline).
func (lr *lineReader) until(deadline time.Time) []line {
	select {
	case <-lr.done:
	case <-time.After(time.Until(deadline)):
	}
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return append([]line(nil), lr.lines...)
}
