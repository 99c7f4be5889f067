// notifier.go: the Notifier, a function C code triggers without data.

package foreign

import (
	"fmt"
	"sync/atomic"

	"github.com/foreigncall/foreign/internal/fq"
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
	o, err := openSig(fq.KindNotifier, false, cfg.Loop)
	if err != nil {
		return nil, err
	}
	n := &Notifier{fn: fn, repeat: cfg.Repeat}
	n.init(o, cfg.Name, cfg.OnPanic, cfg.OnClose)
	n.region = regionNotifier
	startConsumer(n)
	return n, nil
}

func (n *Notifier) work() bool    { return n.h.Pending() || n.h.Closed() }
func (n *Notifier) drained() bool { return n.h.Closed() && !n.h.Pending() }
func (n *Notifier) finish()       { n.teardown() }

func (n *Notifier) serve() bool {
	// Single-shot: the take closes the sig word in the same CAS, so no
	// trigger is accepted after the one run; then the tail is closed too.
	if _, ok := n.h.TakeSignal(!n.repeat); !ok {
		return false
	}
	n.h.RaceAcquire() // a Trigger happens before the run it causes
	if !n.repeat {
		n.closeIntake()
	}
	n.call(&n.runs, n.fn)
	return true
}

// Trigger triggers the notifier from Go. It returns ErrClosed once a
// single-shot notifier has run, or after Close.
func (n *Notifier) Trigger() error { return FromCode(n.h.Trigger(fq.KindNotifier, 0)) }

// Closed reports whether the notifier is closed: by Close, by the last
// foreign_release, or, single-shot, by its run.
func (n *Notifier) Closed() bool { return n.h.Closed() }

// Close stops the notifier: later triggers get FOREIGN_ECLOSED. A trigger
// that arrived before Close still runs the function, and when Close returns
// the function will not run again and OnClose has run (called from inside
// a handler, of this or any other handle, Close returns at once). Close after a single-shot notifier closed itself,
// or after the notifier was freed, does nothing.
func (n *Notifier) Close() error { return n.closeWait() }

// Stats counts triggers refused as closed (RejectedClosed), runs
// (Delivered), wake-ups and panics.
func (n *Notifier) Stats() Stats { return n.sigStats(n.runs.Load()) }
