// signal.go: notifiers' and interrupts' sig word, from Go.

package fq

import "unsafe"

// The Go side of notifiers and interrupts (block.h, "Signals"); the
// triggers are c/signal.c.

// Pending reports whether a signal of this handle is pending. The
// generation in the word keeps an old handle from seeing the signal of
// the handle that reused its block.
func (h *Handle) Pending() bool {
	v := h.c.sig.Load()
	return v>>genShift == h.gen && v&sigPending != 0
}

// SigValue is the value of the pending signal (meaningful while Pending).
func (h *Handle) SigValue() int { return int(int32(uint32(h.c.sig.Load()))) }

// Closed reports whether the handle is closed (or long gone).
func (h *Handle) Closed() bool {
	t := h.c.tail.Load()
	return t>>genShift != h.gen || t&closedBit != 0
}

// TakeSignal clears this handle's pending signal and returns its value;
// with closing it also closes the sig word in the same step (a single-shot
// notifier's run). The CAS pairs with the trigger's; a later trigger sets
// pending again.
func (h *Handle) TakeSignal(closing bool) (int, bool) {
	c := h.c
	for {
		v := c.sig.Load()
		if v>>genShift != h.gen || v&sigPending == 0 {
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

// TakeInterrupt is TakeSignal for an interrupt with an fd: the fd is
// drained first, so a signal landing between the two steps leaves pending
// set and the fd readable, never pending with a quiet fd. It does nothing
// once the handle is freed (the fd is closed, its number maybe reused).
func (h *Handle) TakeInterrupt() (int, bool) {
	h.life.RLock()
	defer h.life.RUnlock()
	if h.freed.Load() {
		return 0, false
	}
	cDrainSigFd(h.c)
	return h.TakeSignal(false)
}

// Trigger triggers the notifier or signals the interrupt from Go. For the
// race detector it happens before the run or delivery it causes (the
// trigger's C atomics are invisible to it): see RaceAcquire.
func (h *Handle) Trigger(kind, value int) int {
	raceRelease(unsafe.Pointer(&h.raceSync))
	return Trigger(h.token, kind, value)
}

// RaceAcquire is the consumer's side of Trigger's annotation, before it
// runs what a trigger caused.
func (h *Handle) RaceAcquire() { raceAcquire(unsafe.Pointer(&h.raceSync)) }

// SigFd is the interrupt's fd, readable while a signal is pending.
func (h *Handle) SigFd() int { return int(h.c.sigFd.Load()) }
