package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/factory"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// Every command's --help has a description, examples and the exit codes,
// and the README names every flag.
func TestHelpOfEveryCommand(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	root := (&app{}).rootCmd()
	var cmds []*cobra.Command
	var all func(*cobra.Command)
	all = func(c *cobra.Command) {
		cmds = append(cmds, c)
		for _, sub := range c.Commands() {
			all(sub)
		}
	}
	all(root)
	for _, c := range cmds {
		if c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		// The command's path without the root's name: "config schema".
		args := append(strings.Fields(strings.TrimPrefix(c.CommandPath(), root.Name())), "--help")
		var out bytes.Buffer
		if code := run(t.Context(), args, strings.NewReader(""), &out, io.Discard); code != 0 {
			t.Fatalf("%s --help: exit %d", c.Name(), code)
		}
		help := out.String()
		for _, want := range []string{c.Short, "Examples:", "Exit codes:\n  0  ", "  2  usage or configuration error"} {
			if !strings.Contains(help, want) {
				t.Errorf("%s --help lacks %q:\n%s", c.Name(), want, help)
			}
		}
		if len(strings.TrimSpace(strings.TrimPrefix(c.Long, c.Short+"."))) < 40 {
			t.Errorf("%s has no description beyond its one-liner", c.Name())
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Name != "help" && !bytes.Contains(readme, []byte("--"+f.Name)) {
				t.Errorf("README does not document %s --%s", c.Name(), f.Name)
			}
		})
	}
}

// Usage errors found before any config is read exit 2.
func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"rotate", "--continue", "--now"},
		{"rotate", "--continue", "--dry-run"},
		{"demo", "--dir", t.TempDir()},
		{"demo", "--okta", "maybe"},
		{"demo", "--handoff", "--okta", "handoff"},
		{"demo", "--handoff", "--instances", "3"},
		{"rotate", "--revoke-old"},
		{"rotate", "--revoke-old", "--dry-run"},
		{"rotate", "--continue", "--revoke-old"},
		{"rotate", "--deadline", "0s"},
		{"rotate", "--deadline", "-1m"},
		{"rotate", "--deadline", "10"},
		{"status", "-o", "yaml"},
		{"check", "-o", "yaml"},
		{"version", "-o", "yaml"},
		{"stage", "--current"},
		{"stage", "--expires", "tomorrow"},
		{"rotate", "extra-arg"},
		{"rotate", "--log-format", "xml"},
	} {
		var errOut bytes.Buffer
		if code := run(t.Context(), args, strings.NewReader(""), io.Discard, &errOut); code != exitUsage || !strings.HasPrefix(errOut.String(), "error: ") {
			t.Errorf("%q: exit %d, want 2: %s", args, code, errOut.String())
		}
	}
}

// On a terminal, stage prompts (on stderr) and reads without echo.
func TestStagePromptsOnATerminal(t *testing.T) {
	var errOut bytes.Buffer
	var hidden bool
	a := &app{stdin: strings.NewReader(""), stderr: &errOut,
		terminal:   func(io.Reader) bool { return true },
		readHidden: func(io.Reader) ([]byte, error) { hidden = true; return []byte("value\n"), nil }}
	v, err := a.readToken("")
	if err != nil || !v.Equal(v) || v.IsZero() || !hidden {
		t.Fatalf("readToken: %v (hidden read %v)", err, hidden)
	}
	if !strings.HasPrefix(errOut.String(), "Paste the token, then press Enter:") {
		t.Fatalf("prompt = %q", errOut.String())
	}
	// Not a terminal: no prompt, standard input is read as is.
	errOut.Reset()
	a.terminal = func(io.Reader) bool { return false }
	a.stdin = strings.NewReader("piped\n")
	if v, err := a.readToken("-"); err != nil || v.IsZero() || errOut.Len() != 0 {
		t.Fatalf("piped: %v, prompt %q", err, errOut.String())
	}
}

// Times in log fields carry their date (a token expiring next year must not
// read as a time of day), in both formats.
func TestLogTimesAreRFC3339(t *testing.T) {
	exp := time.Date(2027, 11, 29, 22, 24, 55, 0, time.UTC)
	for _, format := range []string{"console", "json"} {
		var buf bytes.Buffer
		log, err := newLogger(format, "info", &buf)
		if err != nil {
			t.Fatal(err)
		}
		log.Info("rotated", zap.Time("expires", exp))
		if !strings.Contains(buf.String(), "2027-11-29T22:24:55Z") {
			t.Errorf("%s: %s", format, buf.String())
		}
	}
}

func TestOutcomeText(t *testing.T) {
	for _, tc := range []struct{ outcome, msg, want string }{
		{"NotDue", "not due: the live token expires later", "the live token expires later"},
		{"Rotated", "rotated: token t is live", "token t is live"},
		{"Rotated", "token t is live", "token t is live"},
		{"OldTokenInUse", "old token in use: seen today", "seen today"},
		{"Failed", "failed step: x", "failed step: x"},
		{"", "x", "x"},
	} {
		if got := outcomeText(rotatorReason(tc.outcome), tc.msg); got != tc.want {
			t.Errorf("outcomeText(%s, %q) = %q, want %q", tc.outcome, tc.msg, got, tc.want)
		}
	}
}

func rotatorReason(s string) rotator.Reason { return rotator.Reason(s) }

// each runs the instances parallelism at a time, prints each group under
// its header in the file's order whatever order they finish in, and
// returns the worst exit code.
func TestEachGroupsInFileOrderAndReturnsTheWorstCode(t *testing.T) {
	cfg := &config.Config{Parallelism: 2, Instances: []config.InstanceConfig{{}}}
	f := &fleet{cfg: cfg, units: []unit{{name: "a"}, {name: "b"}, {name: "c"}}}
	release := map[string]chan struct{}{"a": make(chan struct{}), "b": make(chan struct{}), "c": make(chan struct{})}
	codes := map[string]int{"a": 0, "b": 2, "c": 1}
	var running, peak atomic.Int32
	var out bytes.Buffer
	a := &app{stdout: &out}
	done := make(chan int)
	go func() {
		done <- a.each(t.Context(), f, true, func(_ context.Context, _ int, u unit, w io.Writer) int {
			n := running.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			<-release[u.name]
			running.Add(-1)
			fmt.Fprintf(w, "result of %s\n", u.name)
			return codes[u.name]
		})
	}()
	// b finishes first, then c (a third slot opens), then a.
	close(release["b"])
	close(release["c"])
	close(release["a"])
	if code := <-done; code != exitUsage {
		t.Fatalf("exit %d, want the worst, 2", code)
	}
	want := "== instance a ==\nresult of a\n\n== instance b ==\nresult of b\n\n== instance c ==\nresult of c\n"
	if out.String() != want {
		t.Fatalf("output:\n%s\nwant:\n%s", out.String(), want)
	}
	if p := peak.Load(); p > 2 {
		t.Fatalf("%d instances ran at once; parallelism is 2", p)
	}
	// The single-instance form: no header, the output as it always was.
	out.Reset()
	single := &fleet{cfg: &config.Config{Parallelism: 4}, units: []unit{{name: "default"}}}
	code := a.each(t.Context(), single, true, func(_ context.Context, _ int, _ unit, w io.Writer) int {
		fmt.Fprintln(w, "Rotated: done")
		return exitFailed
	})
	if code != exitFailed || out.String() != "Rotated: done\n" {
		t.Fatalf("single: exit %d, output %q", code, out.String())
	}
}

// An instance whose command panics fails alone (exit 1, saying so, without
// the panic's value or its Go type); the others still print.
func TestEachSurvivesAPanickingInstance(t *testing.T) {
	cfg := &config.Config{Parallelism: 2, Instances: []config.InstanceConfig{{}}}
	f := &fleet{cfg: cfg, units: []unit{{name: "a"}, {name: "b"}}}
	var out bytes.Buffer
	a := &app{stdout: &out}
	code := a.each(t.Context(), f, true, func(_ context.Context, _ int, u unit, w io.Writer) int {
		if u.name == "a" {
			panic("LEAKCANARY")
		}
		fmt.Fprintln(w, "result of b")
		return exitOK
	})
	if code != exitFailed || !strings.Contains(out.String(), "== instance a ==\nerror: scim-rotator panicked") ||
		!strings.Contains(out.String(), "== instance b ==\nresult of b") || strings.Contains(out.String(), "LEAKCANARY") ||
		strings.Contains(out.String(), "of type") {
		t.Fatalf("exit %d, output:\n%s", code, out.String())
	}
}

// config schema prints the generator's schema of this build's target types,
// as JSON an editor and Helm read.
func TestConfigSchemaCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"config", "schema"}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	want, err := json.MarshalIndent(config.JSONSchema(factory.TargetTypes()), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	var got any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if !bytes.Equal(bytes.TrimSpace(out.Bytes()), want) {
		t.Errorf("config schema prints something else than config.JSONSchema:\n%s", out.String())
	}
	for _, want := range []string{`"$schema": "http://json-schema.org/draft-07/schema#"`, `"okta": {`, `"instances": {`, `"additionalProperties": false`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the schema lacks %s", want)
		}
	}
	if code := run(t.Context(), []string{"config", "schema", "extra"}, strings.NewReader(""), io.Discard, io.Discard); code != exitUsage {
		t.Errorf("config schema extra: exit %d, want %d", code, exitUsage)
	}
}

// --log-level keeps the lines at or above its level, in both formats; an
// unknown level is a usage error naming the flag and its values.
func TestLogLevel(t *testing.T) {
	for _, format := range []string{"console", "json"} {
		for _, tc := range []struct {
			level string
			want  []string // of debug, info, warn, error
		}{
			{"debug", []string{"debug", "info", "warn", "error"}},
			{"info", []string{"info", "warn", "error"}},
			{"warn", []string{"warn", "error"}},
			{"error", []string{"error"}},
		} {
			var buf bytes.Buffer
			log, err := newLogger(format, tc.level, &buf)
			if err != nil {
				t.Fatal(err)
			}
			log.Debug("line-debug")
			log.Info("line-info")
			log.Warn("line-warn")
			log.Error("line-error")
			for _, l := range logLevels {
				if got, want := strings.Contains(buf.String(), "line-"+l), slices.Contains(tc.want, l); got != want {
					t.Errorf("%s --log-level %s: %s line written %v, want %v:\n%s", format, tc.level, l, got, want, buf.String())
				}
			}
		}
	}
	var errOut bytes.Buffer
	code := run(t.Context(), []string{"status", "--log-level", "verbose"}, strings.NewReader(""), io.Discard, &errOut)
	if want := "error: --log-level: unknown level \"verbose\": use debug, info, warn or error\n"; code != exitUsage || errOut.String() != want {
		t.Fatalf("exit %d, stderr %q, want 2 and %q", code, errOut.String(), want)
	}
}
