// consumer.go: a handle's own consumer goroutine, and the interface a
// consumer (that goroutine, or a Loop) serves a handle through.

package foreign

import "context"

// handle is what a consumer serves: a Queue, a Func's queue, a Notifier or
// an Interrupt. The consumer is either a goroutine of the handle's own
// (consume) or a Loop shared by many handles; handle methods run on it, one
// at a time.
type handle interface {
	base() *core
	// serve delivers what is ready, at most one batch, and reports
	// whether it delivered anything. It marks the thread as serving the
	// handle while a handler runs (fq.Handle.Enter).
	serve() bool
	// work reports whether there is, or is about to be, something to
	// serve: the re-check after announcing that the consumer sleeps.
	work() bool
	// drained reports that the handle is closed and nothing is left.
	drained() bool
	// finish tears the handle down; it runs once, after drained.
	finish()
}

// consume is a handle's own consumer goroutine: serve in batches, spin
// briefly when caught up, then park (fq.Handle.Park); after the close, finish.
//
// While spinning it looks only at what serve looks at (the next cell, or the
// sig word), never at the producers' tail line: reading that line on every
// spin would pull it to this core and make the next post pay a cross-core
// miss (measured: a post's median doubled). drained reads the tail, so it is
// asked only when the spin window ends; a close is noticed up to one window
// (50 µs) later.
//
// A handler that calls runtime.Goexit ends this goroutine; then another
// takes its place, so the handle goes on being served.
func consume(h handle) {
	finished := false
	defer func() {
		if !finished {
			go consume(h)
		}
	}()
	fh := h.base().h
	for {
		if h.serve() {
			fh.SpinReset()
			continue
		}
		if fh.SpinWait() {
			continue
		}
		if h.drained() {
			break
		}
		_ = fh.Park(context.Background(), h.work)
	}
	finished = true // a Goexit in OnClose must not start another consumer
	h.finish()
}

// startConsumer serves h on its Loop, or on a goroutine of its own.
func startConsumer(h handle) {
	if b := h.base(); b.loop != nil {
		b.loop.attach(b.id, h)
		return
	}
	go consume(h)
}
