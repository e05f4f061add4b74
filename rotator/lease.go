package rotator

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"
)

// DefaultLockTimeout is how long a lease outlives its holder's last renewal
// when Rotator.LockTimeout is not set.
const DefaultLockTimeout = 2 * time.Minute

// lease is this run's hold on the store's lock. It is taken before
// observing and held for the whole run; every irreversible step (create,
// push, promote, delete a token) is preceded by guard, which proves the
// lease is still ours; long waits run under keepAlive, which renews it.
// A lease lost mid-run ends the run as Interrupted at once.
type lease struct {
	r     *Rotator
	owner string
	ttl   time.Duration

	mu    sync.Mutex
	until time.Time
}

// newOwner names this process in the lock: host, pid and a random suffix, so
// two runs on one host never share a name.
func newOwner() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "unknown-host"
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/pid-%d/%x", host, os.Getpid(), b)
}

func (r *Rotator) lockTTL() time.Duration {
	if r.LockTimeout > 0 {
		return r.LockTimeout
	}
	return DefaultLockTimeout
}

// acquire takes the store's lock. busy is set when another run holds it.
func (r *Rotator) acquire(ctx context.Context) (l *lease, busy *BusyError, err error) {
	if r.owner == "" {
		r.owner = newOwner()
	}
	l = &lease{r: r, owner: r.owner, ttl: r.lockTTL()}
	now := r.Clock.Now()
	until := now.Add(l.ttl)
	if err := r.Store.Acquire(ctx, LockRequest{Owner: l.owner, Now: now, Until: until}); err != nil {
		if errors.As(err, &busy) {
			return nil, busy, nil
		}
		return nil, nil, fmt.Errorf("take the store's lock: %w", err)
	}
	l.until = until
	return l, nil, nil
}

// guard proves the lease is still this run's right before an irreversible
// step: a renewal when half of it has gone, otherwise a read.
func (l *lease) guard(ctx context.Context) error {
	if l.halfGone() {
		return l.renew(ctx)
	}
	if err := l.r.Store.Verify(ctx, l.owner); err != nil {
		return fmt.Errorf("check the store's lock: %w", err)
	}
	return nil
}

// refresh renews the lease when half of it has gone (no call otherwise):
// for waits that poll in the run's own goroutine.
func (l *lease) refresh(ctx context.Context) error {
	if l.halfGone() {
		return l.renew(ctx)
	}
	return nil
}

func (l *lease) halfGone() bool {
	now := l.r.Clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	return !now.Before(l.until.Add(-l.ttl / 2))
}

func (l *lease) renew(ctx context.Context) error {
	now := l.r.Clock.Now()
	until := now.Add(l.ttl)
	if err := l.r.Store.Renew(ctx, LockRequest{Owner: l.owner, Now: now, Until: until}); err != nil {
		return fmt.Errorf("renew the store's lock: %w", err)
	}
	l.mu.Lock()
	l.until = until
	l.mu.Unlock()
	return nil
}

// keepAlive runs fn (a wait for a confirmation) while renewing the lease
// every half lockTimeout. When a renewal fails, fn's context is cancelled and
// keepAlive returns the renewal's error.
func (l *lease) keepAlive(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Most waits end within a second and need no renewal; not setting a
		// timer for them also keeps a virtual clock (the sandbox's, whose
		// timers fire at once) from being run forward by the renewer.
		if grace := l.r.renewGrace; grace >= 0 {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-time.After(max(grace, time.Second)):
			}
		}
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-l.r.Clock.After(l.ttl / 2):
			}
			if err := l.renew(ctx); err != nil {
				cancel(err)
				return
			}
		}
	}()
	err := fn(ctx)
	close(stop)
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return err
}

func (l *lease) release(ctx context.Context) {
	if err := l.r.Store.Release(context.WithoutCancel(ctx), l.owner); err != nil {
		l.r.Log.Warn("release the store's lock; it expires by itself", zap.Error(err))
	}
}

// isTransient reports whether a step's failure is worth retrying on the next
// run rather than rolling back: marked transient by an adapter, a timeout, a
// lost lock, or the process being stopped.
func isTransient(err error) bool {
	var te interface{ Timeout() bool }
	return IsTransient(err) || errors.Is(err, ErrLockLost) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, context.Canceled) || (errors.As(err, &te) && te.Timeout())
}
