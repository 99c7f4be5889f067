// core.go: what every kind of handle shares: its control block, hooks,
// close-once, Close's wait and the teardown.

package foreign

import (
	"sync"
	"sync/atomic"

	"github.com/foreigncall/foreign/internal/fq"
)

// core is what every handle kind shares: its ring (the control block), its
// name and hooks, and its close-once and teardown steps. The Token,
// Release, Ref and Unref methods of every kind are core's.
type core struct {
	h       *fq.Handle
	loop    *Loop  // the Loop serving the handle, or nil
	id      uint64 // its id in the Loop
	name    string
	onPanic func(*PanicError)
	onClose func()
	region  string   // its runtime/trace region type (trace.go)
	lat     *latency // its latency recorders (latency.go), or nil

	closeOnce sync.Once
	done      chan struct{} // closed after the teardown, OnClose included
	panics    atomic.Uint64
}

func (h *core) init(o opened, name string, onPanic func(*PanicError), onClose func()) {
	if onPanic == nil {
		onPanic = logPanic
	}
	h.h, h.loop, h.id = o.h, o.loop, o.id
	h.lat = newLatency(o.h, true)
	h.name, h.onPanic, h.onClose, h.done = name, onPanic, onClose, make(chan struct{})
}

// opened is a handle just opened, and the Loop it joined.
type opened struct {
	h    *fq.Handle
	loop *Loop
	id   uint64
}

// open opens a handle of any kind, on loop if it is not nil: the Loop
// admits it first (MaxHandles).
func open(a fq.OpenArgs, loop *Loop) (opened, error) {
	a.Start, a.Pipe = testHooks.start, testHooks.pipe
	var id uint64
	if loop != nil {
		var err error
		if id, err = loop.reserve(); err != nil {
			return opened{}, err
		}
		a.Ready, a.ID = loop.ready.h, id
	}
	h, err := fq.Open(a)
	if err != nil {
		if loop != nil {
			loop.unreserve()
		}
		return opened{}, err
	}
	return opened{h, loop, id}, nil
}

func (h *core) base() *core { return h }

// Token returns the token C code names the handle by. It is a plain
// integer that fits in a void* user-data argument; 0 is never valid. It
// stays safe to use after the handle is closed and freed: C calls with it
// then fail with FOREIGN_ECLOSED, and never reach a later handle.
func (h *core) Token() Token { return Token(h.h.Token()) }

// Release drops the Go side's own reference to the handle (see
// foreign_acquire in foreign.h). The handle stays open while C code holds
// references; the last foreign_release closes it as Close would, and
// OnClose runs once it has delivered what it accepted. Without C
// references, Release closes the handle at once, without waiting for the
// delivery. Release does not wait; calling it again, or on a closed handle,
// does nothing. C code can never drop this reference: a foreign_release
// without a matching foreign_acquire fails with FOREIGN_EINVAL.
func (h *core) Release() error {
	h.h.ReleaseGo()
	return nil
}

// Ref makes the handle keep its Loop's Run going (the default); Unref lets
// Run return while the handle is still open. Without a Loop they do
// nothing.
func (h *core) Ref() { h.setRef(true) }

// Unref: see Ref.
func (h *core) Unref() { h.setRef(false) }

func (h *core) setRef(ref bool) {
	if h.loop != nil {
		h.loop.setRef(h.id, ref)
	}
}

// closeIntake closes the handle to new work (once; a no-op once the block
// has moved on to another handle) and wakes its consumer and waiters.
func (h *core) closeIntake() {
	h.closeOnce.Do(h.h.Close)
}

// closeWait is Close for a handle with a consumer: close intake, then wait
// until the consumer has delivered everything and torn the handle down.
// From a handler — of this handle or of any other, an OnClose, a Func's
// worker — it returns at once instead: a handler that waits for another
// handle's consumer can meet that consumer waiting for its own (two
// handlers closing each other's handles), and its own consumer it would
// wait for itself.
func (h *core) closeWait() error {
	h.closeIntake()
	if fq.ServingAny() {
		return nil
	}
	if h.loop != nil {
		h.loop.waitFor(h.done)
		return nil
	}
	<-h.done
	return nil
}

// teardown frees the C side, runs OnClose and marks the handle done.
// Consumer only, once, after the handle is drained.
func (h *core) teardown() {
	h.release()
	h.closed()
}

// release wakes the waiters and frees the C side. Closed by a
// foreign_release, which cannot wake waiters from a signal handler, the
// handle wakes them here.
func (h *core) release() {
	h.h.WakeWaiters()
	h.h.Free()
}

// closed runs OnClose, its thread marked as serving the handle (a Close
// from OnClose must not wait for itself), and marks the handle done, even
// if OnClose ends its goroutine.
func (h *core) closed() {
	defer close(h.done)
	if h.onClose != nil {
		old := h.h.Enter()
		defer h.h.Leave(old)
		h.safely(h.onClose)
	}
}

// safely runs f; a panic in it, or a runtime.Goexit, is counted and
// reported (a Goexit then goes on ending the goroutine).
func (h *core) safely(f func()) {
	ok := false
	defer func() {
		if ok {
			return
		}
		h.panics.Add(1)
		reportPanic(h.name, h.onPanic, panicValue(recover()))
	}()
	f()
	ok = true
}
