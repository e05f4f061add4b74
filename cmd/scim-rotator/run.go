package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/scim-rotator/scim-rotator/adapters/factory"
	"github.com/scim-rotator/scim-rotator/adapters/metrics"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// runCmd is the long-running daemon: rotate every selected instance on
// schedule, serve health and metrics, stop cleanly on SIGTERM.
func (a *app) runCmd() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run as a daemon: rotate on the configured schedule; serve /healthz, /readyz and /metrics",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			m := metrics.New(reg, buildMetrics())
			f, err := a.buildFleet(cmd.Context(), factory.Options{ObserverFor: func(name string) rotator.Observer { return m.ForInstance(name) }})
			if err != nil {
				return err
			}
			fl, broken := a.daemons(f)
			if len(fl.Daemons) == 0 {
				return usageErr(fmt.Errorf("no instance could be built: %s", strings.Join(broken, "; ")))
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return usageErr(fmt.Errorf("--listen %s: %w", listen, err))
			}
			return a.serveDaemon(cmd.Context(), fleetState{fl, broken}, ln, reg)
		},
	}
	// Loopback by default: the endpoints carry no secret, but nothing should
	// listen on every interface unless asked (the chart passes 0.0.0.0:8080).
	a.instanceFlag(cmd)
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address for /healthz, /readyz and /metrics (0.0.0.0:8080 to serve other hosts)")
	return describe(cmd, "Each tick of the schedule (config key schedule) does what `rotate` does, and alerts before the\n"+
		"live token expires. With instances in the config, every instance (or each --instance) is scheduled,\n"+
		"parallelism at a time; an instance whose previous pass still runs skips the tick, and one that\n"+
		"fails or cannot be built never stops the others. /readyz fails while the last pass of any instance\n"+
		"could not read every system. SIGTERM stops it cleanly at a step boundary (exit 0).",
		"  scim-rotator run\n  scim-rotator run --listen 127.0.0.1:9090\n  scim-rotator run --instance prod --instance staging",
		"0  stopped by SIGTERM or SIGINT (a failed rotation does not stop the daemon: it alerts and retries)")
}

// daemons is the fleet daemon of f's instances; broken are the instances
// that could not be built (name: error), logged and left out: the others
// still rotate, and /readyz names them.
func (a *app) daemons(f *fleet) (*rotator.Fleet, []string) {
	fl := &rotator.Fleet{Schedule: f.cfg.Schedule, Parser: config.CronParser, Parallelism: f.cfg.Parallelism, Log: a.log}
	var broken []string
	for _, u := range f.units {
		if u.err != nil {
			a.log.Error("instance not scheduled: it cannot be built", zap.String("instance", u.name), zap.Error(u.err))
			broken = append(broken, u.name+": "+u.err.Error())
			continue
		}
		u.rot.OnStep = a.progress(f.instanceName(u))
		fl.Daemons = append(fl.Daemons, &rotator.Daemon{Name: u.name, Rotator: u.rot,
			TickTimeout: rotator.TickBound(u.cfg.ConfirmTimeout.Duration, len(u.cfg.Targets))})
	}
	return fl, broken
}

// fleetState is what the probes and Run use: the scheduled instances, and
// the ones that could not be built (never ready).
type fleetState struct {
	*rotator.Fleet
	broken []string
}

func (s fleetState) Ready() bool { return len(s.broken) == 0 && s.Fleet.Ready() }

// NotReady names the instances that are not ready.
func (s fleetState) NotReady() []string {
	names := s.Fleet.NotReady()
	for _, b := range s.broken {
		name, _, _ := strings.Cut(b, ":")
		names = append(names, name+" (cannot be built)")
	}
	return names
}

func (a *app) serveDaemon(ctx context.Context, d fleetState, ln net.Listener, reg *prometheus.Registry) error {
	mux := healthMux(d)
	mux.Handle("/metrics", metrics.Handler(reg))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("http server", zap.Error(err))
		}
	}()
	a.log.Info("serving", zap.String("addr", ln.Addr().String()))
	err := d.Run(ctx)
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	a.log.Info("stopped")
	return err
}

// daemonState is what the probes read (fleetState).
type daemonState interface {
	Healthy() bool
	Ready() bool
	// NotReady names the instances that are not ready.
	NotReady() []string
}

// healthMux serves /healthz (503 while a tick overruns its bound: the
// kubelet restarts a daemon stuck in a call) and /readyz (503 while the last
// pass of an instance could not read every system, naming the instances).
func healthMux(d daemonState) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !d.Healthy() {
			http.Error(w, "unhealthy: a rotation pass has run past its bound (confirmTimeout per target + 30m); see the logs", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !d.Ready() {
			http.Error(w, "not ready: the last pass could not read every system (see the logs): "+strings.Join(d.NotReady(), ", "), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}
