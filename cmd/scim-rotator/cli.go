package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/term"

	"github.com/scim-rotator/scim-rotator/adapters/buildinfo"
	"github.com/scim-rotator/scim-rotator/adapters/factory"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// Exit codes (a public contract).
const (
	exitOK     = 0
	exitFailed = 1 // rotation failed or blocked (after rollback and alerting)
	exitUsage  = 2 // usage or configuration error
)

// exitError ends a command with a chosen exit code; err, if set, is printed.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func usageErr(err error) error { return &exitError{code: exitUsage, err: err} }

// app holds what every command shares.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	configPath     string
	logFormat      string
	// instances are the --instance names (none: every instance).
	instances []string
	log       *zap.Logger
	// terminal and readHidden read a token typed at a terminal (tests
	// replace them).
	terminal   func(io.Reader) bool
	readHidden func(io.Reader) ([]byte, error)
}

// run executes the CLI and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, terminal: isTerminal, readHidden: readHidden}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if a.log != nil {
		_ = a.log.Sync()
	}
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			printErr(stderr, ee.err)
		}
		return ee.code
	}
	// Anything else comes from cobra's own parsing: unknown command or flag.
	printErr(stderr, err)
	return exitUsage
}

func printErr(w io.Writer, err error) {
	if ces := config.Errors(err); len(ces) > 1 {
		fmt.Fprintln(w, "error: invalid configuration:")
		for _, ce := range ces {
			fmt.Fprintln(w, "  "+ce.Error())
		}
		return
	}
	fmt.Fprintln(w, "error:", err)
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "scim-rotator",
		Short:         "Rotate the AWS IAM Identity Center SCIM access token before it expires",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildinfo.Get().String(),
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(a.logFormat, a.stderr)
			if err != nil {
				return usageErr(err)
			}
			a.log = log
			return nil
		},
	}
	// --version prints the line `version` prints, without cobra's "scim-rotator version " prefix.
	root.SetVersionTemplate("{{.Version}}\n")
	root.PersistentFlags().StringVar(&a.configPath, "config", "", "config file (default $SCIM_ROTATOR_CONFIG, then ./scim-rotator.yaml)")
	root.PersistentFlags().StringVar(&a.logFormat, "log-format", "console", "log format: json or console")
	root.AddCommand(a.rotateCmd(), a.statusCmd(), a.checkCmd(), a.stageCmd(), a.demoCmd(), a.runCmd(), a.configCmd(), a.versionCmd())
	return describe(root, "It creates a new token, records it in Secrets Manager before anything else, pushes it to every\n"+
		"target, tests it, confirms a sync, promotes it and deletes the old one; any failure rolls back.\n"+
		"Try it without a cloud account: scim-rotator demo. Each command's help gives its own exit codes.",
		"  scim-rotator demo\n  scim-rotator check --config scim-rotator.yaml\n  scim-rotator rotate --dry-run\n  scim-rotator run --listen :8080",
		"0  success (rotate: rotated, not due or waiting on a hand-off)\n1  failure (rotate: failed, rolled back, blocked; check: a FAIL)")
}

func newLogger(format string, w io.Writer) (*zap.Logger, error) {
	var enc zapcore.Encoder
	switch format {
	// Every time, the line's own and a field's (a token's expiry), is full
	// RFC 3339: a time of day alone would hide a date a year away.
	case "json":
		ec := zap.NewProductionEncoderConfig()
		ec.EncodeTime = zapcore.RFC3339TimeEncoder
		enc = zapcore.NewJSONEncoder(ec)
	case "console":
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeTime = zapcore.RFC3339TimeEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	default:
		return nil, fmt.Errorf("--log-format: unknown format %q: use json or console", format)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), zapcore.InfoLevel)), nil
}

// loadConfig resolves --config, $SCIM_ROTATOR_CONFIG, ./scim-rotator.yaml.
func (a *app) loadConfig() (*config.Config, error) {
	path := a.configPath
	if path == "" {
		path = os.Getenv("SCIM_ROTATOR_CONFIG")
	}
	if path == "" {
		path = "scim-rotator.yaml"
	}
	cfg, err := config.Load(path, factory.TargetTypes())
	if err != nil {
		return nil, usageErr(err)
	}
	return cfg, nil
}

// selectOne is the one instance --instance selects: a usage error unless
// exactly one is.
func (a *app) selectOne(cfg *config.Config, what string) (config.Instance, error) {
	sel, err := cfg.Select(a.instances)
	if err != nil {
		return config.Instance{}, usageErr(err)
	}
	if len(sel) != 1 {
		return config.Instance{}, usageErr(fmt.Errorf("%s acts on one instance: give --instance NAME (instances: %s)", what, instanceNames(cfg)))
	}
	return sel[0], nil
}

// Exit codes as each command's help states them.
const (
	exitsRotate = "0  rotated, not due, waiting on a hand-off as designed, or busy (another run holds the lock) on a scheduled run (dry run: the plan was printed)\n" +
		"1  failed, rolled back, blocked, interrupted (the next run resumes), the old token still in use (OldTokenInUse), busy with --now or --continue,\n" +
		"   waiting for a token to be staged, --continue with no hand-off pending, or calls seen with a token --revoke-old deleted (RevokedTokenUsed)"
	exitsDone  = "0  done\n1  the systems refused (the error says which and why)"
	exitsUsage = "2  usage or configuration error (the message names the exact flag or config key)"
)

// describe sets a command's help: what it does, examples and the exit codes
// (the usage line is added: every command has it).
func describe(cmd *cobra.Command, long, examples, exits string) *cobra.Command {
	cmd.Long = cmd.Short + ".\n\n" + long + "\n\nExit codes:\n  " + strings.ReplaceAll(exits+"\n"+exitsUsage, "\n", "\n  ")
	cmd.Example = examples
	return cmd
}

func (a *app) rotateCmd() *cobra.Command {
	var opts rotator.RunOptions
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
			f, err := a.buildFleet(cmd.Context(), factory.Options{})
			if err != nil {
				return err
			}
			return exitWith(a.each(cmd.Context(), f, true, func(ctx context.Context, _ int, u unit, w io.Writer) int {
				if u.err != nil {
					printErr(w, u.err)
					return exitUsage
				}
				if opts.Continue {
					if msg, ok := handoffPending(ctx, u.rot); !ok {
						fmt.Fprintln(w, "No hand-off is pending: "+msg)
						return exitFailed
					}
				}
				push := a.pushMetrics(u.name, u.cfg, u.rot)
				o := opts
				if o.RevokeOld && !o.DryRun {
					o.RequestedBy = requester(ctx, u)
				}
				res := u.rot.Run(ctx, o)
				push(ctx)
				printResult(w, res, targetNames(u.rot))
				return res.ExitCode()
			}))
		},
	}
	a.instanceFlag(cmd)
	cmd.Flags().BoolVar(&opts.Now, "now", false, "rotate immediately, whatever the expiry")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print the plan and change nothing")
	cmd.Flags().BoolVar(&opts.Continue, "continue", false, "after a hand-off: confirm the sync and finish the rotation")
	cmd.Flags().BoolVar(&opts.RevokeOld, "revoke-old", false, "with --now, for a suspected leak: delete the old token as soon as every target is confirmed and CloudTrail shows the new one in use, without waiting for quietPeriod")
	return describe(cmd, "Without flags, rotate does what the plan says: nothing when the live token is not due, start a\n"+
		"rotation when it is, resume one a stopped run left. A target that needs a human (an Okta app whose\n"+
		"token is pasted in the Admin Console) makes the rotation wait; finish it with --continue. A handoff\n"+
		"target needs no --continue: every later run confirms it once CloudTrail shows its client on the new token.\n"+
		"--now --revoke-old (a suspected leak) deletes the old token without waiting for quietPeriod, names\n"+
		"whoever still uses it, and later runs report calls made with it (RevokedTokenUsed).\n"+
		"With instances in the config, every instance (or each --instance) rotates on its own, parallelism\n"+
		"at a time; the output is grouped by instance and the exit code is the worst of them.",
		"  scim-rotator rotate --dry-run\n  scim-rotator rotate\n  scim-rotator rotate --now\n  scim-rotator rotate --now --revoke-old --dry-run\n  scim-rotator rotate --continue\n  scim-rotator rotate --instance prod --instance staging", exitsRotate)
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

func targetNames(rot *rotator.Rotator) []string {
	names := make([]string, 0, len(rot.Targets))
	for _, t := range rot.Targets {
		names = append(names, t.Name())
	}
	return names
}

// outcomeText is the message without a leading outcome word that repeats
// the outcome ("NotDue" then "not due: ...").
func outcomeText(outcome rotator.Reason, msg string) string {
	var words []string
	start := 0
	s := string(outcome)
	for i := 1; i <= len(s); i++ {
		if i == len(s) || 'A' <= s[i] && s[i] <= 'Z' {
			words = append(words, strings.ToLower(s[start:i]))
			start = i
		}
	}
	if rest, ok := strings.CutPrefix(msg, strings.Join(words, " ")+": "); ok && s != "" {
		return rest
	}
	return msg
}

// actionWords says what `rotate` would do, for humans ("rotate would ...").
func actionWords(a rotator.Action) string {
	switch a {
	case rotator.ActionNone:
		return "do nothing"
	case rotator.ActionStart:
		return "start a rotation"
	case rotator.ActionResume:
		return "resume the rotation in progress"
	case rotator.ActionFinish:
		return "finish the rotation"
	case rotator.ActionWait:
		return "wait"
	case rotator.ActionBlocked:
		return "stop: it is blocked"
	}
	return string(a)
}

// printResult writes a run's outcome for humans (stdout); logs go to stderr.
// targets are the configured targets, listed under a dry run's steps.
func printResult(w io.Writer, res rotator.Result, targets []string) {
	if res.Outcome == rotator.ReasonDryRun {
		p := res.Plan
		fmt.Fprintf(w, "Dry run: rotate would %s.\n  %s\n", actionWords(p.Action), outcomeText(p.Reason, p.Message))
		for i, s := range p.Steps {
			fmt.Fprintf(w, "  %d. %s\n", i+1, s)
		}
		if p.Action == rotator.ActionStart || p.Action == rotator.ActionResume {
			fmt.Fprintln(w, "  Targets it would push the new token to: "+listText(targets))
		}
		fmt.Fprintln(w, "Nothing was changed.")
		return
	}
	fmt.Fprintf(w, "%s: %s\n", res.Outcome, outcomeText(res.Outcome, res.Message))
	if res.Err != nil && !strings.Contains(res.Message, res.Err.Error()) {
		fmt.Fprintf(w, "  error (%s): %v\n", res.FailedStep, res.Err)
	}
	if pr := res.Progress; pr != nil && len(pr.Targets) > 0 && res.Outcome != rotator.ReasonNotDue {
		rows := [][]string{{"TARGET", "STATE", "DETAIL"}}
		for _, t := range pr.Targets {
			rows = append(rows, []string{t.Name, string(t.State), t.Message})
		}
		table(w, "  ", rows)
	}
	if len(res.NextActions) > 0 {
		fmt.Fprintln(w, "Next:")
		for i, s := range res.NextActions {
			fmt.Fprintf(w, "  %d. %s\n", i+1, s)
		}
	}
}

func listText(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}

// table writes aligned columns with no trailing spaces, each line indented.
func table(w io.Writer, indent string, rows [][]string) {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, indent+strings.Join(r, "\t"))
	}
	_ = tw.Flush()
	for _, line := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
}

func (a *app) statusCmd() *cobra.Command {
	var output string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show tokens, store versions, any rotation in progress and each target's state (read-only)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return usageErr(fmt.Errorf("-o: unknown output %q: use table or json", output))
			}
			ctx, cancel, err := withDeadline(cmd.Context(), timeout)
			if err != nil {
				return err
			}
			defer cancel()
			f, err := a.buildFleet(ctx, factory.Options{})
			if err != nil {
				return err
			}
			keyed := make([]any, len(f.units))
			code := a.each(ctx, f, output == "table", func(ctx context.Context, i int, u unit, w io.Writer) int {
				if u.err != nil {
					keyed[i] = instanceError{Error: u.err.Error()}
					printErr(w, u.err)
					return exitUsage
				}
				rep := u.rot.Status(ctx)
				keyed[i] = rep
				if output == "table" {
					printStatus(w, rep)
				}
				return exitOK
			})
			if output == "json" {
				if err := writeJSON(a.stdout, f, keyed); err != nil {
					return err
				}
			}
			if timedOut(ctx) {
				return &exitError{code: worse(code, exitFailed), err: fmt.Errorf("%v: the systems that had not answered are listed under errors", context.Cause(ctx))}
			}
			return exitWith(code)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	timeoutFlag(cmd, &timeout)
	a.instanceFlag(cmd)
	return describe(cmd, "status changes nothing. -o json is a stable contract, described by the JSON Schema\n"+
		"cmd/scim-rotator/status.schema.json; errors reading a system are listed, the rest still shows.\n"+
		"With instances in the config, the report is grouped by instance (-o json: an object keyed by name).\n"+
		"--timeout bounds the whole command: a system that has not answered by then is listed under errors\n"+
		"as \"timed out after ...\", and the report is still printed.",
		"  scim-rotator status\n  scim-rotator status -o json | jq .next\n  scim-rotator status --instance prod -o json | jq .prod.next\n  scim-rotator status --timeout 30s",
		"0  the report was printed (a system that could not be read is listed under errors)\n1  --timeout expired before every system answered (the report was printed)")
}

func printStatus(w io.Writer, rep rotator.StatusReport) {
	rows := [][]string{{"IDENTITY CENTER TOKEN", "CREATED", "EXPIRES", "DAYS LEFT", "ROLE", "LAST USED (24 H)", "BY", "FROM", "CALLS (24 H)"}}
	for _, t := range rep.Tokens {
		role := "-"
		switch {
		case t.Live:
			role = "live"
		case t.Pending:
			role = "pending (new)"
		}
		last, by, from, calls := "-", "-", "-", "0"
		if u := t.Use; u != nil {
			last, by, from, calls = u.Last.UTC().Format(time.RFC3339), orDash(u.UserAgent), orDash(u.SourceIP), strconv.Itoa(u.Calls)
		}
		rows = append(rows, []string{t.ID, day(t.Created), day(t.Expires), strconv.Itoa(t.DaysLeft), role, last, by, from, calls})
	}
	table(w, "", rows)
	fmt.Fprintf(w, "\nNext: rotate would %s.\n  %s\n", actionWords(rep.Next.Action), outcomeText(rep.Next.Reason, rep.Next.Message))
	fmt.Fprintln(w)
	rows = [][]string{{"STORE VERSION", "STAGES", "TOKEN", "CREATED"}}
	for _, v := range rep.Versions {
		rows = append(rows, []string{v.ID, listText(v.Stages), orDash(v.TokenID), v.Created.UTC().Format(time.RFC3339)})
	}
	table(w, "", rows)
	if l := rep.Lock; l != nil {
		fmt.Fprintf(w, "\nLocked by %s since %s, until %s\n", l.Owner, l.Acquired.UTC().Format(time.RFC3339), l.Expires.UTC().Format(time.RFC3339))
	}
	if pr := rep.Rotation; pr != nil {
		fmt.Fprintf(w, "\nRotation %s: %s (started %s, old token %s, new token %s)\n", pr.RotationID, pr.Phase, pr.StartedAt.UTC().Format(time.RFC3339), orDash(pr.OldTokenID), orDash(pr.NewTokenID))
		rows = [][]string{{"TARGET", "STATE", "DETAIL"}}
		for _, t := range pr.Targets {
			rows = append(rows, []string{t.Name, string(t.State), t.Message})
		}
		table(w, "  ", rows)
		if pr.LastError != "" {
			fmt.Fprintf(w, "  last error: %s\n", pr.LastError)
		}
	}
	if rv := rep.Revoked; rv != nil {
		fmt.Fprintf(w, "\nRevoked token %s: deleted %s by an emergency rotation (--revoke-old) requested by %s; %d call(s) with it alerted (RevokedTokenUsed)\n",
			rv.TokenID, rv.DeletedAt.UTC().Format(time.RFC3339), orDash(rv.RequestedBy), rv.Alerted)
		for _, c := range rv.Suspects {
			fmt.Fprintf(w, "  still used it when deleted: %q from %s, last at %s\n", c.UserAgent, orDash(c.SourceIP), c.Last.UTC().Format(time.RFC3339))
		}
		if len(rv.Calls) > 0 {
			rows = [][]string{{"CALL WITH THE REVOKED TOKEN (24 H)", "OPERATION", "BY", "FROM", "ANSWER"}}
			for _, u := range rv.Calls {
				answer := "accepted"
				if u.ErrorCode != "" {
					answer = "refused (" + u.ErrorCode + ")"
				}
				rows = append(rows, []string{u.Time.UTC().Format(time.RFC3339), orDash(u.EventName), orDash(u.UserAgent), orDash(u.SourceIP), answer})
			}
			table(w, "  ", rows)
		}
	}
	for _, s := range rep.Systems {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(s.System+" "+s.Target))
		rows = nil
		for _, f := range s.Fields {
			rows = append(rows, []string{f.Key, f.Text()})
		}
		table(w, "  ", rows)
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(w, "\nerror: %s\n", e)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02")
}

func (a *app) checkCmd() *cobra.Command {
	var output string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Read-only preflight: config, credentials and one read call on every system",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return usageErr(fmt.Errorf("-o: unknown output %q: use table or json", output))
			}
			ctx, cancel, err := withDeadline(cmd.Context(), timeout)
			if err != nil {
				return err
			}
			defer cancel()
			f, err := a.buildFleet(ctx, factory.Options{})
			if err != nil {
				return err
			}
			keyed := make([]any, len(f.units))
			var failed atomic.Int64
			code := a.each(ctx, f, output == "table", func(ctx context.Context, i int, u unit, w io.Writer) int {
				results := checkInstance(ctx, a.log, u)
				keyed[i] = results
				if output == "table" {
					printChecks(w, results)
				}
				n := 0
				for _, c := range results {
					if c.Failed() {
						n++
					}
				}
				failed.Add(int64(n))
				switch {
				case u.err != nil:
					return exitUsage
				case n > 0:
					return exitFailed
				}
				return exitOK
			})
			if output == "json" {
				if err := writeJSON(a.stdout, f, keyed); err != nil {
					return err
				}
			}
			if n := failed.Load(); n > 0 {
				return &exitError{code: code, err: fmt.Errorf("%d check(s) failed", n)}
			}
			return exitWith(code)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	timeoutFlag(cmd, &timeout)
	a.instanceFlag(cmd)
	return describe(cmd, "Each check is OK, WARN (works, but worth fixing: e.g. no live token recorded, so a rotation\n"+
		"could not switch a target back) or FAIL (a rotation would fail). A WARN or FAIL says how to fix it.\n"+
		"Only a FAIL makes check exit 1. With instances in the config, each instance is checked on its own\n"+
		"(grouped; -o json: an object keyed by name) and the exit code is the worst of them.\n"+
		"--timeout bounds the whole command: a system that has not answered by then is a FAIL\n"+
		"\"timed out after ...\", and every result is still printed.",
		"  scim-rotator check\n  scim-rotator check -o json\n  scim-rotator check --instance prod\n  scim-rotator check --timeout 30s",
		"0  every check is OK or WARN\n1  a check is FAIL")
}

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

// printChecks writes check results as an aligned table, each fix under its line.
func printChecks(w io.Writer, results []rotator.CheckResult) {
	rows := [][]string{{"LEVEL", "SYSTEM", "TARGET", "CHECK", "DETAIL"}}
	for _, c := range results {
		level := string(c.Level)
		if c.Failed() {
			level = string(rotator.LevelFail)
		}
		rows = append(rows, []string{level, c.System, orDash(c.Target), c.Name, c.Detail})
	}
	table(w, "", rows)
	for _, c := range results {
		if c.Level != rotator.LevelOK && c.Fix != "" {
			fmt.Fprintf(w, "fix (%s): %s\n", strings.TrimSpace(c.System+" "+c.Target+" "+c.Name), c.Fix)
		}
	}
}

func (a *app) stageCmd() *cobra.Command {
	var current bool
	var tokenID, tokenFile, expires string
	cmd := &cobra.Command{
		Use:   "stage",
		Short: "Record a token by hand: the live one (--current), or a new one generated in the console (manual issuer)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if current && tokenID == "" {
				return usageErr(errors.New("--token-id is required with --current"))
			}
			var exp time.Time
			if expires != "" {
				var err error
				if exp, err = parseDate(expires); err != nil {
					return usageErr(fmt.Errorf("--expires: %v", err))
				}
			}
			file, err := a.loadConfig()
			if err != nil {
				return err
			}
			in, err := a.selectOne(file, "stage")
			if err != nil {
				return err
			}
			cfg := in.Config
			manual := cfg.IdentityCenter.Issuer == config.IssuerManual
			switch {
			case !current && !manual:
				return usageErr(errors.New("stage without --current is for identityCenter.issuer manual; with issuer identitycenter the rotator creates tokens itself: use `scim-rotator stage --current --token-id ID` to record the live token"))
			case expires != "" && !(manual && current):
				return usageErr(errors.New("--expires is only for --current with identityCenter.issuer manual (otherwise the expiry is read from Identity Center)"))
			case manual && current && expires == "":
				return usageErr(errors.New("--expires is required with --current and identityCenter.issuer manual: give the token's expiry as the console shows it"))
			}
			value, err := a.readToken(tokenFile)
			if err != nil {
				return usageErr(err)
			}
			opts := factory.Options{}
			a.defaultOptions(&opts)
			inst, err := factory.BuildInstance(cmd.Context(), in, opts)
			if err != nil {
				return usageErr(err)
			}
			rot := inst.Rotator
			if current {
				if err := rot.StageCurrent(cmd.Context(), tokenID, value, exp); err != nil {
					return &exitError{code: exitFailed, err: fmt.Errorf("stage --current: %w", err)}
				}
				fmt.Fprintf(a.stdout, "Recorded token %s as the live token (AWSCURRENT).\n", tokenID)
				return nil
			}
			id, err := rot.StagePending(cmd.Context(), tokenID, value)
			if err != nil {
				return &exitError{code: exitFailed, err: fmt.Errorf("stage: %w", err)}
			}
			fmt.Fprintf(a.stdout, "Staged the new token as AWSPENDING (rotation %s). Run `scim-rotator rotate` to push, test, confirm and promote it.\n", id)
			return nil
		},
	}
	cmd.Flags().BoolVar(&current, "current", false, "record the token the IdP uses today as the live token")
	cmd.Flags().StringVar(&tokenID, "token-id", "", "the token's id as the IAM Identity Center console shows it")
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "file holding the token value (default or \"-\": standard input; a terminal prompts without echo)")
	cmd.Flags().StringVar(&expires, "expires", "", "with issuer manual and --current: the token's expiry (YYYY-MM-DD or RFC 3339)")
	a.instanceFlag(cmd)
	return describe(cmd, "The token is read from --token-file or standard input, never from the command line; on a\n"+
		"terminal, stage prompts for it and does not echo it. The SCIM endpoint must accept it.\n"+
		"  --current: record the token your IdP uses today, so that a rotation can roll back to it.\n"+
		"  without --current (identityCenter.issuer manual): stage a token you generated in the console;\n"+
		"  `rotate` then pushes, tests, confirms and promotes it.\n"+
		"With instances in the config, stage acts on exactly one: give --instance NAME.",
		"  scim-rotator stage --current --token-id TOKEN_ID --token-file live-token.txt\n"+
			"  scim-rotator stage --current --token-id TOKEN_ID --expires 2027-11-01 < live-token.txt   # issuer manual\n"+
			"  scim-rotator stage --token-file new-token.txt                                            # issuer manual",
		exitsDone)
}

func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither YYYY-MM-DD nor RFC 3339", s)
	}
	return t, nil
}

// readToken reads a token from a file or standard input; the value never
// passes through the command line. On a terminal it prompts and does not echo.
func (a *app) readToken(file string) (rotator.Secret, error) {
	var b []byte
	var err error
	switch {
	case file != "" && file != "-":
		b, err = os.ReadFile(file)
	case a.terminal != nil && a.terminal(a.stdin):
		fmt.Fprint(a.stderr, "Paste the token, then press Enter: ")
		b, err = a.readHidden(a.stdin)
		fmt.Fprintln(a.stderr)
	default:
		b, err = io.ReadAll(io.LimitReader(a.stdin, 64<<10))
	}
	if err != nil {
		return rotator.Secret{}, fmt.Errorf("--token-file: cannot read the token: %v", err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return rotator.Secret{}, errors.New("--token-file: the token is empty (give --token-file FILE or pipe it on standard input)")
	}
	return rotator.NewSecret(v), nil
}

// isTerminal reports whether r is a terminal.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// readHidden reads a line from a terminal without echoing it.
func readHidden(r io.Reader) ([]byte, error) {
	return term.ReadPassword(int(r.(*os.File).Fd()))
}

func (a *app) versionCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version and the source it was built from",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			info := buildinfo.Get()
			switch output {
			case "text":
				fmt.Fprintln(a.stdout, info)
			case "json":
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(info); err != nil {
					return fmt.Errorf("print the version: %w", err)
				}
			default:
				return usageErr(fmt.Errorf("-o: unknown output %q: use text or json", output))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return describe(cmd, "The version is, first found: the release version set at build time with\n"+
		"  -ldflags \"-X "+buildinfo.LdflagsPath+"=v1.2.3\";\n"+
		"the module version Go recorded (a `go install ...@v1.2.3` build says v1.2.3); else devel,\n"+
		"with the VCS revision (its first 12 characters), its time and +dirty when the tree was\n"+
		"modified. scim-rotator --version prints the same line. -o json prints\n"+
		"{\"version\", \"revision\", \"time\", \"dirty\", \"go\", \"platform\"} (revision and time empty when unknown).",
		"  scim-rotator version\n  scim-rotator --version\n  scim-rotator version -o json", "0  printed")
}
