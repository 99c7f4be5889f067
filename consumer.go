package foreign

import (
	"context"
	"sync/atomic"
)

// handle is what a consumer serves: a Queue, a Func's queue, a Notifier or
// an Interrupt. The consumer is either a goroutine of the handle's own
// (consume) or a Loop shared by many handles; handle methods run on it, one
// at a time.
type handle interface {
	core() *ring
	// serve delivers what is ready, at most one batch, and reports
	// whether it delivered anything.
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
// briefly when caught up, then park on the poller; after the close, finish.
//
// While spinning it looks only at what serve looks at (the next cell, or the
// sig word), never at the producers' tail line: reading that line on every
// spin would pull it to this core and make the next post pay a cross-core
// miss (measured: a post's median doubled). drained reads the tail, so it is
// asked only when the spin window ends; a close is noticed up to one window
// (50 µs) later.
func consume(h handle) {
	r := h.core()
	for {
		if h.serve() {
			r.spin.reset()
			continue
		}
		if r.spin.wait() {
			continue
		}
		if h.drained() {
			break
		}
		_ = r.park(context.Background(), h.work)
	}
	h.finish()
}

// startConsumer serves h on its Loop, or on a goroutine of its own whose id
// it records in consumer (Close uses it to tell a call from the handler).
func startConsumer(h handle, consumer *atomic.Uint64) {
	r := h.core()
	if r.loop != nil {
		r.loop.attach(r.id, h)
		return
	}
	ready := make(chan struct{})
	go func() {
		consumer.Store(goid())
		close(ready)
		consume(h)
	}()
	<-ready
}
