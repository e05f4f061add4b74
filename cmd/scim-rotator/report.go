package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/scim-rotator/scim-rotator/adapters/factory"
)

// defaultTimeout is check's and status's overall deadline: far above what a
// healthy run takes (a few seconds), far below "hangs until killed".
const defaultTimeout = 2 * time.Minute

func timeoutFlag(cmd *cobra.Command, d *time.Duration) {
	cmd.Flags().DurationVar(d, "timeout", defaultTimeout, "overall deadline: the systems that have not answered by then report \"timed out after ...\"")
}

// deadlineError is the cause --timeout ends the command's context with:
// what every system not yet answered reports.
type deadlineError struct{ after time.Duration }

func (e deadlineError) Error() string { return fmt.Sprintf("timed out after %s (--timeout)", e.after) }

// withDeadline bounds a command by its --timeout.
func withDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc, error) {
	if d <= 0 {
		return nil, nil, usageErr(fmt.Errorf("--timeout: %s is not a positive duration (e.g. 30s, 2m)", d))
	}
	ctx, cancel := context.WithTimeoutCause(ctx, d, deadlineError{d})
	return ctx, cancel, nil
}

// timedOut reports whether ctx ended at its --timeout.
func timedOut(ctx context.Context) bool {
	var de deadlineError
	return errors.As(context.Cause(ctx), &de)
}

// reportFlags are the flags of the read-only reports, status and check:
// -o and --timeout (with --instance).
type reportFlags struct {
	output  string
	timeout time.Duration
}

func (r reportFlags) table() bool { return r.output == "table" }

// addReportFlags adds -o, --timeout and --instance to a report's command.
func (a *app) addReportFlags(cmd *cobra.Command, r *reportFlags) {
	cmd.Flags().StringVarP(&r.output, "output", "o", "table", "output format: table or json")
	timeoutFlag(cmd, &r.timeout)
	a.instanceFlag(cmd)
}

// reportRun is what report gathered: the selected instances, the value
// each returned (nil for one whose command panicked), the worst exit code
// and, when --timeout expired, the deadline's cause.
type reportRun struct {
	f        *fleet
	values   []any
	code     int
	deadline error
}

// report is what status and check share: it checks -o, bounds the command
// by --timeout, wires the selected instances and runs one for each, the
// config's parallelism at a time (one prints its table to w with -o table,
// grouped by instance in the fleet form). The caller prints the document
// of -o json from the values.
func (a *app) report(ctx context.Context, r reportFlags, one func(ctx context.Context, u unit, w io.Writer) (value any, code int)) (reportRun, error) {
	if r.output != "table" && r.output != "json" {
		return reportRun{}, usageErr(fmt.Errorf("-o: unknown output %q: use table or json", r.output))
	}
	ctx, cancel, err := withDeadline(ctx, r.timeout)
	if err != nil {
		return reportRun{}, err
	}
	defer cancel()
	f, err := a.buildFleet(ctx, factory.Options{})
	if err != nil {
		return reportRun{}, err
	}
	run := reportRun{f: f, values: make([]any, len(f.units))}
	run.code = a.each(ctx, f, r.table(), func(ctx context.Context, i int, u unit, w io.Writer) int {
		var c int
		run.values[i], c = one(ctx, u, w)
		return c
	})
	if timedOut(ctx) {
		run.deadline = context.Cause(ctx)
	}
	return run, nil
}
