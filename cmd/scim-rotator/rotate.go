package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/scim-rotator/scim-rotator/adapters/factory"
	"github.com/scim-rotator/scim-rotator/rotator"
)

func (a *app) rotateCmd() *cobra.Command {
	var opts rotator.RunOptions
	var output string
	var deadline time.Duration
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Rotate the token if it expires within rotateBefore (or now, with --now), or resume a rotation in progress",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Continue && (opts.Now || opts.DryRun) {
				return usageErr(errors.New("--continue finishes a hand-off: it cannot be combined with --now or --dry-run"))
			}
			if opts.RevokeOld && !opts.Now {
				return usageErr(errors.New("--revoke-old goes with --now: `rotate --now --revoke-old` rotates at once and deletes the old token without waiting for quietPeriod (a suspected leak)"))
			}
			if output != "text" && output != "json" {
				return usageErr(fmt.Errorf("-o: unknown output %q: use text or json", output))
			}
			if cmd.Flags().Changed("deadline") && deadline <= 0 {
				return usageErr(fmt.Errorf("--deadline %s: must be above 0 (omit it for no deadline)", deadline))
			}
			// The run's bound counts from the command's start, on the wall
			// clock; each instance's run gets it on its own clock.
			end := time.Now().Add(deadline)
			f, err := a.buildFleet(cmd.Context(), factory.Options{})
			if err != nil {
				return err
			}
			asJSON := output == "json"
			entries := make([]rotateEntry, len(f.units))
			code := a.each(cmd.Context(), f, !asJSON, func(ctx context.Context, i int, u unit, w io.Writer) int {
				var clock rotator.Clock = rotator.RealClock{}
				if u.rot != nil {
					clock = u.rot.Clock
				}
				start := clock.Now()
				entries[i] = rotateEntry{Name: u.name, ExitCode: exitFailed, Message: panicked, Requested: requestedBy(opts),
					Targets: []targetResult{}, NextActions: []string{}, Steps: []stepResult{}} // until it ends
				defer func() { entries[i].timed(start, clock.Now()) }()
				if u.err != nil {
					printErr(w, u.err)
					entries[i].ExitCode, entries[i].Message, entries[i].Error = exitUsage, "this instance could not be built (a configuration error); nothing was done", u.err.Error()
					return exitUsage
				}
				if opts.Continue {
					if msg, ok := handoffPending(ctx, u.rot); !ok {
						fmt.Fprintln(w, "No hand-off is pending: "+msg)
						entries[i].Message = "No hand-off is pending: " + msg
						return exitFailed
					}
				}
				push := a.pushMetrics(ctx, u)
				o := opts
				if o.RevokeOld && !o.DryRun {
					o.RequestedBy = requester(ctx, u)
				}
				steps := newStepTimes(u.rot.Clock)
				u.rot.OnStep = steps.also(a.progress(f.instanceName(u)), u.rot.Log)
				if deadline > 0 {
					o.Deadline = u.rot.Clock.Now().Add(time.Until(end))
				}
				res := u.rot.Run(ctx, o)
				push(ctx)
				entries[i] = rotateResult(u.name, res, targetNames(u.rot))
				entries[i].Steps = steps.list()
				if !asJSON {
					printResult(w, res, targetNames(u.rot))
				}
				return res.ExitCode()
			})
			if asJSON {
				if err := writeDocument(a.stdout, newDocument(code, entries)); err != nil {
					return err
				}
			}
			return exitWith(code)
		},
	}
	a.instanceFlag(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json (one result document; its JSON Schema: scim-rotator schema rotate)")
	cmd.Flags().BoolVar(&opts.Now, "now", false, "rotate immediately, whatever the expiry")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print the plan and change nothing")
	cmd.Flags().BoolVar(&opts.Continue, "continue", false, "after a hand-off: confirm the sync and finish the rotation")
	cmd.Flags().DurationVar(&deadline, "deadline", 0, "bound the run's waiting: a wait (a confirmation, proof of use, the quiet period) that would pass this long after the start is left to the next run, which resumes it (outcome Waiting, exit 0)")
	cmd.Flags().BoolVar(&opts.RevokeOld, "revoke-old", false, "with --now, for a suspected leak: delete the old token as soon as every target is confirmed and CloudTrail shows the new one in use, without waiting for quietPeriod")
	return describe(cmd, "Without flags, rotate does what the plan says: nothing when the live token is not due, start a\n"+
		"rotation when it is, resume one a stopped run left. A target that needs a human (an Okta app whose\n"+
		"token is pasted in the Admin Console) makes the rotation wait; finish it with --continue. A handoff\n"+
		"target needs no --continue: every later run confirms it once CloudTrail shows its client on the new token.\n"+
		"--now --revoke-old (a suspected leak) deletes the old token without waiting for quietPeriod, names\n"+
		"whoever still uses it, and later runs report calls made with it (RevokedTokenUsed).\n"+
		"--deadline 10m bounds the run's waiting (a Lambda invocation, a CronJob with a time limit): a wait that\n"+
		"would pass it is recorded and left to the next run, which resumes it; the run ends Waiting (exit 0).\n"+
		"With instances in the config, every instance (or each --instance) rotates on its own, parallelism\n"+
		"at a time; the output is grouped by instance and the exit code is the worst of them.\n"+
		"-o json prints one result document on stdout (logs stay on stderr): per instance the outcome, its exit\n"+
		"code, the old and new token ids, each target's state, what happens next and the durations, in the\n"+
		"shape `scim-rotator schema rotate` describes; its exitCode is the process's exit code.",
		"  scim-rotator rotate --dry-run\n  scim-rotator rotate\n  scim-rotator rotate --now\n  scim-rotator rotate --now --revoke-old --dry-run\n  scim-rotator rotate --continue\n  scim-rotator rotate --deadline 10m\n  scim-rotator rotate --instance prod --instance staging\n  scim-rotator rotate -o json | jq -r '.instances[] | .name + \": \" + .outcome'", exitsRotate)
}

// requester is who asks for an emergency rotation, for its alerts: the
// AWS identity the instance acts as.
func requester(ctx context.Context, u unit) string {
	if u.identity == nil {
		return ""
	}
	_, arn, err := u.identity(ctx)
	if err != nil {
		return "an unknown AWS identity (sts:GetCallerIdentity: " + err.Error() + ")"
	}
	return arn
}

// handoffPending reports whether a rotation waits for a hand-off; if not,
// it says what is the case instead.
func handoffPending(ctx context.Context, rot *rotator.Rotator) (string, bool) {
	obs, err := rot.Observe(ctx)
	if err != nil {
		return "cannot read the store: " + err.Error(), false
	}
	pr := obs.Store.Progress
	switch {
	case obs.Store.Pending != nil && pr != nil && pr.Phase == rotator.PhaseAwaitingHandoff:
		return "", true
	case obs.Store.Pending != nil:
		return "a rotation is in progress but waits for no human; run `scim-rotator rotate` to resume it", false
	}
	return "no rotation is in progress; `scim-rotator rotate --dry-run` shows what `rotate` would do", false
}
