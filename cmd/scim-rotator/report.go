package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
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
