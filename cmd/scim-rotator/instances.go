package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/buildinfo"
	"github.com/scim-rotator/scim-rotator/adapters/factory"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

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

// instanceFlag adds --instance to a command that reads the config.
func (a *app) instanceFlag(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&a.instances, "instance", nil, "act on this instance of the config's instances (repeatable; default: every instance)")
}

// unit is one selected instance: wired, or why it could not be.
type unit struct {
	name string
	// cfg is the instance as a single-instance configuration.
	cfg *config.Config
	rot *rotator.Rotator
	// identity is the AWS identity the instance acts as (nil: not known).
	identity func(context.Context) (account, arn string, err error)
	// err is why the instance could not be built (a configuration error).
	err error
	// secrets reads the instance's ...SecretsManager keys; secretsRead
	// lists those its build read (check shows them).
	secrets     config.SecretReader
	secretsRead func() []factory.SecretRead
}

// fleet is the selected instances of the loaded config.
type fleet struct {
	cfg   *config.Config
	units []unit
}

// buildFleet loads the config and wires the instances --instance selects
// (every instance by default). An unknown name or an unreadable file is a
// usage error; so is any build error in the single-instance form, as it
// always was. In the fleet form an instance that cannot be built is kept
// with its error: the others still run.
func (a *app) buildFleet(ctx context.Context, opts factory.Options) (*fleet, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	sel, err := cfg.Select(a.instances)
	if err != nil {
		return nil, usageErr(err)
	}
	a.defaultOptions(&opts)
	f := &fleet{cfg: cfg}
	for _, in := range sel {
		u := unit{name: in.Name, cfg: in.Config}
		inst, err := factory.BuildInstance(ctx, in, opts)
		switch {
		case err != nil && !cfg.Fleet():
			return nil, usageErr(err)
		case err != nil:
			u.err = err
		default:
			u.rot, u.identity = inst.Rotator, inst.Identity
			u.secrets, u.secretsRead = inst.Secrets, inst.SecretsRead
		}
		f.units = append(f.units, u)
	}
	return f, nil
}

func (a *app) defaultOptions(opts *factory.Options) {
	if opts.Logger == nil {
		opts.Logger = a.log
	}
	if opts.Version == "" {
		opts.Version = buildinfo.Get().Version // the User-Agent of the product's own SCIM calls
	}
}

// names lists the configuration's instances.
func instanceNames(cfg *config.Config) string {
	var names []string
	for _, in := range cfg.InstanceList() {
		names = append(names, in.Name)
	}
	return strings.Join(names, ", ")
}

// each runs do for every unit, the config's parallelism at a time: each
// instance runs on its own, and one's failure or slowness never stops or
// delays the others beyond that bound. With grouped, each instance's output
// is printed under a header line, in the file's order, as soon as it and
// the instances before it are done (the single-instance form has no header:
// its output is as it always was). Without grouped, what an instance
// writes is dropped (the caller prints a document of its own: -o json).
// It returns the worst exit code (2 > 1 > 0).
func (a *app) each(ctx context.Context, f *fleet, grouped bool, do func(ctx context.Context, i int, u unit, w io.Writer) int) int {
	do = a.guarded(do)
	if !f.cfg.Fleet() && grouped {
		// One instance: its output goes straight out, as it always did.
		return do(ctx, 0, f.units[0], a.stdout)
	}
	n := len(f.units)
	outs := make([]bytes.Buffer, n)
	codes := make([]int, n)
	done := make([]bool, n)
	var mu sync.Mutex
	next := 0
	flush := func() {
		for next < n && done[next] {
			if grouped {
				if next > 0 {
					fmt.Fprintln(a.stdout)
				}
				fmt.Fprintf(a.stdout, "== instance %s ==\n", f.units[next].name)
				_, _ = a.stdout.Write(outs[next].Bytes())
			}
			next++
		}
	}
	sem := make(chan struct{}, max(1, f.cfg.Parallelism))
	var wg sync.WaitGroup
	for i, u := range f.units {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			code := do(ctx, i, u, &outs[i])
			mu.Lock()
			defer mu.Unlock()
			codes[i], done[i] = code, true
			flush()
		}()
	}
	wg.Wait()
	worst := exitOK
	for _, c := range codes {
		worst = worse(worst, c)
	}
	return worst
}

// guarded is do with a last safety net: an instance whose command panics
// (a bug that escaped the per-system guards of rotator.Guard) fails alone,
// exit 1, saying so; the other instances go on and the output is printed.
// A rotation cut off so resumes on the next run, as after a killed process.
func (a *app) guarded(do func(ctx context.Context, i int, u unit, w io.Writer) int) func(ctx context.Context, i int, u unit, w io.Writer) int {
	return func(ctx context.Context, i int, u unit, w io.Writer) (code int) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			what := rotator.PanicText(p)
			if a.log != nil {
				a.log.Error("the command panicked for this instance; the others go on", zap.String("instance", u.name),
					zap.String("panic", what), zap.String("panic_type", fmt.Sprintf("%T", p)), zap.ByteString("stack", debug.Stack()))
			}
			fmt.Fprintf(w, "error: scim-rotator panicked (a bug: the log has its stack): %s; a rotation in progress resumes on the next run\n", what)
			code = exitFailed
		}()
		return do(ctx, i, u, w)
	}
}
