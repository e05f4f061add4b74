package rotator

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/robfig/cron/v3"
	"go.uber.org/zap"
)

// Fleet runs the daemons of several instances on one schedule (`scim-rotator
// run` over a config's instances). Each tick starts a pass of every
// instance whose previous pass has ended, Parallelism passes at a time; an
// instance still running (or still waiting for a slot) skips the tick, so a
// slow or stuck instance delays only itself. Each daemon keeps its own
// expiry watch, alert rate limits, readiness and tick bound.
type Fleet struct {
	Daemons []*Daemon
	// Schedule is a cron spec parsed by Parser.
	Schedule string
	Parser   cron.Parser
	// Parallelism bounds the passes that run at once (at least 1).
	Parallelism int
	Log         *zap.Logger

	once sync.Once
	// slots holds one token per running pass.
	slots  chan struct{}
	passes sync.WaitGroup
}

// Ready reports whether the last pass of every instance could read the
// state of every system (false until each has had one).
func (f *Fleet) Ready() bool {
	for _, d := range f.Daemons {
		if !d.Ready() {
			return false
		}
	}
	return true
}

// Healthy reports false while any instance's pass has run past its bound.
func (f *Fleet) Healthy() bool {
	for _, d := range f.Daemons {
		if !d.Healthy() {
			return false
		}
	}
	return true
}

// NotReady names the instances that are not ready (by their rotator's
// Instance, or their position when it is empty).
func (f *Fleet) NotReady() []string {
	var names []string
	for i, d := range f.Daemons {
		if !d.Ready() {
			names = append(names, d.name(i))
		}
	}
	return names
}

// Run ticks now and then on the schedule until ctx ends. On ctx's end it
// takes no more ticks and waits for every running pass to stop at a step
// boundary (their contexts end too; rotations resume on the next run).
func (f *Fleet) Run(ctx context.Context) error {
	sched, err := f.Parser.Parse(f.Schedule)
	if err != nil {
		return fmt.Errorf("schedule %q: %w", f.Schedule, err)
	}
	log := f.log()
	c := cron.New(cron.WithParser(f.Parser), cron.WithLogger(cronLogger{log}))
	c.Schedule(sched, cron.FuncJob(func() { f.Tick(ctx) }))
	c.Start()
	log.Info("scheduler started", zap.String("schedule", f.Schedule), zap.Int("instances", len(f.Daemons)), zap.Int("parallelism", f.parallelism()))
	// A first tick at start: a fresh daemon should not wait hours to look.
	f.Tick(ctx)
	<-ctx.Done()
	log.Info("stopping: no more ticks; running passes stop at their next step boundary")
	<-c.Stop().Done() // no tick starts passes after this
	f.passes.Wait()
	return nil
}

// Tick starts a pass of every instance whose previous pass has ended and
// returns at once, with a channel per instance that is closed when the pass
// it started ends (nil: the instance skipped this tick). Passes wait for a
// slot: at most Parallelism run at once. A pass that panics is logged and
// leaves its instance not ready; the others go on.
func (f *Fleet) Tick(ctx context.Context) []<-chan struct{} {
	f.once.Do(func() { f.slots = make(chan struct{}, f.parallelism()) })
	done := make([]<-chan struct{}, len(f.Daemons))
	for i, d := range f.Daemons {
		if !d.running.CompareAndSwap(false, true) {
			d.Rotator.Log.Info("tick skipped: a rotation pass is still running")
			continue
		}
		ch := make(chan struct{})
		done[i] = ch
		f.passes.Add(1)
		go func() {
			defer f.passes.Done()
			defer close(ch)
			defer d.running.Store(false)
			select {
			case f.slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-f.slots }()
			defer func() {
				if p := recover(); p != nil {
					d.ready.Store(false)
					d.Rotator.Log.Error("rotation pass panicked; the other instances go on", zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
				}
			}()
			if ctx.Err() == nil {
				d.Tick(ctx)
			}
		}()
	}
	return done
}

func (f *Fleet) parallelism() int { return max(1, f.Parallelism) }

func (f *Fleet) log() *zap.Logger {
	if f.Log != nil {
		return f.Log
	}
	return zap.NewNop()
}
