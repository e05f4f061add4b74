package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/factory"
	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// demoFleet rotates a fleet of n instances in the virtual sandbox: the
// first in the base account, the others in accounts of their own behind a
// role the rotator assumes. It goes through the CLI's own fleet path
// (buildFleet, each), so the output is what check, rotate and status print.
func (a *app) demoFleet(ctx context.Context, n int) error {
	w := a.stdout
	sb := sandbox.Start(sandbox.Options{Instances: n, Slack: true, Virtual: true})
	defer sb.Close()
	files, cleanup, err := demoFiles(sb)
	if err != nil {
		return err
	}
	defer cleanup()
	a.configPath, a.instances = files.Config, nil

	fmt.Fprintf(w, "scim-rotator demo: a fleet of %d IAM Identity Center instances in a local sandbox (no cloud account; time is simulated)\n", n)
	live := map[string]string{}
	rows := [][]string{{"INSTANCE", "ACCOUNT", "IDENTITY STORE", "AWS CREDENTIALS", "LIVE TOKEN"}}
	for _, inst := range sb.Instances {
		id, _ := inst.SeedLiveToken(340*24*time.Hour - time.Hour)
		live[inst.Name] = id
		creds := "base (the pod's own)"
		if inst.RoleARN != "" {
			creds = "assumes " + inst.RoleARN
		}
		rows = append(rows, []string{inst.Name, inst.Account, inst.IdentityStoreID, creds, id + " (generated 340 days ago)"})
	}
	table(w, "  ", rows)

	log := zap.NewNop()
	if a.logFormat == "json" {
		log = a.log
	}
	f, err := a.buildFleet(ctx, factory.Options{Logger: log, Clock: sb.Clock, HTTPClient: sb.Client,
		AWSCredentials: sandbox.AWSCredentials(), STSEndpoint: sb.URL("sts"),
		InstanceClock: func(name string) rotator.Clock {
			if in := sb.Instance(name); in != nil && in.Clock != nil {
				return in.Clock // each account keeps its own simulated time
			}
			return nil
		}})
	if err != nil {
		return err
	}

	fmt.Fprintln(w, "\n$ scim-rotator check   (here only the AWS identity each instance acts as, and any FAIL)")
	a.each(ctx, f, true, func(ctx context.Context, _ int, u unit, w io.Writer) int {
		printChecks(w, slices.DeleteFunc(checkInstance(ctx, a.log, u), func(c rotator.CheckResult) bool { return c.System != "aws" && !c.Failed() }))
		return exitOK
	})

	fmt.Fprintf(w, "\n$ scim-rotator rotate   (every instance on its own, %d at a time)\n", f.cfg.Parallelism)
	outcomes := make([]rotator.Reason, len(f.units))
	code := a.each(ctx, f, true, func(ctx context.Context, i int, u unit, w io.Writer) int {
		u.rot.OnStep = demoProgress(w, log, a.logFormat == "json")
		res := u.rot.Run(ctx, rotator.RunOptions{})
		u.rot.OnStep = nil
		outcomes[i] = res.Outcome
		printResult(w, res, targetNames(u.rot))
		return res.ExitCode()
	})

	fmt.Fprintln(w, "\n$ scim-rotator status")
	a.each(ctx, f, true, func(ctx context.Context, _ int, u unit, w io.Writer) int {
		printStatus(w, u.rot.Status(ctx), false)
		return exitOK
	})

	fmt.Fprintf(w, "\nSlack received %d message(s):\n", len(sb.Slack.Received()))
	for _, m := range sb.Slack.Received() {
		fmt.Fprintf(w, "  %s\n", firstLine(m.Text))
	}
	fmt.Fprintln(w, "\nThe fleet:")
	rows = [][]string{{"INSTANCE", "OUTCOME", "TOKENS NOW", "TARGET ON AN ACCEPTED TOKEN"}}
	for i, inst := range sb.Instances {
		var ids []string
		for _, t := range inst.IC.Tokens() {
			id := t.ID
			if id == live[inst.Name] {
				id += " (the old one)"
			}
			ids = append(ids, id)
		}
		held := "no"
		if inst.TargetsHold()["ssosync"] {
			held = "yes"
		}
		rows = append(rows, []string{inst.Name, string(outcomes[i]), listText(ids), held})
	}
	table(w, "  ", rows)
	return exitWith(code)
}
