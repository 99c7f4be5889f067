package foreign

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// sigHandle is the part Notifier and Interrupt share: a handle with no
// ring, triggered by exchanging its sig word (ring.h, "Signals").
type sigHandle struct {
	r        *ring
	name     string
	onPanic  func(*PanicError)
	finalize func()

	closeOnce sync.Once
	done      chan struct{}
	consumer  atomic.Uint64
	panics    atomic.Uint64
	runs      atomic.Uint64
}

func openSig(kind int, withFd bool, cfg Config) (*sigHandle, error) {
	wk := wakeEventfd
	if cfg.pipe {
		wk = wakePipe
	}
	r, err := openRing(openArgs{wakeKind: wk, kind: kind, withFd: withFd, loop: cfg.Loop})
	if err != nil {
		return nil, fmt.Errorf("foreign: open: %w", err)
	}
	s := &sigHandle{r: r, name: cfg.Name, onPanic: cfg.OnPanic, finalize: cfg.Finalize, done: make(chan struct{})}
	if s.onPanic == nil {
		s.onPanic = logPanic
	}
	return s, nil
}

// start serves h on its Loop or on a goroutine of its own.
func (s *sigHandle) start(h handle) { startConsumer(h, &s.consumer) }

func (s *sigHandle) pending() bool { return s.r.c.sig.Load()&sigPending != 0 }

func (s *sigHandle) isClosed() bool {
	return s.r.freed.Load() || s.r.c.tail.Load()&closedBit != 0
}

// take clears the pending state and returns its value. The exchange
// pairs with the trigger's: a later trigger sets pending again.
func (s *sigHandle) take() (int, bool) {
	v := s.r.c.sig.Swap(0)
	return int(int32(uint32(v))), v&sigPending != 0
}

// call runs f, recovering a panic: it is counted and reported.
func (s *sigHandle) call(f func()) {
	defer func() {
		if p := recover(); p != nil {
			s.panics.Add(1)
			reportPanic(s.name, s.onPanic, p)
		}
	}()
	s.runs.Add(1)
	f()
}

func (s *sigHandle) close() error {
	s.closeOnce.Do(func() { cClose(s.r.c) })
	if s.r.loop != nil || goid() == s.consumer.Load() {
		return nil // see Queue.Close
	}
	<-s.done
	return nil
}

func (s *sigHandle) finish() {
	s.r.free()
	close(s.done)
	if s.finalize != nil {
		s.finalize()
	}
}

// Notifier runs a Go function when C code triggers it with
// foreign_post(token, NULL, 0), or Go code with Trigger. It carries no
// data: triggers that arrive before the function has run merge into one
// run. By default it is single-shot: after its function has run once it
// closes itself and later triggers get FOREIGN_ECLOSED; with Config.Repeat
// it runs again for every trigger after the previous run started.
type Notifier struct {
	s      *sigHandle
	fn     func()
	repeat bool
	ran    bool // consumer only
}

// NewNotifier returns a Notifier that runs fn on its goroutine (or Loop).
// A panic in fn is reported to Config.OnPanic; a single-shot notifier is
// closed after it all the same.
func NewNotifier(fn func(), cfg Config) (*Notifier, error) {
	if fn == nil {
		return nil, fmt.Errorf("foreign: NewNotifier: nil function")
	}
	s, err := openSig(kindNotifier, false, cfg)
	if err != nil {
		return nil, err
	}
	n := &Notifier{s: s, fn: fn, repeat: cfg.Repeat}
	s.start(n)
	return n, nil
}

func (n *Notifier) core() *ring { return n.s.r }
func (n *Notifier) work() bool  { return n.s.pending() || n.s.r.c.tail.Load()&closedBit != 0 }
func (n *Notifier) finish()     { n.s.finish() }

func (n *Notifier) drained() bool {
	return n.s.r.c.tail.Load()&closedBit != 0 && (!n.s.pending() || n.ran && !n.repeat)
}

func (n *Notifier) serve() bool {
	if _, ok := n.s.take(); !ok {
		return false
	}
	if !n.repeat {
		// A trigger that passed its closed check just before the close
		// below can set pending again; a single-shot notifier drops it.
		if n.ran {
			return false
		}
		cClose(n.s.r.c) // later triggers are refused
	}
	n.ran = true
	n.s.call(n.fn)
	return true
}

// Token returns the token C code triggers with foreign_post(t, NULL, 0).
func (n *Notifier) Token() Token { return n.s.r.token }

// Trigger triggers the notifier from Go. It returns ErrClosed once a
// single-shot notifier has run, or after Close.
func (n *Notifier) Trigger() error { return FromCode(cTrigger(n.s.r.token, kindNotifier, 0)) }

// Closed reports whether the notifier is closed: by Close, by the last
// foreign_release, or, single-shot, by its run.
func (n *Notifier) Closed() bool { return n.s.isClosed() }

// Close stops the notifier. A trigger that arrived before Close still runs
// the function; when Close returns it will not run again (unless Close is
// called from the function itself, or the notifier is on a Loop).
func (n *Notifier) Close() error { return n.s.close() }

// Release drops the Go side's reference (see Queue.Release).
func (n *Notifier) Release() error { return n.s.r.dropRef() }

// Ref and Unref: see Queue.Ref.
func (n *Notifier) Ref() { n.s.r.setRef(true) }

// Unref: see Queue.Ref.
func (n *Notifier) Unref() { n.s.r.setRef(false) }

// Stats counts triggers refused as closed (RejectedClosed), runs
// (Delivered), wake-ups and panics.
func (n *Notifier) Stats() Stats { return n.s.stats() }

func (s *sigHandle) stats() Stats {
	b := s.r.counts()
	return Stats{Delivered: s.runs.Load(), Panics: s.panics.Load(), RejectedClosed: b.rejectedClosed, Wakeups: b.wakeups}
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
	s       *sigHandle
	handler func(int)
	blocked atomic.Int32
	ctx     context.Context
	cancel  context.CancelCauseFunc
	fired   atomic.Bool
	fd      int
}

// Interrupted is the cause of an Interrupt's Context: the value of the
// first signal.
type Interrupted struct{ Value int }

func (e *Interrupted) Error() string { return fmt.Sprintf("foreign: interrupted (value %d)", e.Value) }

// NewInterrupt returns an Interrupt. handler may be nil: then signals stay
// pending until Take, and only Context, Pending and Fd see them.
func NewInterrupt(handler func(value int), cfg Config) (*Interrupt, error) {
	s, err := openSig(kindInterrupt, true, cfg)
	if err != nil {
		return nil, err
	}
	i := &Interrupt{s: s, handler: handler, fd: int(s.r.c.sigFd.Load())}
	i.ctx, i.cancel = context.WithCancelCause(context.Background())
	s.start(i)
	return i, nil
}

func (i *Interrupt) core() *ring { return i.s.r }
func (i *Interrupt) finish()     { i.cancel(ErrClosed); i.s.finish() }

// deliverable: a pending signal that the consumer has something to do with.
func (i *Interrupt) deliverable() bool {
	return i.s.pending() && i.blocked.Load() == 0 && (i.handler != nil || !i.fired.Load())
}

func (i *Interrupt) work() bool { return i.deliverable() || i.s.r.c.tail.Load()&closedBit != 0 }

func (i *Interrupt) drained() bool {
	return i.s.r.c.tail.Load()&closedBit != 0 && !(i.s.pending() && i.blocked.Load() == 0 && i.handler != nil)
}

func (i *Interrupt) serve() bool {
	if !i.deliverable() {
		return false
	}
	v := int(int32(uint32(i.s.r.c.sig.Load())))
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
		i.s.call(func() { i.handler(v) })
	}
	return true
}

// Token returns the token C code passes to foreign_signal.
func (i *Interrupt) Token() Token { return i.s.r.token }

// Signal signals the interrupt from Go.
func (i *Interrupt) Signal(value int) error {
	return FromCode(cTrigger(i.s.r.token, kindInterrupt, value))
}

// Pending reports whether a signal is pending. It costs one atomic load,
// so a hot loop can poll it.
func (i *Interrupt) Pending() bool { return i.s.pending() }

// Take clears a pending signal and returns its value; ok is false if none
// was pending. With a handler, the interrupt's goroutine takes signals
// itself; Take is for interrupts without one.
func (i *Interrupt) Take() (value int, ok bool) {
	// Drain the fd first: a signal landing between the two steps then
	// leaves pending set and the fd readable, never pending with a quiet fd.
	cDrainSigFd(i.s.r.c)
	return i.s.take()
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
	case n == 0 && i.s.pending():
		cNotify(i.s.r.c) // the consumer may have parked while blocked
	}
}

// Fd returns a file descriptor that is readable while a signal is pending
// (it may rarely be readable spuriously: check Pending, or Take). It is
// valid until the interrupt is closed.
func (i *Interrupt) Fd() int { return i.fd }

// Close stops the interrupt; later signals get FOREIGN_ECLOSED.
func (i *Interrupt) Close() error { return i.s.close() }

// Release drops the Go side's reference (see Queue.Release).
func (i *Interrupt) Release() error { return i.s.r.dropRef() }

// Ref and Unref: see Queue.Ref.
func (i *Interrupt) Ref() { i.s.r.setRef(true) }

// Unref: see Queue.Ref.
func (i *Interrupt) Unref() { i.s.r.setRef(false) }

// Stats: see Notifier.Stats.
func (i *Interrupt) Stats() Stats { return i.s.stats() }
