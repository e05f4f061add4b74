package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/factory"
	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// demoCmd runs a whole rotation against the in-process sandbox, or with
// --serve keeps the sandbox up for other commands to be pointed at.
func (a *app) demoCmd() *cobra.Command {
	var serve bool
	var dir, oktaMode string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a complete rotation against a local sandbox (fake Identity Center, Secrets Manager, Entra ID, Okta, Slack); no cloud account needed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if oktaMode != "api" && oktaMode != "handoff" && oktaMode != "none" {
				return usageErr(fmt.Errorf("--okta: unknown mode %q: use api, handoff or none", oktaMode))
			}
			if oktaMode == "none" {
				oktaMode = ""
			}
			if serve {
				return a.serveSandbox(cmd.Context(), dir, oktaMode)
			}
			return a.demo(cmd.Context(), oktaMode)
		},
	}
	cmd.Flags().BoolVar(&serve, "serve", false, "keep the sandbox running and write a config for it, to try check, status and rotate by hand")
	cmd.Flags().StringVar(&dir, "dir", "", "with --serve: where to write the sandbox's config and credentials (default: a new temporary directory)")
	cmd.Flags().StringVar(&oktaMode, "okta", "api", "the sandbox's Okta app: api (token set through the API), handoff (the AWS IAM Identity Center app: an operator pastes the token) or none")
	return cmd
}

func (a *app) demo(ctx context.Context, oktaMode string) error {
	w := a.stdout
	sb := sandbox.Start(sandbox.Options{Entra: true, Okta: oktaMode, Slack: true, Virtual: true})
	defer sb.Close()
	dir, err := os.MkdirTemp("", "scim-rotator-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	files, err := sb.WriteFiles(dir)
	if err != nil {
		return err
	}
	cfg, err := config.Load(files.Config)
	if err != nil {
		return fmt.Errorf("sandbox config: %w", err)
	}

	fmt.Fprintln(w, "scim-rotator demo: a full rotation against a local sandbox (no cloud account; time is simulated)")
	fmt.Fprintln(w, "  Identity Center token API + SCIM endpoint  "+sb.URL("identitycenter"))
	fmt.Fprintln(w, "  Secrets Manager (store and ssosync target)  "+sb.URL("secretsmanager"))
	fmt.Fprintln(w, "  Microsoft Graph + Entra login (entra)       "+sb.URL("graph"))
	if oktaMode != "" {
		_, name := sb.OktaApp()
		fmt.Fprintf(w, "  Okta, app %s (okta)           %s\n", name, sb.URL("okta"))
	}
	fmt.Fprintln(w, "  Slack webhook                               "+sb.URL("slack"))

	oldID, oldValue := sb.SeedLiveToken(340 * 24 * time.Hour)
	fmt.Fprintf(w, "\nThe live token %s was generated 340 days ago; every target uses it, so it expires in 25 days.\n", oldID)

	log := zap.NewNop()
	if a.logFormat == "json" {
		log = a.log
	}
	rot, err := factory.Build(ctx, cfg, factory.Options{Logger: log, Clock: sb.Clock, HTTPClient: sb.Client, AWSCredentials: sandbox.AWSCredentials()})
	if err != nil {
		return err
	}
	rot.OnStep = stepPrinter(w)

	fmt.Fprintln(w, "\n$ scim-rotator stage --current --token-id "+oldID+" --token-file live-token.txt")
	if err := rot.StageCurrent(ctx, oldID, rotator.NewSecret(oldValue), time.Time{}); err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	fmt.Fprintln(w, "Recorded the live token, so that a failed rotation can put it back.")

	fmt.Fprintln(w, "\n$ scim-rotator check")
	for _, c := range rot.Check(ctx) {
		status := "OK  "
		if !c.OK {
			status = "FAIL"
		}
		fmt.Fprintf(w, "%s  %s: %s: %s\n", status, c.System, c.Name, c.Detail)
	}

	fmt.Fprintln(w, "\n$ scim-rotator rotate --dry-run")
	printResult(w, rot.Run(ctx, rotator.RunOptions{DryRun: true}))

	fmt.Fprintln(w, "\n$ scim-rotator rotate")
	res := rot.Run(ctx, rotator.RunOptions{})
	printResult(w, res)

	if res.Outcome == rotator.ReasonAwaitingHandoff {
		app, _ := sb.OktaApp()
		pending, _ := sb.SM.Value(sandbox.StoreSecret, rotator.StagePending)
		fmt.Fprintln(w, "\n(The sandbox plays the Okta admin: it reads the pending token from Secrets Manager, pastes it in the app's")
		fmt.Fprintln(w, " Provisioning > Integration page and presses Save.)")
		sb.Okta.SetTokenInAdminConsole(app, pendingToken(pending))
		fmt.Fprintln(w, "\n$ scim-rotator rotate --continue")
		res = rot.Run(ctx, rotator.RunOptions{Continue: true})
		printResult(w, res)
	}

	fmt.Fprintln(w, "\n$ scim-rotator status")
	printStatus(w, rot.Status(ctx))

	fmt.Fprintf(w, "\nSlack received %d message(s):", len(sb.Slack.Received()))
	for _, m := range sb.Slack.Received() {
		fmt.Fprintf(w, " %q", firstLine(m.Text))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Targets on a token the SCIM endpoint accepts: %v\n", sb.TargetsHold())
	if res.ExitCode() != exitOK {
		return &exitError{code: res.ExitCode()}
	}
	return nil
}

// pendingToken reads the token out of a store record (the demo plays the
// operator who runs the AWS CLI command the hand-off names).
func pendingToken(record string) string {
	var rec struct {
		Token string `json:"token"`
	}
	_ = json.Unmarshal([]byte(record), &rec)
	return rec.Token
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// stepPrinter prints each step as it happens.
func stepPrinter(w io.Writer) func(rotator.StepEvent) {
	return func(e rotator.StepEvent) {
		if !e.Done {
			return
		}
		mark := "ok  "
		if e.Err != nil {
			mark = "FAIL"
		}
		who := ""
		if e.Target != "" {
			who = "[" + e.Target + "] "
		}
		line := fmt.Sprintf("  %s %-13s %s%s", mark, e.Step, who, e.Detail)
		if e.Err != nil {
			line += ": " + e.Err.Error()
		}
		fmt.Fprintln(w, line)
	}
}

// serveSandbox keeps a sandbox up (real time) until interrupted.
func (a *app) serveSandbox(ctx context.Context, dir, oktaMode string) error {
	sb := sandbox.Start(sandbox.Options{Entra: true, Okta: oktaMode, Slack: true})
	defer sb.Close()
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "scim-rotator-sandbox-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	files, err := sb.WriteFiles(dir)
	if err != nil {
		return err
	}
	oldID, _ := sb.SeedLiveToken(340 * 24 * time.Hour)
	env := strings.Join(files.Env, " ")
	if err := os.WriteFile(dir+"/env.sh", []byte("export "+env+"\n"), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "Sandbox running (live token %s expires in 25 days). In another shell:\n\n", oldID)
	fmt.Fprintf(a.stdout, "  . %s/env.sh\n  scim-rotator check\n  scim-rotator status -o json\n  scim-rotator rotate --dry-run\n  scim-rotator rotate --now\n\nPress Ctrl-C to stop.\n", dir)
	<-ctx.Done()
	return nil
}
