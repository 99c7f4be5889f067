package foreign

import (
	"sync"
	"sync/atomic"
)

// core is what every handle kind shares: its ring (the control block), its
// name and hooks, and its close-once and teardown steps. The Token,
// Release, Ref and Unref methods of every kind are core's.
type core struct {
	r       *ring
	name    string
	onPanic func(*PanicError)
	onClose func()

	closeOnce sync.Once
	done      chan struct{} // closed after the teardown, OnClose included
	panics    atomic.Uint64
}

func (h *core) init(r *ring, name string, onPanic func(*PanicError), onClose func()) {
	if onPanic == nil {
		onPanic = logPanic
	}
	h.r, h.name, h.onPanic, h.onClose, h.done = r, name, onPanic, onClose, make(chan struct{})
}

func (h *core) base() *core { return h }

// Token returns the token C code names the handle by. It is a plain
// integer that fits in a void* user-data argument; 0 is never valid. It
// stays safe to use after the handle is closed and freed: C calls with it
// then fail with FOREIGN_ECLOSED, and never reach a later handle.
func (h *core) Token() Token { return h.r.token }

// Release drops the Go side's own reference to the handle (see
// foreign_acquire in foreign.h). The handle stays open while C code holds
// references; the last foreign_release closes it as Close would, and
// OnClose runs once it has delivered what it accepted. Without C
// references, Release closes the handle at once, without waiting for the
// delivery. Release does not wait; calling it again, or on a closed handle,
// does nothing. C code can never drop this reference: a foreign_release
// without a matching foreign_acquire fails with FOREIGN_EINVAL.
func (h *core) Release() error {
	cReleaseGo(h.r.token)
	return nil
}

// Ref makes the handle keep its Loop's Run going (the default); Unref lets
// Run return while the handle is still open. Without a Loop they do
// nothing.
func (h *core) Ref() { h.setRef(true) }

// Unref: see Ref.
func (h *core) Unref() { h.setRef(false) }

func (h *core) setRef(ref bool) {
	if r := h.r; r.loop != nil {
		r.loop.setRef(r.id, ref)
	}
}

// closeIntake closes the handle to new work (once; a no-op once the block
// has moved on to another handle) and wakes its consumer and waiters.
func (h *core) closeIntake() {
	h.closeOnce.Do(func() {
		cClose(h.r.token)
		h.r.roomAppeared()
	})
}

// closeWait is Close for a handle with a consumer: close intake, then wait
// until the consumer has delivered everything and torn the handle down.
// From the thread serving the handle (its handler, another handler of its
// Loop, a worker) it cannot wait for itself, so it returns at once.
func (h *core) closeWait() error {
	h.closeIntake()
	if h.r.servedHere() {
		return nil
	}
	if h.r.loop != nil {
		h.r.loop.waitFor(h.done)
		return nil
	}
	<-h.done
	return nil
}

// teardown frees the C side, runs OnClose and marks the handle done.
// Consumer only, once, after the handle is drained.
func (h *core) teardown() {
	// Closed by a foreign_release, which cannot wake waiters from a
	// signal handler: wake them here.
	cSpace(h.r.c)
	h.r.roomAppeared()
	h.r.free()
	if h.onClose != nil {
		old := h.r.enter() // Close from OnClose must not wait for itself
		h.safely(h.onClose)
		h.r.leave(old)
	}
	close(h.done)
}

// safely runs f; a panic in it is recovered, counted and reported.
func (h *core) safely(f func()) {
	defer func() {
		if p := recover(); p != nil {
			h.panics.Add(1)
			reportPanic(h.name, h.onPanic, p)
		}
	}()
	f()
}
