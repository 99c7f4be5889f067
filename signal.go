package foreign

import (
	"context"
	"fmt"
	"sync/atomic"
)

// NotifierConfig configures a [Notifier]. The zero value is ready to use.
type NotifierConfig struct {
	// Name labels the notifier in panic reports.
	Name string
	// OnPanic is called when the function panics. Nil logs the panic.
	OnPanic func(*PanicError)
	// Loop, if set, runs the function on that Loop's goroutine.
	Loop *Loop
	// Repeat makes the notifier run on every trigger instead of only the
	// first (a single-shot notifier closes itself after it runs).
	Repeat bool
	// OnClose, if set, is called once after the notifier is closed and its
	// last run has returned.
	OnClose func()
}

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

// openSig opens a handle with no ring, triggered through its sig word
// (ring.h, "Signals").
func openSig(kind int, withFd bool, loop *Loop) (*ring, error) {
	r, err := openRing(openArgs{wakeKind: testHooks.wakeKind(), kind: kind, withFd: withFd, loop: loop})
	if err != nil {
		return nil, fmt.Errorf("foreign: open: %w", err)
	}
	return r, nil
}

// pending reports whether a signal of this handle is pending. The
// generation in the word keeps an old handle from seeing the signal of
// the handle that reused its block.
func (h *core) pending() bool {
	v := h.r.c.sig.Load()
	return v>>genShift == h.r.gen && v&sigPending != 0
}

// sigClosedNow reports whether the handle is closed (or long gone).
func (h *core) sigClosedNow() bool {
	t := h.r.c.tail.Load()
	return t>>genShift != h.r.gen || t&closedBit != 0
}

// take clears this handle's pending signal and returns its value; with
// closing it also closes the sig word in the same step (a single-shot
// notifier's run). The CAS pairs with the trigger's; a later trigger sets
// pending again.
func (h *core) take(closing bool) (int, bool) {
	c := h.r.c
	for {
		v := c.sig.Load()
		if v>>genShift != h.r.gen || v&sigPending == 0 {
			return 0, false
		}
		nv := v &^ (sigPending | sigValue)
		if closing {
			nv |= sigClosed
		}
		if c.sig.CompareAndSwap(v, nv) {
			return int(int32(uint32(v))), true
		}
	}
}

// call runs f as a handler: counted, its thread marked as serving the
// handle, a panic recovered and reported.
func (h *core) call(runs *atomic.Uint64, f func()) {
	old := h.r.enter()
	defer h.r.leave(old)
	runs.Add(1)
	h.safely(f)
}

func (h *core) sigStats(runs uint64) Stats {
	b := h.r.counts()
	return Stats{Delivered: runs, Panics: h.panics.Load(), RejectedClosed: b.rejectedClosed, Wakeups: b.wakeups}
}

// Notifier runs a Go function when C code triggers it with
// foreign_post(token, NULL, 0), or Go code with Trigger. It carries no
// data: triggers that arrive before the function has run merge into one
// run. By default it is single-shot: after its function has run once it
// closes itself and later triggers get FOREIGN_ECLOSED; with Config.Repeat
// it runs again for every trigger after the previous run started.
type Notifier struct {
	core
	fn     func()
	repeat bool
	runs   atomic.Uint64
}

// NewNotifier returns a Notifier that runs fn on its goroutine (or Loop).
// A panic in fn is reported to OnPanic; a single-shot notifier is closed
// after it all the same.
func NewNotifier(fn func(), cfg NotifierConfig) (*Notifier, error) {
	if fn == nil {
		return nil, fmt.Errorf("foreign: NewNotifier: nil function: %w", ErrInvalid)
	}
	r, err := openSig(kindNotifier, false, cfg.Loop)
	if err != nil {
		return nil, err
	}
	n := &Notifier{fn: fn, repeat: cfg.Repeat}
	n.init(r, cfg.Name, cfg.OnPanic, cfg.OnClose)
	startConsumer(n)
	return n, nil
}

func (n *Notifier) work() bool    { return n.pending() || n.sigClosedNow() }
func (n *Notifier) drained() bool { return n.sigClosedNow() && !n.pending() }
func (n *Notifier) finish()       { n.teardown() }

func (n *Notifier) serve() bool {
	// Single-shot: the take closes the sig word in the same CAS, so no
	// trigger is accepted after the one run; then the tail is closed too.
	if _, ok := n.take(!n.repeat); !ok {
		return false
	}
	if !n.repeat {
		n.closeIntake()
	}
	n.call(&n.runs, n.fn)
	return true
}

// Trigger triggers the notifier from Go. It returns ErrClosed once a
// single-shot notifier has run, or after Close.
func (n *Notifier) Trigger() error { return FromCode(cTrigger(n.r.token, kindNotifier, 0)) }

// Closed reports whether the notifier is closed: by Close, by the last
// foreign_release, or, single-shot, by its run.
func (n *Notifier) Closed() bool { return n.sigClosedNow() }

// Close stops the notifier: later triggers get FOREIGN_ECLOSED. A trigger
// that arrived before Close still runs the function, and when Close returns
// the function will not run again and OnClose has run (called from the
// function itself, or from another handler of its Loop, Close cannot wait
// and returns at once). Close after a single-shot notifier closed itself,
// or after the notifier was freed, does nothing.
func (n *Notifier) Close() error { return n.closeWait() }

// Stats counts triggers refused as closed (RejectedClosed), runs
// (Delivered), wake-ups and panics.
func (n *Notifier) Stats() Stats { return n.sigStats(n.runs.Load()) }

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
	r, err := openSig(kindInterrupt, true, cfg.Loop)
	if err != nil {
		return nil, err
	}
	i := &Interrupt{handler: handler, fd: int(r.c.sigFd.Load())}
	i.init(r, cfg.Name, cfg.OnPanic, cfg.OnClose)
	i.ctx, i.cancel = context.WithCancelCause(context.Background())
	startConsumer(i)
	return i, nil
}

func (i *Interrupt) finish() { i.cancel(ErrClosed); i.teardown() }

// deliverable: a pending signal that the consumer has something to do with.
func (i *Interrupt) deliverable() bool {
	return i.pending() && i.blocked.Load() == 0 && (i.handler != nil || !i.fired.Load())
}

func (i *Interrupt) work() bool { return i.deliverable() || i.sigClosedNow() }

func (i *Interrupt) drained() bool {
	return i.sigClosedNow() && !(i.pending() && i.blocked.Load() == 0 && i.handler != nil)
}

func (i *Interrupt) serve() bool {
	if !i.deliverable() {
		return false
	}
	v := int(int32(uint32(i.r.c.sig.Load())))
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

// Signal signals the interrupt from Go.
func (i *Interrupt) Signal(value int) error {
	return FromCode(cTrigger(i.r.token, kindInterrupt, value))
}

// Pending reports whether a signal is pending. It costs one atomic load,
// so a hot loop can poll it. It is false once the interrupt is freed, even
// when its memory serves another interrupt by then.
func (i *Interrupt) Pending() bool { return i.pending() }

// Take clears a pending signal and returns its value; ok is false if none
// was pending. With a handler, the interrupt's goroutine takes signals
// itself; Take is for interrupts without one. It never takes the signal of
// another interrupt, even after this one was freed.
func (i *Interrupt) Take() (value int, ok bool) {
	i.r.life.RLock()
	defer i.r.life.RUnlock()
	if i.r.freed.Load() {
		return 0, false
	}
	// Drain the fd first: a signal landing between the two steps then
	// leaves pending set and the fd readable, never pending with a quiet fd.
	cDrainSigFd(i.r.c)
	return i.take(false)
}

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
	case n == 0 && i.pending():
		cKick(i.r.token) // the consumer may have parked while blocked
	}
}

// Fd returns a file descriptor that is readable while a signal is pending
// (it may rarely be readable spuriously: check Pending, or Take). It is
// valid until the interrupt is closed and freed; then Fd returns -1.
func (i *Interrupt) Fd() int {
	if i.r.freed.Load() {
		return -1
	}
	return i.fd
}

// Close stops the interrupt; later signals get FOREIGN_ECLOSED. A signal
// pending before Close is still delivered to the handler; when Close
// returns the handler will not run again and OnClose has run (from the
// handler itself, or another handler of its Loop, Close returns at once).
// Close on an interrupt already freed does nothing.
func (i *Interrupt) Close() error { return i.closeWait() }

// Stats: see Notifier.Stats.
func (i *Interrupt) Stats() Stats { return i.sigStats(i.runs.Load()) }
