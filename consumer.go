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
	// handle while a handler runs (ring.enter).
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
	r := h.base().r
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

// startConsumer serves h on its Loop, or on a goroutine of its own.
func startConsumer(h handle) {
	r := h.base().r
	if r.loop != nil {
		r.loop.attach(r.id, h)
		return
	}
	go consume(h)
}
