package rotator

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"
)

// DefaultLockTimeout is how long a lease outlives its holder's last write
// when Rotator.LockTimeout is not set.
const DefaultLockTimeout = 2 * time.Minute

// lease is this run's hold on the store's state record (Locker).
//
// It is taken by the run's first write, never before: a run that finds
// nothing to do, or only waits, writes nothing. Every write of the record
// (progress saved before an irreversible step) carries the lease, so taking
// and renewing it cost no version of their own.
//
// It is not renewed while the run waits for a confirmation, for proof of
// use or for the quiet period: a renewal is a new store version, kept for a
// day, and waiting needs no lock. A long wait lets the lease lapse; the next
// irreversible step takes it again with a compare-and-swap against the
// record this run last wrote, which fails (ErrLockLost) if another run acted
// meanwhile: this run then observes again.
//
// guard runs before every irreversible step (create, each push, promote,
// every token deletion, rollback's pushes): it takes or renews the lease (a
// write) when it is not held or half of it has gone, and otherwise does
// nothing. Another run takes a lease over only once it has ended by that
// run's clock, so a lease less than half gone cannot have been taken over
// while the two clocks agree within half of lockTimeout.
type lease struct {
	r     *Rotator
	owner string
	ttl   time.Duration
	// held: this run wrote the record with its lease and has not given it up.
	held  bool
	until time.Time
	// record is the rotation's record as this run read it or last wrote it
	// (JSON; nil: none), to tell whether leaving a wait must write
	// (recordedAlready).
	record []byte
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

// newLease starts this run's lease, not yet taken.
func (r *Rotator) newLease() *lease {
	if r.owner == "" {
		r.owner = newOwner()
	}
	return &lease{r: r, owner: r.owner, ttl: r.lockTTL()}
}

// busy reports another run's live lease in what was observed.
func (r *Rotator) busy(st StoreState, now time.Time) *LockInfo {
	if l := st.Lock; l.Owner != r.owner && l.Held(now) {
		return &l
	}
	return nil
}

// write writes the state record with p (nil: as recorded) and this run's
// lease, taking or renewing it; release gives the lease up with the same
// write (the run's last).
func (l *lease) write(ctx context.Context, p *Progress, release bool) error {
	now := l.r.Clock.Now()
	until := now.Add(l.ttl)
	if p != nil {
		p.UpdatedAt = now
	}
	if err := l.r.Store.Hold(ctx, LockRequest{Owner: l.owner, Now: now, Until: until, Progress: p, Release: release}); err != nil {
		return fmt.Errorf("write the store's state record: %w", err)
	}
	l.held, l.until = !release, until
	if p != nil {
		l.record, _ = json.Marshal(p)
	}
	return nil
}

// saw notes the record as the run read it.
func (l *lease) saw(p *Progress) {
	if p != nil {
		l.record, _ = json.Marshal(p)
	}
}

// guard makes sure, right before an irreversible step, that the lease is
// this run's and at least half of it is left; p is written if it must be
// taken or renewed (so that write is not wasted).
func (l *lease) guard(ctx context.Context, p *Progress) error {
	if l.held && l.r.Clock.Now().Before(l.until.Add(-l.ttl/2)) {
		return nil
	}
	return l.write(ctx, p, false)
}

// release gives the lease up at the end of the run (no version), unless it
// was not taken, was given up by the last write, or has lapsed anyway.
func (l *lease) release(ctx context.Context) {
	if !l.held || !l.r.Clock.Now().Before(l.until) {
		return
	}
	l.held = false
	if err := l.r.Store.Release(context.WithoutCancel(ctx), l.owner); err != nil {
		l.r.Log.Warn("release the store's lock; it expires by itself", zap.Error(err))
	}
}

// lostOrBusy tells a failed write apart: another run took the record over
// (observe again), or holds it now (Busy).
func lostOrBusy(err error) (lost bool, busy *BusyError) {
	if errors.As(err, &busy) {
		return false, busy
	}
	return errors.Is(err, ErrLockLost), nil
}

// isTransient reports whether a step's failure is worth retrying on the next
// run rather than rolling back: marked transient by an adapter, a timeout, a
// lost lock, the process being stopped, or a wait left to the next run (each
// step that waits ends the run Waiting on it first).
func isTransient(err error) bool {
	var te interface{ Timeout() bool }
	return IsTransient(err) || isLeft(err) || errors.Is(err, ErrLockLost) || errors.Is(err, ErrBusy) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, context.Canceled) || (errors.As(err, &te) && te.Timeout())
}
