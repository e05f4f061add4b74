package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

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
	log            *zap.Logger
}

// run executes the CLI and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
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
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(a.logFormat, a.stderr)
			if err != nil {
				return usageErr(err)
			}
			a.log = log
			return nil
		},
	}
	root.PersistentFlags().StringVar(&a.configPath, "config", "", "config file (default $SCIM_ROTATOR_CONFIG, then ./scim-rotator.yaml)")
	root.PersistentFlags().StringVar(&a.logFormat, "log-format", "console", "log format: json or console")
	root.AddCommand(a.rotateCmd(), a.statusCmd(), a.checkCmd(), a.stageCmd(), a.demoCmd(), a.runCmd(), a.versionCmd())
	return root
}

func newLogger(format string, w io.Writer) (*zap.Logger, error) {
	var enc zapcore.Encoder
	switch format {
	case "json":
		ec := zap.NewProductionEncoderConfig()
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewJSONEncoder(ec)
	case "console":
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeTime = zapcore.TimeEncoderOfLayout(time.TimeOnly)
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
	cfg, err := config.Load(path)
	if err != nil {
		return nil, usageErr(err)
	}
	return cfg, nil
}

// build loads the config and wires the rotator with the real adapters.
func (a *app) build(ctx context.Context, opts factory.Options) (*config.Config, *rotator.Rotator, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	if opts.Logger == nil {
		opts.Logger = a.log
	}
	rot, err := factory.Build(ctx, cfg, opts)
	if err != nil {
		return nil, nil, usageErr(err)
	}
	return cfg, rot, nil
}

func (a *app) rotateCmd() *cobra.Command {
	var opts rotator.RunOptions
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Rotate the token if it expires within rotateBefore (or now, with --now), or resume a rotation in progress",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, rot, err := a.build(cmd.Context(), factory.Options{})
			if err != nil {
				return err
			}
			push := a.pushMetrics(cfg, rot)
			res := rot.Run(cmd.Context(), opts)
			push(cmd.Context())
			printResult(a.stdout, res)
			if code := res.ExitCode(); code != exitOK {
				return &exitError{code: code}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&opts.Now, "now", false, "rotate immediately, whatever the expiry")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print the plan and change nothing")
	cmd.Flags().BoolVar(&opts.Continue, "continue", false, "after a hand-off: confirm the sync and finish the rotation")
	return cmd
}

// printResult writes a run's outcome for humans (stdout); logs go to stderr.
func printResult(w io.Writer, res rotator.Result) {
	if res.Outcome == rotator.ReasonDryRun {
		p := res.Plan
		fmt.Fprintf(w, "Dry run: %s\n  %s\n", p.Action, p.Message)
		for i, s := range p.Steps {
			fmt.Fprintf(w, "  %d. %s\n", i+1, s)
		}
		fmt.Fprintln(w, "Nothing was changed.")
		return
	}
	fmt.Fprintf(w, "%s: %s\n", res.Outcome, res.Message)
	if res.Err != nil && !strings.Contains(res.Message, res.Err.Error()) {
		fmt.Fprintf(w, "  error (%s): %v\n", res.FailedStep, res.Err)
	}
	if pr := res.Progress; pr != nil && len(pr.Targets) > 0 && res.Outcome != rotator.ReasonNotDue {
		for _, t := range pr.Targets {
			line := fmt.Sprintf("  target %s: %s", t.Name, t.State)
			if t.Message != "" {
				line += " (" + t.Message + ")"
			}
			fmt.Fprintln(w, line)
		}
	}
	if len(res.NextActions) > 0 {
		fmt.Fprintln(w, "Next:")
		for i, s := range res.NextActions {
			fmt.Fprintf(w, "  %d. %s\n", i+1, s)
		}
	}
}

func (a *app) statusCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show tokens, store versions, any rotation in progress and each target's state (read-only)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return usageErr(fmt.Errorf("-o: unknown output %q: use table or json", output))
			}
			_, rot, err := a.build(cmd.Context(), factory.Options{})
			if err != nil {
				return err
			}
			rep := rot.Status(cmd.Context())
			if output == "json" {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			printStatus(a.stdout, rep)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func printStatus(w io.Writer, rep rotator.StatusReport) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IDENTITY CENTER TOKEN\tCREATED\tEXPIRES\tDAYS LEFT\tROLE")
	for _, t := range rep.Tokens {
		role := ""
		switch {
		case t.Live:
			role = "live"
		case t.Pending:
			role = "pending (new)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", t.ID, day(t.Created), day(t.Expires), t.DaysLeft, role)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nNext: %s\n", rep.Next)
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STORE VERSION\tSTAGES\tTOKEN\tCREATED")
	for _, v := range rep.Versions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.ID, strings.Join(v.Stages, ","), v.TokenID, v.Created.UTC().Format(time.RFC3339))
	}
	_ = tw.Flush()
	if pr := rep.Rotation; pr != nil {
		fmt.Fprintf(w, "\nRotation %s: %s (started %s, old %s, new %s)\n", pr.RotationID, pr.Phase, pr.StartedAt.UTC().Format(time.RFC3339), pr.OldTokenID, pr.NewTokenID)
		for _, t := range pr.Targets {
			fmt.Fprintf(w, "  target %s: %s %s\n", t.Name, t.State, t.Message)
		}
		if pr.LastError != "" {
			fmt.Fprintf(w, "  last error: %s\n", pr.LastError)
		}
	}
	for _, s := range rep.Systems {
		fmt.Fprintf(w, "\n%s\n", s.System)
		for _, f := range s.Fields {
			fmt.Fprintf(w, "  %s: %s\n", f.Key, f.Value)
		}
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(w, "\nerror: %s\n", e)
	}
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02")
}

func (a *app) checkCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Read-only preflight: config, credentials and one read call on every system",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, rot, err := a.build(cmd.Context(), factory.Options{})
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, "OK    config: loaded, every credential resolved")
			failed := 0
			for _, c := range rot.Check(cmd.Context()) {
				status := "OK  "
				if !c.OK {
					status, failed = "FAIL", failed+1
				}
				line := fmt.Sprintf("%s  %s: %s", status, c.System, c.Name)
				if c.Detail != "" {
					line += ": " + c.Detail
				}
				fmt.Fprintln(a.stdout, line)
				if !c.OK && c.Fix != "" {
					fmt.Fprintln(a.stdout, "      fix: "+c.Fix)
				}
			}
			if failed > 0 {
				return &exitError{code: exitFailed, err: fmt.Errorf("%d check(s) failed", failed)}
			}
			return nil
		},
	}
}

func (a *app) stageCmd() *cobra.Command {
	var current bool
	var tokenID, tokenFile, expires string
	cmd := &cobra.Command{
		Use:   "stage",
		Short: "Record a token by hand: the live one (--current), or a new one generated in the console (manual issuer)",
		Long: "The token is read from --token-file or standard input, never from the command line.\n" +
			"  stage --current --token-id ID --token-file FILE   record the token your IdP uses today, so a rotation can roll back to it\n" +
			"  stage --token-file FILE [--token-id ID]           (issuer manual) stage a token you generated in the console; `rotate` then pushes it",
		Args: cobra.NoArgs,
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
			value, err := readToken(tokenFile, a.stdin)
			if err != nil {
				return usageErr(err)
			}
			_, rot, err := a.build(cmd.Context(), factory.Options{})
			if err != nil {
				return err
			}
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
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "file holding the token value (default or \"-\": standard input)")
	cmd.Flags().StringVar(&expires, "expires", "", "with issuer manual and --current: the token's expiry (YYYY-MM-DD or RFC 3339)")
	return cmd
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
// passes through the command line.
func readToken(file string, stdin io.Reader) (rotator.Secret, error) {
	var b []byte
	var err error
	if file == "" || file == "-" {
		b, err = io.ReadAll(io.LimitReader(stdin, 64<<10))
	} else {
		b, err = os.ReadFile(file)
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

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			fmt.Fprintf(a.stdout, "scim-rotator %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}
