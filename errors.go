// errors.go: the sentinel errors, their mapping to the C return codes, and
// panic reports.

package foreign

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"

	"github.com/foreigncall/foreign/internal/fq"
)

// Errors returned by the Go API. Each corresponds to one C return code in
// foreign.h; FromCode and Code convert between the two.
var (
	// ErrClosed: the queue was closed (os.ErrClosed, so errors.Is works with
	// either).
	ErrClosed = fq.ErrClosed
	// ErrFull: the queue held Capacity messages; this one was not accepted.
	ErrFull = fq.ErrFull
	// ErrInvalid: a bad token, a NULL message or a wrong length.
	ErrInvalid = errors.New("foreign: invalid argument")
	// ErrTimeout: a blocking call gave up (os.ErrDeadlineExceeded).
	ErrTimeout = os.ErrDeadlineExceeded
	// ErrDeadlock: a blocking call would have waited on its own thread.
	ErrDeadlock = fq.ErrDeadlock
	// ErrPanic: the Go handler panicked.
	ErrPanic = errors.New("foreign: handler panicked")
	// ErrMessageSize: a message or a result longer than the handle's
	// maximum (or than the caller's buffer).
	ErrMessageSize = fq.ErrMsgSize
)

var codeErrs = []struct {
	code int
	err  error
}{
	{fq.CodeInval, ErrInvalid},
	{fq.CodeClosed, ErrClosed},
	{fq.CodeFull, ErrFull},
	{fq.CodeTimedOut, ErrTimeout},
	{fq.CodeDeadlock, ErrDeadlock},
	{fq.CodePanic, ErrPanic},
	{fq.CodeMsgSize, ErrMessageSize},
}

// FromCode converts a return code of the C ABI (foreign.h) into an error:
// nil for 0, one of the Err* values for a known code.
func FromCode(rc int) error {
	if rc == 0 {
		return nil
	}
	for _, ce := range codeErrs {
		if ce.code == rc {
			return ce.err
		}
	}
	return fmt.Errorf("foreign: unknown return code %d", rc)
}

// Code converts an error into a return code of the C ABI: 0 for nil, the
// code of the Err* value err wraps, FOREIGN_ETIMEDOUT for a context's end
// (context.DeadlineExceeded or context.Canceled: the call gave up), or
// FOREIGN_EINVAL for any other error.
func Code(err error) int {
	if err == nil {
		return 0
	}
	for _, ce := range codeErrs {
		if errors.Is(err, ce.err) {
			return ce.code
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fq.CodeTimedOut
	}
	return fq.CodeInval
}

// reportPanic builds the report of a recovered panic p and hands it to
// onPanic. It runs in the deferred function that recovered, so the stack
// still shows where the handler panicked. A panic in onPanic itself is
// logged, never passed on: a handler's panic must not end the process.
func reportPanic(name string, onPanic func(*PanicError), p any) (pe *PanicError) {
	buf := make([]byte, 16<<10)
	pe = &PanicError{Name: name, Value: p, Stack: buf[:runtime.Stack(buf, false)]}
	defer func() {
		if p2 := recover(); p2 != nil {
			logPanic(&PanicError{Name: name, Value: fmt.Sprintf("OnPanic panicked: %v", p2)})
		}
	}()
	onPanic(pe)
	return pe
}

// logPanic is the default OnPanic: it logs the report with slog.Default().
func logPanic(e *PanicError) {
	slog.Default().Error("foreign: handler panicked", "name", e.Name, "panic", e.Value, "stack", string(e.Stack))
}

// errGoexit is the Value of the PanicError reported for a handler that
// called runtime.Goexit.
var errGoexit = errors.New("foreign: handler called runtime.Goexit")

// panicValue is what a deferred recover returned, as a panic report's
// Value: nil there (the function neither returned nor panicked) means it
// called runtime.Goexit, which goes on ending the goroutine.
func panicValue(p any) any {
	if p == nil {
		return errGoexit
	}
	return p
}

// PanicError is what a handler's panic is reported as, for every kind of
// handle: a queue's handler, a function, a notifier's or an interrupt's
// function, and an OnClose hook.
type PanicError struct {
	Name  string // the handle's Name in its config
	Value any    // the value passed to panic
	Stack []byte // the panicking goroutine's stack at the panic
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("foreign: handler of %q panicked: %v", e.Name, e.Value)
}

// Unwrap makes errors.Is(err, ErrPanic) true.
func (e *PanicError) Unwrap() error { return ErrPanic }
