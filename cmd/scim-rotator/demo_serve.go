package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
)

// adminDelay is how long a token is pending before the sandbox, playing an
// admin, pastes it.
const adminDelay = 20 * time.Second

// serveSandbox keeps a sandbox up (real time) until interrupted (SIGINT or
// SIGTERM cancel ctx). With handoff, the sandbox plays the SCIM client's
// admin: a token left pending is pasted adminDelay later, and the client
// syncs every 5 seconds; with the Okta app that takes its token by hand, it
// plays that app's admin the same way. Without dir, the config and fake
// credentials go to a new temporary directory, removed on the way out.
func (a *app) serveSandbox(ctx context.Context, dir, oktaMode string, handoff bool, scimAllow []string) error {
	sb := sandbox.Start(sandbox.Options{Entra: true, Okta: oktaMode, Handoff: handoff, Slack: true})
	defer sb.Close()
	if len(scimAllow) > 0 {
		sb.IC.SetNetworkConfiguration(&sandbox.NetworkConfiguration{ScimAllowSourceIps: scimAllow})
	}
	temp := dir == ""
	if temp {
		var err error
		if dir, err = os.MkdirTemp("", "scim-rotator-sandbox-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	files, err := sb.WriteFiles(dir)
	if err != nil {
		return err
	}
	oldID, _ := sb.SeedLiveToken(340*24*time.Hour - time.Hour)
	if handoff {
		defer sb.SCIM.KeepSyncing(5 * time.Second)()
		defer sb.PlayAdmin(adminDelay)()
	}
	if oktaMode == "handoff" {
		defer sb.PlayOktaAdmin(adminDelay)()
	}
	envFile := filepath.Join(dir, "env.sh")
	if err := os.WriteFile(envFile, []byte(envScript(files.Env)), 0o600); err != nil {
		return err
	}
	self := selfCommand()
	fmt.Fprintf(a.stdout, "Sandbox running (live token %s expires in %d days). In another shell:\n\n", oldID, liveDaysLeft(sb, oldID))
	fmt.Fprintf(a.stdout, "  . %s\n", shellQuote(envFile))
	for _, c := range []string{"check", "status", "status -o json", "rotate --dry-run", "rotate --now"} {
		fmt.Fprintf(a.stdout, "  %s %s\n", self, c)
	}
	if handoff {
		fmt.Fprintf(a.stdout, "\nThe sandbox plays the admin of the SCIM client %q: %s after a rotation leaves a token pending it pastes it;\nthe client syncs every 5 s, so a later `rotate` (or `rotate --continue`) finds it in CloudTrail.\n", sandbox.HandoffTarget, adminDelay)
	}
	if oktaMode == "handoff" {
		_, name := sb.OktaApp()
		fmt.Fprintf(a.stdout, "\nThe sandbox plays the admin of the Okta app %s: %s after a rotation leaves a token pending it pastes it in the\napp's Provisioning > Integration page and saves, so a `rotate --continue` after that confirms the sync and finishes.\n", name, adminDelay)
	}
	if len(scimAllow) > 0 {
		fmt.Fprintf(a.stdout, "\nThe identity store allows SCIM calls only from %s (ScimAllowSourceIps): `check` warns, and a rotation is\nrefused with the new token and the live one alike, so it ends Interrupted and keeps both.\n", strings.Join(scimAllow, ", "))
	}
	if temp {
		fmt.Fprintln(a.stdout, "\nPress Ctrl-C to stop (the directory above is removed then; --dir keeps one).")
	} else {
		fmt.Fprintln(a.stdout, "\nPress Ctrl-C to stop.")
	}
	<-ctx.Done()
	return nil
}

// envScript is a POSIX shell script that exports env (NAME=value pairs).
// It first unsets the AWS settings that would win over the sandbox's
// credentials file.
func envScript(env []string) string {
	var b strings.Builder
	b.WriteString("unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN\n")
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(v))
	}
	return b.String()
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// selfCommand is how to run this program from a shell: its name when that
// name on PATH is this very program, else its absolute path.
func selfCommand() string {
	exe, err := os.Executable()
	if err != nil {
		return "scim-rotator"
	}
	if onPath, err := exec.LookPath("scim-rotator"); err == nil && sameFile(onPath, exe) {
		return "scim-rotator"
	}
	return shellQuote(exe)
}

func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// checkCIDRs refuses a --scim-allow-source-ips value that is no CIDR.
func checkCIDRs(cidrs []string) error {
	for _, c := range cidrs {
		if _, _, err := net.ParseCIDR(c); err != nil {
			return fmt.Errorf("--scim-allow-source-ips: %q is not a CIDR (203.0.113.0/24)", c)
		}
	}
	return nil
}
