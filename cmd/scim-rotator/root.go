package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/scim-rotator/scim-rotator/adapters/buildinfo"
	"github.com/scim-rotator/scim-rotator/adapters/factory"
	"github.com/scim-rotator/scim-rotator/config"
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
	logLevel       string
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

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "scim-rotator",
		Short:         "Rotate the AWS IAM Identity Center SCIM access token before it expires",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildinfo.Get().String(),
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(a.logFormat, a.logLevel, a.stderr)
			if err != nil {
				return usageErr(err)
			}
			a.log = log
			return nil
		},
	}
	root.SetFlagErrorFunc(suggestFlag)
	// --version prints the line `version` prints, without cobra's "scim-rotator version " prefix.
	root.SetVersionTemplate("{{.Version}}\n")
	root.PersistentFlags().StringVar(&a.configPath, "config", "", "config file (default $SCIM_ROTATOR_CONFIG, then ./scim-rotator.yaml)")
	root.PersistentFlags().StringVar(&a.logFormat, "log-format", "console", "log format: json or console")
	root.PersistentFlags().StringVar(&a.logLevel, "log-level", "info", "the least severe log lines written: debug, info, warn or error")
	root.AddCommand(a.rotateCmd(), a.statusCmd(), a.checkCmd(), a.stageCmd(), a.demoCmd(), a.runCmd(), a.configCmd(), a.schemaCmd(), a.versionCmd())
	a.completeFlagValues(root)
	return describe(root, "It creates a new token, records it in Secrets Manager before anything else, pushes it to every\n"+
		"target, tests it, confirms a sync, promotes it and deletes the old one; any failure rolls back.\n"+
		"Try it without a cloud account: scim-rotator demo. Each command's help gives its own exit codes.\n"+
		"status, check and rotate -o json print one document each; scim-rotator schema status|check|rotate\n"+
		"prints its JSON Schema (fields are only ever added within its schemaVersion).",
		"  scim-rotator demo\n  scim-rotator check --config scim-rotator.yaml\n  scim-rotator rotate --dry-run\n  scim-rotator run --listen :8080",
		"0  success (rotate: rotated, not due or waiting on a hand-off)\n1  failure (rotate: failed, rolled back, blocked; check: a FAIL)")
}

// logLevels are --log-level's values, least severe first.
var logLevels = []string{"debug", "info", "warn", "error"}

func newLogger(format, level string, w io.Writer) (*zap.Logger, error) {
	if !slices.Contains(logLevels, level) {
		return nil, fmt.Errorf("--log-level: unknown level %q: use %s", level, orList(logLevels))
	}
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
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
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), lvl)), nil
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
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, usageErr(a.noConfig(path))
	}
	cfg, err := config.Load(path, factory.TargetTypes())
	if err != nil {
		return nil, usageErr(err)
	}
	return cfg, nil
}

// noConfig says where a config file was looked for, in order, and how to
// get one; path is the one that does not exist.
func (a *app) noConfig(path string) error {
	looked := "  --config " + path + ": does not exist"
	switch env := os.Getenv("SCIM_ROTATOR_CONFIG"); {
	case a.configPath != "":
	case env != "":
		looked = "  --config: not given\n  $SCIM_ROTATOR_CONFIG=" + path + ": does not exist"
	default:
		looked = "  --config: not given\n  $SCIM_ROTATOR_CONFIG: not set\n  ./" + path + ": does not exist"
	}
	return errors.New("no config file; looked at:\n" + looked + "\n" +
		"To start one: scim-rotator config example > scim-rotator.yaml, edit it, then run scim-rotator check.\n" +
		"To try a working one against a local sandbox: scim-rotator demo --serve")
}

// suggestFlag adds the closest known flag to an unknown flag's error
// ("unknown flag: --outptu; did you mean --output?"); cobra suggests
// commands itself.
func suggestFlag(cmd *cobra.Command, err error) error {
	name, ok := strings.CutPrefix(err.Error(), "unknown flag: --")
	if !ok {
		return err
	}
	var known []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) { known = append(known, f.Name) })
	cmd.InheritedFlags().VisitAll(func(f *pflag.Flag) { known = append(known, f.Name) })
	if c := config.Closest(name, known); c != "" {
		return fmt.Errorf("%w; did you mean --%s?", err, c)
	}
	return err
}

// Exit codes as each command's help states them.
const (
	exitsRotate = "0  rotated, not due, waiting on a hand-off as designed, a wait left to the next run (Waiting, --deadline),\n" +
		"   or busy (another run holds the lock) on a scheduled run (dry run: the plan was printed)\n" +
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

// worse is the worse of two exit codes: usage or configuration (2), then
// failure (1), then success.
func worse(a, b int) int { return max(a, b) }

// exitWith ends a command with code (nil for success).
func exitWith(code int) error {
	if code == exitOK {
		return nil
	}
	return &exitError{code: code}
}

// orList is "a, b or c".
func orList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}
