package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/term"

	"github.com/scim-rotator/scim-rotator/rotator"
)

// Progress as it happens (`rotate`, `run`, `demo`): every step's start and
// end, and every wait with its polls (rotator/waits.go). On a terminal with
// --log-format console the lines are short and for a human, on stderr; in a
// Pod (--log-format json, or stderr not a terminal) they are the rotator's
// log lines with stable keys (rotator.LogStep).

// progress is the OnStep of instance name's rotator ("" in the
// single-instance form): short lines on a terminal, else nil (the
// rotator's log lines). The short lines heed --log-level as the log lines
// do: a failed step's is a warning, the others are information.
func (a *app) progress(name string) func(rotator.StepEvent) {
	if a.logFormat != "console" || !writesToTerminal(a.stderr) {
		return nil
	}
	return heedLevel(a.log, progressPrinter(a.stderr, name))
}

// heedLevel is print for the events log's level enables: a failed step's
// at warn, the others at info.
func heedLevel(log *zap.Logger, print func(rotator.StepEvent)) func(rotator.StepEvent) {
	return func(e rotator.StepEvent) {
		lvl := zapcore.InfoLevel
		if e.Done && e.Err != nil && !rotator.LeftToNextRun(e.Err) {
			lvl = zapcore.WarnLevel
		}
		if log == nil || log.Core().Enabled(lvl) {
			print(e)
		}
	}
}

// instanceName is u's name in progress lines: none in the single-instance
// form.
func (f *fleet) instanceName(u unit) string {
	if !f.cfg.Fleet() {
		return ""
	}
	return u.name
}

// writesToTerminal reports whether w is a terminal.
func writesToTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// demoProgress is the demo's OnStep: the short lines in its output, and,
// with --log-format json, the log lines too.
func demoProgress(w io.Writer, log *zap.Logger, json bool) func(rotator.StepEvent) {
	print := progressPrinter(w, "")
	return func(e rotator.StepEvent) {
		print(e)
		if json {
			rotator.LogStep(log, e)
		}
	}
}

// progressPrinter writes each event as one short line to w (instance, when
// set, leads it):
//
//	...  quiet
//	wait quiet         CloudTrail to show no use of the old token ... since T; deadline T (in 1h30m0s), then ...
//	..   quiet         the old token ... last used at T by "..." from ...; next check in 2s
//	ok   quiet         wait until CloudTrail shows no use of the old token ...
func progressPrinter(w io.Writer, instance string) func(rotator.StepEvent) {
	lead := "  "
	if instance != "" {
		lead = "  [" + instance + "] "
	}
	return func(e rotator.StepEvent) {
		mark, text := "... ", ""
		switch wt := e.Wait; {
		case wt != nil && wt.Kind == rotator.WaitStart:
			mark, text = "wait", wt.For+", since "+stamp(wt.Since)
			if !wt.Deadline.IsZero() {
				text += fmt.Sprintf("; deadline %s (in %s), then %s", stamp(wt.Deadline), shortDur(wt.Deadline.Sub(e.At)), wt.Then)
			}
		case wt != nil:
			mark, text = "..  ", wt.Seen+"; next check: the next run"
			if !wt.NextCheck.IsZero() {
				text = fmt.Sprintf("%s; next check in %s", wt.Seen, shortDur(wt.NextCheck.Sub(e.At)))
			}
		case e.Done && rotator.LeftToNextRun(e.Err):
			mark, text = "left", e.Detail+": "+e.Err.Error()+"; the next run goes on"
		case e.Done && e.Err != nil:
			mark, text = "FAIL", e.Detail+": "+e.Err.Error()
		case e.Done:
			mark, text = "ok  ", e.Detail
		}
		if e.Target != "" {
			text = "[" + e.Target + "] " + text
		}
		line := fmt.Sprintf("%s%s %-13s %s", lead, mark, e.Step, text)
		_, _ = io.WriteString(w, strings.TrimRight(line, " ")+"\n")
	}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// shortDur is d for a human: to the second, or to the millisecond below one.
func shortDur(d time.Duration) string {
	if d < time.Second && d > -time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
