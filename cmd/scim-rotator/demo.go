package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
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
	var serve, handoff bool
	var dir, oktaMode string
	var instances int
	var scimAllow []string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a complete rotation against a local sandbox (fake Identity Center, Secrets Manager, Entra ID, Okta, Slack); no cloud account needed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if instances != 0 {
				if instances < 2 || instances > 50 || serve || handoff || cmd.Flags().Changed("okta") {
					return usageErr(errors.New("--instances takes 2 to 50 and goes without --serve, --okta and --handoff (the fleet's targets are secretsmanager secrets)"))
				}
				return a.demoFleet(cmd.Context(), instances)
			}
			if oktaMode != "api" && oktaMode != "handoff" && oktaMode != "none" {
				return usageErr(fmt.Errorf("--okta: unknown mode %q: use api, handoff or none", oktaMode))
			}
			if handoff && oktaMode == "handoff" {
				return usageErr(errors.New("--handoff shows the handoff target's hand-off; run --okta handoff on its own for Okta's"))
			}
			if handoff && !cmd.Flags().Changed("okta") {
				oktaMode = "none" // the SCIM client configured by hand is the IdP here
			}
			if oktaMode == "none" {
				oktaMode = ""
			}
			if dir != "" && !serve {
				return usageErr(errors.New("--dir is only for --serve (the demo without --serve writes nothing to keep)"))
			}
			if err := checkCIDRs(scimAllow); err != nil || len(scimAllow) > 0 && !serve {
				if err == nil {
					err = errors.New("--scim-allow-source-ips is only for --serve")
				}
				return usageErr(err)
			}
			if serve {
				return a.serveSandbox(cmd.Context(), dir, oktaMode, handoff, scimAllow)
			}
			return a.demo(cmd.Context(), oktaMode, handoff)
		},
	}
	cmd.Flags().BoolVar(&serve, "serve", false, "keep the sandbox running and write a config for it, to try check, status and rotate by hand")
	cmd.Flags().StringVar(&dir, "dir", "", "with --serve: where to write the sandbox's config and credentials, kept on exit (default: a new temporary directory, removed on exit)")
	cmd.Flags().IntVar(&instances, "instances", 0, "rotate a fleet of this many Identity Center instances (2 to 50; the second and later in accounts of their own, reached by assuming a role)")
	cmd.Flags().StringVar(&oktaMode, "okta", "api", "the sandbox's Okta app: api (token set through the API), handoff (the AWS IAM Identity Center app: an operator pastes the token; the sandbox plays them) or none")
	cmd.Flags().StringSliceVar(&scimAllow, "scim-allow-source-ips", nil, "with --serve: the identity store's ScimAllowSourceIps (CIDRs, comma-separated): SCIM calls from elsewhere, this host's included, are refused with 403, as the network rules do")
	cmd.Flags().BoolVar(&handoff, "handoff", false, "add a SCIM client configured by hand (a handoff target, as for Google Workspace): the sandbox plays the admin who pastes the token, CloudTrail proves it (without --okta: no Okta app)")
	return describe(cmd, "Without --serve, the demo runs stage, check, a dry run, a rotation and status against an\n"+
		"in-process sandbox on simulated time, and prints each command's output. With --serve, the sandbox\n"+
		"keeps running: the banner prints the commands to try (and an env.sh to source first). With\n"+
		"--instances N, a fleet of N instances (config key instances) is checked, rotated parallelism at a\n"+
		"time and shown, grouped by instance.",
		"  scim-rotator demo\n  scim-rotator demo --okta handoff\n  scim-rotator demo --handoff\n  scim-rotator demo --instances 3\n  scim-rotator demo --serve --dir ./sandbox\n  scim-rotator demo --serve --scim-allow-source-ips 203.0.113.0/24",
		"0  the demo's rotation succeeded (--serve: stopped with Ctrl-C)\n1  it did not")
}

func (a *app) demo(ctx context.Context, oktaMode string, handoff bool) error {
	w := a.stdout
	sb := sandbox.Start(sandbox.Options{Entra: true, Okta: oktaMode, Handoff: handoff, Slack: true, Virtual: true})
	defer sb.Close()
	files, cleanup, err := demoFiles(sb)
	if err != nil {
		return err
	}
	defer cleanup()
	cfg, err := config.Load(files.Config, factory.TargetTypes())
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
	if handoff {
		fmt.Fprintf(w, "  a SCIM client configured by hand (%s)     its console %s, calls from %s\n", sandbox.HandoffTarget, sb.URL("handoff"), sandbox.HandoffAddr)
	}
	fmt.Fprintln(w, "  Slack webhook                               "+sb.URL("slack"))

	oldID, oldValue := sb.SeedLiveToken(340*24*time.Hour - time.Hour)
	fmt.Fprintf(w, "\nThe live token %s was generated 340 days ago and every target uses it: it expires in %d days.\n", oldID, liveDaysLeft(sb, oldID))
	if handoff {
		_, _ = sb.SCIM.Sync(ctx) // the client's sync of today, with the live token
	}

	log := zap.NewNop()
	if a.logFormat == "json" {
		log = a.log
	}
	rot, err := factory.Build(ctx, cfg, factory.Options{Logger: log, Clock: sb.Clock, HTTPClient: sb.Client, AWSCredentials: sandbox.AWSCredentials()})
	if err != nil {
		return err
	}
	rot.OnStep = demoProgress(w, log, a.logFormat == "json")

	fmt.Fprintln(w, "\n$ scim-rotator stage --current --token-id "+oldID+" --token-file live-token.txt")
	if err := rot.StageCurrent(ctx, oldID, rotator.NewSecret(oldValue), time.Time{}); err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	fmt.Fprintln(w, "Recorded the live token, so that a failed rotation can put it back.")

	fmt.Fprintln(w, "\n$ scim-rotator check")
	printChecks(w, rot.Check(ctx))

	fmt.Fprintln(w, "\n$ scim-rotator rotate --dry-run")
	printResult(w, rot.Run(ctx, rotator.RunOptions{DryRun: true}), targetNames(rot))

	if u := cfg.Usage; u.Source != "none" {
		fmt.Fprintln(w, "\nProof of use: the sandbox's CloudTrail records every SCIM call Identity Center answers, with the token's id")
		fmt.Fprintln(w, "as accessKeyId. The rotation promotes the new token only once CloudTrail shows a client other than scim-rotator")
		fmt.Fprintln(w, "using it (step \"prove use\"), and deletes the old token only after CloudTrail showed it unused for")
		fmt.Fprintf(w, "usage.quietPeriod (%s here; 15m by default) plus usage.deliveryDelay (%s), since CloudTrail delivers late (step \"quiet\").\n",
			u.QuietPeriod.Duration, u.DeliveryDelay.Duration)
	}

	fmt.Fprintln(w, "\n$ scim-rotator rotate")
	res := rot.Run(ctx, rotator.RunOptions{})
	printResult(w, res, targetNames(rot))

	if res.Outcome == rotator.ReasonAwaitingHandoff && waiting(res, sandbox.HandoffTarget) {
		res = demoHandoff(ctx, w, sb, rot, cfg)
	} else if res.Outcome == rotator.ReasonAwaitingHandoff {
		app, _ := sb.OktaApp()
		pending, _ := sb.SM.Value(sandbox.StoreSecret, rotator.StagePending)
		fmt.Fprintln(w, "\n(The sandbox plays the Okta admin: it reads the pending token from Secrets Manager, pastes it in the app's")
		fmt.Fprintln(w, " Provisioning > Integration page and presses Save.)")
		sb.Okta.SetTokenInAdminConsole(app, pendingToken(pending))
		fmt.Fprintln(w, "\n$ scim-rotator rotate --continue")
		res = rot.Run(ctx, rotator.RunOptions{Continue: true})
		printResult(w, res, targetNames(rot))
	}

	fmt.Fprintln(w, "\n$ scim-rotator status")
	printStatus(w, rot.Status(ctx), false)

	fmt.Fprintf(w, "\nSlack received %d message(s):", len(sb.Slack.Received()))
	for _, m := range sb.Slack.Received() {
		fmt.Fprintf(w, " %q", firstLine(m.Text))
	}
	fmt.Fprintln(w)
	var good, bad []string
	for name, ok := range sb.TargetsHold() {
		if ok {
			good = append(good, name)
		} else {
			bad = append(bad, name)
		}
	}
	slices.Sort(good)
	slices.Sort(bad)
	fmt.Fprintf(w, "Targets on a token the SCIM endpoint accepts: %s; on one it refuses: %s\n", listText(good), listText(bad))
	if res.ExitCode() != exitOK {
		return &exitError{code: res.ExitCode()}
	}
	return nil
}

// waiting reports whether target waits for a hand-off in res.
func waiting(res rotator.Result, target string) bool {
	if res.Progress == nil {
		return false
	}
	for _, t := range res.Progress.Targets {
		if t.Name == target && t.State == rotator.TargetAwaitingHandoff {
			return true
		}
	}
	return false
}

// demoHandoff is the handoff target's journey after its announcement:
// --continue before anyone pasted (it waits), then the sandbox playing the
// admin who pastes the token 20 minutes later, and the next scheduled run
// finding the client's calls in CloudTrail.
func demoHandoff(ctx context.Context, w io.Writer, sb *sandbox.Sandbox, rot *rotator.Rotator, cfg *config.Config) rotator.Result {
	fmt.Fprintln(w, "\n(Nobody has pasted the token yet: --continue looks in CloudTrail once, finds no proof and keeps both tokens.)")
	fmt.Fprintln(w, "\n$ scim-rotator rotate --continue")
	printResult(w, rot.Run(ctx, rotator.RunOptions{Continue: true}), targetNames(rot))

	sb.Clock.Advance(20 * time.Minute)
	pending, _ := sb.SM.Value(sandbox.StoreSecret, rotator.StagePending)
	fmt.Fprintf(w, "\n(20 minutes later the sandbox plays the admin: it prints the pending token with the command above, pastes it in the\n"+
		" SCIM client's console and saves. The client's next sync, from %s as %q, uses it.)\n", sandbox.HandoffAddr, sandbox.HandoffUserAgent)
	sb.SCIM.Paste(pendingToken(pending))
	_, _ = sb.SCIM.Sync(ctx)
	sb.Clock.Advance(cfg.Usage.DeliveryDelay.Duration + 2*time.Second)

	fmt.Fprintln(w, "\n$ scim-rotator rotate   (the next scheduled run: no --continue needed)")
	res := rot.Run(ctx, rotator.RunOptions{})
	printResult(w, res, targetNames(rot))

	fmt.Fprintln(w, "\n$ scim-rotator check   (the handoff target's lines)")
	printChecks(w, slices.DeleteFunc(rot.Check(ctx), func(c rotator.CheckResult) bool { return c.Target != sandbox.HandoffTarget }))
	return res
}

// demoFiles writes sb's config and credentials to a new temporary
// directory; cleanup removes it.
func demoFiles(sb *sandbox.Sandbox) (sandbox.Files, func(), error) {
	dir, err := os.MkdirTemp("", "scim-rotator-demo-")
	if err != nil {
		return sandbox.Files{}, nil, err
	}
	files, err := sb.WriteFiles(dir)
	if err != nil {
		os.RemoveAll(dir)
		return files, nil, err
	}
	return files, func() { os.RemoveAll(dir) }, nil
}

// liveDaysLeft counts the seeded token's days left as status does.
func liveDaysLeft(sb *sandbox.Sandbox, id string) int {
	for _, t := range sb.IC.Tokens() {
		if t.ID == id {
			return rotator.DaysLeft(t.Expires, sb.Clock.Now())
		}
	}
	return 0
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
