// wake.go: the Go producer's wake-up and a Loop's scheduling.

package fq

import (
	"syscall"
	"unsafe"
)

// The Go producer's side of waking (block.h, "Park and wake", "Loops"),
// beside its C form in c/wake.c.

// notify is fq_notify in Go: wake the parked consumer, or put the handle on
// its Loop's ready queue if it is not there yet.
func (h *Handle) notify() {
	c := h.c
	if h.ready == nil {
		if p := c.park.Load(); p == parkParked || p == parkFutex {
			h.wakeConsumer()
		}
		return
	}
	// scheduled carries the generation: a notify that comes late, after
	// the block was freed and reused, cannot mark the new handle.
	if idle := uint32(h.gen << 1); c.scheduled.Load() == idle && c.scheduled.CompareAndSwap(idle, idle|1) {
		_ = Post(h.ready, h.id) // never full: each handle is queued at most once
	}
}

// wakeConsumer is fq_wake in Go, so a goroutine's Post makes no cgo call.
func (h *Handle) wakeConsumer() {
	c := h.c
	was := c.park.Load()
	if (was != parkParked && was != parkFutex) || !c.park.CompareAndSwap(was, parkWaking) {
		return
	}
	c.wakeups.Add(1)
	if was == parkFutex {
		c.park.Store(parkRunning) // before the wake, so the woken consumer does not find WAKING
		futexWake(&c.park)
		return
	}
	var b [8]byte
	n := 1
	if c.wakeKind.Load() == uint32(wakeEventfd) {
		*(*uint64)(unsafe.Pointer(&b)) = 1
		n = 8
	}
	_, _ = syscall.Write(int(c.wakeFd.Load()), b[:n])
	c.park.Store(parkRunning)
}

// Unschedule is the Loop's side of the scheduling protocol: after serving
// the handle it clears scheduled (then looks for work itself), and
// Reschedule puts it back at the end of the ready queue if it wins the
// flag. A handle is in the ready queue at most once.
func (h *Handle) Unschedule() { h.c.scheduled.Store(uint32(h.gen << 1)) }

// Reschedule: see Unschedule.
func (h *Handle) Reschedule() {
	if idle := uint32(h.gen << 1); h.c.scheduled.CompareAndSwap(idle, idle|1) {
		_ = Post(h.ready, h.id)
	}
}
