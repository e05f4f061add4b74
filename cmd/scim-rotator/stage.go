package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/scim-rotator/scim-rotator/adapters/factory"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

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
