// serve.go: marking the thread a handler runs on, and the self-deadlock checks.

package fq

import "runtime"

// Serving and self-deadlock (block.h): the Go consumer marks the thread a
// handler runs on with the handle's server token, so that a blocking
// operation that would wait for that very thread fails at once. The C side
// is c/serve.c.

// Enter marks the calling goroutine's thread as serving this handle;
// Leave undoes it. The goroutine stays locked to its thread in between.
func (h *Handle) Enter() uint64 {
	runtime.LockOSThread()
	return cServeEnter(h.server)
}

// Leave: see Enter.
func (h *Handle) Leave(old uint64) {
	cServeLeave(old)
	runtime.UnlockOSThread()
}

// ServedHere reports whether the caller runs on the thread serving this
// handle (in its handler, or in another handler of its Loop), where
// waiting for the handle would wait for itself. A goroutine that is not
// serving cannot see another's mark: a thread with a serving goroutine
// locked to it runs no other goroutine.
func (h *Handle) ServedHere() bool { return isServing(h.server) }

// SelfCall decides a call into this function from the calling thread: 0
// an ordinary call, 1 an allowed nested call (end it with SelfCallEnd), or
// CodeDeadlock.
func (h *Handle) SelfCall() int { return cSelfCall(h.token, h.c) }

// SelfCallEnd ends an allowed nested call.
func (h *Handle) SelfCallEnd() { cSelfCallEnd(h.c) }
