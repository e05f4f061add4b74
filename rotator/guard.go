package rotator

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"

	"go.uber.org/zap"
)

// ErrPanicked is wrapped by the error Guard returns for a call that
// panicked.
var ErrPanicked = errors.New("panicked")

// Guard makes call, one call into the system named system ("issuer",
// "target okta-prod", ...), so that the system can neither take the command
// down nor hold it past ctx's end, and `check` and `status` still report every
// other system:
//
//	call returns            -> its result
//	call panics             -> an error wrapping ErrPanicked that names the
//	                           system (the stack goes to log, never to the output)
//	ctx ends first          -> context.Cause(ctx) at once; call is left to end
//	                           on its own and its result is dropped
//	ctx ended before        -> context.Cause(ctx); call is not made
//	call fails once ctx has -> context.Cause(ctx): the deadline is why (an
//	ended                      SDK's "context deadline exceeded" says less)
//
// A panic's value is shown only when it is a runtime error (a nil pointer, an
// index out of range): any other value might hold a secret.
func Guard[T any](ctx context.Context, log *zap.Logger, system string, call func() (T, error)) (T, error) {
	var zero T
	if ctx.Err() != nil {
		return zero, context.Cause(ctx)
	}
	type answer struct {
		v   T
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		answered := false
		defer func() {
			if answered {
				return
			}
			// A panic, or runtime.Goexit (which recover cannot see).
			p := recover()
			what := "ended without an answer"
			if p != nil {
				what = PanicText(p)
			}
			if log != nil {
				log.Error("a system panicked; the other systems still report", zap.String("system", system),
					zap.String("panic", what), zap.String("panic_type", fmt.Sprintf("%T", p)), zap.ByteString("stack", debug.Stack()))
			}
			ch <- answer{err: fmt.Errorf("%s %w: %s (a bug in scim-rotator: the log has its stack)", system, ErrPanicked, what)}
		}()
		v, err := call()
		answered = true
		ch <- answer{v, err}
	}()
	var a answer
	select {
	case a = <-ch:
	case <-ctx.Done():
		select {
		case a = <-ch: // answered at the same moment: the answer wins
		default:
			return zero, context.Cause(ctx)
		}
	}
	if a.err != nil && ctx.Err() != nil && !errors.Is(a.err, ErrPanicked) {
		return a.v, context.Cause(ctx)
	}
	return a.v, a.err
}

// async runs fn in a goroutine of its own and returns a function that waits
// for its result (and returns it again on later calls).
func async[T any](fn func() T) func() T {
	ch := make(chan T, 1)
	go func() { ch <- fn() }()
	return sync.OnceValue(func() T { return <-ch })
}

// ask is Guard in a goroutine of its own: check and status ask every system
// at once, each under the command's deadline (ctx), so that a slow system
// never makes another one report "timed out"; the returned function waits
// for the answer.
func ask[T any](ctx context.Context, log *zap.Logger, system string, call func() (T, error)) func() (T, error) {
	type answer struct {
		v   T
		err error
	}
	wait := async(func() answer {
		v, err := Guard(ctx, log, system, call)
		return answer{v, err}
	})
	return func() (T, error) {
		a := wait()
		return a.v, a.err
	}
}

// PanicText says what a recovered panic was without its value, which might
// hold a secret: a runtime error's text (a nil pointer, an index out of
// range), else only that it was another panic (the value's Go type goes to
// the log, for the bug report, never to the output).
func PanicText(p any) string {
	if re, ok := p.(runtime.Error); ok {
		return re.Error()
	}
	return "a panic that is not a runtime error"
}
