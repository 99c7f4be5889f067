// interrupt.go: the Interrupt, an async-signal-safe signal with a value.

package foreign

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/foreigncall/foreign/internal/fq"
)

// InterruptConfig configures an [Interrupt]. The zero value is ready to use.
type InterruptConfig struct {
	// Name labels the interrupt in panic reports.
	Name string
	// OnPanic is called when the handler panics. Nil logs the panic.
	OnPanic func(*PanicError)
	// Loop, if set, runs the handler on that Loop's goroutine.
	Loop *Loop
	// OnClose, if set, is called once after the interrupt is closed and
	// its last delivery has returned.
	OnClose func()
}

// Interrupt is an asynchronous signal from C to Go with a value, modelled on
// Perl's Async::Interrupt. foreign_signal(token, value) is async-signal-
// safe: a C signal handler may call it. A signal sets the interrupt pending
// with its value; a later signal before delivery overwrites the value
// (latest wins); only the not-pending -> pending transition wakes Go.
//
// Go code can react in four ways, together or apart: a handler, run on the
// interrupt's goroutine (or Loop) with the value; Pending, one atomic load,
// for hot loops to poll; Context, cancelled by the first signal, to stop a
// long computation; and Fd, readable while a signal is pending, for event
// loops. Block and Unblock defer delivery to the handler.
type Interrupt struct {
	core
	handler func(int)
	blocked atomic.Int32
	ctx     context.Context
	cancel  context.CancelCauseFunc
	fired   atomic.Bool
	fd      int
	runs    atomic.Uint64
}

// Interrupted is the cause of an Interrupt's Context: the value of the
// first signal.
type Interrupted struct{ Value int }

func (e *Interrupted) Error() string { return fmt.Sprintf("foreign: interrupted (value %d)", e.Value) }

// NewInterrupt returns an Interrupt. handler may be nil: then signals stay
// pending until Take, and only Context, Pending and Fd see them.
func NewInterrupt(handler func(value int), cfg InterruptConfig) (*Interrupt, error) {
	o, err := openSig(fq.KindInterrupt, true, cfg.Loop)
	if err != nil {
		return nil, err
	}
	i := &Interrupt{handler: handler, fd: o.h.SigFd()}
	i.init(o, cfg.Name, cfg.OnPanic, cfg.OnClose)
	i.region = regionInterrupt
	i.ctx, i.cancel = context.WithCancelCause(context.Background())
	startConsumer(i)
	return i, nil
}

func (i *Interrupt) finish() { i.cancel(ErrClosed); i.teardown() }

// deliverable: a pending signal that the consumer has something to do
// with. Close ends a Block: a signal accepted before the close is
// delivered.
func (i *Interrupt) deliverable() bool {
	return i.h.Pending() && (i.blocked.Load() == 0 || i.h.Closed()) && (i.handler != nil || !i.fired.Load())
}

func (i *Interrupt) work() bool { return i.deliverable() || i.h.Closed() }

func (i *Interrupt) drained() bool {
	return i.h.Closed() && !(i.h.Pending() && i.handler != nil)
}

func (i *Interrupt) serve() bool {
	if !i.deliverable() {
		return false
	}
	i.h.RaceAcquire() // a Signal happens before what it wakes
	v := i.h.SigValue()
	if i.handler != nil {
		var ok bool
		if v, ok = i.Take(); !ok {
			return false
		}
	}
	if !i.fired.Swap(true) {
		i.cancel(&Interrupted{Value: v})
	}
	if i.handler != nil {
		i.call(&i.runs, func() { i.handler(v) })
	}
	return true
}

// Signal signals the interrupt from Go. The value travels as C's int: one
// outside the int32 range is refused with ErrInvalid.
func (i *Interrupt) Signal(value int) error {
	if int(int32(value)) != value {
		return fmt.Errorf("foreign: Signal(%d): value outside int32: %w", value, ErrInvalid)
	}
	return FromCode(i.h.Trigger(fq.KindInterrupt, value))
}

// Pending reports whether a signal is pending. It costs one atomic load,
// so a hot loop can poll it. It is false once the interrupt is freed, even
// when its memory serves another interrupt by then.
func (i *Interrupt) Pending() bool { return i.h.Pending() }

// Take clears a pending signal and returns its value; ok is false if none
// was pending. With a handler, the interrupt's goroutine takes signals
// itself; Take is for interrupts without one. It never takes the signal of
// another interrupt, even after this one was freed.
func (i *Interrupt) Take() (value int, ok bool) { return i.h.TakeInterrupt() }

// Context returns a context that is cancelled when the first signal is
// delivered (its cause is an *Interrupted with the value), or when the
// interrupt is closed (cause ErrClosed).
func (i *Interrupt) Context() context.Context { return i.ctx }

// Block defers delivery to the handler (and the Context's cancellation)
// until a matching Unblock; blocks nest. Signals still become pending.
func (i *Interrupt) Block() { i.blocked.Add(1) }

// Unblock ends a Block; at the outermost one, a pending signal is
// delivered.
func (i *Interrupt) Unblock() {
	switch n := i.blocked.Add(-1); {
	case n < 0:
		i.blocked.Add(1)
		panic("foreign: Interrupt.Unblock without Block")
	case n == 0 && i.h.Pending():
		i.h.Kick() // the consumer may have parked while blocked
	}
}

// Fd returns a file descriptor that is readable while a signal is pending
// (it may rarely be readable spuriously: check Pending, or Take). It is
// valid until the interrupt is closed and freed; then Fd returns -1.
func (i *Interrupt) Fd() int {
	if i.h.Freed() {
		return -1
	}
	return i.fd
}

// Close stops the interrupt; later signals get FOREIGN_ECLOSED. A signal
// pending before Close is still delivered to the handler, even while
// blocked (Close ends a Block); when Close
// returns the handler will not run again and OnClose has run (from inside
// a handler, of this or any other handle, Close returns at once).
// Close on an interrupt already freed does nothing.
func (i *Interrupt) Close() error { return i.closeWait() }

// Stats: see Notifier.Stats.
func (i *Interrupt) Stats() Stats { return i.sigStats(i.runs.Load()) }
